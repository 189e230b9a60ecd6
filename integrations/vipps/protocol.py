"""What the app needs from Vipps MobilePay, as plain DTOs, and the wire protocol the two speak.

Every amount is an integer in minor units (øre) with its currency, as Vipps
sends them: ``{"currency": "NOK", "value": 49900}``.

The APIs (Vipps' published ePayment, Access Token, Webhooks and Order Management APIs)
-----------------------------------------------------------------------------------------
``POST /accesstoken/get``
    Headers ``client_id``, ``client_secret``, ``Ocp-Apim-Subscription-Key``,
    ``Merchant-Serial-Number``. ``200 {"token_type": "Bearer", "expires_in": "3600",
    "access_token": …}`` (``expires_in`` is a string of seconds); wrong keys: 401.
    Every other call sends ``Authorization: Bearer …`` with the subscription key
    and the merchant serial number (MSN), and the ``Vipps-System-*`` headers.

``POST /epayment/v1/payments`` (``Idempotency-Key``)
    ``{"amount", "paymentMethod": {"type": "WALLET"}, "customer"?: {"phoneNumber"},
    "reference", "returnUrl"?, "userFlow", "paymentDescription", "qrFormat"?}`` →
    ``201 {"reference", "redirectUrl"?}``: the landing page for WEB_REDIRECT and
    NATIVE_REDIRECT, the QR image for QR, nothing for PUSH_MESSAGE.

``GET /epayment/v1/payments/{reference}`` and ``…/events``
    The payment (``state``, ``amount``, ``aggregate`` of authorised, captured,
    refunded and cancelled amounts, ``pspReference``) and its event log.

``POST /epayment/v1/payments/{reference}/capture|refund`` (``{"modificationAmount"}``)
and ``…/cancel``, each with an ``Idempotency-Key``
    ``200`` with the modification response (amount, state, aggregate).

``POST /webhooks/v1/webhooks`` ``{"url", "events"}`` → ``201 {"id", "secret"}``;
``DELETE /webhooks/v1/webhooks/{id}``. Events are signed with the secret
(``verify_webhook`` in client.py).

``POST /order-management/v2/ecom/receipts/{reference}``
    ``{"orderLines": […], "bottomLine": {"currency"}}``: what the patient sees in the app.

Errors are RFC 7807 problem details (``type``, ``title``, ``detail``, ``status``,
``traceId``, ``extraDetails``) and map onto integrations/errors.py: network,
timeout, 5xx, 423 and 429 → ``ProviderUnavailable`` (retry with the same
Idempotency-Key); 401 and 403 → ``AccessRefused``; any other 4xx →
``VippsProblem``, a ``RequestRefused`` that keeps the problem's fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from integrations.errors import (
    AccessRefused,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    RequestRefused,
    SignatureError,
)

__all__ = [
    "EPAYMENT_EVENTS", "AccessRefused", "Aggregate", "CreatedPayment", "NewPayment", "Payment",
    "PaymentEvent", "PaymentState", "ProviderError", "ProviderRefused", "ProviderUnavailable",
    "ReceiptLine", "RequestRefused", "SignatureError", "UserFlow", "VippsKeys", "VippsProblem",
    "Webhook", "parse_time",
]


class UserFlow(StrEnum):
    PUSH_MESSAGE = "PUSH_MESSAGE"
    QR = "QR"
    WEB_REDIRECT = "WEB_REDIRECT"
    NATIVE_REDIRECT = "NATIVE_REDIRECT"


class PaymentState(StrEnum):
    """Vipps' ``state``: CREATED until the user acts, then one of the final four."""

    CREATED = "CREATED"
    AUTHORIZED = "AUTHORIZED"
    ABORTED = "ABORTED"
    EXPIRED = "EXPIRED"
    TERMINATED = "TERMINATED"


# The ePayment events a merchant's webhook is registered for (Webhooks API event types).
EPAYMENT_EVENTS: tuple[str, ...] = tuple(
    f"epayments.payment.{name}.v1"
    for name in ("created", "aborted", "expired", "cancelled", "captured", "refunded", "authorized", "terminated")
)


@dataclass(frozen=True)
class VippsKeys:
    """A sales unit's API keys and its merchant serial number (MSN)."""

    client_id: str
    client_secret: str = field(repr=False)
    subscription_key: str = field(repr=False)
    merchant_serial_number: str


