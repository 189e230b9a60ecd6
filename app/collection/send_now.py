"""*Send til betaling*: one card to MediPay now, from the cash desk, the API or the call.

The card is queued due at once, in the transaction that checks it may go; the
exporter (``app.collection.export``) then sends it while the caller waits a
few seconds for MediPay's answer (docs/rules.md, rule M1).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from app import audit
from app.billing.card_service import owned_card
from app.billing.card_views import CardView, read_card
from app.billing.cards import paid_total
from app.billing.outbox import QUEUEABLE, queue_card
from app.billing.serialisers import request_view
from app.billing.transitions import transition
from app.clock import Clock
from app.collection import handover
from app.collection.book_credentials import credentials_for_book
from app.collection.secret_box import SecretBox
from app.consults.notifier import Notifier, request_changed
from app.db import Database
from app.errors import Conflict


class SendToPayment:
    """The one-card side of :class:`app.collection.export.MediPayExporter`."""

    db: Database
    clock: Clock
    box: SecretBox
    notifier: Notifier
    _kicks: set[asyncio.Task[int]]

    async def export_due(self, *, card_ids: Iterable[str] | None = None) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    async def send_to_payment(
        self, organisation_id: str, card_id: str, *, actor_type: str = "api", actor_id: str | None = None,
        wait: float = 5.0, reinstate: str | None = None,
    ) -> CardView:
        """*Send til betaling*: queue one card due now and send it at once.

        Waits up to ``wait`` seconds for MediPay's answer; a slower export goes
        on in the background (and its row is there for the next run anyway).
        ``reinstate`` names a request of the card that ended unpaid in the call:
        its amount goes back on the card first (and stays off if any check
        below refuses, since it is all one transaction).
        """
        async with self.db.write() as s:
            card = await owned_card(s, organisation_id, card_id, lock=True)
            now = self.clock.now()
            handed = [r for r in [await handover.reinstate(s, card, reinstate, now)] if r] if reinstate else []
            if card.status in ("paid", "invoice_paid"):
                raise Conflict("card_settled", "The card is paid: there is nothing to send.")
            if card.status not in QUEUEABLE | {"under_work"}:
                raise Conflict("already_exported", "The card has already been sent to MediPay.",
                               status=card.status)
            if await credentials_for_book(s, card.book_id, self.box) is None:
                raise Conflict("book_not_medipay",
                               "The card's book does not export to MediPay, or its MediPay account is not verified.")
            if card.patient_share - await paid_total(s, card.id) <= 0:
                raise Conflict("nothing_to_collect", "The card has no unpaid patient share to send.")
            if card.status == "under_work":
                handed += await handover.take_over(s, card, now)
                await transition(s, card, "open", "sent to payment", now)
            await queue_card(s, card, trigger="send_to_payment", now=now)
            audit.record(s, organisation_id=organisation_id, clinic_id=card.clinic_id, actor_type=actor_type,
                         actor_id=actor_id, action="bill_card.sent_to_payment", subject_type="bill_card",
                         subject_id=card.id, at=now, details=None)
            views = [request_view(r) for r in handed]
        for view in views:
            await request_changed(self.notifier, view)
        task = asyncio.create_task(self.export_due(card_ids=[card_id]))
        self._kicks.add(task)
        task.add_done_callback(self._kicks.discard)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), wait)
        async with self.db.read() as s:
            return await read_card(s, await owned_card(s, organisation_id, card_id))
