"""Time zones: one IANA zone per clinic, and instants shown in it, in the reader's language.

Instants are stored and sent over the API in UTC, always with an offset. They
become local time only here, at the display edge: ``format_instant(at, zone,
lang)`` for pages and exports, ``local_day_bounds(day, zone)`` for dates typed
into a filter (a whole day in the clinic's zone, as half-open UTC bounds).

A clinic's zone is its ``time_zone`` column (``Europe/Oslo`` unless set);
``clinic_zone(clinic)`` is the one way to read it, so a missing or unknown
name never breaks a page.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import format_datetime
from jinja2 import pass_context
from jinja2.runtime import Context

DEFAULT_ZONE = "Europe/Oslo"
MAX_ZONE_LENGTH = 64
# The Babel locale a page language formats dates in, day first where the reader writes it
# so: bokmål ``03.12.2026, 13:15``, English ``03/12/2026, 13:15`` (Nordic clinics' English
# readers are European), Australian English ``03/12/2026, 11:15 pm``, Swedish ``2026-12-03 13:15``.
_LOCALES = {"nb": "nb_NO", "sv": "sv_SE", "en": "en_GB", "en-AU": "en_AU"}
# Australian English spells the year out (Babel's en_AU short is d/M/yy), as dates on
# Australian receipts and forms do.
_SHORT = {"en-AU": "dd/MM/y, h:mm a"}


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this system knows, sorted (the choices on the clinic settings page)."""
    return tuple(sorted(name for name in available_timezones() if "/" in name and not name.startswith("Etc/")))


def check_zone(name: object) -> str:
    """``name`` if it is an IANA zone name zoneinfo knows (``Australia/Sydney``); else ``ValueError``."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_ZONE_LENGTH or name != name.strip():
        raise ValueError("not a time zone name")
    if name not in zone_names() and name != "UTC":
        raise ValueError(f"unknown time zone: {name}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:  # pragma: no cover - available_timezones() said it exists
        raise ValueError(f"unknown time zone: {name}") from e
    return name


@cache
def zone(name: str | None) -> ZoneInfo:
    """The ``ZoneInfo`` for ``name``; ``Europe/Oslo`` for a missing or unknown one."""
    try:
        return ZoneInfo(check_zone(name)) if name else ZoneInfo(DEFAULT_ZONE)
    except ValueError:
        return ZoneInfo(DEFAULT_ZONE)


def clinic_zone(clinic: Any) -> ZoneInfo:
    """The clinic's time zone (anything with a ``time_zone`` attribute; ``None`` → Europe/Oslo)."""
    return zone(getattr(clinic, "time_zone", None))


def date_locale(lang: str) -> str:
    """The Babel locale dates are written in for a page's ``lang`` (``"en-AU"`` → ``"en_AU"``)."""
    return _LOCALES.get(lang) or _LOCALES.get(lang.split("-")[0], "en_GB")


def as_instant(value: datetime | str | None) -> datetime | None:
    """An aware UTC instant from a datetime or an ISO 8601 string (naive means UTC, as stored)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def format_instant(value: datetime | str | None, tz: ZoneInfo | None, lang: str, style: str = "short") -> str:
    """``value`` as local time in ``tz`` for a reader of ``lang``: nb ``04.12.2026, 15:30``; ``""`` for None."""
    at = as_instant(value)
    if at is None:
        return ""
    pattern = _SHORT.get(lang, style) if style == "short" else style
    return format_datetime(at, pattern, tzinfo=tz or zone(None), locale=date_locale(lang))


def local_naive(value: datetime | str | None, tz: ZoneInfo | None) -> datetime | None:
    """Wall-clock time in ``tz`` without a zone: what a spreadsheet cell holds."""
    at = as_instant(value)
    return at.astimezone(tz or zone(None)).replace(tzinfo=None) if at is not None else None


def local_day_bounds(day: date, tz: ZoneInfo | None, *, end: bool = False) -> datetime:
    """The UTC instant a local day starts (``end``: the next day's start, an exclusive bound)."""
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=tz or zone(None)).astimezone(UTC)


@pass_context
def local_time(ctx: Context, value: datetime | str | None, tz: ZoneInfo | None = None, style: str = "short") -> str:
    """The templates' ``|local_time`` filter: in ``tz``, else the page's ``zone``, in the page's ``lang``."""
    return format_instant(value, tz or ctx.get("zone"), str(ctx.get("lang") or "en"), style)