@dataclass(frozen=True)
class NewPayment:
    reference: str
    amount: int
    currency: str
    description: str
    user_flow: UserFlow
    return_url: str | None
    phone_number: str | None = None  # MSISDN, e.g. "4791234567"
    # For the QR flow, what ``redirectUrl`` is (``qrFormat.format``): the code's target URL, for the
    # caller to draw the code itself, or a link to an image of it on Vipps' servers.
    qr_format: str = "TEXT/TARGETURL"


@dataclass(frozen=True)
class CreatedPayment:
    reference: str
    # The landing page; for the QR flow the code's target (TEXT/TARGETURL) or its image; None for a push.
    redirect_url: str | None


@dataclass(frozen=True)
class Aggregate:
    authorized: int
    captured: int
    refunded: int
    cancelled: int


@dataclass(frozen=True)
class Payment:
    reference: str
    state: PaymentState
    amount: int
    currency: str
    aggregate: Aggregate
    psp_reference: str | None
    redirect_url: str | None

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> Payment:
        agg = body.get("aggregate") or {}
        return cls(
            reference=str(body["reference"]),
            state=PaymentState(body["state"]),
            amount=int(body["amount"]["value"]),
            currency=str(body["amount"]["currency"]),
            aggregate=Aggregate(
                authorized=_value(agg.get("authorizedAmount")),
                captured=_value(agg.get("capturedAmount")),
                refunded=_value(agg.get("refundedAmount")),
                cancelled=_value(agg.get("cancelledAmount")),
            ),
            psp_reference=_optional(body.get("pspReference")),
            redirect_url=_optional(body.get("redirectUrl")),
        )


@dataclass(frozen=True)
class PaymentEvent:
    reference: str
    psp_reference: str | None
    name: str  # CREATED, AUTHORIZED, ABORTED, EXPIRED, CANCELLED, CAPTURED, REFUNDED, TERMINATED
    amount: int
    currency: str
    timestamp: datetime
    idempotency_key: str | None
    success: bool

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> PaymentEvent:
        return cls(
            reference=str(body["reference"]),
            psp_reference=_optional(body.get("pspReference")),
            name=str(body["name"]),
            amount=int(body["amount"]["value"]),
            currency=str(body["amount"]["currency"]),
            timestamp=parse_time(str(body["timestamp"])),
            idempotency_key=_optional(body.get("idempotencyKey")),
            success=bool(body["success"]),
        )


@dataclass(frozen=True)
class ReceiptLine:
    """One of Order Management's ``orderLines``: ``total`` includes tax, ``unit_price`` per unit."""

    name: str
    quantity: int
    unit_price: int
    total: int
    tax_percentage: int

    def to_wire(self, line_id: str) -> dict[str, Any]:
        excluding = (self.total * 100 + (100 + self.tax_percentage) // 2) // (100 + self.tax_percentage)
        return {
            "name": self.name,
            "id": line_id,
            "totalAmount": self.total,
            "totalAmountExcludingTax": excluding,
            "totalTaxAmount": self.total - excluding,
            "taxPercentage": self.tax_percentage,
            "unitInfo": {"unitPrice": self.unit_price, "quantity": str(self.quantity), "quantityUnit": "PCS"},
            "discount": 0,
            "isReturn": False,
            "isShipping": False,
        }


@dataclass(frozen=True)
class Webhook:
    id: str
    secret: str = field(repr=False)


class VippsProblem(RequestRefused):
    """A 4xx problem-details answer: what Vipps said, field for field."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.type = str(problem.get("type") or "")
        self.title = str(problem.get("title") or f"Vipps answered {status}")
        self.detail = _optional(problem.get("detail"))
        self.trace_id = _optional(problem.get("traceId"))
        extra = problem.get("extraDetails")
        self.extra_details: list[dict[str, Any]] = [e for e in extra if isinstance(e, dict)] if isinstance(
            extra, list) else []
        message = self.title if not self.detail else f"{self.title}: {self.detail}"
        super().__init__(message, self.type or f"http_{status}", self.detail or self.title)


def parse_time(text: str) -> datetime:
    """RFC 3339 as Vipps writes it (``2023-08-14T12:48:46.260Z``), always aware."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"a time without a zone: {text!r}")
    return value


def _value(amount: Any) -> int:
    return int(amount["value"]) if isinstance(amount, dict) else 0


def _optional(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
