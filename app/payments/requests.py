"""Payment requests in a call: request, cancel, open checkout, and settle.

Order of work, everywhere here: validate, then call Stripe (outside any
database transaction, with an idempotency key so a retry never makes a second
session), then change our rows in one short write transaction that re-checks
the state under a row lock, then tell the people in the call.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app import validation as v
from app.billing import cards
from app.billing.statuses import REQUEST_OPEN, REQUEST_PAID
from app.clock import Clock
from app.connect.routing import application_fee, route_for
from app.consults.notifier import Notifier, clinician_room, request_changed
from app.consults.participant import Participant
from app.consults.serialisers import request_view
from app.db import Database
from app.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from app.i18n import error_message
from app.ids import new_id
from app.models import BillCard, Clinic, Consult, ConsultPatient, PaymentRequest
from app.payments.minimums import check_minimum
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

# A second identical request within this window is the same click twice.
DOUBLE_CLICK = timedelta(seconds=10)
# Reuse a checkout session only while it has this much life left.
CHECKOUT_MARGIN = timedelta(minutes=2)
# Stripe takes an expires_at at least 30 minutes ahead; a stored attempt closer than this
# (with half a minute for clocks and travel) is refused unless Stripe already made its session.
STRIPE_MIN_EXPIRY = timedelta(minutes=30, seconds=30)
# Built once: a settlement reads its request this way for every webhook.
_REQUEST_FOR_UPDATE = select(PaymentRequest).where(PaymentRequest.id == bindparam("id")).with_for_update()
NO_ACCOUNT = "The clinic cannot take payments yet: no Stripe account is linked."


async def finish_unpaid(
    s: AsyncSession, r: PaymentRequest, status: str, reason: str, now: datetime, *, keep_line: bool = False
) -> None:
    """End an open request without payment; its line no longer counts on the card.

    With ``keep_line`` the amount stays owed on the card: the call ended with
    it unpaid and the card's MediPay book collects it (product.md, section 3).
    """
    r.status = status
    r.updated_at = now
    r.failure_reason = reason if status == "failed" else r.failure_reason
    card = await s.get(BillCard, r.bill_card_id)
    if card is not None and not keep_line:
        await cards.void_request_line(s, card, r.id, f"request {status}", now)


class PaymentService:
    def __init__(
        self,
        db: Database,
        *,
        stripe: StripeGateway,
        notifier: Notifier,
        clock: Clock,
        public_url: str,
        checkout_ttl_seconds: int,
    ) -> None:
        self.db = db
        self.stripe = stripe
        self.notifier = notifier
        self.clock = clock
        self.public_url = public_url
        self.checkout_ttl = timedelta(seconds=checkout_ttl_seconds)

    # -- clinician -----------------------------------------------------------------------------

    async def request(self, who: Participant, payload: Any) -> dict[str, Any]:
        _require(who, "clinician")
        data = v.obj(payload, "payload")
        amount = v.amount(data.get("amount"))
        description = v.text(data, "description", required=False, max_len=200)
        if description is None:
            raise Invalid("invalid_description", "Description is required.")
        currency = data.get("currency") or who.consult.currency
        if not isinstance(currency, str) or currency.upper() != who.consult.currency:
            raise Invalid("currency_mismatch", "Currency does not match the consultation.")
        check_minimum(amount, who.consult.currency)
        idem = data.get("idempotency_key")
        if idem is not None and (not isinstance(idem, str) or not 0 < len(idem) <= 100):
            raise Invalid("invalid_field", "idempotency_key must be a string of at most 100 characters")
        patient_id = data.get("patient_id")
        now = self.clock.now()

        try:
            async with self.db.write() as s:
                consult = await _active_consult(s, who.consult.id, now)
                # Locked: removing an account takes this lock too, so no request slips onto it.
                clinic = await s.get(Clinic, consult.clinic_id, with_for_update=True)
                if clinic is None:
                    raise Conflict("no_stripe_account", NO_ACCOUNT)
                route = await route_for(s, clinic, consult.clinician_id)
                if route.account is None:
                    raise Conflict(route.code or "no_stripe_account", route.reason or NO_ACCOUNT)
                patient = await _patient(s, consult.id, patient_id)
                existing = await _duplicate(s, consult.id, patient.patient_id, amount, description, idem, now)
                if existing is not None:
                    return request_view(existing)
                card = await cards.card_for_patient(s, consult, patient, now)
                r = PaymentRequest(
                    id=new_id("pr"),
                    consult_id=consult.id,
                    clinic_id=consult.clinic_id,
                    patient_id=patient.patient_id,
                    amount=amount,
                    currency=consult.currency,
                    description=description,
                    status="requested",
                    idempotency_key=idem,
                    bill_card_id=card.id,
                    created_at=now,
                    updated_at=now,
                    stripe_account_id=route.account,
                    application_fee_amount=application_fee(amount, clinic.fee_basis_points, clinic.fee_fixed),
                    refunded_amount=0,
                    checkout_attempt=0,
                )
                s.add(r)
                await cards.add_request_line(s, card, r.id, description, amount, now, new_card=card in s.new)
                _audit(s, who, r, "payment.requested", now, amount=amount, patient_id=r.patient_id)
                view = request_view(r)
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
            return request_view(found)
        await request_changed(self.notifier, view, new=True)
        return view

    async def cancel(self, who: Participant, payload: Any) -> dict[str, Any]:
        _require(who, "clinician")
        r = await self._load(who, payload)
        if r.status in REQUEST_PAID:
            raise Conflict("already_paid", "This request has already been paid.")
        if r.status not in REQUEST_OPEN:
            raise Conflict("not_cancellable", "This request can no longer be cancelled.")
        # Close the door at Stripe first, so the patient cannot pay a cancelled request.
        session_id = r.checkout_session_id or await self._lost_session(r)
        if session_id:
            await self._close(r, session_id)
        now = self.clock.now()
        async with self.db.write() as s:
            r = await _locked(s, r.id)
            if r.status in REQUEST_PAID:
                raise Conflict("already_paid", "This request has already been paid.")
            if r.status not in REQUEST_OPEN:
                raise Conflict("not_cancellable", "This request can no longer be cancelled.")
            await finish_unpaid(s, r, "cancelled", "cancelled by clinician", now)
            _audit(s, who, r, "payment.cancelled", now, amount=r.amount)
            view = request_view(r)
        await request_changed(self.notifier, view)
        return view

    # -- patient -------------------------------------------------------------------------------

    async def checkout(self, who: Participant, payload: Any) -> str:
        """The patient's Checkout page for a request: the open session, or a new one.

        Safe to retry after any lost answer. An attempt's parameters (its number,
        hence its idempotency key, and its ``expires_at``) are stored before Stripe
        is called, and every call for that attempt sends exactly the same request:
        a replay returns the session Stripe made, never an ``idempotency_error``.
        Only when Stripe cannot use the attempt any more (key refused, its
        ``expires_at`` too close to be accepted, its session expired) is a new
        attempt stored, and the old session is closed first so only one can be paid.
        """
        _require(who, "patient")
        r = await self._load(who, payload)
        if r.patient_id != who.id:
            raise NotFound("request_not_found", "Unknown payment request.")
        _check_payable(r)
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
            r = await _locked(s, request_id)
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
        return await self.stripe.create_checkout_session(
            NewCheckout(
                account=r.stripe_account_id,
                amount=r.amount,
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
            )
        )

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
            r = await _locked(s, request_id)
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
            view = request_view(r)
        if changed:
            await request_changed(self.notifier, view)
        return session.url or ""

    # -- settlement ------------------------------------------------------------------------------

    async def settle(self, session: CheckoutSession, *, account: str | None) -> str:
        """Apply what Stripe says of a session (from a webhook or a look-up); idempotent."""
        async with self.db.write() as s:
            outcome, view = await apply_session(s, session, account=account, now=self.clock.now())
        if view is not None:
            await request_changed(self.notifier, view)
        return outcome

    async def refresh(self, request_id: str) -> PaymentRequest | None:
        """Ask Stripe about a request's session, settle what it says, and return the request."""
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id)
        if r is None:
            return None
        if r.checkout_session_id and r.status in REQUEST_OPEN:
            try:
                session = await self.stripe.retrieve_checkout_session(
                    r.checkout_session_id, account=r.stripe_account_id
                )
            except ProviderError as e:
                log.warning("could not look up %s: %s", r.checkout_session_id, e.provider_message)
            else:
                await self.settle(session, account=r.stripe_account_id)
                async with self.db.read() as s:
                    r = await s.get(PaymentRequest, request_id)
        return r

    async def expire_due(self) -> int:
        """The ``expire-requests`` job: bring overdue checkouts in line with Stripe."""
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
        return len(due)

    # -- helpers -----------------------------------------------------------------------------------

    async def _load(self, who: Participant, payload: Any) -> PaymentRequest:
        data = v.obj(payload, "payload")
        request_id = data.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise Invalid("missing_field", "request_id is required", field="request_id")
        async with self.db.read() as s:
            await _active_consult(s, who.consult.id, self.clock.now())
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


