"""A clinic's own settings that are not about money: its time zone.

Every date of a clinic is shown, filtered on and exported in its IANA zone
(``clinics.time_zone``, Europe/Oslo unless set). Pages and reports about the
whole organisation use the zone of its first clinic, the organisation's
default, and say which zone that is.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.accounts.sessions import AdminUser
from app.clock import Clock
from app.db import Database
from app.errors import Forbidden, Invalid, NotFound
from app.i18n.zones import check_zone, clinic_zone
from app.models import Clinic

__all__ = ["ClinicSettings", "organisation_zone", "zone_for", "valid_zone"]


def valid_zone(name: object) -> str:
    """An IANA zone name zoneinfo knows; else a 422 ``invalid_time_zone`` on the field."""
    try:
        return check_zone(name)
    except ValueError:
        raise Invalid("invalid_time_zone", "Choose a time zone from the list, for example Europe/Oslo.",
                      field="time_zone") from None


async def organisation_zone(s: AsyncSession, organisation_id: str) -> ZoneInfo:
    """The organisation's default zone: that of its first clinic (Europe/Oslo without one)."""
    first = await s.scalar(select(Clinic).where(Clinic.organisation_id == organisation_id)
                           .order_by(Clinic.created_at, Clinic.id).limit(1))
    return clinic_zone(first)


async def zone_for(db: Database, organisation_id: str, clinic_id: str | None = None) -> ZoneInfo:
    """The zone dates about ``clinic_id`` are read in; the organisation's default when it is not one of its own."""
    async with db.read() as s:
        clinic = await s.get(Clinic, clinic_id) if clinic_id and len(clinic_id) <= 40 else None
        if clinic is not None and clinic.organisation_id == organisation_id:
            return clinic_zone(clinic)
        return await organisation_zone(s, organisation_id)


class ClinicSettings:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def set_time_zone(self, actor: AdminUser, clinic_id: str, name: object) -> bool:
        """Set the clinic's zone (the caller checked the actor may manage it); True when it changed."""
        zone_name = valid_zone(name)
        if actor.role not in ("organisation_admin", "clinic_admin"):
            raise Forbidden("forbidden", "You do not have access to this page.")
        async with self.db.write() as s:
            clinic = await s.get(Clinic, clinic_id, with_for_update=True)
            if clinic is None or clinic.organisation_id != actor.organisation_id:
                raise NotFound("clinic_not_found", "There is no such clinic.")
            before = clinic.time_zone
            if before == zone_name:
                return False
            clinic.time_zone = zone_name
            audit.record(s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user",
                         actor_id=actor.id, action="clinic.time_zone_set", subject_type="clinic",
                         subject_id=clinic.id, at=self.clock.now(), details={"from": before, "to": zone_name})
            return True
