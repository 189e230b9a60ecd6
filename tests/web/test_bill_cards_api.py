"""The bill-card REST API over HTTP: create, list with filters, get, change, and every refusal."""

from __future__ import annotations

from typing import Any

from app.accounts.organisations import Organisations
from app.billing.books import Books
from app.keys import CLOCK, DB, ORGANISATIONS
from app.models import User
from tests.factories import PATIENT, Live

LINE = {"code": "2ad", "description": "Consultation", "patient_amount": 45000, "refund_amount": 15000}


def body(live: Live, **over: Any) -> dict[str, Any]:
    data = {"clinic_id": live.demo["clinic_id"], "patient": dict(PATIENT), "lines": [dict(LINE)]}
    data.update(over)
    return data


async def create(live: Live, **over: Any) -> dict[str, Any]:
    status, card = await live.api("POST", "/api/v1/bill-cards", body(live, **over))
    assert status == 201, card
    return card


async def test_create_and_get(live: Live) -> None:
    card = await create(live, book_id=live.demo["medipay_book_id"], admin_fee=False)
    assert card["status"] == "open" and card["status_label"] == "Åpen"
    assert (card["patient_share"], card["refund_share"], card["currency"]) == (45000, 15000, "NOK")
    assert card["admin_fee"] is False and card["payments"] == []
    assert card["medipay"] == {"state": None, "reason_code": None, "message": None, "exported_at": None,
                               "exported_patient_share": None, "admin_fee": 0, "next_retry_at": None}
    status, got = await live.api("GET", f"/api/v1/bill-cards/{card['id']}")
    assert status == 200 and got == card


async def test_bad_input_is_a_clear_4xx_and_changes_nothing(live: Live) -> None:
    cases = [
        ({"patient": None}, 422), ({"lines": []}, 422), ({"lines": [{"description": "x"}]}, 422),
        ({"lines": [{**LINE, "patient_amount": -1}]}, 422), ({"lines": [{**LINE, "patient_amount": 1.5}]}, 422),
        ({"lines": [{**LINE, "patient_amount": True}]}, 422), ({"admin_fee": "yes"}, 422),
        ({"patient": {**PATIENT, "national_id": "12345678901"}}, 422),
        ({"patient": {**PATIENT, "mobile": "not a number"}}, 422),
        ({"patient": {**PATIENT, "shoe_size": 42}}, 422),
        ({"clinic_id": "cli_nope"}, 404), ({"book_id": "book_nope"}, 404),
    ]
    for over, expected in cases:
        status, answer = await live.api("POST", "/api/v1/bill-cards", body(live, **over))
        assert status == expected, (over, answer)
        assert set(answer["error"]) >= {"code", "message"}
    status, answer = await live.api("POST", "/api/v1/bill-cards", raw=b"{not json")
    assert status == 400
    status, answer = await live.api("POST", "/api/v1/bill-cards", [1, 2])
    assert 400 <= status < 500
    status, listed = await live.api("GET", "/api/v1/bill-cards")
    assert listed["data"] == []


async def test_list_filters_and_pages(live: Live) -> None:
    clock = live.app[CLOCK]
    first = await create(live, book_id=live.demo["medipay_book_id"])
    second = await create(live)
    status, page = await live.api("GET", "/api/v1/bill-cards")
    assert status == 200 and [c["id"] for c in page["data"]] == [second["id"], first["id"]]
    status, page = await live.api("GET", f"/api/v1/bill-cards?book_id={live.demo['medipay_book_id']}")
    assert [c["id"] for c in page["data"]] == [first["id"]]
    status, page = await live.api("GET", "/api/v1/bill-cards?status=open,paid")
    assert len(page["data"]) == 2
    status, page = await live.api("GET", "/api/v1/bill-cards?status=invoice_paid")
    assert page["data"] == []
    status, page = await live.api("GET", "/api/v1/bill-cards?limit=1")
    assert page["has_more"] and [c["id"] for c in page["data"]] == [second["id"]]
    status, page = await live.api("GET", f"/api/v1/bill-cards?limit=1&cursor={page['next_cursor']}")
    assert [c["id"] for c in page["data"]] == [first["id"]] and not page["has_more"]
    now = clock.now().isoformat().replace("+00:00", "Z")
    status, page = await live.api("GET", f"/api/v1/bill-cards?to={now}")
    assert status == 200 and len(page["data"]) == 2
    status, page = await live.api("GET", f"/api/v1/bill-cards?from={now}")
    assert status == 200 and page["data"] == []
    for bad in ("status=nope", "limit=0", "limit=abc", "from=yesterday", "cursor=%%%", "starting_after=bc_x"):
        status, answer = await live.api("GET", f"/api/v1/bill-cards?{bad}")
        assert status == 422, (bad, answer)


