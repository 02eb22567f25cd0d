"""Export, verify and import throughput against raw sqlite3 + json + hashlib, and peak memory.

Builds a demo ledger (``cli.demo.generator.write_demo``, the same as ``commitments
demo``) unless ``--db`` names an existing SQLite ledger, then in one run:

* ``commitments export -o FILE`` and ``commitments verify`` (fresh processes)
  against a raw loop: ``sqlite3`` select of the same rows in rowid order,
  ``json.loads`` of the state, canonical ``json.dumps`` and ``hashlib.sha256``
  (writing the lines to a file for export); aim >= 0.6x raw. ``verify`` also
  checks every stored state is canonical JSON with a canonical stream id and
  versions that follow on (SPEC 7.2); it is shown next to the bare floor too:
  select + chained ``sha256`` of the stored bytes, no JSON.
* ``commitments import FILE`` into an empty ledger against raw ``executemany``
  of the same rows (``json.loads`` each line, ``json.dumps`` the state, one
  transaction) into a table of the same shape; aim >= 0.4x raw.
* Peak resident memory of each command process (its VmHWM); aim <= 200 MB.

Each measurement is repeated ``--repeat`` times, interleaved with its raw
counterpart, and the fastest run counts (the machine is shared).

    .venv/bin/python bench/bench_audit.py --reps 2500 --weeks 100   # ~1M events
    .venv/bin/python bench/bench_audit.py --db demo/commitments.db
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The command line, reporting its own peak memory (VmHWM: this process image only; the
# rusage of a child also counts the parent's pages it had before exec).
LAUNCH = """
import atexit, sys
def hwm():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    sys.stderr.write(f"\\nVmHWM {kb}\\n")
atexit.register(hwm)
from cli.main import main
sys.argv[0] = "commitments"
main()
"""
COMMITMENTS = [sys.executable, "-c", LAUNCH]


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
    """Run ``commitments ARGS`` as a fresh process: (seconds, peak RSS in MB, stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = subprocess.call([*COMMITMENTS, *args], cwd=ROOT, stdout=out, stderr=err)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        messages = err.read().decode()
        if code != 0:
            raise SystemExit(f"commitments {' '.join(args)}: {messages}")
        peak_kb = int(messages.rsplit("VmHWM", 1)[1].split()[0])
        return seconds, peak_kb / 1024, out.read().decode()


def _uuid(hex32: str) -> str:
    h = hex32
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def raw_chain(db: str, out_path: str | None) -> tuple[float, int, str]:
    """The raw loop: select, json.loads, canonical json.dumps, sha256 (and write)."""
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    out = open(out_path, "w", encoding="utf-8") if out_path else None  # noqa: SIM115
    prev, count = "0" * 64, 0
    cursor = conn.execute(
        "SELECT rowid, originator_id, originator_version, topic, state "
        "FROM stored_events ORDER BY rowid"
    )
    while rows := cursor.fetchmany(2000):
        lines = []
        for position, oid, version, topic, state in rows:
            data = json.loads(state)
            recorded_at = data.pop("timestamp")
            body = json.dumps(
                {
                    "stream": _uuid(oid),
                    "version": version,
                    "type": topic,
                    "recorded_at": recorded_at,
                    "data": data,
                    "prev": prev,
                },
                sort_keys=True,
                separators=(",", ":"),
                ensure_ascii=False,
            )
            prev = hashlib.sha256(body.encode("utf-8")).hexdigest()
            lines.append(f'{{"position":{position},{body[1:-1]},"hash":"{prev}"}}\n')
            count += 1
        if out:
            out.write("".join(lines))
    if out:
        out.close()
    conn.close()
    return time.perf_counter() - started, count, prev


def raw_select_sha256(db: str) -> float:
    """The floor under verify: select the same rows in rowid order and sha256 each
    stored state chained to the previous digest (no JSON at all)."""
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    prev = b"0" * 64
    cursor = conn.execute(
        "SELECT rowid, originator_id, topic, state FROM stored_events ORDER BY rowid"
    )
    while rows := cursor.fetchmany(2000):
        for _position, _oid, _topic, state in rows:
            prev = hashlib.sha256(prev + state).hexdigest().encode()
    conn.close()
    return time.perf_counter() - started


def raw_import(export: str, db: str) -> tuple[float, int]:
    """The raw loop: json.loads each line, json.dumps the state, executemany, one commit."""
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
        "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
    )
    count = 0
    with open(export, encoding="utf-8") as lines:
        batch: list[tuple[str, int, str, bytes]] = []
        for text in lines:
            line = json.loads(text)
            state = line["data"]
            state["timestamp"] = line["recorded_at"]
            batch.append(
                (
                    line["stream"].replace("-", ""),
                    line["version"],
                    line["type"],
                    json.dumps(
                        state, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                    ).encode(),  # canonical, as the ledger stores it
                )
            )
            if len(batch) >= 1000:
                conn.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", batch)
                count += len(batch)
                batch = []
        conn.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", batch)
        count += len(batch)
    conn.commit()
    conn.close()
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an existing SQLite ledger (default: build a demo one)")
    parser.add_argument("--reps", type=int, default=250)
    parser.add_argument("--weeks", type=int, default=100)
    parser.add_argument("--workdir", help="where to put the files (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the fastest counts")
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-audit-"))
    work.mkdir(parents=True, exist_ok=True)
    db = args.db or str(work / "ledger.db")
    built = None
    if not args.db:
        for suffix in ("", "-wal", "-shm"):
            Path(db + suffix).unlink(missing_ok=True)
        built = build(db, args.reps, args.weeks)
    size_mb = os.path.getsize(db) / 1e6

    export_file = str(work / "export.jsonl")
    raw_db = str(work / "raw-import.db")
    target = str(work / "imported.db")
    times: dict[str, list[float]] = {}
    peaks: dict[str, float] = {}

    def note(name: str, seconds: float, peak: float = 0.0) -> None:
        times.setdefault(name, []).append(seconds)
        peaks[name] = max(peaks.get(name, 0.0), peak)

    for _ in range(args.repeat):
        seconds, count, raw_head = raw_chain(db, str(work / "raw.jsonl"))
        note("raw_export", seconds)
        seconds, mb, _ = run("--db", db, "export", "-o", export_file)
        note("export", seconds, mb)
        note("raw_verify", raw_chain(db, None)[0])
        note("select_sha256", raw_select_sha256(db))
        seconds, mb, verify_out = run("--db", db, "verify")
        note("verify", seconds, mb)
        assert verify_out.split() == [str(count), raw_head], (verify_out, count, raw_head)
        assert Path(export_file).read_bytes() == Path(work / "raw.jsonl").read_bytes()

        Path(raw_db).unlink(missing_ok=True)
        note("raw_import", raw_import(export_file, raw_db)[0])
        for suffix in ("", "-wal", "-shm"):
            Path(target + suffix).unlink(missing_ok=True)
        seconds, mb, _ = run("--db", target, "import", export_file)
        note("import", seconds, mb)
        _, _, again = run("--db", target, "verify")
        assert again == verify_out, "the imported ledger must verify to the same head"

    def phase(name: str) -> dict[str, Any]:
        ours, raw = min(times[name]), min(times[f"raw_{name}"])
        return {
            "seconds": round(ours, 2),
            "events_per_s": round(count / ours),
            "raw_seconds": round(raw, 2),
            "ratio_vs_raw": round(raw / ours, 2),
            "peak_mb": round(peaks[name], 1),
        }

    report = {
        "events": count,
        "ledger_mb": round(size_mb, 1),
        "built": built,
        "repeat": args.repeat,
        "export": phase("export"),
        "verify": {
            **phase("verify"),
            "select_sha256_seconds": round(min(times["select_sha256"]), 2),
            "ratio_vs_select_sha256": round(min(times["select_sha256"]) / min(times["verify"]), 2),
        },
        "import": phase("import"),
        "aims": "export/verify ratio >= 0.6, import ratio >= 0.4, peak <= 200 MB",
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
