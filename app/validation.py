"""Checks for values that come from outside, each failing with a clear ``Invalid``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import phonenumbers
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import fodselsnummer

from app.errors import BadInput, Invalid
from app.schema import clean_text

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_AMOUNT = 100_000_000  # a million in major units: more is never a consultation
# Dates a filter may name. Outside them a date is a typing error, and near
# date.min/date.max the arithmetic of "the next day" or a time zone overflows.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
DATE_RANGE = "Dates must be between 2000-01-01 and 2100-12-31."
MAX_PAGE = 10_000


def obj(value: Any, field: str = "body") -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadInput("bad_request", f"{field} must be a JSON object")
    return value


def text(data: dict[str, Any], field: str, *, required: bool = True, max_len: int = 200) -> str | None:
    """``data[field]`` as one line of text (see ``clean_text``: no control or bidi characters)."""
    return clean_text(data.get(field), field, max_len=max_len, required=required)


def person_name(value: object, field: str = "name") -> str:
    """A person's, clinic's or organisation's name from an admin form: present, at most 200, one clean line."""
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > 200:
        raise Invalid("invalid_name", "Enter a name.", field=field)
    return clean_text(value, field) or ""


def ident(data: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = data.get(field)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
        data = {**data, field: value}
    return text(data, field, required=required, max_len=200)


def amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
        raise Invalid("invalid_amount", "Amount must be a whole number of minor units greater than zero.")
    return value


def email(value: Any, field: str = "email") -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 254 or not EMAIL.match(value.strip()):
        raise Invalid("invalid_email", f"{field} is not a valid e-mail address", field=field)
    return value.strip()


def national_id(value: Any) -> str | None:
    """A Norwegian fødselsnummer or D-number (11 digits, two mod-11 check digits)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Invalid("invalid_national_id", "national_id must be a string of 11 digits", field="national_id")
    try:
        return fodselsnummer.validate(value)
    except StdnumError as e:
        raise Invalid(
            "invalid_national_id", "national_id is not a valid fødselsnummer or D-number", field="national_id"
        ) from e


def mobile(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 32:
        raise Invalid("invalid_mobile", "mobile must be a phone number such as +4791234567", field="mobile")
    try:
        number = phonenumbers.parse(value, "NO")
    except phonenumbers.NumberParseException as e:
        raise Invalid("invalid_mobile", "mobile must be a phone number such as +4791234567", field="mobile") from e
    if not phonenumbers.is_valid_number(number):
        raise Invalid("invalid_mobile", "mobile must be a phone number such as +4791234567", field="mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def address(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid("invalid_address", "address must be an object", field="address")
    out: dict[str, str] = {}
    for key in ("line1", "line2", "postal_code", "city", "country"):
        item = text(value, key, required=False, max_len=200)
        if item is not None:
            out[key] = item
    unknown = set(value) - {"line1", "line2", "postal_code", "city", "country"}
    if unknown:
        raise Invalid("invalid_address", f"address has unknown fields: {', '.join(sorted(unknown))}", field="address")
    if "country" in out and not re.fullmatch(r"[A-Za-z]{2}", out["country"]):
        raise Invalid("invalid_address", "address.country must be a two-letter country code", field="address")
    return out or None


def day(value: str, field: str) -> date:
    """An ISO 8601 date (``YYYY-MM-DD``) from 2000-01-01 to 2100-12-31."""
    try:
        parsed = date.fromisoformat(value.strip())
    except ValueError as e:
        raise Invalid("invalid_date", "Enter dates as YYYY-MM-DD.", field=field) from e
    return in_range(parsed, field)


def moment(value: str, field: str) -> datetime:
    """An ISO 8601 time in range, as UTC (a time without a zone is taken as UTC)."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as e:
        raise Invalid("invalid_date", f"{field} must be an ISO 8601 date or time", field=field) from e
    in_range(when.date(), field)  # checked before the zone shift, which overflows near the ends
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def in_range(value: date, field: str) -> date:
    if not EARLIEST <= value <= LATEST:
        raise Invalid("invalid_date", DATE_RANGE, field=field)
    return value


def page(value: str | None) -> int:
    """A page number from a query string; anything but 1–``MAX_PAGE`` in ASCII digits is page 1 or the last.

    ``int()`` takes any length and any script's digits; an offset from twenty
    digits does not fit the database's integers.
    """
    if not value or not value.isascii() or not value.isdigit():
        return 1
    return max(1, min(MAX_PAGE, int(value))) if len(value) <= 6 else MAX_PAGE
