"""Checkout: the patient's Stripe Checkout page for a payment request.

Order of work: validate, then call Stripe outside any database transaction
with an idempotency key per attempt (so a retry after a lost answer finds the
session Stripe already made instead of making a second), then record the
session in one short write transaction that re-checks the state under a row
lock, then tell the people in the call. A refusal is told apart from an outage.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from app.billing.serialisers import request_view
from app.billing.statuses import REQUEST_OPEN, REQUEST_PAID, CheckoutProblem, RequestStatus
from app.clock import Clock
from app.commands import OpenCheckout
from app.consults.notifier import Notifier, clinician_room, request_changed
from app.consults.participant import Participant, active_consult, require_role
from app.db import Database
from app.errors import Conflict, Invalid, NotFound, Unavailable
from app.i18n import error_message
from app.models import Consult, ConsultPatient, PaymentRequest
from app.payments.settlement import locked_request
from integrations.stripe.protocol import (
    AccessRefused,
    AccountRefused,
    CheckoutSession,
    NewCheckout,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    RequestRefused,
    StripeGateway,
)

log = logging.getLogger(__name__)

# Reuse a checkout session only while it has this much life left.
CHECKOUT_MARGIN = timedelta(minutes=2)
# Stripe takes an expires_at at least 30 minutes ahead (docs/rules.md, rule P6); a stored attempt closer than this
# (with half a minute for clocks and travel) is refused unless Stripe already made its session.
STRIPE_MIN_EXPIRY = timedelta(minutes=30, seconds=30)


class Checkout:
    """The patient's side of :class:`app.payments.requests.PaymentService`."""

    db: Database
    stripe: StripeGateway
    notifier: Notifier
    clock: Clock
    public_url: str
    checkout_ttl: timedelta

    async def checkout(self, who: Participant, cmd: OpenCheckout) -> str:
        """The patient's Checkout page for a request: the open session, or a new one.

        Safe to retry after any lost answer. An attempt's parameters (its number,
        hence its idempotency key, and its ``expires_at``) are stored before Stripe
        is called, and every call for that attempt sends exactly the same request:
        a replay returns the session Stripe made, never an ``idempotency_error``.
        Only when Stripe cannot use the attempt any more (key refused, its
        ``expires_at`` too close to be accepted, its session expired) is a new
        attempt stored, and the old session is closed first so only one can be paid.
        """
        require_role(who, "patient")
        r = await self._load(who, cmd.request_id)
        if r.patient_id != who.id:
            raise NotFound("request_not_found", "Unknown payment request.")
        _check_payable(r)
        if r.method == "vipps":
            # *Pay by card* after choosing Vipps: the payment waiting in Vipps is cancelled first.
            r = await self.leave_vipps(r)  # type: ignore[attr-defined]
        now = self.clock.now()
        if r.checkout_session_id and r.checkout_url and r.checkout_expires_at:
            if r.checkout_expires_at - now > CHECKOUT_MARGIN:
                return r.checkout_url
            # Nearly gone: close it before opening another, so only one can be paid.
            await self._close(r, r.checkout_session_id)
            r = await self._new_attempt(r.id, r.checkout_attempt)
        elif r.checkout_attempt == 0 or r.checkout_expires_at is None:
            r = await self._new_attempt(r.id, r.checkout_attempt)
        # Otherwise an attempt is stored whose answer never came: send it again as it was.
        for _ in range(3):
            session = await self._create(r, who)
            if session is not None and session.status == "open" and _fresh(session, self.clock.now()):
                return await self._opened(r.id, session)
            if session is not None:
                # The attempt's session (from a replay) is paid, expired or about to be.
                await self._close(r, session.id, session)
            r = await self._new_attempt(r.id, r.checkout_attempt)
        raise Unavailable("checkout_failed", "Payment could not be started. Please try again.")

    async def _new_attempt(self, request_id: str, current: int) -> PaymentRequest:
        """Store the next attempt and its fixed ``expires_at`` before Stripe hears of it.

        ``current`` is the attempt the caller saw: if another click moved on
        meanwhile, its attempt is used rather than a third one.
        """
        now = self.clock.now()
        async with self.db.write() as s:
            r = await locked_request(s, request_id)
            _check_payable(r)
            if r.checkout_attempt == current:
                r.checkout_attempt = current + 1
                # Whole seconds: the stored value is exactly what Stripe is sent, every time.
                r.checkout_expires_at = datetime.fromtimestamp(int((now + self.checkout_ttl).timestamp()), UTC)
                # The old session (if any) is closed; its events no longer describe this request.
                r.checkout_session_id = None
                r.checkout_url = None
                r.updated_at = now
        return r

    async def _create(self, r: PaymentRequest, who: Participant) -> CheckoutSession | None:
        """Send the stored attempt; None when Stripe will not take this attempt any more."""
        assert r.checkout_expires_at is not None
        try:
            return await self._send(r)
        except RequestRefused as e:
            if e.code == "idempotency_error" or r.checkout_expires_at - self.clock.now() < STRIPE_MIN_EXPIRY:
                # The key was used otherwise, or expired with its 24 hours and the stored
                # expires_at is now too close for Stripe: this attempt is spent.
                log.info("checkout attempt %s of %s refused (%s): next attempt", r.checkout_attempt, r.id, e.code)
                return None
            await self._refused(r, who, e)
        except ProviderError as e:
            await self._refused(r, who, e)

    async def _lost_session(self, r: PaymentRequest) -> str | None:
        """The session of a stored attempt whose answer was lost, if Stripe made one.

        Sending the attempt again is the only way to ask: a replay returns what
        Stripe made (a session it never made is made now, and closed by the caller).
        """
        if r.checkout_session_id or not r.checkout_attempt or r.checkout_expires_at is None:
            return None
        try:
            return (await self._send(r)).id
        except ProviderUnavailable as e:
            raise Unavailable("stripe_unavailable", "Stripe could not be reached. Please try again.") from e
        except ProviderError:
            return None  # refused: Stripe holds no session for this attempt

    async def _send(self, r: PaymentRequest) -> CheckoutSession:
        """The stored attempt, exactly as it was first sent."""
        assert r.checkout_expires_at is not None
        async with self.db.read() as s:
            patient = await s.get(ConsultPatient, (r.consult_id, r.patient_id))
            consult = await s.get(Consult, r.consult_id)
        assert consult is not None
        metadata = {
            "payment_request_id": r.id,
            "consult_id": r.consult_id,
            "clinic_id": r.clinic_id,
            "bill_card_id": r.bill_card_id,
            "checkout_attempt": str(r.checkout_attempt),
        }
        # A card hold is authorised for its whole amount and captured later (docs/rules.md, rule H1);
        # a card on file is saved to a Customer on the clinic's account, charged later (rule H6).
        hold: dict[str, str | None] = {"capture_method": "manual"} if r.kind == "hold" else {}
        if r.kind == "card_on_file":
            hold = {"mode": "setup", "customer": await self._customer(r, patient)}
        return await self.stripe.create_checkout_session(
            NewCheckout(
                account=r.stripe_account_id,
                amount=(r.hold_amount or r.amount) if hold else r.amount,
                currency=r.currency,
                description=r.description,
                success_url=f"{self.public_url}/checkout/return?request_id={r.id}&session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=f"{self.public_url}/checkout/return?request_id={r.id}",
                reference=r.id,
                metadata=metadata,
                expires_at=int(r.checkout_expires_at.timestamp()),
                idempotency_key=f"consultpay:{r.id}:checkout:{r.checkout_attempt}",
                customer_email=patient.email if patient else None,
                locale=consult.language,
                application_fee_amount=r.application_fee_amount,
                **hold,  # type: ignore[arg-type]
            )
        )

    async def _customer(self, r: PaymentRequest, patient: ConsultPatient | None) -> str:
        """The Customer a card on file is saved to: made once at Stripe (a replay of the same key
        returns it), its id stored before any session names it."""
        if r.stripe_customer_id:
            return r.stripe_customer_id
        customer = await self.stripe.create_customer(
            account=r.stripe_account_id, email=patient.email if patient else None,
            name=patient.name if patient else None,
            metadata={"payment_request_id": r.id, "consult_id": r.consult_id, "clinic_id": r.clinic_id},
            idempotency_key=f"consultpay:{r.id}:customer",
        )
        async with self.db.write() as s:
            row = await locked_request(s, r.id)
            row.stripe_customer_id = row.stripe_customer_id or customer
            customer = row.stripe_customer_id
        r.stripe_customer_id = customer
        return customer

    async def _refused(self, r: PaymentRequest, who: Participant, e: ProviderError) -> NoReturn:
        """Say what went wrong: "try again" for an outage, what to do for a refusal."""
        log.warning("checkout for %s failed: %s (%s)", r.id, e.provider_message, e.code)
        if isinstance(e, ProviderUnavailable) or not isinstance(e, ProviderRefused):
            raise Unavailable("checkout_failed", "Payment could not be started. Please try again.") from e
        if isinstance(e, AccountRefused | AccessRefused):
            await self._tell_clinician(
                r,
                who,
                "The patient could not pay: the clinic's Stripe account cannot take card payments right now. "
                "Ask the clinic's administrator to check it under Client payments.",
                e,
            )
            raise Conflict(
                "clinic_cannot_take_payments",
                "This clinic cannot take card payments right now; your clinician has been told.",
                reason=e.code,
            ) from e
        await self._tell_clinician(
            r,
            who,
            "The patient could not pay “%(description)s”: Stripe refused the payment request "
            "(%(reason)s). Cancel it and ask for the payment again.",
            e,
        )
        raise Conflict(
            "checkout_refused", "Stripe refused this payment request; your clinician has been told.", reason=e.code
        ) from e

    async def _tell_clinician(self, r: PaymentRequest, who: Participant, message: str, e: ProviderError) -> None:
        """``payment:problem`` to the clinician's panel, in the call's language."""
        text = error_message(message, {"description": r.description, "reason": e.code}, who.consult.language)
        await self.notifier.emit(
            "payment:problem", {"request_id": r.id, "code": e.code, "message": text}, room=clinician_room(r.consult_id)
        )

    async def _close(self, r: PaymentRequest, session_id: str, known: CheckoutSession | None = None) -> None:
        """Make sure a session of this request can no longer be paid; settle it if it was."""
        session = known
        if session is None or session.status == "open":
            session = await self._expire_or_retrieve(r, session_id)
        if session.status == "complete":
            await self.settle(session, account=r.stripe_account_id)
            raise Conflict("already_paid", "This request has already been paid.")

    async def _opened(self, request_id: str, session: CheckoutSession) -> str:
        """Keep the session Stripe gave for the stored attempt and tell the call."""
        now = self.clock.now()
        async with self.db.write() as s:
            r = await locked_request(s, request_id)
            _check_payable(r)
            # A click that moved on to a later attempt meanwhile keeps its own session.
            mine = session.metadata.get("checkout_attempt") in (None, str(r.checkout_attempt))
            changed = mine and r.checkout_session_id != session.id
            if changed:
                r.checkout_session_id = session.id
                r.checkout_url = session.url
                r.checkout_expires_at = datetime.fromtimestamp(session.expires_at, UTC)
                r.status = "checkout_open"
                r.updated_at = now
                # A new page: what went wrong with an earlier one is over.
                r.problem = r.problem_detail = r.problem_at = None
            view = request_view(r)
        if changed:
            await request_changed(self.notifier, view)
        return session.url or ""

    async def left_checkout(self, request_id: str) -> PaymentRequest | None:
        """The patient came back by Checkout's ``cancel_url``: the request is payable again.

        Stripe keeps a session ``open`` after its cancel link until it expires, and
        lets us expire it at once; we do, so a page left open in a tab cannot be paid
        later, and the next *Pay now* opens a fresh one. The request is made payable
        (and the attempt moved on, so the expiry's webhook describes an attempt that
        is over) *before* Stripe is asked: a webhook that beat our answer would
        otherwise end the request as expired. Should Stripe say the session was paid
        after all, it is settled: the return address alone proves nothing (rule P4).
        """
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id)
        if r is None or r.status != RequestStatus.CHECKOUT_OPEN or not r.checkout_session_id:
            return await self.refresh(request_id)
        session_id, now = r.checkout_session_id, self.clock.now()
        async with self.db.write() as s:
            r = await locked_request(s, request_id)
            changed = r.status == RequestStatus.CHECKOUT_OPEN and r.checkout_session_id == session_id
            if changed:
                r.status = RequestStatus.REQUESTED
                r.checkout_attempt += 1
                r.checkout_session_id = r.checkout_url = r.checkout_expires_at = None
                r.problem, r.problem_detail, r.problem_at = CheckoutProblem.LEFT, None, now
                r.updated_at = now
            view = request_view(r)
        if not changed:
            return await self.refresh(request_id)
        await request_changed(self.notifier, view)
        try:
            session = await self.stripe.expire_checkout_session(session_id, account=r.stripe_account_id)
        except ProviderError:
            try:  # Stripe refuses to expire a session that is no longer open: ask what it is.
                session = await self.stripe.retrieve_checkout_session(session_id, account=r.stripe_account_id)
            except ProviderError as e:
                log.warning("could not close %s after the patient left it: %s", session_id, e.provider_message)
                return r
        if session.status == "complete":
            await self.settle(session, account=r.stripe_account_id)
        async with self.db.read() as s:
            return await s.get(PaymentRequest, request_id)

    # -- settlement ------------------------------------------------------------------------------

    async def _load(self, who: Participant, request_id: str) -> PaymentRequest:
        if not isinstance(request_id, str) or not request_id:
            raise Invalid("missing_field", "request_id is required", field="request_id")
        async with self.db.read() as s:
            await active_consult(s, who.consult.id, self.clock.now())
            r = await s.get(PaymentRequest, request_id)
        # Another consult's or another patient's request does not exist, as far as this socket knows.
        if r is None or r.consult_id != who.consult.id or (who.role == "patient" and r.patient_id != who.id):
            raise NotFound("request_not_found", "Unknown payment request.")
        return r

    async def _expire_or_retrieve(self, r: PaymentRequest, session_id: str | None = None) -> CheckoutSession:
        session_id = session_id or r.checkout_session_id
        assert session_id
        try:
            return await self.stripe.expire_checkout_session(session_id, account=r.stripe_account_id)
        except ProviderError:
            # Stripe refuses to expire a session that is no longer open: ask what it is.
            try:
                return await self.stripe.retrieve_checkout_session(session_id, account=r.stripe_account_id)
            except ProviderError as e:
                raise Unavailable("stripe_unavailable", "Payment could not be started. Please try again.") from e


def _check_payable(r: PaymentRequest) -> None:
    if r.status in REQUEST_PAID:
        raise Conflict("already_paid", "This request has already been paid.")
    if r.status not in REQUEST_OPEN:
        raise Conflict("not_payable", "This request is no longer payable.")


def _fresh(session: CheckoutSession, now: datetime) -> bool:
    """Whether a session has enough life left to send the patient to."""
    return session.expires_at - now.timestamp() > CHECKOUT_MARGIN.total_seconds()
