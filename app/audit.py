"""The audit trail: who requested, cancelled, refunded, linked, edited and removed what, when.

Rows are written in the same transaction as the change they describe, so the
trail never claims what did not happen nor misses what did. The table is
append-only (database triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent
from app.ready import Driver, ReadyInsert


def row(
    *,
    organisation_id: str,
    clinic_id: str | None,
    actor_type: str,
    actor_id: str | None,
    action: str,
    subject_type: str,
    subject_id: str,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit entry's columns: the one place that names them, for ``record`` and ``write``."""
    return {
        "organisation_id": organisation_id,
        "clinic_id": clinic_id,
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "details": details,
        "at": at,
    }


def record(s: AsyncSession, **fields: Any) -> None:
    """Add the entry (``row``'s keywords) to the session: written with the change it describes."""
    s.add(AuditEvent(**row(**fields)))


_READY_INSERT = ReadyInsert(AuditEvent.__table__)


def write(conn: Driver, **fields: Any) -> None:
    """``record``'s entry as one insert on the driver, in a transaction of ready statements (app/ready.py)."""
    _READY_INSERT.run(conn, row(**fields))
