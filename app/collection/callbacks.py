"""MediPay's callbacks (``/webhooks/medipay``) and the pull that catches missed ones (``sync-medipay``).

A callback is verified on the raw body before this module sees it. Each event
id is handled once (``medipay_events``' primary key); a claim older than what
the card already knows is ignored (``version``); the state is applied by
``medipay_claims.apply_claim``, the same code the export and the pull use.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.billing.card_views import card_summary
from app.clock import Clock
from app.collection.book_credentials import credentials_for_book
from app.collection.claims import apply_claim, notify_card
from app.collection.secret_box import SecretBox
from app.consults.notifier import Notifier
from app.db import Database
from app.errors import BadInput
from app.models import BillCard, JobLease, MediPayAccount, MediPayEvent
from integrations.medipay.protocol import CALLBACK_TYPES, ClaimState, MediPayGateway, ProviderError

log = logging.getLogger(__name__)
# Claims changed a little before the last pull are asked for again (clock skew, slow commits).
SYNC_OVERLAP = timedelta(minutes=5)


def parse_event(event: dict[str, Any]) -> tuple[str, str, ClaimState]:
    event_id, kind = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 255:
        raise BadInput("bad_event", "the callback has no id")
    if kind not in CALLBACK_TYPES:
        raise BadInput("bad_event", "unknown callback type")
    try:
        claim = ClaimState.from_wire(event["claim"])
    except (KeyError, TypeError, ValueError) as e:
        raise BadInput("bad_event", "the callback's claim cannot be read") from e
    if not 0 < len(claim.id) <= 64:
        raise BadInput("bad_event", "the callback's claim id is not one of ours")
    return event_id, str(kind), claim


class MediPayCallbacks:
    def __init__(self, db: Database, *, gateway: MediPayGateway, clock: Clock, notifier: Notifier,
                 secret_key: str) -> None:
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self.notifier = notifier
        self.box = SecretBox(secret_key)

    async def handle(self, event: dict[str, Any]) -> str:
        """Apply one verified callback; returns what happened (``applied``, ``duplicate``, ``stale``, …)."""
        event_id, kind, claim = parse_event(event)
        summary = None
        try:
            async with self.db.write() as s:
                if await s.get(MediPayEvent, event_id) is not None:
                    return "duplicate"
                now = self.clock.now()
                s.add(MediPayEvent(id=event_id, claim_id=claim.id, type=kind, received_at=now))
                await s.flush()
                card = await s.get(BillCard, claim.id, with_for_update=True)
                if card is None:
                    return "unknown_claim"
                if not await apply_claim(s, card, claim, now, source=kind):
                    return "stale"
                summary = card_summary(card)
        except IntegrityError:
            return "duplicate"  # the same event, handled at the same moment by another process
        await notify_card(self.notifier, summary)
        return "applied"

    async def sync(self) -> int:
        """Pull every claim changed since the last pull, per MediPay account; returns cards changed."""
        async with self.db.read() as s:
            accounts = (await s.scalars(select(MediPayAccount).where(MediPayAccount.status == "active"))).all()
        changed = 0
        for account in accounts:
            changed += await self._sync_account(account)
        return changed

    async def _sync_account(self, account: MediPayAccount) -> int:
        name = f"sync-medipay:{account.id}"[:60]
        started = self.clock.now()
        async with self.db.read() as s:
            creds = await credentials_for_book(s, account.book_id, self.box)
            mark = await s.get(JobLease, name)
        if creds is None:
            return 0
        since: datetime = (mark.last_started_at if mark and mark.last_started_at else account.created_at)
        try:
            claims = await self.gateway.list_claims(creds, since - SYNC_OVERLAP)
        except ProviderError as e:
            log.warning("sync-medipay: MediPay could not be asked for account %s: %s", account.id, e.message)
            return 0
        changed = 0
        for claim in claims:
            summary = None
            async with self.db.write() as s:
                card = await s.get(BillCard, claim.id, with_for_update=True)
                if card is None or card.organisation_id != account.organisation_id:
                    continue
                if await apply_claim(s, card, claim, self.clock.now(), source="sync"):
                    changed += 1
                    summary = card_summary(card)
            if summary:
                await notify_card(self.notifier, summary)
        async with self.db.write() as s:
            row = await s.get(JobLease, name, with_for_update=True)
            if row is None:
                row = JobLease(name=name)
                s.add(row)
            row.last_started_at = started
            row.last_finished_at = self.clock.now()
        return changed
