"""What a host may send about bill cards: lines, patient details, and the list's filters.

The REST edge checks the bodies' shapes first (``app/inputs.py``); these turn
what passed into the values ``BillCards`` works with, and read the list's query
string (filters and the opaque page cursor).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app import validation as v
from app.billing.statuses import STATUSES
from app.errors import Invalid
from app.models import BillCard

MAX_LINES = 100
PATIENT_FIELDS = ("id", "name", "email", "national_id", "mobile", "address")


def share(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= v.MAX_AMOUNT:
        raise Invalid(
            "invalid_amount", f"{field} must be a whole number of minor units, zero or more", field=field
        )
    return value


def parse_lines(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise Invalid("missing_lines", "lines must be a list of at least one line", field="lines")
    if len(value) > MAX_LINES:
        raise Invalid("invalid_field", f"at most {MAX_LINES} lines", field="lines")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise Invalid("invalid_field", "each line must be an object", field="lines")
        line = item
        out.append(
            {
                "code": v.text(line, "code", max_len=40),
                "description": v.text(line, "description"),
                "patient_amount": share(line.get("patient_amount"), "patient_amount"),
                "refund_amount": share(line.get("refund_amount", 0), "refund_amount"),
            }
        )
    return out


def parse_patient(value: Any, *, partial: bool) -> dict[str, Any]:
    """The patient fields given; on a change (``partial``) only those present, ``null`` clearing one."""
    if not isinstance(value, dict):
        raise Invalid("invalid_field", "patient must be an object", field="patient")
    unknown = set(value) - set(PATIENT_FIELDS)
    if unknown:
        raise Invalid("invalid_field", f"patient has unknown fields: {', '.join(sorted(unknown))}", field="patient")
    out: dict[str, Any] = {}
    if not partial or "name" in value:
        out["name"] = v.text(value, "name")
    if "id" in value and partial:
        raise Invalid("invalid_field", "the patient's id cannot change", field="id")
    if "id" in value:
        out["id"] = v.ident(value, "id", required=False)
    if "email" in value:
        out["email"] = v.email(value.get("email"))
    if "national_id" in value:
        out["national_id"] = v.national_id(value.get("national_id"))
    if "mobile" in value:
        out["mobile"] = v.mobile(value.get("mobile"))
    if "address" in value:
        out["address"] = v.address(value.get("address"))
    return out


@dataclass(frozen=True)
class CardQuery:
    statuses: tuple[str, ...] = ()
    book_id: str | None = None
    clinic_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    limit: int = 20
    starting_after: str | None = None
    cursor: tuple[datetime, str] | None = None


def when(value: str, field: str) -> datetime:
    return v.moment(value, field)


def encode_cursor(card: BillCard) -> str:
    raw = f"{card.created_at.astimezone(UTC).isoformat()}|{card.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at, card_id = raw.split("|", 1)
        when = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError) as e:
        raise Invalid("invalid_cursor", "cursor is not one this service gave out", field="cursor") from e
    if when.tzinfo is None or not card_id or len(card_id) > 40:
        raise Invalid("invalid_cursor", "cursor is not one this service gave out", field="cursor")
    return when.astimezone(UTC), card_id


def parse_query(query: Mapping[str, str]) -> CardQuery:
    """The list's filters from a query string; every bad value is a 422 naming its field."""
    for key in ("status", "book_id", "clinic_id", "from", "to", "limit", "starting_after", "cursor"):
        if len(query.get(key, "")) > 400:
            raise Invalid("invalid_field", f"{key} is too long", field=key)
    statuses: tuple[str, ...] = ()
    if query.get("status"):
        statuses = tuple(s.strip() for s in query["status"].split(","))
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise Invalid("invalid_status", f"unknown status: {', '.join(bad)}", field="status")
    limit = 20
    if query.get("limit"):
        raw = query["limit"].strip()
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            raise Invalid("invalid_limit", "limit must be a whole number from 1 to 100", field="limit")
        limit = int(raw)
    if query.get("starting_after") and query.get("cursor"):
        raise Invalid("invalid_cursor", "give starting_after or cursor, not both", field="cursor")
    created_from = when(query["from"], "from") if query.get("from") else None
    created_to = when(query["to"], "to") if query.get("to") else None
    return CardQuery(
        statuses=statuses,
        book_id=query.get("book_id") or None,
        clinic_id=query.get("clinic_id") or None,
        created_from=created_from,
        created_to=created_to,
        limit=limit,
        starting_after=query.get("starting_after") or None,
        cursor=decode_cursor(query["cursor"]) if query.get("cursor") else None,
    )
