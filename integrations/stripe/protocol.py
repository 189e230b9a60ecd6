"""What the app needs from Stripe, as a small protocol with plain DTOs.

Stripe's errors are the provider-wide tree of integrations/errors.py, as the
gateway maps the SDK's exceptions onto it:

ProviderError(message, code, provider_message)   Stripe refused or failed
 ├── ProviderUnavailable                          network, timeout, 5xx, 429: retry later
 ├── ProviderRefused                              a permanent "no": retrying the same call will not help
 │    ├── CardRefused                             card_error: the card was declined (402)
 │    ├── RequestRefused                          invalid_request_error: a parameter or amount Stripe
 │    │                                           will not take (amount_too_small, parameter_invalid_*)
 │    ├── AccessRefused                           authentication or permission: the key is wrong,
 │    │                                           revoked, or may not do this (401, 403)
 │    └── AccountRefused                          the connected account cannot take this money
 │                                                (account_invalid, platform_account_required, …)
 └── SignatureError                               a webhook whose signature does not verify

Only ``ProviderUnavailable`` is worth a "try again"; a ``ProviderRefused``
needs someone to change something first, and its subclass says who.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# The provider-wide error tree, drawn above; importable from here as before.
from integrations.errors import (
    AccessRefused,
    AccountRefused,
    CardRefused,
    ProviderError,
    ProviderRefused,
    ProviderUnavailable,
    RequestRefused,
    SignatureError,
)

__all__ = [
    "AccessRefused", "AccountLink", "AccountRefused", "CardRefused", "CheckoutSession", "ConnectedAccount",
    "NewCheckout", "PaymentIntent", "ProviderError", "ProviderRefused", "ProviderUnavailable", "Refund",
    "RequestRefused", "RequirementError", "SignatureError", "StripeGateway",
]


def _plain(obj: Any) -> dict[str, Any]:
    """SDK objects are not dicts; webhook payloads are."""
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def _ref(value: Any) -> str | None:
    """An expandable field's id, whether Stripe sent the id or the object."""
    if value is None or isinstance(value, str):
        return value
    return _plain(value).get("id")


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str | None
    status: str  # open | complete | expired
    payment_status: str  # paid | unpaid | no_payment_required
    amount_total: int
    currency: str  # ISO 4217, upper case
    payment_intent_id: str | None
    expires_at: int
    client_reference_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    customer_email: str | None = None
    # ``setup``: a card saved for later, nothing paid; its SetupIntent says whether it was saved.
    mode: str = "payment"
    setup_intent_id: str | None = None
    customer_id: str | None = None

    @classmethod
    def from_stripe(cls, obj: Any) -> CheckoutSession:
        """From a Stripe ``checkout.session`` (SDK object or plain dict)."""
        get = _plain(obj).get
        intent = get("payment_intent")
        if isinstance(intent, dict) or (intent is not None and not isinstance(intent, str)):
            intent = intent.get("id")
        details = get("customer_details") or {}
        return cls(
            id=get("id"),
            url=get("url"),
            status=get("status"),
            payment_status=get("payment_status"),
            amount_total=int(get("amount_total") or 0),
            currency=str(get("currency") or "").upper(),
            payment_intent_id=intent,
            expires_at=int(get("expires_at") or 0),
            client_reference_id=get("client_reference_id"),
            metadata=dict(get("metadata") or {}),
            customer_email=(details.get("email") if details else None) or get("customer_email"),
            mode=str(get("mode") or "payment"),
            setup_intent_id=_ref(get("setup_intent")),
            customer_id=_ref(get("customer")),
        )


@dataclass(frozen=True)
class NewCheckout:
    account: str | None
    amount: int
    currency: str
    description: str
    success_url: str
    cancel_url: str
    reference: str
    metadata: dict[str, str]
    expires_at: int
    idempotency_key: str
    customer_email: str | None = None
    locale: str | None = None
    # The platform's fee, taken from a direct charge on ``account`` (0: none).
    application_fee_amount: int = 0
    # "automatic": the card is charged when paid; "manual": only authorised (a hold), its
    # PaymentIntent then waits in ``requires_capture`` for a capture or a cancel.
    capture_method: str = "automatic"
    # "setup": the card is saved to ``customer`` for off-session charges later; nothing is paid, and
    # ``amount`` is not sent (integrations/stripe/saved_cards.py).
    mode: str = "payment"
    customer: str | None = None


