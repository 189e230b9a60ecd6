"""Languages, translations and money formatting for the browser-facing pages.

Catalogs live in ``locales/<lang>/LC_MESSAGES/messages.po`` and are read at first
use; there is no compile step. English is the source language, so English needs
no catalog: msgids are shown as they are. Untranslated and fuzzy entries fall
back to the English msgid.

Updating the catalogs: extract with ``babel.cfg`` (it covers Python code, the
templates and ``js_strings.JS_STRINGS``) and update the ``.po`` files from the
resulting template; ``tests/i18n`` fails when a string has no translation.

Money is integer minor units everywhere; it becomes a ``Decimal`` only here, at
the display edge, and user input is parsed back with ``Decimal`` too. Never floats.
"""

from __future__ import annotations

import gettext as _gettext
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from babel.numbers import format_currency, get_currency_precision

from app.i18n.zones import DEFAULT_ZONE, clinic_zone, format_instant
from app.money import Money
from integrations.catalogs import LETTER_DIGIT, load_po, negotiate_tag

__all__ = [
    "DEFAULT",
    "DEFAULT_ZONE",
    "FALLBACK",
    "LOCALES",
    "SUPPORTED",
    "Translator",
    "babel_locale",
    "clinic_zone",
    "currency_exponent",
    "error_message",
    "format_instant",
    "format_money",
    "get_translator",
    "negotiate",
    "negotiate_locale",
    "to_minor",
]

SUPPORTED: tuple[str, ...] = ("nb", "en", "sv")
# No language named at all (an API client, a bare request): the product's home language.
DEFAULT = "nb"
# Only languages we do not have (a German or Japanese browser): English, not Norwegian.
FALLBACK = "en"
# Regional variants formatted their own way (dates, the currency symbol); each
# shares its language's catalog. "en-AU": dd/mm/yyyy and "$" for AUD.
LOCALES: tuple[str, ...] = ("en-AU",)

LOCALES_DIR = Path(__file__).resolve().parent / "locales"

# Norwegian variants the browser may send; bokmål is the written standard we ship.
_ALIASES = {"no": "nb", "nn": "nb"}


@dataclass(frozen=True)
class Translator:
    """gettext for one language; ``gettext``/``ngettext`` are safe to pass to templates."""

    lang: str
    _translations: _gettext.NullTranslations = field(repr=False)

    def gettext(self, message: str) -> str:
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._translations.ngettext(singular, plural, n)


def _load(lang: str) -> _gettext.NullTranslations:
    return load_po(LOCALES_DIR, lang)


@cache
def _translator(lang: str) -> Translator:
    return Translator(lang=lang, _translations=_load(lang))


def get_translator(lang: str | None) -> Translator:
    """The (cached) translator for ``lang`` (``"en-AU"`` reads the English one); unsupported → English."""
    return _translator(negotiate(lang))


def negotiate(value: str | None) -> str:
    """Pick a supported language from an Accept-Language header or a language code.

    ``"sv-SE,sv;q=0.9,en;q=0.8"`` → ``"sv"``; ``"nb_NO"`` → ``"nb"``; ``"nn"`` → ``"nb"``;
    only unsupported languages (``"de-DE"``) → ``FALLBACK`` (English); nothing → ``DEFAULT``.
    """
    return negotiate_tag(value, supported=SUPPORTED, default=DEFAULT, aliases=_ALIASES, fallback=FALLBACK)[0]


def negotiate_locale(value: str | None) -> str:
    """``negotiate``, keeping a region we format for: ``"en-AU,en;q=0.9"`` → ``"en-AU"``; ``"en-GB"`` → ``"en"``.

    The result is what pages carry as their ``lang``: translations follow its
    language, dates and money its region.
    """
    lang, region = negotiate_tag(value, supported=SUPPORTED, default=DEFAULT, aliases=_ALIASES, fallback=FALLBACK)
    tag = f"{lang}-{region}"
    return tag if tag in LOCALES else lang


