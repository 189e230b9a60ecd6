"""Vipps MobilePay in the call: the ``vipps`` provider (``app.payments.provider``).

Order of work, as for cards: validate; store the attempt (its ``reference`` at
Vipps, unique, made from the request and the attempt number) before Vipps hears
of it; call Vipps outside any transaction with an ``Idempotency-Key`` made from
that reference, so a retry after a lost answer returns what Vipps made; then
change our rows under the request's row lock and tell the call.

Vipps' word reaches us two ways, and both end in ``sync``: its signed webhooks
(``app/web/webhooks.py``) and the poll (``poll``, run by the ``expire-requests``
job and by ``run-job vipps-poll``), which asks about every payment not finished,
as Vipps recommends. ``sync`` reads the payment
(``GET /epayment/v1/payments/{reference}``, the authority), captures an
authorised payment at once (the service is delivered in the call) with a fixed
key, retried with the same key after a timeout, and settles a captured one
once (``vipps_settlement``). The receipt's lines then go to Vipps' Order
Management API, best effort, retried by the same job.
"""

from __future__ import annotations

import hashlib
import logging

import segno
from sqlalchemy import or_, select

from app.billing.serialisers import VippsOpened, absolute_links, request_view
from app.billing.statuses import REQUEST_ENDED_UNPAID, REQUEST_OPEN, REQUEST_PAID, RequestStatus
from app.clock import Clock
from app.consults.notifier import Notifier, request_changed
from app.db import Database
from app.errors import Conflict, Unavailable
from app.jobs.scheduler import Job
from app.models import PaymentRefund, PaymentRequest, VippsMerchant
from app.payments import vipps_settlement as settle
from app.payments.provider import Method
from app.payments.settlement import locked_request
from app.payments.vipps_merchant import SecretBox, keys_of, merchant_by_msn, offered_merchant
from integrations.vipps.client import VippsClient
from integrations.vipps.protocol import (
    NewPayment,
    Payment,
    PaymentState,
    ProviderError,
    ProviderUnavailable,
    ReceiptLine,
    UserFlow,
    VippsKeys,
)

log = logging.getLogger(__name__)

# An outage is tried again at once with the same Idempotency-Key, then left to the poll.
TRIES = 2


def reference_for(request_id: str, attempt: int) -> str:
    """The payment's ``reference`` at Vipps (letters, digits and ``-``, 8 to 50 long, so that it is also a
    valid order id for the receipt), one per attempt: ``cp-{24 hex digits of the request id}-{attempt}``,
    short enough that every Idempotency-Key made from it (``{reference}-capture``, …) stays within
    Vipps' 50 characters."""
    return f"cp-{request_id.rsplit('_', 1)[-1][:24]}-{attempt}"


def refund_key(reference: str, refund_id: str) -> str:
    """The Idempotency-Key of one refund row: the same row retried is the same refund at Vipps."""
    return f"{reference}-refund-{hashlib.sha256(refund_id.encode()).hexdigest()[:10]}"


