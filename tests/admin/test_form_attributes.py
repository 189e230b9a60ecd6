"""Extra attributes a form field is given in a template reach the browser as attributes."""

from __future__ import annotations

from tests.admin.factories import make_user, signed_in
from tests.factories import Live


async def test_amount_fields_ask_phones_for_a_decimal_keypad(live: Live) -> None:
    admin = await make_user(live, "clinic_admin")
    async with await signed_in(live, admin) as browser:
        page = await browser.get(f"/admin/clinics/{live.demo['clinic_id']}/client-payments")
        assert page.status == 200
        assert 'id="f-max_amount"' in page.text
        assert 'inputmode="decimal"' in page.text
        assert "&#34;decimal&#34;" not in page.text and "&quot;decimal&quot;" not in page.text
