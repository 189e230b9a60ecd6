"""Dates and times for people, in the page's language and a clinic's time zone.

Numeric, day first where the reader writes it so: bokmål ``03.12.2026, 13:15``,
English ``03/12/2026, 13:15`` (Nordic clinics' English readers are European),
Australian English ``03/12/2026, 11:15 pm`` (in Sydney), Swedish ``2026-12-03 13:15``.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from babel.dates import format_datetime, get_timezone

from app.i18n import negotiate_locale

# Babel's "short" pattern of these locales; Australian English spells the year out
# (Babel's en_AU short is d/M/yy), as dates on Australian receipts and forms do.
_LOCALES = {"nb": "nb_NO", "sv": "sv_SE", "en": "en_GB", "en-AU": "en_AU"}
_PATTERNS = {"en-AU": "dd/MM/y, h:mm a"}


def format_when(value: datetime, lang: str, zone: str | tzinfo) -> str:
    """``value`` (aware, any zone) as the reader of ``lang`` writes it, in ``zone``."""
    tag = negotiate_locale(lang)
    tz = get_timezone(zone) if isinstance(zone, str) else zone
    return format_datetime(value, _PATTERNS.get(tag, "short"), tzinfo=tz, locale=_LOCALES.get(tag, "en_GB"))
