"""The sandbox's languages: bokmål, English and Swedish, from its own catalog.

MediPay is a service of its own, so its sandbox carries what it says in
``locales/<lang>/LC_MESSAGES/messages.po`` beside this module (read at first
use, no compile step; English is the source language and needs none) and
never borrows the app's: integrations stand below the app and do not import it.
Amounts are NOK in øre, formatted as MediPay's pages and SMS show them.
"""

from __future__ import annotations

import gettext as _gettext
import io
import re
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency

SUPPORTED: tuple[str, ...] = ("nb", "en", "sv")
DEFAULT = "nb"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"

# Norwegian variants a browser may send; bokmål is the written standard MediPay uses.
_ALIASES = {"no": "nb", "nn": "nb"}
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


@cache
def get_translator(lang: str | None) -> _gettext.NullTranslations:
    """gettext for ``lang`` (unsupported: the default); untranslated msgids show as they are."""
    po_path = LOCALES_DIR / negotiate(lang) / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        return _gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=negotiate(lang))
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def negotiate(value: str | None) -> str:
    """A supported language from an Accept-Language header or a language code, else the default."""
    if not value:
        return DEFAULT
    candidates: list[tuple[float, int, str]] = []
    for index, part in enumerate(value.split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, raw = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(raw)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
        primary = _ALIASES.get(primary, primary)
        if primary in SUPPORTED and quality > 0:
            candidates.append((-quality, index, primary))
    return min(candidates)[2] if candidates else DEFAULT


def format_money(minor: int, lang: str) -> str:
    """NOK in øre for a reader of ``lang``: ``45000`` → ``"450,00 kr"`` (nb), ``"NOK 450.00"`` (en)."""
    text = format_currency(Decimal(minor).scaleb(-2), "NOK", locale=negotiate(lang))
    # CLDR's currency spacing, which Babel does not apply: "NOK" gets a no-break space before digits.
    return _LETTER_DIGIT.sub("\xa0", text)

