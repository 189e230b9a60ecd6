"""The demo clinic as a Vipps merchant of the built-in sandbox, and the patient's phone driven over HTTP."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.collection.secret_box import SecretBox
from app.ids import new_id
from app.keys import DB, VIPPS
from app.models import PaymentRequest, VippsMerchant
from integrations.vipps.protocol import VippsKeys
from tests import polling
from tests.factories import Live

PHONE = "4791234567"  # the demo patient's +47 912 34 567
TOKEN_FIELD = re.compile(r'name="token" value="([^"]+)"')


def sandbox(live: Live) -> str:
    return f"{live.url}/_sandbox/vipps"


async def control(live: Live, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    assert live.http
    async with live.http.request(method, sandbox(live) + "/_control" + path, json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def take_vipps(live: Live, *, enabled: bool = True, status: str = "active") -> VippsKeys:
    """A new sandbox merchant for the demo clinic, its webhook registered at /webhooks/vipps, keys sealed."""
    made = await control(live, "POST", "/merchants")
    keys = VippsKeys(made["client_id"], made["client_secret"], made["subscription_key"],
                     made["merchant_serial_number"])
    hook = await live.app[VIPPS].register_webhook(keys, f"{live.url}/webhooks/vipps")
    box = SecretBox(live.settings.secret_key)
    now = datetime.now(UTC)
    async with live.app[DB].write() as s:
        row = await s.scalar(select(VippsMerchant).where(VippsMerchant.clinic_id == live.demo["clinic_id"]))
        if row is None:
            row = VippsMerchant(id=new_id("vm"), organisation_id=live.demo["organisation_id"],
                                clinic_id=live.demo["clinic_id"], created_at=now)
            s.add(row)
        row.merchant_serial_number = keys.merchant_serial_number
        row.client_id = keys.client_id
        row.client_secret_encrypted = box.seal(keys.client_secret)
        row.subscription_key_encrypted = box.seal(keys.subscription_key)
        row.enabled, row.status, row.verified_at, row.updated_at = enabled, status, now, now
        row.webhook_id, row.webhook_secret_encrypted = hook.id, box.seal(hook.secret)
    return keys


async def phone_answer(live: Live, action: str, phone: str = PHONE) -> None:
    """The patient opens Vipps on their phone and approves (or rejects) the payment waiting there."""
    assert live.http
    async with live.http.get(f"{sandbox(live)}/phone/{phone}", headers={"Accept-Language": "en"}) as resp:
        assert resp.status == 200
        found = TOKEN_FIELD.search(await resp.text())
    assert found, "no payment waiting on the phone"
    async with live.http.post(f"{sandbox(live)}/pay", data={"token": found.group(1), "action": action,
                                                            "from": "phone", "lang": "en"},
                              allow_redirects=False) as resp:
        assert resp.status == 303, await resp.text()


async def request_row(live: Live, request_id: str) -> PaymentRequest:
    row = await live.scalar(select(PaymentRequest).where(PaymentRequest.id == request_id))
    assert row is not None
    return row


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 8.0) -> Any:
    """Wait until ``check()`` (awaited) is truthy; its value."""
    return await polling.eventually(check, timeout)
