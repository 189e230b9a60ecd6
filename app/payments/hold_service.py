"""Card holds after authorisation: capture, release, and never letting one lapse silently.

The ``PaymentService`` side of a hold (``app.payments.holds`` applies what Stripe
says). Order of work, as everywhere in payments: check, then store what Stripe
will be sent under the request's row lock, then call Stripe outside any
transaction, then apply its answer under the lock again, then tell the call.

A capture stores its amount and its idempotency key (the request's next
attempt number) before Stripe hears of it: the request's ``problem`` is
``capturing`` with the amount as its detail. A retry after a lost answer (the
clinician again, the API again, or the ``watch-holds`` job) sends exactly the
same capture with the same key, so Stripe answers with the capture it made,
never a second one (docs/rules.md, rule H2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from app import audit
from app import validation as v
from app.billing.serialisers import RequestView, absolute_links, request_view
from app.billing.statuses import REQUEST_PAID, CheckoutProblem, RequestStatus
from app.clock import Clock
from app.consults.notifier import Notifier, clinician_room, request_changed
from app.consults.participant import Participant, require_role
from app.db import Database
from app.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from app.models import Clinic, PaymentRequest
from app.payments import holds
from app.payments.late_holds import LateHolds
from app.payments.minimums import check_minimum
from app.payments.settlement import locked_request
from app.schema import clean_text
from integrations.stripe.protocol import ProviderError, ProviderRefused, ProviderUnavailable, StripeGateway

log = logging.getLogger(__name__)

# The clinician is told this long before Stripe's deadline, and the hold is released this long before it.
WARN_BEFORE = timedelta(hours=24)
RELEASE_BEFORE = timedelta(hours=1)


@dataclass(frozen=True)
class HoldScope:
    """Whose hold may be touched: the socket's consult, or the API key's organisation."""

    organisation_id: str
    consult_id: str | None = None
    actor_type: str = "api"
    actor_id: str | None = None


class HoldActions:
    """Capture and release of card holds, and the ``watch-holds`` job."""

    db: Database
    stripe: StripeGateway
    notifier: Notifier
    clock: Clock
    public_url: str

    # -- entry points ------------------------------------------------------------------------------

    async def capture_in_call(self, who: Participant, request_id: Any, amount: Any, description: Any = None,
                              idempotency_key: Any = None) -> RequestView:
        """``payment:capture`` from the clinician's panel."""
        require_role(who, "clinician")
        if idempotency_key is not None and (not isinstance(idempotency_key, str) or len(idempotency_key) > 100):
            raise Invalid("invalid_field", "idempotency_key must be a string of at most 100 characters")
        scope = HoldScope(who.consult.organisation_id, who.consult.id, "clinician", who.id)
        return await self.capture_hold(request_id, amount, description, scope)

    async def release_in_call(self, who: Participant, request_id: Any) -> RequestView:
        """``payment:release`` from the clinician's panel."""
        require_role(who, "clinician")
        return await self.release_hold(request_id, HoldScope(who.consult.organisation_id, who.consult.id,
                                                             "clinician", who.id))

    async def capture_hold(self, request_id: Any, amount: Any, description: Any, scope: HoldScope) -> RequestView:
        """Capture ``amount`` (at most the hold) of an authorised hold; the rest is released at Stripe."""
        amount = amount_of(amount)
        text = clean_text(description, "description", required=False, max_len=200)
        r = await self._held_request(request_id, scope)
        if holds.is_hold(r) and r.status in REQUEST_PAID and r.amount == amount:
            # The same capture asked again after its answer was lost (and a webhook settled it): the same result.
            return RequestView.from_row(r, self.public_url)
        _check_capturable(r, amount)
        r = await self._reserve_capture(r.id, amount, text, scope)
        return await self._send_capture(r)

    async def release_hold(self, request_id: Any, scope: HoldScope | None, *,
                           problem: str | None = None) -> RequestView:
        """Release an authorised hold without capturing anything: cancelled at Stripe, then ``released``."""
        r = await self._held_request(request_id, scope)
        _check_releasable(r)
        assert r.payment_intent_id
        try:
            intent = holds.Intent.of(await self.stripe.cancel_payment_intent(
                r.payment_intent_id, account=r.stripe_account_id,
                idempotency_key=f"consultpay:{r.id}:release"))
        except ProviderUnavailable as e:
            raise Unavailable("stripe_unavailable", "Stripe could not be reached. Please try again.") from e
        except ProviderError as e:
            # Stripe will not cancel it: it was captured or cancelled meanwhile. Apply what it is.
            log.info("release of %s refused (%s): looking it up", r.id, e.code)
            intent = await self._look_up_intent(r)
        outcome, view = await self._apply_intent(r.id, intent, problem=problem, scope=scope)
        if view is None and outcome not in ("released", "expired"):
            async with self.db.read() as s:
                r = await s.get(PaymentRequest, r.id)
            if r is not None and r.status == RequestStatus.AUTHORISED:
                raise Conflict("not_releasable", "This card hold could not be released. Please try again.")
        return await self._hold_view(r.id if r else request_id)

    @property
    def late_holds(self) -> LateHolds:
        """Card holds authorised after their request ended, released at Stripe (``late_holds``)."""
        return LateHolds(self.db, stripe=self.stripe, notifier=self.notifier, clock=self.clock,
                         public_url=self.public_url)

    # -- the job -----------------------------------------------------------------------------------

    async def watch_holds(self) -> int:
        """The ``watch-holds`` job: no authorised hold lapses silently at Stripe.

        A capture whose answer was lost is sent again (the same one, whatever the deadline).
        A hold whose deadline is within a day: the clinician's panel is told
        (``hold_lapsing``) and the audit log says so, once. Within an hour the hold is released at Stripe
        (``hold_lapsed``), so it ends as our decision, not Stripe's silence. A hold authorised after its
        request ended whose release at Stripe did not get through is released (``late_holds``).
        """
        now = self.clock.now()
        async with self.db.read() as s:
            due = list(await s.scalars(
                select(PaymentRequest).where(
                    PaymentRequest.status == RequestStatus.AUTHORISED,
                    or_(PaymentRequest.capture_before <= now + WARN_BEFORE,
                        PaymentRequest.problem == CheckoutProblem.CAPTURING))
            ))
        handled = 0
        for r in due:
            try:
                if r.problem == CheckoutProblem.CAPTURING:
                    await self._send_capture(r)
                elif r.capture_before is not None and r.capture_before <= now + RELEASE_BEFORE:
                    await self.release_hold(r.id, None, problem=CheckoutProblem.HOLD_LAPSED)
                elif r.problem != CheckoutProblem.HOLD_LAPSING:
                    await self._warn_lapsing(r.id, now)
                else:
                    continue
                handled += 1
            except Exception:
                log.exception("watch-holds could not handle %s", r.id)
        # And any hold authorised after its request ended that Stripe could not be told to release.
        return handled + await self.late_holds.due()

    async def _warn_lapsing(self, request_id: str, now: datetime) -> None:
        async with self.db.write() as s:
            r = await locked_request(s, request_id)
            if r.status != RequestStatus.AUTHORISED or r.problem in (CheckoutProblem.HOLD_LAPSING,
                                                                     CheckoutProblem.CAPTURING):
                return
            r.problem, r.problem_detail, r.problem_at = CheckoutProblem.HOLD_LAPSING, None, now
            r.updated_at = now
            await audit_request(s, r, "system", None, "payment.hold_lapsing", now,
                                capture_before=_iso(r.capture_before))
            view = request_view(r, self.public_url)
        await self.notifier.emit("payment:updated", {"request": view}, room=clinician_room(r.consult_id))

    # -- steps -------------------------------------------------------------------------------------

    async def _held_request(self, request_id: Any, scope: HoldScope | None) -> PaymentRequest:
        """The hold, if ``scope`` may touch it (None: the system's own jobs)."""
        if not isinstance(request_id, str) or not 0 < len(request_id) <= 100:
            raise Invalid("missing_field", "request_id is required", field="request_id")
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id)
            clinic = await s.get(Clinic, r.clinic_id) if r is not None else None
        if r is None or clinic is None or (scope is not None and (
                clinic.organisation_id != scope.organisation_id
                or (scope.consult_id is not None and r.consult_id != scope.consult_id))):
            raise NotFound("request_not_found", "Unknown payment request.")
        return r

    async def _reserve_capture(self, request_id: str, amount: int, description: str | None,
                               scope: HoldScope | None) -> PaymentRequest:
        """Store the capture (amount, description, attempt: the key) under the lock, before Stripe."""
        now = self.clock.now()
        async with self.db.write() as s:
            r = await locked_request(s, request_id)
            if r.problem == CheckoutProblem.CAPTURING and r.status == RequestStatus.AUTHORISED:
                return r  # a capture whose answer was lost: sent again exactly as it was
            await _store_capture(s, r, amount, description, scope, now)
        return r

    async def store_capture(self, s: Any, request_id: str, amount: int, description: str) -> bool:
        """Store the system's capture in the caller's transaction (a no-show's fee, decided in the same one).

        False if the hold cannot take it now (a capture already under way, or not capturable); the caller's
        decision stands either way. ``send_capture`` after the commit sends it; if this process dies first,
        the ``watch-holds`` job does.
        """
        r = await locked_request(s, request_id)
        if r.problem == CheckoutProblem.CAPTURING:
            log.warning("hold %s: a capture is already under way; %s not stored", r.id, amount)
            return False
        try:
            await _store_capture(s, r, amount, description, None, self.clock.now())
        except DomainError as e:
            log.warning("hold %s: capture of %s not stored: %s", r.id, amount, e.code)
            return False
        return True

    async def send_capture(self, request_id: str) -> RequestView:
        """Send a capture stored by ``store_capture`` (once committed) and apply Stripe's answer."""
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id)
        if r is None or r.status != RequestStatus.AUTHORISED or r.problem != CheckoutProblem.CAPTURING:
            return await self._hold_view(request_id)  # sent and settled by someone else meanwhile
        return await self._send_capture(r)

    async def _send_capture(self, r: PaymentRequest) -> RequestView:
        """Send the stored capture to Stripe and apply its answer."""
        assert r.payment_intent_id and r.problem_detail
        amount = int(r.problem_detail)
        try:
            answer = await self.stripe.capture_payment_intent(
                r.payment_intent_id, account=r.stripe_account_id, amount_to_capture=amount,
                application_fee_amount=r.application_fee_amount or None,
                idempotency_key=f"consultpay:{r.id}:capture:{r.checkout_attempt}",
            )
        except ProviderUnavailable as e:
            # The capture stays stored: the next try (or the watch-holds job) sends the same one.
            raise Unavailable("stripe_unavailable", "Stripe could not be reached. Please try again.") from e
        except ProviderRefused as e:
            intent = await self._look_up_intent(r)
            if intent.status in ("succeeded", "canceled"):
                # Captured by an earlier try, or cancelled meanwhile: apply what Stripe has.
                await self._apply_intent(r.id, intent)
                if intent.status == "canceled":
                    # Released (or lapsed) before this capture reached Stripe: nothing was captured.
                    raise Conflict("not_capturable", "Only an authorised card hold can be captured.") from e
                return await self._hold_view(r.id)
            await self._capture_refused(r.id, e)
        await self._apply_intent(r.id, holds.Intent.of(answer))
        return await self._hold_view(r.id)

    async def _capture_refused(self, request_id: str, e: ProviderError) -> None:
        """Stripe refused the capture: still authorised, the problem saying why, and the caller told."""
        now = self.clock.now()
        async with self.db.write() as s:
            r = await locked_request(s, request_id)
            if r.status == RequestStatus.AUTHORISED:
                r.problem, r.problem_detail, r.problem_at = CheckoutProblem.CAPTURE_REFUSED, (e.code or "")[:60], now
                r.updated_at = now
            view = request_view(r)
        await request_changed(self.notifier, absolute_links(view, self.public_url) or view)
        raise Conflict("capture_refused", "Stripe refused the capture: %(reason)s", reason=e.message or e.code)

    async def _look_up_intent(self, r: PaymentRequest) -> holds.Intent:
        assert r.payment_intent_id
        try:
            return holds.Intent.of(await self.stripe.retrieve_payment_intent(r.payment_intent_id,
                                                                             account=r.stripe_account_id))
        except ProviderError as e:
            raise Unavailable("stripe_unavailable", "Stripe could not be reached. Please try again.") from e

    async def _apply_intent(self, request_id: str, intent: holds.Intent, *, problem: str | None = None,
                     scope: HoldScope | None = None) -> tuple[str, dict[str, Any] | None]:
        now = self.clock.now()
        async with self.db.write() as s:
            r = await locked_request(s, request_id)
            if intent.status == "canceled" and problem is not None:
                outcome, view = await holds.mark_released(s, r, now, problem=problem)
            else:
                outcome, view = await holds.apply_hold_intent(s, r, intent, now)
            if view is not None:
                await audit_request(s, r, scope.actor_type if scope else "system", scope.actor_id if scope else None,
                             f"payment.hold_{outcome}", now, amount=r.amount, hold_amount=r.hold_amount)
        log.info("hold %s: %s", request_id, outcome)
        if view is not None:
            await request_changed(self.notifier, absolute_links(view, self.public_url) or view)
        return outcome, view

    async def _hold_view(self, request_id: str) -> RequestView:
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id)
        assert r is not None
        return RequestView.from_row(r, self.public_url)


