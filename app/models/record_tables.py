"""The audit trail and the background jobs' leases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AuditEvent(Base):
    """Who did what, when. Never updated or deleted."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_at", "organisation_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    clinic_id: Mapped[str | None] = mapped_column(String(40), index=True)
    actor_type: Mapped[str] = mapped_column(String(16))  # user | clinician | patient | api | stripe | system
    actor_id: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(255))
    details: Mapped[dict[str, Any] | None]
    at: Mapped[datetime]


class JobLease(Base):
    """When a periodic job last ran, and who holds it now (several workers)."""

    __tablename__ = "job_leases"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
