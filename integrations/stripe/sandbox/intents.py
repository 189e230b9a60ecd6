"""Holds: PaymentIntents with ``capture_method=manual``, captured, canceled or left to lapse.

A Checkout Session made with ``payment_intent_data[capture_method]=manual`` only
authorises the card: its PaymentIntent waits in ``requires_capture`` with the
whole amount capturable, the Charge is ``captured: false`` and says when the
authorisation expires (``payment_method_details.card.capture_before``, seven days
for an online card payment). From there, as Stripe does it at the API version the
sandbox speaks (2025-03-31 and later):

- capture (``POST /v1/payment_intents/{id}/capture``), all of it or
  ``amount_to_capture`` of it: the PaymentIntent ``succeeded`` with
  ``amount_received``, the Charge ``captured`` with ``amount_captured``; the rest of
  the authorisation is released without a Refund (``amount_refunded`` stays 0);
  events ``charge.captured`` then ``payment_intent.succeeded``;
- cancel (``POST /v1/payment_intents/{id}/cancel``): the PaymentIntent
  ``canceled`` with the ``cancellation_reason`` given, nothing captured, the whole
  authorisation released; event ``payment_intent.canceled``;
- lapse, when the sandbox's clock passes ``capture_before`` uncaptured: canceled
  with ``cancellation_reason`` "expired"; events ``charge.expired`` then
  ``payment_intent.canceled``.

Anything else (capturing twice, capturing more than is capturable, canceling
what is no longer a hold) is refused with Stripe's error and changes nothing.
"""

from __future__ import annotations

from typing import Any

from .context import Sandbox
from .errors import StripeError, resource_missing
from .store import acts_for_owner, new_id, public
from .validation import MAP, SCALAR, STRINGS, check_known, check_metadata, one_of, to_int

# How long an online card authorisation stays valid (Stripe: 7 days for a
# customer-initiated card-not-present payment).
AUTHORISATION_VALID_S = 7 * 24 * 60 * 60
CAPTURE_SPEC = {"amount_to_capture": SCALAR, "application_fee_amount": SCALAR, "metadata": MAP,
                "expand": STRINGS, "final_capture": SCALAR, "statement_descriptor": SCALAR,
                "statement_descriptor_suffix": SCALAR}
CANCEL_SPEC = {"cancellation_reason": SCALAR, "expand": STRINGS}
CANCEL_REASONS = ["abandoned", "duplicate", "fraudulent", "requested_by_customer"]
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation",
              "requires_action", "processing")
# Stripe's reason for an authorisation it let lapse (``automatic`` before 2025-03-31).
LAPSED_REASON = "expired"


def _expiry_id(pi_id: str) -> str:
    return "hold_expiry_" + pi_id


def authorise(sb: Sandbox, pi: dict[str, Any], ch: dict[str, Any], account: str) -> None:
    """Make a fresh PaymentIntent and Charge a hold: authorised, nothing captured yet."""
    now = sb.store.now()
    capture_before = now + AUTHORISATION_VALID_S
    ch.update(captured=False, amount_captured=0, balance_transaction=None, application_fee=None)
    ch["payment_method_details"]["card"]["capture_before"] = capture_before
    pi.update(status="requires_capture", latest_charge=ch["id"], amount_capturable=pi["amount"],
              amount_received=0, processing=None)
    sb.store.put("hold_expiry", {"id": _expiry_id(pi["id"]), "payment_intent": pi["id"],
                                 "charge": ch["id"], "due": capture_before}, account)


def _intent(sb: Sandbox, pi_id: str, account: str) -> dict[str, Any]:
    pi = sb.store.get("payment_intent", pi_id, account)
    if pi is None:
        raise resource_missing("payment_intent", pi_id, "intent")
    return pi


def current(sb: Sandbox, pi_id: str, account: str) -> dict[str, Any]:
    """The PaymentIntent as Stripe would show it now: a hold whose ``capture_before`` has
    passed has lapsed, even if the sweep has not come round to it yet."""
    pi = _intent(sb, pi_id, account)
    if pi["status"] == "requires_capture":
        job = sb.store.get("hold_expiry", _expiry_id(pi_id))
        if job is not None and job["due"] <= sb.store.now():
            pi = lapse(sb, pi_id, account)
    return pi


