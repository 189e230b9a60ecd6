"""The sandbox's languages: bokmål and English, from its own catalog.

Vipps is a service of its own, so its sandbox carries what it says in
``locales/<lang>/LC_MESSAGES/messages.po`` beside this module (read at first
use; English is the source language and needs none) and never borrows the
app's: integrations stand below the app and do not import it.
"""

from __future__ import annotations

import gettext as _gettext
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.numbers import format_currency

from integrations.catalogs import LETTER_DIGIT, load_po
from integrations.catalogs import negotiate as negotiate_language

SUPPORTED: tuple[str, ...] = ("nb", "en")
DEFAULT = "nb"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LANGUAGE_NAMES = {"nb": "Norsk bokmål", "en": "English"}
_ALIASES = {"no": "nb", "nn": "nb"}


@cache
def get_translator(lang: str | None) -> _gettext.NullTranslations:
    return load_po(LOCALES_DIR, negotiate(lang))


def negotiate(value: str | None) -> str:
    return negotiate_language(value, supported=SUPPORTED, default=DEFAULT, aliases=_ALIASES, fallback="en")


def format_money(minor: int, currency: str, lang: str) -> str:
    """``49900, "NOK"`` → ``"499,00 kr"`` (nb), ``"NOK 499.00"`` (en)."""
    text = format_currency(Decimal(minor).scaleb(-2), currency, locale=negotiate(lang))
    return LETTER_DIGIT.sub("\xa0", text)
