"""The cash desk (*Kasse*) as admins use it: find cards, open one, change shares, invoice by hand."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.billing.books import Books
from app.keys import CLOCK, DB
from app.models import AuditEvent, BillCard, BillCardLine, Clinic
from tests.admin.cards_helpers import exported, move, new_card
from tests.admin.factories import make_clinic, make_user, signed_in
from tests.admin.test_payments_page import plain
from tests.consults.test_refunds import paid_request
from tests.factories import Live

DESK = "/admin/cash-desk"


def card_ids(html: str) -> set[str]:
    import re

    return set(re.findall(r'data-card-id="(bc_\w+)"', html))


async def card_row(live: Live, card_id: str) -> BillCard:
    return await live.scalar(select(BillCard).where(BillCard.id == card_id))


async def test_list_search_and_filters(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    book = await Books(live.app[DB], clock=live.app[CLOCK]).create(
        live.demo["organisation_id"], owner_user_id=admin.id, description="Regnskap 2", export_format="medipay")
    kari = await new_card(live, "Anne Solberg", 45000, 20000, book_id=book["id"])
    ola = await new_card(live, "Ola Hansen", 30000)
    await move(live, ola["id"], "not_exported", "missing address", medipay_reason_code="missing_address",
               medipay_message="The patient has no address.")
    request, _, _ = await paid_request(live)
    from_call = (await live.api("GET", f"/api/v1/payment-requests/{request['id']}"))[1]["bill_card_id"]

    async with await signed_in(live, admin) as browser:
        page = await browser.get(DESK)
        assert page.status == 200
        assert {kari["id"], ola["id"], from_call} <= card_ids(page.text)
        # The label in the page's language (English here, not the Norwegian words); screen readers
        # also hear what it means; the code is data, never words.
        assert "<span>Open</span>" in page.text and "status code" not in page.text
        assert 'data-status="open"' in page.text and "Card receipt generated. Payments registered" in page.text
        assert "Åpen" not in page.text and "Bankkortnota" not in page.text
        assert '<span class="visually-hidden">: Waiting for export to MediPay; no SMS yet</span>' in page.text

        assert card_ids((await browser.get(DESK + "?q=solb")).text) == {kari["id"]}
        assert card_ids((await browser.get(DESK + f"?q={ola['id']}")).text) == {ola["id"]}
        assert card_ids((await browser.get(DESK + "?q=%25")).text) == set()  # a wildcard is a plain character
        assert card_ids((await browser.get(DESK + "?status=not_exported")).text) == {ola["id"]}
        assert card_ids((await browser.get(DESK + "?status=paid")).text) == {from_call}
        assert card_ids((await browser.get(DESK + f"?book={book['id']}")).text) == {kari["id"]}
        listed = await browser.get(DESK + "?list=not-exported")
        assert "Not exported invoices" in listed.text and card_ids(listed.text) == {ola["id"]}
        assert card_ids((await browser.get(DESK + "?list=manual")).text) == set()
        await move(live, ola["id"], "manual_handling", "rejected by MediPay")
        manual = await browser.get(DESK + "?list=manual")
        assert "Invoice for manual handling" in manual.text and card_ids(manual.text) == {ola["id"]}

        # The day in the clinic's zone (Oslo), the zone the cash desk filters days in.
        today = live.app[CLOCK].now().astimezone(ZoneInfo("Europe/Oslo")).date()
        assert card_ids((await browser.get(DESK + f"?from={today - timedelta(days=2)}&to={today - timedelta(days=1)}")
                         ).text) == set()
        assert len(card_ids((await browser.get(DESK + f"?from={today}&to={today}")).text)) == 3
        bad = await browser.get(DESK + "?from=yesterday&status=nope")
        assert bad.status == 422 and "Enter dates as YYYY-MM-DD." in bad.text and "Choose a status" in bad.text

    # Another clinic's admin sees none of them and cannot open them; another organisation gets not found.
    sibling = await make_clinic(live, live.demo["organisation_id"], name="Sibling clinic")
    other = await make_user(live, "clinic_admin", clinic_id=sibling.id)
    async with await signed_in(live, other) as browser:
        assert card_ids((await browser.get(DESK)).text) == set()
        assert (await browser.get(f"{DESK}/cards/{kari['id']}")).status == 403
        await browser.get(DESK)
        assert (await browser.post(f"{DESK}/cards/{kari['id']}/shares", {"refund_share": "1"})).status == 403
    foreign = await make_clinic(live)
    stranger = await make_user(live, "organisation_admin", organisation_id=foreign.organisation_id)
    async with await signed_in(live, stranger) as browser:
        assert (await browser.get(f"{DESK}/cards/{kari['id']}")).status == 404
        assert (await browser.get(f"{DESK}/cards/{'x' * 300}")).status == 404
    assert (await card_row(live, kari["id"])).refund_share == 20000


async def test_card_page_shares_and_the_exported_lock(live: Live) -> None:
    card = await new_card(live, "Kari Nordmann", 45000, 20000)
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get(f"{DESK}/cards/{card['id']}")
        assert page.status == 200
        text = plain(page.text)
        assert "Konsultasjon" in text and "450,00 kr" in text and "200,00 kr" in text
        assert 'data-testid="medipay-details"' in text and 'data-testid="exported-warning"' not in text
        assert 'name="patient_share" value="450,00"' in text
        assert "disabled" not in text.split('name="patient_share"')[1][:80]

        # Both shares change from the form (typed the Norwegian way); an adjustment line carries the difference.
        saved = await browser.post(f"{DESK}/cards/{card['id']}/shares",
                                   {"patient_share": "400,50", "refund_share": "250"}, follow=True)
        assert saved.status == 200
        row = await card_row(live, card["id"])
        assert (row.patient_share, row.refund_share) == (40050, 25000)
        bad = await browser.post(f"{DESK}/cards/{card['id']}/shares", {"patient_share": "abc"})
        assert bad.status == 422

        # Exported: the page warns, the patient share is locked, the server refuses it too.
        await exported(live, card["id"], live.app[CLOCK].now())
        page = await browser.get(f"{DESK}/cards/{card['id']}")
        assert 'data-testid="exported-warning"' in page.text and "Åpen og eksportert" in page.text
        assert "disabled" in page.text.split('name="patient_share"')[1][:120]
        assert 'data-testid="medipay-state" data-state="sent">Sendt: pasienten har fått SMS<' in page.text
        refused = await browser.post(f"{DESK}/cards/{card['id']}/shares", {"patient_share": "100"})
        assert refused.status == 409 and 'data-testid="card-error"' in refused.text
        assert (await card_row(live, card["id"])).patient_share == 40050
        refund = await browser.post(f"{DESK}/cards/{card['id']}/shares", {"refund_share": "300"}, follow=True)
        assert refund.status == 200
    row = await card_row(live, card["id"])
    assert (row.patient_share, row.refund_share, row.exported_patient_share) == (40050, 30000, 40050)
    adjustments = await live.rows(select(BillCardLine.patient_amount, BillCardLine.refund_amount).where(
        BillCardLine.bill_card_id == card["id"], BillCardLine.code == "ADJUST").order_by(BillCardLine.created_at))
    assert [tuple(a) for a in adjustments] == [(-4950, 5000), (0, 5000)]
    # The REST API answers the same lock with its code.
    status, body = await live.api("PATCH", f"/api/v1/bill-cards/{card['id']}", {"patient_share": 1})
    assert status == 409 and body["error"]["code"] == "patient_share_locked"


async def test_invoice_without_fee_and_the_manual_office_warning(live: Live) -> None:
    first = await new_card(live, "Kari Nordmann", 45000)
    second = await new_card(live, "Ola Hansen", 30000)
    clinic_id = live.demo["clinic_id"]
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get(f"{DESK}/cards/{first['id']}")
        # Not in manual office: a warning first, nothing changed yet.
        ask = await browser.post(f"{DESK}/cards/{first['id']}/invoice", {})
        assert ask.status == 200 and 'data-testid="manual-office-warning"' in ask.text
        assert "not in manual office mode" in ask.text and "without the admin fee" in ask.text
        assert (await card_row(live, first["id"])).status == "open"
        done = await browser.post(f"{DESK}/cards/{first['id']}/invoice", {"confirm": "yes"}, follow=True)
        assert "The invoice was made without the admin fee." in done.text
        row = await card_row(live, first["id"])
        assert (row.status, row.admin_fee) == ("invoice_generated", False)
        again = await browser.post(f"{DESK}/cards/{first['id']}/invoice", {"confirm": "yes"})
        assert again.status == 409

        # Manual office on: the desk says what it means, and invoicing by hand needs no warning.
        desk = await browser.get(DESK)
        assert "Manual office is off" in desk.text and 'id="manual-office-warning"' in desk.text
        on = await browser.post(f"/admin/clinics/{clinic_id}/manual-office", {"manual_office": "on"}, follow=True)
        assert "Manual office is on" in on.text and "no longer exported every hour" in on.text
        assert await live.scalar(select(Clinic.manual_office).where(Clinic.id == clinic_id)) is True
        direct = await browser.post(f"{DESK}/cards/{second['id']}/invoice", {"include_fee": "yes"})
        assert direct.status == 303
        row = await card_row(live, second["id"])
        assert (row.status, row.admin_fee) == ("invoice_generated", True)
        await browser.post(f"/admin/clinics/{clinic_id}/manual-office", {"manual_office": "off"})
        assert await live.scalar(select(Clinic.manual_office).where(Clinic.id == clinic_id)) is False
    actions = [a for (a,) in await live.rows(select(AuditEvent.action).where(AuditEvent.actor_id == admin.id))]
    assert actions.count("bill_card.invoiced_by_hand") == 2
    assert "clinic.manual_office_on" in actions and "clinic.manual_office_off" in actions
