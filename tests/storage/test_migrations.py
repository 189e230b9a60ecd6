"""Migrations run up, down and up again, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from app.config import normalise_database_url
from app.db import alembic_config, make_engine
from tests.conftest import IN_CI, PG_ADMIN, _pg_database

TABLES = {"books", "medipay_accounts", "medipay_exports", "medipay_events", "job_leases", "bill_cards", "audit_events"}


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _run(url: str, verb: str, revision: str) -> None:
    engine = make_engine(url)

    def run(connection: object) -> None:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def _round_trip(url: str) -> None:
    await _run(url, "upgrade", "head")
    assert TABLES <= await _tables(url)
    await _run(url, "downgrade", "base")
    assert not (TABLES & await _tables(url))
    await _run(url, "upgrade", "head")
    assert TABLES <= await _tables(url)


async def test_sqlite_up_down_up(tmp_path: Path) -> None:
    await _round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


async def test_postgresql_up_down_up() -> None:
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
