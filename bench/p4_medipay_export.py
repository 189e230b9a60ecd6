"""P4: bill cards exported to the MediPay sandbox (target: 100,000 cards in ≤ 60 s).

``python -m bench.p4_medipay_export [--cards 100000]``

The export job belongs to the MediPay pipeline. Until it is part of this
build, this command measures nothing and says so in its one JSON object
(``"status": "not_measurable"``) rather than print a figure.
"""

from __future__ import annotations

import importlib.util

from bench import harness


def export_job_available() -> bool:
    return importlib.util.find_spec("app.jobs.export") is not None


def main() -> None:
    p = harness.parser(__doc__ or "")
    p.add_argument("--cards", type=int, default=100000)
    args = p.parse_args()
    if not export_job_available():
        harness.emit({"target": "P4", "status": "not_measurable", "cards": args.cards, "figure": None,
                      "reason": "the MediPay export job (app.jobs.export) is not in this build"})
        return
    raise SystemExit("the export job exists: write the P4 measurement against it (see docs/performance.md)")


if __name__ == "__main__":
    main()
