"""Catch-ups in several processes at once (the server's workers): one that read
the ledger's head before another process caught the read model up past it must
not take the newer rows for a replaced ledger and rebuild (or clear the Merkle
tree), which under load turned every read into a rebuild of the whole ledger.
A ledger that really is behind the rows (replaced) is still rebuilt: see
tests/test_views_binding.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import projections.catchup as catchup
from ledger.application import Ledger
from projections import tree
from projections.catchup import catch_up, max_position, table_dump, tracked_position

ACTOR = "tester"


@pytest.fixture
def ledger(db: str) -> Iterator[Ledger]:
    opened = Ledger.open(db)
    try:
        for rep in ("alice", "bruno", "chen"):
            opened.agree(
                rep=rep,
                manager="bob",
                focus="prospecting",
                behavior="outbound calls",
                target=10.0,
                period="week",
                start="2026-01-05",
                due="2026-02-01",
                actor=ACTOR,
            )
        yield opened
    finally:
        opened.close()


def _stale_head_once(monkeypatch: pytest.MonkeyPatch, behind: int) -> None:
    """The next head this process reads is ``behind`` events old (read just before
    another process caught up); later reads see the real head."""
    calls = {"n": 0}

    def stale(ledger: Any) -> int:
        calls["n"] += 1
        real = max_position(ledger)
        return real - behind if calls["n"] == 1 else real

    monkeypatch.setattr(catchup, "max_position", stale)


def test_a_catch_up_behind_another_processes_keeps_their_rows(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    views = str(tmp_path / "views.db")
    catch_up(ledger, views)  # "the other process": the rows are at the head
    head = max_position(ledger)
    before = table_dump(views)
    rebuilt: list[bool] = []
    real_drop = catchup._drop_and_create

    def counted_drop(*a: Any, **k: Any) -> Any:
        rebuilt.append(True)
        return real_drop(*a, **k)

    monkeypatch.setattr(catchup, "_drop_and_create", counted_drop)
    _stale_head_once(monkeypatch, behind=2)

    assert catch_up(ledger, views) == 0

    assert rebuilt == []
    conn = sqlite3.connect(views)
    try:
        assert tracked_position(conn)[0] == head
    finally:
        conn.close()
    assert table_dump(views) == before


def test_extending_the_tree_to_an_older_head_leaves_it_whole(
    ledger: Ledger, tmp_path: Path
) -> None:
    views = str(tmp_path / "views.db")
    catch_up(ledger, views)
    tree.catch_up_tree(ledger, views)  # only proofs extend the tree: build it as one would
    head = max_position(ledger)
    conn = sqlite3.connect(views, isolation_level=None)
    try:
        leaves = conn.execute("SELECT count(*) FROM merkle_leaves").fetchone()[0]

        assert tree.extend(conn, ledger, head - 2) == 0

        assert conn.execute("SELECT count(*) FROM merkle_leaves").fetchone()[0] == leaves
        assert leaves == head
    finally:
        conn.close()


def test_a_catch_up_keeps_the_file_locks_of_another_threads_read(
    sqlite_db: str, tmp_path: Path
) -> None:
    """A server worker catches up in one thread while others read. Checking the
    views file's header through a descriptor of its own and closing it dropped
    every lock the process held on the file, so another process could take it
    for unused (here: switch it out of WAL mode; in the server: checkpoint and
    delete its WAL under the readers, 'database disk image is malformed')."""
    import subprocess
    import sys

    from projections.query import ReadModel

    views = str(tmp_path / "views.db")
    opened = Ledger.open(sqlite_db)
    try:
        opened.agree(
            rep="alice",
            manager="bob",
            focus="prospecting",
            behavior="outbound calls",
            target=10.0,
            period="week",
            start="2026-01-05",
            due="2026-02-01",
            actor=ACTOR,
        )
        catch_up(opened, views)
        with ReadModel(views) as rm:
            rm.pin()  # a read in progress, as another thread of the server holds it
            catch_up(opened, views)
            other = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import sqlite3, sys\n"
                    "conn = sqlite3.connect(sys.argv[1], timeout=0)\n"
                    "print(conn.execute('PRAGMA journal_mode=DELETE').fetchone()[0])",
                    views,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            assert other.returncode != 0, other.stdout
            assert "database is locked" in other.stderr
    finally:
        opened.close()
