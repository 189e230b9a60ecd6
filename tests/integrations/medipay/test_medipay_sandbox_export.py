"""PUT /v1/claims/{id}: validation (nothing stored on a 4xx), idempotency on the
claim id, and the errors the client turns into ClaimRefused."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from medipay_sandbox_support import CREDENTIALS, DNR, FNR, Running, make_claim

from integrations.medipay.protocol import ClaimRefused, Credentials, InvalidCredentials


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"national_id": None}, "missing_national_id"),
        ({"national_id": ""}, "missing_national_id"),
        ({"national_id": "15108695077"}, "invalid_national_id"),   # wrong check digits
        ({"national_id": "1510869508"}, "invalid_national_id"),    # ten digits
        ({"national_id": "95108695088"}, "invalid_national_id"),   # not a date
        ({"mobile": None}, "missing_mobile"),
        ({"mobile": "22 12 34 56"}, "invalid_mobile"),             # an Oslo landline
        ({"mobile": "12345"}, "invalid_mobile"),
        ({"mode": "invoice", "address": None}, "missing_address"),
    ],
)
async def test_invalid_patient_is_refused_and_nothing_is_stored(sandbox: Running, changes, reason):
    mode = changes.pop("mode", "checkout")
    claim = make_claim("bad_1", mode=mode, **changes)
    with pytest.raises(ClaimRefused) as info:
        await sandbox.client.export_claim(CREDENTIALS, claim)
    assert (info.value.status, info.value.code, info.value.reason_code) == (422, "invalid_patient", reason)
    assert await sandbox.sms() == []
    assert (await sandbox.control("GET", "/_control/claims"))["claims"] == []
    # Corrected, the same id is accepted.
    fixed = await sandbox.client.export_claim(CREDENTIALS, make_claim("bad_1", mode=mode))
    assert fixed.state in ("sent", "invoice_sent")


@pytest.mark.parametrize("nid", [FNR, DNR, "151086 95088"])
async def test_fodselsnummer_and_d_number_are_accepted(sandbox: Running, nid: str):
    state = await sandbox.client.export_claim(CREDENTIALS, make_claim("ok", national_id=nid))
    assert state.state == "sent"
    assert state.raw["patient"]["national_id"] == nid.replace(" ", "")


async def test_norwegian_mobile_spellings_are_normalised(sandbox: Running):
    state = await sandbox.client.export_claim(CREDENTIALS, make_claim("m", mobile="912 34 567"))
    assert state.raw["patient"]["mobile"] == "+4791234567"
    # The same export spelled differently is the same export.
    again = await sandbox.client.export_claim(CREDENTIALS, make_claim("m", mobile="+47 91234567"))
    assert again.version == 1 and len(await sandbox.sms("m")) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"amount": 0}, 422, "invalid_claim"),
        ({"amount": -5}, 422, "invalid_claim"),
        ({"amount": 450.5}, 400, "bad_request"),
        ({"amount": "450"}, 400, "bad_request"),
        ({"amount": True}, 400, "bad_request"),
        ({"currency": "SEK"}, 422, "invalid_claim"),
        ({"mode": "cash"}, 422, "invalid_claim"),
        ({"admin_fee": "yes"}, 400, "bad_request"),
        ({"description": ""}, 422, "invalid_claim"),
        ({"patient": "Kari"}, 400, "bad_request"),
        ({"lines": [{"description": "x", "amount": 0}]}, 422, "invalid_claim"),
    ],
)
async def test_bad_claims_get_a_clear_4xx(sandbox: Running, body, status, code):
    wire = make_claim("x").to_wire()
    wire.update(body)
    got, answer = await sandbox.raw("PUT", "/v1/claims/x", json=wire, auth=("a", "medipay-test"))
    assert (got, answer["error"]["code"]) == (status, code), answer
    assert answer["error"]["message"]
    assert (await sandbox.control("GET", "/_control/claims"))["claims"] == []


async def test_not_json_bad_ids_and_auth(sandbox: Running):
    status, body = await sandbox.raw("PUT", "/v1/claims/x", data=b"{nope", auth=("a", "medipay-test"))
    assert (status, body["error"]["code"]) == (400, "bad_request")
    status, body = await sandbox.raw("PUT", "/v1/claims/" + "a" * 65, json={}, auth=("a", "medipay-test"))
    assert status == 400
    status, body = await sandbox.raw("PUT", "/v1/claims/x", json=make_claim("x").to_wire())
    assert (status, body["error"]["code"]) == (401, "invalid_credentials")
    status, body = await sandbox.raw("GET", "/v1/account", headers={"Authorization": "Basic !!!"})
    assert status == 401
    with pytest.raises(InvalidCredentials):
        await sandbox.client.export_claim(Credentials("a", "medipay-tes"), make_claim("x"))
    with pytest.raises(ClaimRefused) as info:
        await sandbox.client.get_claim(CREDENTIALS, "missing")
    assert (info.value.status, info.value.code) == (404, "claim_not_found")


async def test_same_id_same_body_is_one_claim(sandbox: Running):
    first = await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    second = await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    assert first.raw == second.raw
    status, _ = await sandbox.raw("PUT", "/v1/claims/c1", json=make_claim("c1").to_wire(),
                                  auth=("clinic-oslo", "medipay-test"))
    assert status == 200  # 201 only the first time
    assert len(await sandbox.sms("c1")) == 1
    # After a change the same export answers the claim as it is now; still no new SMS.
    await sandbox.post("/_control/claims/c1/choose", {"method": "vipps"})
    now = await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    assert now.state == "paid" and now.version == 2
    assert len([s for s in await sandbox.sms("c1") if s["kind"] == "checkout_link"]) == 1


async def test_same_id_other_body_is_a_conflict(sandbox: Running):
    await sandbox.client.export_claim(CREDENTIALS, make_claim("c1"))
    with pytest.raises(ClaimRefused) as info:
        await sandbox.client.export_claim(CREDENTIALS, make_claim("c1", amount=45001))
    assert (info.value.status, info.value.code) == (409, "claim_conflict")
    other = dataclasses.replace(make_claim("c1"), description="Another consultation")
    with pytest.raises(ClaimRefused):
        await sandbox.client.export_claim(CREDENTIALS, other)
    # Another account cannot take or read the id either.
    with pytest.raises(ClaimRefused) as info:
        await sandbox.client.export_claim(Credentials("other", "medipay-test"), make_claim("c1"))
    assert info.value.status == 409
    with pytest.raises(ClaimRefused) as info:
        await sandbox.client.get_claim(Credentials("other", "medipay-test"), "c1")
    assert info.value.status == 404
    assert (await sandbox.client.get_claim(CREDENTIALS, "c1")).amount == 45000


async def test_concurrent_double_export_makes_one_claim(sandbox: Running):
    results = await asyncio.gather(*(sandbox.client.export_claim(CREDENTIALS, make_claim("dbl"))
                                     for _ in range(10)))
    assert {r.version for r in results} == {1}
    assert len(await sandbox.sms("dbl")) == 1
