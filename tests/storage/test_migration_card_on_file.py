"""Migration 0017 (a card on file's Stripe ids) upgrades, downgrades to 0016 and upgrades again, on
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import inspect

from app.config import normalise_database_url
from app.db import make_engine
from tests.conftest import IN_CI, PG_ADMIN, _pg_database
from tests.storage.test_migrations import _run

COLUMNS = {"stripe_customer_id", "setup_intent_id", "payment_method_id"}


async def _columns(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("payment_requests"))}
    finally:
        await engine.dispose()


async def _round_trip(url: str) -> None:
    await _run(url, "upgrade", "head")
    assert COLUMNS <= await _columns(url)
    await _run(url, "downgrade", "0016")
    assert not (COLUMNS & await _columns(url))
    await _run(url, "upgrade", "head")
    assert COLUMNS <= await _columns(url)


async def test_sqlite_card_on_file_up_down_up(tmp_path: Path) -> None:
    await _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


async def test_postgresql_card_on_file_up_down_up() -> None:
    name = f"cp_mig_{uuid.uuid4().hex[:12]}"
    url = await _pg_database(name)
    if url is None:
        if IN_CI:
            pytest.fail("PostgreSQL is required in CI but did not answer at " + PG_ADMIN)
        pytest.skip("PostgreSQL is not running at " + PG_ADMIN)
    try:
        await _round_trip(normalise_database_url(url))
    finally:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN.replace("postgresql://", "postgres://"))
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
