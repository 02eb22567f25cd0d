"""Checkpoints and proofs (SPEC §7.3): throughput against a raw SHA-256 pass, proof latency.

Builds a demo ledger (``cli.demo.generator.write_demo``) unless ``--db`` names an
existing SQLite ledger, then in one run:

* ``commitments checkpoint --key K`` (a fresh process: it recomputes the
  Merkle tree from every event in the store) against a raw pass: ``sqlite3``
  select of every stored event's JSON in rowid order and ``hashlib.sha256``
  of each; aim: checkpoint throughput >= 0.5x the raw pass.
  Also against the raw canonical chain (select, ``json.loads``, canonical
  ``json.dumps``, one ``sha256``): the least a reading as strict as
  ``verify``'s must do (each stored state decoded and encoded again to check
  that it is canonical; the leaf bytes are then spliced from the stored text),
  which the raw pass does not do.
* ``commitments verify --checkpoint`` (the same recomputation, plus the signature).
* The first ``prove`` after the events were written, which brings the read
  model's tree up to date (the one-off cost of the stored tree).
* Whole-process ``prove inclusion POSITION`` and ``prove consistency OLD_SIZE``
  (read model current) against ``python -c "import click"``, interleaved,
  median of ``--runs`` each; aim: <= 2x.

    .venv/bin/python bench/bench_checkpoint.py --reps 2500 --weeks 100   # ~1M events
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COMMITMENTS = [sys.executable, "-m", "cli"]


def build(db: str, reps: int, weeks: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from cli.demo.generator import write_demo
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        result = write_demo(ledger, reps=reps, weeks=weeks)
    finally:
        ledger.close()
    return {"events": result.events, "seconds": round(result.seconds, 1)}


def run(*args: str) -> tuple[float, float, str]:
    """``commitments ARGS`` as a fresh process: (wall seconds, CPU seconds, stdout)."""
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run([*COMMITMENTS, *args], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"commitments {' '.join(args)}: {done.stderr}")
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, done.stdout


def click_baseline() -> tuple[float, float]:
    before = os.times()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import click"], check=True)
    wall = time.perf_counter() - started
    after = os.times()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def raw_pass(db: str) -> tuple[float, int]:
    """Select every stored event's JSON in ledger order and SHA-256 it."""
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    count = 0
    sha = hashlib.sha256
    cursor = conn.execute("SELECT state FROM stored_events ORDER BY rowid")
    while rows := cursor.fetchmany(2000):
        for (state,) in rows:
            sha(state).digest()
        count += len(rows)
    conn.close()
    return time.perf_counter() - started, count


def raw_canonical_pass(db: str) -> tuple[float, int]:
    """The least any checkpoint must do (what ``verify`` does): select, json.loads,
    canonical json.dumps of the hashed object, sha256 (one hash per event)."""
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    prev, count = "0" * 64, 0
    cursor = conn.execute(
        "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
    )
    while rows := cursor.fetchmany(2000):
        for oid, version, topic, state in rows:
            data = json.loads(state)
            recorded_at = data.pop("timestamp")
            h = oid
            body = {
                "stream": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}",
                "version": version,
                "type": topic,
                "recorded_at": recorded_at,
                "data": data,
                "prev": prev,
            }
            text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            prev = hashlib.sha256(text.encode("utf-8")).hexdigest()
        count += len(rows)
    conn.close()
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an existing SQLite ledger (default: build a demo one)")
    parser.add_argument("--reps", type=int, default=250)
    parser.add_argument("--weeks", type=int, default=100)
    parser.add_argument("--workdir", help="where to put the files (default: a temp dir)")
    parser.add_argument("--runs", type=int, default=11, help="start-up runs of each")
    args = parser.parse_args()
    print(
        f"bench_checkpoint: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"python {sys.version.split()[0]}"
    )

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-checkpoint-"))
    work.mkdir(parents=True, exist_ok=True)
    db = args.db or str(work / "ledger.db")
    views = str(work / "ledger.views.db")
    key = str(work / "bench.key")
    for path in (views, key, key + ".last"):
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
    if not args.db:
        for suffix in ("", "-wal", "-shm"):
            Path(db + suffix).unlink(missing_ok=True)
        built = build(db, args.reps, args.weeks)
        print(f"demo ledger: {built['events']:,} events written in {built['seconds']} s")
    common = ("--db", db, "--views", views)
    verifier = run(*common, "keys", "generate", "-o", key)[2].strip()

    raw_seconds, count = raw_pass(db)
    wall, cpu, note = run(*common, "checkpoint", "--key", key)
    size = int(note.split("\n")[1])
    assert size == count, (size, count)
    raw_again, _ = raw_pass(db)
    raw_seconds = min(raw_seconds, raw_again)
    checkpoint_file = work / "bench.checkpoint"
    checkpoint_file.write_text(note, "utf-8")
    v_wall, v_cpu, _ = run(
        *common, "verify", "--checkpoint", str(checkpoint_file), "--public-key", verifier
    )
    print(f"events: {count:,}; ledger file {os.path.getsize(db) / 1e6:.1f} MB")
    print(f"raw pass (select + sha256 of each event's JSON)  {raw_seconds:8.2f} s "
          f"{count / raw_seconds:12,.0f} events/s")  # fmt: skip
    print(f"checkpoint (whole process)                      {wall:8.2f} s "
          f"{count / wall:12,.0f} events/s   cpu {cpu:.2f} s")  # fmt: skip
    print(f"  ratio to the raw pass (aim >= 0.5x)           {raw_seconds / wall:8.2f} x")
    canon_seconds = raw_canonical_pass(db)[0]
    print(f"raw canonical chain (loads, canonical dumps, sha256) {canon_seconds:8.2f} s "
          f"{count / canon_seconds:12,.0f} events/s")  # fmt: skip
    print(f"  checkpoint's ratio to it                      {canon_seconds / wall:8.2f} x")
    print(f"verify --checkpoint (whole process)             {v_wall:8.2f} s   cpu {v_cpu:.2f} s")

    first_wall, first_cpu, _ = run(*common, "prove", "consistency", "1")
    print(
        f"first prove (read model + its tree built)       {first_wall:8.2f} s   "
        f"cpu {first_cpu:.2f} s; views file {os.path.getsize(views) / 1e6:.1f} MB"
    )
    conn = sqlite3.connect(views)
    positions = [p for (p,) in conn.execute("SELECT position FROM merkle_leaves ORDER BY rank")]
    conn.close()
    middle = positions[len(positions) // 2]
    samples: dict[str, list[tuple[float, float]]] = {
        "click": [],
        "inclusion": [],
        "consistency": [],
    }
    for i in range(args.runs):
        samples["click"].append(click_baseline())
        samples["inclusion"].append(run(*common, "prove", "inclusion", str(middle))[:2])
        old = str(max(1, (i + 1) * count // (args.runs + 1)))
        samples["consistency"].append(run(*common, "prove", "consistency", old)[:2])
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in samples.items()}  # fmt: skip
    print(f"start-up, median of {args.runs} interleaved runs each:")
    for name, label in (("click", "python -c 'import click'"),
                        ("inclusion", "prove inclusion (middle event)"),
                        ("consistency", "prove consistency")):  # fmt: skip
        wall, cpu = med[name]
        print(f"  {label:32s} wall {wall * 1000:8.1f} ms   cpu {cpu * 1000:8.1f} ms")
        if name != "click":
            print(f"  {'  ratio (aim <= 2x)':32s} wall {wall / med['click'][0]:8.2f} x    "
                  f"cpu {cpu / med['click'][1]:8.2f} x")  # fmt: skip


if __name__ == "__main__":
    main()