@dataclass(frozen=True)
class RequirementError:
    """One entry of ``requirements.errors``: what Stripe could not verify, and why."""

    requirement: str
    code: str
    reason: str


@dataclass(frozen=True)
class ConnectedAccount:
    """A connected account as Stripe reports it (``account`` object, or ``account.updated``'s)."""

    id: str
    charges_enabled: bool
    details_submitted: bool
    payouts_enabled: bool
    # ``requirements.*`` as Stripe reports them.
    requirements_due: list[str] = field(default_factory=list)  # currently_due
    past_due: list[str] = field(default_factory=list)
    disabled_reason: str | None = None
    eventually_due: list[str] = field(default_factory=list)
    pending_verification: list[str] = field(default_factory=list)
    current_deadline: int | None = None  # unix time by which ``currently_due`` must be given
    errors: list[RequirementError] = field(default_factory=list)
    # ``controller.stripe_dashboard.type``: express | full | none (from ``type`` on older accounts).
    dashboard: str = "express"
    # ``controller.requirement_collection``: stripe | application.
    requirement_collection: str = "stripe"

    @property
    def hosted_dashboard(self) -> bool:
        """Stripe hosts a Dashboard for it, so Stripe refuses ``account_update`` links."""
        return self.dashboard != "none"

    @classmethod
    def from_stripe(cls, obj: Any) -> ConnectedAccount:
        obj = _plain(obj)
        req = obj.get("requirements") or {}
        controller = obj.get("controller") or {}
        kind = obj.get("type")
        dashboard = (controller.get("stripe_dashboard") or {}).get("type") or {
            "standard": "full", "custom": "none"
        }.get(kind or "", "express")
        collection = controller.get("requirement_collection") or ("application" if kind == "custom" else "stripe")
        deadline = req.get("current_deadline")
        return cls(
            id=obj.get("id"),
            charges_enabled=bool(obj.get("charges_enabled")),
            details_submitted=bool(obj.get("details_submitted")),
            payouts_enabled=bool(obj.get("payouts_enabled")),
            requirements_due=list(req.get("currently_due") or []),
            past_due=list(req.get("past_due") or []),
            disabled_reason=req.get("disabled_reason"),
            eventually_due=list(req.get("eventually_due") or []),
            pending_verification=list(req.get("pending_verification") or []),
            current_deadline=int(deadline) if deadline else None,
            errors=[
                RequirementError(str(e.get("requirement") or ""), str(e.get("code") or ""), str(e.get("reason") or ""))
                for e in req.get("errors") or []
                if isinstance(e, dict)
            ],
            dashboard=str(dashboard),
            requirement_collection=str(collection),
        )


@dataclass(frozen=True)
class AccountLink:
    """A single-use link to Stripe's onboarding (or update) pages."""

    url: str
    expires_at: int


@dataclass(frozen=True)
class Refund:
    """A Stripe refund: money going back to the patient from the connected account."""

    id: str
    amount: int
    currency: str  # ISO 4217, upper case
    status: str  # pending | requires_action | succeeded | failed | canceled
    payment_intent_id: str | None
    charge_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_stripe(cls, obj: Any) -> Refund:
        """From a Stripe ``refund`` (SDK object or plain dict)."""
        get = _plain(obj).get

        def ref(value: Any) -> str | None:
            return value.get("id") if isinstance(value, dict) else value

        return cls(
            id=get("id"),
            amount=int(get("amount") or 0),
            currency=str(get("currency") or "").upper(),
            status=str(get("status") or ""),
            payment_intent_id=ref(get("payment_intent")),
            charge_id=ref(get("charge")),
            metadata=dict(get("metadata") or {}),
        )


# Stripe's ``cancellation_reason`` for an authorisation it let lapse: "expired" since API
# version 2025-03-31 (the one the SDK pins is later), "automatic" before.
LAPSED_REASONS = ("expired", "automatic")


