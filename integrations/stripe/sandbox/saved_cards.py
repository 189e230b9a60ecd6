"""Cards saved for later: Customers, Checkout in ``setup`` mode, and off-session charges.

As Stripe documents it ("Save a customer's payment method without making a
payment"): a Checkout Session with ``mode=setup`` and a ``customer`` collects a
card without charging it. When the customer submits the hosted page, a
SetupIntent ``succeeded`` with ``usage`` ``off_session`` holds the new
PaymentMethod, which is attached to the Customer; the session completes with
``payment_status`` ``no_payment_required`` and names the SetupIntent. Events:
``payment_method.attached``, ``setup_intent.succeeded``, then
``checkout.session.completed``.

Later the merchant charges the saved card with the customer away: a
PaymentIntent created with ``customer``, ``payment_method``, ``off_session=true``
and ``confirm=true``. It ``succeeded`` at once (``charge.succeeded``,
``payment_intent.succeeded``), or the card is declined: HTTP 402, a
``card_error`` whose body carries the PaymentIntent (now
``requires_payment_method`` with ``last_payment_error``), and the events
``charge.failed`` and ``payment_intent.payment_failed``. A card that needs its
holder to authenticate (4000 0027 6000 3184) is declined off-session with code
and decline code ``authentication_required``; 4000 0000 0000 0341 saves, and
every charge to it is declined.
"""

from __future__ import annotations

from typing import Any

from . import objects
from .cards import OFF_SESSION_DECLINES, Card
from .context import Sandbox
from .errors import StripeError, invalid_param, missing_param, resource_missing
from .store import new_id, public
from .validation import check_currency, check_email, check_metadata, require, to_int


def customer(*, now: int, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("cus_", 14), "object": "customer", "address": None, "balance": 0, "created": now,
        "currency": None, "default_source": None, "delinquent": False,
        "description": params.get("description"), "discount": None, "email": params.get("email"),
        "invoice_prefix": new_id("", 8).upper(),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
        "livemode": False, "metadata": params.get("metadata") or {}, "name": params.get("name"),
        "next_invoice_sequence": 1, "phone": None, "preferred_locales": list(params.get("preferred_locales") or []),
        "shipping": None, "tax_exempt": "none", "test_clock": None,
    }


def create_customer(sb: Sandbox, account: str, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("email"):
        check_email(params["email"], "email")
    params["metadata"] = check_metadata(params.get("metadata"))
    cus = customer(now=sb.store.now(), params=params)
    sb.store.put("customer", cus, account)
    return cus


def payment_method(*, now: int, card: Card, email: str, customer_id: str | None) -> dict[str, Any]:
    d = card.details()
    return {
        "id": new_id("pm_"), "object": "payment_method", "allow_redisplay": "unspecified",
        "billing_details": {"address": {"city": None, "country": None, "line1": None, "line2": None,
                                        "postal_code": None, "state": None},
                            "email": email, "name": None, "phone": None, "tax_id": None},
        "card": {"brand": d["brand"], "checks": {"address_line1_check": None, "address_postal_code_check": None,
                                                 "cvc_check": "pass"},
                 "country": "US", "display_brand": d["brand"], "exp_month": d["exp_month"],
                 "exp_year": d["exp_year"], "fingerprint": d["fingerprint"], "funding": "credit",
                 "generated_from": None, "last4": d["last4"],
                 "networks": {"available": [d["brand"]], "preferred": None}, "regulated_status": "unregulated",
                 "three_d_secure_usage": {"supported": True}, "wallet": None},
        "created": now, "customer": customer_id, "livemode": False, "metadata": {}, "type": "card",
        "__number": card.number, "__email": email,
    }


def setup_intent(*, now: int, customer_id: str | None, pm_id: str, data: dict[str, Any]) -> dict[str, Any]:
    si_id = new_id("seti_")
    return {
        "id": si_id, "object": "setup_intent", "application": None, "automatic_payment_methods": None,
        "cancellation_reason": None, "client_secret": f"{si_id}_secret_{new_id('', 25)}", "created": now,
        "customer": customer_id, "description": data.get("description"), "flow_directions": None,
        "last_setup_error": None, "latest_attempt": new_id("setatt_"), "livemode": False, "mandate": None,
        "metadata": data.get("metadata") or {}, "next_action": None, "on_behalf_of": None,
        "payment_method": pm_id, "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"mandate_options": None, "network": None,
                                            "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"], "single_use_mandate": None, "status": "succeeded",
        "usage": "off_session",
    }