async def apply_session(
    s: AsyncSession, session: CheckoutSession, *, account: str | None, now: datetime
) -> tuple[str, dict[str, Any] | None]:
    """Bring one request in line with its Stripe session; returns (outcome, changed request)."""
    request_id = session.metadata.get("payment_request_id") or session.client_reference_id
    if not request_id:
        return "not_ours", None
    r = await s.scalar(_REQUEST_FOR_UPDATE, {"id": request_id})
    if r is None:
        return "unknown_request", None
    if (r.stripe_account_id or None) != (account or None):
        log.error("session %s for %s came from account %s, not %s", session.id, r.id, account, r.stripe_account_id)
        return "wrong_account", None
    if session.status == "complete" and session.payment_status in ("paid", "no_payment_required"):
        return await _settle_paid(s, r, session, now)
    if session.status == "expired":
        if r.status in REQUEST_OPEN and _current_session(r, session):
            await finish_unpaid(s, r, "expired", "checkout expired", now)
            return "expired", request_view(r)
        return "stale", None
    if session.status == "complete" and r.status == "requested":
        # Paid by a delayed method: wait for async_payment_succeeded / failed.
        r.status = "checkout_open"
        r.checkout_session_id = r.checkout_session_id or session.id
        r.updated_at = now
        return "awaiting_payment", request_view(r)
    return "no_change", None


