"""Receipts of card holds: a capture says it was a card hold, what was authorised and what was released;
a no-show fee says so and names its consultation. The page and the PDF say the same (docs/rules.md, H2, H4)."""

from __future__ import annotations

import re
import zlib

from app.i18n import format_money
from tests.admin.factories import make_user, signed_in
from tests.consults.test_refunds import paid_request
from tests.factories import Live
from tests.holds.support import authorised_hold, request_row
from tests.receipts.test_receipts import fetch


def pdf_text(pdf: bytes) -> str:
    """The text a PDF draws: its page streams, inflated (the PDF core fonts write Latin-1)."""
    parts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            parts.append(stream.decode("latin-1"))
    return "\n".join(parts)


def plain(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&nbsp;", "\xa0")


async def test_captured_hold_receipt_shows_the_authorised_and_released_amounts(live: Live) -> None:
    _, clinician, _, r = await authorised_hold(live)
    ack = await clinician.call("payment:capture", {"request_id": r.id, "amount": 50000})
    assert ack["ok"], ack
    url = ack["request"]["receipt"]["url"]
    status, _, _, html = await fetch(live, url + "?lang=en")
    assert status == 200
    text = plain(html)
    nok = lambda minor: format_money(minor, "NOK", "en")  # noqa: E731
    assert f"Amount {nok(50000)}" in text and "Payment method Card hold captured" in text
    assert f"Card hold authorised {nok(80000)}" in text and f"Released, not charged {nok(30000)}" in text
    assert "For the consultation" not in text
    status, _, _, html = await fetch(live, url + "?lang=nb")
    text = plain(html)
    assert "Kortreservasjon trukket" in text and format_money(80000, "NOK", "nb") in text
    assert format_money(30000, "NOK", "nb") in text
    # The PDF prints the same lines (its fonts have no no-break space: a plain one stands in).
    status, ctype, pdf, _ = await fetch(live, url + "?format=pdf&lang=en")
    assert status == 200 and ctype == "application/pdf"
    drawn = pdf_text(pdf)
    assert "Card hold authorised" in drawn and "Released, not charged" in drawn
    assert "NOK 800.00" in drawn and "NOK 300.00" in drawn and "NOK 500.00" in drawn


async def test_no_show_fee_receipt_names_the_fee_and_its_consultation(live: Live) -> None:
    consult, _, patient, r = await authorised_hold(live, no_show_fee=30000)
    # Authorised in Stripe's tab from the waiting room, then gone without coming back: never joined.
    await patient.close()
    status, ended = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200 and ended["patients"][0]["no_show"]["how"] == "hold"
    after = await request_row(live, r.id)
    status, body = await live.api("GET", f"/api/v1/payment-requests/{r.id}")
    url = body["receipt"]["url"]
    assert body["receipt"]["number"] == after.receipt_reference
    status, _, _, html = await fetch(live, url + "?lang=en")
    text = plain(html)
    nok = lambda minor: format_money(minor, "NOK", "en")  # noqa: E731
    assert "Service No-show fee" in text and f"Amount {nok(30000)}" in text
    found = re.search(r"For the consultation ([^<]*?Dr\. Nordmann)", text)
    assert found, text
    assert f"Card hold authorised {nok(80000)}" in text and f"Released, not charged {nok(50000)}" in text
    status, _, _, html = await fetch(live, url + "?lang=sv")
    text = plain(html)
    assert "Avgift för uteblivet besök" in text and "Gäller konsultationen" in text and "Dr. Nordmann" in text
    status, _, pdf, _ = await fetch(live, url + "?format=pdf&lang=nb")
    drawn = pdf_text(pdf)
    assert "Gebyr for uteblitt time" in drawn and "Gjelder konsultasjonen" in drawn and "Dr. Nordmann" in drawn
    # The admin's list of receipts names the fee and the payment method in the reader's words, not codes.
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get("/admin/receipts")
    row = re.search(rf"<tr[^>]*>\s*<th scope=\"row\">{after.receipt_reference}.*?</tr>", page.text, re.S)
    assert row, page.text
    assert "Gebyr for uteblitt time" in row.group(0) and ">Kortreservasjon trukket<" in row.group(0)


async def test_a_receipt_paid_in_the_call_has_no_hold_lines(live: Live) -> None:
    request, _, patient = await paid_request(live)
    done = await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "paid")
    status, _, _, html = await fetch(live, done["request"]["receipt"]["url"] + "?lang=en")
    assert status == 200
    assert 'data-testid="amount"' in html and "Payment method Card " in plain(html)
    for testid in ("hold-authorised", "hold-released", "consult"):
        assert f'data-testid="{testid}"' not in html
