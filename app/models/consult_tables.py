"""Consults and the patients in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Consult(Base):
    __tablename__ = "consults"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    clinic_id: Mapped[str] = mapped_column(ForeignKey("clinics.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    clinician_id: Mapped[str] = mapped_column(String(200))
    clinician_name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class ConsultPatient(Base):
    __tablename__ = "consult_patients"
    consult_id: Mapped[str] = mapped_column(ForeignKey("consults.id"), primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    national_id: Mapped[str | None] = mapped_column(String(11))
    mobile: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[dict[str, Any] | None]
    # This patient's payment policy in the consult (the host's, else the clinic's default), the
    # request that gates or holds for it, when the patient first joined, and when they were found
    # not to have come (a no-show is decided once).
    payment_policy: Mapped[str] = mapped_column(String(16), default="in_call", server_default="in_call")
    policy_amount: Mapped[int | None] = mapped_column(BigInteger)
    policy_description: Mapped[str | None] = mapped_column(String(200))
    no_show_fee: Mapped[int | None] = mapped_column(BigInteger)
    gate_request_id: Mapped[str | None] = mapped_column(String(40))
    joined_at: Mapped[datetime | None]
    no_show_at: Mapped[datetime | None]
