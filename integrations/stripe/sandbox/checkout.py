"""Checkout Sessions: creation, expiry, and what a payment does.

Paying creates the PaymentIntent and Charge on the session's account and
raises the events real Stripe sends, in Stripe's usual order: charge,
payment intent, then the session. A delayed ("async") payment method completes
the session unpaid and settles later, from the sweep.
"""

from __future__ import annotations

from typing import Any

from . import intents, objects, saved_cards
from .cards import Card, CardError, check_card, declined_card
from .context import Sandbox
from .errors import StripeError, amount_too_small, invalid_param, missing_param, resource_missing
from .store import acts_for_owner, new_id
from .validation import (
    CAPTURE_METHODS,
    CHECKOUT_LOCALES,
    MAP,
    SCALAR,
    STRINGS,
    as_list,
    check_currency,
    check_email,
    check_known,
    check_metadata,
    check_url,
    one_of,
    require,
    to_int,
)

CREATE_SPEC = {
    "mode": SCALAR, "success_url": SCALAR, "cancel_url": SCALAR, "client_reference_id": SCALAR,
    "customer_email": SCALAR, "expires_at": SCALAR, "locale": SCALAR, "metadata": MAP,
    "payment_method_types": STRINGS, "expand": STRINGS, "submit_type": SCALAR,
    "billing_address_collection": SCALAR, "customer_creation": SCALAR, "ui_mode": SCALAR,
    "customer": SCALAR, "currency": SCALAR,
    "setup_intent_data": {"metadata": MAP, "description": SCALAR, "on_behalf_of": SCALAR},
    "line_items": [{
        "quantity": SCALAR, "price": SCALAR,
        "price_data": {
            "currency": SCALAR, "unit_amount": SCALAR, "tax_behavior": SCALAR,
            "product": SCALAR,
            "product_data": {"name": SCALAR, "description": SCALAR, "images": STRINGS,
                             "metadata": MAP},
        },
    }],
    "payment_intent_data": {
        "application_fee_amount": SCALAR, "metadata": MAP, "receipt_email": SCALAR,
        "description": SCALAR, "capture_method": SCALAR, "statement_descriptor": SCALAR,
        "statement_descriptor_suffix": SCALAR,
    },
}
MIN_EXPIRY_S = 30 * 60
MAX_EXPIRY_S = 24 * 60 * 60


def _line_items(params: dict[str, Any], now: int) -> tuple[list[dict[str, Any]], str, int]:
    items = params.get("line_items")
    if not items:
        raise missing_param("line_items")
    currency = None
    built = []
    for i, item in enumerate(items):
        p = f"line_items[{i}]"
        if item.get("price"):
            raise resource_missing("price", item["price"], f"{p}[price]")
        pd = item.get("price_data")
        if not pd:
            raise missing_param(f"{p}[price_data]")
        cur = check_currency(require(pd, "currency", f"{p}[price_data]"),
                             f"{p}[price_data][currency]")
        if currency and cur != currency:
            raise invalid_param(f"{p}[price_data][currency]",
                                "All line items must have the same currency.")
        currency = cur
        if "product" in pd:
            raise resource_missing("product", pd["product"], f"{p}[price_data][product]")
        product = pd.get("product_data")
        if not product:
            raise missing_param(f"{p}[price_data][product_data]")
        require(product, "name", f"{p}[price_data][product_data]")
        unit = to_int(require(pd, "unit_amount", f"{p}[price_data]"),
                      f"{p}[price_data][unit_amount]", minimum=0)
        qty = to_int(require(item, "quantity", p), f"{p}[quantity]", minimum=1)
        clean = {"price_data": {**pd, "currency": cur, "unit_amount": unit}, "quantity": qty}
        built.append(objects.line_item(clean, cur, now))
    assert currency is not None
    total = sum(li["amount_total"] for li in built)
    return built, currency, total


