"""A payment's life as Vipps leads it: created, opened, authorised, aborted or
expired; then captured, refunded or cancelled in parts, each step an event in
its log and a webhook to the merchant.

Rules (ePayment API guide):

- a payment request not opened in ``open_s`` expires; once opened (the push
  read, the landing page or the QR code visited), the user has ``approve_s``
  more to approve it;
- capture no more than is reserved and not yet captured or cancelled;
  refund no more than is captured and not yet refunded;
- cancel before authorisation ends the payment (TERMINATED); after it, the
  state stays AUTHORIZED and what is not captured is released for good
  (``cancelledAmount``); a fully captured payment cannot be cancelled.

Every change runs in one store transaction that re-reads the row first.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from .context import Sandbox
from .errors import not_found, refused

FINAL = ("ABORTED", "EXPIRED", "TERMINATED")


def key(msn: str, reference: str) -> str:
    return f"{msn}:{reference}"


def stamp(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create(sb: Sandbox, msn: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    now = sb.store.now()
    flow = body["userFlow"]
    payment = {
        "msn": msn, "reference": body["reference"], "pspReference": str(uuid.uuid4()),
        "amount": body["amount"], "state": "CREATED", "userFlow": flow,
        "phoneNumber": (body.get("customer") or {}).get("phoneNumber"), "returnUrl": body.get("returnUrl"),
        "paymentDescription": body.get("paymentDescription") or "", "qrFormat": body.get("qrFormat"),
        "aggregate": {"authorized": 0, "captured": 0, "refunded": 0, "cancelled": 0},
        "created": stamp(now), "receipt": None, "opened": None,
        "__token": secrets.token_urlsafe(24), "__events": [],
    }
    with sb.store.transaction():
        _event(sb, payment, "CREATED", payment["amount"]["value"], idempotency_key, now)
        save(sb, payment, due=now + sb.rules.open_s)
        sb.store.put("pay_token", payment["__token"], {"key": key(msn, payment["reference"])})
    return payment


def redirect_url(sb: Sandbox, payment: dict[str, Any]) -> str | None:
    flow = payment["userFlow"]
    if flow == "QR":
        if (payment.get("qrFormat") or {}).get("format") == "TEXT/TARGETURL":
            return landing_url(sb, payment)  # what the code says: the caller draws it
        return f"{sb.public_url}/qr?token={payment['__token']}"
    if flow in ("WEB_REDIRECT", "NATIVE_REDIRECT"):
        return landing_url(sb, payment)
    return None


def landing_url(sb: Sandbox, payment: dict[str, Any]) -> str:
    return f"{sb.public_url}/landing?token={payment['__token']}"


def get(sb: Sandbox, msn: str, reference: str) -> dict[str, Any]:
    fire_due(sb)
    payment = sb.store.get("payment", key(msn, reference))
    if payment is None:
        raise not_found(f"No payment with reference {reference!r}")
    return payment


def by_token(sb: Sandbox, token: str) -> dict[str, Any] | None:
    fire_due(sb)
    row = sb.store.get("pay_token", token) if token else None
    return None if row is None else sb.store.get("payment", row["key"])


def pushes_to(sb: Sandbox, msisdn: str) -> list[dict[str, Any]]:
    """The push-message payments sent to this phone, newest first."""
    fire_due(sb)
    rows = [p for p in sb.store.all("payment") if p["userFlow"] == "PUSH_MESSAGE" and p["phoneNumber"] == msisdn]
    return rows[::-1]


def view(sb: Sandbox, payment: dict[str, Any]) -> dict[str, Any]:
    """``GetPaymentResponse``."""
    out = modification_view(payment)
    out.update(paymentMethod={"type": "WALLET"}, profile={})
    url = redirect_url(sb, payment)
    if url:
        out["redirectUrl"] = url
    return out


def modification_view(payment: dict[str, Any]) -> dict[str, Any]:
    """``ModificationResponse``: amount, state, aggregate and references."""
    currency = payment["amount"]["currency"]
    agg = payment["aggregate"]
    return {"amount": payment["amount"], "state": payment["state"],
            "aggregate": {f"{name}Amount": {"currency": currency, "value": agg[name]}
                          for name in ("authorized", "captured", "refunded", "cancelled")},
            "pspReference": payment["pspReference"], "reference": payment["reference"]}


def events(payment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(payment["__events"])


# the user's side ------------------------------------------------------------
def open_(sb: Sandbox, payment_key: str) -> dict[str, Any] | None:
    """The user sees the request: from now, ``approve_s`` to approve it."""
    with sb.store.transaction():
        payment = sb.store.get("payment", payment_key)
        if payment is None or payment["state"] != "CREATED" or payment["opened"]:
            return payment
        now = sb.store.now()
        payment["opened"] = stamp(now)
        save(sb, payment, due=now + sb.rules.approve_s)
    return payment


def answer(sb: Sandbox, payment_key: str, approve: bool) -> dict[str, Any] | None:
    """The user approves or rejects; a payment no longer waiting is left as it is."""
    fire_due(sb)
    with sb.store.transaction():
        payment = sb.store.get("payment", payment_key)
        if payment is None or payment["state"] != "CREATED":
            return payment
        now = sb.store.now()
        value = payment["amount"]["value"]
        if approve:
            payment["state"] = "AUTHORIZED"
            payment["aggregate"]["authorized"] = value
        else:
            payment["state"] = "ABORTED"
        _event(sb, payment, payment["state"], value, None, now)
        save(sb, payment)
    return payment


def fire_due(sb: Sandbox) -> int:
    """Expire every payment whose time ran out by the sandbox clock."""
    fired = 0
    now = sb.store.now()
    for row in sb.store.due("payment", now):
        with sb.store.transaction():
            payment = sb.store.get("payment", key(row["msn"], row["reference"]))
            if payment is None or payment["state"] != "CREATED":
                continue
            payment["state"] = "EXPIRED"
            _event(sb, payment, "EXPIRED", payment["amount"]["value"], None, now)
            save(sb, payment)
            fired += 1
    return fired


# the merchant's modifications -------------------------------------------------
def capture(sb: Sandbox, msn: str, reference: str, amount: dict[str, Any], idem: str) -> dict[str, Any]:
    with sb.store.transaction():
        payment = get(sb, msn, reference)
        _currency(payment, amount)
        agg = payment["aggregate"]
        if payment["state"] != "AUTHORIZED":
            raise refused(f"Only an authorized payment can be captured; this one is {payment['state']}")
        if amount["value"] > agg["authorized"] - agg["captured"] - agg["cancelled"]:
            raise refused("Captured amount exceeds the reserved amount")
        agg["captured"] += amount["value"]
        _event(sb, payment, "CAPTURED", amount["value"], idem, sb.store.now())
        save(sb, payment)
    return payment


def refund(sb: Sandbox, msn: str, reference: str, amount: dict[str, Any], idem: str) -> dict[str, Any]:
    with sb.store.transaction():
        payment = get(sb, msn, reference)
        _currency(payment, amount)
        agg = payment["aggregate"]
        if agg["captured"] == 0:
            raise refused("Nothing is captured, so nothing can be refunded; cancel the payment instead")
        if amount["value"] > agg["captured"] - agg["refunded"]:
            raise refused("Cannot refund more than the captured amount")
        agg["refunded"] += amount["value"]
        _event(sb, payment, "REFUNDED", amount["value"], idem, sb.store.now())
        save(sb, payment)
    return payment


def cancel(sb: Sandbox, msn: str, reference: str, idem: str) -> dict[str, Any]:
    with sb.store.transaction():
        payment = get(sb, msn, reference)
        agg, value, now = payment["aggregate"], payment["amount"]["value"], sb.store.now()
        if payment["state"] in FINAL:
            raise refused(f"The payment is {payment['state']} and cannot be cancelled")
        if payment["state"] == "CREATED":
            payment["state"] = "TERMINATED"
            agg["cancelled"] = value
            _event(sb, payment, "TERMINATED", value, idem, now)
        else:
            remaining = agg["authorized"] - agg["captured"] - agg["cancelled"]
            if agg["captured"] >= agg["authorized"]:
                raise refused("A fully captured payment cannot be cancelled; refund it instead")
            if remaining <= 0:
                raise refused("The payment is already cancelled")
            agg["cancelled"] += remaining
            _event(sb, payment, "CANCELLED", remaining, idem, now)
        save(sb, payment)
    return payment


def _currency(payment: dict[str, Any], amount: dict[str, Any]) -> None:
    if amount["currency"] != payment["amount"]["currency"]:
        raise refused(f"The payment is in {payment['amount']['currency']}, not {amount['currency']}")


def _event(sb: Sandbox, payment: dict[str, Any], name: str, value: int, idem: str | None, now: float) -> None:
    event = {"reference": payment["reference"], "pspReference": payment["pspReference"], "name": name,
             "amount": {"currency": payment["amount"]["currency"], "value": value},
             "timestamp": stamp(now), "idempotencyKey": idem, "success": True}
    payment["__events"].append(event)
    sb.webhooks.emit(payment["msn"], {"msn": payment["msn"], **event})


def save(sb: Sandbox, payment: dict[str, Any], due: float | None = None) -> None:
    payment["__due"] = due
    sb.store.put("payment", key(payment["msn"], payment["reference"]), payment, owner=payment["msn"], due=due)
