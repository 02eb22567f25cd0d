"""PostgreSQL vs SQLite as the event store, in one run on this machine (issue 7, "Must show" 4).

For each backend, on the same deterministic workload:

1. append throughput, 1 writer: commands/s and events/s through the Ledger
   API (agree + check-ins, one transaction per command), with the CPU share
   of the writer process (CPU seconds / wall seconds);
2. append throughput, 8 writers: 8 spawned processes, disjoint reps (so no
   conflicts by design; any that occur are counted);
3. rebuild throughput: ``projections.catchup.rebuild`` of the whole ledger
   (the commands above plus bulk activity rows) into a fresh views file;
4. ``commitments history REP`` latency, whole process, views current:
   median and max of 10 runs.

Usage::

    python bench/bench_backends.py                       # defaults below
    python bench/bench_backends.py --commands 4000 --activities 200000
    COMMITMENTS_BENCH_POSTGRES=postgresql://user@host:5432/db python bench/bench_backends.py

The PostgreSQL URL is COMMITMENTS_BENCH_POSTGRES, else COMMITMENTS_TEST_POSTGRES,
else postgresql://root@127.0.0.1:5432/test. The benchmark uses a schema of its own
and drops it at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

from ledger import commands as cmd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger.application import Ledger  # noqa: E402
from ledger.errors import Conflict  # noqa: E402

START = date(2026, 1, 5)
WRITERS = 8


@dataclass
class Figures:
    backend: str
    one_writer: dict[str, float] = field(default_factory=dict)
    eight_writers: dict[str, float] = field(default_factory=dict)
    rebuild: dict[str, float] = field(default_factory=dict)
    history: dict[str, float] = field(default_factory=dict)


def _events(db: str) -> int:
    ledger = Ledger.open(db)
    try:
        return ledger.event_count()
    finally:
        ledger.close()


def write_commands(db: str, worker: int, commands: int) -> tuple[int, int, float, float]:
    """``commands`` commands for this worker's own reps; (done, conflicts, wall s, cpu s)."""
    rng = random.Random(worker)
    ledger = Ledger.open(db, create_table=False)
    mine: list[UUID] = []
    conflicts = 0
    started, cpu = time.perf_counter(), time.process_time()
    try:
        for i in range(commands):
            try:
                if i % 8 == 0 or not mine:
                    mine.append(
                        ledger.agree(
                            cmd.Agree(
                                rep=f"w{worker}-rep{i % 5}",
                                manager=f"m{worker}",
                                focus="prospecting",
                                behavior="outbound calls",
                                target=10,
                                period="week",
                                start=START.isoformat(),
                                actor="bench",
                            )
                        )
                    )
                else:
                    day = START + timedelta(days=rng.randrange(29))
                    ledger.check_in(
                        rng.choice(mine),
                        cmd.CheckIn(
                            date=day.isoformat(), actual=rng.randrange(13), note="", actor="bench"
                        ),
                    )
            except Conflict:
                conflicts += 1
    finally:
        ledger.close()
    return commands, conflicts, time.perf_counter() - started, time.process_time() - cpu


def append_one(db: str, commands: int, fig: Figures) -> None:
    before = _events(db)
    done, conflicts, wall, cpu = write_commands(db, 1000, commands)
    events = _events(db) - before
    fig.one_writer = {
        "commands/s": done / wall,
        "events/s": events / wall,
        "ms/command": 1000 * wall / done,
        "cpu share": cpu / wall,
        "conflicts": conflicts,
    }


def append_eight(db: str, commands: int, fig: Figures) -> None:
    before = _events(db)
    per = commands // WRITERS
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WRITERS) as pool:
        ready = pool.map(_warm, [db] * WRITERS)  # imports and first connection, untimed
        assert all(ready)
        started = time.perf_counter()
        results = pool.starmap(write_commands, [(db, w, per) for w in range(WRITERS)])
        wall = time.perf_counter() - started
    events = _events(db) - before
    done = sum(r[0] for r in results)
    fig.eight_writers = {
        "commands/s": done / wall,
        "events/s": events / wall,
        "conflicts": sum(r[1] for r in results),
        "cpu share": sum(r[3] for r in results) / wall,
    }


def _warm(db: str) -> bool:
    Ledger.open(db, create_table=False).close()
    return True


