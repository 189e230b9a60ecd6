"""Refunds: against a charge or a payment intent, never more than remains of what was captured."""

from __future__ import annotations

from typing import Any

from . import objects
from .context import Sandbox
from .errors import StripeError, resource_missing
from .validation import MAP, SCALAR, STRINGS, check_known, check_metadata, one_of, to_int

CREATE_SPEC = {"charge": SCALAR, "payment_intent": SCALAR, "amount": SCALAR, "reason": SCALAR,
               "metadata": MAP, "expand": STRINGS, "instructions_email": SCALAR}


def create_refund(sb: Sandbox, account: str, params: dict[str, Any], *,
                  request_id: str | None = None, idempotency_key: str | None = None,
                  ) -> dict[str, Any]:
    check_known(params, CREATE_SPEC)
    store = sb.store
    if params.get("charge"):
        charge = store.get("charge", params["charge"], account)
        if charge is None:
            raise resource_missing("charge", params["charge"], "charge")
    elif params.get("payment_intent"):
        pi = store.get("payment_intent", params["payment_intent"], account)
        if pi is None:
            raise resource_missing("payment_intent", params["payment_intent"], "payment_intent")
        charge = store.get("charge", pi["latest_charge"], account) if pi["latest_charge"] else None
        if charge is None or pi["status"] != "succeeded":
            raise StripeError(
                400, f"This PaymentIntent ({pi['id']}) does not have a successful charge to "
                "refund.", code="charge_not_refundable", param="payment_intent")
    else:
        raise StripeError(400, "One of `charge` or `payment_intent` is required.",
                          code="parameter_missing", param="charge")
    if not charge["captured"]:
        raise StripeError(
            400, f"Charge {charge['id']} has not been captured, so there is nothing to refund. Cancel "
            "its PaymentIntent to release the authorization.", code="charge_not_refundable", param="charge")
    # What was captured: all of it, or for a partly captured hold only that part.
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(400, f"Charge {charge['id']} has already been refunded.",
                          code="charge_already_refunded", param="charge")
    amount = remaining
    if params.get("amount") not in (None, ""):
        amount = to_int(params["amount"], "amount", minimum=1)
    if amount > remaining:
        cur = charge["currency"]
        raise StripeError(
            400,
            f"Refund amount ({objects.format_amount(amount, cur)}) is greater than unrefunded "
            f"amount on charge ({objects.format_amount(remaining, cur)})",
            code="amount_too_large", param="amount",
        )
    if params.get("reason"):
        one_of(params["reason"], ["duplicate", "fraudulent", "requested_by_customer"], "reason")
    params["metadata"] = check_metadata(params.get("metadata"))
    with store.transaction():
        refund = objects.refund(now=store.now(), charge=charge, amount=amount, params=params)
        store.put("refund", refund, account)
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        refunds = charge["refunds"]
        refunds["data"].insert(0, refund)
        store.put("charge", charge, account)
        sb.webhooks.emit("refund.created", refund, account=account, request_id=request_id,
                         idempotency_key=idempotency_key)
        sb.webhooks.emit("charge.refunded", charge, account=account, request_id=request_id,
                         idempotency_key=idempotency_key, previous_attributes=previous)
    return refund
