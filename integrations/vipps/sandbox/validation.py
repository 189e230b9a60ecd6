"""Request bodies checked as the ePayment, Webhooks and Order Management APIs specify them.

Each check raises a 400 problem naming the field (``extraDetails``) and changes nothing.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from integrations.vipps.protocol import EPAYMENT_EVENTS

from .errors import invalid

REFERENCE = re.compile(r"^[a-zA-Z0-9-]{8,64}$")
MSISDN = re.compile(r"^\d{10,15}$")
CURRENCIES = ("NOK", "DKK", "EUR")
USER_FLOWS = ("PUSH_MESSAGE", "NATIVE_REDIRECT", "WEB_REDIRECT", "QR")
QR_FORMATS = ("TEXT/TARGETURL", "IMAGE/SVG+XML", "IMAGE/PNG")
MAX_AMOUNT = 65_000_000
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _object(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(name, "Must be an object")
    return value


def amount(value: Any, name: str) -> dict[str, Any]:
    value = _object(value, name)
    number, currency = value.get("value"), value.get("currency")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_AMOUNT:
        raise invalid(f"{name}.value", f"Must be a whole number of minor units from 1 to {MAX_AMOUNT}")
    if currency not in CURRENCIES:
        raise invalid(f"{name}.currency", f"Must be one of {', '.join(CURRENCIES)}")
    return {"currency": currency, "value": number}


def reference(value: Any, name: str = "reference") -> str:
    if not isinstance(value, str) or not REFERENCE.match(value):
        raise invalid(name, "Must be 8 to 64 characters of a-z, A-Z, 0-9 and -")
    return value


def _return_url(value: Any) -> str:
    """https, or an app's own scheme; plain http only to this machine (the embedded demo)."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or not parts.scheme or len(value) > 2000:
        raise invalid("returnUrl", "Must be an absolute URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise invalid("returnUrl", "Must use the https:// scheme or a custom URL scheme")
    if parts.scheme in ("http", "https") and not parts.netloc:
        raise invalid("returnUrl", "Must be an absolute URL")
    return value


def create_body(body: Any) -> dict[str, Any]:
    body = _object(body, "body")
    out: dict[str, Any] = {"amount": amount(body.get("amount"), "amount"),
                           "reference": reference(body.get("reference"))}
    method = _object(body.get("paymentMethod"), "paymentMethod").get("type")
    flow = body.get("userFlow")
    if flow not in USER_FLOWS:
        raise invalid("userFlow", f"Must be one of {', '.join(USER_FLOWS)}")
    if method not in ("WALLET", "CARD") or (method == "CARD" and flow != "WEB_REDIRECT"):
        raise invalid("paymentMethod.type", "Must be WALLET, or CARD with userFlow WEB_REDIRECT")
    out.update(userFlow=flow, paymentMethod={"type": method})
    if body.get("customer") is not None:
        phone = _object(body["customer"], "customer").get("phoneNumber")
        if not isinstance(phone, str) or not MSISDN.match(phone):
            raise invalid("customer.phoneNumber", "Must be an MSISDN: country code and number, digits only")
        out["customer"] = {"phoneNumber": phone}
    if flow == "PUSH_MESSAGE" and "customer" not in out:
        raise invalid("customer", "Required when userFlow is PUSH_MESSAGE")
    if body.get("returnUrl") is not None:
        out["returnUrl"] = _return_url(body["returnUrl"])
    elif flow in ("WEB_REDIRECT", "NATIVE_REDIRECT"):
        raise invalid("returnUrl", f"Required when userFlow is {flow}")
    description = body.get("paymentDescription")
    if description is not None:
        if not isinstance(description, str) or not 3 <= len(description) <= 100:
            raise invalid("paymentDescription", "Must be 3 to 100 characters")
        out["paymentDescription"] = description
    if body.get("qrFormat") is not None:
        if flow != "QR":
            raise invalid("qrFormat", "Only allowed when userFlow is QR")
        if _object(body["qrFormat"], "qrFormat").get("format") not in QR_FORMATS:
            raise invalid("qrFormat.format", f"Must be one of {', '.join(QR_FORMATS)}")
        out["qrFormat"] = body["qrFormat"]
    return out


def modification_body(body: Any) -> dict[str, Any]:
    return amount(_object(body, "body").get("modificationAmount"), "modificationAmount")


def webhook_body(body: Any) -> tuple[str, list[str]]:
    body = _object(body, "body")
    url = body.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise invalid("url", "Must be an absolute http(s) URL")
    events = body.get("events")
    if not isinstance(events, list) or not events or any(e not in EPAYMENT_EVENTS for e in events):
        raise invalid("events", "Must be a non-empty list of event types, e.g. epayments.payment.authorized.v1")
    return url, list(dict.fromkeys(events))


def receipt_body(body: Any) -> dict[str, Any]:
    body = _object(body, "body")
    lines = body.get("orderLines")
    if not isinstance(lines, list) or not lines:
        raise invalid("orderLines", "Must be a non-empty list")
    for i, line in enumerate(lines):
        line = _object(line, f"orderLines[{i}]")
        if not isinstance(line.get("name"), str) or not line["name"] or not isinstance(line.get("id"), str):
            raise invalid(f"orderLines[{i}]", "name and id are required")
        for field in ("totalAmount", "totalAmountExcludingTax", "totalTaxAmount"):
            if isinstance(line.get(field), bool) or not isinstance(line.get(field), int):
                raise invalid(f"orderLines[{i}].{field}", "Must be a whole number of minor units")
    bottom = _object(body.get("bottomLine"), "bottomLine")
    if bottom.get("currency") not in CURRENCIES:
        raise invalid("bottomLine.currency", f"Must be one of {', '.join(CURRENCIES)}")
    return {"orderLines": lines, "bottomLine": bottom}
