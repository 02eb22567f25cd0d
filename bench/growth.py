"""The growth curve (issue 19): how each command's time and memory grow with the ledger.

For each size it builds a demo ledger (``cli.demo.generator.write_demo``, the same
generator as ``commitments demo``; 52 weeks, 50 / 500 / 5000 reps give about
11k / 110k / 1.1M events, ``--xl`` adds 25,000 reps, about 5.5M), then runs,
each as its own process:

* ``projections rebuild`` (the whole read model, its Merkle tree included);
* ``history REP`` (the busiest rep), ``team``, ``report coaching``, ``show ID``
  (one of that rep's commitments): every read command against a current read
  model, median of ``--runs``; and ``report coaching, first``, once before
  those (the rebuild left the report's caches empty: it fills them, the
  others read them);
* catch-up of one event: a session is recorded with ``session record``, then
  a child process imports the modules, opens the ledger and times
  ``projections.catchup.catch_up`` (the in-process time, as a long-running
  server pays it; its peak memory is the whole child's);
* ``export -o FILE`` and ``verify``.

For each it prints seconds, events/s (ledger events over seconds) and the
child's peak RSS (``os.wait4``), as a Markdown table, then the slope of each
line: how much longer it takes for every 10x more events (1.0: flat; 10:
linear), between the two largest sizes and from a least-squares fit of
log(time) on log(events) over all of them. With
``--png`` the chart (time and peak RSS against events, log-log) is written
there with matplotlib; ``--json`` writes the figures.

    .venv/bin/python bench/growth.py --png docs/img/growth.png       # 10k, 100k, 1M
    .venv/bin/python bench/growth.py --reps 2,6 --weeks 4 --png /tmp/g.png  # seconds
    .venv/bin/python bench/growth.py --xl                               # and 5M

Ledgers are built under ``--dir`` (default: a temporary directory, deleted at
the end unless ``--keep``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
UNTIL = date(2026, 11, 23)  # fixed business dates: the same ledgers on every run

OPERATIONS = (
    "rebuild",
    "history",
    "show",
    "team",
    "report coaching, first",
    "report coaching",
    "catch-up 1 event",
    "export",
    "verify",
)
FLAT = ("history", "show", "catch-up 1 event")  # the issue: the cost of the rep's own events

BUILD = """
import sys
from datetime import date
from ledger.application import Ledger
from cli.demo.generator import write_demo
ledger = Ledger.open(sys.argv[1])
try:
    r = write_demo(ledger, reps=int(sys.argv[2]), weeks=int(sys.argv[3]),
                   today=date.fromisoformat(sys.argv[4]))
finally:
    ledger.close()
print(r.events)
"""

CATCH_UP = """
import sys, time
import sqlite_utils, projections.sqlpages  # imported before the timing: a server has them
from ledger.application import Ledger
from projections.catchup import catch_up
ledger = Ledger.open(sys.argv[1])
t = time.perf_counter()
n = catch_up(ledger, sys.argv[2])
print(time.perf_counter() - t, n)
ledger.close()
"""


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("COMMITMENTS_DB", "COMMITMENTS_VIEWS"):
        env.pop(name, None)
    return env


@dataclass
class Run:
    seconds: float
    peak_mb: float
    stdout: str = ""


def run(cmd: list[str]) -> Run:
    """Run ``cmd`` to completion: wall seconds, its peak RSS (MB), its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=child_env(), stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        if proc.returncode != 0:
            raise SystemExit(
                f"{' '.join(cmd)} failed ({proc.returncode}): "
                f"{err.read().decode(errors='replace').strip()[-2000:]}"
            )
    return Run(elapsed, usage.ru_maxrss / 1024, text)  # ru_maxrss: KiB on Linux


def commitments(db: str, views: str, *args: str) -> list[str]:
    return [PY, "-m", "cli", "--db", db, "--views", views, *args]


@dataclass
class Size:
    reps: int
    weeks: int
    events: int = 0
    build_seconds: float = 0.0
    figures: dict[str, Run] = field(default_factory=dict)


