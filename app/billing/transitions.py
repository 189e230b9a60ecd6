"""Which status a bill card may move to from which, as data (docs/rules.md, rule T1).

Every change of a card's status outside the in-call bookkeeping goes through
``transition``, which refuses a move not in the table below and writes the
card's ``bill_card_events`` row. The codes and their Norwegian labels live in
``app.billing.statuses``.

    from              to                  when
    ----------------  ------------------  ---------------------------------------------------
    under_work        paid                paid in the call (Stripe)
    under_work        open                finished: into the outgoing queue (also a card
                                          not paid in the call, sent on to MediPay)
    paid              under_work          a new request in the same call reopens it
    open              open_exported       exported; the patient got the SMS with the link
    open              manual_handling     MediPay rejected the claim as it was exported
                                          (over the agreed maximum)
    open              not_exported        the checks before export failed (fødselsnummer
                                          or D-number, mobile; address for an invoice)
    open              invoice_generated   invoiced by hand at the cash desk (e.g. without
                                          the admin fee, or in *manual office* mode)
    open              under_work          taken back to be worked on before export
    not_exported      open                corrected: back in the queue (the daily retry)
    not_exported      open_exported       the daily retry exported it
    not_exported      manual_handling     the daily retry was rejected by MediPay
    not_exported      invoice_generated   invoiced by hand instead
    open_exported     paid                card or Vipps in Checkout, or invoice chosen in
                                          Checkout and approved (MediPay owns the claim)
    open_exported     invoice_exported    no choice within 48 h: the automatic invoice
    open_exported     manual_handling     rejected (credit check failed, over the limit)
    invoice_generated invoice_exported    the invoice was sent (exported by hand)
    invoice_generated manual_handling     MediPay rejected the invoice
    invoice_exported  invoice_paid        the invoice was paid (registered by MediPay,
                                          or by hand for an invoice sent by hand)
    invoice_exported  manual_handling     MediPay rejected the invoice after sending it
    manual_handling   invoice_generated   handled by hand: the clinic makes the invoice
    manual_handling   invoice_exported    handled by hand: exported manually
    manual_handling   paid                the patient paid the clinic directly

``paid`` and ``invoice_paid`` are final for the pipeline (only a new request
in a still-running call reopens a ``paid`` card). A card is created either
``under_work`` (from a call) or ``open`` (over the REST API); creation is
recorded as an event from no status and is not a transition.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.cards import set_status
from app.errors import Conflict
from app.models import BillCard

ALLOWED: dict[str, frozenset[str]] = {
    "under_work": frozenset({"paid", "open"}),
    "paid": frozenset({"under_work"}),
    "open": frozenset({"open_exported", "not_exported", "invoice_generated", "under_work", "manual_handling"}),
    "not_exported": frozenset({"open", "open_exported", "manual_handling", "invoice_generated"}),
    "open_exported": frozenset({"paid", "invoice_exported", "manual_handling"}),
    "invoice_generated": frozenset({"invoice_exported", "manual_handling"}),
    "invoice_exported": frozenset({"invoice_paid", "manual_handling"}),
    "manual_handling": frozenset({"invoice_generated", "invoice_exported", "paid"}),
    "invoice_paid": frozenset(),
}


def allowed(status_from: str, status_to: str) -> bool:
    return status_to in ALLOWED.get(status_from, frozenset())


async def transition(session: AsyncSession, card: BillCard, to: str, reason: str, now: datetime) -> None:
    """Move ``card`` to ``to`` and record why; a move not in the table is a 409 ``invalid_transition``.

    The caller holds the card's row (locked on PostgreSQL) inside its write
    transaction, so two workers cannot both move the same card.
    """
    if not allowed(card.status, to):
        raise Conflict(
            "invalid_transition",
            f"A bill card cannot go from {card.status} to {to}.",
            status_from=card.status,
            status_to=to,
        )
    await set_status(session, card, to, reason[:200], now)