def check_setup_session(sb: Sandbox, account: str, params: dict[str, Any]) -> str:
    """A ``mode=setup`` session's own parameters; its currency (lower case)."""
    if params.get("line_items"):
        raise invalid_param("line_items", "You cannot pass `line_items` in `setup` mode.")
    if params.get("payment_intent_data"):
        raise invalid_param("payment_intent_data", "You cannot pass `payment_intent_data` in `setup` mode.")
    currency = check_currency(require(params, "currency"), "currency")
    cus = params.get("customer")
    if cus and sb.store.get("customer", cus, account) is None:
        raise resource_missing("customer", cus, "customer")
    data = dict(params.get("setup_intent_data") or {})
    if data.get("metadata"):
        data["metadata"] = check_metadata(data["metadata"], "setup_intent_data[metadata]")
    params["setup_intent_data"] = data
    return currency


def complete_setup(sb: Sandbox, session: dict[str, Any], card: Card, email: str, account: str) -> None:
    """The hosted page submitted in setup mode: the card saved to the session's Customer."""
    now = sb.store.now()
    cus = session.get("customer")
    pm = payment_method(now=now, card=card, email=email, customer_id=cus)
    si = setup_intent(now=now, customer_id=cus, pm_id=pm["id"], data=session.get("__setup_intent_data") or {})
    session.update(status="complete", url=None, payment_status="no_payment_required", setup_intent=si["id"])
    session["customer_details"] = {
        "address": None, "business_name": None, "email": email, "individual_name": None, "name": None,
        "phone": None, "tax_exempt": "none", "tax_ids": [],
    }
    sb.store.put("payment_method", pm, account)
    sb.store.put("setup_intent", si, account)
    sb.store.put("checkout.session", session, account)
    if cus:
        sb.webhooks.emit("payment_method.attached", pm, account=account)
    sb.webhooks.emit("setup_intent.succeeded", si, account=account)
    sb.webhooks.emit("checkout.session.completed", session, account=account)


def _truthy(params: dict[str, Any], key: str) -> bool:
    return str(params.get(key, "")).lower() in ("true", "1", "one_off", "recurring")


