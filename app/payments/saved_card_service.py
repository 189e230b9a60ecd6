"""Cards on file after they are saved: the final amount charged off-session, once.

The ``PaymentService`` side of a card on file (``app.payments.cards_on_file``
applies what Stripe says). Order of work, as for a hold's capture: check, then
store the charge under the request's row lock (``problem`` ``charging`` with the
amount as its detail, and the request's next attempt number, which is the
idempotency key), then call Stripe outside any transaction, then apply its
answer under the lock again, then tell the call. A retry after a lost answer
(the clinician again, the API again, or the ``watch-holds`` job) sends the very
same PaymentIntent with the same key, so Stripe answers with the charge it
made, never a second (docs/rules.md, rule H6).

A decline (Stripe's ``card_error``; ``authentication_required`` when the bank
wants its cardholder present, which an off-session charge cannot give) puts
nothing in the ledger: the amount stays owed on the bill card, the clinician
is told in words, and the card is not charged again.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from app.billing.serialisers import RequestView
from app.billing.statuses import REQUEST_PAID, CheckoutProblem, RequestStatus
from app.consults.notifier import clinician_room, request_changed
from app.consults.participant import Participant, require_role
from app.errors import Conflict, Invalid, Unavailable
from app.i18n import error_message
from app.models import Clinic, Consult, PaymentRequest
from app.payments import cards_on_file
from app.payments.amount_limits import DEFAULT_MAX
from app.payments.hold_service import HoldScope, amount_of, audit_request, fee_for
from app.payments.holds import Intent
from app.payments.minimums import check_minimum
from app.payments.settlement import locked_request
from app.schema import clean_text
from integrations.stripe.protocol import ProviderError, ProviderUnavailable
from integrations.stripe.saved_cards import SavedCardCharge, SavedCardDeclined

log = logging.getLogger(__name__)

DECLINED = ("The saved card was declined: %(reason)s. Nothing was charged; the amount stays owed on the "
            "bill card.")


class SavedCardCharges:
    """Mixed into ``PaymentService`` (before ``HoldActions``, whose request look-up and job it shares)."""

    async def charge_in_call(self, who: Participant, request_id: Any, amount: Any, description: Any = None,
                             idempotency_key: Any = None) -> RequestView:
        """``payment:charge_saved`` from the clinician's panel."""
        require_role(who, "clinician")
        if idempotency_key is not None and (not isinstance(idempotency_key, str) or len(idempotency_key) > 100):
            raise Invalid("invalid_field", "idempotency_key must be a string of at most 100 characters")
        scope = HoldScope(who.consult.organisation_id, who.consult.id, "clinician", who.id)
        return await self.charge_saved(request_id, amount, description, scope)

    async def charge_saved(self, request_id: Any, amount: Any, description: Any,
                           scope: HoldScope | None) -> RequestView:
        """Charge ``amount`` to a saved card, its holder away (``scope`` None: the system's own no-show)."""
        amount = amount_of(amount)
        text = clean_text(description, "description", required=False, max_len=200)
        r = await self._held_request(request_id, scope)  # type: ignore[attr-defined]
        if cards_on_file.is_card_on_file(r) and r.status in REQUEST_PAID and r.amount == amount:
            # The same charge asked again after its answer was lost (and a webhook settled it).
            return RequestView.from_row(r, self.public_url)  # type: ignore[attr-defined]
        _check_chargeable(r, amount)
        r = await self._reserve_charge(r.id, amount, text, scope)
        return await self._send_charge(r)

    async def watch_holds(self) -> int:
        """The ``watch-holds`` job also sends again a charge whose answer was lost."""
        handled: int = await super().watch_holds()  # type: ignore[misc]
        async with self.db.read() as s:  # type: ignore[attr-defined]
            lost = list(await s.scalars(select(PaymentRequest).where(
                PaymentRequest.status == RequestStatus.CARD_SAVED,
                PaymentRequest.problem == CheckoutProblem.CHARGING)))
        for r in lost:
            try:
                await self._send_charge(r)
                handled += 1
            except Conflict:
                handled += 1  # declined: said and recorded
            except Exception:
                log.exception("watch-holds could not send the charge of %s again", r.id)
        return handled

    # -- steps -------------------------------------------------------------------------------------

    async def _reserve_charge(self, request_id: str, amount: int, description: str | None,
                              scope: HoldScope | None) -> PaymentRequest:
        """Store the charge (amount, description, attempt: the key) under the lock, before Stripe."""
        now = self.clock.now()  # type: ignore[attr-defined]
        async with self.db.write() as s:  # type: ignore[attr-defined]
            r = await locked_request(s, request_id)
            if r.problem == CheckoutProblem.CHARGING and r.status == RequestStatus.CARD_SAVED:
                return r  # a charge whose answer was lost: sent again exactly as it was
            _check_chargeable(r, amount)
            clinic = await s.get(Clinic, r.clinic_id)
            assert clinic is not None
            maximum = clinic.max_request_amount or DEFAULT_MAX
            if amount > maximum:
                from app.money import Money

                raise Invalid("amount_above_maximum", "The amount is above this clinic's maximum of %(maximum)s "
                              "per request.", maximum=Money(maximum, clinic.currency), field="amount")
            r.checkout_attempt += 1
            r.problem, r.problem_detail, r.problem_at = CheckoutProblem.CHARGING, str(amount), now
            if description:
                r.description = description
            if r.application_fee_amount:
                r.application_fee_amount = fee_for(amount, clinic)
            r.updated_at = now
            await audit_request(s, r, scope.actor_type if scope else "system", scope.actor_id if scope else None,
                         "payment.charge_requested", now, amount=amount)
        return r

    async def _send_charge(self, r: PaymentRequest) -> RequestView:
        """Send the stored charge to Stripe and apply its answer."""
        assert r.problem_detail and r.stripe_customer_id and r.payment_method_id
        charge = SavedCardCharge(
            account=r.stripe_account_id, customer=r.stripe_customer_id, payment_method=r.payment_method_id,
            amount=int(r.problem_detail), currency=r.currency, description=r.description,
            metadata={"payment_request_id": r.id, "consult_id": r.consult_id,
                      "charge_attempt": str(r.checkout_attempt)},
            idempotency_key=f"consultpay:{r.id}:charge:{r.checkout_attempt}",
            application_fee_amount=r.application_fee_amount or 0,
        )
        try:
            answer = await self.stripe.charge_saved_card(charge)  # type: ignore[attr-defined]
        except ProviderUnavailable as e:
            # The charge stays stored: the next try (or the watch-holds job) sends the same one.
            raise Unavailable("stripe_unavailable", "Stripe could not be reached. Please try again.") from e
        except SavedCardDeclined as e:
            await self._charge_declined(r.id, e.reason, e.intent.id if e.intent else None)
        except ProviderError as e:
            # Refused before any attempt (the card detached meanwhile, say): nothing was charged either.
            await self._charge_declined(r.id, e.code or "card_declined", None)
        await self._apply_charge(r.id, Intent.of(answer))
        return await self._hold_view(r.id)  # type: ignore[attr-defined,no-any-return]

    async def _apply_charge(self, request_id: str, intent: Intent) -> None:
        now = self.clock.now()  # type: ignore[attr-defined]
        async with self.db.write() as s:  # type: ignore[attr-defined]
            r = await locked_request(s, request_id)
            outcome, view = await cards_on_file.settle_charge(s, r, intent, now)
            if view is not None:
                await audit_request(s, r, "system", None, "payment.card_charged", now, amount=r.amount)
        log.info("card on file %s: %s", request_id, outcome)
        if view is not None:
            await self._tell(view)

    async def _charge_declined(self, request_id: str, reason: str, intent_id: str | None) -> None:
        """Stripe declined the charge: recorded once, the clinician told in words, the caller refused."""
        now = self.clock.now()  # type: ignore[attr-defined]
        async with self.db.write() as s:  # type: ignore[attr-defined]
            r = await locked_request(s, request_id)
            outcome, view = await cards_on_file.declined(s, r, reason, intent_id, now)
            if view is not None:
                await audit_request(s, r, "system", None, "payment.charge_declined", now, amount=r.amount,
                                    reason=reason)
            consult = await s.get(Consult, r.consult_id)
        if view is not None:
            await self._tell(view)
            words = self._reason_words(reason, consult.language if consult else "en")
            text = error_message(DECLINED, {"reason": words}, consult.language if consult else "en")
            await self.notifier.emit(  # type: ignore[attr-defined]
                "payment:problem", {"request_id": request_id, "code": "charge_declined", "message": text},
                room=clinician_room(r.consult_id))
        raise Conflict("charge_declined", DECLINED, reason=self._reason_words(reason, None))

    @staticmethod
    def _reason_words(reason: str, lang: str | None) -> str:
        from app.billing.statuses import DECLINE_REASONS, DEFAULT_DECLINE_REASON

        words = DECLINE_REASONS.get(reason, DEFAULT_DECLINE_REASON)
        return error_message(words, {}, lang) if lang else words

    async def _tell(self, view: dict[str, Any]) -> None:
        from app.billing.serialisers import absolute_links

        await request_changed(self.notifier, absolute_links(view, self.public_url) or view)  # type: ignore[attr-defined]


def _check_chargeable(r: PaymentRequest, amount: int) -> None:
    if not cards_on_file.is_card_on_file(r) or r.status != RequestStatus.CARD_SAVED or not r.payment_method_id:
        raise Conflict("not_chargeable", "Only a saved card on file can be charged.")
    if r.problem == CheckoutProblem.CHARGE_DECLINED:
        raise Conflict("charge_declined", "This saved card was declined; the amount is owed on the bill card.")
    check_minimum(amount, r.currency)

