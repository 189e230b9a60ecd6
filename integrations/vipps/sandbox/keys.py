"""The sandbox's merchants: the fixed demo merchant, and new test merchants on request.

``DEMO_KEYS`` are constants so the demo seed can store them for its clinic; a
test asks ``POST /_control/merchants`` for keys of its own. Keys are checked
as Vipps checks them: the client id, the secret, the subscription key and the
merchant serial number (MSN) must all belong to one sales unit.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from integrations.vipps.protocol import VippsKeys

from .store import Store

DEMO_KEYS = VippsKeys(
    client_id="demo-clinic-client-id",
    client_secret="demo-clinic-client-secret",
    subscription_key="demo0subscription0key0000000000",
    merchant_serial_number="123456",
)


def new_merchant(store: Store) -> VippsKeys:
    """A new sales unit with its own keys and a six-digit MSN no other merchant has."""
    with store.transaction():
        while True:
            msn = str(100000 + secrets.randbelow(900000))
            if msn != DEMO_KEYS.merchant_serial_number and store.get("msn", msn) is None:
                break
        keys = VippsKeys(client_id="sbx-" + secrets.token_hex(8), client_secret=secrets.token_urlsafe(24),
                         subscription_key=secrets.token_hex(16), merchant_serial_number=msn)
        row = {"client_id": keys.client_id, "client_secret": keys.client_secret,
               "subscription_key": keys.subscription_key, "msn": msn}
        store.put("merchant", keys.client_id, row, owner=msn)
        store.put("msn", msn, row, owner=msn)
    return keys


def _row(keys: VippsKeys) -> dict[str, Any]:
    return {"client_id": keys.client_id, "client_secret": keys.client_secret,
            "subscription_key": keys.subscription_key, "msn": keys.merchant_serial_number}


def merchant_by_client(store: Store, client_id: str) -> dict[str, Any] | None:
    if client_id == DEMO_KEYS.client_id:
        return _row(DEMO_KEYS)
    return store.get("merchant", client_id)


def merchant_by_msn(store: Store, msn: str) -> dict[str, Any] | None:
    if msn == DEMO_KEYS.merchant_serial_number:
        return _row(DEMO_KEYS)
    return store.get("msn", msn)


def same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())
