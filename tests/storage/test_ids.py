"""Ids in time order (a version-7 UUID's layout after the prefix), so inserts land at the end of each B-tree."""

from __future__ import annotations

import re
import time
import uuid

from app.ids import new_id


def test_an_id_is_the_prefix_and_a_version_7_uuid() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id("pr")
    after = time.time_ns() // 1_000_000
    assert re.fullmatch(r"pr_[0-9a-f]{32}", made)
    as_uuid = uuid.UUID(made[3:])
    assert as_uuid.version == 7 and as_uuid.variant == uuid.RFC_4122
    assert before <= as_uuid.int >> 80 <= after  # its first 48 bits: the milliseconds it was made at


def test_ids_made_later_sort_later() -> None:
    first = new_id("txn")
    time.sleep(0.002)
    second = new_id("txn")
    assert first < second


def test_ids_made_in_the_same_millisecond_differ_by_their_random_bits() -> None:
    made = [new_id("leg") for _ in range(20_000)]
    assert len(set(made)) == len(made)
    randoms = {int(m[4:], 16) & ((1 << 62) - 1) for m in made}
    assert len(randoms) == len(made)
