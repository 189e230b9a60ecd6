"""R2 in CI: ``run-job export-queue`` as a real process, killed with SIGKILL mid-export, run again.

A few rounds of the rig in ``bench/r2_kill_export.py`` (which runs 200 and more):
a standalone MediPay sandbox that is slow and drops answers after storing the
claim, the worker killed at a random point once it has begun, then restarted
until the queue is empty. Every card is exported exactly once: one claim and
one SMS at MediPay, one finished export row, the ledger balanced.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _rig():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("r2_kill_export", ROOT / "bench" / "r2_kill_export.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_worker_killed_mid_export_then_restarted_exports_each_card_once(tmp_path: Path) -> None:
    result = await _rig().run(rounds=3, cards=5, seed=3, folder=tmp_path)
    assert result["killed"] >= 1 and result["killed_mid_export"] >= 1, result
    assert result["lost"] == 0, result
    assert result["exported_twice"] == 0, result
    assert result["unbalanced_runs"] == 0, result