async def _settle_paid(
    s: AsyncSession, r: PaymentRequest, session: CheckoutSession, now: datetime
) -> tuple[str, dict[str, Any] | None]:
    if r.status in REQUEST_PAID:
        return "already_settled", None
    if session.amount_total != r.amount or session.currency != r.currency:
        log.error(
            "session %s paid %s %s for request %s of %s %s: not settled",
            session.id,
            session.amount_total,
            session.currency,
            r.id,
            r.amount,
            r.currency,
        )
        return "amount_mismatch", None
    card = await s.get(BillCard, r.bill_card_id)
    assert card is not None
    if r.status not in REQUEST_OPEN:
        # Paid just as it was cancelled or expired: the money is real, so it counts again.
        await cards.add_request_line(s, card, r.id, r.description, r.amount, now)
    await cards.register_stripe_payment(
        s,
        card,
        request_id=r.id,
        amount=r.amount,
        currency=r.currency,
        reference=session.id,
        description=r.description,
        now=now,
        application_fee=r.application_fee_amount,
    )
    r.status = "paid"
    r.paid_at = now
    r.updated_at = now
    r.checkout_session_id = r.checkout_session_id or session.id
    r.payment_intent_id = session.payment_intent_id
    return "settled", request_view(r)


async def _active_consult(s: AsyncSession, consult_id: str, now: datetime) -> Consult:
    consult = await s.get(Consult, consult_id)
    if consult is None or consult.status != "active" or consult.expires_at <= now:
        raise Conflict("consult_ended", "The consultation has ended.")
    return consult


