"""The clinic's admin chooses a card on file for new consults; the host's next consult has the gate."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.models import Clinic
from tests.admin.factories import make_user, signed_in
from tests.factories import Live


async def test_admin_chooses_a_card_on_file_and_new_consults_follow(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await make_user(live, "clinic_admin", clinic_id=clinic_id)
    async with await signed_in(live, admin, lang="nb") as browser:
        page = await browser.get(f"/admin/clinics/{clinic_id}/settings")
        assert "Lagret kort (lagres i venterommet, belastes etter samtalen)" in page.text
        saved = await browser.post(f"/admin/clinics/{clinic_id}/payment-policy", {
            "kind": "card_on_file", "amount": "600", "description": "Videokonsultasjon", "no_show_fee": "250"})
        assert saved.status == 303
        audit = await browser.get("/admin/audit")
        row = re.search(r'data-action="clinic.payment_policy_set".*?</tr>', audit.text, re.S)
        assert row and "et lagret kort" in row.group(0)
        # Without the words the patient sees, nothing is saved.
        refused = await browser.post(f"/admin/clinics/{clinic_id}/payment-policy", {
            "kind": "card_on_file", "amount": "600", "description": "", "no_show_fee": ""})
        assert refused.status in (200, 422)
    policy = (await live.rows(select(Clinic.payment_policy, Clinic.policy_amount, Clinic.policy_description,
                                     Clinic.no_show_fee).where(Clinic.id == clinic_id)))[0]
    assert policy == ("card_on_file", 60000, "Videokonsultasjon", 25000)
    consult = await live.consult()
    gate = consult["patients"][0]["gate"]
    assert (gate["kind"], gate["status"], gate["amount"], gate["saved_at"]) == ("card_on_file", "waiting", 60000,
                                                                                None)
