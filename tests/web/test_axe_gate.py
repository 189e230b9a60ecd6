"""The accessibility gate itself: without axe-core the browser tests skip, and in CI they fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web import axe


def test_missing_axe_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(axe, "AXE_JS", tmp_path / "axe.min.js")
    monkeypatch.setattr(axe, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="make setup"):
        axe.require_axe()


def test_missing_axe_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(axe, "AXE_JS", tmp_path / "axe.min.js")
    monkeypatch.setattr(axe, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="axe-core"):
        axe.require_axe()


def test_violations_read_as_a_list() -> None:
    watch = axe.AxeWatch(violations=["color-contrast (serious) at .chart text on http://x/admin: …"])
    assert watch.report().splitlines() == [
        "axe-core found accessibility violations:",
        "  color-contrast (serious) at .chart text on http://x/admin: …",
    ]
