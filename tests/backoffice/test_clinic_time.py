"""One time zone per clinic: set in the admin, used for every date shown, filtered on and exported."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.clock import ManualClock
from app.i18n import clinic_zone
from app.models import AuditEvent, Clinic
from tests.admin.cards_helpers import exported, new_card, settled_by_medipay
from tests.admin.factories import make_user, signed_in
from tests.factories import Live

# 14:30 UTC is 15:30 in Oslo and already 01:30 the next day in Sydney.
AT = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)
SETTLEMENT = "/api/v1/reports/settlement"


def test_clinic_zone_is_the_clinics_or_oslo() -> None:
    assert clinic_zone(SimpleNamespace(time_zone="Australia/Sydney")) == ZoneInfo("Australia/Sydney")
    assert clinic_zone(SimpleNamespace(time_zone=None)) == ZoneInfo("Europe/Oslo")
    assert clinic_zone(None) == ZoneInfo("Europe/Oslo")


def to(clock: ManualClock, when: datetime) -> None:
    clock.advance(seconds=(when - clock.now()).total_seconds())


async def test_a_sydney_clinic_sees_sydney_times_everywhere(clocked: tuple[Live, ManualClock]) -> None:
    live, clock = clocked
    to(clock, AT)
    clinic_id = live.demo["clinic_id"]
    admin = await make_user(live, "organisation_admin")
    settings = f"/admin/clinics/{clinic_id}/settings"
    async with await signed_in(live, admin) as browser:
        page = await browser.get(settings)
        assert page.status == 200 and 'name="time_zone"' in page.text and "Europe/Oslo" in page.text
        bad = await browser.post(settings, {"time_zone": "Mars/Olympus_Mons"})
        assert bad.status == 422 and 'role="alert"' in bad.text
        assert await live.scalar(select(Clinic.time_zone).where(Clinic.id == clinic_id)) == "Europe/Oslo"
        saved = await browser.post(settings, {"time_zone": "Australia/Sydney"})
        assert saved.status == 303
        assert await live.scalar(select(Clinic.time_zone).where(Clinic.id == clinic_id)) == "Australia/Sydney"
        assert await live.scalar(select(AuditEvent.details).where(AuditEvent.action == "clinic.time_zone_set")) == {
            "from": "Europe/Oslo", "to": "Australia/Sydney"}

        card = await new_card(live, "Anne Solberg", 45000)
        await exported(live, card["id"], AT)
        await settled_by_medipay(live, card["id"], "vipps", 45000, AT)
        shown = await browser.get(f"/admin/cash-desk/cards/{card['id']}")
        payments = re.search(r'data-testid="card-payments".*?</table>', shown.text, re.S)
        details = re.search(r'data-testid="card-details".*?</dl>', shown.text, re.S)
        assert payments and details
        for part in (payments.group(0), details.group(0)):
            assert "01:30" in part and "14:30" not in part and "15:30" not in part
        history = re.search(r'data-testid="history".*?</ol>', shown.text, re.S)
        assert history and "01:30" in history.group(0) and "15:30" not in history.group(0)

        # Days typed into a filter are the clinic's days.
        desk = await browser.get("/admin/cash-desk?from=2026-12-05&to=2026-12-05")
        assert card["id"] in desk.text
        desk = await browser.get("/admin/cash-desk?from=2026-12-04&to=2026-12-04")
        assert card["id"] not in desk.text
        report = await browser.get(f"/admin/reports/settlement?unit={clinic_id}&from=2026-12-05&to=2026-12-05")
        assert card["id"] in report.text

        audit = await browser.get("/admin/audit")
        table = re.search(r'data-testid="audit".*?</table>', audit.text, re.S)
        assert table and "01:30" in table.group(0) and "14:30" not in table.group(0)
        assert "(UTC)" not in audit.text and "Australia/Sydney" in audit.text
        audit_days = await browser.get("/admin/audit?from=2026-12-05&to=2026-12-05&action=clinic.time_zone_set")
        assert 'data-action="clinic.time_zone_set"' in audit_days.text

        await browser.get("/admin/users/invite")
        invited = await browser.post("/admin/users/invite", {"email": "n@example.test", "name": "Nina",
                                                             "role": "team_member", "clinic_id": clinic_id})
        assert invited.status == 201 and " UTC" not in invited.text and "01:30" in invited.text
        users = await browser.get("/admin/users")
        assert " UTC" not in users.text and "01:30" in users.text

    # The API stays in UTC with an explicit offset; its date filters follow the clinic named by unit.
    status, body = await live.api("GET", f"/api/v1/bill-cards/{card['id']}")
    assert status == 200 and body["created_at"].endswith(("+00:00", "Z"))
    assert all(p["registered_at"].endswith(("+00:00", "Z")) for p in body["payments"])
    status, body = await live.api("GET", f"{SETTLEMENT}?unit={clinic_id}&from=2026-12-05&to=2026-12-05")
    assert status == 200 and body["cards_count"] == 1
    assert body["filters"]["from"] == "2026-12-04T13:00:00+00:00"
    status, body = await live.api("GET", f"{SETTLEMENT}?unit={clinic_id}&from=2026-12-04&to=2026-12-04")
    assert status == 200 and body["cards_count"] == 0


async def test_new_clinics_choose_their_zone(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as browser:
        form = await browser.get("/admin/clinics/new")
        assert 'name="time_zone"' in form.text
        refused = await browser.post("/admin/clinics/new", {"name": "Bondi Clinic", "currency": "NOK",
                                                            "time_zone": "Nowhere/Land"})
        assert refused.status == 422
        made = await browser.post("/admin/clinics/new", {"name": "Bondi Clinic", "currency": "NOK",
                                                         "time_zone": "Australia/Sydney"})
        assert made.status == 303
    assert await live.scalar(select(Clinic.time_zone).where(Clinic.name == "Bondi Clinic")) == "Australia/Sydney"


def test_one_helper_formats_instants_for_pages_and_templates() -> None:
    from jinja2 import Environment

    from app.i18n import format_instant
    from app.i18n.zones import local_day_bounds, local_time

    sydney = ZoneInfo("Australia/Sydney")
    assert format_instant(AT, sydney, "nb") == "05.12.2026, 01:30"
    assert format_instant("2026-12-04T14:30:00Z", ZoneInfo("Europe/Oslo"), "nb") == "04.12.2026, 15:30"
    assert format_instant(None, sydney, "en") == ""
    env = Environment(autoescape=True)
    env.filters["local_time"] = local_time
    page = env.from_string("{{ at|local_time }}|{{ at|local_time(oslo) }}")
    assert page.render(at=AT, zone=sydney, lang="en", oslo=ZoneInfo("Europe/Oslo")) == (
        "05/12/2026, 01:30|04/12/2026, 15:30")
    assert local_day_bounds(AT.date(), sydney) == datetime(2026, 12, 3, 13, 0, tzinfo=UTC)
    assert local_day_bounds(AT.date(), sydney, end=True) == datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
