"""Benchmark of the read side (issue 3, "Must show" 4), in one run:

1. rebuild throughput (events/s) against a raw ``sqlite3`` scan + ``json.loads``
   of the same stored events that also opens every sealed value in them
   (AES-256-GCM with ``cryptography``, one cipher per person, keys read from
   the key store file), as the rebuild must (aim: >= 0.5x the raw rate), in wall time and in
   CPU time (on a shared machine the load moves the wall times of the two
   children differently; CPU time much less);
2. peak memory (max RSS) of the rebuild, in its own process (aim: <= 200 MB);
3. one-event catch-up latency (median of 10);
4. whole-process ``commitments history REP`` against ``python -c "import click"``,
   median of >= 10 runs each, interleaved (aim: <= 2.5x).

Usage::

    python bench/bench_read.py --reps 5000 --weeks 52     # ~1M events (the issue's size)
    python bench/bench_read.py --db existing.db           # reuse a ledger

The ledger is written by ``commitments demo`` when it exists, else by a small
generator here that goes through the Ledger API.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger import commands as cmd
from ledger.keys import keystore_path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
BIN = Path(PY).parent
COMMITMENTS = str(BIN / "commitments") if (BIN / "commitments").exists() else None


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("COMMITMENTS_DB", None)
    env.pop("COMMITMENTS_VIEWS", None)
    return env


def commitments_cmd(*args: str) -> list[str]:
    if COMMITMENTS:
        return [COMMITMENTS, *args]
    return [PY, "-m", "cli", *args]


def build_ledger(db: str, reps: int, weeks: int) -> str:
    """Write the demo ledger; returns how it was written."""
    result = subprocess.run(
        commitments_cmd("--db", db, "demo", "--reps", str(reps), "--weeks", str(weeks)),
        env=child_env(),
        capture_output=True,
        text=True,
    )
    if result.returncode == 0 and os.path.exists(db) and event_count(db) > 0:
        return f"commitments demo --reps {reps} --weeks {weeks}"
    return fallback_ledger(db, reps, weeks)


def fallback_ledger(db: str, reps: int, weeks: int) -> str:
    """A plain team through the Ledger API: weekly check-ins on 4-week commitments."""
    from datetime import UTC, date, datetime, timedelta

    from ledger.application import Ledger

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    start = date(2025, 1, 6)
    moment = [datetime(2025, 1, 6, 9, tzinfo=UTC)]

    def clock() -> datetime:
        moment[0] += timedelta(seconds=1)
        return moment[0]

    ledger = Ledger.open(db, clock=clock)
    for r in range(reps):
        rep = f"rep{r:05d}"
        for cycle in range(max(1, weeks // 4)):
            first = start + timedelta(days=28 * cycle)
            cid = ledger.agree(
                cmd.Agree(
                    rep=rep,
                    manager=f"mgr{r % 50}",
                    focus="prospecting",
                    behavior="outbound calls",
                    target=10.0,
                    period="week",
                    start=first.isoformat(),
                    days=28,
                    actor="bench",
                )
            )
            for week in range(4):
                day = first + timedelta(days=7 * week + 4)
                ledger.check_in(
                    cid, cmd.CheckIn(date=day.isoformat(), actual=float(8 + week), actor="bench")
                )
            ledger.close_commitment(
                cid,
                cmd.Close(
                    date=(first + timedelta(days=28)).isoformat(), result="met", actor="bench"
                ),
            )
    ledger.close()
    return f"fallback generator (Ledger API), {reps} reps x {weeks} weeks"


def event_count(db: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM stored_events").fetchone()[0])
    finally:
        conn.close()


RAW = """
import base64, json, os, resource, sqlite3, sys, time
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
t, c = time.perf_counter(), time.process_time()
conn = sqlite3.connect(sys.argv[1])
keys_path = os.path.splitext(sys.argv[1])[0] + ".keys.db"
keys = {}
if os.path.exists(keys_path):
    kc = sqlite3.connect(keys_path)
    keys = {s: k for s, k in kc.execute("SELECT subject, key FROM person_keys") if k}
    kc.close()
ciphers = {}
n = opened = 0
SQL = "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
FIELDS = json.loads(sys.argv[2])  # topic -> the fields that may be sealed
for row in conn.execute(SQL + " ORDER BY rowid"):
    state = json.loads(row[4])
    for field in FIELDS.get(row[3], ()):  # the sealed fields the rebuild opens
        value = state.get(field)
        if type(value) is str and value.startswith("sealed:v1:"):
            subject, _, data = value[10:].partition(":")
            pair = ciphers.get(subject)
            if pair is None:
                if subject not in keys:
                    continue  # an erased person's: the rebuild writes [erased]
                pair = ciphers[subject] = (AESGCM(keys[subject]), bytes.fromhex(subject))
            raw = base64.urlsafe_b64decode(data)
            pair[0].decrypt(raw[:12], raw[12:], pair[1]).decode()
            opened += 1
    n += 1
elapsed = time.perf_counter() - t
print(n, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time() - c,
      opened)
"""

REBUILD = """
import resource, sys, time
import sqlite_utils, projections.sqlpages  # imported before the timing, as the raw scan's
from ledger.application import Ledger
from projections.catchup import rebuild
ledger = Ledger.open(sys.argv[1])
t, c = time.perf_counter(), time.process_time()
n = rebuild(ledger, sys.argv[2])
elapsed = time.perf_counter() - t
print(n, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time() - c)
"""


Child = tuple[int, float, float, float, int]


def sealed_fields() -> str:
    """The fields that may hold sealed text, by topic, as JSON (the raw scan's
    second argument): every free-text field, and a person's name."""
    from ledger.sealing import FREE_TEXT_BY_TOPIC
    from ledger.topics import REGISTERED, RENAMED

    return json.dumps({**FREE_TEXT_BY_TOPIC, REGISTERED: ["name"], RENAMED: ["name"]})