async def _patient(s: AsyncSession, consult_id: str, patient_id: Any) -> ConsultPatient:
    if patient_id is None:
        rows = list(await s.scalars(select(ConsultPatient).where(ConsultPatient.consult_id == consult_id)))
        if len(rows) != 1:
            raise Invalid("unknown_patient", "Unknown patient.")
        return rows[0]
    if not isinstance(patient_id, str | int) or isinstance(patient_id, bool):
        raise Invalid("unknown_patient", "Unknown patient.")
    patient = await s.get(ConsultPatient, (consult_id, str(patient_id)))
    if patient is None:
        raise Invalid("unknown_patient", "Unknown patient.")
    return patient


async def _duplicate(
    s: AsyncSession,
    consult_id: str,
    patient_id: str,
    amount: int,
    description: str,
    idem: str | None,
    now: datetime,
) -> PaymentRequest | None:
    if idem is not None:
        found = await s.scalar(
            select(PaymentRequest).where(
                PaymentRequest.consult_id == consult_id, PaymentRequest.idempotency_key == idem
            )
        )
        if found is not None:
            return found
    return await s.scalar(
        select(PaymentRequest)
        .where(
            PaymentRequest.consult_id == consult_id,
            PaymentRequest.patient_id == patient_id,
            PaymentRequest.amount == amount,
            PaymentRequest.description == description,
            PaymentRequest.status.in_(REQUEST_OPEN),
            PaymentRequest.created_at >= now - DOUBLE_CLICK,
        )
        .limit(1)
    )


async def _locked(s: AsyncSession, request_id: str) -> PaymentRequest:
    r = await s.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id).with_for_update())
    assert r is not None
    return r


def _audit(s: AsyncSession, who: Participant, r: PaymentRequest, action: str, now: datetime, **details: Any) -> None:
    audit.record(
        s,
        organisation_id=who.consult.organisation_id,
        clinic_id=r.clinic_id,
        actor_type=who.role,
        actor_id=who.id,
        action=action,
        subject_type="payment_request",
        subject_id=r.id,
        at=now,
        details={"consult_id": r.consult_id, "currency": r.currency, **details},
    )


def _current_session(r: PaymentRequest, session: CheckoutSession) -> bool:
    """Whether a session is the request's current one (not one an earlier attempt closed).

    Before Stripe answers, the request knows only its attempt number, which every
    session carries in its metadata; sessions from before that carry none.
    """
    if r.checkout_session_id:
        return r.checkout_session_id == session.id
    attempt = session.metadata.get("checkout_attempt")
    return attempt is None or attempt == str(r.checkout_attempt)


def _check_payable(r: PaymentRequest) -> None:
    if r.status in REQUEST_PAID:
        raise Conflict("already_paid", "This request has already been paid.")
    if r.status not in REQUEST_OPEN:
        raise Conflict("not_payable", "This request is no longer payable.")


def _fresh(session: CheckoutSession, now: datetime) -> bool:
    """Whether a session has enough life left to send the patient to."""
    return session.expires_at - now.timestamp() > CHECKOUT_MARGIN.total_seconds()


def _require(who: Participant, role: str) -> None:
    if who.role != role:
        if role == "clinician":
            raise Forbidden("forbidden_role", "Only the clinician can do that.")
        raise Forbidden("forbidden_role", "Only the patient can do that.")


async def can_take_payments(s: AsyncSession, clinic: Clinic, clinician_ref: str | None) -> bool:
    """Whether this clinician's payment requests have a working account to go to."""
    return (await route_for(s, clinic, clinician_ref)).account is not None
