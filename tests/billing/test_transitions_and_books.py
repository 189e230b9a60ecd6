"""The card status table (docs/rules.md, rules S1 and T1) and accounting books, against a real database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from app.billing.books import Books, book_for_card, exports_to_medipay, owned_book
from app.billing.statuses import STATUSES
from app.billing.transitions import ALLOWED, allowed, transition
from app.clock import ManualClock
from app.db import Database, make_engine, migrate
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import AuditEvent, BillCard, BillCardEvent, Book, Clinic, Organisation, User

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'cards.db'}")
    await migrate(engine)
    database = Database(engine)
    async with database.write() as s:
        for org in ("org", "other"):
            s.add(Organisation(id=org, name=org, created_at=NOW))
        await s.flush()
        s.add(Clinic(id="cli", organisation_id="org", name="Clinic", currency="NOK", created_at=NOW))
        s.add(User(id="usr", organisation_id="org", email="a@example.no", name="A", role="org_admin",
                   password_hash="x", created_at=NOW))
        s.add(User(id="usr_other", organisation_id="other", email="b@example.no", name="B", role="org_admin",
                   password_hash="x", created_at=NOW))
    yield database
    await database.dispose()


async def _card(db: Database, status: str) -> str:
    async with db.write() as s:
        card = BillCard(id=f"bc_{status}", organisation_id="org", clinic_id="cli", patient_name="Kari",
                        status=status, currency="NOK", patient_share=45000, refund_share=0, admin_fee=True,
                        created_at=NOW, updated_at=NOW)
        s.add(card)
    return card.id


def test_the_table_covers_every_status_and_names_only_known_ones() -> None:
    assert set(ALLOWED) == set(STATUSES)
    assert all(targets <= set(STATUSES) for targets in ALLOWED.values())
    assert all(status not in targets for status, targets in ALLOWED.items())


@pytest.mark.parametrize(
    "path",
    [
        # Paid by card or Vipps in Checkout.
        ["under_work", "open", "open_exported", "paid"],
        # No choice in 48 h: the automatic invoice, then paid.
        ["under_work", "open", "open_exported", "invoice_exported", "invoice_paid"],
        # Missing personal data: not exported, corrected, retried the next day.
        ["under_work", "open", "not_exported", "open", "open_exported", "paid"],
        # Credit check failed: manual handling, invoiced by hand.
        ["under_work", "open", "open_exported", "manual_handling", "invoice_generated", "invoice_exported",
         "invoice_paid"],
        # The in-call path: paid through Stripe.
        ["under_work", "paid"],
    ],
)
async def test_the_paths_of_the_guide_are_allowed_and_recorded(db: Database, path: list[str]) -> None:
    card_id = await _card(db, path[0])
    for step, to in enumerate(path[1:], start=1):
        async with db.write() as s:
            card = await s.get(BillCard, card_id)
            assert card is not None
            await transition(s, card, to, f"step {step}", NOW)
    async with db.read() as s:
        card = await s.get(BillCard, card_id)
        events = (await s.scalars(select(BillCardEvent).where(BillCardEvent.bill_card_id == card_id)
                                  .order_by(BillCardEvent.id))).all()
    assert card is not None and card.status == path[-1]
    assert [(e.status_from, e.status_to) for e in events] == list(zip(path, path[1:], strict=False))
    assert [e.reason for e in events] == [f"step {i}" for i in range(1, len(path))]


@pytest.mark.parametrize(
    ("status_from", "status_to"),
    [
        ("open", "paid"),                        # nothing was exported, nothing could be paid at MediPay
        ("open", "invoice_paid"),
        ("under_work", "open_exported"),         # export only from the queue
        ("paid", "open"),                        # settled cards stay settled
        ("invoice_paid", "manual_handling"),
        ("invoice_paid", "paid"),
        ("open_exported", "open"),               # an export cannot be taken back
        ("open_exported", "not_exported"),
        ("invoice_exported", "paid"),
        ("not_exported", "paid"),
        ("open", "open"),                        # not a move at all
    ],
)
async def test_moves_not_in_the_table_are_refused_and_change_nothing(
    db: Database, status_from: str, status_to: str
) -> None:
    assert not allowed(status_from, status_to)
    card_id = await _card(db, status_from)
    with pytest.raises(Conflict) as refused:
        async with db.write() as s:
            card = await s.get(BillCard, card_id)
            assert card is not None
            await transition(s, card, status_to, "should not happen", NOW)
    assert refused.value.code == "invalid_transition" and refused.value.status == 409
    async with db.read() as s:
        card = await s.get(BillCard, card_id)
        assert card is not None and card.status == status_from
        assert await s.scalar(select(BillCardEvent.id).where(BillCardEvent.bill_card_id == card_id)) is None


async def test_unknown_codes_are_refused(db: Database) -> None:
    card_id = await _card(db, "open")
    with pytest.raises(Conflict):
        async with db.write() as s:
            card = await s.get(BillCard, card_id)
            assert card is not None
            await transition(s, card, "lost", "typo", NOW)
    assert not allowed("lost", "open")


async def test_books_belong_to_a_user_of_the_organisation(db: Database) -> None:
    clock = ManualClock(NOW)
    books = Books(db, clock=clock)
    made = await books.create("org", owner_user_id="usr", description="Hovedregnskap", export_format="medipay",
                              actor_id="usr")
    assert made["active"] and made["export_format"] == "medipay" and made["medipay"] is True
    assert made["owner_user_id"] == "usr" and made["organisation_id"] == "org"
    clock.advance(seconds=1)
    second = await books.create("org", owner_user_id="usr", description="Privat")
    assert second["export_format"] == "none" and second["medipay"] is False
    assert [b["id"] for b in await books.list("org")] == [made["id"], second["id"]]
    assert [b["id"] for b in await books.list("org", owner_user_id="usr")] == [made["id"], second["id"]]
    assert await books.list("other") == []

    # A user of another organisation cannot own a book here; nor can a stranger.
    for owner in ("usr_other", "nobody"):
        with pytest.raises(NotFound):
            await books.create("org", owner_user_id=owner, description="X")
    for bad in ({"description": ""}, {"export_format": "sap"}, {"active": "yes"}):
        with pytest.raises(Invalid):
            await books.create("org", owner_user_id="usr", **{"description": "X", **bad})  # type: ignore[arg-type]
    async with db.read() as s:
        assert len((await s.scalars(select(Book))).all()) == 2

    # MediPay takes only an active, described book that exports to MediPay.
    changed = await books.update("org", made["id"], {"active": False}, actor_id="usr")
    assert changed["medipay"] is False
    changed = await books.update("org", made["id"], {"active": True, "description": "Hoved"})
    assert changed["medipay"] is True and changed["description"] == "Hoved"
    with pytest.raises(Invalid):
        await books.update("org", made["id"], {"owner_user_id": "usr_other"})
    with pytest.raises(Forbidden):
        await books.update("other", made["id"], {"active": False})
    with pytest.raises(NotFound):
        await books.get("org", "book_nope")

    async with db.read() as s:
        actions = (await s.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "book")
                                   .order_by(AuditEvent.id))).all()
        assert actions == ["book.created", "book.created", "book.updated", "book.updated"]
        book = await owned_book(s, "org", made["id"])
        assert exports_to_medipay(book)


async def test_a_card_may_only_use_an_active_book_of_its_organisation(db: Database) -> None:
    books = Books(db, clock=ManualClock(NOW))
    made = await books.create("org", owner_user_id="usr", description="Hoved", export_format="medipay")
    async with db.read() as s:
        assert (await book_for_card(s, "org", made["id"])).id == made["id"]
        with pytest.raises(Forbidden):
            await book_for_card(s, "other", made["id"])
        with pytest.raises(NotFound):
            await book_for_card(s, "org", "x" * 300)
    await books.update("org", made["id"], {"active": False})
    async with db.read() as s:
        with pytest.raises(Conflict) as refused:
            await book_for_card(s, "org", made["id"])
    assert refused.value.code == "book_inactive"
