"""Payment requests in a call: request, cancel, and bring in line with Stripe.

Order of work, everywhere here: validate, then call Stripe (outside any
database transaction, with an idempotency key so a retry never makes a second
session), then change our rows in one short write transaction that re-checks
the state under a row lock, then tell the people in the call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app import validation as v
from app.billing import cards
from app.billing.gate_end import cancel_gate
from app.billing.gates import PolicyKind
from app.billing.serialisers import RequestView, absolute_links, as_json
from app.billing.statuses import REQUEST_OPEN, REQUEST_PAID
from app.clock import Clock
from app.commands import CancelRequest, RequestPayment
from app.connect.routing import route_for
from app.consults.notifier import Notifier, request_changed
from app.consults.participant import Participant, require_role
from app.db import Database
from app.errors import Conflict, DomainError, Invalid, NotFound
from app.models import Clinic, PaymentRequest
from app.payments.cards_on_file import session_setup
from app.payments.checkout import Checkout
from app.payments.group_requests import RequestsMade, store_group
from app.payments.hold_service import HoldActions
from app.payments.holds import AUTHORISED_LATE, Intent, session_intent
from app.payments.minimums import check_minimum
from app.payments.provider import InCallProvider, Method
from app.payments.request_store import Ask, store
from app.payments.saved_card_service import SavedCardCharges
from app.payments.settlement import apply_session, locked_request
from app.payments.stripe_provider import StripeProvider
from app.payments.vipps import VippsPayments
from app.payments.vipps_choice import VippsChoice
from app.schema import clean_text
from integrations.stripe.protocol import (
    CheckoutSession,
    ProviderError,
    StripeGateway,
)

log = logging.getLogger(__name__)


class PaymentService(Checkout, VippsChoice, SavedCardCharges, HoldActions):
    def __init__(
        self,
        db: Database,
        *,
        stripe: StripeGateway,
        notifier: Notifier,
        clock: Clock,
        public_url: str,
        checkout_ttl_seconds: int,
        vipps: VippsPayments | None = None,
    ) -> None:
        self.db = db
        self.stripe = stripe
        self.notifier = notifier
        self.clock = clock
        self.public_url = public_url
        self.checkout_ttl = timedelta(seconds=checkout_ttl_seconds)
        self.vipps = vipps
        self.card = StripeProvider(self)

    def provider(self, r: PaymentRequest) -> InCallProvider:
        """The provider of the request's method (``app.payments.provider``)."""
        return self.vipps if r.method == Method.VIPPS and self.vipps is not None else self.card

    # -- clinician -----------------------------------------------------------------------------

    async def request(self, who: Participant, cmd: RequestPayment) -> RequestView:
        ask = self._ask(who, cmd)
        idem = ask.idempotency_key
        try:
            row, new = await self.db.run_write(store, ask)
        except IntegrityError:
            # Two identical keys raced (PostgreSQL): the other one won; return it.
            async with self.db.read() as s:
                found = await s.scalar(
                    select(PaymentRequest).where(
                        PaymentRequest.consult_id == who.consult.id, PaymentRequest.idempotency_key == idem
                    )
                )
            if found is None:
                raise
            return RequestView.from_row(found)
        view = RequestView.from_row(row)  # type: ignore[arg-type]
        if not new:
            return view
        await request_changed(self.notifier, as_json(view), new=True)
        return view

    async def request_group(self, who: Participant, cmd: RequestPayment) -> RequestsMade:
        """``payment:request`` with ``patient_ids``: one request per patient, all or none
        (``app/payments/group_requests.py``); each patient is told of their own request only."""
        if cmd.patient_ids is None:
            return RequestsMade(requests=(await self.request(who, cmd),))
        if cmd.patient_id is not None:
            raise Invalid("invalid_field", "Send either one patient or a list of patients, not both.",
                          field="patient_ids")
        ask = self._ask(who, cmd)
        try:
            made = await self.db.run_write(store_group, ask, cmd.patient_ids)
        except IntegrityError:
            # The same keys raced (PostgreSQL): the other transaction made the set; this run finds it.
            made = await self.db.run_write(store_group, ask, cmd.patient_ids)
        views = tuple(RequestView.from_row(row) for row, _ in made)  # type: ignore[arg-type]
        for view, (_, new) in zip(views, made, strict=True):
            if new:
                await request_changed(self.notifier, as_json(view), new=True)
        return RequestsMade(requests=views)

    def _ask(self, who: Participant, cmd: RequestPayment) -> Ask:
        """The request as sent, checked for everything that needs no database."""
        require_role(who, "clinician")
        amount = v.amount(cmd.amount)
        description = clean_text(cmd.description, "description", required=False, max_len=200)
        if description is None:
            raise Invalid("invalid_description", "Description is required.")
        currency = cmd.currency or who.consult.currency
        if not isinstance(currency, str) or currency.upper() != who.consult.currency:
            raise Invalid("currency_mismatch", "Currency does not match the consultation.")
        check_minimum(amount, who.consult.currency)
        idem = cmd.idempotency_key
        if idem is not None and (not isinstance(idem, str) or not 0 < len(idem) <= 100):
            raise Invalid("invalid_field", "idempotency_key must be a string of at most 100 characters")
        return Ask(consult_id=who.consult.id, patient_id=cmd.patient_id, amount=amount, description=description,
                   idempotency_key=idem, confirmed=cmd.confirmed, actor_type=who.role, actor_id=who.id,
                   now=self.clock.now())

    async def cancel(self, who: Participant, cmd: CancelRequest) -> RequestView:
        require_role(who, "clinician")
        r = await self._load(who, cmd.request_id)
        return await self._cancel(r, _Actor.of(who), "cancelled by clinician")

    async def clinic_request(self, request_id: str, clinic_id: str) -> PaymentRequest:
        """One of the clinic's requests, for its admin; NotFound for another clinic's."""
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id) if 0 < len(request_id) <= 100 else None
        if r is None or r.clinic_id != clinic_id:
            raise NotFound("request_not_found", "No such payment request.")
        return r

    async def cancel_stale(self, request_id: str, *, clinic_id: str, organisation_id: str,
                           actor_id: str) -> RequestView:
        """An admin cancels an open request of the clinic (one left behind by an old call, say),
        the way the clinician's *Cancel* does: Stripe's session closed first, both panels told."""
        r = await self.clinic_request(request_id, clinic_id)
        return await self._cancel(r, _Actor(organisation_id, "user", actor_id), "cancelled by an admin")

    async def _cancel(self, r: PaymentRequest, actor: _Actor, reason: str) -> RequestView:
        if r.status in REQUEST_PAID:
            raise Conflict("already_paid", "This request has already been paid.")
        if r.status not in REQUEST_OPEN:
            raise Conflict("not_cancellable", "This request can no longer be cancelled.")
        # Close the door at the provider first, so the patient cannot pay a cancelled request.
        await self.provider(r).close(r)
        now = self.clock.now()
        async with self.db.write() as s:
            r = await locked_request(s, r.id)
            if r.status in REQUEST_PAID:
                raise Conflict("already_paid", "This request has already been paid.")
            if r.status not in REQUEST_OPEN:
                raise Conflict("not_cancellable", "This request can no longer be cancelled.")
            await cards.finish_unpaid(s, r, "cancelled", reason, now)
            _audit(s, actor, r, "payment.cancelled", now, amount=r.amount)
            view = RequestView.from_row(r)
        await request_changed(self.notifier, as_json(view))
        return view

    async def end_open_gates(self, consult_id: str) -> int:
        """The consult is over: a ``before_join`` gate whose payment page is still open is closed at the
        provider and cancelled, as one never opened is (docs/rules.md, rule H5); how many.

        Paid meanwhile, closing it settles it instead; a payment under way (a delayed method) or a
        provider that cannot be reached leaves it open, to finish as any open checkout does.
        """
        async with self.db.read() as s:
            gates = list(await s.scalars(select(PaymentRequest).where(
                PaymentRequest.consult_id == consult_id, PaymentRequest.kind == PolicyKind.BEFORE_JOIN,
                PaymentRequest.status == "checkout_open")))
        done = 0
        for gate in gates:
            try:
                await self.provider(gate).close(gate)
            except DomainError as e:
                log.info("gate %s of ended consult %s left open: %s", gate.id, consult_id, e.code)
                continue
            async with self.db.write() as s:
                r = await locked_request(s, gate.id)
                if r.status not in REQUEST_OPEN:
                    continue
                await cancel_gate(s, r, self.clock.now())
                view = RequestView.from_row(r)
            await request_changed(self.notifier, as_json(view))
            done += 1
        return done

    # -- Stripe's word -------------------------------------------------------------------------

    async def settle(self, session: CheckoutSession, *, account: str | None) -> str:
        """Apply what Stripe says of a session (from a webhook or a look-up); idempotent."""
        intent = await self.hold_intent(session, account)
        setup = await session_setup(self.stripe, session, account)
        async with self.db.write() as s:
            outcome, view = await apply_session(s, session, account=account, now=self.clock.now(), intent=intent,
                                                setup=setup)
        if view is not None:
            await request_changed(self.notifier, absolute_links(view, self.public_url) or view)
        if outcome == AUTHORISED_LATE:
            # A card hold authorised for a request that had ended: released at Stripe (late_holds).
            await self.late_holds.release(session.metadata.get("payment_request_id") or session.client_reference_id)
        return outcome

    async def hold_intent(self, session: CheckoutSession, account: str | None) -> Intent | None:
        """The PaymentIntent of a session completed unpaid (a card hold's), as Stripe has it now."""
        return await session_intent(self.stripe, session, account)

    async def refresh(self, request_id: str) -> PaymentRequest | None:
        """Ask the provider about a request, settle what it says, and return the request."""
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id)
        if r is None:
            return None
        if r.status in REQUEST_OPEN:
            await self.provider(r).refresh(r)
            async with self.db.read() as s:
                r = await s.get(PaymentRequest, request_id)
        return r

    async def refresh_session(self, r: PaymentRequest) -> None:
        """Ask Stripe about a request's session and settle what it says."""
        assert r.checkout_session_id
        try:
            session = await self.stripe.retrieve_checkout_session(r.checkout_session_id, account=r.stripe_account_id)
        except ProviderError as e:
            log.warning("could not look up %s: %s", r.checkout_session_id, e.provider_message)
        else:
            await self.settle(session, account=r.stripe_account_id)

    async def expire_due(self) -> int:
        """The ``expire-requests`` job: bring overdue checkouts in line with Stripe, and every Vipps
        payment not finished in line with Vipps (its poll, the fallback to its webhooks)."""
        now = self.clock.now()
        async with self.db.read() as s:
            due = list(
                await s.scalars(
                    select(PaymentRequest.id).where(
                        PaymentRequest.status == "checkout_open",
                        PaymentRequest.checkout_expires_at <= now,
                        # An attempt whose answer was lost has no session to ask about yet.
                        PaymentRequest.checkout_session_id.is_not(None),
                    )
                )
            )
        for request_id in due:
            await self.refresh(request_id)
        return len(due) + (await self.vipps.poll() if self.vipps is not None else 0)


@dataclass(frozen=True)
class _Actor:
    """Who acts on a request, for the audit log: a person in the call, or an admin user."""

    organisation_id: str
    actor_type: str
    actor_id: str

    @classmethod
    def of(cls, who: Participant) -> _Actor:
        return cls(who.consult.organisation_id, who.role, who.id)


def _audit(s: AsyncSession, actor: _Actor, r: PaymentRequest, action: str, now: datetime, **details: Any) -> None:
    audit.record(s, **_audit_fields(actor, r, action, now, **details))


def _audit_fields(actor: _Actor, r: PaymentRequest, action: str, now: datetime, **details: Any) -> dict[str, Any]:
    return {
        "organisation_id": actor.organisation_id,
        "clinic_id": r.clinic_id,
        "actor_type": actor.actor_type,
        "actor_id": actor.actor_id,
        "action": action,
        "subject_type": "payment_request",
        "subject_id": r.id,
        "at": now,
        "details": {"consult_id": r.consult_id, "currency": r.currency, **details},
    }


async def can_take_payments(s: AsyncSession, clinic: Clinic, clinician_ref: str | None) -> bool:
    """Whether this clinician's payment requests have a working account to go to."""
    return (await route_for(s, clinic, clinician_ref)).account is not None
