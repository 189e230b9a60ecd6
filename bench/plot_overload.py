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

from typing import Any

from bench.plot import LEFT, TOP, W, axes, bound_line, cli, dot, show_ms

PANEL_H, GAP = 200, 56
ACCEPTED, BUSY, BOUND = "#c0392b", "#2471a3", "#27ae60"


def panel(title: str, row: dict[str, Any], top: float, seconds: float) -> list[str]:
    out = axes(top, seconds, PANEL_H)
    for sent_ms, latency, kind in row.get("series") or []:
        out.append(dot(sent_ms, latency, top, seconds, ACCEPTED if kind == 0 else BUSY, PANEL_H))
    out += [bound_line(bound, top, BOUND, PANEL_H) for bound in (1000, 2000)]
    busy = sum(n for kind, n in row["kinds"].items() if kind != "ok")
    text = (f'{title}: {row["rate"]}/s offered, {row["accepted"]} accepted '
            f'(p99 {show_ms(row["accepted_p99_ms"], 0)}), {busy} busy, {row["unanswered"]} unanswered; '
            f'slowest answer {show_ms(row["answer_max_ms"], 0)}')
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
    cli(render, "bench/results/overload.json", "docs/img/overload-latency.svg")


if __name__ == "__main__":
    main()
