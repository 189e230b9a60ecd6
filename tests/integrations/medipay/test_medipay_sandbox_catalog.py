"""The MediPay sandbox speaks bokmål and Swedish from its own catalog, not the app's."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import integrations.medipay.sandbox as sandbox_package
from integrations.medipay.sandbox.i18n import LOCALES_DIR, format_money, get_translator, negotiate
from integrations.medipay.sandbox.texts import sms_text
from tests.sandbox_support import sandbox_msgids

SANDBOX = Path(sandbox_package.__file__).resolve().parent


def _msgids() -> set[str]:
    return sandbox_msgids(SANDBOX)


@pytest.mark.parametrize("lang", ["nb", "sv"])
def test_every_string_the_sandbox_shows_is_in_its_own_catalog(lang: str) -> None:
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    used = _msgids()
    assert len(used) > 40  # the extraction found the page, the dashboard and the SMS
    missing = sorted(m for m in used if not (catalog.get(m) and catalog.get(m).string))
    assert missing == []


def test_the_sms_and_amounts_read_in_the_patients_language() -> None:
    text = sms_text("receipt", amount=45000, description="Konsultasjon")
    assert text == "MediPay: Takk, vi har mottatt 450,00\xa0kr for Konsultasjon."
    assert format_money(45000, "en") == "NOK\xa0450.00"
    assert negotiate("sv-SE,sv;q=0.9,en;q=0.8") == "sv"
    assert get_translator("sv").gettext("Payment received") == "Betalning mottagen"