@dataclass(frozen=True)
class PaymentIntent:
    """A Stripe PaymentIntent; for a hold (``capture_method`` manual) what can still be captured.

    ``status`` is Stripe's: ``requires_capture`` (authorised, nothing taken),
    ``succeeded`` (captured: ``amount_received``), ``canceled`` (released; a lapsed
    authorisation says ``cancellation_reason`` "expired", "automatic" before API
    version 2025-03-31), and the earlier ones (``requires_payment_method``, ``processing``).
    ``capture_before`` is the deadline on the latest charge
    (``payment_method_details.card.capture_before``), known when ``latest_charge``
    came expanded.
    """

    id: str
    status: str
    amount: int
    amount_capturable: int
    amount_received: int
    capture_method: str
    currency: str  # ISO 4217, upper case
    latest_charge: str | None
    capture_before: int | None = None
    cancellation_reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def authorised(self) -> bool:
        """A hold whose card is authorised and not yet captured or released."""
        return self.status == "requires_capture"

    @property
    def lapsed(self) -> bool:
        """Canceled by Stripe because the authorisation expired before it was captured."""
        return self.status == "canceled" and self.cancellation_reason in LAPSED_REASONS

    @classmethod
    def from_stripe(cls, obj: Any) -> PaymentIntent:
        """From a Stripe ``payment_intent`` (SDK object or plain dict), ``latest_charge`` expanded or not."""
        get = _plain(obj).get
        charge = get("latest_charge")
        deadline = None
        if charge is not None and not isinstance(charge, str):
            card = ((_plain(charge).get("payment_method_details") or {}).get("card")) or {}
            deadline = card.get("capture_before")
        return cls(
            id=get("id"),
            status=str(get("status") or ""),
            amount=int(get("amount") or 0),
            amount_capturable=int(get("amount_capturable") or 0),
            amount_received=int(get("amount_received") or 0),
            capture_method=str(get("capture_method") or ""),
            currency=str(get("currency") or "").upper(),
            latest_charge=_ref(charge),
            capture_before=int(deadline) if deadline else None,
            cancellation_reason=get("cancellation_reason"),
            metadata=dict(get("metadata") or {}),
        )


class StripeGateway(Protocol):
    async def create_account(
        self, *, email: str, country: str, name: str, idempotency_key: str
    ) -> ConnectedAccount: ...

    async def retrieve_account(self, account_id: str) -> ConnectedAccount: ...

    async def update_account(self, account_id: str, *, metadata: dict[str, str]) -> ConnectedAccount: ...

    async def delete_account(self, account_id: str) -> None: ...

    async def create_account_link(
        self, *, account: str, refresh_url: str, return_url: str, type: str
    ) -> AccountLink: ...

    async def create_login_link(self, account: str) -> str: ...

    async def create_checkout_session(self, new: NewCheckout) -> CheckoutSession: ...

    async def retrieve_checkout_session(self, session_id: str, *, account: str | None) -> CheckoutSession: ...

    async def expire_checkout_session(self, session_id: str, *, account: str | None) -> CheckoutSession: ...

    async def create_refund(
        self,
        *,
        account: str | None,
        payment_intent_id: str,
        amount: int | None,
        reason: str | None,
        metadata: dict[str, str],
        idempotency_key: str,
    ) -> Refund: ...

    async def retrieve_refund(self, refund_id: str, *, account: str | None) -> Refund: ...

    async def retrieve_payment_intent(self, pi_id: str, *, account: str | None) -> PaymentIntent: ...

    async def capture_payment_intent(
        self,
        pi_id: str,
        *,
        account: str | None,
        amount_to_capture: int,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
        application_fee_amount: int | None = None,
    ) -> PaymentIntent: ...

    async def cancel_payment_intent(
        self,
        pi_id: str,
        *,
        account: str | None,
        idempotency_key: str,
        cancellation_reason: str | None = None,
    ) -> PaymentIntent: ...

    # Saved cards (integrations/stripe/saved_cards.py).
    async def create_customer(self, *, account: str | None, email: str | None, name: str | None,
                              metadata: dict[str, str], idempotency_key: str) -> str: ...

    async def retrieve_setup_intent(self, setup_intent_id: str, *, account: str | None) -> Any: ...

    async def charge_saved_card(self, charge: Any) -> PaymentIntent: ...

    def verify_webhook(self, payload: bytes, signature: str | None, *, endpoint: str = "account") -> dict[str, Any]: ...

    async def close(self) -> None: ...