async def test_change_shares_lines_and_patient(live: Live) -> None:
    card = await create(live)
    path = f"/api/v1/bill-cards/{card['id']}"
    status, changed = await live.api("PATCH", path, {"patient_share": 40000, "refund_share": 20000})
    assert status == 200 and (changed["patient_share"], changed["refund_share"]) == (40000, 20000)
    assert [line["code"] for line in changed["lines"]] == ["2ad", "ADJUST"]
    status, changed = await live.api("PATCH", path, {"lines": [{**LINE, "patient_amount": 30000}]})
    assert status == 200 and changed["patient_share"] == 30000 and changed["refund_share"] == 15000
    status, changed = await live.api("PATCH", path, {"patient": {"mobile": "91234568", "address": None}})
    assert status == 200 and changed["patient"]["mobile"] == "+4791234568" and changed["patient"]["address"] is None
    for bad, code in (({}, 422), ({"status": "paid"}, 422), ({"patient_share": -5}, 422),
                      ({"lines": [LINE], "patient_share": 1}, 422), ({"patient": {"id": "p-2"}}, 422),
                      ({"patient": "Kari"}, 422)):
        status, answer = await live.api("PATCH", path, bad)
        assert status == code, (bad, answer)
    status, _ = await live.api("PATCH", "/api/v1/bill-cards/bc_nope", {"refund_share": 1})
    assert status == 404


async def test_other_organisations_and_keys_are_refused(live: Live) -> None:
    card = await create(live)
    orgs: Organisations = live.app[ORGANISATIONS]
    other = await orgs.create("Other AS")
    other_clinic = await orgs.add_clinic(other.id, "Other clinic")
    other_key = await orgs.issue_key(other.id)
    theirs = {"Authorization": f"Bearer {other_key}"}
    for method, path, data in (("GET", f"/api/v1/bill-cards/{card['id']}", None),
                               ("PATCH", f"/api/v1/bill-cards/{card['id']}", {"refund_share": 1}),
                               ("POST", f"/api/v1/bill-cards/{card['id']}/send-to-payment", None)):
        status, answer = await live.api(method, path, data, headers=theirs)
        assert status == 403, (method, path, answer)
        status, answer = await live.api(method, path, data, headers={})
        assert status == 401
    status, listed = await live.api("GET", "/api/v1/bill-cards", headers=theirs)
    assert listed["data"] == []
    # Their card may not go into our clinic or our book.
    status, _ = await live.api("POST", "/api/v1/bill-cards", body(live), headers=theirs)
    assert status == 403
    status, _ = await live.api("POST", "/api/v1/bill-cards",
                               body(live, clinic_id=other_clinic.id, book_id=live.demo["medipay_book_id"]),
                               headers=theirs)
    assert status == 403


async def test_inactive_book_is_refused(live: Live) -> None:
    async with live.app[DB].read() as s:
        from sqlalchemy import select

        owner = await s.scalar(select(User.id).where(User.organisation_id == live.demo["organisation_id"]))
    books = Books(live.app[DB], clock=live.app[CLOCK])
    book = await books.create(live.demo["organisation_id"], owner_user_id=owner, description="Old", active=False)
    status, answer = await live.api("POST", "/api/v1/bill-cards", body(live, book_id=book["id"]))
    assert status == 409 and answer["error"]["code"] == "book_inactive"