def create_intent(sb: Sandbox, account: str, params: dict[str, Any], *, request_id: str | None = None,
                  idempotency_key: str | None = None) -> tuple[dict[str, Any], StripeError | None]:
    """``POST /v1/payment_intents``: a saved card charged with its holder away.

    Returns the PaymentIntent, and the card error to answer with when it was declined (the
    PaymentIntent and its failed Charge are kept either way, as Stripe keeps them).
    """
    if not _truthy(params, "confirm"):
        raise invalid_param("confirm", "The sandbox creates PaymentIntents only to charge a saved card at once: "
                            "pass `confirm=true` and `off_session=true`.")
    if not _truthy(params, "off_session"):
        raise invalid_param("off_session", "The sandbox charges saved cards off-session only: pass "
                            "`off_session=true`.")
    amount = to_int(require(params, "amount"), "amount", minimum=1)
    currency = check_currency(require(params, "currency"), "currency")
    minimum = objects.MINIMUM_AMOUNT.get(currency, 50)
    if amount < minimum:
        raise StripeError(400, f"Amount must be at least {objects.format_amount(minimum, currency)} {currency}",
                          code="amount_too_small", param="amount")
    pm_id = params.get("payment_method")
    if not pm_id:
        raise missing_param("payment_method")
    pm = sb.store.get("payment_method", pm_id, account)
    if pm is None:
        raise resource_missing("payment_method", pm_id, "payment_method")
    cus = params.get("customer")
    if cus and sb.store.get("customer", cus, account) is None:
        raise resource_missing("customer", cus, "customer")
    if pm["customer"] is not None and cus != pm["customer"]:
        raise invalid_param("customer", f"The provided PaymentMethod is attached to the Customer {pm['customer']}; "
                            "pass that Customer as `customer` to charge it.")
    if pm["customer"] is None:
        raise invalid_param("payment_method", "The provided PaymentMethod was previously used without being "
                            "attached to a Customer or was detached from a Customer, and may not be used again.")
    pid: dict[str, Any] = {"metadata": check_metadata(params.get("metadata")),
                           "description": params.get("description"), "receipt_email": params.get("receipt_email")}
    if params.get("application_fee_amount") not in (None, ""):
        fee = to_int(params["application_fee_amount"], "application_fee_amount", minimum=0)
        if not account:
            raise invalid_param("application_fee_amount", "Can only apply an application_fee_amount when the "
                                "PaymentIntent is attempting a direct payment (using an OAuth key or "
                                "Stripe-Account header) or destination payment (using `transfer_data[destination]`).")
        if fee > amount:
            raise invalid_param("application_fee_amount", "The application fee cannot be greater than the amount.")
        pid["application_fee_amount"] = fee
    now = sb.store.now()
    d = pm["card"]
    card = {"brand": d["brand"], "last4": d["last4"], "exp_month": d["exp_month"], "exp_year": d["exp_year"],
            "fingerprint": d["fingerprint"]}
    decline = OFF_SESSION_DECLINES.get(pm["__number"])
    with sb.store.transaction():
        pi = objects.payment_intent(now=now, amount=amount, currency=currency, pid=pid,
                                    status="requires_payment_method" if decline else "succeeded",
                                    charge_id=None, payment_method=pm_id)
        pi.update(customer=cus, capture_method="automatic")
        ch = objects.charge(charge_id=new_id("ch_"), now=now, pi=pi, card=card, email=pm["__email"],
                            payment_method=pm_id)
        ch["customer"] = cus
        pi["latest_charge"] = ch["id"]
        if decline is None:
            sb.store.put("charge", ch, account)
            sb.store.put("payment_intent", pi, account)
            sb.webhooks.emit("charge.succeeded", ch, account=account, request_id=request_id,
                             idempotency_key=idempotency_key)
            sb.webhooks.emit("payment_intent.succeeded", pi, account=account, request_id=request_id,
                             idempotency_key=idempotency_key)
            return pi, None
        code, decline_code, message = decline
        ch.update(status="failed", paid=False, captured=False, amount_captured=0, balance_transaction=None,
                  application_fee=None, failure_code=code, failure_message=message,
                  outcome={**ch["outcome"], "network_status": "declined_by_network", "reason": decline_code,
                           "seller_message": "The bank did not return any further details with this decline.",
                           "type": "issuer_declined"})
        doc_url = "https://stripe.com/docs/error-codes/" + code.replace("_", "-")
        pi.update(payment_method=None, last_payment_error={
            "charge": ch["id"], "code": code, "decline_code": decline_code, "doc_url": doc_url,
            "message": message, "payment_method": public(pm), "type": "card_error"})
        sb.store.put("charge", ch, account)
        sb.store.put("payment_intent", pi, account)
        sb.webhooks.emit("charge.failed", ch, account=account, request_id=request_id,
                         idempotency_key=idempotency_key)
        sb.webhooks.emit("payment_intent.payment_failed", pi, account=account, request_id=request_id,
                         idempotency_key=idempotency_key)
    error = StripeError(402, message, type="card_error", code=code, decline_code=decline_code,
                        extra={"charge": ch["id"], "payment_intent": public(pi), "payment_method": public(pm)})
    return pi, error