def run_child(code: str, *args: str) -> Child:
    """(events, wall seconds, peak MB, CPU seconds, sealed values opened) of one
    child (the rebuild does not count what it opens: 0 there)."""
    out = subprocess.run(
        [PY, "-c", code, *args], env=child_env(), capture_output=True, text=True, check=True
    ).stdout.split()
    opened = int(out[4]) if len(out) > 4 else 0
    return int(out[0]), float(out[1]), int(out[2]) / 1024, float(out[3]), opened  # maxrss: KiB


def one_event_catch_up(db: str, views: str, runs: int = 10) -> float:
    from ledger.application import Ledger
    from projections.catchup import catch_up

    ledger = Ledger.open(db)
    catch_up(ledger, views)
    times = []
    try:
        for i in range(runs):
            ledger.record_session(
                cmd.RecordSession(
                    rep="bench-rep", manager="bench-mgr", date="2026-01-05", note=str(i), actor="b"
                )
            )
            t = time.perf_counter()
            applied = catch_up(ledger, views)
            times.append(time.perf_counter() - t)
            assert applied == 1, applied
    finally:
        ledger.close()
    return statistics.median(times)


def busiest_rep(views: str) -> str:
    conn = sqlite3.connect(views)
    try:
        row = conn.execute(
            "SELECT rep FROM commitments GROUP BY rep ORDER BY count(*) DESC, rep LIMIT 1"
        ).fetchone()
        return str(row[0])
    finally:
        conn.close()


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=child_env(), stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--db", help="An existing SQLite ledger to use instead of a new demo.")
    parser.add_argument("--runs", type=int, default=15, help="Runs of each process timing.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary directory.")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-read-")
    try:
        if args.db:
            db = os.path.join(tmp, "ledger.db")
            shutil.copyfile(args.db, db)
            keys = keystore_path(args.db)
            if os.path.exists(keys):  # and its key store, or no sealed text opens
                shutil.copyfile(keys, keystore_path(db))
            how = f"copy of {args.db}"
        else:
            db = os.path.join(tmp, "ledger.db")
            t = time.perf_counter()
            how = build_ledger(db, args.reps, args.weeks)
            print(f"ledger: {how}: {time.perf_counter() - t:.1f}s", flush=True)
        events = event_count(db)
        views = os.path.join(tmp, "ledger.views.db")
        print(f"events: {events:,}", flush=True)

        raws: list[Child] = []
        rebuilds: list[Child] = []
        for _ in range(2):  # interleaved, so machine load hits both alike
            raws.append(run_child(RAW, db, sealed_fields()))
            rebuilds.append(run_child(REBUILD, db, views))
        print(f"load average {os.getloadavg()[0]:.1f} (2 CPUs shared: see also CPU time)")
        raw_s = statistics.median(r[1] for r in raws)
        rebuild_s = statistics.median(r[1] for r in rebuilds)
        raw_cpu = statistics.median(r[3] for r in raws)
        rebuild_cpu = statistics.median(r[3] for r in rebuilds)
        peak_mb = max(r[2] for r in rebuilds)
        raw_rate, rebuild_rate = events / raw_s, events / rebuild_s
        ratio = rebuild_rate / raw_rate
        print(
            f"raw scan + json.loads + opening the {raws[0][4]:,} sealed values: "
            f"{raw_s:.2f}s  ({raw_rate:,.0f} events/s)"
        )
        print(f"rebuild:  {rebuild_s:.2f}s  ({rebuild_rate:,.0f} events/s)")
        print(f"  ratio rebuild/raw: {ratio:.2f}x  (aim >= 0.5x)")
        print(
            f"  CPU time: raw {raw_cpu:.2f}s, rebuild {rebuild_cpu:.2f}s, "
            f"ratio {raw_cpu / rebuild_cpu:.2f}x (load moves it less than wall time)"
        )
        print(f"  rebuild peak memory: {peak_mb:.0f} MB  (aim <= 200 MB)", flush=True)

        latency = one_event_catch_up(db, views)
        print(f"one-event catch-up: {latency * 1000:.1f} ms (median of 10)", flush=True)

        rep = busiest_rep(views)
        history = commitments_cmd("--db", db, "--views", views, "history", rep)
        click = [PY, "-c", "import click"]
        timed(history)  # catch up once, outside the timing
        hist_t, click_t = [], []
        for _ in range(max(10, args.runs)):
            click_t.append(timed(click))
            hist_t.append(timed(history))
        h, c = statistics.median(hist_t), statistics.median(click_t)
        print(f"history {rep!r}: {h * 1000:.0f} ms; import click: {c * 1000:.0f} ms")
        print(f"  ratio history/click: {h / c:.2f}x  (aim <= 2.5x)")
        print(
            json.dumps(
                {
                    "ledger": how,
                    "events": events,
                    "raw_events_per_s": round(raw_rate),
                    "raw_sealed_values_opened": raws[0][4],
                    "rebuild_events_per_s": round(rebuild_rate),
                    "rebuild_vs_raw": round(ratio, 2),
                    "rebuild_vs_raw_cpu": round(raw_cpu / rebuild_cpu, 2),
                    "rebuild_peak_mb": round(peak_mb),
                    "one_event_catch_up_ms": round(latency * 1000, 1),
                    "history_ms": round(h * 1000),
                    "click_ms": round(c * 1000),
                    "history_vs_click": round(h / c, 2),
                }
            )
        )
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
