"""The journal in accounting terms, and the database refusing what would break it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import Database, make_engine, migrate
from app.ledger import journal
from app.ledger.journal import Leg, UnbalancedError
from app.models import Clinic, Organisation
from app.money import Money, MoneyError, split

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await migrate(engine)
    database = Database(engine)
    async with database.write() as s:
        s.add(Organisation(id="org", name="Org", created_at=NOW))
        await s.flush()
        s.add(Clinic(id="cli", organisation_id="org", name="Clinic", currency="NOK", payment_app_enabled=True,
                     stripe_charges_enabled=True, created_at=NOW))
    yield database
    await database.dispose()


async def test_patient_pays_450_in_the_call(db: Database) -> None:
    """Dr patient_receivable / Cr revenue 450; Dr stripe_clearing / Cr patient_receivable 450."""
    async with db.write() as s:
        legs = [Leg("patient_receivable", 45000), Leg("patient_revenue", -45000),
                Leg("stripe_clearing", 45000), Leg("patient_receivable", -45000)]
        await journal.post(s, clinic_id="cli", kind="in_call_payment", reference="r1", description="Consultation",
                           currency="NOK", at=NOW, legs=legs)
    async with db.read() as s:
        assert await journal.balances(s, "cli") == {
            ("patient_receivable", "NOK"): 0, ("patient_revenue", "NOK"): -45000, ("stripe_clearing", "NOK"): 45000,
        }
        assert await journal.trial_balance(s) == {"NOK": 0}


async def test_a_reference_is_posted_once(db: Database) -> None:
    legs = [Leg("stripe_clearing", 100), Leg("patient_revenue", -100)]
    async with db.write() as s:
        await journal.post(s, clinic_id="cli", kind="k", reference="same", description="d", currency="NOK", at=NOW,
                           legs=legs)
    with pytest.raises(DBAPIError):
        async with db.write() as s:
            await journal.post(s, clinic_id="cli", kind="k", reference="same", description="d", currency="NOK",
                               at=NOW, legs=legs)


async def test_unbalanced_is_refused_before_and_by_the_database(db: Database) -> None:
    with pytest.raises(UnbalancedError):
        async with db.write() as s:
            await journal.post(s, clinic_id="cli", kind="k", reference="bad", description="d", currency="NOK", at=NOW,
                               legs=[Leg("stripe_clearing", 100), Leg("patient_revenue", -99)])
    async with db.write() as s:
        acc = await journal.account_id(s, "cli", "stripe_clearing", "NOK")
    # Straight SQL, past the journal's own check: the database still says no.
    with pytest.raises(DBAPIError, match="unbalanced"):
        async with db.write() as s:
            await s.execute(text("INSERT INTO ledger_legs VALUES ('l1', 't1', :a, 100, 'NOK')"), {"a": acc})
            await s.execute(text("INSERT INTO ledger_transactions VALUES ('t1','cli','k','ref','d',NULL,:at)"),
                            {"at": NOW.replace(tzinfo=None)})
    with pytest.raises(DBAPIError, match="already posted"):
        async with db.write() as s:
            await journal.post(s, clinic_id="cli", kind="k", reference="ok", description="d", currency="NOK", at=NOW,
                               legs=[Leg("stripe_clearing", 100), Leg("patient_revenue", -100)])
            txn = (await s.execute(text("SELECT id FROM ledger_transactions WHERE reference='ok'"))).scalar()
            await s.execute(text("INSERT INTO ledger_legs VALUES ('l9', :t, :a, 5, 'NOK')"), {"t": txn, "a": acc})


def test_money_is_whole_minor_units() -> None:
    assert Money(45000, "nok") + Money(500, "NOK") == Money(45500, "NOK")
    with pytest.raises(MoneyError):
        Money(450.0, "NOK")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(1, "NOK") + Money(1, "SEK")
    with pytest.raises(MoneyError):
        Money(1, "XYZ1")
    assert split(100, [1, 1, 1]) == [34, 33, 33]
    assert sum(split(45001, [3, 7])) == 45001