def create_session(sb: Sandbox, account: str, params: dict[str, Any]) -> dict[str, Any]:
    check_known(params, CREATE_SPEC)
    now = sb.store.now()
    mode = one_of(require(params, "mode"), ["payment", "setup", "subscription"], "mode")
    if mode not in ("payment", "setup"):
        raise invalid_param("mode", f"The sandbox supports modes `payment` and `setup`, not `{mode}`.")
    if account:
        acct = sb.store.get("account", account)
        if acct is not None and not acct["charges_enabled"]:
            raise StripeError(
                400,
                "Your account cannot currently make charges. To find out why charge creation "
                "is currently disabled, look at the `requirements.disabled_reason` property "
                f"on this account (/v1/accounts/{account}).",
                code="account_invalid",
            )
    if params.get("locale") not in (None, ""):
        one_of(params["locale"], list(CHECKOUT_LOCALES), "locale")
    for key in ("success_url", "cancel_url"):
        if params.get(key) not in (None, ""):
            check_url(params[key], key)
    if params.get("customer_email"):
        check_email(params["customer_email"], "customer_email")
    types = as_list(params.get("payment_method_types")) or ["card"]
    for i, t in enumerate(types):
        if t != "card":
            raise invalid_param(f"payment_method_types[{i}]",
                                f"The payment method type provided: {t} is invalid.")
    params["payment_method_types"] = types
    params["metadata"] = check_metadata(params.get("metadata"))
    if mode == "setup":
        # A card saved for later (saved_cards.py): no line items, nothing charged.
        items, currency, total = [], saved_cards.check_setup_session(sb, account, params), 0
    else:
        if params.get("customer") and sb.store.get("customer", params["customer"], account) is None:
            raise resource_missing("customer", params["customer"], "customer")
        items, currency, total = _line_items(params, now)
        minimum = objects.MINIMUM_AMOUNT.get(currency, 50)
        if total < minimum:
            raise amount_too_small(objects.format_amount(minimum, currency))
    expires_at = now + MAX_EXPIRY_S
    if params.get("expires_at") not in (None, ""):
        expires_at = to_int(params["expires_at"], "expires_at")
        # A few seconds of slack for the client's clock and the request's travel.
        if expires_at < now + MIN_EXPIRY_S - 10:
            raise invalid_param("expires_at", "The `expires_at` timestamp must be at least "
                                "30 minutes from Checkout Session creation.")
        if expires_at > now + MAX_EXPIRY_S:
            raise invalid_param("expires_at", "The `expires_at` timestamp must be less than "
                                "24 hours from Checkout Session creation.")
    pid = dict(params.get("payment_intent_data") or {})
    if pid.get("application_fee_amount") not in (None, ""):
        fee = to_int(pid["application_fee_amount"],
                     "payment_intent_data[application_fee_amount]", minimum=0)
        if not account:
            raise invalid_param(
                "payment_intent_data[application_fee_amount]",
                "Can only apply an application_fee_amount when the PaymentIntent is attempting "
                "a direct payment (using an OAuth key or Stripe-Account header) or destination "
                "payment (using `transfer_data[destination]`).",
            )
        if fee > total:
            raise invalid_param("payment_intent_data[application_fee_amount]",
                                "The application fee cannot be greater than the amount.")
        pid["application_fee_amount"] = fee
    if pid.get("capture_method") not in (None, ""):
        one_of(pid["capture_method"], list(CAPTURE_METHODS), "payment_intent_data[capture_method]")
    if pid.get("metadata"):
        pid["metadata"] = check_metadata(pid["metadata"], "payment_intent_data[metadata]")
    if pid.get("receipt_email"):
        check_email(pid["receipt_email"], "payment_intent_data[receipt_email]")
    params["payment_intent_data"] = pid
    session_id = new_id("cs_test_a1", 58)
    session = objects.checkout_session(
        session_id=session_id, now=now, params=params, line_items=items, currency=currency,
        amount_total=total, url=f"{sb.public_url}/checkout/{session_id}", expires_at=expires_at,
    )
    session["customer"] = params.get("customer") or None
    if mode == "setup":
        session.update(amount_subtotal=None, amount_total=None, payment_status="no_payment_required")
        session["__setup_intent_data"] = params["setup_intent_data"]
    sb.store.put("checkout.session", session, account)
    return session


def get_session(sb: Sandbox, session_id: str, account: str | None) -> dict[str, Any]:
    """The session, expired first if its time has passed (Stripe expires lazily too)."""
    session = sb.store.get("checkout.session", session_id, account)
    if session is None:
        raise resource_missing("checkout.session", session_id, "session")
    if session["status"] == "open" and session["expires_at"] <= sb.store.now():
        session = expire(sb, session, sb.store.account_of(session_id) or "")
    return session


