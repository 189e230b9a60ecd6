"""The garbage-collector watch and the heap settling done at startup."""

from __future__ import annotations

import gc
import logging

import pytest

from app import gcwatch


@pytest.fixture
def restore_gc():
    threshold = gc.get_threshold()
    callbacks = list(gc.callbacks)
    yield
    gc.callbacks[:] = callbacks
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_watch_counts_and_logs_long_collections(restore_gc, caplog):
    watch = gcwatch.install()
    watch.long_pause_ms = 0.0  # every collection counts as long here
    with caplog.at_level(logging.WARNING, logger="consultpay.gc"):
        gc.collect()
    assert watch.collections[2] >= 1
    assert watch.longest_ms[2] > 0
    assert "garbage collection of generation 2 took" in caplog.text
    assert watch.snapshot()["collections"][2] == watch.collections[2]
    gcwatch.uninstall(watch)
    counted = watch.collections[2]
    gc.collect()
    assert watch.collections[2] == counted


def test_settle_heap_freezes_startup_objects_and_raises_the_young_threshold(restore_gc):
    gc.unfreeze()
    gcwatch.settle_heap(young_threshold=12_345)
    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold()[0] == 12_345
    # Garbage made afterwards is still collected.
    cycle: list = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
