"""Gettext catalogs and the reader's language, read the same way by the app and the sandboxes.

Catalogs are ``.po`` files compiled in memory at first use (no compile step),
so plural rules and fuzzy handling are exactly gettext's; a missing catalog
shows the English msgids as they are. It lives below the app because the
MediPay sandbox, which never imports the app, reads its own catalogs too.
"""

from __future__ import annotations

import gettext
import io
import re
from collections.abc import Mapping
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

# Where CLDR puts a no-break space and Babel does not: between a currency's letters and digits.
LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def load_po(locales_dir: Path, lang: str) -> gettext.NullTranslations:
    """``locales_dir/<lang>/LC_MESSAGES/messages.po`` as translations (none: msgids as they are)."""
    po_path = locales_dir / lang / "LC_MESSAGES" / "messages.po"
    if not po_path.is_file():
        return gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def negotiate(
    value: str | None,
    *,
    supported: tuple[str, ...],
    default: str,
    aliases: Mapping[str, str],
    fallback: str | None = None,
) -> str:
    """A supported language from an Accept-Language header or a language code.

    ``"sv-SE,sv;q=0.9,en;q=0.8"`` → ``"sv"``; ``"nb_NO"`` → ``"nb"``; an alias
    (``"nn"`` → ``"nb"``) counts as its language; ``q=0`` means "not this one".
    No value gives ``default``; a value naming only languages we do not have gives
    ``fallback`` (English, the language most readers share) when one is given.
    """
    return negotiate_tag(value, supported=supported, default=default, aliases=aliases, fallback=fallback)[0]


def negotiate_tag(
    value: str | None,
    *,
    supported: tuple[str, ...],
    default: str,
    aliases: Mapping[str, str],
    fallback: str | None = None,
) -> tuple[str, str]:
    """``negotiate``'s language and the region the reader named with it: ``"en-AU,en"`` → ``("en", "AU")``.

    The region is ``""`` when the chosen tag had none, or when nothing was chosen.
    """
    if not value:
        return default, ""
    candidates: list[tuple[float, int, str, str]] = []
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
        subtags = tag.strip().replace("_", "-").split("-")
        primary = aliases.get(subtags[0].lower(), subtags[0].lower())
        region = next((t.upper() for t in subtags[1:] if len(t) == 2 and t.isalpha()), "")
        if primary in supported and quality > 0:
            candidates.append((-quality, index, primary, region))
    if not candidates:
        return (fallback or default), ""
    _, _, primary, region = min(candidates)
    return primary, region
