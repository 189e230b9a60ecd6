"""What the app needs from MediPay (PayEx's collection service), as a small
protocol with plain DTOs, and the HTTP protocol the two speak.

Errors
------
The provider-wide tree of integrations/errors.py, with MediPay's two refusals
in it:

ProviderError(message, code, provider_message)   MediPay refused or failed
 ├── ProviderUnavailable                          network, timeout, 5xx, 429: retry later
 ├── ProviderRefused
 │    ├── AccessRefused
 │    │    └── InvalidCredentials                 401: the PayEx username/password is wrong
 │    └── RequestRefused
 │         └── ClaimRefused                       another 4xx; ``status`` and ``reason_code``
 └── SignatureError                               a callback whose signature does not verify

The wire protocol
-----------------
JSON in and out, UTF-8. Every ``/v1`` call uses HTTP basic auth with the
username and password PayEx gave the clinic for its MediPay account. Times are
ISO 8601 in UTC (``2030-01-31T12:00:00Z``); money is an integer in minor units
plus ``"currency": "NOK"`` (MediPay collects in NOK only). Errors are
``{"error": {"code": "snake_case", "message": "…", "reason_code"?: "…"}}``:

=====  ==================================================================
400    ``bad_request``: not JSON, or a field of the wrong type/shape
401    ``invalid_credentials``: no or wrong basic auth
404    ``claim_not_found``
409    ``claim_conflict``: a claim with this id exists with another body
       (or belongs to another account)
413    ``too_large``: a body over 64 KiB
422    ``invalid_patient`` (with ``reason_code``) or ``invalid_claim``
429    ``rate_limited``: slow down and retry
5xx    ``server_error``: retry later (the PUT is idempotent, so retrying is safe)
=====  ==================================================================

``GET /v1/account``
    Verifies the credentials (the green check in *Export settings > MediPay*).
    ``200 {"username", "status": "active", "currency": "NOK",
    "admin_fee": {"amount", "currency"}, "limits": {"checkout_invoice",
    "automatic_invoice"}}``.

``PUT /v1/claims/{claim_id}``
    Exports one bill card as a claim. ``claim_id`` is the bill card's id and
    the export's idempotency key (1–64 characters of ``[A-Za-z0-9_-]``)::

        {"patient": {"name", "national_id", "mobile", "email"?,
                     "address"?: {"line1", "postal_code", "city", "country"}},
         "amount": 45000, "currency": "NOK", "admin_fee": true,
         "description": "Consultation", "lines"?: [{"code"?, "description", "amount"}],
         "mode": "checkout" | "invoice", "language"?: "nb" | "en" | "sv"}

    ``description`` is what the patient reads in the SMS and on the Checkout
    page (the clinician's words); ``language`` is the patient's, for the SMS
    and the page (absent: bokmål).

    ``201`` with the new claim. The same id again with the same body answers
    ``200`` with the claim as it is now — no second SMS, no second invoice.
    The same id with any other body: ``409 claim_conflict``. The comparison
    is on the normalised body (key order and the spelling of the mobile
    number do not matter).

    Refused before anything is sent (``422 invalid_patient``, nothing stored,
    so the corrected card can be exported again under the same id), with
    ``reason_code``: ``missing_national_id``, ``invalid_national_id``
    (fødselsnummer or D-number: 11 digits, two mod-11 check digits),
    ``missing_mobile``, ``invalid_mobile`` (must be a mobile number, E.164 or
    a Norwegian 8-digit number), ``missing_address`` (mode ``invoice`` needs
    ``line1``, ``postal_code`` and ``city``). Other bad values:
    ``422 invalid_claim`` (an amount of zero or less, currency not NOK, an
    unknown mode, an empty description); a value of the wrong type (an amount
    that is not an integer, say) is ``400 bad_request``.

    Accepted but rejected at once (``201``, state ``rejected``, a
    ``claim.rejected`` callback, no SMS): the total (amount plus the admin fee
    when ``admin_fee`` is true) above the agreed maximum, NOK 50,000 →
    ``over_limit``. In mode ``invoice`` the invoice is sent at once after
    PayEx's internal assessment (see below), so the answer is already
    ``invoice_sent`` or ``rejected``.

``GET /v1/claims/{claim_id}``
    The claim::

        {"id", "state", "reason_code", "message", "mode", "patient", "amount",
         "admin_fee", "admin_fee_amount", "total", "currency", "description",
         "lines", "checkout_url", "created_at", "updated_at", "deadline_at",
         "reminder_at", "reminder_sent_at", "choice", "version", "invoice",
         "payments": [{"method": "card"|"vipps"|"invoice", "amount", "admin_fee", "total",
                       "currency", "paid_at", "reference"}],
         "sms": [{"id", "to", "kind", "text", "sent_at"}]}

    A payment's ``amount`` is the claim's ``amount`` (what settles the bill
    card's patient share); ``admin_fee`` is the fee the patient paid on top and
    ``total`` their sum. ``invoice`` is null until an invoice is sent, then
    ``{"number", "sent_at", "due_date", "amount", "currency", "channel"}``.
    SMS ``kind`` is ``checkout_link``, ``reminder``, ``invoice``,
    ``invoice_approved`` or ``receipt``.

    ``state`` is one of

    - ``sent``: the SMS with the Checkout link went out; waiting for a choice
      until ``deadline_at`` (48 h after export), reminder at ``reminder_at``
      (8 h before the deadline).
    - ``paid``: paid by card or Vipps in Checkout, or invoice chosen in
      Checkout and approved by the full credit check (limit NOK 50,000):
      MediPay takes over the claim, so for the clinic it is settled.
    - ``invoice_sent``: no choice in 48 h (or mode ``invoice``): PayEx's
      internal assessment approved an invoice (limit NOK 3,000) and sent it.
    - ``invoice_paid``: the patient paid that invoice.
    - ``rejected``: with ``reason_code`` and a human ``message``:
      ``credit_rejected`` (credit check or internal assessment failed),
      ``over_limit`` (total above the limit that applies), ``missing_address``
      (an invoice was due but the claim has no address). The clinic must
      handle a rejected claim manually.

    ``version`` grows by one on every change, so a receiver can drop a stale
    callback.

``GET /v1/claims?updated_since=<time>&limit=<1..500>&cursor=<opaque>``
    Claims of this account changed at or after ``updated_since``, oldest
    change first: ``{"claims": [...], "has_more": bool, "next_cursor": str|null}``;
    pass ``next_cursor`` back as ``cursor`` for the next page (with the same
    ``updated_since``). A claim appears once, at its latest change.

Callbacks
---------
On every state change (and when the reminder goes out) MediPay POSTs to the
callback URL registered for the service::

    {"id": "evt_…", "type": "claim.paid" | "claim.invoice_sent" |
     "claim.reminder_sent" | "claim.rejected" | "claim.invoice_paid",
     "created": "<time>", "claim": {…as GET /v1/claims/{id}…}}

signed in the header ``MediPay-Signature: t=<unix>,v1=<hex>`` where the hex
is HMAC-SHA256 of ``f"{t}.{body}"`` under the shared callback secret. Any
non-2xx answer, a timeout or a dropped connection is retried with
exponential backoff; delivery is at least once, so receivers must be
idempotent on ``id`` (and may compare ``claim.version``).
:func:`verify_callback` checks a callback.

The sandbox
-----------
integrations/medipay/sandbox serves this protocol for development, tests and
demos; any username with the password ``medipay-test`` is a valid account.

Checkout
--------
The SMS links to ``/checkout/{claim_id}?t=<token>``, where the patient chooses
card, Vipps or invoice. Card and Vipps pay at once (``paid``). Invoice runs
the full credit check, limit NOK 50,000 (``paid`` or ``rejected``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

# The provider-wide error tree; ProviderError, ProviderUnavailable and
# SignatureError stay importable from here as before.
from integrations.errors import AccessRefused, ProviderError, ProviderUnavailable, RequestRefused, SignatureError

__all__ = [
    "CALLBACK_TYPES", "CLAIM_STATES", "PATIENT_REASONS", "REJECT_REASONS", "SIGNATURE_HEADER", "Account",
    "Address", "Claim", "ClaimLine", "ClaimMode", "ClaimPatient", "ClaimPayment", "ClaimRefused", "ClaimState",
    "Credentials", "InvalidCredentials", "MediPayGateway", "ProviderError", "ProviderUnavailable",
    "SignatureError", "Sms", "format_time", "parse_time", "sign", "verify_callback",
]

CALLBACK_TOLERANCE_SECONDS = 300
SIGNATURE_HEADER = "MediPay-Signature"

ClaimMode = Literal["checkout", "invoice"]
CLAIM_STATES = ("sent", "paid", "invoice_sent", "invoice_paid", "rejected")
CALLBACK_TYPES = ("claim.paid", "claim.invoice_sent", "claim.reminder_sent",
                  "claim.rejected", "claim.invoice_paid")
PATIENT_REASONS = ("missing_national_id", "invalid_national_id", "missing_mobile",
                   "invalid_mobile", "missing_address")
REJECT_REASONS = ("credit_rejected", "over_limit", "missing_address")


class InvalidCredentials(AccessRefused):
    pass


class ClaimRefused(RequestRefused):
    def __init__(self, message: str, code: str, *, status: int, reason_code: str | None = None,
                 provider_message: str | None = None):
        super().__init__(message, code, provider_message)
        self.status = status
        self.reason_code = reason_code


# times ----------------------------------------------------------------------
def format_time(value: datetime | int | float) -> str:
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# DTOs -----------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    """The PayEx username and password of a clinic's MediPay account."""

    username: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"Credentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class Account:
    username: str
    status: str
    admin_fee_amount: int
    currency: str = "NOK"

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> Account:
        fee = body.get("admin_fee") or {}
        return cls(username=str(body.get("username", "")), status=str(body.get("status", "")),
                   admin_fee_amount=int(fee.get("amount") or 0),
                   currency=str(body.get("currency") or "NOK"))


