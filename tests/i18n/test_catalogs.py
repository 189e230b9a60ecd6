"""Catalog completeness, money formatting/parsing and template smoke tests."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.billing.statuses import REQUEST_LABELS
from app.i18n import (
    DEFAULT,
    FALLBACK,
    SUPPORTED,
    currency_exponent,
    format_money,
    get_translator,
    negotiate,
    to_minor,
)
from app.i18n.js_strings import JS_STRINGS
from app.web.pages import panel_statuses

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
JS_DIR = ROOT / "static" / "js"
TRANSLATED = [lang for lang in SUPPORTED if lang != "en"]

BACKEND_MESSAGES = (
    "The join link is invalid or has expired.",
    "The consultation has ended.",
    "Only the clinician can do that.",
    "Only the patient can do that.",
    "Amount must be a whole number of minor units greater than zero.",
    "Description is required.",
    "Unknown patient.",
    "Unknown payment request.",
    "This request can no longer be cancelled.",
    "This request has already been paid.",
    "This request is no longer payable.",
    "Payment could not be started. Please try again.",
    "The clinic cannot take payments yet: no Stripe account is linked.",
    "Currency does not match the consultation.",
    "Too many requests. Please wait a moment.",
    "Payment received",
    "Consultation",
    # Card holds and no-shows
    "Only an authorised card hold can be captured.",
    "The amount is more than the card hold of %(hold)s.",
    "Stripe refused the capture: %(reason)s",
    "Only an authorised card hold can be released.",
    "A capture of this card hold is under way.",
    "This card hold could not be released. Please try again.",
    "Card hold captured",
    "No-show fee",
)


def template_msgids() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(TEMPLATES), [("**.html", "jinja2")], {}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def js_msgids() -> set[str]:
    """Literal msgids the scripts pass to t(...), and the status labels the page config gives them."""
    found = set()
    for path in JS_DIR.rglob("*.js"):
        found.update(re.findall(r'\bt\("((?:[^"\\]|\\.)*)"', path.read_text("utf-8")))
    found.update(REQUEST_LABELS.values())
    return found


ALL_MSGIDS = sorted(template_msgids() | set(JS_STRINGS) | set(BACKEND_MESSAGES))


def test_extraction_finds_the_templates_strings():
    ids = template_msgids()
    assert "Request payment" in ids
    assert "You can close this window and return to the call." in ids


def test_every_script_string_is_in_js_strings():
    missing = js_msgids() - set(JS_STRINGS)
    assert not missing, f"add to JS_STRINGS: {sorted(missing)}"


def test_js_strings_are_unique():
    assert len(JS_STRINGS) == len(set(JS_STRINGS))


@pytest.mark.parametrize("lang", TRANSLATED)
@pytest.mark.parametrize("msgid", ALL_MSGIDS)
def test_translated(lang, msgid):
    text = get_translator(lang).gettext(msgid)
    assert text.strip(), f"{lang}: empty translation for {msgid!r}"
    placeholders = sorted(re.findall(r"\{\w+\}|%\(\w+\)s", msgid))
    assert sorted(re.findall(r"\{\w+\}|%\(\w+\)s", text)) == placeholders, (lang, msgid, text)


@pytest.mark.parametrize(
    ("lang", "msgid", "expected"),
    [
        ("nb", "Request payment", "Be om betaling"),
        ("nb", "Pay now", "Betal nå"),
        ("nb", "Payment received", "Betaling mottatt"),
        ("nb", "Payment requested: {amount} — {description}", "Betaling forespurt: {amount} — {description}"),
        ("sv", "Pay now", "Betala nu"),
        ("en", "Pay now", "Pay now"),
    ],
)
def test_known_translations(lang, msgid, expected):
    assert get_translator(lang).gettext(msgid) == expected


def test_translator_basics():
    nb = get_translator("nb")
    assert nb is get_translator("nb")
    assert nb.lang == "nb"
    assert get_translator("de").lang == FALLBACK == "en"
    assert nb.gettext("No such message, untranslated") == "No such message, untranslated"
    assert nb.ngettext("one", "many", 1) == "one"
    assert nb.ngettext("one", "many", 2) == "many"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sv-SE,sv;q=0.9,en;q=0.8", "sv"),
        ("en-GB,en;q=0.9", "en"),
        ("nb_NO", "nb"),
        ("no", "nb"),
        ("nn-NO", "nb"),
        ("de-DE, en;q=0.5", "en"),
        ("en;q=0, sv;q=0.1", "sv"),
        # Only languages we do not have: English, not Norwegian.
        ("fr", FALLBACK),
        ("de-DE,de;q=0.9", FALLBACK),
        ("ja", FALLBACK),
        ("", DEFAULT),
        (None, DEFAULT),
        ("en;q=abc", FALLBACK),
    ],
)
def test_negotiate(value, expected):
    assert negotiate(value) == expected


@pytest.mark.parametrize(
    ("minor", "currency", "lang", "expected"),
    [
        (45000, "NOK", "en", "NOK\xa0450.00"),
        (45000, "NOK", "nb", "450,00\xa0kr"),
        (45050, "NOK", "nb", "450,50\xa0kr"),
        (123456, "SEK", "sv", "1\xa0234,56\xa0kr"),
        (5, "EUR", "en", "€0.05"),
        (1234, "JPY", "en", "¥1,234"),
    ],
)
def test_format_money(minor, currency, lang, expected):
    assert format_money(minor, currency, lang) == expected


@pytest.mark.parametrize("bad", [4.5, Decimal("4.5"), "450", True])
def test_format_money_refuses_non_int(bad):
    with pytest.raises(TypeError):
        format_money(bad, "NOK", "en")


def test_currency_exponent():
    assert [currency_exponent(c) for c in ("NOK", "EUR", "USD", "JPY")] == [2, 2, 2, 0]


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("450", "NOK", 45000),
        ("450,50", "NOK", 45050),
        ("450.5", "NOK", 45050),
        (" 450 ", "NOK", 45000),
        ("0,05", "NOK", 5),
        (",5", "NOK", 50),
        ("1 234,50", "NOK", 123450),
        ("1\xa0234,50", "NOK", 123450),
        ("1,234.50", "USD", 123450),
        ("1.234,50", "EUR", 123450),
        ("1.234.567", "NOK", 123456700),
        ("1 234 567", "NOK", 123456700),
        ("1\u202f234.5", "NOK", 123450),
        ("1234", "JPY", 1234),
        ("0", "NOK", 0),
    ],
)
def test_to_minor(text, currency, expected):
    assert to_minor(text, currency) == expected


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("450,505", "NOK"),
        ("1,234", "NOK"),  # one separator is the decimal one: three decimals, refused
        ("12.5", "JPY"),
        ("-5", "NOK"),
        ("\u22125", "NOK"),
        ("", "NOK"),
        ("  ", "NOK"),
        ("abc", "NOK"),
        ("4e2", "NOK"),
        ("NaN", "NOK"),
        ("Infinity", "NOK"),
        ("1,2,3", "NOK"),
        ("12,", "NOK"),
        ("1..2", "NOK"),
        ("1.234,5.6", "NOK"),
        ("1 2 3", "NOK"),
        ("1 234.567,5", "NOK"),
        ("12 34", "NOK"),
        ("1 2345", "NOK"),
        ("١٢", "NOK"),
        ("+5", "NOK"),
        ("5 kr", "NOK"),
    ],
)
def test_to_minor_refuses(text, currency):
    with pytest.raises(ValueError):
        to_minor(text, currency)


@given(
    minor=st.integers(min_value=0, max_value=10**12),
    currency=st.sampled_from(["NOK", "SEK", "EUR", "USD"]),
    lang=st.sampled_from(SUPPORTED),
)
def test_to_minor_round_trips_formatted_amounts(minor, currency, lang):
    exponent = currency_exponent(currency)
    text = format_decimal(
        Decimal(minor).scaleb(-exponent), format="#,##0.00", locale=lang
    )  # the money format without the symbol
    assert to_minor(text, currency) == minor


@given(minor=st.integers(min_value=0, max_value=10**12), lang=st.sampled_from(SUPPORTED))
def test_to_minor_round_trips_zero_decimal_currencies(minor, lang):
    text = format_decimal(Decimal(minor), format="0", locale=lang)
    assert to_minor(text, "JPY") == minor


# --- templates ------------------------------------------------------------------------

PATIENTS = [{"id": "p-1", "name": "Kari <Nordmann>"}, {"id": "p-2", "name": "Ola Nordmann"}]
CONSULT = {
    "id": "c-1",
    "status": "active",
    "currency": "NOK",
    "patients": PATIENTS,
    "clinician": {"id": "u-1", "name": "Dr Hansen"},
}
REQUEST = {
    "id": "pr_1",
    "consult_id": "c-1",
    "patient_id": "p-1",
    "amount": 45000,
    "currency": "NOK",
    "description": "Consultation </script>",
    "status": "paid",
    "bill_card_id": "b-1",
    "created_at": "2025-03-01T10:00:00Z",
    "paid_at": "2025-03-01T10:05:00Z",
    "refunded_amount": 0,
    "stripe": {"checkout_session_id": "cs_1", "payment_intent_id": "pi_1"},
    "receipt": {"number": "CP-2025-000001", "url": "http://x.test/receipts/abc"},
}
RECEIPT_DOC = {
    "lang": "nb", "kind": "credit_note", "title": "Kreditnota", "reference": "CP-2025-000002",
    "number_label": "Kreditnotanummer", "issued_label": "Dato", "issued": "1. mars 2025, 11:05 (Europe/Oslo)",
    "issued_iso": "2025-03-01T10:05:00+00:00", "seller_name": "Demo Helse </script> AS",
    "registration_label": "Organisasjonsnummer", "registration_number": "923 609 016",
    "description": "Consultation </script>", "amount": "-100,00 kr", "currency": "NOK", "method": "Kort",
    "vat_note": "Helsetjenester er unntatt merverdiavgift.", "original_reference": "CP-2025-000001",
    "retention_note": "Ta vare på dette dokumentet.", "token": "abc",
    "hold_authorised": "800,00 kr", "hold_released": "300,00 kr", "consult": "1. mars 2025, 10:00, hos Dr. </script>",
}
PANEL = {
    "token": "tok.en",
    "socket_url": "",
    "socket_path": "/socket.io/",
    "consult": CONSULT,
    "statuses": panel_statuses(),
}

CASES = {
    "clinician": ("panel_clinician.html", {**PANEL, "can_request": True, "blocked_reason": None}),
    "clinician-one-patient": (
        "panel_clinician.html",
        {**PANEL, "consult": {**CONSULT, "patients": PATIENTS[:1]}, "can_request": True, "blocked_reason": None},
    ),
    "clinician-blocked": (
        "panel_clinician.html",
        {**PANEL, "can_request": False, "blocked_reason": "No Stripe account."},
    ),
    "patient": ("panel_patient.html", {**PANEL, "consult": {**CONSULT, "patients": PATIENTS[:1]}}),
    "return-paid": ("checkout_return.html", {"outcome": "paid", "request": REQUEST}),
    "return-pending": ("checkout_return.html", {"outcome": "pending", "request": REQUEST}),
    "return-left": ("checkout_return.html", {"outcome": "left", "request": REQUEST}),
    "return-cancelled": ("checkout_return.html", {"outcome": "cancelled", "request": REQUEST}),
    "return-expired": ("checkout_return.html", {"outcome": "expired", "request": REQUEST}),
    "return-failed": ("checkout_return.html", {"outcome": "failed", "request": REQUEST}),
    "return-unknown": ("checkout_return.html", {"outcome": "unknown", "request": None}),
    "return-bogus": ("checkout_return.html", {"outcome": "<bogus>", "request": None}),
    "demo": (
        "demo.html",
        {"clinician_url": "/c?t=1", "patient_url": "/p?t=2", "consult_id": "c-1", "api_docs_url": "/docs"},
    ),
    "error": ("error.html", {"status": 410, "title": "Link expired", "message": "Ask again."}),
    "receipt": ("receipt.html", {"doc": RECEIPT_DOC, "languages": [("en", "EN"), ("sv", "SV")]}),
    "ended-with-receipts": (
        "consult_ended.html",
        {"role": "patient", "requests": [{**REQUEST, "credit_notes": [{"number": "CP-2025-000002", "url": "/r/x"}]}]},
    ),
    "ended-without-receipts": ("consult_ended.html", {"role": "clinician", "requests": []}),
}


def render(template: str, lang: str, extra: dict) -> str:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined)
    tr = get_translator(lang)
    context = {
        "_": tr.gettext,
        "ngettext": tr.ngettext,
        "lang": lang,
        "dir": "ltr",
        "static_url": "/static",
        "format_money": lambda minor, currency: format_money(minor, currency, lang),
        "i18n_js": {s: tr.gettext(s) for s in JS_STRINGS},
        **extra,
    }
    return env.get_template(template).render(**context)


@pytest.mark.parametrize("lang", ["nb", "en", "sv"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_templates_render(case, lang):
    template, extra = CASES[case]
    html = render(template, lang, extra)
    assert f'<html lang="{lang}" dir="ltr">' in html
    assert 'href="#main"' in html and '<main id="main"' in html
    assert 'aria-live="polite"' in html
    assert "/static/css/app.css" in html
    # CSP without 'unsafe-inline': no inline handlers, and only data/src scripts.
    assert not re.search(r"\son[a-z]+=", html)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'type="application/json"' in tag or "src=" in tag, tag
    assert '</script>"' not in html and "Consultation </script>" not in html


def test_clinician_panel_contract():
    html = render("panel_clinician.html", "nb", CASES["clinician"][1])
    assert 'id="i18n"' in html and 'id="config"' in html
    assert '<label for="amount">Beløp</label>' in html
    assert '<label for="description">Beskrivelse</label>' in html
    # A group consult: a checkbox per patient and one for all of them, in a fieldset with its legend.
    assert '<legend class="choices__legend">Pasienter</legend>' in html
    assert '<label for="patient-all">Alle pasienter (2)</label>' in html
    assert 'name="patient_ids" value="p-1"' in html and '<label for="patient-1">' in html
    assert "Be om betaling</button>" in html
    assert 'role="alertdialog"' in html
    assert "Kari &lt;Nordmann&gt;" in html
    assert "/static/vendor/socket.io.min.js" in html


def test_single_patient_has_no_select():
    html = render("panel_clinician.html", "en", CASES["clinician-one-patient"][1])
    assert "<select" not in html
    assert 'name="patient_id" value="p-1"' in html


def test_blocked_clinic_disables_the_form_and_explains():
    html = render("panel_clinician.html", "en", CASES["clinician-blocked"][1])
    assert "No Stripe account." in html
    assert html.index("No Stripe account.") < html.index('<label for="amount">')
    assert 'data-role="request-fieldset" disabled' in html


def test_patient_panel_contract():
    html = render("panel_patient.html", "en", CASES["patient"][1])
    assert 'data-testid="confirmation"' in html
    assert "No payment is requested right now." in html


@pytest.mark.parametrize(
    ("outcome", "text"),
    [("paid", "Betaling mottatt"), ("failed", "Betalingen mislyktes"), ("<bogus>", "Fant ikke"),
     ("left", "Betalingen ble ikke fullført")],
)
def test_checkout_return_shows_the_outcome(outcome, text):
    html = render("checkout_return.html", "nb", {"outcome": outcome, "request": REQUEST})
    assert text in html
    assert "Du kan lukke dette vinduet og gå tilbake til samtalen." in html
    assert "450,00\xa0kr" in html


def test_demo_page():
    html = render("demo.html", "en", CASES["demo"][1])
    assert html.count("<iframe") == 2
    assert "4242 4242 4242 4242" in html and "4000 0000 0000 0002" in html
    assert 'href="/demo?new=1"' in html
