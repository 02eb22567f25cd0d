"""The cost of the known-metric input rule (SPEC §7.1) on a large ledger.

``agree --metric NAME`` asks the event store whether any activity of NAME is
stored (:meth:`Ledger.metric_is_known`); a refusal also lists every known
metric (:meth:`Ledger.known_metrics`). Both read the events table directly
(there is no index on the metric), so they are measured here against a
baseline in the same run: ``SELECT count(*)`` over the same table
(:meth:`Ledger.event_count`), a plain full scan.

Usage::

    python bench/bench_metric_check.py               # a demo of 500 reps x 52 weeks (~110k events)
    python bench/bench_metric_check.py --reps 5000   # ~1.1M events (minutes to build)
    python bench/bench_metric_check.py --db FILE     # an existing SQLite ledger
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", help="an existing SQLite ledger instead of a new demo")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"bench_metric_check: {os.cpu_count()} CPUs, load average {load:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or str(Path(tmp) / "demo.db")
        if not args.db:
            script = Path(sys.executable).parent / "commitments"
            cmd = [str(script)] if script.exists() else [sys.executable, "-m", "cli"]
            subprocess.run(
                [*cmd, "--db", db, "demo", "--reps", str(args.reps), "--weeks", str(args.weeks)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        from ledger.application import Ledger

        ledger = Ledger.open(db)
        try:
            events = ledger.event_count()
            known = ledger.known_metrics()
            base = median_seconds(ledger.event_count, args.runs)
            hits = {
                m: median_seconds(lambda m=m: ledger.metric_is_known(m), args.runs) for m in known
            }
            miss = median_seconds(lambda: ledger.metric_is_known("no such metric"), args.runs)
            listing = median_seconds(ledger.known_metrics, args.runs)
        finally:
            ledger.close()
    print(f"ledger: {events:,} events, known metrics {known}")
    print(f"median of {args.runs}:")
    print(f"  count(*) full scan (baseline)    {base * 1000:9.1f} ms")
    rows = [(f"metric_is_known({m!r}) (accept)", secs) for m, secs in hits.items()]
    for label, secs in (
        *rows,
        ("metric_is_known(typo) (refuse)", miss),
        ("known_metrics() (refusal message)", listing),
    ):
        print(f"  {label:34} {secs * 1000:9.1f} ms   {secs / base:6.2f} x baseline")


if __name__ == "__main__":
    main()
