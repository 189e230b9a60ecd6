"""A clinic's Vipps MobilePay merchant, as the payments use it: offered or not, and its keys.

Only an ``active`` merchant (Vipps accepted its keys) that the clinic has switched
on is offered in the call. Its secrets are stored sealed (``app.collection.secret_box``)
and opened here only to talk to Vipps; a secret that no longer opens (``SECRET_KEY``
changed) means the merchant is not offered until an admin enters the keys again.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Invalid
from app.models import VippsMerchant
from integrations.vipps.protocol import VippsKeys

log = logging.getLogger(__name__)

# An MSISDN as Vipps takes it: country code and number, digits only ("4791234567").
_MSISDN = re.compile(r"[1-9][0-9]{9,14}")


class SecretBox(Protocol):
    """What opens a sealed secret (``app.collection.secret_box.SecretBox``, handed in by the wiring);
    a secret it cannot open raises a ``ValueError``."""

    def reveal(self, sealed: str) -> str: ...


def usable(m: VippsMerchant | None) -> bool:
    return m is not None and m.status == "active" and bool(m.enabled)


async def offered_merchant(s: AsyncSession, clinic_id: str) -> VippsMerchant | None:
    """The clinic's merchant if the clinic takes Vipps in the call now."""
    m = await s.scalar(select(VippsMerchant).where(VippsMerchant.clinic_id == clinic_id))
    return m if usable(m) else None


async def merchant_by_msn(s: AsyncSession, msn: str) -> VippsMerchant | None:
    return await s.scalar(select(VippsMerchant).where(VippsMerchant.merchant_serial_number == msn).limit(1))


def keys_of(box: SecretBox, m: VippsMerchant) -> VippsKeys | None:
    """The merchant's keys, or None when its sealed secrets no longer open."""
    try:
        return VippsKeys(client_id=m.client_id, client_secret=box.reveal(m.client_secret_encrypted),
                         subscription_key=box.reveal(m.subscription_key_encrypted),
                         merchant_serial_number=m.merchant_serial_number)
    except ValueError:
        log.error("the Vipps keys of merchant %s cannot be opened with this SECRET_KEY", m.merchant_serial_number)
        return None


def webhook_secret(box: SecretBox, m: VippsMerchant) -> str | None:
    if not m.webhook_secret_encrypted:
        return None
    try:
        return box.reveal(m.webhook_secret_encrypted)
    except ValueError:
        return None


def msisdn(phone: str | None) -> str | None:
    """A phone number as Vipps takes it ("4791234567"); a Norwegian number may leave out +47.

    None for none given; ``Invalid`` for one that cannot be a mobile number.
    """
    if phone is None or not phone.strip():
        return None
    digits = re.sub(r"[\s().-]", "", phone.strip())
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    elif len(digits) == 8:
        digits = "47" + digits
    if not _MSISDN.fullmatch(digits):
        raise Invalid("invalid_phone", "Enter a mobile number, for example +47 912 34 567.", field="phone")
    return digits