class VippsPayments:
    method = Method.VIPPS

    def __init__(self, db: Database, *, client: VippsClient | None, box: SecretBox, notifier: Notifier,
                 clock: Clock, public_url: str) -> None:
        self.db = db
        self.client = client
        self.box = box
        self.notifier = notifier
        self.clock = clock
        self.public_url = public_url

    # -- the patient's choice --------------------------------------------------------------------

    async def offered(self, clinic_id: str) -> bool:
        async with self.db.read() as s:
            return self.client is not None and await offered_merchant(s, clinic_id) is not None

    async def open(self, r: PaymentRequest, *, flow: UserFlow, phone: str | None, return_url: str) -> VippsOpened:
        """Start (or show again) the request's Vipps payment in ``flow``."""
        if r.method == Method.VIPPS and r.status == RequestStatus.CHECKOUT_OPEN and r.vipps_flow == flow:
            return _opened(r)  # the same choice twice: the payment already waiting in Vipps
        if r.method == Method.VIPPS and r.status == RequestStatus.CHECKOUT_OPEN:
            await self.close(r)  # another flow: the waiting payment is cancelled first
        async with self.db.read() as s:
            merchant = await offered_merchant(s, r.clinic_id)
        keys = keys_of(self.box, merchant) if merchant is not None and self.client is not None else None
        if merchant is None or keys is None:
            raise Conflict("vipps_not_offered", "This clinic does not take Vipps payments.")
        if not (r.method == Method.VIPPS and r.status == RequestStatus.REQUESTED and r.vipps_reference
                and r.vipps_flow == flow and r.problem is None and r.vipps_msn == merchant.merchant_serial_number):
            r = await self._new_attempt(r.id, r.checkout_attempt, flow, merchant)
        # Otherwise an attempt is stored whose answer never came: it is sent again as it was, and
        # its Idempotency-Key returns the payment Vipps made (never a second one for the patient to approve).
        assert r.vipps_reference is not None
        new = NewPayment(reference=r.vipps_reference, amount=r.amount, currency=r.currency,
                         description=r.description, user_flow=flow, phone_number=phone,
                         return_url=return_url if flow in (UserFlow.WEB_REDIRECT, UserFlow.NATIVE_REDIRECT) else None)
        created = await self._retried(lambda: self._client.create_payment(
            keys, new, idempotency_key=f"{r.vipps_reference}-create"), "create")
        now = self.clock.now()
        async with self.db.write() as s:
            r = await locked_request(s, r.id)
            changed = r.vipps_reference == new.reference and r.status == RequestStatus.REQUESTED
            if changed:
                r.status = RequestStatus.CHECKOUT_OPEN
                r.vipps_state = r.vipps_state or PaymentState.CREATED
                r.checkout_url = created.redirect_url
                r.problem = r.problem_detail = r.problem_at = None
                r.updated_at = now
            view = _opened(r)
            request = absolute_links(request_view(r), self.public_url)
        if changed and request is not None:
            await request_changed(self.notifier, request)
        return view

    async def _new_attempt(self, request_id: str, seen: int, flow: UserFlow, merchant: VippsMerchant) -> PaymentRequest:
        now = self.clock.now()
        async with self.db.write() as s:
            r = await locked_request(s, request_id)
            if r.status in REQUEST_PAID:
                raise Conflict("already_paid", "This request has already been paid.")
            if r.status not in REQUEST_OPEN:
                raise Conflict("not_payable", "This request is no longer payable.")
            if r.checkout_attempt == seen or r.method != Method.VIPPS:
                r.checkout_attempt += 1
                r.method = Method.VIPPS
                r.vipps_reference = reference_for(r.id, r.checkout_attempt)
                r.vipps_flow = flow
                r.vipps_msn = merchant.merchant_serial_number
                r.vipps_psp_reference = r.vipps_state = None
                r.status = RequestStatus.REQUESTED
                r.checkout_session_id = r.checkout_url = r.checkout_expires_at = None
                r.updated_at = now
        return r

    # -- the provider's five things ----------------------------------------------------------------

    async def close(self, r: PaymentRequest) -> None:
        """Cancel the waiting payment at Vipps; settle it instead if the patient already paid."""
        if r.method != Method.VIPPS or not r.vipps_reference or r.status not in REQUEST_OPEN:
            return
        keys = await self._keys(r)
        if keys is None:
            return
        reference = r.vipps_reference
        try:
            payment = await self._retried(lambda: self._client.cancel(
                keys, reference, idempotency_key=f"{reference}-cancel"), "cancel")
        except Conflict:
            payment = None  # Vipps will not cancel it (paid, or already over): ask what it is
        if payment is None or payment.aggregate.captured:
            await self.sync(r.id)
            async with self.db.read() as s:
                now_row = await s.get(PaymentRequest, r.id)
            if now_row is not None and now_row.status in REQUEST_PAID:
                raise Conflict("already_paid", "This request has already been paid.")

    async def refresh(self, r: PaymentRequest) -> None:
        await self.sync(r.id)

    async def refund(self, r: PaymentRequest, row: PaymentRefund) -> None:
        keys = await self._keys(r)
        if keys is None or not r.vipps_reference:
            raise Conflict("refund_refused", "The clinic's Vipps merchant cannot make this refund now.")
        reference = r.vipps_reference
        payment = await self._retried(lambda: self._client.refund(
            keys, reference, row.amount, r.currency, idempotency_key=refund_key(reference, row.id)), "refund")
        async with self.db.write() as s:
            r = await locked_request(s, r.id)
            found = await s.get(PaymentRefund, row.id, with_for_update=True)
            assert found is not None
            outcome, view = await settle.refunded(s, r, found, payment, self.clock.now())
        log.info("Vipps refund %s of %s: %s", row.id, r.id, outcome)
        await self._tell(view)

    def jobs(self) -> list[Job]:
        # Polled by the ``expire-requests`` job (``PaymentService.expire_due``), every 30 seconds.
        return []

    # -- Vipps' word: webhooks and the poll ------------------------------------------------------------

    async def sync(self, request_id: str) -> str:
        """Bring one request in line with its Vipps payment; idempotent, safe to race."""
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id)
        if r is None or r.method != Method.VIPPS or not r.vipps_reference:
            return "not_vipps"
        keys = await self._keys(r)
        if keys is None:
            return "no_merchant"
        try:
            payment = await self._client.get_payment(keys, r.vipps_reference)
        except ProviderError as e:
            log.warning("could not look up Vipps payment %s: %s", r.vipps_reference, e.provider_message)
            return "unavailable"
        if payment.state == PaymentState.AUTHORIZED and payment.aggregate.captured < payment.amount:
            if r.status not in REQUEST_OPEN or payment.aggregate.cancelled:
                return await self._release(r, keys, payment)
            await self._apply(r.id, payment.reference, lambda s, row, now: settle.authorised(s, row, now))
            try:
                payment = await self._retried(lambda: self._client.capture(
                    keys, payment.reference, payment.amount - payment.aggregate.captured, payment.currency,
                    idempotency_key=f"{payment.reference}-capture"), "capture")
            except (Unavailable, Conflict) as e:
                log.warning("capture of %s not done yet (%s): the poll tries again", payment.reference, e.code)
                return "authorized"
        if payment.aggregate.captured > 0:
            outcome = await self._apply(r.id, payment.reference, lambda s, row, now: settle.settle_captured(
                s, row, payment, now))
            await self.send_receipt(r.id)
            return outcome
        if payment.state in (PaymentState.ABORTED, PaymentState.EXPIRED, PaymentState.TERMINATED):
            state = payment.state
            return await self._apply(r.id, payment.reference, lambda s, row, now: settle.ended(s, row, state, now))
        return "waiting"

    async def handle_event(self, body: dict[str, object]) -> str:
        """A verified ePayment webhook: the payment it names is looked up and settled."""
        reference = body.get("reference")
        if not isinstance(reference, str) or not reference:
            return "not_ours"
        async with self.db.read() as s:
            request_id = await s.scalar(select(PaymentRequest.id).where(PaymentRequest.vipps_reference == reference))
        if request_id is None:
            return "unknown_payment"
        return await self.sync(request_id)

    async def webhook_secret(self, msn: str) -> str | None:
        """The signing secret of the merchant's registered webhook."""
        from app.payments.vipps_merchant import webhook_secret

        async with self.db.read() as s:
            merchant = await merchant_by_msn(s, msn)
        return webhook_secret(self.box, merchant) if merchant is not None else None

    async def poll(self) -> int:
        """The ``vipps-poll`` job: every payment not finished, every receipt Vipps has not had, and every
        payment of a request that ended unpaid while Vipps had not said its last word (approved after the
        request ended, it is released there, never settled)."""
        vipps = (PaymentRequest.method == Method.VIPPS) & PaymentRequest.vipps_reference.is_not(None)
        async with self.db.read() as s:
            due = list(await s.scalars(select(PaymentRequest.id).where(
                vipps,
                or_(PaymentRequest.status.in_(REQUEST_OPEN) & (PaymentRequest.status != RequestStatus.REQUESTED),
                    PaymentRequest.status.in_(REQUEST_PAID) & PaymentRequest.vipps_receipt_sent_at.is_(None)),
            ).limit(200)))
            due += list(await s.scalars(select(PaymentRequest.id).where(
                vipps, PaymentRequest.status.in_(REQUEST_ENDED_UNPAID),
                or_(PaymentRequest.vipps_state.is_(None), PaymentRequest.vipps_state.not_in(settle.FINAL_STATES)),
            ).limit(100)))
        for request_id in due:
            await self.sync(request_id)
        return len(due)

    async def send_receipt(self, request_id: str) -> bool:
        """The receipt's lines to Vipps, so the patient sees them in the app; best effort."""
        async with self.db.read() as s:
            r = await s.get(PaymentRequest, request_id)
        if r is None or r.status not in REQUEST_PAID or r.vipps_receipt_sent_at or not r.vipps_reference:
            return False
        keys = await self._keys(r)
        if keys is None:
            return False
        line = ReceiptLine(name=r.description[:100], quantity=1, unit_price=r.amount, total=r.amount,
                           tax_percentage=0)
        try:
            await self._client.send_receipt(keys, r.vipps_reference, [line], r.currency)
        except ProviderUnavailable as e:
            log.info("receipt of %s not sent yet: %s", r.vipps_reference, e.provider_message)
            return False
        except ProviderError as e:
            # Refused (one already there, or lines Vipps will not take): not tried again.
            log.warning("Vipps refused the receipt of %s: %s", r.vipps_reference, e.provider_message)
        async with self.db.write() as s:
            row = await locked_request(s, request_id)
            row.vipps_receipt_sent_at = row.vipps_receipt_sent_at or self.clock.now()
        return True

    # -- helpers -----------------------------------------------------------------------------------

    @property
    def _client(self) -> VippsClient:
        if self.client is None:
            raise Conflict("vipps_not_offered", "This clinic does not take Vipps payments.")
        return self.client

    async def _keys(self, r: PaymentRequest) -> VippsKeys | None:
        async with self.db.read() as s:
            merchant = await merchant_by_msn(s, r.vipps_msn or "")
        if merchant is None or merchant.clinic_id != r.clinic_id:
            log.error("request %s names Vipps merchant %s, which the clinic no longer has", r.id, r.vipps_msn)
            return None
        return keys_of(self.box, merchant)

    async def _retried(self, call, what: str):  # type: ignore[no-untyped-def]
        """One Vipps call, tried again once after an outage with the same Idempotency-Key."""
        for attempt in range(TRIES):
            try:
                return await call()
            except ProviderUnavailable as e:
                log.warning("Vipps %s failed (%s), try %s", what, e.provider_message, attempt + 1)
                if attempt + 1 == TRIES:
                    raise Unavailable("vipps_unavailable", "Vipps could not be reached. Please try again.") from e
            except ProviderError as e:
                log.warning("Vipps refused %s: %s (%s)", what, e.provider_message, e.code)
                raise Conflict("vipps_refused", "Vipps refused the payment (%(reason)s).",
                               reason=e.provider_message or e.code) from e
        raise AssertionError("unreachable")

    async def _apply(self, request_id: str, reference: str, step) -> str:  # type: ignore[no-untyped-def]
        """One step under the request's row lock, for its current Vipps payment only; then tell the call."""
        async with self.db.write() as s:
            r = await locked_request(s, request_id)
            if r.vipps_reference != reference:
                return "stale"
            outcome, view = await step(s, r, self.clock.now())
        await self._tell(view)
        return outcome

    async def _release(self, r: PaymentRequest, keys: VippsKeys, payment: Payment) -> str:
        """An amount reserved for a request that ended meanwhile: give the reservation back."""
        if not payment.aggregate.cancelled:
            try:
                await self._client.cancel(keys, payment.reference, idempotency_key=f"{payment.reference}-cancel")
            except ProviderError as e:
                log.warning("could not release %s: %s", payment.reference, e.provider_message)
                return "release_failed"
        await self._apply(r.id, payment.reference, lambda s, row, now: settle.released(row))
        return "released"

    async def _tell(self, view: dict[str, object] | None) -> None:
        view = absolute_links(view, self.public_url)  # type: ignore[arg-type]
        if view is not None:
            await request_changed(self.notifier, view)


def _opened(r: PaymentRequest) -> VippsOpened:
    url = r.checkout_url
    if url and r.vipps_flow == UserFlow.QR:
        url = qr_image(url)
    return VippsOpened(request_id=r.id, status=r.status, flow=r.vipps_flow or "", url=url,
                       reference=r.vipps_reference or "")


def qr_image(target: str) -> str:
    """The QR code for ``target`` (what Vipps answered with ``qrFormat`` TEXT/TARGETURL), drawn here
    as an SVG ``data:`` URL: the patient's panel loads no image from another site."""
    return segno.make(target, error="m").svg_data_uri(scale=4, border=2)

