"""kill -9 at random points of ``activity import``, ``import``, ``projections rebuild``, ``demo``.

Each round starts one command as a real process, sleeps a random time between
half its run time on an empty input and 1.1 times its measured run time, and
sends SIGKILL (a run that ended first is not counted as a kill). Then it checks and
recovers:

* ``activity import`` (a 40 000-row CSV, a new metric each round): the
  ledger holds none of the file's rows or all of them, never some; re-running
  the import completes it (idempotent when the killed run had committed).
* ``import`` (an export of about 43 000 events, into an empty ledger each
  round): the ledger is empty or holds the whole export; re-running it gives
  the source's exact head hash.
* ``projections rebuild`` (the same 43 000 events): whatever the kill left,
  the next catch-up (what every read command does first) gives tables
  identical, row for row, to a fresh rebuild.
* ``demo`` (700 reps, 16 weeks, about 45 000 events written in several
  batches, into a new ledger each round): the ledger is empty or holds the
  whole demo, never part of it; an empty one is filled by running ``demo``
  again.

After the loop, ``verify`` passes on every ledger and SQLite's integrity
check on every file. The figures (kills, recoveries, mismatches, what each
kill left) are printed and attached to the test report as properties.

``COMMITMENTS_KILLS`` sets the number of kills (default 24, about a minute);
``COMMITMENTS_KILL_SEED`` the random seed.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

KILLS = int(os.environ.get("COMMITMENTS_KILLS") or 24)
SEED = int(os.environ.get("COMMITMENTS_KILL_SEED") or 8)
ROWS = 40_000
ROOT = Path(__file__).resolve().parents[1]


def command(db: Path, *args: str, views: Path | None = None) -> list[str]:
    views = views or db.with_suffix(".views.db")
    return [sys.executable, "-m", "cli", "--db", str(db), "--views", str(views), *args]


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, (cmd, done.stderr)
    return done


def count(db: Path) -> int:
    """Events stored in ``db``, each ``ActivityChunk.Recorded`` counted as the
    activity rows it holds (issue 19); a file killed before its tables were
    made holds none."""
    conn = sqlite3.connect(db)
    try:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE name = 'stored_events'")
        if tables.fetchone() is None:
            return 0
        return int(
            conn.execute(
                "SELECT total(CASE topic WHEN 'ledger.domain:ActivityChunk.Recorded' "
                "THEN json_array_length(CAST(state AS TEXT), '$.rows') ELSE 1 END) "
                "FROM stored_events"
            ).fetchone()[0]
        )
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def head(db: Path) -> str:
    return run(command(db, "verify")).stdout.split()[1]


@dataclass
class Tally:
    """The loop's figures."""

    kills: int = 0
    finished_first: int = 0  # the command ended before the signal: not a kill
    after_startup: int = 0  # kills later than the command takes on an empty input
    recoveries: int = 0
    mismatches: int = 0
    left: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        left = ", ".join(f"{k} {v}" for k, v in sorted(self.left.items()))
        return (
            f"kill loop: {self.kills} kills, {self.recoveries} recoveries, "
            f"{self.mismatches} mismatches, {self.finished_first} runs ended before the "
            f"signal, {self.after_startup} kills while working; what the kills left: {left}"
        )


