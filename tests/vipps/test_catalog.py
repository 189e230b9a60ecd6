"""The Vipps sandbox speaks bokmål from its own catalog, not the app's."""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

import integrations.vipps.sandbox as sandbox_package
from integrations.vipps.sandbox.i18n import LOCALES_DIR, format_money, get_translator, negotiate
from tests.sandbox_support import sandbox_msgids

SANDBOX = Path(sandbox_package.__file__).resolve().parent


def _msgids() -> set[str]:
    return sandbox_msgids(SANDBOX)


def test_every_string_the_sandbox_shows_is_in_its_bokmal_catalog() -> None:
    with (LOCALES_DIR / "nb" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="nb")
    used = _msgids()
    assert len(used) >= 18  # the extraction found the phone, the landing page and the QR code
    missing = sorted(m for m in used if not (catalog.get(m) and catalog.get(m).string))
    assert missing == []
    unused = sorted(m.id for m in catalog if m.id and m.id not in used)
    assert unused == []


def test_amounts_and_languages_read_as_the_reader_expects() -> None:
    assert format_money(49900, "NOK", "nb") == "499,00\xa0kr"
    assert format_money(49900, "NOK", "en") == "NOK\xa0499.00"
    assert negotiate("nn-NO,nn;q=0.9") == "nb" and negotiate("sv-SE") == "en" and negotiate(None) == "nb"
    assert get_translator("nb").gettext("Approve {amount}") == "Godkjenn {amount}"
