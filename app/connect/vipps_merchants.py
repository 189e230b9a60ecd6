"""*Client payments > Vipps*: a clinic's Vipps MobilePay merchant, checked with Vipps before it is saved.

A clinic has at most one merchant: its merchant serial number (MSN) and the
API keys from the Vipps MobilePay business portal (client id, client secret,
subscription key). ``save`` asks Vipps for an access token with the keys and
registers the ePayment webhook for the merchant at ``{public_url}/webhooks/vipps``
before anything is written: keys Vipps refuses, or Vipps not answering, save
nothing and say so. The client secret, the subscription key and the webhook's
signing secret are stored sealed (a ``SecretBox``, as a MediPay password is) and
never shown again. Replacing or removing the merchant deletes its old webhook.

``enabled`` is the clinic's own switch; only an ``active`` merchant with it on
is offered in the call (``vipps_keys_for_clinic``). ``vipps_merchant_by_msn``
finds the signing secret a webhook for an MSN is verified with.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.billing.statuses import REQUEST_OPEN
from app.clock import Clock
from app.db import Database
from app.errors import Conflict, Invalid, NotFound, Unavailable
from app.ids import new_id
from app.models import Clinic, PaymentRequest, VippsMerchant
from integrations.errors import AccessRefused, ProviderError, ProviderUnavailable
from integrations.vipps.client import VippsClient
from integrations.vipps.protocol import VippsKeys, Webhook

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/webhooks/vipps"
MSN = re.compile(r"[0-9]{4,10}")
MAX_KEY = 200
# Per key: (missing, not allowed), English msgids.
KEY_ERRORS = {
    "client_id": ("Enter the client id from the Vipps MobilePay portal.",
                  "The client id is too long or has characters that are not allowed."),
    "client_secret": ("Enter the client secret from the Vipps MobilePay portal.",
                      "The client secret is too long or has characters that are not allowed."),
    "subscription_key": ("Enter the subscription key from the Vipps MobilePay portal.",
                         "The subscription key is too long or has characters that are not allowed."),
}
UNAVAILABLE = "Vipps could not be reached, so nothing was saved. Try again."


class Box(Protocol):
    """What seals the secrets (``app.collection.secret_box.SecretBox``): ``reveal`` raises a ``ValueError``
    (its ``SecretUnreadable``) for a value sealed under another ``SECRET_KEY``."""

    def seal(self, plaintext: str) -> str: ...

    def reveal(self, sealed: str) -> str: ...


@dataclass(frozen=True)
class MerchantView:
    """What the admin sees: no secret, only whether one is stored."""

    id: str
    clinic_id: str
    merchant_serial_number: str
    client_id: str
    enabled: bool
    status: str  # unverified | active | refused
    verified_at: datetime | None
    last_error: str | None
    webhook_registered: bool
    updated_at: datetime

    @property
    def offered(self) -> bool:
        return self.status == "active" and self.enabled

    @classmethod
    def of(cls, row: VippsMerchant) -> MerchantView:
        return cls(row.id, row.clinic_id, row.merchant_serial_number, row.client_id, row.enabled, row.status,
                   row.verified_at, row.last_error, row.webhook_id is not None, row.updated_at)


def _msn(value: Any) -> str:
    text = value.strip().replace(" ", "") if isinstance(value, str) else ""
    if not text:
        raise Invalid("missing_field", "Enter the merchant serial number from the Vipps MobilePay portal.",
                      field="merchant_serial_number")
    if not MSN.fullmatch(text):
        raise Invalid("invalid_msn", "The merchant serial number is 4 to 10 digits, for example 123456.",
                      field="merchant_serial_number")
    return text


def _key(value: Any, name: str, *, required: bool) -> str | None:
    missing, not_allowed = KEY_ERRORS[name]
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid("missing_field", missing, field=name)
        return None
    if not isinstance(value, str) or len(value.strip()) > MAX_KEY or any(ord(c) < 32 or c == "\x7f" for c in value):
        raise Invalid("invalid_field", not_allowed, field=name)
    return value.strip()


def _keys_of(row: VippsMerchant, box: Box) -> VippsKeys:
    """The stored keys; ``ValueError`` if they were sealed under another ``SECRET_KEY``."""
    return VippsKeys(client_id=row.client_id, client_secret=box.reveal(row.client_secret_encrypted),
                     subscription_key=box.reveal(row.subscription_key_encrypted),
                     merchant_serial_number=row.merchant_serial_number)


def _said(e: ProviderError) -> str:
    return (e.provider_message or e.message or "")[:300]


class VippsMerchants:
    def __init__(self, db: Database, *, vipps: VippsClient, clock: Clock, box: Box, public_url: str) -> None:
        self.db = db
        self.vipps = vipps
        self.clock = clock
        self.box = box
        self.webhook_url = public_url.rstrip("/") + WEBHOOK_PATH

    async def get(self, clinic_id: str) -> MerchantView | None:
        async with self.db.read() as s:
            row = await s.scalar(select(VippsMerchant).where(VippsMerchant.clinic_id == clinic_id))
        return MerchantView.of(row) if row is not None else None

    async def save(
        self, organisation_id: str, clinic_id: str, *, merchant_serial_number: Any, client_id: Any,
        client_secret: Any, subscription_key: Any, enabled: bool | None = None, actor_id: str | None,
    ) -> MerchantView:
        """Add or replace the clinic's merchant: checked with Vipps and its webhook registered first.

        Editing with the client secret or subscription key left empty keeps the stored one.
        A new merchant is switched on unless ``enabled`` is False; a replaced one keeps its switch.
        """
        msn = _msn(merchant_serial_number)
        cid = _key(client_id, "client_id", required=True)
        secret = _key(client_secret, "client_secret", required=False)
        sub = _key(subscription_key, "subscription_key", required=False)
        assert cid is not None
        async with self.db.read() as s:
            await self._clinic(s, organisation_id, clinic_id)
            old = await s.scalar(select(VippsMerchant).where(VippsMerchant.clinic_id == clinic_id))
            await self._msn_free(s, clinic_id, msn)
            if old is not None and old.merchant_serial_number != msn:
                await _none_waiting(s, old)
        old_keys: VippsKeys | None = None
        if old is not None:
            try:
                old_keys = _keys_of(old, self.box)
            except ValueError:
                old_keys = None
        if secret is None or sub is None:
            if old_keys is None:
                field = "client_secret" if secret is None else "subscription_key"
                message = ("Enter the keys again: the stored ones cannot be read." if old is not None
                           else KEY_ERRORS[field][0])
                raise Invalid("missing_field", message, field=field)
            secret = secret or old_keys.client_secret
            sub = sub or old_keys.subscription_key
        keys = VippsKeys(client_id=cid, client_secret=secret, subscription_key=sub, merchant_serial_number=msn)
        webhook = await self._check_and_register(keys)
        try:
            view = await self._store(organisation_id, clinic_id, keys, webhook, enabled, actor_id)
        except Exception:
            await self._forget_webhook(keys, webhook.id)
            raise
        if old is not None and old.webhook_id and old_keys is not None:
            await self._forget_webhook(old_keys, old.webhook_id)
        return view

    async def verify(self, organisation_id: str, clinic_id: str, *, actor_id: str | None) -> MerchantView:
        """Ask Vipps again about the stored keys (after they were changed in the portal, or an outage)."""
        async with self.db.read() as s:
            await self._clinic(s, organisation_id, clinic_id)
            row = await self._row(s, clinic_id)
        try:
            keys = _keys_of(row, self.box)
        except ValueError:
            raise Conflict("vipps_keys_unreadable", "Enter the keys again: the stored ones cannot be read.") from None
        webhook: Webhook | None = None
        status, error = "active", None
        try:
            await self.vipps.check_keys(keys)
            if row.webhook_id is None:
                webhook = await self.vipps.register_webhook(keys, self.webhook_url)
        except ProviderUnavailable as e:
            raise Unavailable("vipps_unavailable", "Vipps could not be reached, so the keys were not checked. "
                              "Try again.") from e
        except ProviderError as e:
            status, error = "refused", _said(e) or "Vipps did not accept the keys."
        async with self.db.write() as s:
            row = await self._row(s, clinic_id, lock=True)
            now = self.clock.now()
            row.status, row.last_error, row.updated_at = status, error, now
            row.verified_at = now if status == "active" else None
            if webhook is not None:
                row.webhook_id, row.webhook_secret_encrypted = webhook.id, self.box.seal(webhook.secret)
            self._audit(s, row, "vipps_merchant.verified", actor_id, now, {"status": status})
            return MerchantView.of(row)

    async def set_enabled(self, organisation_id: str, clinic_id: str, enabled: bool, *,
                          actor_id: str | None) -> MerchantView:
        """The clinic's switch: Vipps offered in the call or not. On only once Vipps accepted the keys."""
        async with self.db.write() as s:
            await self._clinic(s, organisation_id, clinic_id)
            row = await self._row(s, clinic_id, lock=True)
            if enabled and row.status != "active":
                raise Conflict("vipps_not_active", "Vipps can be turned on only when Vipps has accepted the keys.")
            if row.enabled != enabled:
                now = self.clock.now()
                row.enabled, row.updated_at = enabled, now
                action = "vipps_merchant.enabled" if enabled else "vipps_merchant.disabled"
                self._audit(s, row, action, actor_id, now, {})
            return MerchantView.of(row)

    async def remove(self, organisation_id: str, clinic_id: str, *, actor_id: str | None) -> None:
        """Delete the merchant's webhook at Vipps, then the merchant; Vipps down → nothing removed."""
        async with self.db.read() as s:
            await self._clinic(s, organisation_id, clinic_id)
            row = await self._row(s, clinic_id)
            await _none_waiting(s, row)
        if row.webhook_id:
            try:
                await self.vipps.delete_webhook(_keys_of(row, self.box), row.webhook_id)
            except ProviderUnavailable as e:
                raise Unavailable("vipps_unavailable", "Vipps could not be reached to remove the webhook, so nothing "
                                  "was removed. Try again.") from e
            except (ProviderError, ValueError) as e:
                # Keys revoked or unreadable, or the webhook already gone: nothing more to do at Vipps.
                log.warning("vipps webhook %s of clinic %s not deleted: %s", row.webhook_id, clinic_id, e)
        async with self.db.write() as s:
            # The clinic's row lock orders this against a patient choosing Vipps meanwhile.
            await self._clinic(s, organisation_id, clinic_id, lock=True)
            row = await self._row(s, clinic_id, lock=True)
            await _none_waiting(s, row)
            self._audit(s, row, "vipps_merchant.removed", actor_id, self.clock.now(), {})
            await s.delete(row)

    # --- the steps ---------------------------------------------------------------------------

    async def _check_and_register(self, keys: VippsKeys) -> Webhook:
        try:
            await self.vipps.check_keys(keys)
        except ProviderUnavailable as e:
            raise Unavailable("vipps_unavailable", UNAVAILABLE) from e
        except ProviderError as e:
            raise Invalid("vipps_keys_refused", "Vipps did not accept the keys. Check the merchant serial number, "
                          "client id, client secret and subscription key, and try again.", field="client_secret",
                          vipps_message=_said(e)) from e
        try:
            return await self.vipps.register_webhook(keys, self.webhook_url)
        except ProviderUnavailable as e:
            raise Unavailable("vipps_unavailable", UNAVAILABLE) from e
        except AccessRefused as e:
            raise Invalid("vipps_msn_refused", "Vipps accepted the keys, but not for this merchant serial number. "
                          "Check the merchant serial number.", field="merchant_serial_number",
                          vipps_message=_said(e)) from e
        except ProviderError as e:
            raise Invalid("vipps_webhook_refused", "Vipps would not register the payment notifications for this "
                          "merchant, so nothing was saved.", field="merchant_serial_number",
                          vipps_message=_said(e)) from e

    async def _store(self, organisation_id: str, clinic_id: str, keys: VippsKeys, webhook: Webhook,
                     enabled: bool | None, actor_id: str | None) -> MerchantView:
        async with self.db.write() as s:
            await self._clinic(s, organisation_id, clinic_id, lock=True)
            await self._msn_free(s, clinic_id, keys.merchant_serial_number)
            row = await s.scalar(select(VippsMerchant).where(VippsMerchant.clinic_id == clinic_id))
            if row is not None and row.merchant_serial_number != keys.merchant_serial_number:
                await _none_waiting(s, row)
            now = self.clock.now()
            if row is None:
                row = VippsMerchant(id=new_id("vmr"), organisation_id=organisation_id, clinic_id=clinic_id,
                                    created_at=now, enabled=enabled is not False)
                s.add(row)
            elif enabled is not None:
                row.enabled = enabled
            row.merchant_serial_number, row.client_id = keys.merchant_serial_number, keys.client_id
            row.client_secret_encrypted = self.box.seal(keys.client_secret)
            row.subscription_key_encrypted = self.box.seal(keys.subscription_key)
            row.status, row.last_error, row.verified_at, row.updated_at = "active", None, now, now
            row.webhook_id, row.webhook_secret_encrypted = webhook.id, self.box.seal(webhook.secret)
            await s.flush()
            self._audit(s, row, "vipps_merchant.saved", actor_id, now, {"enabled": row.enabled})
            return MerchantView.of(row)

    async def _forget_webhook(self, keys: VippsKeys, webhook_id: str) -> None:
        """Delete a webhook no row points to any more; a failure is logged (Vipps keeps it, unsigned for us)."""
        try:
            await self.vipps.delete_webhook(keys, webhook_id)
        except ProviderError as e:
            log.warning("vipps webhook %s for MSN %s not deleted: %s", webhook_id, keys.merchant_serial_number, e)

    @staticmethod
    async def _clinic(s: AsyncSession, organisation_id: str, clinic_id: str, *, lock: bool = False) -> Clinic:
        clinic = await s.get(Clinic, clinic_id, with_for_update=lock)
        if clinic is None or clinic.organisation_id != organisation_id:
            raise NotFound("clinic_not_found", "There is no such clinic.")
        return clinic

    @staticmethod
    async def _row(s: AsyncSession, clinic_id: str, *, lock: bool = False) -> VippsMerchant:
        query = select(VippsMerchant).where(VippsMerchant.clinic_id == clinic_id)
        row = await s.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise NotFound("vipps_merchant_not_found", "This clinic has no Vipps merchant yet.")
        return row

    @staticmethod
    async def _msn_free(s: AsyncSession, clinic_id: str, msn: str) -> None:
        """One clinic per MSN: a webhook names only the MSN, so it must lead to one clinic."""
        taken = await s.scalar(select(VippsMerchant.id).where(
            VippsMerchant.merchant_serial_number == msn, VippsMerchant.clinic_id != clinic_id))
        if taken is not None:
            raise Conflict("vipps_msn_taken", "Another clinic already uses this merchant serial number.",
                           field="merchant_serial_number")

    @staticmethod
    def _audit(s: AsyncSession, row: VippsMerchant, action: str, actor_id: str | None, now: datetime,
               details: dict[str, Any]) -> None:
        audit.record(s, organisation_id=row.organisation_id, clinic_id=row.clinic_id,
                     actor_type="user" if actor_id else "system", actor_id=actor_id, action=action,
                     subject_type="vipps_merchant", subject_id=row.id, at=now,
                     details={"merchant_serial_number": row.merchant_serial_number, **details})