def add_activities(db: str, rows: int) -> None:
    rng = random.Random(3)
    ledger = Ledger.open(db)
    try:
        ledger.record_activities(
            {
                "rep": f"w{rng.randrange(WRITERS)}-rep{rng.randrange(5)}",
                "metric": "calls",
                "date": (START + timedelta(days=i % 90)).isoformat(),
                "value": 1,
                "source_id": f"call-{i}",
                "actor": "bench",
            }
            for i in range(rows)
        )
    finally:
        ledger.close()


def rebuild_rate(db: str, views: str, fig: Figures) -> None:
    from projections.catchup import rebuild

    ledger = Ledger.open(db)
    try:
        started = time.perf_counter()
        count = rebuild(ledger, views)
        wall = time.perf_counter() - started
    finally:
        ledger.close()
    fig.rebuild = {"events": count, "events/s": count / wall, "seconds": wall}


def history_latency(db: str, views: str, fig: Figures, runs: int = 10) -> None:
    cmd = [sys.executable, "-m", "cli", "--db", db, "--views", views, "history", "w0-rep0"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CREATE_TABLE": "n"}
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    times = times[1:]  # the first run warms the OS caches
    fig.history = {"median ms": 1000 * statistics.median(times), "max ms": 1000 * max(times)}


def run_backend(name: str, db: str, views_dir: Path, args: argparse.Namespace) -> Figures:
    fig = Figures(name)
    Ledger.open(db, create_table=True).close()  # what `commitments init` does
    print(f"[{name}] 1 writer, {args.commands} commands ...", file=sys.stderr)
    append_one(db, args.commands, fig)
    print(f"[{name}] {WRITERS} writers, {args.commands} commands ...", file=sys.stderr)
    append_eight(db, args.commands, fig)
    print(f"[{name}] + {args.activities} activity rows, rebuild ...", file=sys.stderr)
    add_activities(db, args.activities)
    views = str(views_dir / f"{name}.views.db")
    rebuild_rate(db, views, fig)
    print(f"[{name}] history latency ...", file=sys.stderr)
    history_latency(db, views, fig)
    return fig


def show(figs: list[Figures]) -> None:
    sqlite, pg = figs[0], figs[1]
    rows = [
        ("append, 1 writer", "commands/s", sqlite.one_writer, pg.one_writer),
        ("append, 1 writer", "events/s", sqlite.one_writer, pg.one_writer),
        ("append, 1 writer", "cpu share", sqlite.one_writer, pg.one_writer),
        ("append, 8 writers", "commands/s", sqlite.eight_writers, pg.eight_writers),
        ("append, 8 writers", "events/s", sqlite.eight_writers, pg.eight_writers),
        ("append, 8 writers", "cpu share", sqlite.eight_writers, pg.eight_writers),
        ("append, 8 writers", "conflicts", sqlite.eight_writers, pg.eight_writers),
        ("rebuild", "events/s", sqlite.rebuild, pg.rebuild),
        ("history (whole process)", "median ms", sqlite.history, pg.history),
        ("history (whole process)", "max ms", sqlite.history, pg.history),
    ]
    print(f"{'measure':26} {'unit':11} {'SQLite':>10} {'PostgreSQL':>11} {'PG/SQLite':>10}")
    for what, unit, a, b in rows:
        x, y = a[unit], b[unit]
        ratio = f"{y / x:.2f}x" if x else "-"
        print(f"{what:26} {unit:11} {x:>10,.1f} {y:>11,.1f} {ratio:>10}")
    print(f"cores: {os.cpu_count()}; rebuild size: {int(sqlite.rebuild['events']):,} events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000, help="commands per append run")
    parser.add_argument("--activities", type=int, default=100_000, help="rows before rebuild")
    args = parser.parse_args()
    url = (
        os.environ.get("COMMITMENTS_BENCH_POSTGRES")
        or os.environ.get("COMMITMENTS_TEST_POSTGRES")
        or "postgresql://root@127.0.0.1:5432/test"
    )
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in url else "?"
    pg_db = f"{url}{sep}schema={schema}"
    import psycopg
    from psycopg import sql

    try:
        with tempfile.TemporaryDirectory() as tmp:
            figs = [
                run_backend("sqlite", str(Path(tmp) / "ledger.db"), Path(tmp), args),
                run_backend("postgres", pg_db, Path(tmp), args),
            ]
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    show(figs)


if __name__ == "__main__":
    main()
