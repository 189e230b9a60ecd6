"""The served OpenAPI document against the running app: its routes, their parameters, the code's enums."""

from __future__ import annotations

import re

from app.backoffice.report_queries import EARNINGS_PARAMS, SETTLEMENT_PARAMS
from app.billing.statuses import REQUEST_STATUSES, STATUSES
from app.payments.refunds import SOURCES
from tests.factories import Live

# Served by the API but not part of what it describes.
UNDESCRIBED = {("GET", "/api/v1/openapi.json")}


def _api_routes(live: Live) -> set[tuple[str, str]]:
    found = set()
    for route in live.app.router.routes():
        resource = route.resource
        if resource is None or route.method in ("HEAD", "*"):
            continue
        if resource.canonical.startswith("/api/"):
            found.add((route.method, resource.canonical))
    return found - UNDESCRIBED


async def _served(live: Live) -> dict:
    status, spec = await live.api("GET", "/api/v1/openapi.json")
    assert status == 200
    return spec


def _operations(spec: dict) -> dict[str, tuple[str, str, dict]]:
    return {op["operationId"]: (method.upper(), path, op)
            for path, item in spec["paths"].items() for method, op in item.items()}


async def test_every_api_route_is_described_and_every_description_is_routed(live: Live) -> None:
    spec = await _served(live)
    described = {(method, path) for method, path, _ in _operations(spec).values()}
    assert described == _api_routes(live)


async def test_parameters_and_errors_follow_from_each_operation(live: Live) -> None:
    for op_id, (_method, path, op) in _operations(await _served(live)).items():
        parameters = op.get("parameters", [])
        in_path = [p["name"] for p in parameters if p["in"] == "path"]
        assert in_path == re.findall(r"\{(\w+)\}", path), op_id
        errors = {int(code) for code in op["responses"] if int(code) >= 400}
        assert 401 in errors, op_id  # every operation needs the organisation's key
        if in_path:
            assert {403, 404} <= errors, op_id
        if "requestBody" in op:
            assert {400, 422} <= errors, op_id
        for code in errors:
            schema = op["responses"][str(code)]["content"]["application/json"]["schema"]
            assert schema["properties"]["error"]["required"] == ["code", "message"], (op_id, code)


async def test_enums_and_query_parameters_are_the_codes(live: Live) -> None:
    ops = _operations(await _served(live))

    def answer(op_id: str) -> dict:
        _, _, op = ops[op_id]
        ok = next(r for code, r in op["responses"].items() if int(code) < 300)
        return ok["content"]["application/json"]["schema"]

    def query(op_id: str) -> tuple[str, ...]:
        return tuple(p["name"] for p in ops[op_id][2]["parameters"] if p["in"] == "query")

    assert answer("getBillCard")["properties"]["status"]["enum"] == list(STATUSES)
    assert answer("getPaymentRequest")["properties"]["status"]["enum"] == list(REQUEST_STATUSES)
    assert answer("refundPaymentRequest")["properties"]["source"]["enum"] == list(SOURCES)
    # The receipt and the credit note: a short number and a link, null until issued.
    for op_id, name in (("getPaymentRequest", "receipt"), ("refundPaymentRequest", "credit_note")):
        document = answer(op_id)["properties"][name]
        assert document["type"] == ["object", "null"] and set(document["properties"]) == {"number", "url"}
    assert query("settlementReport") == SETTLEMENT_PARAMS
    assert query("medipayEarningsReport") == EARNINGS_PARAMS
    # The reports refuse a parameter they do not know, so the document lists all they take.
    status, body = await live.api("GET", "/api/v1/reports/settlement?not_a_filter=1")
    assert status == 422 and body["error"]["field"] == "not_a_filter"
