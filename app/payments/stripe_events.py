"""Stripe's webhooks, applied once each.

Stripe delivers at least once, in no set order, sometimes concurrently. Each
event id is recorded in ``stripe_events`` in the same transaction as its
effect, so a duplicate finds the id and changes nothing; two copies racing
on PostgreSQL meet at the primary key and the loser rolls back whole. Distinct
events for one session meet at the payment request's row lock, and the
effects themselves are idempotent (a paid request stays paid; a payment's
reference and a journal reference are unique).

On SQLite, events that arrive together are applied in one transaction, each
in its own savepoint (``GroupCommit`` in app/db.py), and each is answered
only once that transaction has committed.

Two endpoints feed this. Stripe sends the Connect endpoint the events of the
clinics' connected accounts, each naming its ``account`` (payments and refunds
are direct charges on those accounts, and their ``account.updated``); it sends
the account endpoint those of the platform's own account, without one. An
event without ``account`` at the Connect endpoint cannot have come from Stripe
there, so it is answered ``not_connect_event`` and left unrecorded (the same
id may still arrive where it belongs). The account endpoint also applies
Connect events, as it always has, for a deployment that registered one URL
for both (or forwards both with ``stripe listen --forward-to`` alone).

Stripe sends a production Connect endpoint test-mode events as well as live
ones. An event whose ``livemode`` is not that of the configured key is
recorded as ``livemode_mismatch`` and changes nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.cards import finish_unpaid
from app.billing.serialisers import absolute_links, request_view
from app.billing.statuses import CheckoutProblem
from app.clock import Clock
from app.connect import events as account_events
from app.consults.notifier import Notifier, request_changed
from app.db import Database
from app.models import PaymentRequest, StripeEvent
from app.payments.cards_on_file import apply_intent, session_setup
from app.payments.declines import intent_failed
from app.payments.holds import AUTHORISED_LATE, Intent, session_intent
from app.payments.late_holds import LateHolds
from app.payments.settle_ready import Fallback, settle_paid
from app.payments.settlement import PAID_SESSION, apply_session
from app.payments.stripe_refunds import charge_refunded_event, refund_event
from app.ready import Ready, ReadyInsert, in_session
from integrations.stripe.protocol import CheckoutSession, StripeGateway
from integrations.stripe.saved_cards import SetupIntent

log = logging.getLogger(__name__)

Result = tuple[str, dict[str, Any] | None]
Handler = Callable[[AsyncSession, dict[str, Any], str | None, Any], Awaitable[Result]]


async def _session_event(s: AsyncSession, obj: dict[str, Any], account: str | None, now: Any,
                         intent: Intent | None = None, setup: SetupIntent | None = None) -> Result:
    return await apply_session(s, CheckoutSession.from_stripe(obj), account=account, now=now, intent=intent,
                               setup=setup)


async def _async_failed(s: AsyncSession, obj: dict[str, Any], account: str | None, now: Any) -> Result:
    session = CheckoutSession.from_stripe(obj)
    request_id = session.metadata.get("payment_request_id") or session.client_reference_id
    r = await s.get(PaymentRequest, request_id, with_for_update=True) if request_id else None
    if r is None:
        return "unknown_request", None
    if (r.stripe_account_id or None) != (account or None):
        return "wrong_account", None
    if r.status not in ("requested", "checkout_open"):
        return "stale", None
    await finish_unpaid(s, r, "failed", "payment failed", now)
    # The PaymentIntent's own event may already have told why.
    detail = r.problem_detail if r.problem == CheckoutProblem.DECLINED else None
    r.problem, r.problem_detail, r.problem_at = CheckoutProblem.FAILED, detail, now
    return "failed", request_view(r)


async def _settled_at_once(
    s: AsyncSession, event_id: str, obj: dict[str, Any], account: str | None, now: Any
) -> Result | None:
    """A paid session for an open request, in ready statements (``settle_ready``); None: the usual way."""
    session = CheckoutSession.from_stripe(obj)
    request_id = session.metadata.get("payment_request_id") or session.client_reference_id
    if (not request_id or session.status != "complete" or session.payment_status not in PAID_SESSION
            or session.mode == "setup"):  # a card saved, nothing paid (cards_on_file.save)
        return None
    try:
        return await settle_paid(s, event_id, session, request_id, account=account, now=now)
    except Fallback:
        return None


# Built once, on the table: they run for every webhook.
_EVENT_SEEN = Ready(select(StripeEvent.__table__.c.id).where(StripeEvent.__table__.c.id == bindparam("id")))
_INSERT_EVENT = ReadyInsert(StripeEvent.__table__)

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _session_event,
    "checkout.session.async_payment_succeeded": _session_event,
    "checkout.session.expired": _session_event,
    "checkout.session.async_payment_failed": _async_failed,
    # The clinics' connected accounts (app/connect/events.py).
    "account.updated": account_events.account_updated,
    "account.application.deauthorized": account_events.deauthorized,
    # Refunds, ours and those made in Stripe's dashboard (app/payments/refunds.py).
    "charge.refunded": charge_refunded_event,
    "refund.created": refund_event,
    "refund.updated": refund_event,
    "refund.failed": refund_event,
    # Card holds: captured, or released (by us, or by Stripe when the authorisation lapsed); a card on
    # file's off-session charge succeeded.
    "payment_intent.succeeded": apply_intent,
    "payment_intent.canceled": apply_intent,
}
# Handlers that read the whole event (its ``created``, to keep the newest word).
EVENT_HANDLERS: dict[str, Handler] = {
    "payment_intent.payment_failed": intent_failed,
}


class StripeEvents:
    def __init__(
        self, db: Database, *, notifier: Notifier, clock: Clock, livemode: bool = False, public_url: str = "",
        stripe: StripeGateway | None = None,
    ) -> None:
        self.db = db
        # To look up the PaymentIntent of a card hold's completed session (``holds.authorise``).
        self.stripe = stripe
        # Makes the receipt links in what the panels are told absolute.
        self.public_url = public_url
        self.notifier = notifier
        self.clock = clock
        # The mode of the configured key (live for sk_live_/rk_live_).
        self.livemode = livemode
        self.late_holds = LateHolds(db, stripe=stripe, notifier=notifier, clock=clock,
                                    public_url=public_url) if stripe is not None else None

    async def handle(self, event: dict[str, Any], *, endpoint: str = "account") -> str:
        """Apply one verified event that arrived at ``endpoint`` (``account`` or ``connect``)."""
        event_id = event.get("id")
        event_type = event.get("type")
        obj = (event.get("data") or {}).get("object")
        if not isinstance(event_id, str) or not isinstance(event_type, str) or not isinstance(obj, dict):
            return "malformed"
        account = event.get("account") if isinstance(event.get("account"), str) else None
        if endpoint == "connect" and account is None:
            log.warning("stripe event %s %s has no account but came to the Connect endpoint; not applied",
                        event_id, event_type)
            return "not_connect_event"
        # Stripe always says which mode an event belongs to; one that does not is not applied either.
        mode_matches = event.get("livemode") is self.livemode
        handler = HANDLERS.get(event_type)
        whole = EVENT_HANDLERS.get(event_type)
        now = self.clock.now()
        nested = self.db.is_sqlite
        # A session completed unpaid (a card hold): its PaymentIntent, asked before the transaction.
        intent = await session_intent(self.stripe, CheckoutSession.from_stripe(obj), account) \
            if handler is _session_event and mode_matches and self.stripe is not None else None
        # A card on file's setup session completed: its SetupIntent, asked before the transaction too.
        setup = await session_setup(self.stripe, CheckoutSession.from_stripe(obj), account) \
            if handler is _session_event and mode_matches else None

        async def apply(s: AsyncSession) -> Result:
            settled = await _settled_at_once(s, event_id, obj, account, now) \
                if handler is _session_event and mode_matches else None
            if settled is not None:
                outcome, view = settled
                if outcome == "duplicate":
                    return settled
            elif await in_session(s, _EVENT_SEEN.first, {"id": event_id}) is not None:
                return "duplicate", None
            elif not mode_matches:
                outcome, view = "livemode_mismatch", None
            else:
                # Through the session's objects: in a savepoint of their own (GroupCommit.run, ``ready``).
                async with s.begin_nested() if nested else nullcontext():
                    if whole is not None:
                        outcome, view = await whole(s, event, account, now)
                    else:
                        outcome, view = (await _session_event(s, obj, account, now, intent, setup)
                                         if handler is _session_event
                                         else await handler(s, obj, account, now) if handler else ("ignored", None))
            await in_session(s, _INSERT_EVENT.run, {"id": event_id, "type": event_type, "account": account,
                                                    "outcome": outcome, "received_at": now})
            return outcome, view

        try:
            # Settled together with the webhooks that arrive alongside it; this
            # returns once the transaction holding it has committed.
            outcome, view = await self.db.group.run(apply, ready=True)
        except IntegrityError:
            # The same event, delivered concurrently, got there first.
            return "duplicate"
        if outcome == "livemode_mismatch":
            log.warning("stripe event %s %s is livemode=%s but the configured key is %s; not applied",
                        event_id, event_type, event.get("livemode"), "live" if self.livemode else "test")
        else:
            log.info("stripe event %s %s: %s", event_id, event_type, outcome)
        if view is not None:
            await request_changed(self.notifier, absolute_links(view, self.public_url) or view)
        if outcome == AUTHORISED_LATE and self.late_holds is not None:
            # Authorised for a request that had ended: released at Stripe now the note is committed.
            session = CheckoutSession.from_stripe(obj)
            await self.late_holds.release(session.metadata.get("payment_request_id") or session.client_reference_id)
        return outcome
