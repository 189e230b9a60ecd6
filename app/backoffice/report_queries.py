"""What a report is asked for: the period, the scope and the filters, parsed from a query string.

Shared by the cash desk's report pages and the REST reports; every value is
checked here, so the reports themselves only ever see valid queries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from app import validation as v
from app.errors import Invalid
from app.i18n.zones import local_day_bounds

BASIS_TYPES = ("call", "card")
PAYMENT_TYPES = ("stripe", "card", "vipps", "invoice", "manual")
MAX_PRICE_PER_CARD = 100_000_00  # NOK 100,000 per card: anything above is a typing error
MAX_LIMIT = 1000
PARAM_MAX = 100
PERCENT = re.compile(r"[0-9]{1,3}(?:[.,][0-9]{1,2})?")
SETTLEMENT_PARAMS = ("exported", "unit", "book_id", "basis_type", "payment_type", "from", "to", "limit", "offset",
                     "format")
EARNINGS_PARAMS = ("from", "to", "price_per_card", "price_percent", "unit", "book_id", "format")
CSV_COLUMNS = ("card_id", "created_at", "exported_at", "clinic_id", "book_id", "basis_type", "status",
               "status_label", "patient_name", "currency", "patient_share", "refund_share", "paid", "refunded",
               "admin_fee", "payment_types",
               # Added for card holds and no-show fees (docs/api.md): ``row_type`` is ``card`` on a card's row;
               # a hold's or no-show's own row names its line and leaves the card's sums empty.
               "row_type", "line_at", "request_id", "consult_id", "authorised", "captured", "released",
               "no_show_fee", "collected_by", "amount")


def iso_utc(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None




def _param(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if value is None or not value.strip():
        return None
    if len(value) > PARAM_MAX:
        raise Invalid("invalid_parameter", f"{name} is too long", field=name)
    return value.strip()


def parse_when(value: str, name: str, *, end: bool, tz: ZoneInfo | None = None) -> datetime:
    """A date (a whole day in the clinic's zone ``tz``, Europe/Oslo by default; ``end`` → the next
    midnight there) or an ISO 8601 time (UTC when it has no offset)."""
    if len(value) == 10:
        try:
            day = v.day(value, name)
        except Invalid as e:
            if e.message == v.DATE_RANGE:
                raise
            raise Invalid("invalid_date", f"{name} must be an ISO 8601 date or time", field=name) from e
        return local_day_bounds(day, tz, end=end)
    return v.moment(value.replace("Z", "+00:00") if value.endswith("Z") else value, name)


@dataclass(frozen=True)
class Period:
    start: datetime | None = None
    end: datetime | None = None

    def view(self) -> dict[str, str | None]:
        return {"from": iso_utc(self.start), "to": iso_utc(self.end)}


def parse_period(query: Mapping[str, str], tz: ZoneInfo | None = None) -> Period:
    raw_from, raw_to = _param(query, "from"), _param(query, "to")
    start = parse_when(raw_from, "from", end=False, tz=tz) if raw_from else None
    end = parse_when(raw_to, "to", end=True, tz=tz) if raw_to else None
    if start is not None and end is not None and start >= end:
        raise Invalid("invalid_period", "from must be before to", field="from")
    return Period(start, end)


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _param(query, name)
    if value is not None and value not in allowed:
        raise Invalid("invalid_parameter", f"{name} must be one of: {', '.join(allowed)}", field=name)
    return value


def _whole(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _param(query, name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise Invalid("invalid_parameter", f"{name} must be a whole number from {low} to {high}", field=name)
    return int(value)


def parse_percent(value: str | None) -> int:
    """``"2.5"`` or ``"2,5"`` → 250 basis points; at most two decimals, 0–100."""
    if value is None:
        return 0
    if not PERCENT.fullmatch(value) or Decimal(value.replace(",", ".")) > 100:
        raise Invalid(
            "invalid_parameter", "price_percent must be a number from 0 to 100 with at most two decimals",
            field="price_percent",
        )
    return int(Decimal(value.replace(",", ".")) * 100)


def percent_of(total: int, basis_points: int) -> int:
    """``total × basis_points / 10 000``, rounded half up (half away from zero) to a whole minor unit."""
    numerator = abs(total) * basis_points
    rounded = (numerator + 5_000) // 10_000
    return rounded if total >= 0 else -rounded


@dataclass(frozen=True)
class Scope:
    """Which cards a caller may see: an organisation, and within it perhaps only some clinics."""

    organisation_id: str
    clinic_ids: frozenset[str] | None = None  # None: every clinic of the organisation


@dataclass(frozen=True)
class SettlementQuery:
    period: Period = field(default_factory=Period)
    exported: bool | None = None
    unit: str | None = None
    book_id: str | None = None
    basis_type: str | None = None
    payment_type: str | None = None
    limit: int = 100
    offset: int = 0

    def view(self) -> dict[str, Any]:
        return {**self.period.view(), "exported": self.exported, "unit": self.unit, "book_id": self.book_id,
                "basis_type": self.basis_type, "payment_type": self.payment_type}


def parse_settlement(query: Mapping[str, str], tz: ZoneInfo | None = None) -> SettlementQuery:
    exported_raw = _choice(query, "exported", ("true", "false", "1", "0", "yes", "no"))
    exported = None if exported_raw is None else exported_raw in ("true", "1", "yes")
    return SettlementQuery(
        period=parse_period(query, tz),
        exported=exported,
        unit=_param(query, "unit"),
        book_id=_param(query, "book_id"),
        basis_type=_choice(query, "basis_type", BASIS_TYPES),
        payment_type=_choice(query, "payment_type", PAYMENT_TYPES),
        limit=_whole(query, "limit", 100, 1, MAX_LIMIT),
        offset=_whole(query, "offset", 0, 0, 10_000_000),
    )


@dataclass(frozen=True)
class EarningsQuery:
    period: Period = field(default_factory=Period)
    price_per_card: int = 0
    price_percent_bp: int = 0
    unit: str | None = None
    book_id: str | None = None

    def view(self) -> dict[str, Any]:
        whole, rest = divmod(self.price_percent_bp, 100)
        return {**self.period.view(), "price_per_card": self.price_per_card,
                "price_percent": f"{whole}.{rest:02d}", "unit": self.unit, "book_id": self.book_id}


def parse_earnings(query: Mapping[str, str], tz: ZoneInfo | None = None) -> EarningsQuery:
    return EarningsQuery(
        period=parse_period(query, tz),
        price_per_card=_whole(query, "price_per_card", 0, 0, MAX_PRICE_PER_CARD),
        price_percent_bp=parse_percent(_param(query, "price_percent")),
        unit=_param(query, "unit"),
        book_id=_param(query, "book_id"),
    )


def output_format(query: Mapping[str, str]) -> str:
    return _choice(query, "format", ("json", "csv")) or "json"
