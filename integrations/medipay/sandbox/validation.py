"""The body of ``PUT /v1/claims/{id}``: checked and normalised.

The normalised body is what the idempotency fingerprint is taken over, so two
exports that differ only in key order or in how the mobile number is written
count as the same export.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import phonenumbers
from stdnum.exceptions import ValidationError
from stdnum.no import fodselsnummer

from .errors import bad_request, invalid_claim, invalid_patient

CLAIM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MODES = ("checkout", "invoice")
_MOBILE_TYPES = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _text(value: Any, name: str, *, required: bool = False, limit: int = 500) -> str | None:
    if value is None or value == "":
        if required:
            raise invalid_claim(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string")
    value = value.strip()
    if len(value) > limit:
        raise invalid_claim(f"{name} is longer than {limit} characters")
    if required and not value:
        raise invalid_claim(f"{name} is required")
    return value or None


def _amount(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"{name} must be an integer in minor units")
    if value <= 0:
        raise invalid_claim(f"{name} must be positive")
    return value


def national_id(value: Any) -> str:
    text = _text(value, "patient.national_id", limit=20)
    if not text:
        raise invalid_patient("missing_national_id", "The patient has no national identity number")
    try:
        return fodselsnummer.validate(text)
    except ValidationError:
        raise invalid_patient("invalid_national_id",
                              "The national identity number is not a valid fødselsnummer or D-number") from None


def mobile(value: Any) -> str:
    text = _text(value, "patient.mobile", limit=30)
    if not text:
        raise invalid_patient("missing_mobile", "The patient has no mobile number")
    try:
        number = phonenumbers.parse(text, "NO")
    except phonenumbers.NumberParseException:
        number = None
    # A mobile type is only ever found for a valid number (number_type answers UNKNOWN for an
    # invalid one), so this one check is is_valid_number as well, at half the cost.
    if number is None or phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise invalid_patient("invalid_mobile", "The patient's mobile number is not a valid mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def address(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("patient.address must be an object")
    out = {k: _text(value.get(k), f"patient.address.{k}", limit=200) or ""
           for k in ("line1", "postal_code", "city", "country")}
    out["country"] = (out["country"] or "NO").upper()
    if not (out["line1"] and out["postal_code"] and out["city"]):
        return None  # incomplete is as good as missing for an invoice
    return out


LANGUAGES = ("nb", "en", "sv")


def claim_body(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise bad_request("body must be a JSON object")
    mode = data.get("mode", "checkout")
    if mode not in MODES:
        raise invalid_claim("mode must be checkout or invoice")
    currency = data.get("currency", "NOK")
    if not isinstance(currency, str) or currency.upper() != "NOK":
        raise invalid_claim("MediPay collects in NOK only")
    admin_fee = data.get("admin_fee", True)
    if not isinstance(admin_fee, bool):
        raise bad_request("admin_fee must be true or false")
    patient = data.get("patient")
    if not isinstance(patient, dict):
        raise bad_request("patient must be an object")
    lines_in = data.get("lines") or []
    if not isinstance(lines_in, list) or not all(isinstance(li, dict) for li in lines_in):
        raise bad_request("lines must be a list of objects")
    lines = [{"code": _text(li.get("code"), "lines[].code", limit=40),
              "description": _text(li.get("description"), "lines[].description", required=True),
              "amount": _amount(li.get("amount"), "lines[].amount")} for li in lines_in]
    body: dict[str, Any] = {
        "amount": _amount(data.get("amount"), "amount"),
        "currency": "NOK",
        "admin_fee": admin_fee,
        "description": _text(data.get("description"), "description", required=True),
        "mode": mode,
        "lines": lines,
    }
    # The patient's language, for the SMS and the Checkout page; absent: bokmål, as before.
    language = data.get("language")
    if language is not None:
        if language not in LANGUAGES:
            raise invalid_claim("language must be nb, en or sv")
        body["language"] = language
    name = _text(patient.get("name"), "patient.name", required=True, limit=200)
    email = _text(patient.get("email"), "patient.email", limit=254)
    # Checked in the order a case handler would: who, how to reach them, where to send paper.
    person = {"name": name, "national_id": national_id(patient.get("national_id")),
              "mobile": mobile(patient.get("mobile")), "email": email,
              "address": address(patient.get("address"))}
    if mode == "invoice" and person["address"] is None:
        raise invalid_patient("missing_address", "An invoice needs the patient's full address")
    body["patient"] = person
    return body


def fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