def _unexpected_state(pi: dict[str, Any], message: str) -> StripeError:
    """Stripe's refusal of an action the PaymentIntent's status does not allow; the
    error carries the PaymentIntent as it is."""
    return StripeError(400, message, code="payment_intent_unexpected_state",
                       extra={"payment_intent": public(pi)})


def _charge_of(sb: Sandbox, pi: dict[str, Any], account: str) -> dict[str, Any]:
    ch = sb.store.get("charge", pi["latest_charge"], account) if pi.get("latest_charge") else None
    if ch is None:  # a hold always has its charge; anything else is the sandbox's own fault
        raise StripeError(500, f"PaymentIntent {pi['id']} has no charge.", type="api_error")
    return ch


def _updated_metadata(current: dict[str, str], given: Any) -> dict[str, str]:
    """Stripe's metadata update: keys given are set, a key given empty is removed, and
    ``metadata=""`` removes them all."""
    if given is None:
        return dict(current)
    if given == "":
        return {}
    check_metadata(given)
    merged = {**current, **given}
    out = {k: v for k, v in merged.items() if v != ""}
    if len(out) > 50:
        raise StripeError(400, "You can specify up to 50 keys in metadata.", param="metadata")
    return out


def capture(sb: Sandbox, pi_id: str, account: str, params: dict[str, Any], *,
            request_id: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
    """Capture all of a hold, or ``amount_to_capture`` of it; checked and done as one."""
    check_known(params, CAPTURE_SPEC)
    with sb.store.transaction():  # another process sharing the file waits: no double capture
        return _capture(sb, pi_id, account, params, request_id, idempotency_key)


def _capture(sb: Sandbox, pi_id: str, account: str, params: dict[str, Any],
             request_id: str | None, idempotency_key: str | None) -> dict[str, Any]:
    pi = current(sb, pi_id, account)
    if pi["status"] != "requires_capture":
        if pi["status"] == "succeeded":
            raise _unexpected_state(pi, "This PaymentIntent could not be captured because it has already "
                                        "been captured.")
        raise _unexpected_state(
            pi, f"This PaymentIntent could not be captured because it has a status of {pi['status']}. "
                "Only a PaymentIntent with one of the following statuses may be captured: requires_capture.")
    capturable = pi["amount_capturable"]
    amount = capturable
    if params.get("amount_to_capture") not in (None, ""):
        amount = to_int(params["amount_to_capture"], "amount_to_capture", minimum=1)
    if amount > capturable:
        raise StripeError(
            400, "The payment could not be captured because the requested capture amount is greater "
                 "than the amount you can capture for this charge.",
            code="amount_too_large", param="amount_to_capture")
    if str(params.get("final_capture", "true")).lower() == "false":
        raise StripeError(400, "Multicapture is not available for this payment.",
                          code="parameter_invalid_string", param="final_capture")
    fee = pi.get("application_fee_amount")
    if params.get("application_fee_amount") not in (None, ""):
        fee = to_int(params["application_fee_amount"], "application_fee_amount", minimum=0)
        if not account:
            raise StripeError(400, "Can only apply an application_fee_amount when the PaymentIntent is "
                              "attempting a direct payment (using an OAuth key or Stripe-Account header) "
                              "or destination payment (using `transfer_data[destination]`).",
                              param="application_fee_amount")
        if fee > amount:
            raise StripeError(400, "The application fee cannot be greater than the amount captured.",
                              param="application_fee_amount")
    elif fee is not None:
        fee = min(fee, amount)  # Stripe caps the fee at what is captured
    metadata = _updated_metadata(pi["metadata"], params.get("metadata"))
    with sb.store.transaction():
        ch = _charge_of(sb, pi, account)
        previous = {"amount_captured": ch["amount_captured"], "captured": ch["captured"],
                    "balance_transaction": ch["balance_transaction"]}
        ch.update(captured=True, amount_captured=amount, balance_transaction=new_id("txn_"),
                  application_fee_amount=fee, application_fee=new_id("fee_") if fee else None)
        pi.update(status="succeeded", amount_capturable=0, amount_received=amount,
                  application_fee_amount=fee, metadata=metadata)
        sb.store.put("charge", ch, account)
        sb.store.put("payment_intent", pi, account)
        sb.store.delete(_expiry_id(pi["id"]))
        sb.webhooks.emit("charge.captured", ch, account=account, request_id=request_id,
                         idempotency_key=idempotency_key, previous_attributes=previous)
        sb.webhooks.emit("payment_intent.succeeded", pi, account=account, request_id=request_id,
                         idempotency_key=idempotency_key)
    return pi


def cancel(sb: Sandbox, pi_id: str, account: str, params: dict[str, Any], *,
           request_id: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
    """Release a whole hold; checked and done as one."""
    check_known(params, CANCEL_SPEC)
    with sb.store.transaction():
        return _cancel(sb, pi_id, account, params, request_id, idempotency_key)


def _cancel(sb: Sandbox, pi_id: str, account: str, params: dict[str, Any],
            request_id: str | None, idempotency_key: str | None) -> dict[str, Any]:
    pi = current(sb, pi_id, account)
    reason = None
    if params.get("cancellation_reason") not in (None, ""):
        reason = one_of(params["cancellation_reason"], CANCEL_REASONS, "cancellation_reason")
    if pi["status"] not in CANCELABLE:
        raise _unexpected_state(
            pi, f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
                "PaymentIntent with one of the following statuses may be canceled: "
                + ", ".join(CANCELABLE) + ".")
    if pi["status"] != "requires_capture":
        # Every PaymentIntent here comes from a Checkout Session (Stripe: cancel one only
        # while it is requires_capture; otherwise expire the session).
        raise _unexpected_state(
            pi, "This PaymentIntent was created by a Checkout Session and can only be canceled while its "
                f"status is requires_capture; it has a status of {pi['status']}. Expire the Checkout "
                "Session instead.")
    with sb.store.transaction():
        pi = _release(sb, pi, _charge_of(sb, pi, account), account, reason)
        sb.webhooks.emit("payment_intent.canceled", pi, account=account, request_id=request_id,
                         idempotency_key=idempotency_key)
    return pi


def _release(sb: Sandbox, pi: dict[str, Any], ch: dict[str, Any], account: str,
             reason: str | None) -> dict[str, Any]:
    """Cancel a hold: nothing captured, the authorisation goes back to the card. Since API
    version 2025-03-31 this makes no Refund and leaves the Charge's ``amount_refunded``
    and ``refunded`` as they were (only the sandbox's dashboard notes it released)."""
    pi.update(status="canceled", canceled_at=sb.store.now(), cancellation_reason=reason,
              amount_capturable=0)
    ch["__released"] = True
    sb.store.put("charge", ch, account)
    sb.store.put("payment_intent", pi, account)
    sb.store.delete(_expiry_id(pi["id"]))
    return pi


@acts_for_owner
def lapse(sb: Sandbox, pi_id: str, account: str) -> dict[str, Any]:
    """Let a hold's authorisation expire now, as Stripe does at ``capture_before``."""
    with sb.store.transaction():
        pi = _intent(sb, pi_id, account)
        if pi["status"] != "requires_capture":
            raise _unexpected_state(
                pi, f"This PaymentIntent has a status of {pi['status']}; only an uncaptured authorization "
                    "(requires_capture) can expire.")
        ch = _charge_of(sb, pi, account)
        pi = _release(sb, pi, ch, account, LAPSED_REASON)
        sb.webhooks.emit("charge.expired", ch, account=account)
        sb.webhooks.emit("payment_intent.canceled", pi, account=account)
    return pi


def lapse_due(sb: Sandbox) -> None:
    """Every hold whose ``capture_before`` the sandbox's clock has passed lapses."""
    now = sb.store.now()
    for account, job in sb.store.all_with_account("hold_expiry"):
        if job["due"] > now:
            continue
        pi = sb.store.get("payment_intent", job["payment_intent"], account)
        if pi is None or pi["status"] != "requires_capture":
            sb.store.delete(job["id"])  # captured or released meanwhile (another process)
            continue
        lapse(sb, pi["id"], account)