@dataclass(frozen=True)
class Address:
    line1: str
    postal_code: str
    city: str
    country: str = "NO"

    def to_wire(self) -> dict[str, str]:
        return {"line1": self.line1, "postal_code": self.postal_code, "city": self.city,
                "country": self.country}

    @classmethod
    def from_wire(cls, body: dict[str, Any] | None) -> Address | None:
        if not body:
            return None
        return cls(line1=str(body.get("line1") or ""), postal_code=str(body.get("postal_code") or ""),
                   city=str(body.get("city") or ""), country=str(body.get("country") or "NO"))


@dataclass(frozen=True)
class ClaimPatient:
    name: str
    national_id: str | None
    mobile: str | None
    email: str | None = None
    address: Address | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "national_id": self.national_id, "mobile": self.mobile}
        if self.email:
            out["email"] = self.email
        if self.address is not None:
            out["address"] = self.address.to_wire()
        return out

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> ClaimPatient:
        return cls(name=str(body.get("name") or ""), national_id=body.get("national_id"),
                   mobile=body.get("mobile"), email=body.get("email"),
                   address=Address.from_wire(body.get("address")))


@dataclass(frozen=True)
class ClaimLine:
    description: str
    amount: int
    code: str | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"description": self.description, "amount": self.amount}
        if self.code:
            out["code"] = self.code
        return out


