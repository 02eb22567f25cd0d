"""Faults: a writer's lock held too long, a full disk, a read-only ledger.

Every fault must end in a one-line error and an exit code of SPEC §5, never a
traceback, and leave the ledger exactly as it was: same event count, same head
hash (``verify``), and the next write after the fault is cleared succeeds.

* Lock: another connection holds ``BEGIN EXCLUSIVE`` on the ledger; with
  ``SQLITE_LOCK_TIMEOUT=1`` every write gives up after a second with exit 5
  and a retry hint.
* Full disk: the ledger lives on a 16 MB tmpfs filled to the last byte
  (needs root to mount; skipped otherwise).
* Read-only: the same tmpfs remounted read-only, and an immutable ledger file
  (``chattr +i``, which binds root too).

The SQLite backend only: these are faults of the embedded store's file.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ledger import commands as cmd
from tests.conftest import activity_count
from tests.test_fuzz_cli import seed


def run(db: Path, *args: str, views: Path | None = None) -> Result:
    from cli.main import cli

    views = views or db.with_suffix(".views.db")
    return CliRunner().invoke(
        cli,
        ["--db", str(db), "--views", str(views), "--actor", "tester", *args],
        catch_exceptions=True,
    )


def state(db: Path) -> tuple[int, str]:
    """(event count, head hash) as ``verify`` computes them."""
    from ledger.application import Ledger
    from ledger.audit import verify

    ledger = Ledger.open(str(db))
    try:
        return verify(ledger)
    finally:
        ledger.close()


def assert_clean_failure(result: Result, *codes: int) -> str:
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), repr(exc)
    assert result.exit_code in codes, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) >= 1 and lines[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in lines[-1]
    return lines[-1]


def writes(tmp: Path, ids: dict[str, str]) -> dict[str, list[str]]:
    """One command of every kind that writes, with its inputs outside ``tmp``'s ledger."""
    csv_path = tmp / "activity.csv"
    csv_path.write_text(
        "rep,day,n,id\n" + "".join(f"alice,2026-01-{1 + i % 28:02d},1,a{i}\n" for i in range(20000))
    )
    other = tmp / "other.db"
    if not other.exists():
        _other_ledger(other)
    export = tmp / "other.jsonl"
    assert run(other, "export", "-o", str(export)).exit_code == 0
    return {
        "session": [
            "session", "record", "--rep", "alice", "--manager", "bob", "--on", "2026-03-02",
        ],
        "agree": [
            "agree", "--rep", "dave", "--manager", "bob", "--focus", "pipeline",
            "--behavior", "calls", "--target", "5", "--start", "2026-03-02",
        ],
        "check-in": ["check-in", ids["calls"], "--on", "2026-01-25", "--actual", "3"],
        "close": ["close", ids["calls"], "--on", "2026-02-04", "--result", "met"],
        "activity": [
            "activity", "import", str(csv_path), "--metric", "fault", "--rep-column", "rep",
            "--date-column", "day", "--value-column", "n", "--id-column", "id",
        ],
        "import": ["import", str(export)],
    }  # fmt: skip


def _other_ledger(path: Path) -> None:
    """A ledger whose events are all new to the seeded one (another rep)."""
    from ledger.application import Ledger

    ledger = Ledger.open(str(path))
    try:
        for week in range(40):
            ledger.record_session(
                cmd.validate(
                    cmd.RecordSession,
                    rep="zoe",
                    manager="yann",
                    date=f"2026-{1 + week // 4:02d}-0{1 + week % 4}",
                    note="x" * 500,
                    actor="other",
                )
            )
    finally:
        ledger.close()


# -- a writer's lock held beyond the timeout ----------------------------------------------


def test_a_lock_held_beyond_the_timeout_is_exit_5_with_a_retry_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "ledger.db"
    ids = seed(str(db))
    commands = writes(tmp_path, ids)
    before = state(db)
    monkeypatch.setenv("SQLITE_LOCK_TIMEOUT", "1")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for name, args in commands.items():
            line = assert_clean_failure(run(db, *args), 5)
            assert "locked" in line and "again" in line, (name, line)
        # reads are not blocked by a writer (WAL)
        assert run(db, "list", "--format", "json").exit_code == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert state(db) == before
    assert run(db, *commands["session"]).exit_code == 0


def test_a_bad_lock_timeout_setting_is_invalid_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(str(tmp_path / "l.db"))
    monkeypatch.setenv("SQLITE_LOCK_TIMEOUT", "soon")
    line = assert_clean_failure(run(tmp_path / "l.db", "verify"), 2)
    assert "SQLITE_LOCK_TIMEOUT" in line


# -- a full disk and a read-only file system --------------------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 24 MB tmpfs (root only): room for the seeded ledger, its views and keys."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write zeros until the file system is full; returns the filler file."""
    filler = directory / "filler"
    block = b"\0" * 4096
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        try:
            while True:  # the last partial block
                fh.write(b"\0")
        except OSError:
            pass
    return filler


