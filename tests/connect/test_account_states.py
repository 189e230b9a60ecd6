"""Accounts read the way Stripe means them: states from ``charges_enabled``, ``payouts_enabled``,
``details_submitted`` and ``requirements.*``, and what Stripe still needs in plain words.

Stripe puts the account in each state (the sandbox's control surface stands in for Stripe's
review); ``account.updated`` reaches the app as a signed webhook, and the admin's page shows it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from sqlalchemy import select

from app.connect.requirements import ERROR_REASONS, PHRASES, STATES, UNKNOWN, UNKNOWN_ERROR, phrase
from app.i18n import get_translator
from app.models import Clinic, StripeAccount
from tests.admin.factories import make_user, signed_in
from tests.connect.helpers import account_status, eventually, link_enabled_account, page
from tests.factories import Live


async def _state(live: Live, acct: StripeAccount, body: dict) -> dict:
    return await live.sandbox_control("POST", f"/accounts/{acct.stripe_account_id}/state", body)


def _row_html(html: str, row_id: str) -> str:
    start = html.index(f'data-account-id="{row_id}"')
    return html[start:html.index("</tr>", start)]


@pytest.mark.parametrize(
    ("body", "status", "state", "shown"),
    [
        ({"state": "under_review"}, "under_review", "under_review", ["Under review by Stripe"]),
        ({"state": "pending_verification", "due": ["individual.verification.document"]}, "under_review",
         "under_review", ["Under review by Stripe", "identity document of the account holder"]),
        ({"state": "rejected", "reason": "rejected.fraud"}, "rejected", "rejected", ["Rejected by Stripe"]),
        ({"state": "past_due", "due": ["business_profile.url", "representative.verification.document"]},
         "restricted", "restricted",
         ["Payments paused: Stripe needs more details", "business website", "identity document of the representative"]),
        ({"state": "payouts_paused"}, "enabled", "payouts_paused", ["Payouts paused", "bank account for payouts"]),
    ],
)
async def test_each_state_stripe_reports_is_shown_as_stripe_means_it(
    live: Live, body: dict, status: str, state: str, shown: list[str]
) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        row = await link_enabled_account(live, admin, clinic_id, "Reviewed")
        await _state(live, row, body)
        await eventually(lambda: _status_is(live, row.id, status))
        html = _row_html((await admin.get(page(clinic_id))).text, row.id)
        assert f'data-status="{status}"' in html and f'data-state="{state}"' in html
        for text in shown:
            assert text in html, (text, html)
        # Never Stripe's field paths.
        for path in ("business_profile.", "representative.", "individual.", "external_account"):
            assert path not in html
        routed = await live.scalar(select(StripeAccount.charges_enabled).where(StripeAccount.id == row.id))
        assert routed is (status == "enabled")
    finally:
        await admin.close()


async def test_details_due_by_a_deadline_while_payments_go_on(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "organisation_admin"))
    try:
        row = await link_enabled_account(live, admin, clinic_id, "Due soon")
        got = await _state(live, row, {
            "state": "due_soon", "due": ["company.tax_id", "person_1AbCdEf.dob.day", "some.future_field"],
            "errors": [{"requirement": "individual.verification.document", "code": "verification_document_expired",
                        "reason": "The document has expired."}],
        })
        deadline = got["requirements"]["current_deadline"]
        html = _row_html((await admin.get(page(clinic_id))).text, row.id)
        assert 'data-status="enabled"' in html and 'data-state="details_due"' in html
        assert "Stripe needs more details" in html
        # The day in the clinic's time zone (Europe/Oslo), as the page shows every date.
        when = format_date(datetime.fromtimestamp(deadline, ZoneInfo("Europe/Oslo")).date(), format="long",
                           locale="en")
        assert f"Deadline: {when}" in html
        for text in ("company&#39;s registration or tax number", "details of a person in the business",
                     "other details Stripe asks for",
                     "identity document of the account holder: the document could not be verified"):
            assert text in html, text
        assert "person_1AbCdEf" not in html and "some.future_field" not in html and "company.tax_id" not in html
        # Payments still go to it until the deadline.
        assert await account_status(live, row.id) == "enabled"
        # It can be given on Stripe's onboarding pages from here.
        assert f"/client-payments/refresh/{row.id}" in html
    finally:
        await admin.close()


async def test_a_rejected_default_account_takes_no_payments(live: Live) -> None:
    clinic_id = live.demo["clinic_id"]
    admin = await signed_in(live, await make_user(live, "clinic_admin"))
    try:
        clinic = await live.scalar(select(Clinic).where(Clinic.id == clinic_id))
        default = await live.scalar(select(StripeAccount).where(StripeAccount.stripe_account_id ==
                                                                 clinic.stripe_account_id))
        await _state(live, default, {"state": "rejected"})
        await eventually(lambda: _status_is(live, default.id, "rejected"))
        clinic = await live.scalar(select(Clinic).where(Clinic.id == clinic_id))
        assert not clinic.stripe_charges_enabled
        html = _row_html((await admin.get(page(clinic_id))).text, default.id)
        assert "Rejected by Stripe" in html and "Contact Stripe support" in html
    finally:
        await admin.close()


def test_every_requirement_phrase_and_state_is_translated() -> None:
    msgids = set(PHRASES.values()) | set(ERROR_REASONS.values()) | {UNKNOWN, UNKNOWN_ERROR}
    msgids |= {text for pair in STATES.values() for text in pair}
    for lang in ("nb", "sv"):
        t = get_translator(lang)
        missing = sorted(m for m in msgids if t.gettext(m) == m)
        assert not missing, (lang, missing)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("business_profile.mcc", "type of business (industry)"),
        ("business_profile.support_url", "business details"),
        ("external_account", "bank account for payouts"),
        ("representative.verification.document", "identity document of the representative"),
        ("representative.first_name", "personal details of the representative"),
        ("person_1Abc.verification.document", "details of a person in the business"),
        ("tos_acceptance.date", "acceptance of Stripe's terms of service"),
        ("companyx.name", UNKNOWN),
        ("", UNKNOWN),
    ],
)
def test_requirement_paths_become_plain_phrases(path: str, expected: str) -> None:
    assert phrase(path) == expected


async def _status_is(live: Live, row_id: str, status: str) -> bool:
    return await account_status(live, row_id) == status
