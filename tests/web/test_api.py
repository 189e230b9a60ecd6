"""REST, server to server: keys, ownership, and clear errors for bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.organisations import Organisations
from app.keys import ORGANISATIONS
from app.models import Consult
from tests.factories import PATIENT, Live, consult_body


async def test_create_and_read_a_consult(live: Live) -> None:
    status, body = await live.api("POST", "/api/v1/consults", consult_body(live.demo["clinic_id"]))
    assert status == 201
    assert body["status"] == "active" and body["clinic_id"] == live.demo["clinic_id"] and body["expires_at"]
    assert body["clinician"]["id"] == "u-1"
    assert body["clinician"]["join_url"].startswith(live.url + "/join/")
    assert body["patients"][0]["id"] == "p-1" and body["patients"][0]["token"]
    assert body["clinician"]["token"] != body["patients"][0]["token"]

    status, got = await live.api("GET", f"/api/v1/consults/{body['id']}")
    assert status == 200 and got["payment_requests"] == [] and got["patients"][0]["name"] == "Kari Nordmann"
    assert "token" not in got["clinician"]

    async with live.http.get(body["patients"][0]["join_url"]) as resp:  # type: ignore[union-attr]
        assert resp.status == 200
        assert "frame-ancestors" in resp.headers["Content-Security-Policy"]
        assert "X-Frame-Options" not in resp.headers


async def test_minimal_body_is_enough(live: Live) -> None:
    body = {"clinic_id": live.demo["clinic_id"], "clinician": {"id": "u-2", "name": "Dr. B"},
            "patients": [{"name": "Ola"}]}
    status, got = await live.api("POST", "/api/v1/consults", body)
    assert status == 201 and got["patients"][0]["id"] == "p-1"
    status, full = await live.api("GET", f"/api/v1/consults/{got['id']}")
    assert full["currency"] == "NOK" and full["language"] == "nb"


async def test_keys_are_required_and_checked(live: Live) -> None:
    body = consult_body(live.demo["clinic_id"])
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer " + "x" * 300}):
        status, got = await live.api("POST", "/api/v1/consults", body, headers=headers)
        assert status == 401 and got["error"]["code"] == "unauthenticated"
    assert await live.scalar(select(func.count()).select_from(Consult)) == 0


async def test_other_organisations_are_refused(live: Live) -> None:
    orgs: Organisations = live.app[ORGANISATIONS]
    other = await orgs.create("Other AS")
    other_clinic = await orgs.add_clinic(other.id, "Other clinic")
    other_key = await orgs.issue_key(other.id)
    mine = await live.consult()

    status, got = await live.api("POST", "/api/v1/consults", consult_body(other_clinic.id))
    assert status == 403 and got["error"]["code"] == "forbidden"
    headers = {"Authorization": f"Bearer {other_key}"}
    for method, path in (("GET", f"/api/v1/consults/{mine['id']}"), ("POST", f"/api/v1/consults/{mine['id']}/end")):
        status, got = await live.api(method, path, headers=headers)
        assert status == 403, (path, got)
    _, clinician, _ = await live.call_pair()
    request = (await clinician.call("payment:request", {"amount": 500, "description": "x"}))["request"]
    status, _ = await live.api("GET", f"/api/v1/payment-requests/{request['id']}", headers=headers)
    assert status == 403
    status, _ = await live.api("GET", f"/api/v1/consults/{mine['id']}")
    assert status == 200


async def test_not_found(live: Live) -> None:
    for path in ("/api/v1/consults/con_nope", "/api/v1/payment-requests/pr_nope", "/api/v1/nothing"):
        status, got = await live.api("GET", path)
        assert status == 404 and got["error"]["code"]
    status, got = await live.api("POST", "/api/v1/consults/con_nope/end")
    assert status == 404
    status, got = await live.api("POST", "/api/v1/consults", consult_body("cli_nope"))
    assert status == 404 and got["error"]["code"] == "clinic_not_found"


@pytest.mark.parametrize(
    "raw, status, code",
    [
        (b"", 400, "bad_request"),
        (b"not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "bad_request"),
        (b'"text"', 400, "bad_request"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json"),
    ],
)
async def test_unparseable_bodies(live: Live, raw: bytes, status: int, code: str) -> None:
    got_status, got = await live.api("POST", "/api/v1/consults", raw=raw,
                                     headers={**live.headers, "Content-Type": "application/json"})
    assert (got_status, got["error"]["code"]) == (status, code)


@pytest.mark.parametrize(
    "change, code",
    [
        ({"clinic_id": None}, "missing_field"),
        ({"clinic_id": 5}, "invalid_field"),
        ({"clinician": None}, "missing_field"),
        ({"clinician": {"id": "u-1"}}, "missing_field"),
        ({"patients": []}, "missing_field"),
        ({"patients": [{"id": "p-1"}]}, "missing_field"),
        ({"patients": ["Kari"]}, "invalid_field"),
        ({"patients": [{"name": "A", "id": "x"}, {"name": "B", "id": "x"}]}, "duplicate_patient"),
        ({"patients": [{"name": "A"}] * 21}, "too_many_patients"),
        ({"patients": [{**PATIENT, "national_id": "12345678901"}]}, "invalid_national_id"),
        ({"patients": [{**PATIENT, "national_id": 15076500565}]}, "invalid_national_id"),
        ({"patients": [{**PATIENT, "email": "not-an-email"}]}, "invalid_email"),
        ({"patients": [{**PATIENT, "mobile": "12"}]}, "invalid_mobile"),
        ({"patients": [{**PATIENT, "address": "Oslo"}]}, "invalid_address"),
        ({"patients": [{**PATIENT, "address": {"street": "x"}}]}, "unknown_field"),
        ({"currency": "XXXX"}, "invalid_currency"),
        ({"currency": "ZZZ"}, "invalid_currency"),
        ({"language": "de"}, "invalid_language"),
        ({"external_id": "x" * 201}, "invalid_field"),
    ],
)
async def test_invalid_values_change_nothing(live: Live, change: dict, code: str) -> None:
    body = consult_body(live.demo["clinic_id"])
    body.update(change)
    if change.get("clinic_id", 0) is None:
        del body["clinic_id"]
    status, got = await live.api("POST", "/api/v1/consults", body)
    assert status in (400, 422) and got["error"]["code"] == code, got
    assert got["error"]["message"]
    assert await live.scalar(select(func.count()).select_from(Consult)) == 0


async def test_d_number_is_accepted(live: Live) -> None:
    # A D-number: a fødselsnummer with 4 added to the first digit.
    status, got = await live.api(
        "POST", "/api/v1/consults",
        consult_body(live.demo["clinic_id"], patients=[{**PATIENT, "national_id": "55076500565"}]),
    )
    assert status in (201, 422)
    from stdnum.no import fodselsnummer

    assert (status == 201) == fodselsnummer.is_valid("55076500565")


async def test_end_is_idempotent(live: Live) -> None:
    consult = await live.consult()
    first = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    second = await live.api("POST", f"/api/v1/consults/{consult['id']}/end")
    assert first[0] == second[0] == 200
    assert first[1]["ended_at"] == second[1]["ended_at"]


async def test_openapi_describes_the_contract(live: Live) -> None:
    status, spec = await live.api("GET", "/api/v1/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    for path in ("/api/v1/consults", "/api/v1/consults/{consult_id}", "/api/v1/consults/{consult_id}/end",
                 "/api/v1/payment-requests/{request_id}"):
        assert path in spec["paths"]
