"""The bill cards' JSON shapes: a card with its lines, payments and MediPay state, the
summary the clinician's panel hears, and the MediPay hand-off's preview.

The rest of the shapes, and ``as_json`` that turns any of them into JSON, are
in :mod:`app.billing.serialisers`; these are apart because a card reads its
lines and payments (``read_card``) rather than one row. :class:`CardPreview` is
what the patient would be asked by SMS before the clinician confirms the hand-off.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Self

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.serialisers import as_json, copy_view
from app.billing.statuses import LABELS, SETTLED
from app.models import BillCard, BillCardLine, Payment


def stamp(value: datetime | None) -> str | None:
    """A moment as bill cards write it (``+00:00``)."""
    return value.isoformat() if value else None


# -- bill cards --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MediPayView:
    state: str | None
    reason_code: str | None
    message: str | None
    exported_at: str | None
    exported_patient_share: int | None
    admin_fee: int | None
    next_retry_at: str | None

    @classmethod
    def from_row(cls, card: BillCard) -> Self:
        return cls(
            state=card.medipay_state,
            reason_code=card.medipay_reason_code,
            message=card.medipay_message,
            exported_at=stamp(card.exported_at),
            exported_patient_share=card.exported_patient_share,
            admin_fee=card.medipay_admin_fee,
            next_retry_at=stamp(card.next_retry_at),
        )


def medipay_view(card: BillCard) -> dict[str, Any]:
    return as_json(MediPayView.from_row(card))


@dataclasses.dataclass(frozen=True)
class CardPatient:
    id: str | None
    name: str
    email: str | None
    national_id: str | None
    mobile: str | None
    address: dict[str, Any] | None


@dataclasses.dataclass(frozen=True)
class CardLine:
    id: str
    code: str
    description: str
    patient_amount: int
    refund_amount: int
    payment_request_id: str | None
    voided: bool


@dataclasses.dataclass(frozen=True)
class CardPayment:
    method: str
    amount: int
    currency: str
    reference: str | None
    registered_at: str | None


@dataclasses.dataclass(frozen=True)
class CardView:
    """A bill card with its lines, payments and MediPay state (REST, the cash desk)."""

    id: str
    clinic_id: str
    consult_id: str | None
    book_id: str | None
    status: str
    status_label: str
    settled: bool
    currency: str
    patient_share: int
    refund_share: int
    admin_fee: bool
    patient: CardPatient
    lines: list[CardLine]
    payments: list[CardPayment]
    medipay: MediPayView
    created_at: str | None
    updated_at: str | None


async def read_card(session: AsyncSession, card: BillCard) -> CardView:
    payments = (
        await session.scalars(select(Payment).where(Payment.bill_card_id == card.id).order_by(Payment.registered_at))
    ).all()
    lines = (
        await session.scalars(
            select(BillCardLine).where(BillCardLine.bill_card_id == card.id).order_by(BillCardLine.created_at)
        )
    ).all()
    return CardView(
        id=card.id,
        clinic_id=card.clinic_id,
        consult_id=card.consult_id,
        book_id=card.book_id,
        status=card.status,
        status_label=LABELS[card.status],
        settled=card.status in SETTLED,
        currency=card.currency,
        patient_share=card.patient_share,
        refund_share=card.refund_share,
        admin_fee=card.admin_fee,
        patient=CardPatient(
            id=card.patient_ref,
            name=card.patient_name,
            email=card.patient_email,
            national_id=card.national_id,
            mobile=card.mobile,
            address=card.address,
        ),
        lines=[copy_view(CardLine, line, voided=line.voided_at is not None) for line in lines],
        payments=[copy_view(CardPayment, p, registered_at=p.registered_at.isoformat()) for p in payments],
        medipay=MediPayView.from_row(card),
        created_at=card.created_at.isoformat(),
        updated_at=card.updated_at.isoformat(),
    )


async def card_view(session: AsyncSession, card: BillCard) -> dict[str, Any]:
    return as_json(await read_card(session, card))


@dataclasses.dataclass(frozen=True)
class CardSummary:
    """What the clinician's panel hears of a card (``bill_card:updated``): no personal data."""

    id: str
    consult_id: str | None
    patient_id: str | None
    status: str
    status_label: str
    patient_share: int
    currency: str
    medipay: MediPayView

    @classmethod
    def from_row(cls, card: BillCard) -> Self:
        return cls(
            id=card.id,
            consult_id=card.consult_id,
            patient_id=card.patient_ref,
            status=card.status,
            status_label=LABELS[card.status],
            patient_share=card.patient_share,
            currency=card.currency,
            medipay=MediPayView.from_row(card),
        )


def card_summary(card: BillCard) -> dict[str, Any]:
    return as_json(CardSummary.from_row(card))




@dataclasses.dataclass(frozen=True)
class CardPreview:
    """What the patient would be asked if the card went to MediPay now (by SMS, to ``mobile``)."""

    card_id: str
    patient_id: str | None
    amount: int
    admin_fee: int
    total: int
    currency: str
    channel: str
    mobile: str | None
    description: str
    language: str


@dataclasses.dataclass(frozen=True)
class CardPreviewed:
    """``bill_card:preview``: nothing is sent; the clinician confirms with ``expect_total``."""

    preview: CardPreview


@dataclasses.dataclass(frozen=True)
class CardSent:
    """``bill_card:send``: the card as the panel sees it, after it went to MediPay."""

    card: CardSummary

