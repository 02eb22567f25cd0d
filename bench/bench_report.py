"""Whole-process time of ``report coaching --format json`` against ``history REP``.

Builds a demo ledger (``cli.demo.generator.write_demo``, the same as ``commitments
demo``) unless ``--db`` names an existing one, catches the read model up once,
then runs each command as a fresh process ``--runs`` times, interleaved, and
reports the median wall and CPU (user + sys) times and the ratios (the aim: the
report within 3x a history): the report both first after its cache was emptied
(as after a rebuild: it reads, judges and fills ``report_commitments`` and
``report_verdicts``) and warm (the
next one, reading them back).

    .venv/bin/python bench/bench_report.py --reps 400 --weeks 52
    .venv/bin/python bench/bench_report.py --db demo/commitments.db
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMITMENTS = [sys.executable, "-m", "cli"]


def build(db: str, reps: int, weeks: int) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from cli.demo.generator import write_demo
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        result = write_demo(ledger, reps=reps, weeks=weeks)
    finally:
        ledger.close()
    return {"events": result.events, "commitments": result.commitments, "seconds": result.seconds}


def run(args: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(COMMITMENTS + args, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed


def run_cpu(args: list[str]) -> tuple[float, float]:
    """(wall, CPU user + sys) seconds of one process."""
    before = os.times()
    wall = run(args)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu


def forget_verdicts(views: str) -> None:
    """Empty the report's caches (``report_verdicts``, ``report_commitments``), as
    a rebuild leaves them."""
    with sqlite3.connect(views) as conn:
        conn.execute("DELETE FROM report_verdicts")
        conn.execute("DELETE FROM report_commitments")


def busiest_rep(views: str) -> str:
    with sqlite3.connect(views) as conn:
        row = conn.execute(
            "SELECT rep FROM commitments GROUP BY rep ORDER BY count(*) DESC, rep LIMIT 1"
        ).fetchone()
    return str(row[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="An existing demo ledger (SQLite); default: build one.")
    parser.add_argument("--reps", type=int, default=400)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--views", help="Use this read model (caught up, not rebuilt); default: rebuild one."
    )
    opts = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-report-")
    db = opts.db or os.path.join(tmp, "demo.db")
    figures: dict[str, object] = {"db": db, "cpus": os.cpu_count(), "load": os.getloadavg()}
    if not opts.db:
        figures["build"] = build(db, opts.reps, opts.weeks)
    views = opts.views or os.path.join(tmp, "demo.views.db")
    base = ["--db", db, "--views", views]
    if not opts.views:
        # the read model built from the whole ledger first ("list --rep nobody" did it
        # until an unknown rep became exit 3)
        figures["read_model_build_seconds"] = round(run([*base, "projections", "rebuild"]), 2)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        figures["ledger_events"] = conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    rep = busiest_rep(views)
    report_args = [*base, "report", "coaching", "--format", "json"]
    run(report_args)  # catches the read model up (a views file of an older release)
    times: dict[str, list[tuple[float, float]]] = {"history": [], "first": [], "warm": []}
    for _ in range(opts.runs):  # interleaved: a change in the machine's load hits all alike
        times["history"].append(run_cpu([*base, "history", rep, "--format", "json"]))
        forget_verdicts(views)  # as after a rebuild: the report's cache is empty
        times["first"].append(run_cpu(report_args))
        times["warm"].append(run_cpu(report_args))
    figures.update({"rep": rep, "runs": opts.runs})
    for name, pairs in times.items():
        figures[f"{name}_median_wall_seconds"] = round(statistics.median(w for w, _ in pairs), 3)
        figures[f"{name}_median_cpu_seconds"] = round(statistics.median(c for _, c in pairs), 3)
    figures["load_after"] = os.getloadavg()
    for name in ("first", "warm"):
        for axis in ("wall", "cpu"):
            figures[f"ratio_{name}_{axis}"] = round(
                float(figures[f"{name}_median_{axis}_seconds"])  # type: ignore[arg-type]
                / float(figures[f"history_median_{axis}_seconds"]),  # type: ignore[arg-type]
                2,
            )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
