"""Many writers on one PostgreSQL ledger, and a follower that is killed and resumes.

* 8 processes x 500 commands (the library in 8 spawned ``multiprocessing``
  workers, each with its own ``Ledger``; whole CLI processes would cost ~0.1 s
  a command) on overlapping commitments, while ``commitments projections
  follow`` runs as its own process.
* ``kill -9`` of the follower in the middle of a large catch-up, on both
  backends; restarted, it ends identical to a rebuild.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.audit import verify
from ledger.errors import LedgerError
from projections.catchup import rebuild, table_dump
from tests.conftest import Cli
from tests.test_postgres import cli_process, require_postgres

WORKERS = 8
COMMANDS = 500
REPS = [f"rep{i}" for i in range(6)]
START = date(2026, 1, 5)
TOPIC = "ledger.domain:Commitment."


def views_position(views: Path) -> int:
    """The read model's tracked position, read without taking any write lock."""
    if not views.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{views}?mode=ro", uri=True, timeout=30) as conn:
            row = conn.execute("SELECT position FROM tracking WHERE name = 'ledger'").fetchone()
    except sqlite3.OperationalError:  # the tables are being created
        return 0
    return int(row[0]) if row else 0


def wait_for(condition: Any, what: str, limit: float = 180.0) -> None:
    """Poll until ``condition()``; a generous limit only turns a hang into a failure."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def head(db: str) -> int:
    ledger = Ledger.open(db)
    try:
        return int(ledger.recorder.max_notification_id() or 0)  # type: ignore[attr-defined]
    finally:
        ledger.close()


def stop_follower(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return err


def rebuilt_equals_followed(db: str, followed: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "rebuilt.db"
    ledger = Ledger.open(db)
    try:
        rebuild(ledger, str(fresh))
    finally:
        ledger.close()
    got, want = table_dump(str(followed)), table_dump(str(fresh))
    assert got.keys() == want.keys()
    for table in want:
        assert got[table] == want[table], table


# -- 8 writers x 500 commands -------------------------------------------------------


def _agree(ledger: Ledger, rng: random.Random, token: str) -> str:
    return str(
        ledger.agree(
            rep=rng.choice(REPS),
            manager="bob",
            focus=rng.choice(["prospecting", "pipeline"]),
            behavior=token,
            target=10,
            period="week",
            start=START.isoformat(),
            actor="load",
        )
    )


def _writer(db: str, worker: int, shared: list[str], barrier: Any) -> list[tuple[Any, ...]]:
    """Run COMMANDS mixed commands; return (token, kind, target, outcome, exit code) each."""
    from cli.errors import exit_code_for

    rng = random.Random(worker)
    ledger = Ledger.open(db, create_table=False)
    mine = list(shared)
    out: list[tuple[Any, ...]] = []
    barrier.wait()
    try:
        for i in range(COMMANDS):
            token = f"w{worker}-{i}"
            roll = rng.random()
            kind = "agree" if roll < 0.15 else "check-in" if roll < 0.92 else "close"
            target = "" if kind == "agree" else rng.choice(mine)
            try:
                if kind == "agree":
                    target = _agree(ledger, rng, token)
                    mine.append(target)
                elif kind == "check-in":
                    day = START + timedelta(days=rng.randrange(29))
                    ledger.check_in(
                        UUID(target),
                        date=day.isoformat(),
                        actual=rng.randrange(13),
                        note=token,
                        actor="load",
                    )
                else:
                    ledger.close_commitment(
                        UUID(target), date="2026-02-04", result="met", note=token, actor="load"
                    )
                out.append((token, kind, target, "accepted", 0))
            except LedgerError as exc:
                out.append((token, kind, target, type(exc).__name__, exit_code_for(exc)[0]))
    finally:
        ledger.close()
    return out


def _stored_tokens(db: str) -> tuple[dict[str, tuple[str, str]], dict[str, list[int]]]:
    """token -> (kind, stream) of every command event; stream -> its versions in order."""
    kinds = {"Agreed": "agree", "CheckInRecorded": "check-in", "Closed": "close"}
    found: dict[str, tuple[str, str]] = {}
    versions: dict[str, list[int]] = defaultdict(list)
    ledger = Ledger.open(db)
    recorder: Any = ledger.recorder
    try:
        position = 0
        while True:
            page = recorder.select_notifications(
                start=position, limit=2000, inclusive_of_start=False
            )
            if not page:
                break
            for n in page:
                stream = str(n.originator_id)
                versions[stream].append(n.originator_version)
                kind = kinds.get(n.topic.removeprefix(TOPIC))
                if kind is None:
                    continue
                state = json.loads(n.state)
                token = state["behavior"] if kind == "agree" else state["note"]
                if token and token.startswith("w"):
                    assert token not in found, f"{token} stored twice"
                    found[token] = (kind, stream)
            position = page[-1].id
    finally:
        ledger.close()
    return found, versions


@pytest.mark.slow
def test_eight_writers_on_overlapping_commitments_lose_nothing_and_conflict_cleanly(
    tmp_path: Path,
) -> None:
    url = require_postgres()
    from tests.test_postgres import admin, with_schema

    schema = f"t_{os.urandom(8).hex()}"
    db = with_schema(url, schema)
    followed = tmp_path / "followed.db"
    try:
        owner = Ledger.open(db)
        rng = random.Random(99)
        shared = [_agree(owner, rng, f"seed-{i}") for i in range(12)]
        owner.close()
        follower = cli_process(db, str(followed), "projections", "follow", "--poll-interval", "5")
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Manager().Barrier(WORKERS)
        with ctx.Pool(WORKERS) as pool:
            results = pool.starmap(
                _writer, [(db, w, shared, barrier) for w in range(WORKERS)], chunksize=1
            )
        outcomes = [o for r in results for o in r]
        assert len(outcomes) == WORKERS * COMMANDS

        last = head(db)
        wait_for(lambda: views_position(followed) >= last, "the follower to reach the head")
        assert "listen/notify" in stop_follower(follower)

        found, versions = _stored_tokens(db)
        accepted = {o[0]: o for o in outcomes if o[3] == "accepted"}
        rejected = [o for o in outcomes if o[3] != "accepted"]
        tally = Counter((o[3], o[4]) for o in rejected)
        assert tally[("Conflict", 5)] > 0, tally  # the writers did collide
        # every rejection is a conflict (exit 5) or a closed commitment (exit 4)
        assert set(tally) <= {("Conflict", 5), ("CommitmentNotOpen", 4)}, tally
        # every accepted command's event is stored, once, on its commitment
        assert set(found) == set(accepted)
        for token, (kind, stream) in found.items():
            assert (kind, stream) == (accepted[token][1], accepted[token][2])
        # no stream has a gap or a duplicate version
        for stream, seen in versions.items():
            assert seen == list(range(1, len(seen) + 1)), stream
        ledger = Ledger.open(db)
        try:
            count, _ = verify(ledger)
        finally:
            ledger.close()
        assert count == sum(len(v) for v in versions.values())
        rebuilt_equals_followed(db, followed, tmp_path)
    finally:
        from psycopg import sql

        admin(url, sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# -- kill -9 in the middle of a catch-up ----------------------------------------------


def write_large_ledger(db: str, commitments: int = 120, activities: int = 20000) -> None:
    """Commitments with check-ins, corrections and closes, then many activity rows."""
    rng = random.Random(7)
    ledger = Ledger.open(db)
    try:
        for i in range(commitments):
            cid = UUID(_agree(ledger, rng, f"large-{i}"))
            for week in range(1, 4):
                day = (START + timedelta(days=7 * week)).isoformat()
                ledger.check_in(cid, date=day, actual=rng.randrange(13), note="", actor="t")
            if i % 3 == 0:
                ledger.correct(cid, check_in=2, actual=5, reason="CRM lag", actor="t")
            if i % 2 == 0:
                ledger.close_commitment(cid, date="2026-02-04", result="met", actor="t")
        ledger.record_activities(
            {
                "rep": rng.choice(REPS),
                "metric": "calls",
                "date": (START + timedelta(days=i % 60)).isoformat(),
                "value": 1 + i % 3,
                "source_id": f"call-{i}",
                "actor": "t",
            }
            for i in range(activities)
        )
    finally:
        ledger.close()


@pytest.mark.slow
def test_a_follower_killed_mid_catch_up_resumes_and_ends_identical_to_a_rebuild(
    cli: Cli, tmp_path: Path
) -> None:
    write_large_ledger(cli.db)
    last = head(cli.db)
    views = tmp_path / "followed.db"
    args = ("projections", "follow", "--page-size", "50", "--poll-interval", "0.2")

    first = cli_process(cli.db, str(views), *args)
    wait_for(lambda: views_position(views) > 0, "the first page")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    assert first.returncode == -signal.SIGKILL
    stopped_at = views_position(views)
    assert 0 < stopped_at < last  # killed midway, with pages committed before it

    second = cli_process(cli.db, str(views), *args)
    wait_for(lambda: views_position(views) >= last, "the restarted follower to reach the head")
    err = stop_follower(second)
    assert f"from position {stopped_at};" in err
    rebuilt_equals_followed(cli.db, views, tmp_path)


def test_a_stopped_follower_resumes_where_it_stopped_and_applies_new_events_once(
    cli: Cli, tmp_path: Path
) -> None:
    views = tmp_path / "followed.db"
    cid = cli.ok(
        "agree --rep alice --manager bob --focus prospecting --behavior calls --target 10 "
        "--start 2026-01-05",
    )
    args = ("projections", "follow", "--poll-interval", "0.1")
    proc = cli_process(cli.db, str(views), *args)
    wait_for(lambda: views_position(views) >= head(cli.db), "the first catch-up")
    cli.ok(f"check-in {cid} --on 2026-01-12 --actual 4")
    wait_for(lambda: views_position(views) >= head(cli.db), "the live check-in")
    stop_follower(proc)
    cli.ok(f"check-in {cid} --on 2026-01-19 --actual 5")  # while nobody follows
    proc = cli_process(cli.db, str(views), *args)
    wait_for(lambda: views_position(views) >= head(cli.db), "the resumed follower")
    err = stop_follower(proc)
    assert "applied 1 events" in err
    with sqlite3.connect(views) as conn:
        rows = conn.execute("SELECT number, actual FROM check_ins ORDER BY number").fetchall()
    assert rows == [(1, 4), (2, 5)]
    rebuilt_equals_followed(cli.db, views, tmp_path)
