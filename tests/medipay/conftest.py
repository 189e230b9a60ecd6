"""A live ConsultPay wired to the in-memory MediPay, with one clock both move by."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.clock import ManualClock
from app.keys import DB, MEDIPAY_CALLBACKS, MEDIPAY_EXPORTER
from app.models import BillCard, Clinic, LedgerLeg, MediPayExport, Payment
from tests.conftest import IN_CI, PG_ADMIN, _pg_database, make_settings, start_live
from tests.factories import PATIENT, Live
from tests.medipay.fake import FakeMediPay

# Half past an hour of yesterday: "the next full hour" is plain to read, and join
# tokens issued at this time are not from the future for the token library.
START = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(days=1)


@dataclass
class Pipeline:
    live: Live
    medipay: FakeMediPay
    clock: ManualClock

    async def new_card(self, *, patient: dict[str, Any] | None = None, amount: int = 45000,
                       refund: int = 15000, **over: Any) -> dict[str, Any]:
        body = {
            "clinic_id": self.live.demo["clinic_id"],
            "book_id": self.live.demo["medipay_book_id"],
            "patient": patient if patient is not None else dict(PATIENT),
            "lines": [{"code": "2ad", "description": "Consultation", "patient_amount": amount,
                       "refund_amount": refund}],
        }
        body.update(over)
        status, card = await self.live.api("POST", "/api/v1/bill-cards", body)
        assert status == 201, card
        return card

    async def card(self, card_id: str) -> dict[str, Any]:
        status, card = await self.live.api("GET", f"/api/v1/bill-cards/{card_id}")
        assert status == 200, card
        return card

    async def send(self, card_id: str) -> tuple[int, dict[str, Any]]:
        return await self.live.api("POST", f"/api/v1/bill-cards/{card_id}/send-to-payment")

    async def export_queue(self) -> int:
        return await self.live.app[MEDIPAY_EXPORTER].export_due()

    async def retry_not_exported(self) -> int:
        return await self.live.app[MEDIPAY_EXPORTER].retry_not_exported()

    async def sync(self) -> int:
        return await self.live.app[MEDIPAY_CALLBACKS].sync()

    async def later(self, **delta: float) -> None:
        self.clock.advance(**delta)
        await self.medipay.tick()

    async def exports(self, card_id: str) -> list[MediPayExport]:
        async with self.live.app[DB].read() as s:
            return list((await s.scalars(select(MediPayExport).where(MediPayExport.bill_card_id == card_id)
                                         .order_by(MediPayExport.created_at))).all())

    async def payments(self, card_id: str) -> list[Payment]:
        async with self.live.app[DB].read() as s:
            return list((await s.scalars(select(Payment).where(Payment.bill_card_id == card_id))).all())

    async def medipay_clearing(self) -> int:
        from app.models import LedgerAccount

        rows = await self.live.rows(
            select(LedgerLeg.amount).join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
            .where(LedgerAccount.code == "medipay_clearing"))
        return sum(r[0] for r in rows)

    async def set_manual_office(self, on: bool) -> None:
        async with self.live.app[DB].write() as s:
            clinic = await s.get(Clinic, self.live.demo["clinic_id"])
            assert clinic is not None
            clinic.manual_office = on

    async def status(self, card_id: str) -> str:
        async with self.live.app[DB].read() as s:
            card = await s.get(BillCard, card_id)
            assert card is not None
            return card.status


async def _pipeline(tmp_path: Path, **env: str) -> tuple[Pipeline, Any]:
    clock = ManualClock(START)
    settings = make_settings(tmp_path, **env)
    fake = FakeMediPay(clock=clock, callback_url=f"{settings.public_url}/webhooks/medipay",
                       secret=settings.medipay_callback_secret or "")
    live, runner = await start_live(settings, medipay=fake, clock=clock, run_jobs=False)
    return Pipeline(live=live, medipay=fake, clock=clock), runner


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    p, runner = await _pipeline(tmp_path)
    try:
        yield p
    finally:
        await p.live.close()
        await p.medipay.close()
        await runner.cleanup()


@pytest.fixture
async def pipeline_pg(tmp_path: Path) -> AsyncIterator[Pipeline]:
    import uuid

    import asyncpg

    name = f"cp_test_{uuid.uuid4().hex[:12]}"
    url = await _pg_database(name)
    if url is None:
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI but did not answer at " + PG_ADMIN)
        pytest.skip("PostgreSQL is not running at " + PG_ADMIN)
    p, runner = await _pipeline(tmp_path, DATABASE_URL=url)
    try:
        yield p
    finally:
        await p.live.close()
        await p.medipay.close()
        await runner.cleanup()
        conn = await asyncpg.connect(PG_ADMIN.replace("postgresql://", "postgres://"))
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
