"""Draw P7's latency over time under overload as an SVG, from ``bench/results/overload.json``.

``python -m bench.plot_overload [bench/results/overload.json] [docs/img/overload-latency.svg]``

One panel per run: the baseline (the rate one process sustains), 4× that
rate with the load gate, and 4× without it. Each request is a dot at the
moment it was sent (x) and how long it took (y, log scale): accepted
requests until the patient had ``payment:requested`` (red), refused ones
until their ``busy`` ack (blue). The 1 s and 2 s bounds are dashed lines.
Plain SVG, no plotting library.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
W, PANEL_H, LEFT, RIGHT, TOP, GAP = 760, 200, 64, 20, 36, 56
Y_MIN_MS, Y_MAX_MS = 0.5, 20_000.0
ACCEPTED, BUSY, BOUND = "#c0392b", "#2471a3", "#27ae60"


def y_of(ms: float, top: float) -> float:
    ms = min(max(ms, Y_MIN_MS), Y_MAX_MS)
    span = math.log10(Y_MAX_MS) - math.log10(Y_MIN_MS)
    return top + PANEL_H * (1 - (math.log10(ms) - math.log10(Y_MIN_MS)) / span)


def show_ms(ms: float | None) -> str:
    return "—" if ms is None else f"{ms:,.0f} ms"


def panel(title: str, row: dict[str, Any], top: float, seconds: float) -> list[str]:
    plot_w = W - LEFT - RIGHT
    out = [f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#ccc"/>']
    for ms in (1, 10, 100, 1000, 10000):
        y = y_of(ms, top)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        label = f"{ms} ms" if ms < 1000 else f"{ms // 1000} s"
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    for s in range(0, int(seconds) + 1, max(1, int(seconds) // 10)):
        x = LEFT + plot_w * s / seconds
        out.append(f'<text x="{x:.1f}" y="{top + PANEL_H + 14}" text-anchor="middle" font-size="11">{s} s</text>')
    for sent_ms, latency, kind in row.get("series") or []:
        x = LEFT + plot_w * min(sent_ms / 1000 / seconds, 1)
        colour = ACCEPTED if kind == 0 else BUSY
        out.append(f'<circle cx="{x:.1f}" cy="{y_of(latency, top):.1f}" r="1.5" fill="{colour}" fill-opacity="0.5"/>')
    for bound in (1000, 2000):
        y = y_of(bound, top)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{BOUND}" '
                   f'stroke-dasharray="6 4"/>')
    busy = sum(n for kind, n in row["kinds"].items() if kind != "ok")
    text = (f'{title}: {row["rate"]}/s offered, {row["accepted"]} accepted (p99 {show_ms(row["accepted_p99_ms"])}), '
            f'{busy} busy, {row["unanswered"]} unanswered; slowest answer {show_ms(row["answer_max_ms"])}')
    out.append(f'<text x="{LEFT}" y="{top - 8}" font-size="12">{text}</text>')
    return out


def render(result: dict[str, Any]) -> str:
    runs = [("sustained rate", result["baseline"]), (f'{result["factor"]:g}× with the load gate', result["overload"])]
    if result.get("ungated"):
        runs.append((f'{result["factor"]:g}× without the gate', result["ungated"]))
    height = TOP + len(runs) * (PANEL_H + GAP) + 20
    seconds = float(result.get("seconds_per_rate", 30))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
             f'viewBox="0 0 {W} {height}" font-family="sans-serif" role="img" '
             f'aria-label="P7 latency over time under overload, with and without the load gate">',
             f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">P7: each request by when it was sent '
             f'({result["sockets"]} sockets; red: accepted, to payment:requested; blue: busy ack)</text>']
    for i, (title, row) in enumerate(runs):
        parts += panel(title, row, TOP + 14 + i * (PANEL_H + GAP), seconds)
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench/results/overload.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs/img/overload-latency.svg"
    result = json.loads(source.read_text().strip().splitlines()[-1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(result))
    print(target)


if __name__ == "__main__":
    main()
