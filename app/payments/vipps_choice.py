"""The patient chooses how to pay: *Pay with Vipps* beside *Pay by card* (``payment:vipps``).

A part of :class:`app.payments.requests.PaymentService`, like ``checkout``. A
request is paid one way at a time: choosing Vipps closes a Checkout page that is
open (a card payment that got through meanwhile is settled and the choice
refused as ``already_paid``), and *Pay by card* cancels a payment waiting in
Vipps (``leave_vipps``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.serialisers import VippsOpened, request_view
from app.billing.statuses import REQUEST_OPEN, REQUEST_PAID, RequestStatus
from app.commands import PayWithVipps
from app.consults.notifier import request_changed
from app.consults.participant import Participant, require_role
from app.errors import Conflict, Invalid
from app.models import ConsultPatient, PaymentRequest
from app.payments.provider import Method
from app.payments.settlement import locked_request
from app.payments.vipps import VippsPayments
from app.payments.vipps_merchant import msisdn
from integrations.vipps.protocol import UserFlow


class VippsChoice:
    vipps: VippsPayments | None

    async def pay_with_vipps(self, who: Participant, cmd: PayWithVipps, *, return_url: str = "") -> VippsOpened:
        require_role(who, "patient")
        r = await self._load(who, cmd.request_id)  # type: ignore[attr-defined]
        _payable(r)
        if self.vipps is None or not await self.vipps.offered(r.clinic_id):
            raise Conflict("vipps_not_offered", "This clinic does not take Vipps payments.")
        flow, phone = await self._vipps_flow(r, cmd)
        if r.method != Method.VIPPS:
            r = await self._leave_card(r)
        return await self.vipps.open(r, flow=flow, phone=phone, return_url=return_url)

    async def _vipps_flow(self, r: PaymentRequest, cmd: PayWithVipps) -> tuple[UserFlow, str | None]:
        """The flow and number: as asked; else a push to the number given or known; else a QR code."""
        phone = msisdn(cmd.phone)
        flow = UserFlow(cmd.flow) if cmd.flow else None
        if phone is None and flow in (None, UserFlow.PUSH_MESSAGE):
            async with self.db.read() as s:  # type: ignore[attr-defined]
                phone = await _known_mobile(s, r)
        if flow is None:
            flow = UserFlow.PUSH_MESSAGE if phone else UserFlow.QR
        if flow == UserFlow.PUSH_MESSAGE and phone is None:
            raise Invalid("phone_required", "Enter your mobile number to get the payment in Vipps.", field="phone")
        return flow, phone if flow != UserFlow.QR else None

    async def _leave_card(self, r: PaymentRequest) -> PaymentRequest:
        """Close the request's Checkout page (if any) before Vipps is asked; the attempt moves on
        first, so the page's expiry is stale when Stripe reports it."""
        session_id = r.checkout_session_id or await self._lost_session(r)  # type: ignore[attr-defined]
        if not session_id:
            return r
        now = self.clock.now()  # type: ignore[attr-defined]
        async with self.db.write() as s:  # type: ignore[attr-defined]
            row = await locked_request(s, r.id)
            if row.checkout_session_id == r.checkout_session_id:
                row.checkout_attempt += 1
                row.checkout_session_id = row.checkout_url = row.checkout_expires_at = None
                row.status = RequestStatus.REQUESTED
                row.updated_at = now
        await self._close(r, session_id)  # type: ignore[attr-defined]
        async with self.db.read() as s:  # type: ignore[attr-defined]
            found = await s.get(PaymentRequest, r.id)
        assert found is not None
        return found

    async def leave_vipps(self, r: PaymentRequest) -> PaymentRequest:
        """*Pay by card* after Vipps: the payment waiting in Vipps is cancelled, the request is a card one again."""
        if self.vipps is not None:
            await self.vipps.close(r)
        now = self.clock.now()  # type: ignore[attr-defined]
        async with self.db.write() as s:  # type: ignore[attr-defined]
            row = await locked_request(s, r.id)
            _payable(row)
            row.method = Method.CARD
            row.status = RequestStatus.REQUESTED
            row.checkout_url = None
            row.updated_at = now
            view = request_view(row)
        await request_changed(self.notifier, view)  # type: ignore[attr-defined]
        return row


async def _known_mobile(s: AsyncSession, r: PaymentRequest) -> str | None:
    patient = await s.get(ConsultPatient, (r.consult_id, r.patient_id))
    try:
        return msisdn(patient.mobile) if patient is not None else None
    except Invalid:
        return None


def _payable(r: PaymentRequest) -> None:
    if r.status in REQUEST_PAID:
        raise Conflict("already_paid", "This request has already been paid.")
    if r.status not in REQUEST_OPEN:
        raise Conflict("not_payable", "This request is no longer payable.")