@dataclass(frozen=True)
class Claim:
    """One bill card to export; ``id`` is the card's id and the idempotency key."""

    id: str
    patient: ClaimPatient
    amount: int
    description: str
    admin_fee: bool = True
    mode: ClaimMode = "checkout"
    currency: str = "NOK"
    lines: tuple[ClaimLine, ...] = ()
    language: str | None = None  # the patient's: the SMS and Checkout page read in it

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "patient": self.patient.to_wire(), "amount": self.amount, "currency": self.currency,
            "admin_fee": self.admin_fee, "description": self.description, "mode": self.mode,
        }
        if self.lines:
            out["lines"] = [line.to_wire() for line in self.lines]
        if self.language:
            out["language"] = self.language
        return out


@dataclass(frozen=True)
class ClaimPayment:
    method: str  # card | vipps | invoice
    amount: int  # the claim's amount: what settles the bill card
    paid_at: datetime | None
    reference: str
    admin_fee: int = 0  # paid on top of ``amount``


@dataclass(frozen=True)
class Sms:
    id: str
    to: str
    kind: str  # checkout_link | reminder | invoice | receipt
    text: str
    sent_at: datetime | None


@dataclass(frozen=True)
class ClaimState:
    """A claim as MediPay reports it (``GET /v1/claims/{id}``, callbacks)."""

    id: str
    state: str  # sent | paid | invoice_sent | invoice_paid | rejected
    mode: str
    amount: int
    admin_fee_amount: int
    total: int
    currency: str
    version: int
    reason_code: str | None = None
    message: str | None = None
    checkout_url: str | None = None
    choice: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deadline_at: datetime | None = None
    reminder_at: datetime | None = None
    reminder_sent_at: datetime | None = None
    payments: tuple[ClaimPayment, ...] = ()
    sms: tuple[Sms, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def settled(self) -> bool:
        """For the clinic: MediPay has the money or has taken the claim over."""
        return self.state in ("paid", "invoice_paid")

    @classmethod
    def from_wire(cls, body: dict[str, Any]) -> ClaimState:
        return cls(
            id=str(body["id"]), state=str(body["state"]), mode=str(body.get("mode") or "checkout"),
            amount=int(body.get("amount") or 0), admin_fee_amount=int(body.get("admin_fee_amount") or 0),
            total=int(body.get("total") or 0), currency=str(body.get("currency") or "NOK"),
            version=int(body.get("version") or 0), reason_code=body.get("reason_code"),
            message=body.get("message"), checkout_url=body.get("checkout_url"), choice=body.get("choice"),
            created_at=parse_time(body.get("created_at")), updated_at=parse_time(body.get("updated_at")),
            deadline_at=parse_time(body.get("deadline_at")), reminder_at=parse_time(body.get("reminder_at")),
            reminder_sent_at=parse_time(body.get("reminder_sent_at")),
            payments=tuple(ClaimPayment(method=p["method"], amount=int(p["amount"]),
                                        paid_at=parse_time(p.get("paid_at")), reference=str(p["reference"]),
                                        admin_fee=int(p.get("admin_fee") or 0))
                           for p in body.get("payments") or []),
            sms=tuple(Sms(id=s["id"], to=s["to"], kind=s["kind"], text=s["text"],
                          sent_at=parse_time(s.get("sent_at")))
                      for s in body.get("sms") or []),
            raw=body,
        )


class MediPayGateway(Protocol):
    async def verify_account(self, credentials: Credentials) -> Account: ...

    async def export_claim(self, credentials: Credentials, claim: Claim) -> ClaimState: ...

    async def get_claim(self, credentials: Credentials, claim_id: str) -> ClaimState: ...

    async def list_claims(self, credentials: Credentials, updated_since: datetime) -> list[ClaimState]: ...

    def verify_callback(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """The callback in ``body`` if ``signature`` (``MediPay-Signature``) verifies; else SignatureError."""
        ...

    async def close(self) -> None: ...


# callbacks ------------------------------------------------------------------
def sign(payload: str | bytes, secret: str, timestamp: int) -> str:
    """The ``MediPay-Signature`` header value for this payload."""
    body = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_callback(body: bytes, header: str | None, secret: str, tolerance: int = CALLBACK_TOLERANCE_SECONDS,
                    now: float | None = None) -> dict[str, Any]:
    """Check ``MediPay-Signature`` against the raw body; return the callback as a dict."""
    if not secret:
        raise ValueError("a callback secret is required to verify MediPay's callbacks")
    if not header:
        raise SignatureError("no MediPay-Signature header", "missing_signature")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("bad timestamp in MediPay-Signature", "bad_signature") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("MediPay-Signature lacks t or v1", "bad_signature")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("callback body is not UTF-8", "bad_signature") from None
    expected = sign(text, secret, timestamp).partition(",v1=")[2]
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureError("callback signature does not match", "bad_signature")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("callback timestamp outside the tolerance", "stale_signature")
    try:
        event = json.loads(text)
    except ValueError:
        raise SignatureError("callback body is not JSON", "bad_event") from None
    if not isinstance(event, dict) or not isinstance(event.get("claim"), dict) or "type" not in event:
        raise SignatureError("callback body is not a MediPay event", "bad_event")
    return event
