"""Refunds of in-call payments: from the cash desk, the clinician's panel, the API, or Stripe itself.

Order of work for our own refunds:

1. Under the request's row lock, check what remains refundable and store a
   ``refunds`` row as *pending* with the caller's idempotency key, and commit.
   A second click with the same key finds this row instead of making another.
2. Call Stripe (outside any transaction) on the request's connected account,
   with the idempotency key ``consultpay:{request}:refund:{row}``: a retried
   call returns the same refund, never a second one. A request paid with Vipps
   is refunded through its provider (``app.payments.vipps``) the same way.
3. Under the row lock again, settle what Stripe said: post the reversal in the
   ledger, raise ``refunded_amount``, move the status to ``partially_refunded``
   or ``refunded``, record it in the audit trail. Then tell the call.

What Stripe answers, and its webhooks, are applied in ``stripe_refunds``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import validation as v
from app.billing.serialisers import RefundResult, RefundView, RequestView, absolute_links, refund_view
from app.clock import Clock
from app.commands import RefundPayment
from app.consults.notifier import Notifier, request_changed
from app.consults.participant import Participant
from app.db import Database
from app.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unavailable
from app.ids import new_id
from app.models import Consult, PaymentRefund, PaymentRequest
from app.payments.provider import InCallProvider, Method
from app.payments.stripe_refunds import REFUNDABLE, apply_refund
from integrations.stripe.protocol import (
    AccessRefused,
    AccountRefused,
    ProviderError,
    ProviderRefused,
    StripeGateway,
)

log = logging.getLogger(__name__)

SOURCES = ("cash_desk", "panel", "api", "stripe")


@dataclass(frozen=True)
class Actor:
    """Who asked, for the audit trail: ``user`` (admin pages), ``clinician``, ``api``."""

    type: str
    id: str | None


@dataclass(frozen=True)
class Scope:
    """What the caller may touch: an organisation, optionally some of its clinics or one consult."""

    organisation_id: str
    clinic_ids: frozenset[str] | None = None
    consult_id: str | None = None


def parse_amount(value: Any) -> int | None:
    """``None`` (or absent) means all that remains; otherwise positive minor units."""
    if value is None:
        return None
    try:
        return v.amount(value)
    except Invalid:
        raise Invalid("invalid_amount", "Enter a refund amount greater than zero.", field="amount") from None


def _key(request_id: str, key: str | None) -> str | None:
    # Callers' keys are scoped to one request and stored hashed (fixed length, unique column).
    if key is None:
        return None
    if not isinstance(key, str) or not 0 < len(key) <= 255:
        raise Invalid("invalid_field", "Idempotency-Key must be a string of at most 255 characters")
    return hashlib.sha256(f"{request_id}\n{key}".encode()).hexdigest()


class RefundService:
    def __init__(
        self, db: Database, *, stripe: StripeGateway, notifier: Notifier, clock: Clock, public_url: str = "",
        vipps: InCallProvider | None = None,
    ) -> None:
        self.db = db
        self.vipps = vipps
        self.public_url = public_url
        self.stripe = stripe
        self.notifier = notifier
        self.clock = clock

    # -- entry points ------------------------------------------------------------------------------

    async def refund_in_call(self, who: Participant, cmd: RefundPayment) -> RefundResult:
        """``payment:refund`` from the clinician's panel."""
        if who.role != "clinician":
            raise Forbidden("forbidden_role", "Only the clinician can do that.")
        request_id = cmd.request_id
        if not isinstance(request_id, str) or not request_id or len(request_id) > 100:
            raise Invalid("missing_field", "request_id is required", field="request_id")
        amount = parse_amount(cmd.amount)
        return await self.refund(
            request_id,
            amount,
            actor=Actor("clinician", who.id),
            source="panel",
            idempotency_key=cmd.idempotency_key,
            scope=Scope(who.consult.organisation_id, consult_id=who.consult.id),
        )

    async def refund(
        self,
        request_id: str,
        amount: int | None,
        *,
        actor: Actor,
        source: str,
        idempotency_key: str | None,
        scope: Scope,
    ) -> RefundResult:
        """Refund ``amount`` (or all that remains) of a paid request; returns the refund and the request."""
        assert source in SOURCES
        key = _key(request_id, idempotency_key)
        row = await self._reserve(request_id, amount, key, actor, source, scope)
        if row.stripe_refund_id or row.vipps_psp_reference:
            # The provider already answered for this key: the same refund, not another one.
            return await self._views(row.id)
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id)
        assert r is not None
        if r.method == Method.VIPPS and self.vipps is not None:
            # Through Vipps, with the key ``{reference}-refund-{row}``: a retry is the same refund.
            try:
                await self.vipps.refund(r, row)
            except DomainError:
                await self._give_up(row.id)
                raise
            return await self._views(row.id)
        assert r.payment_intent_id
        try:
            stripe_refund = await self.stripe.create_refund(
                account=r.stripe_account_id,
                payment_intent_id=r.payment_intent_id,
                amount=row.amount,
                reason="requested_by_customer",
                metadata={"payment_request_id": r.id, "refund_id": row.id, "source": source},
                idempotency_key=f"consultpay:{r.id}:refund:{row.id}",
            )
        except ProviderError as e:
            log.warning("refund %s of %s failed: %s (%s)", row.id, r.id, e.provider_message, e.code)
            await self._give_up(row.id)
            _refused(e)
        async with self.db.write() as s:
            outcome, view = await apply_refund(s, stripe_refund, account=r.stripe_account_id, now=self.clock.now())
        log.info("refund %s of %s: %s", row.id, r.id, outcome)
        if view is not None:
            await request_changed(self.notifier, absolute_links(view, self.public_url) or view)
        return await self._views(row.id)

    # -- steps -------------------------------------------------------------------------------------

    async def _reserve(
        self, request_id: str, amount: int | None, key: str | None, actor: Actor, source: str, scope: Scope
    ) -> PaymentRefund:
        now = self.clock.now()
        try:
            async with self.db.write() as s:
                r = await s.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id).with_for_update())
                await _check_scope(s, r, scope)
                assert r is not None
                if key is not None:
                    found = await s.scalar(select(PaymentRefund).where(PaymentRefund.idempotency_key == key))
                    if found is not None:
                        # The same click again: the same refund, whatever it asked for this time.
                        if found.status == "failed" and not found.stripe_refund_id:
                            found.status = "pending"
                            found.updated_at = now
                        return found
                if r.status not in REFUNDABLE or not (r.payment_intent_id or r.method == Method.VIPPS):
                    if r.status == "refunded":
                        raise Conflict("not_refundable", "This payment has already been refunded in full.")
                    raise Conflict("not_refundable", "Only a paid payment can be refunded.")
                remaining = r.amount - r.refunded_amount - await _in_flight(s, r.id)
                if remaining <= 0:
                    raise Conflict("not_refundable", "This payment has already been refunded in full.")
                if amount is None:
                    amount = remaining
                if amount > remaining:
                    raise Conflict(
                        "amount_too_large",
                        "The refund is larger than what remains of the payment.",
                        remaining=remaining,
                    )
                row = PaymentRefund(
                    id=new_id("rf"),
                    payment_request_id=r.id,
                    amount=amount,
                    currency=r.currency,
                    status="pending",
                    source=source,
                    created_by=f"{actor.type}:{actor.id}" if actor.id else actor.type,
                    idempotency_key=key,
                    created_at=now,
                    updated_at=now,
                )
                s.add(row)
                await s.flush()
                return row
        except IntegrityError:
            # The same key raced in from another request (PostgreSQL): that one is the refund.
            async with self.db.read() as s:
                found = await s.scalar(select(PaymentRefund).where(PaymentRefund.idempotency_key == key))
            if found is None:
                raise
            return found

    async def _give_up(self, refund_id: str) -> None:
        """Stripe said no (or did not answer): free the reservation.

        If Stripe did make the refund after all, its webhook carries our row's
        id in ``metadata.refund_id`` and brings the row back to life.
        """
        async with self.db.write() as s:
            row = await s.get(PaymentRefund, refund_id, with_for_update=True)
            if row is not None and row.status == "pending" and not row.stripe_refund_id:
                row.status = "failed"
                row.updated_at = self.clock.now()

    async def _views(self, refund_id: str) -> RefundResult:
        async with self.db.read() as s:
            row = await s.get(PaymentRefund, refund_id)
            assert row is not None
            r = await s.get(PaymentRequest, row.payment_request_id)
            assert r is not None
            return RefundResult(refund=RefundView.from_row(row, self.public_url),
                                request=RequestView.from_row(r, self.public_url))

    # -- reading -----------------------------------------------------------------------------------

    async def list_for_request(self, request_id: str) -> list[dict[str, Any]]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(PaymentRefund)
                .where(PaymentRefund.payment_request_id == request_id)
                .order_by(PaymentRefund.created_at)
            )
            return [refund_view(f, self.public_url) for f in rows]


