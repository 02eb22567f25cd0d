"""Benchmark of the coaching cycle's read commands (SPEC §7.6): whole-process
``commitments prep REP`` and ``commitments model REP --activity calls
--outcome won_value --to N`` against ``python -c "import click"``, median of
>= 10 runs each, interleaved (aim: <= 2.5x, like ``history``, timed alongside).

Usage::

    python bench/bench_cycle.py --reps 5000 --weeks 52     # ~1.1M events
    python bench/bench_cycle.py --db existing.db           # reuse a demo ledger

The ledger is written by ``commitments demo`` (its reps have ``calls`` and
``won_value`` CRM activity); the rep timed is the one with the most
commitments (``prep``) and the one with the most ``calls`` days (``model``).
The read model is caught up once before the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_read  # noqa: E402
from bench_read import (  # noqa: E402
    PY,
    build_ledger,
    busiest_rep,
    commitments_cmd,
    event_count,
    timed,
)


def installed_env() -> dict[str, str]:
    """The children's environment, with byte-code caching on as for an installed
    product (a shell that sets PYTHONDONTWRITEBYTECODE would make every run
    recompile our modules while click's come compiled from site-packages)."""
    env = _child_env()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


_child_env = bench_read.child_env
bench_read.child_env = installed_env

MODEL = ("--activity", "calls", "--outcome", "won_value", "--to", "50")


def most_active(views: str, metric: str) -> str:
    conn = sqlite3.connect(views)
    try:
        row = conn.execute(
            "SELECT rep FROM activity_daily WHERE metric = ? GROUP BY rep "
            "ORDER BY count(*) DESC, rep LIMIT 1",
            (metric,),
        ).fetchone()
        return str(row[0])
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--db", help="An existing SQLite demo ledger to use.")
    parser.add_argument("--runs", type=int, default=11, help="Runs of each process timing.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory.")
    args = parser.parse_args()
    print(
        f"bench_cycle: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"python {sys.version.split()[0]}",
        flush=True,
    )
    tmp = tempfile.mkdtemp(prefix="bench-cycle-")
    try:
        db = os.path.join(tmp, "ledger.db")
        if args.db:
            shutil.copyfile(args.db, db)
            how = f"copy of {args.db}"
        else:
            t = time.perf_counter()
            how = build_ledger(db, args.reps, args.weeks)
            print(f"ledger: {how}: {time.perf_counter() - t:.1f}s", flush=True)
        views = os.path.join(tmp, "ledger.views.db")
        events = event_count(db)
        print(f"events: {events:,}", flush=True)
        base = commitments_cmd("--db", db, "--views", views)
        t = time.perf_counter()
        timed([*base, "projections", "rebuild"])
        print(f"read model rebuilt: {time.perf_counter() - t:.1f}s", flush=True)
        rep = busiest_rep(views)
        modelled = most_active(views, "calls")
        commands = {
            "history": [*base, "history", rep],  # the reference read command
            "prep": [*base, "prep", rep],
            "model": [*base, "model", modelled, *MODEL],
        }
        click = [PY, "-c", "import click"]
        for cmd in commands.values():
            timed(cmd)  # warm the file cache once, outside the timing
        times: dict[str, list[float]] = {"click": [], **{k: [] for k in commands}}
        for _ in range(max(10, args.runs)):
            times["click"].append(timed(click))
            for name, cmd in commands.items():
                times[name].append(timed(cmd))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"import click: {med['click'] * 1000:.0f} ms (median of {len(times['click'])})")
        result: dict[str, object] = {"ledger": how, "events": events}
        for name in commands:
            ratio = med[name] / med["click"]
            who = modelled if name == "model" else rep
            print(f"{name} {who!r}: {med[name] * 1000:.0f} ms; ratio {ratio:.2f}x (aim <= 2.5x)")
            result[f"{name}_ms"] = round(med[name] * 1000)
            result[f"{name}_vs_click"] = round(ratio, 2)
        result["click_ms"] = round(med["click"] * 1000)
        result["load_average"] = round(os.getloadavg()[0], 1)
        print(json.dumps(result))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
