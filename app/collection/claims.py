"""What MediPay says about a claim, applied to its bill card.

The same function applies the answer to an export, a callback and a claim
pulled by ``sync-medipay``, so the three can arrive in any order, any number
of times: a claim whose ``version`` is not newer than the card's is stale and
changes nothing, payments are registered once (by MediPay's reference) and
posted once (the journal's unique reference).

    MediPay state   card status          also
    -------------   ------------------   ------------------------------------------
    sent            open_exported        exported_at, exported_patient_share
    paid            paid                 payment (card / vipps / invoice) + posting
    invoice_sent    invoice_exported
    invoice_paid    invoice_paid         payment (invoice) + posting
    rejected        manual_handling      reason_code and message kept on the card

A card reaches its status through the transition table (``transitions``), so
a card still ``open`` when a late answer says ``paid`` goes through
``open_exported`` first, and every step is in its event history.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.transitions import ALLOWED, transition
from app.consults.notifier import Notifier, clinician_room, patient_room
from app.ids import new_id
from app.ledger import journal
from app.ledger.journal import Leg
from app.models import BillCard, BillCardLine, Consult, Payment
from integrations.medipay.protocol import Address, Claim, ClaimPatient, ClaimState

log = logging.getLogger(__name__)

TARGET = {
    "sent": "open_exported",
    "paid": "paid",
    "invoice_sent": "invoice_exported",
    "invoice_paid": "invoice_paid",
    "rejected": "manual_handling",
}
# Statuses MediPay's answers never lead a card back into.
_NOT_VIA = frozenset({"under_work", "open", "not_exported", "invoice_generated"})
MEDIPAY_METHODS = ("card", "vipps", "invoice")


def path(status_from: str, status_to: str) -> list[str]:
    """The shortest walk through the transition table, or [] when there is none (or nothing to do)."""
    if status_from == status_to:
        return []
    seen = {status_from}
    queue: deque[tuple[str, list[str]]] = deque([(status_from, [])])
    while queue:
        here, steps = queue.popleft()
        for nxt in sorted(ALLOWED.get(here, frozenset())):
            if nxt in seen or nxt in _NOT_VIA:
                continue
            if nxt == status_to:
                return [*steps, nxt]
            seen.add(nxt)
            queue.append((nxt, [*steps, nxt]))
    return []


async def apply_claim(s: AsyncSession, card: BillCard, claim: ClaimState, now: datetime, *, source: str) -> bool:
    """Bring ``card`` (locked by the caller) up to ``claim``; False when the claim is stale."""
    if claim.version and claim.version <= card.medipay_version:
        return False
    card.medipay_version = claim.version
    card.medipay_state = claim.state
    card.medipay_admin_fee = claim.admin_fee_amount
    if claim.state == "rejected":
        card.medipay_reason_code = (claim.reason_code or "rejected")[:40]
        card.medipay_message = (claim.message or "MediPay rejected the claim.")[:500]
    else:
        card.medipay_reason_code = None
        card.medipay_message = None
    if card.exported_at is None:
        card.exported_at = claim.created_at or now
        card.exported_patient_share = claim.amount
    card.next_retry_at = None
    card.updated_at = now
    target = TARGET.get(claim.state)
    if target is not None:
        for step in path(card.status, target):
            await transition(s, card, step, f"MediPay: {claim.state} ({source})", now)
    if claim.state in ("paid", "invoice_paid"):
        await _register_payments(s, card, claim, now)
    return True


async def _register_payments(s: AsyncSession, card: BillCard, claim: ClaimState, now: datetime) -> None:
    payments: list[tuple[str, int, str, datetime]] = [
        (p.method if p.method in MEDIPAY_METHODS else "invoice", p.amount, p.reference, p.paid_at or now)
        for p in claim.payments
    ]
    if not payments:
        # Invoice chosen in Checkout and approved: MediPay takes the claim over
        # and the clinic is settled without a payment of the patient's to show.
        payments = [(claim.choice if claim.choice in MEDIPAY_METHODS else "invoice", claim.amount,
                     f"{claim.id}:{claim.state}", claim.updated_at or now)]
    registered = int(await s.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.bill_card_id == card.id, Payment.method.in_(MEDIPAY_METHODS))
    ) or 0)
    for method, paid, reference, at in payments:
        exists = await s.scalar(select(Payment.id).where(
            Payment.bill_card_id == card.id, Payment.method == method, Payment.reference == reference))
        if exists:
            continue
        # MediPay's payment includes its own admin fee; the card is owed the claim's amount.
        amount = min(paid, claim.amount - registered)
        if amount <= 0:
            continue
        registered += amount
        s.add(Payment(id=new_id("pay"), bill_card_id=card.id, organisation_id=card.organisation_id,
                      payment_request_id=None, method=method,
                      amount=amount, currency=card.currency, reference=reference, registered_at=at))
        await journal.post(
            s,
            clinic_id=card.clinic_id,
            kind="medipay_payment",
            reference=f"medipay:settle:{card.id}:{reference}"[:255],
            description=f"MediPay {method} payment",
            currency=card.currency,
            bill_card_id=card.id,
            at=now,
            legs=[
                # The charge for what was exported…
                Leg("patient_receivable", amount),
                Leg("patient_revenue", -amount),
                # …settled through MediPay.
                Leg("medipay_clearing", amount),
                Leg("patient_receivable", -amount),
            ],
        )
    await s.flush()


async def notify_card(notifier: Notifier, summary: dict[str, Any]) -> None:
    """Tell the clinician (and that card's patient) in the call the card came from."""
    consult_id = summary.get("consult_id")
    if not consult_id:
        return
    payload = {"card": summary}
    try:
        await notifier.emit("bill_card:updated", payload, room=clinician_room(consult_id))
        if summary.get("patient_id"):
            await notifier.emit("bill_card:updated", payload, room=patient_room(consult_id, summary["patient_id"]))
    except Exception:  # the ledger is right whether or not the panel hears of it
        log.exception("could not emit bill_card:updated for %s", summary.get("id"))


# The languages MediPay writes its SMS and Checkout page in.
CLAIM_LANGUAGES = ("nb", "en", "sv")


async def claim_texts(s: AsyncSession, cards: list[BillCard]) -> dict[str, tuple[str, str | None]]:
    """Per card, what the patient reads in MediPay's SMS and page, and in which language.

    ``cards`` are objects or rows of their columns. The description is the
    clinician's own words: the card's live lines, as they were asked for in
    the call; the language is the consult's (the patient's).
    """
    ids = [c.id for c in cards]
    words: dict[str, list[str]] = {i: [] for i in ids}
    for card_id, text in (await s.execute(
        select(BillCardLine.bill_card_id, BillCardLine.description)
        .where(BillCardLine.bill_card_id.in_(ids), BillCardLine.voided_at.is_(None))
        .order_by(BillCardLine.created_at)
    )).all():
        if text and text not in words[card_id]:
            words[card_id].append(text)
    consults = {c.consult_id for c in cards if c.consult_id}
    languages = dict((await s.execute(select(Consult.id, Consult.language).where(Consult.id.in_(consults)))).all())
    out = {}
    for c in cards:
        text = ", ".join(words[c.id])
        description = text if 0 < len(text) <= 200 else (text[:199] + "…" if text else "")
        language = languages.get(c.consult_id) if c.consult_id else None
        out[c.id] = (description or f"{c.created_at:%d.%m.%Y}", language if language in CLAIM_LANGUAGES else None)
    return out


def claim_for(card: BillCard, due: int, description: str | None = None, language: str | None = None) -> Claim:
    """The claim that exports ``card`` (an object, or a row of its columns): its id is the claim id,
    ``due`` what is still unpaid."""
    return Claim(
        id=card.id,
        patient=ClaimPatient(
            name=card.patient_name, national_id=card.national_id, mobile=card.mobile, email=card.patient_email,
            address=Address.from_wire(card.address),
        ),
        amount=due,
        description=description or f"{card.created_at:%d.%m.%Y}",
        language=language,
        admin_fee=card.admin_fee,
        # An invoice made by hand goes as an invoice, whatever the card was queued as.
        mode="invoice" if card.status == "invoice_generated" else "checkout",
        currency=card.currency,
    )
