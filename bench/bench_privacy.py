"""The cost of encryption (issue 14, "Must show": bench/), in one run:

1. read-model **rebuild** of the same ledger twice: once with free text in
   clear (the baseline, as before release 3), once with every free-text field
   sealed under its owner's key (as every command writes it now), so the
   rebuild opens each one (AES-256-GCM) into the read model. Aim: the sealed
   rebuild's throughput >= 0.8x the clear one's.
2. whole-process ``commitments history REP --format json`` on both, median of
   >= 10 runs each, interleaved. Aim: sealed latency <= 1.2x clear.

Both ledgers are the demo team with the same seed and dates, written by
``cli.demo.generator.write_demo`` with ``seal=False`` (free text in clear; people's
names are sealed in both) and ``seal=True`` (as every command writes now).
Usage::

    python bench/bench_privacy.py                          # ~200k events
    python bench/bench_privacy.py --reps 5000 --weeks 52   # ~1M events (the issue's size)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_read import busiest_rep, child_env, commitments_cmd, event_count  # noqa: E402


def write_demo(db: str, reps: int, weeks: int, *, seal: bool) -> float:
    """The demo team (same seed, same business dates) with free text sealed
    or in clear; returns the seconds it took (in a child process)."""
    code = (
        "import sys,time\n"
        "from datetime import date\n"
        "from ledger.application import Ledger\n"
        "from cli.demo.generator import write_demo\n"
        "l=Ledger.open(sys.argv[1])\n"
        "t=time.perf_counter()\n"
        "write_demo(l,reps=int(sys.argv[2]),weeks=int(sys.argv[3]),"
        "today=date(2026,11,23),seal=sys.argv[4]=='1')\n"
        "print(time.perf_counter()-t)\n"
        "l.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, db, str(reps), str(weeks), "1" if seal else "0"],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.split()[-1])


def sealed_fields(db: str) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT count(*) FROM stored_events WHERE CAST(state AS TEXT) LIKE '%sealed:v1:%'"
        ).fetchone()
        return int(row[0])
    finally:
        conn.close()


def rebuild_rate(db: str, views: str) -> tuple[float, float, int]:
    """Events per second of a full rebuild, by wall and by CPU time (in a
    child process: a cold start)."""
    code = (
        "import sys,time\n"
        "from ledger.application import Ledger\n"
        "from projections.catchup import rebuild\n"
        "l=Ledger.open(sys.argv[1],create_table=False)\n"
        "t=time.perf_counter();c=time.process_time()\n"
        "n=rebuild(l,sys.argv[2])\n"
        "print(n,time.perf_counter()-t,time.process_time()-c)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, db, views],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    n, seconds, cpu = int(out[0]), float(out[1]), float(out[2])
    return n / seconds, n / cpu, n


def history_time(db: str, views: str, rep: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole-process ``history`` (CPU: user + sys
    of the child, which the machine's load moves much less than wall time)."""
    import resource

    cmd = commitments_cmd("--db", db, "--views", views, "history", rep, "--format", "json")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=child_env(), capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=11, help="history runs each (>= 10)")
    parser.add_argument("--rebuilds", type=int, default=2, help="rebuilds each (best kept)")
    args = parser.parse_args()
    print(
        f"bench_privacy: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-privacy-") as tmp:
        clear, sealed = f"{tmp}/clear.db", f"{tmp}/sealed.db"
        took = {
            "clear": write_demo(clear, args.reps, args.weeks, seal=False),
            "sealed": write_demo(sealed, args.reps, args.weeks, seal=True),
        }
        n = event_count(clear)
        print(f"demo --reps {args.reps} --weeks {args.weeks}: {n:,} events each")
        print(
            f"  write, free text in clear {took['clear']:>8.1f} s   sealed {took['sealed']:>8.1f} s"
            f"   ratio {took['sealed'] / took['clear']:.2f} x"
        )
        print(
            f"  events holding sealed text: clear ledger {sealed_fields(clear):,} (names), "
            f"sealed ledger {sealed_fields(sealed):,}"
        )

        rates: dict[str, list[float]] = {"clear": [], "sealed": []}
        cpu_rates: dict[str, list[float]] = {"clear": [], "sealed": []}
        events = 0
        for _ in range(args.rebuilds):  # interleaved: the load moves both alike
            for name, db in (("clear", clear), ("sealed", sealed)):
                rate, cpu_rate, events = rebuild_rate(db, f"{tmp}/{name}.views.db")
                rates[name].append(rate)
                cpu_rates[name].append(cpu_rate)
        best = {k: max(v) for k, v in rates.items()}
        best_cpu = {k: max(v) for k, v in cpu_rates.items()}
        print(f"rebuild of {events:,} events, best of {args.rebuilds} (events/s):")
        for name, label in (("clear", "clear text (baseline)"), ("sealed", "sealed text")):
            print(f"  {label:<22}  wall {best[name]:>9,.0f}   cpu {best_cpu[name]:>9,.0f}")
        print(
            f"  ratio (aim >= 0.8x)     wall {best['sealed'] / best['clear']:>9.2f} x "
            f"cpu {best_cpu['sealed'] / best_cpu['clear']:>9.2f} x"
        )

        rep = busiest_rep(f"{tmp}/clear.views.db")
        walls: dict[str, list[float]] = {"clear": [], "sealed": []}
        cpus: dict[str, list[float]] = {"clear": [], "sealed": []}
        for _ in range(args.runs):
            for name, db in (("clear", clear), ("sealed", sealed)):
                wall, cpu = history_time(db, f"{tmp}/{name}.views.db", rep)
                walls[name].append(wall)
                cpus[name].append(cpu)
        wall_ms = {k: statistics.median(v) * 1000 for k, v in walls.items()}
        cpu_ms = {k: statistics.median(v) * 1000 for k, v in cpus.items()}
        print(f"history of the busiest rep, median of {args.runs} interleaved runs:")
        for name, label in (("clear", "clear text (baseline)"), ("sealed", "sealed text")):
            print(f"  {label:<22}  wall {wall_ms[name]:>8.1f} ms   cpu {cpu_ms[name]:>8.1f} ms")
        print(
            f"  ratio (aim <= 1.2x)     wall {wall_ms['sealed'] / wall_ms['clear']:>8.2f} x    "
            f"cpu {cpu_ms['sealed'] / cpu_ms['clear']:>8.2f} x"
        )


if __name__ == "__main__":
    main()