def median_run(cmd: list[str], runs: int) -> Run:
    results = [run(cmd) for _ in range(runs)]
    results.sort(key=lambda r: r.seconds)
    middle = results[len(results) // 2]
    return Run(middle.seconds, max(r.peak_mb for r in results), middle.stdout)


def measure(size: Size, where: str, runs: int) -> None:
    db = os.path.join(where, f"growth-{size.reps}x{size.weeks}.db")
    views = db[: -len(".db")] + ".views.db"
    for path in (db, views):
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    built = run([PY, "-c", BUILD, db, str(size.reps), str(size.weeks), UNTIL.isoformat()])
    size.build_seconds = built.seconds
    size.events = event_count(db)
    print(f"{size.events:,} events ({size.reps} reps x {size.weeks} weeks) built in "
          f"{built.seconds:.1f} s", file=sys.stderr, flush=True)  # fmt: skip
    f = size.figures
    f["rebuild"] = run(commitments(db, views, "projections", "rebuild"))
    rep, commitment, manager = busiest(views)
    on = ("--on", UNTIL.isoformat())
    f["history"] = median_run(commitments(db, views, "history", rep, *on), runs)
    f["show"] = median_run(commitments(db, views, "show", commitment), runs)
    f["team"] = median_run(commitments(db, views, "team", *on), runs)
    report = commitments(db, views, "report", "coaching", "--format", "json", *on)
    # the first after the rebuild fills the report's caches; the next ones read them
    f["report coaching, first"] = run(report)
    f["report coaching"] = median_run(report, runs)
    # the first write of this actor registers them too (SPEC §7.4): one write
    # first, caught up, so the measured write adds exactly one event
    run(commitments(db, views, "session", "record", "--rep", rep, "--manager", manager,
                    "--on", UNTIL.isoformat(), "--note", "growth"))  # fmt: skip
    run([PY, "-c", CATCH_UP, db, views])
    run(commitments(db, views, "session", "record", "--rep", rep, "--manager", manager,
                    "--on", UNTIL.isoformat(), "--note", "growth again"))  # fmt: skip
    caught = run([PY, "-c", CATCH_UP, db, views])
    seconds, applied = caught.stdout.split()
    if int(applied) != 1:
        raise SystemExit(f"catch-up applied {applied} events, not 1")
    f["catch-up 1 event"] = Run(float(seconds), caught.peak_mb)
    export = os.path.join(where, "growth-export.jsonl")
    f["export"] = run(commitments(db, views, "export", "-o", export))
    os.remove(export)
    f["verify"] = run(commitments(db, views, "verify"))
    for op in OPERATIONS:
        r = f[op]
        print(f"  {op:<18} {r.seconds:9.3f} s  {r.peak_mb:7.1f} MB", file=sys.stderr, flush=True)


def event_count(db: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM stored_events").fetchone()[0])


def busiest(views: str) -> tuple[str, str, str]:
    """The rep with most commitments, one of their commitments, their manager."""
    with sqlite3.connect(f"file:{views}?mode=ro", uri=True) as conn:
        rep = conn.execute(
            "SELECT rep FROM commitments GROUP BY rep ORDER BY count(*) DESC, rep LIMIT 1"
        ).fetchone()[0]
        cid, manager = conn.execute(
            "SELECT id, manager FROM commitments WHERE rep = ? ORDER BY position DESC LIMIT 1",
            (rep,),
        ).fetchone()
    return str(rep), str(cid), str(manager)


def slope(sizes: list[Size], op: str) -> float | None:
    """Time factor per 10x more events: 10 ** (least-squares slope of log10 t on log10 n)."""
    points = [(math.log10(s.events), math.log10(max(s.figures[op].seconds, 1e-6))) for s in sizes]
    if len(points) < 2:
        return None
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    if den == 0:
        return None
    return float(10 ** (sum((x - mx) * (y - my) for x, y in points) / den))


def last_step(sizes: list[Size], op: str) -> float | None:
    """The time factor per 10x events between the two largest sizes alone (at the
    small sizes a whole-process time is mostly start-up, which flattens the fit)."""
    if len(sizes) < 2:
        return None
    a, b = sizes[-2], sizes[-1]
    ta, tb = a.figures[op].seconds, b.figures[op].seconds
    if a.events <= 0 or b.events <= a.events or ta <= 0:
        return None
    return float((tb / ta) ** (1 / math.log10(b.events / a.events)))


def table(sizes: list[Size]) -> str:
    head = (
        "| operation | "
        + " | ".join(f"{s.events:,} events" for s in sizes)
        + " | ×t per 10× events, last step | ×t per 10× events, fit |"
    )
    rule = "|---|" + "---|" * len(sizes) + "---|---|"
    lines = [head, rule]
    for op in OPERATIONS:
        cells = []
        for s in sizes:
            r = s.figures[op]
            rate = s.events / r.seconds if r.seconds > 0 else float("inf")
            cells.append(f"{r.seconds:.3f} s, {rate:,.0f} ev/s, {r.peak_mb:.0f} MB")
        k, step = slope(sizes, op), last_step(sizes, op)
        lines.append(
            f"| {op} | " + " | ".join(cells) + f" | {'-' if step is None else f'{step:.2f}'}"
            f" | {'-' if k is None else f'{k:.2f}'} |"
        )
    return "\n".join(lines)


def chart(sizes: list[Size], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = [s.events for s in sizes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for op in OPERATIONS:
        style = "--" if op in FLAT else "-"
        k = slope(sizes, op)
        label = op if k is None else f"{op} (×{k:.1f} per 10×)"
        left.plot(events, [s.figures[op].seconds for s in sizes], style, marker="o", label=label)
        right.plot(events, [s.figures[op].peak_mb for s in sizes], style, marker="o", label=op)
    left.set(xscale="log", yscale="log", xlabel="events in the ledger", ylabel="seconds",
             title="time (dashed: should stay flat)")  # fmt: skip
    right.set(xscale="log", xlabel="events in the ledger", ylabel="peak RSS (MB)",
              title="peak memory of the process")  # fmt: skip
    right.set_ylim(bottom=0)
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", default="50,500,5000", help="Team sizes, comma-separated.")
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--xl", action="store_true", help="Add 25000 reps (about 5M events).")
    parser.add_argument("--runs", type=int, default=3, help="Runs of each read command (median).")
    parser.add_argument("--dir", help="Where to build the ledgers (default: a temporary one).")
    parser.add_argument("--keep", action="store_true", help="Keep the ledgers built.")
    parser.add_argument("--png", help="Write the chart here (matplotlib).")
    parser.add_argument("--json", help="Write the figures here.")
    opts = parser.parse_args(argv)
    reps = [int(r) for r in opts.reps.split(",") if r.strip()]
    if opts.xl:
        reps.append(25_000)
    print(f"growth: {os.cpu_count()} CPUs, load average {load_average()}, python "
          f"{sys.version.split()[0]}", flush=True)  # fmt: skip
    where = opts.dir or tempfile.mkdtemp(prefix="bench-growth-")
    os.makedirs(where, exist_ok=True)
    sizes = [Size(r, opts.weeks) for r in reps]
    try:
        for size in sizes:
            measure(size, where, opts.runs)
            if not opts.keep:  # a 1M ledger and its read model are about 1 GB
                prefix = f"growth-{size.reps}x{size.weeks}."
                for name in os.listdir(where):
                    if name.startswith(prefix):
                        os.remove(os.path.join(where, name))
    finally:
        if not opts.dir and not opts.keep:
            shutil.rmtree(where, ignore_errors=True)
    print(f"load average after: {load_average()}")
    print(table(sizes))
    if opts.png:
        chart(sizes, opts.png)
        print(f"chart: {opts.png}")
    if opts.json:
        data = [
            {
                "reps": s.reps,
                "weeks": s.weeks,
                "events": s.events,
                "build_seconds": round(s.build_seconds, 2),
                **{
                    op: {"seconds": round(r.seconds, 4), "peak_mb": round(r.peak_mb, 1)}
                    for op, r in s.figures.items()
                },
            }
            for s in sizes
        ]
        Path(opts.json).write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
