"""Australia and readers outside Norway: AUD clinics, en-AU formatting, English as the fallback,
and the panel in the reader's own language (their choice, else their browser's)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from app.errors import Invalid
from app.i18n import babel_locale, format_money, negotiate_locale
from app.i18n.zones import format_instant
from app.models import Clinic, StripeAccount
from app.payments.minimums import check_minimum
from app.regions import CURRENCIES, country_for_currency, default_zone_for_country, default_zone_for_currency
from tests.admin.factories import make_user, signed_in
from tests.connect.helpers import link_enabled_account
from tests.factories import Live, consult_body


async def get_page(live: Live, url: str, accept_language: str | None) -> tuple[int, str]:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        return resp.status, await resp.text()


# ---------- languages and formats ----------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en-AU,en;q=0.9", "en-AU"),
        ("en-au", "en-AU"),
        ("en-GB,en;q=0.9", "en"),
        ("nb-NO", "nb"),
        ("de-DE,de;q=0.9", "en"),
        (None, "nb"),
    ],
)
def test_negotiate_locale_keeps_australia(header: str | None, expected: str) -> None:
    assert negotiate_locale(header) == expected


def test_aud_in_en_au_is_dollars() -> None:
    assert babel_locale("en-AU") == "en_AU"
    assert format_money(45000, "AUD", "en-AU") == "$450.00"
    # Elsewhere in English the dollar says whose it is.
    assert format_money(45000, "AUD", "en") == "A$450.00"
    assert format_money(45000, "NOK", "en-AU") == "NOK\xa0450.00"


def test_dates_day_first_with_the_year_in_en_au() -> None:
    paid = datetime(2026, 12, 3, 12, 15, tzinfo=UTC)
    assert format_instant(paid, ZoneInfo("Australia/Sydney"), "en-AU") == "03/12/2026, 11:15 pm"
    assert format_instant(paid, ZoneInfo("Europe/Oslo"), "en") == "03/12/2026, 13:15"
    assert format_instant(paid, ZoneInfo("Europe/Oslo"), "nb") == "03.12.2026, 13:15"


def test_aud_minimum_is_fifty_cents() -> None:
    check_minimum(50, "AUD")
    with pytest.raises(Invalid) as refused:
        check_minimum(49, "AUD")
    assert refused.value.code == "amount_too_small"


def test_australian_clinics_are_in_sydney() -> None:
    assert "AUD" in CURRENCIES
    assert country_for_currency("AUD") == "AU"
    assert default_zone_for_country("AU") == "Australia/Sydney"
    assert default_zone_for_currency("AUD") == "Australia/Sydney"
    assert default_zone_for_currency("NOK") == "Europe/Oslo"


# ---------- the admin ----------


async def test_admin_in_an_unsupported_language_is_english(live: Live) -> None:
    status, html = await get_page(live, live.url + "/admin/sign-in", "de-DE,de;q=0.9")
    assert status == 200
    assert '<html lang="en"' in html and "Sign in" in html and "Logg inn" not in html


async def test_admin_in_en_au(live: Live) -> None:
    status, html = await get_page(live, live.url + "/admin/sign-in", "en-AU,en;q=0.9")
    assert status == 200
    assert '<html lang="en-AU"' in html and "Sign in" in html


async def test_admin_creates_an_australian_clinic_with_an_au_stripe_account(live: Live) -> None:
    org_admin = await make_user(live, "organisation_admin")
    admin = await signed_in(live, org_admin, lang="en-AU,en;q=0.9")
    try:
        form = await admin.get("/admin/clinics/new")
        assert form.status == 200
        assert '<option value="AUD"' in form.text and "AUD — Australia" in form.text
        reply = await admin.post("/admin/clinics/new", {"name": "Harbour Clinic", "currency": "AUD"})
        assert reply.status == 303, reply.text
        clinic = await live.scalar(select(Clinic).where(Clinic.name == "Harbour Clinic"))
        assert clinic is not None and clinic.currency == "AUD"
        # No zone chosen on the form: the one of the currency's country, not Oslo.
        assert clinic.time_zone == "Australia/Sydney"

        row = await link_enabled_account(live, admin, clinic.id, "Harbour main")
        headers = {"Authorization": f"Bearer {live.settings.stripe_key}"}
        async with aiohttp.ClientSession() as http, http.get(
            f"{live.sandbox}/v1/accounts/{row.stripe_account_id}", headers=headers
        ) as resp:
            account = await resp.json()
        assert account["country"] == "AU" and account["default_currency"] == "aud"
        assert await live.scalar(select(StripeAccount.clinic_id).where(StripeAccount.id == row.id)) == clinic.id
    finally:
        await admin.close()


# ---------- the panels ----------


async def test_panel_follows_the_browser_not_the_consults_default(live: Live) -> None:
    consult = await live.consult(language="nb")
    url = consult["patients"][0]["join_url"]
    status, html = await get_page(live, url, "en-AU,en;q=0.9")
    assert status == 200
    assert '<html lang="en-AU"' in html and "No payment is requested right now." in html
    # An unsupported browser language: English, not Norwegian.
    _, html = await get_page(live, url, "ja-JP,ja;q=0.9")
    assert '<html lang="en"' in html
    # No Accept-Language at all: the language the host platform gave the consult.
    _, html = await get_page(live, url, None)
    assert '<html lang="nb"' in html


async def test_patient_chooses_the_panels_language(live: Live) -> None:
    consult = await live.consult(language="en")
    url = consult["patients"][0]["join_url"]
    status, html = await get_page(live, url + "?lang=sv", "en-US,en;q=0.9")
    assert status == 200 and '<html lang="sv"' in html
    assert 'aria-current="true">Svenska</a>' in html
    assert 'lang="nb" hreflang="nb" data-lang="nb"' in html and ">Norsk bokmål</a>" in html
    # Something we do not have is no choice: the browser's language stands.
    _, html = await get_page(live, url + "?lang=xx", "en-US,en;q=0.9")
    assert '<html lang="en"' in html


async def test_socket_answers_in_the_panels_language(live: Live) -> None:
    consult = await live.consult(language="en")
    for lang, expected in (("sv", "Bara patienten kan göra det."), (None, "Only the patient can do that.")):
        peer = await live.peer(consult["clinician"]["token"])
        if lang is not None:
            await peer.client.disconnect()
            await peer.client.connect(live.url, namespaces=["/consult"], transports=["websocket"],
                                      auth={"token": consult["clinician"]["token"], "lang": lang}, wait_timeout=5)
        ack = await peer.call("payment:checkout", {"request_id": "pr_unknown"})
        assert ack["ok"] is False
        assert ack["error"]["message"] == expected, ack


async def test_aud_consult_refuses_less_than_fifty_cents(live: Live) -> None:
    org_admin = await make_user(live, "organisation_admin")
    admin = await signed_in(live, org_admin)
    try:
        await admin.post("/admin/clinics/new", {"name": "Bondi Clinic", "currency": "AUD"})
        clinic = await live.scalar(select(Clinic).where(Clinic.name == "Bondi Clinic"))
        assert clinic is not None
        await admin.post(f"/admin/clinics/{clinic.id}/payment-app/approve")
        await link_enabled_account(live, admin, clinic.id, "Bondi main")
    finally:
        await admin.close()
    status, consult = await live.api("POST", "/api/v1/consults",
                                     consult_body(clinic.id, currency="AUD", language="en", external_id="c-au"))
    assert status == 201, consult
    clinician = await live.peer(consult["clinician"]["token"])
    ack = await clinician.call("payment:request", {"amount": 49, "description": "Consultation"})
    assert ack["ok"] is False and ack["error"]["code"] == "amount_too_small"
    assert "A$0.50" in ack["error"]["message"]
    ack = await clinician.call("payment:request", {"amount": 50, "description": "Consultation"})
    assert ack["ok"] is True, ack
    assert ack["request"]["currency"] == "AUD"