@pytest.mark.slow
def test_kill_9_never_leaves_a_partial_import_or_a_wrong_read_model(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    from projections.catchup import ensure_current, table_dump

    rng = random.Random(SEED)
    base = tmp_path / "base.db"
    csv_path = tmp_path / "activity.csv"
    with open(csv_path, "w") as fh:
        fh.write("rep,day,n,id\n")
        for i in range(ROWS):
            fh.write(f"rep{i % 97},2026-{1 + i % 12:02d}-{1 + i % 28:02d},{i % 9},row{i}\n")
    run(command(base, "demo", "--reps", "40", "--weeks", "8"))
    # a demo large enough to be written in several batches (cli.demo.generator: 20 000)
    demo_args = ("demo", "--reps", "700", "--weeks", "16")
    run(command(tmp_path / "reference-demo.db", *demo_args))
    demo_count = count(tmp_path / "reference-demo.db")
    assert demo_count > 2 * 20_000, demo_count
    activity = [
        "activity", "import", str(csv_path), "--rep-column", "rep", "--date-column", "day",
        "--value-column", "n", "--id-column", "id",
    ]  # fmt: skip
    run(command(base, *activity, "--metric", "base"))
    export = tmp_path / "base.jsonl"
    run(command(base, "export", "-o", str(export)))
    source_head, source_count = head(base), count(base)
    reference = tmp_path / "reference.views.db"
    run(command(base, "projections", "rebuild", views=reference))
    expected_tables = table_dump(str(reference))

    subject = tmp_path / "subject.db"  # activity imports go here
    shutil.copy(base, subject)
    for extra in ("-wal", "-shm"):
        if Path(f"{base}{extra}").exists():
            shutil.copy(f"{base}{extra}", f"{subject}{extra}")
    views = tmp_path / "killed.views.db"

    def timed(cmd: list[str]) -> float:
        started = time.perf_counter()
        run(cmd)
        return time.perf_counter() - started

    # how long each command takes when left alone (the kills land inside that)
    calibration = {
        "activity": timed(command(subject, *activity, "--metric", "calibration")),
        "import": timed(command(tmp_path / "calibration.db", "import", str(export))),
        "rebuild": timed(command(base, "projections", "rebuild", views=views)),
        "demo": timed(command(tmp_path / "calibration-demo.db", *demo_args)),
    }
    # ... and how long each takes to start and do nothing (an empty input)
    empty_csv = tmp_path / "empty.csv"
    empty_csv.write_text("rep,day,n,id\n")
    empty_jsonl = tmp_path / "empty.jsonl"
    empty_jsonl.write_text("")
    empty = tmp_path / "empty.db"
    run(command(empty, "init"))
    startup = {
        "activity": timed(command(subject, *activity[:2], str(empty_csv), *activity[3:],
                                  "--metric", "empty")),
        "import": timed(command(empty, "import", str(empty_jsonl))),
        "rebuild": timed(command(empty, "projections", "rebuild")),
        "demo": timed(command(tmp_path / "tiny-demo.db", "demo", "--reps", "1", "--weeks", "1")),
    }  # fmt: skip
    tally = Tally()
    ops = ["activity", "import", "rebuild", "demo"]
    round_no = 0
    while tally.kills < KILLS and round_no < 4 * KILLS:
        op = ops[round_no % len(ops)]
        round_no += 1
        target = tmp_path / f"target{round_no}.db"
        metric = f"m{round_no}"
        before = count(subject)
        cmd = {
            "activity": command(subject, *activity, "--metric", metric),
            "import": command(target, "import", str(export)),
            "rebuild": command(base, "projections", "rebuild", views=views),
            "demo": command(target, *demo_args),
        }[op]
        mismatched = tally.mismatches
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(startup[op] / 2, calibration[op] * 1.1)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            tally.kills += 1
            tally.after_startup += delay > startup[op]
            killed = True
        else:
            tally.finished_first += 1
            killed = False
        proc.wait()

        if op == "activity":
            delta = count(subject) - before
            if killed:
                tally.left["activity: nothing"] += delta == 0
                tally.left["activity: all"] += delta == ROWS
            tally.mismatches += delta not in (0, ROWS)
            run(command(subject, *activity, "--metric", metric))
            tally.mismatches += count(subject) - before != ROWS
        elif op == "import":
            n = count(target) if target.exists() else 0
            if killed:
                tally.left["import: nothing"] += n == 0
                tally.left["import: all"] += n == source_count
            tally.mismatches += n not in (0, source_count)
            run(command(target, "import", str(export)))
            tally.mismatches += head(target) != source_head
            target.unlink()
            for extra in ("-wal", "-shm"):
                Path(f"{target}{extra}").unlink(missing_ok=True)
        elif op == "demo":
            n = count(target) if target.exists() else 0
            if killed:
                tally.left["demo: nothing"] += n == 0
                tally.left["demo: all"] += n == demo_count
            tally.mismatches += n not in (0, demo_count)
            if n == 0:
                run(command(target, *demo_args))
            tally.mismatches += count(target) != demo_count
            run(command(target, "verify"))
            for extra in ("", "-wal", "-shm"):
                Path(f"{target}{extra}").unlink(missing_ok=True)
        else:
            if killed:
                tally.left["rebuild: killed"] += 1
            ensure_current(str(base), str(views))
            tally.mismatches += table_dump(str(views)) != expected_tables
        tally.recoveries += 1
        if tally.mismatches > mismatched:  # which command, and whether it was killed
            tally.left[f"MISMATCH {op} ({'killed' if killed else 'ended first'})"] += 1

    for path in (base, subject, views):
        assert integrity(path) == "ok", path
    assert head(base) == source_head
    run(command(subject, "verify"))
    timings = ", ".join(f"{k} {startup[k]:.2f}s/{v:.2f}s" for k, v in calibration.items())
    print(f"{tally.line()}; run times (empty input/real): {timings}")
    record_property("kill_loop", tally.line())
    assert tally.kills >= KILLS, tally.line()
    assert tally.recoveries == round_no
    assert tally.mismatches == 0, tally.line()
