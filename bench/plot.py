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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
W, PANEL_H, LEFT, RIGHT, TOP, GAP = 760, 220, 64, 20, 36, 56
Y_MIN_MS, Y_MAX_MS = 0.5, 20_000.0
APP, RELAY, TARGET = "#c0392b", "#7f8c8d", "#27ae60"


def _y(ms: float, top: float) -> float:
    ms = min(max(ms, Y_MIN_MS), Y_MAX_MS)
    span = math.log10(Y_MAX_MS) - math.log10(Y_MIN_MS)
    return top + PANEL_H * (1 - (math.log10(ms) - math.log10(Y_MIN_MS)) / span)


def _ms(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:,.1f} ms"


def _panel(row: dict[str, Any], top: float, seconds: float) -> list[str]:
    plot_w = W - LEFT - RIGHT
    out = [f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#ccc"/>']
    for ms in (1, 10, 100, 1000, 10000):
        y = _y(ms, top)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        label = f"{ms} ms" if ms < 1000 else f"{ms // 1000} s"
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    for s in range(0, int(seconds) + 1, max(1, int(seconds) // 10)):
        x = LEFT + plot_w * s / seconds
        out.append(f'<text x="{x:.1f}" y="{top + PANEL_H + 14}" text-anchor="middle" font-size="11">{s} s</text>')
    for key, colour in (("baseline_series", RELAY), ("series", APP)):
        for sent_ms, latency in row.get(key) or []:
            x = LEFT + plot_w * min(sent_ms / 1000 / seconds, 1)
            out.append(f'<circle cx="{x:.1f}" cy="{_y(latency, top):.1f}" r="1.6" fill="{colour}" fill-opacity="0.6"/>')
    if row.get("target_p99_ms"):
        y = _y(row["target_p99_ms"], top)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{TARGET}" '
                   f'stroke-dasharray="6 4"/>')
    title = (f'{row["rate_per_s"]} requests/s: app p50 {_ms(row["p50_ms"])}, p99 {_ms(row["p99_ms"])}, '
             f'{row["received"]} of {row["sent"]} arrived; bare relay p99 {_ms(row["baseline_p99_ms"])}; '
             f'target p99 {_ms(row["target_p99_ms"])} (dashed)')
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


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench/results/p1.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/img/p1-latency.svg"
    result = json.loads(source.read_text().strip().splitlines()[-1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(result))
    print(target)


if __name__ == "__main__":
    main()
