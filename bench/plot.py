"""Draw P1's latency over time as an SVG, from a ``bench/results/p1.json`` that has its series.

``python -m bench.plot [bench/results/p1.json] [docs/img/p1-latency.svg]``

One panel per rate: every request as a dot, the app's and the bare relay's,
at the moment it was sent (x) and how long it took to arrive (y, log scale),
with the target as a line. Pauses of the whole process show as a vertical
streak followed by a slope as the backlog drains. Plain SVG, no plotting
library.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
W, PANEL_H, LEFT, RIGHT, TOP, GAP = 760, 220, 64, 20, 36, 56
Y_MIN_MS, Y_MAX_MS = 0.5, 20_000.0
APP, RELAY, TARGET = "#c0392b", "#7f8c8d", "#27ae60"


def y_of(ms: float, top: float, panel_h: float = PANEL_H) -> float:
    """Where ``ms`` sits on a panel's log-scale y axis (0.5 ms to 20 s)."""
    ms = min(max(ms, Y_MIN_MS), Y_MAX_MS)
    span = math.log10(Y_MAX_MS) - math.log10(Y_MIN_MS)
    return top + panel_h * (1 - (math.log10(ms) - math.log10(Y_MIN_MS)) / span)


def show_ms(ms: float | None, digits: int = 1) -> str:
    return "—" if ms is None else f"{ms:,.{digits}f} ms"


def axes(top: float, seconds: float, panel_h: float = PANEL_H) -> list[str]:
    """A panel's frame, its latency grid (1 ms to 10 s) and its time labels."""
    plot_w = W - LEFT - RIGHT
    out = [f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{panel_h}" fill="none" stroke="#ccc"/>']
    for ms in (1, 10, 100, 1000, 10000):
        y = y_of(ms, top, panel_h)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        label = f"{ms} ms" if ms < 1000 else f"{ms // 1000} s"
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    for s in range(0, int(seconds) + 1, max(1, int(seconds) // 10)):
        x = LEFT + plot_w * s / seconds
        out.append(f'<text x="{x:.1f}" y="{top + panel_h + 14}" text-anchor="middle" font-size="11">{s} s</text>')
    return out


def bound_line(ms: float, top: float, colour: str, panel_h: float = PANEL_H) -> str:
    """A dashed horizontal line at ``ms``: a target or a bound."""
    y = y_of(ms, top, panel_h)
    return f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-dasharray="6 4"/>'


def dot(sent_ms: float, latency: float, top: float, seconds: float, colour: str, panel_h: float = PANEL_H) -> str:
    """One request: when it was sent (x) and how long it took (y)."""
    x = LEFT + (W - LEFT - RIGHT) * min(sent_ms / 1000 / seconds, 1)
    return f'<circle cx="{x:.1f}" cy="{y_of(latency, top, panel_h):.1f}" r="1.6" fill="{colour}" fill-opacity="0.6"/>'


def _panel(row: dict[str, Any], top: float, seconds: float) -> list[str]:
    out = axes(top, seconds)
    for key, colour in (("baseline_series", RELAY), ("series", APP)):
        out += [dot(sent_ms, latency, top, seconds, colour) for sent_ms, latency in row.get(key) or []]
    if row.get("target_p99_ms"):
        out.append(bound_line(row["target_p99_ms"], top, TARGET))
    title = (f'{row["rate_per_s"]} requests/s: app p50 {show_ms(row["p50_ms"])}, p99 {show_ms(row["p99_ms"])}, '
             f'{row["received"]} of {row["sent"]} arrived; bare relay p99 {show_ms(row["baseline_p99_ms"])}; '
             f'target p99 {show_ms(row["target_p99_ms"])} (dashed)')
    out.append(f'<text x="{LEFT}" y="{top - 8}" font-size="12">{title}</text>')
    return out


def render(result: dict[str, Any]) -> str:
    rows = [r for r in result["results"] if r.get("series")]
    height = TOP + len(rows) * (PANEL_H + GAP) + 20
    seconds = float(result.get("seconds_per_rate", 10))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
             f'viewBox="0 0 {W} {height}" font-family="sans-serif" role="img" '
             f'aria-label="P1 push latency over time, the app against the bare relay">',
             f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">P1: latency of each request by when it '
             f'was sent ({result["sockets"]} sockets; red: app, grey: bare relay)</text>']
    for i, row in enumerate(rows):
        parts += _panel(row, TOP + 14 + i * (PANEL_H + GAP), seconds)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def cli(render: Callable[[dict[str, Any]], str], source: str, target: str) -> None:
    """``python -m bench.<plot> [source.json] [target.svg]``: the last result line drawn."""
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / source
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / target
    result = json.loads(src.read_text().strip().splitlines()[-1])
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(render(result))
    print(dst)


def main() -> None:
    cli(render, "bench/results/p1.json", "docs/img/p1-latency.svg")


if __name__ == "__main__":
    main()