def babel_locale(lang: str | None) -> str:
    """The Babel locale for a page's ``lang``: ``"en-AU"`` → ``"en_AU"``, ``"nb"`` → ``"nb"``."""
    tag = negotiate_locale(lang)
    return tag.replace("-", "_")


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits: 2 for NOK/SEK/EUR/USD, 0 for JPY."""
    return int(get_currency_precision(currency.upper()))




def format_money(minor: int, currency: str, lang: str) -> str:
    """``format_money(45000, "NOK", "en")`` → ``"NOK 450.00"``; nb → ``"450,00 kr"``; AUD in en-AU → ``"$450.00"``."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor must be an int, not {type(minor).__name__}")
    currency = currency.upper()
    amount = Decimal(minor).scaleb(-currency_exponent(currency))
    text = format_currency(amount, currency, locale=babel_locale(lang))
    # CLDR's currency spacing, which Babel does not apply: a letter symbol such as
    # "NOK" gets a no-break space before the digits, as browsers' Intl does.
    return LETTER_DIGIT.sub("\xa0", text)


def error_message(message: str, params: Mapping[str, object], lang: str) -> str:
    """A domain error's msgid in ``lang``, its ``%(name)s`` filled from the error's params.

    Amounts (``Money``) are formatted for the reader here, at the edge, like all money.
    """
    text = get_translator(lang).gettext(message)
    if not params or "%(" not in text:
        return text
    values = {k: format_money(v.minor, v.currency, lang) if isinstance(v, Money) else v for k, v in params.items()}
    try:
        return text % values
    except (KeyError, TypeError, ValueError):
        return text


# Spaces people and locales use to group thousands: space, no-break, narrow no-break, thin.
_GROUP_SPACES = re.compile(r"(?<=\d)[ \u00a0\u202f\u2009](?=\d)")
_NEGATIVE = ("-", "\u2212")


def to_minor(text: str, currency: str) -> int:
    """Parse an amount typed in major units into integer minor units.

    Accepts ``"450"``, ``"450,50"``, ``"450.5"``, ``"1 234,50"``, ``"1,234.50"``,
    ``"1.234,50"``. A lone separator is always the decimal one, so ``"1,234"`` in
    NOK is refused (three decimals) rather than read as a thousand times more.
    Raises ``ValueError`` for negatives, more decimals than the currency has, or
    anything that is not a number. Zero parses to 0; callers decide if it is allowed.
    """
    exponent = currency_exponent(currency)
    raw = _GROUP_SPACES.sub(" ", text.strip())
    if raw.startswith(_NEGATIVE):
        raise ValueError("negative amount")
    if not re.fullmatch(r"[0-9.,]*[0-9][0-9., ]*", raw):
        raise ValueError("not a number")

    if " " in raw:
        # Space-grouped ("1 234,50"): the space groups, a comma or dot is the decimal.
        group_sep = " "
        seps = [c for c in raw if c in ",."]
        if len(seps) > 1:
            raise ValueError("too many separators")
        decimal_sep = seps[0] if seps else ""
    elif "," in raw and "." in raw:
        decimal_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
        group_sep = "." if decimal_sep == "," else ","
    else:
        sep = "," if "," in raw else "." if "." in raw else ""
        if sep and raw.count(sep) > 1:
            decimal_sep, group_sep = "", sep
        else:
            decimal_sep, group_sep = sep, ""

    whole, _, fraction = raw.partition(decimal_sep) if decimal_sep else (raw, "", "")
    if decimal_sep and decimal_sep in fraction:
        raise ValueError("more than one decimal separator")
    if group_sep:
        if not re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(group_sep)}[0-9]{{3}})+", whole):
            raise ValueError("misplaced thousands separator")
        whole = whole.replace(group_sep, "")
    if decimal_sep and not fraction:
        raise ValueError("missing decimals")
    if not whole:
        whole = "0"
    if not (whole.isascii() and whole.isdigit() and (not fraction or fraction.isdigit())):
        raise ValueError("not a number")
    if len(fraction) > exponent:
        raise ValueError(f"{currency} allows at most {exponent} decimals")
    try:
        value = Decimal(f"{whole}.{fraction or '0'}").scaleb(exponent)
    except InvalidOperation as exc:  # pragma: no cover - the regexes above rule it out
        raise ValueError("not a number") from exc
    return int(value)