@acts_for_owner
def expire(sb: Sandbox, session: dict[str, Any], account: str,
           request_id: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
    if session["status"] != "open":
        raise StripeError(
            400,
            f"Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout "
            f"Session has a status of \"{session['status']}\".",
        )
    with sb.store.transaction():
        # Another process sharing the file may have expired or paid it meanwhile.
        fresh = sb.store.get("checkout.session", session["id"])
        if fresh is None or fresh["status"] != "open":
            return fresh or session
        session = fresh
        session["status"] = "expired"
        session["url"] = None
        sb.store.put("checkout.session", session, account)
        sb.webhooks.emit("checkout.session.expired", session, account=account,
                         request_id=request_id, idempotency_key=idempotency_key)
    return session


def sweep(sb: Sandbox) -> None:
    """Expire overdue sessions, settle delayed payments whose time has come, and let
    authorisations lapse that were not captured by their ``capture_before``."""
    now = sb.store.now()
    intents.lapse_due(sb)
    for account, session in sb.store.all_with_account("checkout.session"):
        if session["status"] == "open" and session["expires_at"] <= now:
            expire(sb, session, account)
    for account, job in sb.store.all_with_account("async_settlement"):
        if job["due"] <= now:
            sb.store.delete(job["id"])
            session = sb.store.get("checkout.session", job["session"])
            if session is not None:
                _settle_async(sb, session, account, job)


@acts_for_owner
def pay(sb: Sandbox, session_id: str, *, card_number: str, exp: str, cvc: str, email: str,
        async_outcome: str | None = None) -> dict[str, Any]:
    """Pay an open session, as the hosted page does; CardError for a decline."""
    session = get_session(sb, session_id, None)
    account = sb.store.account_of(session_id) or ""
    if session["status"] != "open":
        raise StripeError(400, f"This Checkout Session is no longer active (status "
                          f"{session['status']}).", code="checkout_session_inactive")
    email = (email or session.get("customer_email") or "").strip()
    if not email:
        raise CardError("email_invalid", "Your email address is incomplete.", param="email")
    try:
        check_email(email, "email")
    except StripeError:
        raise CardError("email_invalid", "Your email address is invalid.", param="email") from None
    now = sb.store.now()
    setup = session["mode"] == "setup"
    try:
        card = check_card(card_number, exp, cvc, now, charged=not setup)
    except CardError as e:
        if setup:
            raise  # nothing was attempted on a payment: the page asks for another card
        if e.decline_code is not None:  # it reached the card issuer: Stripe records the attempt
            _declined(sb, session_id, account, e, declined_card(card_number, exp), email, now)
        raise
    with sb.store.transaction():
        fresh = sb.store.get("checkout.session", session_id)
        if fresh is None or fresh["status"] != "open":
            raise StripeError(400, "This Checkout Session is no longer active.",
                              code="checkout_session_inactive")
        session = fresh
        if setup:
            saved_cards.complete_setup(sb, session, card, email, account)
            return session
        pm_id = new_id("pm_")
        pi = _intent(sb, session, now, "processing" if async_outcome else "succeeded", pm_id)
        session["status"] = "complete"
        session["url"] = None
        session["customer_details"] = {
            "address": None, "business_name": None, "email": email, "individual_name": None,
            "name": None, "phone": None, "tax_exempt": "none", "tax_ids": [],
        }
        if async_outcome:
            session["payment_status"] = "unpaid"
            session["__card"] = card.details()
            pi["processing"] = {"type": "card"}
            sb.store.put("payment_intent", pi, account)
            sb.store.put("checkout.session", session, account)
            sb.store.put("async_settlement", {
                "id": new_id("as_"), "session": session_id, "outcome": async_outcome,
                "due": now + int(sb.async_delay_s), "email": email, "number": card.number,
            }, account)
            sb.webhooks.emit("payment_intent.processing", pi, account=account)
            sb.webhooks.emit("checkout.session.completed", session, account=account)
            return session
        ch = _charge(sb, pi, card, email, pm_id, account)
        held = pi["status"] == "requires_capture"
        # A hold (manual capture) completes the session unpaid: nothing is taken yet.
        session["payment_status"] = "unpaid" if held else "paid"
        sb.store.put("checkout.session", session, account)
        sb.webhooks.emit("charge.succeeded", ch, account=account)
        sb.webhooks.emit("payment_intent.amount_capturable_updated" if held else "payment_intent.succeeded",
                         pi, account=account)
        sb.webhooks.emit("checkout.session.completed", session, account=account)
    return session


def _intent(sb: Sandbox, session: dict[str, Any], now: int, status: str, pm_id: str) -> dict[str, Any]:
    """The session's PaymentIntent, made at its first attempt and kept for the next ones."""
    pi = objects.payment_intent(
        now=now, amount=session["amount_total"], currency=session["currency"],
        pid=session["__payment_intent_data"], status=status, charge_id=None, payment_method=pm_id)
    earlier = sb.store.get("payment_intent", session["payment_intent"]) if session.get("payment_intent") else None
    if earlier is not None:
        pi.update(id=earlier["id"], client_secret=earlier["client_secret"], created=earlier["created"])
    session["payment_intent"] = pi["id"]
    return pi


def _declined(sb: Sandbox, session_id: str, account: str, error: CardError, card: Card,
              email: str, now: int) -> None:
    """A decline, as Stripe records it: the session stays open for another card; its
    PaymentIntent (made now, or kept from an earlier attempt) waits for a new payment method
    with ``last_payment_error``, and the connected account hears ``charge.failed`` and
    ``payment_intent.payment_failed``."""
    with sb.store.transaction():
        session = sb.store.get("checkout.session", session_id)
        if session is None or session["status"] != "open":
            return
        pm_id = new_id("pm_")
        pi = _intent(sb, session, now, "requires_payment_method", pm_id)
        ch = objects.charge(charge_id=new_id("ch_"), now=now, pi=pi, card=card.details(),
                            email=email, payment_method=pm_id)
        ch.update(status="failed", paid=False, captured=False, amount_captured=0,
                  balance_transaction=None, application_fee=None,
                  failure_code=error.code, failure_message=error.message,
                  outcome={**ch["outcome"], "network_status": "declined_by_network",
                           "reason": error.decline_code, "seller_message": "The bank declined the payment.",
                           "type": "issuer_declined"})
        pi.update(payment_method=None, latest_charge=ch["id"], last_payment_error={
            "type": "card_error", "code": error.code, "decline_code": error.decline_code,
            "message": error.message, "charge": ch["id"], "doc_url": f"https://stripe.com/docs/error-codes/{error.code}",
            "param": None, "payment_method": {"id": pm_id, "object": "payment_method", "type": "card"}})
        sb.store.put("charge", ch, account)
        sb.store.put("payment_intent", pi, account)
        sb.store.put("checkout.session", session, account)
        sb.webhooks.emit("charge.failed", ch, account=account)
        sb.webhooks.emit("payment_intent.payment_failed", pi, account=account)


def _charge(sb: Sandbox, pi: dict[str, Any], card: Card, email: str, pm_id: str,
            account: str) -> dict[str, Any]:
    ch_id = new_id("ch_")
    ch = objects.charge(charge_id=ch_id, now=sb.store.now(), pi=pi, card=card.details(),
                        email=email, payment_method=pm_id)
    if pi["capture_method"] == "manual":
        intents.authorise(sb, pi, ch, account)
    else:
        pi.update(status="succeeded", latest_charge=ch_id, amount_received=pi["amount"],
                  processing=None)
    sb.store.put("charge", ch, account)
    sb.store.put("payment_intent", pi, account)
    return ch


@acts_for_owner
def _settle_async(sb: Sandbox, session: dict[str, Any], account: str, job: dict[str, Any]) -> None:
    pi = sb.store.get("payment_intent", session["payment_intent"])
    if pi is None:
        return
    with sb.store.transaction():
        if job["outcome"] == "succeeded":
            d = session.pop("__card")
            card = Card(job["number"], d["brand"], d["exp_month"], d["exp_year"])
            ch = _charge(sb, pi, card, job["email"], pi["payment_method"], account)
            held = pi["status"] == "requires_capture"
            session["payment_status"] = "unpaid" if held else "paid"
            sb.store.put("checkout.session", session, account)
            sb.webhooks.emit("charge.succeeded", ch, account=account)
            sb.webhooks.emit("payment_intent.amount_capturable_updated" if held else "payment_intent.succeeded",
                             pi, account=account)
            sb.webhooks.emit("checkout.session.async_payment_succeeded", session, account=account)
        else:
            pi.update(status="requires_payment_method", processing=None, last_payment_error={
                "code": "payment_intent_payment_attempt_failed", "decline_code": None,
                "message": "The payment failed.", "type": "invalid_request_error"})
            sb.store.put("payment_intent", pi, account)
            sb.webhooks.emit("payment_intent.payment_failed", pi, account=account)
            sb.webhooks.emit("checkout.session.async_payment_failed", session, account=account)
