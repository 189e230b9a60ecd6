"""The clinic's admin sets the payment policy for new consults; the host's consults follow it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.models import AuditEvent, Clinic
from tests.admin.factories import make_clinic, make_user, signed_in
from tests.factories import Live


async def _policy(live: Live, clinic_id: str) -> tuple:
    return (await live.rows(select(Clinic.payment_policy, Clinic.policy_amount, Clinic.policy_description,
                                   Clinic.no_show_fee).where(Clinic.id == clinic_id)))[0]


async def test_admin_sets_pay_before_joining_and_new_consults_follow(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await make_user(live, "clinic_admin", clinic_id=clinic_id)
    page_url = f"/admin/clinics/{clinic_id}/settings"
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get(page_url)
        assert page.status == 200 and 'data-testid="payment-policy"' in page.text
        assert "Betalingsregel for nye konsultasjoner" in page.text
        # Pay before joining, 450 kr, with a 300 kr no-show fee, typed the Norwegian way.
        saved = await browser.post(f"/admin/clinics/{clinic_id}/payment-policy", {
            "kind": "before_join", "amount": "450,00", "description": "Videokonsultasjon", "no_show_fee": "300"})
        assert saved.status == 303 and saved.location.endswith("/settings#payment-policy")
        assert await _policy(live, clinic_id) == ("before_join", 45000, "Videokonsultasjon", 30000)
        again = await browser.get(page_url)
        assert 'value="450,00"' in again.text and 'value="Videokonsultasjon"' in again.text

        # The audit log says it in words.
        audit = await browser.get("/admin/audit")
        row = re.search(r'data-action="clinic.payment_policy_set".*?</tr>', audit.text, re.S)
        assert row and "betale før man kommer inn" in row.group(0) and "450,00" in row.group(0)

    # The host's next consult without a policy of its own gets the gate.
    consult = await live.consult()
    gate = consult["patients"][0]["gate"]
    assert gate["kind"] == "before_join" and gate["amount"] == 45000 and gate["status"] == "waiting"
    assert consult["patients"][0]["payment_policy"] == {
        "kind": "before_join", "amount": 45000, "description": "Videokonsultasjon", "no_show_fee": 30000}

    # Back to paying in the call: what was typed for the amount is let go.
    async with await signed_in(live, admin) as browser:
        await browser.get(page_url)
        saved = await browser.post(f"/admin/clinics/{clinic_id}/payment-policy", {
            "kind": "in_call", "amount": "450", "description": "x", "no_show_fee": ""})
        assert saved.status == 303
    assert await _policy(live, clinic_id) == ("in_call", None, None, None)
    assert (await live.consult())["patients"][0]["gate"] is None


@pytest.mark.parametrize(
    "form, field, words",
    [
        ({"kind": "later"}, "kind", "Choose a payment policy from the list."),
        ({"kind": "before_join", "description": "Konsultasjon"}, "amount", "need an amount"),
        ({"kind": "card_on_file", "description": "Konsultasjon"}, "amount",
         "Paying before joining, card holds and cards on file need an amount."),
        ({"kind": "card_on_file", "amount": "600"}, "description",
         "Paying before joining, card holds and cards on file need a description the patient sees."),
        ({"kind": "hold", "amount": "800"}, "description", "need a description"),
        ({"kind": "before_join", "amount": "fire hundre", "description": "x"}, "amount", "as a number"),
        ({"kind": "before_join", "amount": "1", "description": "x"}, "amount", "smallest payment"),
        ({"kind": "before_join", "amount": "60000", "description": "x"}, "amount", "maximum"),
        ({"kind": "in_call", "no_show_fee": "-5"}, "no_show_fee", "as a number"),
        ({"kind": "hold", "amount": "800", "description": "a\u202eb"}, "description", "control"),
    ],
)
async def test_bad_policy_forms_are_refused_and_change_nothing(live: Live, form: dict, field: str,
                                                               words: str) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        await browser.get(f"/admin/clinics/{clinic_id}/settings")
        reply = await browser.post(f"/admin/clinics/{clinic_id}/payment-policy", form)
        assert reply.status == 422 and 'role="alert"' in reply.text
        assert f'href="#f-{field}"' in reply.text and words in reply.text
        assert 'aria-invalid="true"' in reply.text
    assert await _policy(live, clinic_id) == ("in_call", None, None, None)
    assert await live.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "clinic.payment_policy_set")) == 0


async def test_csrf_and_other_clinics_are_refused(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    other = await make_clinic(live)
    admin = await make_user(live, "clinic_admin", clinic_id=clinic_id)
    async with await signed_in(live, admin) as browser:
        await browser.get(f"/admin/clinics/{clinic_id}/settings")
        forged = await browser.post(f"/admin/clinics/{clinic_id}/payment-policy",
                                    {"kind": "before_join", "amount": "450", "description": "x"}, csrf=False)
        assert forged.status == 403
        elsewhere = await browser.post(f"/admin/clinics/{other.id}/payment-policy",
                                       {"kind": "before_join", "amount": "450", "description": "x"})
        assert elsewhere.status in (403, 404)
    assert await _policy(live, clinic_id) == ("in_call", None, None, None)
    assert await _policy(live, other.id) == ("in_call", None, None, None)


async def test_the_policy_form_explains_the_amount_for_each_policy_in_words(live: Live) -> None:
    # The amount's hint and its errors name cards on file too, in the admin's language.
    clinic_id = live.demo["clinic_id"]
    admin = await make_user(live, "clinic_admin", clinic_id=clinic_id)
    async with await signed_in(live, admin) as browser:
        page = await browser.get(f"/admin/clinics/{clinic_id}/settings")
        assert "For a card on file: what the patient is told to expect; the clinic charges the card after the call." \
            in page.text
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get(f"/admin/clinics/{clinic_id}/settings")
        assert "For et lagret kort:" in page.text
        reply = await browser.post(f"/admin/clinics/{clinic_id}/payment-policy",
                                   {"kind": "card_on_file", "description": "Konsultasjon"})
        assert reply.status == 422 and "lagret kort trenger et beløp" in reply.text
    assert await _policy(live, clinic_id) == ("in_call", None, None, None)
