"""``commitments projections verify`` throughput against a raw scan and a rebuild.

Builds a demo ledger (``cli.demo.generator.write_demo``, as ``commitments demo``)
unless ``--db`` names an existing SQLite ledger, reads it once so its views
file exists, then measures, interleaved, the fastest of ``--repeat`` runs:

* raw scan: ``sqlite3`` select of every stored event in rowid order and
  ``json.loads`` of each state (the least any replay must do);
* ``commitments projections rebuild`` into a scratch views file (fresh process);
* ``commitments projections verify`` (fresh process): a rebuild into a
  temporary file plus the comparison of every table (``EXCEPT`` both ways).

It prints events/s of each and the ratios verify/raw and verify/rebuild; the
comparison's own cost is the difference between verify and rebuild.

    .venv/bin/python bench/bench_views_verify.py --reps 2500 --weeks 100   # ~1M events
    .venv/bin/python bench/bench_views_verify.py --db demo/commitments.db
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMITMENTS = [sys.executable, "-m", "cli"]


def build(db: str, reps: int, weeks: int) -> int:
    sys.path.insert(0, str(ROOT))
    from cli.demo.generator import write_demo
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        return write_demo(ledger, reps=reps, weeks=weeks).events
    finally:
        ledger.close()


def cli(db: str, views: str, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [*COMMITMENTS, "--db", db, "--views", views, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args}: exit {done.returncode}: {done.stderr.strip()}")
    return elapsed


def raw_scan(db: str) -> tuple[float, int]:
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    n = 0
    loads = json.loads
    for _rowid, _oid, _version, _topic, state in conn.execute(
        "SELECT rowid, originator_id, originator_version, topic, state "
        "FROM stored_events ORDER BY rowid"
    ):
        loads(state)
        n += 1
    conn.close()
    return time.perf_counter() - started, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an existing SQLite ledger (default: build a demo)")
    parser.add_argument("--reps", type=int, default=2500)
    parser.add_argument("--weeks", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"bench_views_verify: {os.cpu_count()} CPUs, load average {load:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-views-verify-") as tmp:
        db = args.db or str(Path(tmp) / "ledger.db")
        if not args.db:
            started = time.perf_counter()
            written = build(db, args.reps, args.weeks)
            print(f"demo --reps {args.reps} --weeks {args.weeks}: {written:,} events "
                  f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        views = str(Path(tmp) / "bench.views.db")
        scratch = str(Path(tmp) / "scratch.views.db")
        cli(db, views, "projections", "rebuild")
        best: dict[str, float] = {}
        count = 0
        for _ in range(args.repeat):
            seconds, count = raw_scan(db)
            best["raw"] = min(best.get("raw", seconds), seconds)
            seconds = cli(db, scratch, "projections", "rebuild")
            best["rebuild"] = min(best.get("rebuild", seconds), seconds)
            seconds = cli(db, views, "projections", "verify")
            best["verify"] = min(best.get("verify", seconds), seconds)
        print(f"events: {count:,} (fastest of {args.repeat} interleaved runs)")
        for name, label in (
            ("raw", "raw scan (select + json.loads)"),
            ("rebuild", "projections rebuild"),
            ("verify", "projections verify"),
        ):
            print(f"  {label:32} {best[name]:8.2f} s  {count / best[name]:>12,.0f} events/s")
        print(f"  verify throughput / raw scan       {best['raw'] / best['verify']:.2f} x")
        print(f"  verify time / rebuild time         {best['verify'] / best['rebuild']:.2f} x")


if __name__ == "__main__":
    main()
