"""The admin speaks its readers' language: labels and sentences, never the codes the code base uses."""

from __future__ import annotations

import re

from app.keys import CLOCK, DB
from app.models import User
from tests.admin.cards_helpers import exported, move, new_card, settled_by_medipay
from tests.admin.factories import make_user, signed_in
from tests.admin.test_payments_page import KEY, plain
from tests.consults.test_refunds import paid_request
from tests.factories import Live

DESK = "/admin/cash-desk"


def section(html: str, testid: str) -> str:
    found = re.search(rf'<(table|ol|dl)[^>]*data-testid="{testid}".*?</\1>', html, re.S)
    assert found, testid
    return found.group(0)


def visible_and_spoken(html: str) -> str:
    """The text a reader sees or hears: the tags and their attributes (data-*, class) dropped."""
    return plain(re.sub(r"<[^>]+>", " ", html))


async def test_statuses_methods_and_history_are_labels_with_explanations(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    waiting = await new_card(live, "Ola Hansen", 30000)
    await move(live, waiting["id"], "not_exported", "not exported: missing_address")
    by_hand = await new_card(live, "Kari Berg", 20000)
    await move(live, by_hand["id"], "invoice_generated", "invoiced by hand at the cash desk")
    paid = await new_card(live, "Anne Solberg", 45000)
    now = live.app[CLOCK].now()
    await exported(live, paid["id"], now)
    await settled_by_medipay(live, paid["id"], "vipps", 48900, now)

    for lang, explained, vipps, arrow in (
        ("en", "Cannot be exported until corrected", "Vipps (MediPay)", "Not exported"),
        ("nb", "Kan ikke eksporteres før det er rettet", "Vipps (MediPay)", "Ikke eksportert"),
    ):
        async with await signed_in(live, admin, lang=lang) as browser:
            desk = await browser.get(DESK)
            assert desk.status == 200
            words = visible_and_spoken(section(desk.text, "cards"))
            # The codes stay as data for scripts and tests, never as words.
            assert 'data-status="not_exported"' in desk.text
            for code in ("not_exported", "invoice_generated", "status code", "statuskode"):
                assert code not in words, (lang, code)
            # Three statuses read "Faktura generert": each row also says which one it is.
            assert explained in words
            options = re.search(r'<select[^>]*name="status".*?</select>', desk.text, re.S)
            assert options and "(not_exported)" not in options.group(0)

            card = await browser.get(f"{DESK}/cards/{paid['id']}")
            payments = visible_and_spoken(section(card.text, "card-payments"))
            assert vipps in payments and " vipps " not in payments
            history = visible_and_spoken(section(card.text, "history"))
            assert "open_exported" not in history and "→" in history
            assert "exported to MediPay" not in history  # a recorded reason, in words ("Exported to MediPay")

            other = await browser.get(f"{DESK}/cards/{waiting['id']}")
            history = visible_and_spoken(section(other.text, "history"))
            assert arrow in history and "not_exported" not in history and "missing_address" not in history


async def test_payments_and_refund_kinds_read_as_words(live: Live) -> None:
    request, _, _ = await paid_request(live)
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin, lang="en") as browser:
        await browser.get("/admin/payments")
        ask = await browser.post(f"/admin/payments/{request['id']}/refund", {"amount": "100"})
        key = KEY.search(ask.text)
        assert key
        await browser.post(f"/admin/payments/{request['id']}/refund",
                           {"amount": "100", "confirm": "yes", "idempotency_key": key.group(1)})
        _, pr = await live.api("GET", f"/api/v1/payment-requests/{request['id']}")
        card = await browser.get(f"{DESK}/cards/{pr['bill_card_id']}")
        payments = visible_and_spoken(section(card.text, "card-payments"))
        assert "stripe_refund" not in payments and " stripe " not in payments
        assert "Card payment in the call (Stripe)" in payments and "Refund to the card (Stripe)" in payments


async def test_audit_entries_are_sentences_with_names_and_money(live: Live) -> None:
    async with live.app[DB].write() as s:
        s.add(User.new(organisation_id=live.demo["organisation_id"], clinic_id=live.demo["clinic_id"],
                       email="lege@example.test", name="Dr. Ingrid Lege", role="team_member", password_hash="x",
                       clinician_ref="u-1", now=live.app[CLOCK].now()))
    request, _, _ = await paid_request(live)
    admin = await make_user(live, "organisation_admin", name="Siri Admin")
    async with await signed_in(live, admin, lang="nb") as browser:
        await browser.get("/admin/payments")
        ask = await browser.post(f"/admin/payments/{request['id']}/refund", {"amount": "100,50"})
        key = KEY.search(ask.text)
        assert key
        await browser.post(f"/admin/payments/{request['id']}/refund",
                           {"amount": "100,50", "confirm": "yes", "idempotency_key": key.group(1)})
        page = await browser.get("/admin/audit")
        assert page.status == 200
        table = section(page.text, "audit")
        words = visible_and_spoken(table)
        assert 'data-action="payment.requested"' in table  # the code stays as data
        assert "{" not in words and "u-1" not in words and "payment.requested" not in words
        assert "10050" not in words and "45000" not in words
        assert "Dr. Ingrid Lege ba om en betaling på 450,00 kr" in words
        assert "Siri Admin refunderte 100,50 kr" in words
        # The action filter offers words too.
        options = re.search(r'<select[^>]*name="action".*?</select>', page.text, re.S)
        assert options and ">payment.requested<" not in options.group(0)
