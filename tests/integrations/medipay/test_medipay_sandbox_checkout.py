"""MediPay Checkout, the page the SMS links to: over HTTP (languages, bad links,
double submits, the form without JavaScript) and in Chromium (choose Vipps on a
phone-sized screen, with the keyboard, and see it paid)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from medipay_sandbox_support import CREDENTIALS, Running, make_claim

from integrations.medipay.sandbox.i18n import get_translator

CHROMIUM = "/usr/bin/chromium"
SANDBOX_DIR = Path(__file__).resolve().parents[3] / "integrations" / "medipay" / "sandbox"


async def _export(sandbox: Running, claim_id: str = "c1", **kw) -> str:
    state = await sandbox.client.export_claim(CREDENTIALS, make_claim(claim_id, **kw))
    assert state.checkout_url
    return state.checkout_url


async def _get(sandbox: Running, url: str, lang: str | None = None) -> tuple[int, str]:
    headers = {"Accept-Language": lang} if lang else {}
    async with sandbox.http.get(url, headers=headers) as resp:
        return resp.status, await resp.text()


@pytest.mark.parametrize(
    ("lang", "words"),
    [("nb", ["Hvordan vil du betale?", "Ekspedisjonsgebyr", "489,00", 'lang="nb"']),
     ("en", ["How do you want to pay?", "Admin fee", "NOK\xa0489.00", 'lang="en"']),
     ("sv", ["Hur vill du betala?", "Expeditionsavgift", 'lang="sv"'])],
)
async def test_page_speaks_the_patients_language(sandbox: Running, lang: str, words: list[str]):
    url = await _export(sandbox)
    status, html = await _get(sandbox, url, lang)
    assert status == 200
    for word in words:
        assert word in html
    assert "<script" not in html  # works without JavaScript
    assert 'name="viewport"' in html
    status, html = await _get(sandbox, url + "&lang=sv", "en")
    assert 'lang="sv"' in html


async def test_wrong_token_or_claim_is_not_found(sandbox: Running):
    url = await _export(sandbox)
    status, html = await _get(sandbox, url[:-3] + "xyz", "en")
    assert status == 404 and "This payment link is not valid" in html
    status, _ = await _get(sandbox, f"{sandbox.url}/checkout/nope?t=abc", "en")
    assert status == 404
    async with sandbox.http.post(f"{sandbox.url}/checkout/c1", data={"t": "wrong", "method": "card"}) as resp:
        assert resp.status == 404
    assert (await sandbox.client.get_claim(CREDENTIALS, "c1")).state == "sent"


async def test_form_post_pays_once_even_when_clicked_twice(sandbox: Running):
    url = await _export(sandbox)
    token = url.split("t=", 1)[1]
    for _ in range(2):
        async with sandbox.http.post(f"{sandbox.url}/checkout/c1", data={"t": token, "method": "card",
                                                                          "lang": "en"},
                                     allow_redirects=False) as resp:
            assert resp.status == 303
            assert resp.headers["Location"].startswith("/checkout/c1?t=")
    status, html = await _get(sandbox, url + "&lang=en")
    assert "Payment received" in html and "You paid NOK\xa0489.00 with Card" in html
    state = await sandbox.client.get_claim(CREDENTIALS, "c1")
    assert state.state == "paid" and len(state.payments) == 1 and state.version == 2


async def test_no_choice_is_an_error_on_the_page(sandbox: Running):
    url = await _export(sandbox)
    token = url.split("t=", 1)[1]
    async with sandbox.http.post(f"{sandbox.url}/checkout/c1", data={"t": token, "lang": "en"}) as resp:
        html = await resp.text()
        assert resp.status == 400
    assert 'role="alert"' in html and "Choose one way to pay." in html
    assert 'aria-describedby="choice-error"' in html


async def test_page_shows_invoice_sent_after_the_deadline(sandbox: Running):
    url = await _export(sandbox, amount=100_000)
    await sandbox.advance(49)
    status, html = await _get(sandbox, url + "&lang=en")
    assert status == 200 and "Invoice sent" in html and "<form" not in html


def test_sandbox_strings_are_translated():
    ids: set[str] = set()
    for path in SANDBOX_DIR.glob("*.py"):
        for _lineno, message, _comments, _context in extract_from_file("python", str(path)):
            ids.add(message if isinstance(message, str) else message[0])
    assert len(ids) > 10
    for lang in ("nb", "sv"):
        t = get_translator(lang)
        missing = [m for m in ids if t.gettext(m) == m and m not in ("Vipps", "MediPay Checkout")]
        assert not missing, (lang, missing)


@pytest.mark.browser
async def test_patient_chooses_vipps_in_chromium(sandbox: Running):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required in CI")
        pytest.skip("Chromium is not installed")
    from playwright.async_api import async_playwright, expect

    from tests.web.axe import require_axe, violations_on

    require_axe()
    url = await _export(sandbox)
    [sms] = await sandbox.sms("c1")
    assert url in sms["text"]  # the patient follows the SMS link
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                           args=["--no-sandbox", "--disable-gpu"])
        try:
            phone = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True,
                     "locale": "nb-NO"}
            # axe-core on the page as the patient first sees it (it needs scripts; the patient does not).
            found = await violations_on(browser, url, **phone)
            # A phone: small screen, touch, Norwegian.
            ctx = await browser.new_context(**phone, java_script_enabled=False)
            page = await ctx.new_page()
            await page.goto(url)
            await expect(page.get_by_role("heading", name="Din regning")).to_be_visible()
            group = page.get_by_role("group", name="Hvordan vil du betale?")
            await expect(group).to_be_visible()
            # Fits the phone: no sideways scrolling.
            assert await page.evaluate("document.documentElement.scrollWidth") <= 375
            # With the keyboard: focus Vipps, select it, submit.
            vipps = page.get_by_role("radio", name="Vipps")
            await vipps.focus()
            await page.keyboard.press("Space")
            await expect(vipps).to_be_checked()
            await page.get_by_role("button", name="Fortsett").press("Enter")
            await expect(page.get_by_role("heading", name="Betaling mottatt")).to_be_visible()
            await expect(page.get_by_role("status")).to_contain_text("Vipps")
            await ctx.close()
            # And once it is paid.
            found += await violations_on(browser, url, **phone)
            assert not found, "axe-core found accessibility violations:\n  " + "\n  ".join(found)
        finally:
            await browser.close()
    state = await sandbox.client.get_claim(CREDENTIALS, "c1")
    assert state.state == "paid" and state.choice == "vipps"
    assert [p.method for p in state.payments] == ["vipps"]
    await sandbox.receiver.wait_for(lambda r: len(r.events("claim.paid")) == 1)
    assert sandbox.receiver.events("claim.paid")[0]["claim"]["payments"][0]["method"] == "vipps"


async def test_front_page_clicks_through_the_flow(sandbox: Running):
    url = await _export(sandbox, amount=100_000)
    status, html = await _get(sandbox, sandbox.url + "/", "en")
    assert status == 200 and "c1" in html and url.replace("&", "&amp;") in html
    assert "SMS outbox" in html and "medipay-test" in html
    async with sandbox.http.post(sandbox.url + "/dashboard/advance", data={"hours": "49"},
                                 allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/"
    status, html = await _get(sandbox, sandbox.url + "/", "en")
    assert "invoice_sent" in html and "Pay the invoice" in html
    async with sandbox.http.post(sandbox.url + "/dashboard/claims/c1/pay", allow_redirects=False) as resp:
        assert resp.status == 303
    assert (await sandbox.client.get_claim(CREDENTIALS, "c1")).state == "invoice_paid"
    async with sandbox.http.post(sandbox.url + "/dashboard/claims/c1/pay") as resp:
        assert resp.status == 409
    async with sandbox.http.post(sandbox.url + "/dashboard/advance", data={"hours": "-3"}) as resp:
        assert resp.status == 400