def test_a_full_disk_leaves_the_ledger_exactly_as_before(small_fs: Path, tmp_path: Path) -> None:
    db = small_fs / "ledger.db"
    ids = seed(str(db))
    assert run(db, "list").exit_code == 0  # the read model exists, and is current
    commands = writes(tmp_path, ids)
    before = state(db)
    filler = fill(small_fs)
    outcomes: dict[str, int] = {}
    for name, args in commands.items():
        result = run(db, *args)
        outcomes[name] = result.exit_code
        if result.exit_code != 0:
            line = assert_clean_failure(result, 1, 5)
            assert any(w in line for w in ("full", "space", "I/O")), (name, line)
    # the big writes cannot fit in no space at all
    assert outcomes["activity"] != 0 and outcomes["import"] != 0, outcomes
    filler.unlink()
    after = state(db)
    before_rows = activity_count(str(db))
    succeeded = [n for n, code in outcomes.items() if code == 0]
    if not succeeded:
        assert after == before
    assert after[0] >= before[0]
    # nothing is broken: every write works once there is room
    result = run(db, *commands["activity"])
    assert result.exit_code == 0, result.stderr
    listed = run(db, "list", "--format", "json")
    assert listed.exit_code == 0, listed.stderr
    assert activity_count(str(db)) == before_rows + 20000


def test_a_read_only_file_system_refuses_writes_and_changes_nothing(
    small_fs: Path, tmp_path: Path
) -> None:
    db = small_fs / "ledger.db"
    ids = seed(str(db))
    assert run(db, "list").exit_code == 0
    commands = writes(tmp_path, ids)
    before = state(db)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        for name, args in commands.items():
            line = assert_clean_failure(run(db, *args), 1)
            assert "read" in line.lower() or "open" in line.lower(), (name, line)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    assert state(db) == before
    assert run(db, *commands["agree"]).exit_code == 0


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "ledger.db"
    seed(str(db))
    assert run(db, "list").exit_code == 0
    # fold the WAL into the file, so the immutable file is the whole ledger
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    for extra in ("-wal", "-shm"):
        Path(f"{db}{extra}").unlink(missing_ok=True)
    if shutil.which("chattr") is None:
        pytest.skip("no chattr")
    done = subprocess.run(["chattr", "+i", str(db)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a file immutable here: {done.stderr.decode().strip()}")
    try:
        yield db
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=False)


def test_an_immutable_ledger_file_refuses_writes_and_changes_nothing(
    immutable: Path, tmp_path: Path
) -> None:
    db = immutable
    digest = db.read_bytes()
    ids = json.loads(run(db, "list", "--format", "json").stdout)
    calls = next(c["id"] for c in ids if c["behavior"] == "outbound calls")
    commands = writes(tmp_path, {"calls": calls})
    for name, args in commands.items():
        result = run(db, *args)
        line = assert_clean_failure(result, 1)
        assert "read" in line.lower() or "permission" in line.lower(), (name, line)
    assert db.read_bytes() == digest
    assert not Path(f"{db}-wal").exists() or os.path.getsize(f"{db}-wal") == 0


def test_a_tree_extension_killed_midway_is_completed_by_the_next_proof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kill loop's finding: the tree's leaves are appended in batches, one
    transaction each; a kill in between left a short tree that was served as
    current (proofs failing, ``projections verify`` refusing). Only proofs read
    the tree (issue 19: reads and rebuilds no longer extend it), so the next
    proof must complete it before proving."""
    import projections.tree
    from ledger.application import Ledger
    from projections.catchup import table_dump
    from projections.tree import catch_up_tree

    db, views, fresh = tmp_path / "l.db", tmp_path / "v.db", tmp_path / "fresh.db"
    assert run(db, "demo", "--reps", "3", "--weeks", "2", views=views).exit_code == 0
    real = projections.tree.extend

    def killed_after_a_batch(conn: sqlite3.Connection, ledger: object, head: int) -> int:
        return real(conn, ledger, min(head, 5))  # the leaves a first batch committed

    monkeypatch.setattr(projections.tree, "extend", killed_after_a_batch)
    ledger = Ledger.open(str(db))
    try:
        assert catch_up_tree(ledger, str(views)) == 5
    finally:
        ledger.close()
    monkeypatch.setattr(projections.tree, "extend", real)
    assert run(db, "projections", "rebuild", views=fresh).exit_code == 0
    assert run(db, "prove", "inclusion", "1", views=fresh).exit_code == 0
    assert table_dump(str(views)) != table_dump(str(fresh))  # the tree stopped at 5 leaves

    assert run(db, "prove", "inclusion", "7", views=views).exit_code == 0
    assert table_dump(str(views)) == table_dump(str(fresh))
