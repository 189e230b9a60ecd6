"""The double-entry journal.

Design (after hordak's ``models/core.py``, but stricter):

- An **account** belongs to one clinic and holds one currency. Its ``kind`` is
  asset, liability, income or expense.
- A **transaction** is one economic event (a patient paid, a refund went out),
  made of two or more **legs**. A leg moves an integer number of minor units
  into (+, debit) or out of (−, credit) one account.
- The legs of a transaction sum to zero per currency. The database enforces it:
  legs are inserted first (their foreign key to the transaction is deferred),
  then the transaction row, whose insert trigger refuses an unbalanced set;
  legs cannot be added to a posted transaction.
- Nothing is ever updated or deleted (triggers refuse it). A mistake is put
  right by a new, reversing transaction.
- Every transaction has a unique ``reference`` (for example
  ``stripe:settle:cs_…``), so posting the same economic event twice fails
  instead of counting money twice.

Chart of accounts, per clinic and currency:

    stripe_clearing     asset     money held for the clinic at Stripe
    vipps_clearing      asset     money Vipps MobilePay captured for the clinic (paid out to it by Vipps)
    medipay_clearing    asset     money MediPay collected (or took over) for the clinic
    patient_receivable  asset     what patients owe on bill cards
    patient_revenue     income    patient shares earned
    platform_fees       expense   the platform's application fee on in-call payments

An in-call payment with a platform fee is one transaction of six legs: the
charge (Dr patient_receivable / Cr patient_revenue), the payment
(Dr stripe_clearing / Cr patient_receivable) and the fee Stripe kept back for
the platform (Dr platform_fees / Cr stripe_clearing), so ``stripe_clearing``
holds what the clinic really gets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.ids import new_id
from app.models import LedgerAccount, LedgerLeg, LedgerTransaction

CHART: dict[str, tuple[str, str]] = {
    "stripe_clearing": ("asset", "Stripe balance (clearing)"),
    "vipps_clearing": ("asset", "Vipps MobilePay settlements (clearing)"),
    "medipay_clearing": ("asset", "MediPay settlements (clearing)"),
    "patient_receivable": ("asset", "Patient receivables"),
    "patient_revenue": ("income", "Patient share revenue"),
    "platform_fees": ("expense", "Platform fees"),
}


# Built once, on the tables: executing a ready statement skips building and
# hashing it again, and plain table inserts skip the ORM's bulk-insert layer.
# A settlement posts one transaction, so these run once per webhook.
_ACCOUNTS = select(LedgerAccount.__table__.c.code, LedgerAccount.__table__.c.id).where(
    LedgerAccount.__table__.c.clinic_id == bindparam("clinic_id"),
    LedgerAccount.__table__.c.code.in_(bindparam("codes", expanding=True)),
    LedgerAccount.__table__.c.currency == bindparam("currency"),
)
_INSERT_LEGS = LedgerLeg.__table__.insert()
_INSERT_TRANSACTION = LedgerTransaction.__table__.insert()


class UnbalancedError(ValueError):
    pass


@dataclass(frozen=True)
class Leg:
    account: str  # a code from CHART
    amount: int  # minor units; + debit, − credit


async def account_id(session: AsyncSession, clinic_id: str, code: str, currency: str) -> str:
    found = await session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.clinic_id == clinic_id,
            LedgerAccount.code == code,
            LedgerAccount.currency == currency,
        )
    )
    if found:
        return found
    kind, name = CHART[code]
    # Made on first use. Two transactions that first use it at once (the clinic's first payments,
    # settled concurrently on PostgreSQL) must not fail: the second waits for the first's row and uses it.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(LedgerAccount)
        .values(id=new_id("acc"), clinic_id=clinic_id, code=code, name=name, kind=kind, currency=currency)
        .on_conflict_do_nothing(index_elements=["clinic_id", "code", "currency"])
    )
    made = await session.scalar(
        select(LedgerAccount.id).where(
            LedgerAccount.clinic_id == clinic_id,
            LedgerAccount.code == code,
            LedgerAccount.currency == currency,
        )
    )
    assert made is not None
    return made


async def account_ids(session: AsyncSession, clinic_id: str, codes: set[str], currency: str) -> dict[str, str]:
    """The ids of several accounts in one query (made on first use)."""
    rows = await session.execute(_ACCOUNTS, {"clinic_id": clinic_id, "codes": sorted(codes), "currency": currency})
    found: dict[str, str] = dict(rows.all())
    for code in sorted(codes - found.keys()):
        found[code] = await account_id(session, clinic_id, code, currency)
    return found


async def post(
    session: AsyncSession,
    *,
    clinic_id: str,
    kind: str,
    reference: str,
    description: str,
    currency: str,
    legs: Sequence[Leg],
    at: datetime,
    bill_card_id: str | None = None,
) -> str:
    """Post one balanced transaction; returns its id.

    Raises ``UnbalancedError`` before touching the database when the legs do
    not balance; the database would refuse it anyway.
    """
    check(legs, reference)
    txn_id = new_id("txn")
    accounts = await account_ids(session, clinic_id, {leg.account for leg in legs}, currency)
    # Order matters: legs first, then the transaction row that the database
    # checks against them.
    await session.execute(_INSERT_LEGS, leg_rows(txn_id, legs, accounts, currency))
    await session.execute(
        _INSERT_TRANSACTION, transaction_row(txn_id, clinic_id, kind, reference, description, bill_card_id, at)
    )
    return txn_id


def check(legs: Sequence[Leg], reference: str) -> None:
    """Refuse legs that do not balance, or that move nothing, before the database is asked."""
    if len(legs) < 2 or sum(leg.amount for leg in legs) != 0:
        raise UnbalancedError(f"legs of {reference} do not balance")
    if any(leg.amount == 0 or isinstance(leg.amount, bool) for leg in legs):
        raise UnbalancedError("a leg of zero moves nothing")


def leg_rows(txn_id: str, legs: Sequence[Leg], accounts: dict[str, str], currency: str) -> list[dict[str, object]]:
    """The rows of a transaction's legs, for ``LedgerLeg.__table__`` (written before the transaction)."""
    return [{"id": new_id("leg"), "transaction_id": txn_id, "account_id": accounts[leg.account],
             "amount": leg.amount, "currency": currency} for leg in legs]