async def _check_scope(s: AsyncSession, r: PaymentRequest | None, scope: Scope) -> None:
    consult = await s.get(Consult, r.consult_id) if r is not None else None
    if r is None or consult is None or (scope.consult_id is not None and r.consult_id != scope.consult_id):
        raise NotFound("request_not_found", "Unknown payment request.")
    if consult.organisation_id != scope.organisation_id:
        raise Forbidden("forbidden", "That payment request belongs to another organisation.")
    if scope.clinic_ids is not None and r.clinic_id not in scope.clinic_ids:
        raise Forbidden("forbidden", "That payment request belongs to another clinic.")


async def _in_flight(s: AsyncSession, request_id: str) -> int:
    """Refunds asked of Stripe whose answer is not in yet: they hold their amount."""
    total = await s.scalar(
        select(func.coalesce(func.sum(PaymentRefund.amount), 0)).where(
            PaymentRefund.payment_request_id == request_id,
            PaymentRefund.status == "pending",
            PaymentRefund.stripe_refund_id.is_(None),
            PaymentRefund.vipps_psp_reference.is_(None),
        )
    )
    return int(total or 0)


def _refused(e: ProviderError) -> NoReturn:
    """Why no refund was made, and what to do: "try again" only when Stripe was not reached."""
    if not isinstance(e, ProviderRefused):
        raise Unavailable("refund_failed", "The refund could not be made. Please try again.") from e
    if isinstance(e, AccountRefused):
        raise Conflict(
            "refund_refused",
            "The clinic's Stripe account cannot make this refund now (%(reason)s). "
            "Ask the clinic's administrator to check the account's balance and status in Stripe.",
            reason=e.code,
        ) from e
    if isinstance(e, AccessRefused):
        raise Conflict(
            "refund_refused",
            "Stripe refused this service's key, so no refund was made. "
            "Ask the administrator to check the Stripe settings.",
            reason=e.code,
        ) from e
    raise Conflict("refund_refused", "Stripe refused the refund (%(reason)s).", reason=e.code) from e
