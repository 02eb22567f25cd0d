"""Benchmark: ``activity import`` of generated CSV rows against raw sqlite3.

Generates a CSV of N activity rows (id, rep, date, value and two other CRM-ish
columns) in a temporary directory, then, each in a fresh subprocess:

* raw: ``csv.reader`` over the same file and one ``executemany`` of
  (rep, metric, date, value, source id) into a plain SQLite table (no index,
  WAL journal like the ledger's store), in one transaction: the floor any
  importer pays for reading and storing (its insert alone is timed too),
  and the same rows as event records (id, version, topic, JSON state) into
  a table shaped like the ledger's: the floor of the storage format;
* ledger: ``ledger.activity_import.import_csv`` into a new SQLite ledger
  (validation, ids, JSON event states, the event store's primary key, the
  duplicate check), all-or-nothing in one transaction.

Prints rows/s of both and their ratio (aim: ledger >= 0.4x raw), in wall and
in CPU time (``--rounds N`` interleaves N raw and N ledger runs and takes
medians: on a shared machine the CPU ratio is the one to read), and the
ledger import's peak RSS (``resource.getrusage``) at two file sizes (aim: flat
in the file size, <= 200 MB).

    .venv/bin/python bench/bench_activity_import.py [--rows 1000000] [--small 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = ["activity_id", "owner", "activity_date", "duration_min", "channel", "account"]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    reps = [f"Rep {i:03d}" for i in range(60)]
    days = [(date(2017, 1, 1) + timedelta(days=i)).isoformat() for i in range(365)]
    channels = ["call", "email", "meeting", "demo"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            w.writerow(
                [
                    f"A{i:09d}",
                    rnd.choice(reps),
                    rnd.choice(days),
                    rnd.randint(1, 90),
                    rnd.choice(channels),
                    f"Account {rnd.randint(1, 500)}",
                ]
            )


def peak_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return rss / 1024


def raw_table(db: str) -> sqlite3.Connection:
    """A new SQLite file with a plain ``activity`` table (no index), WAL as the ledger's store."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")  # as the ledger's store runs
    conn.execute(
        "CREATE TABLE activity (rep TEXT, metric TEXT, date TEXT, value REAL, source_id TEXT)"
    )
    return conn


def raw_import(csv_path: str, conn: sqlite3.Connection) -> None:
    """The baseline: ``csv.reader`` and one ``executemany`` into ``activity``, one transaction."""
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO activity VALUES (?,?,?,?,?)",
            ((r[1], "minutes", r[2], float(r[3]), r[0]) for r in reader),
        )
        conn.execute("COMMIT")


