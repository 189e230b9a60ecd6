"""Irreversible actions in the admin ask first (a confirm page, no script needed); what was
one-way can be undone (users reactivated, invitations revoked); an admin can cancel a stale
open request so that the account can be removed; the report chart's labels can be read."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from sqlalchemy import select

from app.i18n import format_money
from app.keys import STRIPE
from app.models import AuditEvent, Invitation, PaymentRequest, StripeAccount
from tests.admin.cards_helpers import new_card
from tests.admin.factories import AdminClient, make_user, signed_in, user_by_email
from tests.factories import Live

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
DESK = "/admin/cash-desk"


async def _actions(live: Live) -> list[tuple[str, str | None]]:
    return [tuple(r) for r in await live.rows(select(AuditEvent.action, AuditEvent.actor_id).order_by(AuditEvent.id))]


async def test_deactivating_asks_first_and_can_be_undone(live: Live) -> None:
    admin = await make_user(live, "clinic_admin")
    member = await make_user(live, "team_member", name="Tora Team")
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/users")
        asked = await browser.post(f"/admin/users/{member.id}/deactivate")
        assert asked.status == 200 and 'data-testid="confirm"' in asked.text
        assert "Tora Team" in asked.text
        assert (await user_by_email(live, member.email)).active is True

        done = await browser.post(f"/admin/users/{member.id}/deactivate", {"confirm": "yes"})
        assert done.status == 303
        assert (await user_by_email(live, member.email)).active is False
        page = await browser.get("/admin/users")
        assert f'action="/admin/users/{member.id}/reactivate"' in page.text

        back = await browser.post(f"/admin/users/{member.id}/reactivate")
        assert back.status == 303
        assert "Tora Team can sign in again." in (await browser.get("/admin/users")).text
    assert (await user_by_email(live, member.email)).active is True
    assert ("user.reactivated", admin.id) in await _actions(live)
    async with AdminClient(live.url) as tora:
        assert (await tora.sign_in(member.email)).status == 303


async def test_reactivating_is_role_checked(live: Live) -> None:
    member = await make_user(live, "team_member", active=False)
    other_member = await make_user(live, "team_member")
    async with await signed_in(live, other_member) as browser:
        assert (await browser.post(f"/admin/users/{member.id}/reactivate")).status == 403
    assert (await user_by_email(live, member.email)).active is False


async def test_invitation_can_be_revoked(live: Live) -> None:
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get("/admin/users/invite")
        reply = await browser.post("/admin/users/invite", {"email": "gone@example.test", "name": "Gone",
                                                           "role": "team_member"})
        link = re.search(r'data-testid="invitation-link">([^<]+)<', reply.text).group(1)
        inv = await live.scalar(select(Invitation))
        page = await browser.get("/admin/users")
        assert f'action="/admin/users/invitations/{inv.id}/revoke"' in page.text
        asked = await browser.post(f"/admin/users/invitations/{inv.id}/revoke")
        assert asked.status == 200 and 'data-testid="confirm"' in asked.text and "gone@example.test" in asked.text
        async with AdminClient(live.url) as stranger:
            assert (await stranger.get(link.removeprefix(live.url))).status == 200
        done = await browser.post(f"/admin/users/invitations/{inv.id}/revoke", {"confirm": "yes"})
        assert done.status == 303
        page = await browser.get("/admin/users")
        assert "The invitation to gone@example.test was revoked." in page.text
        assert f"/admin/users/invitations/{inv.id}/revoke" not in page.text
    async with AdminClient(live.url) as stranger:
        assert (await stranger.get(link.removeprefix(live.url))).status == 404
    assert ("invitation.revoked", admin.id) in await _actions(live)


async def test_send_to_payment_asks_before_the_patient_is_texted(live: Live) -> None:
    card = await new_card(live, "Sigrid Vik", 45000, book_id=live.demo["medipay_book_id"])
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get(f"{DESK}/cards/{card['id']}")
        asked = await browser.post(f"{DESK}/cards/{card['id']}/send", {})
        assert asked.status == 200 and 'data-testid="confirm"' in asked.text
        assert "SMS" in asked.text and "NOK" in asked.text
        _, now = await live.api("GET", f"/api/v1/bill-cards/{card['id']}")
        assert now["status"] == "open"
        sent = await browser.post(f"{DESK}/cards/{card['id']}/send", {"confirm": "yes"}, follow=True)
        assert "was sent to MediPay" in sent.text


async def test_admin_cancels_a_stale_open_request_and_can_then_remove_the_account(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    base = f"/admin/clinics/{clinic_id}/client-payments"
    account = await live.scalar(select(StripeAccount).where(StripeAccount.clinic_id == clinic_id))
    _, clinician, patient = await live.call_pair(language="en")
    ack = await clinician.call("payment:request", {"amount": 45000, "description": "Consultation"})
    request_id = ack["request"]["id"]
    opened = await patient.call("payment:checkout", {"request_id": request_id})
    assert opened["ok"], opened
    stored = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    session_id = stored.checkout_session_id

    member = await make_user(live, "team_member")
    async with await signed_in(live, member) as browser:
        assert (await browser.post(f"{base}/requests/{request_id}/cancel", {"confirm": "yes"})).status == 403

    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        listed = await browser.get(f"{base}/accounts/{account.id}/remove")
        assert f'action="{base}/requests/{request_id}/cancel"' in listed.text
        asked = await browser.post(f"{base}/requests/{request_id}/cancel", {"account_id": account.id})
        assert asked.status == 200 and 'data-testid="confirm"' in asked.text and "NOK" in asked.text
        assert (await live.scalar(select(PaymentRequest.status).where(PaymentRequest.id == request_id))) \
            == "checkout_open"
        done = await browser.post(f"{base}/requests/{request_id}/cancel",
                                  {"confirm": "yes", "account_id": account.id})
        assert done.status == 303 and done.location.endswith(f"/accounts/{account.id}/remove")
        # The patient's panel is told at once; Stripe's session is closed, so it cannot be paid.
        told = await patient.wait_for("payment:updated", lambda d: d["request"]["status"] == "cancelled")
        assert told["request"]["id"] == request_id
        session = await live.app[STRIPE].retrieve_checkout_session(session_id, account=stored.stripe_account_id)
        assert session.status == "expired"
        again = await browser.get(f"{base}/accounts/{account.id}/remove")
        assert 'data-testid="confirm-remove"' in again.text
        assert (await browser.post(f"{base}/accounts/{account.id}/remove")).status == 303
    assert ("payment.cancelled", admin.id) in await _actions(live)


def _hex_luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((_hex_luminance(a), _hex_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_report_chart_labels_have_at_least_4_5_to_1() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    env.globals["format_money"] = lambda minor, currency: format_money(minor, currency, "en")
    macro = env.get_template("admin/_chart.html").module.bar_chart  # type: ignore[attr-defined]
    items = [{"label": "Big", "value": 900_000, "width": 100}, {"label": "Small", "value": 1000, "width": 5},
             {"label": "Back", "value": -500_000, "width": 80}]
    svg = str(macro(items, "Earnings", "NOK"))
    rects = re.findall(r'<rect[^>]*fill="(#[0-9a-fA-F]{6})"', svg)
    texts = re.findall(r"<text([^>]*)>", svg)
    assert len(rects) == 3 and len(texts) == 6
    for n, attrs in enumerate(texts):
        fill = re.search(r'\bfill="(#[0-9a-fA-F]{6})"', attrs).group(1)
        assert len(re.findall(r'\bfill=', attrs)) == 1, attrs
        inside = 'text-anchor="end"' in attrs  # a value drawn on its own bar
        background = rects[n // 2] if inside else "#ffffff"
        assert contrast(fill, background) >= 4.5, (attrs, background, contrast(fill, background))
