"""The sandbox's languages: bokmål, English and Swedish, from its own catalog.

MediPay is a service of its own, so its sandbox carries what it says in
``locales/<lang>/LC_MESSAGES/messages.po`` beside this module (read at first
use, no compile step; English is the source language and needs none) and
never borrows the app's: integrations stand below the app and do not import it.
Amounts are NOK in øre, formatted as MediPay's pages and SMS show them.
"""

from __future__ import annotations

import gettext as _gettext
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.numbers import format_currency

from integrations.catalogs import LETTER_DIGIT, load_po
from integrations.catalogs import negotiate as negotiate_language

SUPPORTED: tuple[str, ...] = ("nb", "en", "sv")
DEFAULT = "nb"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"

# Norwegian variants a browser may send; bokmål is the written standard MediPay uses.
_ALIASES = {"no": "nb", "nn": "nb"}


@cache
def get_translator(lang: str | None) -> _gettext.NullTranslations:
    """gettext for ``lang`` (unsupported: the default); untranslated msgids show as they are."""
    return load_po(LOCALES_DIR, negotiate(lang))


def negotiate(value: str | None) -> str:
    """A supported language from an Accept-Language header or a language code, else the default."""
    return negotiate_language(value, supported=SUPPORTED, default=DEFAULT, aliases=_ALIASES)


def format_money(minor: int, lang: str) -> str:
    """NOK in øre for a reader of ``lang``: ``45000`` → ``"450,00 kr"`` (nb), ``"NOK 450.00"`` (en)."""
    text = format_currency(Decimal(minor).scaleb(-2), "NOK", locale=negotiate(lang))
    # CLDR's currency spacing, which Babel does not apply: "NOK" gets a no-break space before digits.
    return LETTER_DIGIT.sub("\xa0", text)