def transaction_row(txn_id: str, clinic_id: str, kind: str, reference: str, description: str,
                    bill_card_id: str | None, at: datetime) -> dict[str, object]:
    """The transaction's row, written after its legs: the database checks them against it."""
    return {"id": txn_id, "clinic_id": clinic_id, "kind": kind, "reference": reference,
            "description": description, "bill_card_id": bill_card_id, "created_at": at}


async def balances(session: AsyncSession, clinic_id: str) -> dict[tuple[str, str], int]:
    """Balance of every account of a clinic, keyed by (code, currency)."""
    rows = await session.execute(
        select(LedgerAccount.code, LedgerAccount.currency, func.coalesce(func.sum(LedgerLeg.amount), 0))
        .join(LedgerLeg, LedgerLeg.account_id == LedgerAccount.id, isouter=True)
        .where(LedgerAccount.clinic_id == clinic_id)
        .group_by(LedgerAccount.code, LedgerAccount.currency)
    )
    return {(code, cur): int(total) for code, cur, total in rows}


async def trial_balance(session: AsyncSession) -> dict[str, int]:
    """Sum of every leg per currency over the whole ledger: zero when balanced."""
    totals: dict[str, int] = defaultdict(int)
    rows = await session.execute(select(LedgerLeg.currency, func.sum(LedgerLeg.amount)).group_by(LedgerLeg.currency))
    for currency, total in rows:
        totals[currency] += int(total)
    return dict(totals)
