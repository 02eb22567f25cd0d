"""The write path, before and after, in one run: CPU seconds, interleaved.

Two checkouts (``--old``, ``--new``) each run, in a fresh subprocess, round
after round (old, new, raw baseline in turn, so a busy machine weighs on all
of them alike):

* ``import``: ``ledger.activity_import.import_csv`` of N generated CRM rows
  (``bench_activity_import.generate``) into a new SQLite ledger;
* ``raw``: ``csv.reader`` + one ``executemany`` of the same rows into a plain
  table (the baseline of ``bench_activity_import.py``); the import's ratio is
  raw CPU / import CPU (aim >= 0.4x);
* ``demo``: ``write_demo`` of REPS reps x WEEKS weeks into a new ledger,
  with a fixed ``today`` and ``now``.

CPU time (``time.process_time`` of the timed part inside the child) is
reported, not wall time: the machine is shared. The median of the rounds is
printed for each.

    python bench/bench_write_path.py --old /tmp/compare-old --new . [--rows 100000]
        [--reps 200 --weeks 26 --rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(kind: str, root: str, csv_path: str, db: str, reps: int, weeks: int) -> float:
    sys.path.insert(0, root)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    if kind == "raw":
        sys.path.insert(0, str(HERE))
        from bench_activity_import import raw_import, raw_table

        conn = raw_table(db)
        t0 = time.process_time()
        raw_import(csv_path, conn)
        return time.process_time() - t0
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    if kind == "import":
        from ledger.activity_import import import_csv

        try:
            from ledger.formats.activity_csv import ImportOptions
        except ImportError:  # a checkout from before the CSV formats moved
            from ledger.activity_import import ImportOptions  # type: ignore[attr-defined,no-redef]

        options = ImportOptions(
            metric="minutes", rep_column="owner", date_column="activity_date",
            value_column="duration_min", id_column="activity_id",
        )  # fmt: skip
        t0 = time.process_time()
        with open(csv_path, "rb") as f:
            import_csv(ledger, f, options, actor="bench")
        return time.process_time() - t0
    from datetime import UTC, date, datetime

    try:
        from cli.demo.generator import write_demo
    except ImportError:  # a checkout from before the demo moved beside its command
        from ledger.demo import write_demo  # type: ignore[no-redef]
    t0 = time.process_time()
    write_demo(
        ledger, reps=reps, weeks=weeks, seed=1,
        today=date(2026, 11, 23), now=datetime(2026, 11, 23, 12, tzinfo=UTC),
    )  # fmt: skip
    return time.process_time() - t0


def run(kind: str, root: Path, csv_path: Path, db: Path, reps: int, weeks: int) -> float:
    args = [kind, str(root), str(csv_path), str(db), str(reps), str(weeks)]
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True, capture_output=True, text=True, cwd=root,
    )  # fmt: skip
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path)
    parser.add_argument("--new", type=Path, default=HERE.parent)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, root, csv_path, db, reps, weeks = args.child
        print(json.dumps(child(kind, root, csv_path, db, int(reps), int(weeks))))
        return
    if args.old is None:
        parser.error("--old: a checkout of the code before (e.g. git archive into a folder)")
    sys.path.insert(0, str(HERE))
    from bench_activity_import import generate

    roots = {"old": args.old.resolve(), "new": args.new.resolve()}
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-write-path-") as tmp:
        t = Path(tmp)
        csv_path = t / "rows.csv"
        generate(csv_path, args.rows)
        print(
            f"{args.rows:,} CSV rows, demo {args.reps} reps x {args.weeks} weeks, "
            f"{args.rounds} interleaved rounds; {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.1f}; CPU seconds, median"
        )
        for _ in range(args.rounds):
            for which in ("old", "new"):
                for kind in ("import", "demo"):
                    took = run(
                        kind,
                        roots[which],
                        csv_path,
                        t / f"{which}-{kind}.db",
                        args.reps,
                        args.weeks,
                    )
                    times.setdefault(f"{kind} {which}", []).append(took)
            raw = run("raw", roots["new"], csv_path, t / "raw.db", args.reps, args.weeks)
            times.setdefault("raw", []).append(raw)
    med = {k: statistics.median(v) for k, v in times.items()}
    raw = med["raw"]
    print(f"{'raw csv.reader + executemany':<34} {raw:7.2f} s")
    for which in ("old", "new"):
        took = med[f"import {which}"]
        label = f"activity import ({which})"
        print(f"{label:<34} {took:7.2f} s   ratio {raw / took:.2f}x (aim >= 0.4x)")
    for which in ("old", "new"):
        print(f"{'demo (' + which + ')':<34} {med[f'demo {which}']:7.2f} s")
    print(
        f"new / old: import {med['import new'] / med['import old']:.2f}, "
        f"demo {med['demo new'] / med['demo old']:.2f}"
    )


if __name__ == "__main__":
    main()