def amount_of(value: Any) -> int:
    try:
        return v.amount(value)
    except Invalid:
        raise Invalid("invalid_amount", "Enter an amount greater than zero.", field="amount") from None


def _check_capturable(r: PaymentRequest, amount: int) -> None:
    if not holds.is_hold(r) or r.status != RequestStatus.AUTHORISED or not r.payment_intent_id:
        raise Conflict("not_capturable", "Only an authorised card hold can be captured.")
    assert r.hold_amount is not None
    if amount > r.hold_amount:
        raise Invalid("amount_above_hold", "The amount is more than the card hold of %(hold)s.", field="amount",
                      hold=_money(r.hold_amount, r.currency))
    check_minimum(amount, r.currency)


async def _store_capture(s: Any, r: PaymentRequest, amount: int, description: str | None, scope: HoldScope | None,
                         now: datetime) -> None:
    """The capture (amount, description, attempt: the key) on the locked request, before Stripe hears of it."""
    _check_capturable(r, amount)
    r.checkout_attempt += 1
    r.problem, r.problem_detail, r.problem_at = CheckoutProblem.CAPTURING, str(amount), now
    if description:
        r.description = description
    if r.application_fee_amount:
        clinic = await s.get(Clinic, r.clinic_id)
        assert clinic is not None
        r.application_fee_amount = fee_for(amount, clinic)
    r.updated_at = now
    await audit_request(s, r, scope.actor_type if scope else "system", scope.actor_id if scope else None,
                        "payment.capture_requested", now, amount=amount, hold_amount=r.hold_amount)


def _check_releasable(r: PaymentRequest) -> None:
    if not holds.is_hold(r) or r.status != RequestStatus.AUTHORISED or not r.payment_intent_id:
        raise Conflict("not_releasable", "Only an authorised card hold can be released.")
    if r.problem == CheckoutProblem.CAPTURING:
        raise Conflict("capture_in_progress", "A capture of this card hold is under way.")


def fee_for(amount: int, clinic: Clinic) -> int:
    from app.connect.routing import application_fee

    return application_fee(amount, clinic.fee_basis_points, clinic.fee_fixed)


def _money(minor: int, currency: str) -> Any:
    from app.money import Money

    return Money(minor, currency)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def audit_request(s: Any, r: PaymentRequest, actor_type: str, actor_id: str | None, action: str,
                        now: datetime, **details: Any) -> None:
    clinic = await s.get(Clinic, r.clinic_id)
    audit.record(s, organisation_id=clinic.organisation_id, clinic_id=r.clinic_id, actor_type=actor_type,
                 actor_id=actor_id, action=action, subject_type="payment_request", subject_id=r.id, at=now,
                 details={"consult_id": r.consult_id, "currency": r.currency, **details})
