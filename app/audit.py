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


_INSERT = AuditEvent.__table__.insert()


async def write(s: AsyncSession, **fields: Any) -> None:
    """``record``'s entry written at once as one ready-built insert, for a hot path that keeps no objects."""
    await s.execute(_INSERT, row(**fields))