def child_raw(csv_path: str, db: str) -> dict[str, float]:
    conn = raw_table(db)
    t0, c0 = time.perf_counter(), time.process_time()
    raw_import(csv_path, conn)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = conn.execute("SELECT count(*) FROM activity").fetchone()[0]
    size = os.path.getsize(db)
    # the insert alone, rows already in memory
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        rows = [(r[1], "minutes", r[2], float(r[3]), r[0]) for r in reader]
    conn.execute("CREATE TABLE again AS SELECT * FROM activity WHERE 0")
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO again VALUES (?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    insert_only = time.perf_counter() - t0
    del rows
    # the floor of the storage format: the same rows as event records (uuid hex,
    # version, topic, JSON state) into a table shaped like the ledger's, batches
    # sorted by id as the importer does, built in memory beforehand
    conn.execute(
        "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
        "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
    )
    ts = '{"timestamp":"2026-11-28T23:00:00.000000Z","originator_topic":"ledger.domain:Activity"'
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        events = [
            (
                uuid.uuid5(uuid.NAMESPACE_URL, r[0]).hex,
                1,
                "ledger.domain:Activity.Recorded",
                f'{ts},"rep":"{r[1]}","metric":"minutes","date":"{r[2]}","value":{float(r[3])!r},'
                f'"source_id":"{r[0]}","actor":"bench"}}'.encode(),
            )
            for r in reader
        ]
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    for i in range(0, len(events), 20_000):
        conn.executemany(
            "INSERT INTO stored_events VALUES (?,?,?,?)", sorted(events[i : i + 20_000])
        )
    conn.execute("COMMIT")
    events_only = time.perf_counter() - t0
    return {
        "rows": n,
        "seconds": total,
        "cpu_seconds": cpu,
        "insert_only_seconds": insert_only,
        "events_only_seconds": events_only,
        "db_bytes": size,
    }


def child_ledger(csv_path: str, db: str) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from ledger.activity_import import import_csv
    from ledger.application import Ledger
    from ledger.formats.activity_csv import ImportOptions

    ledger = Ledger.open(db)
    options = ImportOptions(
        metric="minutes",
        rep_column="owner",
        date_column="activity_date",
        value_column="duration_min",
        id_column="activity_id",
    )
    base = peak_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    with open(csv_path, "rb") as f:
        summary = import_csv(ledger, f, options, actor="bench")
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert summary.recorded == summary.rows_read, summary
    return {
        "rows": summary.recorded,
        "seconds": total,
        "cpu_seconds": cpu,
        "peak_mb": peak_mb(),
        "peak_before_import_mb": base,
        "events": ledger.event_count(),
        "db_bytes": os.path.getsize(db),
    }


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the runs."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def run_child(kind: str, csv_path: Path, db: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(csv_path), str(db)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument(
        "--rounds", type=int, default=1, help="Interleaved raw/import rounds at --rows (medians)."
    )
    parser.add_argument("--child", nargs=3, metavar=("KIND", "CSV", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, csv_path, db = args.child
        fn = child_raw if kind == "raw" else child_ledger
        print(json.dumps(fn(csv_path, db)))
        return

    with tempfile.TemporaryDirectory(prefix="bench-activity-") as tmp:
        t = Path(tmp)
        big, small = t / "big.csv", t / "small.csv"
        generate(big, args.rows)
        generate(small, args.small)
        mb = big.stat().st_size / 1e6
        print(
            f"{args.rows:,} rows ({mb:.0f} MB CSV) and {args.small:,} rows; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )

        raws, ourss = [], []
        for i in range(args.rounds):  # interleaved: the load moves both alike
            raws.append(run_child("raw", big, t / f"raw{i}.db"))
            ourss.append(run_child("ledger", big, t / f"ledger{i}.db"))
        raw, ours = _median(raws), _median(ourss)
        ours_small = run_child("ledger", small, t / "ledger-small.db")

    raw_rate = raw["rows"] / raw["seconds"]
    insert_rate = raw["rows"] / raw["insert_only_seconds"]
    our_rate = ours["rows"] / ours["seconds"]
    line = "{:<40} {:7.2f} s {:>10,.0f} rows/s"
    print(line.format("raw sqlite3: csv.reader + executemany", raw["seconds"], raw_rate))
    print(line.format("raw sqlite3: executemany alone", raw["insert_only_seconds"], insert_rate))
    events_rate = raw["rows"] / raw["events_only_seconds"]
    print(
        line.format(
            "raw sqlite3: same rows as event records", raw["events_only_seconds"], events_rate
        )
    )
    print(line.format("commitments activity import", ours["seconds"], our_rate))
    print(f"ratio import / raw (csv + executemany): {our_rate / raw_rate:.2f}x  (aim >= 0.4x)")
    print(
        f"in CPU time (user + sys of each child, median of {args.rounds}): raw "
        f"{raw['cpu_seconds']:.2f} s, import {ours['cpu_seconds']:.2f} s, ratio "
        f"{raw['cpu_seconds'] / ours['cpu_seconds']:.2f}x"
    )
    print(f"ratio import / raw executemany alone:   {our_rate / insert_rate:.2f}x")
    print(f"ratio import / event records alone:     {our_rate / events_rate:.2f}x")
    print(
        f"database bytes per row: raw {raw['db_bytes'] / raw['rows']:.0f}, "
        f"ledger {ours['db_bytes'] / ours['rows']:.0f} (JSON state, topic, id and its index)"
    )
    print(
        f"peak RSS of the import: {ours_small['peak_mb']:.0f} MB at {args.small:,} rows, "
        f"{ours['peak_mb']:.0f} MB at {args.rows:,} rows "
        f"(ratio {ours['peak_mb'] / ours_small['peak_mb']:.2f}; "
        f"{ours['peak_before_import_mb']:.0f} MB before importing; aim flat, <= 200 MB)"
    )


if __name__ == "__main__":
    main()
