"""Write-side benchmark (issue 2, "Must show" 5), in one run:

1. start-up: whole-process time of ``commitments check-in`` against
   ``python -c "import click"``, interleaved, median of ``--runs`` (>= 10) each.
   Aim: check-in <= 3x the click baseline. Wall time is what a user waits; the
   CPU time (user + sys of the child) is also shown because it does not depend
   on how busy the machine is;
2. ``commitments demo --reps 5000 --weeks 52`` (about a million events): the
   events written, the write phase's time and events/s as the demo reports it
   (aim: >= 10,000 events/s), the CPU time of the process, and the whole
   command's time (which also builds the read model to print the signals).

Usage::

    python bench/bench_write.py                      # start-up, then the full-size demo
    python bench/bench_write.py --reps 500           # a smaller demo
    python bench/bench_write.py --skip-demo --runs 30
    python bench/bench_write.py --quick              # 10 runs, a 200-rep demo
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
BIN = Path(PY).parent


def commitments(*args: str) -> list[str]:
    script = BIN / "commitments"
    return [str(script), *args] if script.exists() else [PY, "-m", "cli", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("COMMITMENTS_DB", "COMMITMENTS_VIEWS", "COMMITMENTS_DEBUG"):
        env.pop(name, None)
    return env


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one child process; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"bench_write: {' '.join(cmd)} failed: {done.stderr.decode().strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def startup(runs: int, work: Path) -> None:
    env = child_env()
    db = str(work / "startup.db")
    agreed = subprocess.run(
        commitments(
            "--db", db, "agree", "--rep", "alice", "--manager", "bob", "--focus",
            "prospecting", "--behavior", "outbound calls", "--target", "10",
            "--start", "2026-01-05", "--days", "3650",
        ),
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    cid = agreed.stdout.strip()
    click_cmd = [PY, "-c", "import click"]
    check_in = commitments("--db", db, "check-in", cid[:8], "--on", "2026-01-12", "--actual", "9")
    timed(click_cmd, env), timed(check_in, env)  # warm the page cache and .pyc files
    clicks, checks = [], []
    for _ in range(runs):
        clicks.append(timed(click_cmd, env))
        checks.append(timed(check_in, env))
    cw, cc = (statistics.median(x[i] for x in clicks) for i in (0, 1))
    kw, kc = (statistics.median(x[i] for x in checks) for i in (0, 1))
    print(f"start-up, median of {runs} interleaved runs each:")
    print(f"  python -c 'import click'   wall {cw * 1000:7.1f} ms   cpu {cc * 1000:7.1f} ms")
    print(f"  commitments check-in       wall {kw * 1000:7.1f} ms   cpu {kc * 1000:7.1f} ms")
    print(f"  ratio (aim <= 3x)          wall {kw / cw:7.2f} x    cpu {kc / cc:7.2f} x")


SUMMARY = re.compile(r"wrote (\d+) events .* in ([\d.]+) s \(([\d,]+) events/s\)")


def demo(reps: int, weeks: int, work: Path) -> None:
    env = child_env()
    db = work / "demo.db"
    cmd = commitments("--db", str(db), "demo", "--reps", str(reps), "--weeks", str(weeks))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    whole = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"bench_write: demo failed ({done.returncode}): {done.stderr.strip()}")
    found = SUMMARY.search(done.stderr)
    if not found:
        sys.exit(f"bench_write: no summary line from demo: {done.stderr.strip()}")
    events, seconds = int(found.group(1)), float(found.group(2))
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"demo --reps {reps} --weeks {weeks}:")
    print(f"  events written             {events:,} (stored: {stored:,})")
    print(f"  write phase                {seconds:8.2f} s   {events / seconds:10,.0f} events/s")
    print(f"  ratio to the aim           {events / seconds / 10_000:8.2f} x 10,000 events/s")
    print(f"  whole command              {whole:8.2f} s   (includes the read model + signals)")
    print(f"  CPU of the whole command   {cpu:8.2f} s")
    print(f"  ledger file                {db.stat().st_size / 1e6:8.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="start-up runs (>= 10)")
    parser.add_argument("--reps", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10 runs and a 200-rep demo")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.reps = 10, 200
    if args.runs < 10:
        parser.error("--runs must be at least 10")
    load = os.getloadavg()[0]
    print(
        f"bench_write: {os.cpu_count()} CPUs, load average {load:.1f}, "
        f"python {sys.version.split()[0]}"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-write-"))
    try:
        if not args.skip_startup:
            startup(args.runs, work)
        if not args.skip_demo:
            demo(args.reps, args.weeks, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
