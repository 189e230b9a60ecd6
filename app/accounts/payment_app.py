"""The payment app per clinic: a clinic admin asks, an organisation admin approves or rejects.

As in the reference product, a clinic does not get in-call payments by
default: ``clinics.payment_app_enabled`` starts False and becomes True only
through an approved ``payment_app_requests`` row. An organisation admin may
also enable it directly; that is recorded as a request they made and approved
at once, so the trail always shows who asked and who decided.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app import validation as v
from app.accounts.clinic_settings import valid_zone
from app.accounts.sessions import AdminUser
from app.clock import Clock
from app.db import Database
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.ids import new_id
from app.models import Clinic, PaymentAppRequest
from app.regions import CURRENCIES, default_zone_for_currency


class PaymentApp:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def _clinic(self, s: AsyncSession, actor: AdminUser, clinic_id: str) -> Clinic:
        clinic = await s.get(Clinic, clinic_id, with_for_update=True)
        if clinic is None or clinic.organisation_id != actor.organisation_id:
            raise NotFound("clinic_not_found", "There is no such clinic.")
        return clinic

    async def _pending(self, s: AsyncSession, clinic_id: str) -> PaymentAppRequest | None:
        return await s.scalar(
            select(PaymentAppRequest)
            .where(PaymentAppRequest.clinic_id == clinic_id, PaymentAppRequest.status == "pending")
            .with_for_update()
        )

    async def request(self, actor: AdminUser, clinic_id: str) -> PaymentAppRequest:
        now = self.clock.now()
        async with self.db.write() as s:
            clinic = await self._clinic(s, actor, clinic_id)
            if actor.role != "clinic_admin" or actor.clinic_id != clinic.id:
                raise Forbidden("forbidden", "You do not have access to this page.")
            if clinic.payment_app_enabled:
                raise Conflict("already_enabled", "The payment app is already enabled for this clinic.")
            if await self._pending(s, clinic.id) is not None:
                raise Conflict("already_requested", "The payment app has already been requested.")
            req = PaymentAppRequest(
                id=new_id("par"), clinic_id=clinic.id, requested_by=actor.id, requested_at=now, status="pending"
            )
            s.add(req)
            audit.record(
                s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user", actor_id=actor.id,
                action="payment_app.requested", subject_type="clinic", subject_id=clinic.id,
                details={"request_id": req.id}, at=now,
            )
        return req

    async def approve(self, actor: AdminUser, clinic_id: str) -> PaymentAppRequest:
        now = self.clock.now()
        async with self.db.write() as s:
            clinic = await self._clinic(s, actor, clinic_id)
            if actor.role != "organisation_admin":
                raise Forbidden("forbidden", "You do not have access to this page.")
            if clinic.payment_app_enabled:
                raise Conflict("already_enabled", "The payment app is already enabled for this clinic.")
            req = await self._pending(s, clinic.id)
            if req is None:
                req = PaymentAppRequest(
                    id=new_id("par"), clinic_id=clinic.id, requested_by=actor.id, requested_at=now, status="pending"
                )
                s.add(req)
            req.status = "approved"
            req.decided_by = actor.id
            req.decided_at = now
            clinic.payment_app_enabled = True
            audit.record(
                s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user", actor_id=actor.id,
                action="payment_app.approved", subject_type="clinic", subject_id=clinic.id,
                details={"request_id": req.id, "requested_by": req.requested_by}, at=now,
            )
        return req

    async def reject(self, actor: AdminUser, clinic_id: str) -> PaymentAppRequest:
        now = self.clock.now()
        async with self.db.write() as s:
            clinic = await self._clinic(s, actor, clinic_id)
            if actor.role != "organisation_admin":
                raise Forbidden("forbidden", "You do not have access to this page.")
            req = await self._pending(s, clinic.id)
            if req is None:
                raise Conflict("nothing_pending", "There is no pending request for this clinic.")
            req.status = "rejected"
            req.decided_by = actor.id
            req.decided_at = now
            audit.record(
                s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="user", actor_id=actor.id,
                action="payment_app.rejected", subject_type="clinic", subject_id=clinic.id,
                details={"request_id": req.id, "requested_by": req.requested_by}, at=now,
            )
        return req

    async def create_clinic(self, actor: AdminUser, *, name: str, currency: str,
                            time_zone: str | None = None) -> Clinic:
        """A new clinic; with no time zone chosen, the usual one of its currency's country
        (AUD → Australia/Sydney, the Nordic currencies → Europe/Oslo)."""
        name = v.person_name(name)
        if currency not in CURRENCIES:
            raise Invalid("invalid_currency", "Choose a currency.", field="currency")
        time_zone = valid_zone(time_zone or default_zone_for_currency(currency))
        if actor.role != "organisation_admin":
            raise Forbidden("forbidden", "You do not have access to this page.")
        now = self.clock.now()
        async with self.db.write() as s:
            clinic = Clinic(
                id=new_id("cli"), organisation_id=actor.organisation_id, name=name, currency=currency,
                payment_app_enabled=False, time_zone=time_zone, created_at=now,
            )
            s.add(clinic)
            await s.flush()
            audit.record(
                s, organisation_id=actor.organisation_id, clinic_id=clinic.id, actor_type="user", actor_id=actor.id,
                action="clinic.created", subject_type="clinic", subject_id=clinic.id,
                details={"name": name, "currency": currency, "time_zone": time_zone}, at=now,
            )
        return clinic


async def enable_by_system(db: Database, clock: Clock, clinic_id: str, *, reason: str) -> bool:
    """Enable the payment app without a person (the demo seed); recorded as approved by the system."""
    now = clock.now()
    async with db.write() as s:
        clinic = await s.get(Clinic, clinic_id, with_for_update=True)
        if clinic is None or clinic.payment_app_enabled:
            return False
        clinic.payment_app_enabled = True
        audit.record(
            s, organisation_id=clinic.organisation_id, clinic_id=clinic.id, actor_type="system", actor_id=reason,
            action="payment_app.approved", subject_type="clinic", subject_id=clinic.id, at=now,
        )
    return True