async def vipps_keys_for_clinic(session: AsyncSession, clinic_id: str,
                                box: Box) -> tuple[VippsKeys, VippsMerchant] | None:
    """The keys to take a Vipps payment for the clinic with: only an active merchant the clinic has on."""
    row = await session.scalar(select(VippsMerchant).where(VippsMerchant.clinic_id == clinic_id))
    if row is None or row.status != "active" or not row.enabled:
        return None
    try:
        return _keys_of(row, box), row
    except ValueError:
        return None


async def vipps_merchant_by_msn(session: AsyncSession, msn: str, box: Box) -> tuple[VippsMerchant, str] | None:
    """The merchant a webhook for ``msn`` belongs to and the secret its signature is checked with.

    Also for a merchant switched off or refused since: its payments already made still settle.
    """
    if not isinstance(msn, str) or not MSN.fullmatch(msn):
        return None
    row = await session.scalar(select(VippsMerchant).where(VippsMerchant.merchant_serial_number == msn))
    if row is None or row.webhook_secret_encrypted is None:
        return None
    try:
        return row, box.reveal(row.webhook_secret_encrypted)
    except ValueError:
        return None


async def _none_waiting(s: AsyncSession, row: VippsMerchant) -> None:
    """Refuse to forget a merchant while a payment is waiting in Vipps with it: its answer could not
    be verified or settled without the merchant's keys and webhook secret."""
    waiting = list(await s.scalars(
        select(PaymentRequest.id).where(PaymentRequest.clinic_id == row.clinic_id,
                                        PaymentRequest.vipps_msn == row.merchant_serial_number,
                                        PaymentRequest.method == "vipps",
                                        PaymentRequest.status.in_(REQUEST_OPEN)).limit(20)))
    if waiting:
        raise Conflict("vipps_payments_waiting",
                       "Payments are waiting in Vipps with this merchant. Let them finish or cancel them first.",
                       requests=waiting)
