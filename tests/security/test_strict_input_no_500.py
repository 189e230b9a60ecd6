"""Bad input never gets a 500: extreme dates, huge page numbers, a non-ASCII Authorization header.

Each request here answered 500 once; now each is a 4xx that names what is wrong, and nothing changes.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from app.models import PaymentRefund
from tests.admin.factories import make_user, signed_in
from tests.consults.test_refunds import paid_request
from tests.factories import Live

EXTREME_DATES = [("to", "9999-12-31"), ("from", "0001-01-01"), ("from", "1999-12-31"), ("to", "2101-01-01"),
                 ("to", "9999-12-31T23:59:59"), ("from", "0001-01-01T00:00:00+14:00")]
REST_PATHS = ["/api/v1/reports/settlement", "/api/v1/reports/medipay-earnings", "/api/v1/bill-cards"]
ADMIN_PATHS = ["/admin/reports/settlement", "/admin/reports/medipay-earnings", "/admin/cash-desk", "/admin/audit"]


@pytest.mark.parametrize(("name", "value"), EXTREME_DATES)
async def test_rest_dates_out_of_range_are_422_naming_the_field(live: Live, name: str, value: str) -> None:
    for path in REST_PATHS:
        status, body = await live.api("GET", f"{path}?{urlencode({name: value})}")
        assert status == 422, (path, status, body)
        assert body["error"]["field"] == name and body["error"]["code"] == "invalid_date", (path, body)


async def test_rest_dates_in_range_still_work(live: Live) -> None:
    for path in REST_PATHS:
        status, body = await live.api("GET", f"{path}?from=2000-01-01&to=2100-12-31")
        assert status == 200, (path, body)


@pytest.mark.parametrize(("name", "value"), EXTREME_DATES)
async def test_admin_pages_show_a_clear_error_for_dates_out_of_range(live: Live, name: str, value: str) -> None:
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as client:
        for path in ADMIN_PATHS:
            reply = await client.get(f"{path}?{urlencode({name: value})}")
            assert reply.status in (400, 422), (path, reply.status, reply.text[-500:])
            # The cash desk and the audit trail take whole days only, and say so for a time.
            expected = ("between 2000-01-01 and 2100-12-31", "YYYY-MM-DD") if "T" in value else \
                ("between 2000-01-01 and 2100-12-31",)
            assert any(text in reply.text for text in expected), (path, reply.text[-2000:])


async def test_a_twenty_digit_page_is_not_a_500(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    huge = "9" * 20
    async with await signed_in(live, admin) as client:
        for path in ("/admin/cash-desk", "/admin/audit", "/admin/payments", "/admin/users"):
            reply = await client.get(f"{path}?page={huge}")
            assert reply.status < 500, (path, reply.status, reply.text[-500:])
    for path in REST_PATHS:
        status, body = await live.api("GET", f"{path}?page={huge}&offset={huge}&limit={huge}")
        assert 400 <= status < 500, (path, status, body)


async def raw_request(live: Live, method: str, path: str, headers: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One request written byte for byte: HTTP clients will not send a header that is not valid UTF-8."""
    host, port = live.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n".encode() + headers
                 + f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n\r\n".encode() + body)
    answer = await reader.read()
    writer.close()
    head, _, rest = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


@pytest.mark.parametrize("value", [b"Bearer \xff\xfe", b"Bearer n\xc3\xb8kkel", b"Bearer \xe2\x80\xaekey",
                                   b"B\xe6arer x", b"Bearer " + b"\xc3\xa9" * 300])
async def test_a_non_ascii_authorization_header_is_a_401(live: Live, value: bytes) -> None:
    for path in ("/api/v1/bill-cards", "/api/v1/consults/con_x", "/api/v1/reports/settlement"):
        status, body = await raw_request(live, "GET", path, b"Authorization: " + value + b"\r\n")
        assert status == 401, (path, status, body)
        assert json.loads(body.split(b"\r\n")[1] if body[:1] != b"{" else body)["error"]["code"] == "unauthenticated"


async def test_a_non_ascii_idempotency_key_is_refused_and_refunds_nothing(live: Live) -> None:
    request, _, _ = await paid_request(live)
    path = f"/api/v1/payment-requests/{request['id']}/refunds"
    headers = f"Authorization: Bearer {live.demo['api_key']}\r\n".encode() + b"Idempotency-Key: \xff\xfe\r\n"
    status, body = await raw_request(live, "POST", path, headers, b'{"amount": 100}')
    assert status == 400 and json.loads(body)["error"]["field"] == "Idempotency-Key", body
    assert await live.scalar(select(func.count()).select_from(PaymentRefund)) == 0


@pytest.mark.parametrize("path", ["/webhooks/stripe", "/webhooks/medipay"])
async def test_a_non_ascii_webhook_signature_is_a_400(live: Live, path: str) -> None:
    header = b"Stripe-Signature" if "stripe" in path else b"MediPay-Signature"
    status, body = await raw_request(live, "POST", path, header + b": t=1,v1=\xff\xfe\r\n", b'{"id": "evt_1"}')
    assert status == 400, body


async def test_a_non_ascii_csrf_token_is_refused_not_a_500(live: Live) -> None:
    admin = await make_user(live, "organisation_admin")
    async with await signed_in(live, admin) as client:
        cookie = "; ".join(f"{c.key}={c.value}" for c in client.http.cookie_jar)
    status, _ = await raw_request(live, "POST", "/admin/sign-out",
                                  f"Cookie: {cookie}\r\n".encode() + b"X-CSRF-Token: \xff\xfe\r\n")
    assert status in (400, 403), status
