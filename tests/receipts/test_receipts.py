"""Receipts that outlive the call: numbered per organisation, linked without the join token, as PDF too."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from sqlalchemy import select

from app.clock import ManualClock
from app.keys import DB
from app.models import Clinic, PaymentRequest, Receipt
from tests.admin.factories import make_clinic, make_user, signed_in
from tests.consults.test_refunds import paid_request
from tests.consults.test_stripe_webhooks import completed_event, post_event
from tests.factories import Live

REFERENCE = re.compile(r"CP-\d{4}-\d{6}")


async def fetch(live: Live, url: str, **headers: str) -> tuple[int, str, bytes, str]:
    assert live.http
    async with live.http.get(url, headers=headers, allow_redirects=False) as resp:
        body = await resp.read()
        return resp.status, resp.headers.get("Content-Type", ""), body, body.decode("utf-8", "replace")


async def set_seller(live: Live, legal_name: str = "Demo Helse AS", number: str = "923609016") -> None:
    async with live.app[DB].write() as s:
        clinic = await s.get(Clinic, live.demo["clinic_id"])
        assert clinic is not None
        clinic.legal_name = legal_name
        clinic.registration_number = number


async def test_paid_requests_get_receipts_numbered_one_two_per_organisation(live: Live) -> None:
    await set_seller(live)
    first, clinician, patient = await paid_request(live)
    done = await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "paid")
    receipt = done["request"]["receipt"]
    assert receipt["number"].endswith("-000001") and REFERENCE.fullmatch(receipt["number"])
    assert receipt["url"].startswith(live.url + "/receipts/")
    # Not the join token, and nothing about the patient in the link.
    token = receipt["url"].rsplit("/", 1)[1]
    assert token not in str(live.demo) and "p-1" not in receipt["url"] and first["id"] not in receipt["url"]

    second, _, _ = await paid_request(live, amount=30000)
    status, body = await live.api("GET", f"/api/v1/payment-requests/{second['id']}")
    assert status == 200 and body["receipt"]["number"].endswith("-000002")

    # Another organisation counts from one.
    other = await make_clinic(live, name="Sørlandet legesenter")
    rows = await live.rows(select(Receipt.organisation_id, Receipt.number).order_by(Receipt.number))
    assert rows == [(live.demo["organisation_id"], 1), (live.demo["organisation_id"], 2)]
    assert other.organisation_id != live.demo["organisation_id"]


async def test_concurrent_settlements_take_numbers_without_gaps(live: Live) -> None:
    await set_seller(live)
    _, clinician, patient = await live.call_pair()
    requests: list[dict[str, Any]] = []
    for n in range(6):
        ack = await clinician.call("payment:request", {"amount": 10000 + n * 100, "description": f"Visit {n}"})
        requests.append(ack["request"])
    sessions = []
    for r in requests:
        await patient.call("payment:checkout", {"request_id": r["id"]})
        row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == r["id"]))
        sessions.append((r, row.checkout_session_id, row.stripe_account_id))
    events = [completed_event(f"evt_rcp_{i}", r, sid, account=acct) for i, (r, sid, acct) in enumerate(sessions)]
    # Each delivered twice, all at once.
    results = await asyncio.gather(*(post_event(live, e) for e in events + events))
    assert all(status == 200 for status, _ in results), results
    numbers = sorted(n for (n,) in await live.rows(select(Receipt.number)))
    assert numbers == [1, 2, 3, 4, 5, 6]
    refs = await live.rows(select(PaymentRequest.receipt_reference))
    assert len({ref for (ref,) in refs}) == 6


async def test_receipt_opens_a_week_after_the_call_as_page_and_pdf(clocked: tuple[Live, ManualClock]) -> None:
    live, clock = clocked
    await set_seller(live)
    request, _, _ = await paid_request(live)
    status, body = await live.api("GET", f"/api/v1/payment-requests/{request['id']}")
    receipt = body["receipt"]
    status, _ = await live.api("POST", f"/api/v1/consults/{request['consult_id']}/end")
    assert status == 200

    clock.advance(days=7)
    status, ctype, _, html = await fetch(live, receipt["url"])
    assert status == 200 and ctype.startswith("text/html")
    assert receipt["number"] in html and "Demo Helse AS" in html and "923 609 016" in html
    # In the consult's language (English here), and in Norwegian on asking.
    assert "merverdiavgiftsloven § 3-2" in html and "Organisation number" in html and "Card" in html
    status, _, _, norsk = await fetch(live, receipt["url"] + "?lang=nb")
    assert status == 200 and "Kvittering" in norsk and "Organisasjonsnummer" in norsk and "Kort" in norsk
    assert "Helsetjenester er unntatt merverdiavgift" in norsk

    status, ctype, pdf, _ = await fetch(live, receipt["url"] + "?format=pdf")
    assert status == 200 and ctype == "application/pdf"
    assert pdf.startswith(b"%PDF") and receipt["number"].encode() in pdf

    # A made-up link is a translated 404, not a 500.
    status, _, _, missing = await fetch(live, live.url + "/receipts/not-a-real-token-0123456789")
    assert status == 404


async def test_refund_gets_a_credit_note_in_the_same_sequence(live: Live) -> None:
    await set_seller(live)
    request, clinician, _ = await paid_request(live)
    status, refund = await live.api("POST", f"/api/v1/payment-requests/{request['id']}/refunds", {"amount": 10000})
    assert status == 201, refund
    note = refund["credit_note"]
    assert note and note["number"].endswith("-000002")
    status, _, _, html = await fetch(live, note["url"] + "?lang=en")
    assert status == 200 and "Credit note" in html
    receipt = (await live.api("GET", f"/api/v1/payment-requests/{request['id']}"))[1]["receipt"]
    assert receipt["number"] in html  # it names the receipt it corrects
    kinds = await live.rows(select(Receipt.number, Receipt.kind, Receipt.amount).order_by(Receipt.number))
    assert kinds == [(1, "receipt", 45000), (2, "credit_note", 10000)]


async def test_reloading_the_panel_after_the_end_shows_the_receipts_not_401(live: Live) -> None:
    consult, clinician, patient = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"}))["request"]
    url = (await patient.call("payment:checkout", {"request_id": request["id"]}))["url"]
    await live.pay_on_hosted_page(url)
    await clinician.wait_for("payment:received")
    receipt = (await live.api("GET", f"/api/v1/payment-requests/{request['id']}"))[1]["receipt"]
    status, _ = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert status == 200

    # Both people reload their panel from the join link the host platform framed.
    for person in (consult["patients"][0], consult["clinician"]):
        status, _, _, html = await fetch(live, person["join_url"])
        assert status == 200, html
        # The error page's "Error code: 401" is gone (the page's own links may hold any digits).
        assert "Error code" not in html and 'data-status="401"' not in html
        assert "The consultation has ended" in html
        assert receipt["number"] in html and receipt["url"] in html
        assert request["id"] not in html  # the short number, not the long id

    # A forged token still gets the plain refusal.
    status, _, _, _ = await fetch(live, f"{live.url}/join/not.a.token")
    assert status == 401


async def test_admin_receipt_list_is_role_checked(live: Live) -> None:
    await set_seller(live)
    request, _, _ = await paid_request(live)
    reference = (await live.api("GET", f"/api/v1/payment-requests/{request['id']}"))[1]["receipt"]["number"]
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        page = await browser.get("/admin/receipts")
        assert page.status == 200 and reference in page.text and "?format=pdf" in page.text
    member = await make_user(live, "team_member")
    async with await signed_in(live, member) as browser:
        assert (await browser.get("/admin/receipts")).status == 403
    other_clinic = await make_clinic(live, live.demo["organisation_id"], name="Annen klinikk")
    outsider = await make_user(live, "clinic_admin", clinic_id=other_clinic.id)
    async with await signed_in(live, outsider) as browser:
        page = await browser.get("/admin/receipts")
        assert page.status == 200 and reference not in page.text


async def test_concurrent_settlements_on_postgresql_take_numbers_without_gaps(live_pg: Live) -> None:
    await test_concurrent_settlements_take_numbers_without_gaps(live_pg)


async def test_seller_details_are_checked_and_printed_on_later_receipts(live: Live) -> None:
    admin = await make_user(live, "clinic_admin")
    path = f"/admin/clinics/{live.demo['clinic_id']}/receipt-details"
    async with await signed_in(live, admin, lang="nb") as browser:
        listing = await browser.get("/admin/receipts")
        assert "viser ennå ikke noe organisasjonsnummer" in listing.text and path in listing.text
        page = await browser.get(path)
        assert page.status == 200 and "Organisasjonsnummer" in page.text
        bad = await browser.post(path, {"legal_name": "Demo Helse AS", "registration_number": "923609017"})
        assert bad.status == 422 and "gyldig organisasjonsnummer" in bad.text
        clinic = await live.scalar(select(Clinic).where(Clinic.id == live.demo["clinic_id"]))
        assert clinic.registration_number is None  # nothing changed
        good = await browser.post(path, {"legal_name": " Demo  Helse AS ", "registration_number": "923 609 016"})
        assert good.status == 303
        assert "seller-incomplete" not in (await browser.get("/admin/receipts")).text
    clinic = await live.scalar(select(Clinic).where(Clinic.id == live.demo["clinic_id"]))
    assert (clinic.legal_name, clinic.registration_number) == ("Demo Helse AS", "923609016")
    # Without CSRF nothing is saved; a clinic admin of another clinic may not see the page.
    other = await make_clinic(live, live.demo["organisation_id"], name="Annen klinikk")
    outsider = await make_user(live, "clinic_admin", clinic_id=other.id)
    async with await signed_in(live, outsider) as browser:
        assert (await browser.get(path)).status == 403
        assert (await browser.post(path, {"legal_name": "X"}, csrf="wrong")).status == 403

    request, _, _ = await paid_request(live)
    receipt = (await live.api("GET", f"/api/v1/payment-requests/{request['id']}"))[1]["receipt"]
    status, _, _, html = await fetch(live, receipt["url"])
    assert "Demo Helse AS" in html and "923 609 016" in html


async def test_an_issued_receipt_is_never_changed(live: Live) -> None:
    import pytest
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    await paid_request(live)
    for statement in (update(Receipt).values(amount=1), delete(Receipt)):
        with pytest.raises(DBAPIError):
            async with live.app[DB].write() as s:
                await s.execute(statement)
    assert await live.rows(select(Receipt.number, Receipt.amount)) == [(1, 45000)]
