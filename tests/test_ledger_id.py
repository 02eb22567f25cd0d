"""The ledger id (SPEC §7.2): a ``LedgerCreated`` event written with the first
write, carried by export and import, never two of them. On both backends."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from ledger.application import Ledger
from ledger.audit import export_lines
from ledger.domain import LEDGER_STREAM, CoachingSession
from ledger.errors import LedgerError
from tests.conftest import Cli, event_count, subject_of
from tests.test_audit import export_of

CREATED = "ledger.domain:LedgerIdentity.LedgerCreated"
TIMEOUT = 60


def ledger_id(db: str) -> UUID | None:
    ledger = Ledger.open(db)
    try:
        return ledger.ledger_id()
    finally:
        ledger.close()


def session(cli: Cli, rep: str = "alice") -> str:
    return cli.ok(f"session record --rep {rep} --manager bob --on 2026-01-05")


def test_the_first_write_gives_the_ledger_its_id_once(cli: Cli) -> None:
    Ledger.open(cli.db).close()
    assert ledger_id(cli.db) is None  # opening (creating the tables) writes nothing
    assert event_count(cli.db) == 0
    session(cli)
    first = ledger_id(cli.db)
    assert isinstance(first, UUID) and first.version == 4
    session(cli, "carol")
    cli.ok("export")
    assert ledger_id(cli.db) == first  # later writes keep it
    lines = export_of(cli.db)
    created = [x for x in lines if x["type"] == CREATED]
    assert len(created) == 1 and created[0] is lines[0]
    assert (created[0]["stream"], created[0]["version"]) == (str(LEDGER_STREAM), 1)
    assert created[0]["data"]["ledger_id"] == str(first)
    assert created[0]["data"]["actor"] == subject_of(cli.db, "tester")
    assert created[0]["recorded_at"] == lines[1]["recorded_at"]  # same transaction


def test_a_refused_first_command_writes_no_id_either(cli: Cli) -> None:
    Ledger.open(cli.db).close()
    result = cli("check-in 0123456789abcdef0123456789abcdef --on 2026-01-05 --actual 1")
    assert result.exit_code == 3
    assert event_count(cli.db) == 0 and ledger_id(cli.db) is None


def test_export_and_import_carry_the_id_into_an_empty_ledger(
    cli: Cli, other_db: str, tmp_path: Path
) -> None:
    session(cli)
    path = tmp_path / "x.jsonl"
    cli.ok(f"export -o {path}")
    copy = Cli(db=other_db, views=str(tmp_path / "v2.db"))
    copy.ok("init")  # creates tables only: the import still brings the id along
    assert event_count(other_db) == 0
    copy.ok(f"import {path}")
    assert ledger_id(other_db) == ledger_id(cli.db) is not None
    assert [x["hash"] for x in export_of(other_db)] == [x["hash"] for x in export_of(cli.db)]
    # a write to the copy keeps the id it imported
    session(copy, "dave")
    assert ledger_id(other_db) == ledger_id(cli.db)


def test_an_export_of_another_ledger_merges_in_and_the_ledger_keeps_its_own_id(
    cli: Cli, other_db: str, tmp_path: Path
) -> None:
    other = Cli(db=other_db, views=str(tmp_path / "v2.db"))
    session(other, "zed")  # first: an import may not add events older than the ledger's
    own = ledger_id(other_db)
    session(cli)
    path = tmp_path / "x.jsonl"
    cli.ok(f"export -o {path}")
    before = event_count(other_db)
    result = other(f"import {path}")
    assert result.exit_code == 0, result.stderr
    # the session and the 3 people it named (alice, bob, tester): a merge of two
    # ledgers' people keeps both registrations of a name (the first one answers to it)
    assert result.stderr.strip() == "read 5, imported 4, already present 1"
    assert ledger_id(other_db) == own != ledger_id(cli.db)
    assert event_count(other_db) == before + 4
    assert sum(x["type"] == CREATED for x in export_of(other_db)) == 1


def _store_without_id(ledger: Ledger) -> UUID:
    """A session written as a ledger from before this release stored it: no LedgerCreated."""
    from datetime import UTC, date, datetime

    held = CoachingSession.hold(
        at=datetime(2026, 1, 5, 9, tzinfo=UTC), rep="old", manager="bob",
        date=date(2026, 1, 5), prepared=False, strengths=[], focus_areas=[], note=None,
        actor="old",
    ).collect_events()[0]  # fmt: skip
    stored: StoredEvent = ledger.mapper.to_stored_event(held)
    ledger.recorder.insert_events([stored])
    return held.originator_id  # type: ignore[no-any-return]


def test_a_ledger_from_before_this_release_gets_its_id_from_its_next_write(
    cli: Cli, other_db: str, tmp_path: Path
) -> None:
    ledger = Ledger.open(cli.db)
    try:
        _store_without_id(ledger)
        assert ledger.ledger_id() is None
        old_lines = list(export_lines(ledger))
    finally:
        ledger.close()
    # its export, imported into an empty ledger: the lines keep their hashes, and
    # the new ledger gets an id of its own after them
    path = tmp_path / "old.jsonl"
    path.write_text("".join(x + "\n" for x in old_lines), "utf-8")
    copy = Cli(db=other_db, views=str(tmp_path / "v2.db"))
    copy.ok(f"import {path}")
    copied = export_of(other_db)
    assert [x["hash"] for x in copied[:1]] == [json.loads(old_lines[0])["hash"]]
    assert copied[1]["type"] == CREATED and ledger_id(other_db) is not None
    # the old ledger itself: its next write appends the id
    session(cli)
    lines = export_of(cli.db)
    assert [x["type"] for x in lines] == [
        "ledger.domain:CoachingSession.Held",
        CREATED,
        *["ledger.domain:Person.Registered"] * 3,  # alice, bob (a legacy name), tester
        "ledger.domain:CoachingSession.Held",
    ]
    assert ledger_id(cli.db) == UUID(lines[1]["data"]["ledger_id"]) != ledger_id(other_db)


def test_an_activity_import_and_the_demo_give_an_empty_ledger_its_id(
    db: str, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    cli = Cli(db=db, views=str(tmp_path / "v.db"))
    csv = tmp_path / "a.csv"
    csv.write_text("rep,day,id\nalice,2026-01-05,1\n")
    cli.ok(
        f"activity import {csv} --metric calls --rep-column rep --date-column day --id-column id",
    )
    lines = export_of(db)
    assert [x["type"] for x in lines][-1] == CREATED and ledger_id(db) is not None
    assert lines[-1]["data"]["actor"] == subject_of(db, "tester")


def test_the_demo_gives_its_ledger_an_id(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    cli = Cli(db=str(tmp_path / "d.db"), views=str(tmp_path / "v.db"))
    cli.ok("init")
    cli.ok("demo --reps 2 --weeks 2")
    lines = export_of(cli.db)
    assert lines[0]["type"] == CREATED
    assert sum(x["type"] == CREATED for x in lines) == 1


def _first_writer(db: str, rep: str, barrier: Any, results: Any) -> None:
    """Both racers see a ledger without an id, then each saves a first write."""
    from datetime import UTC, date, datetime

    ledger = Ledger.open(db)
    try:
        assert ledger.ledger_id() is None
        held = CoachingSession.hold(
            at=datetime.now(UTC), rep=rep, manager="bob", date=date(2026, 1, 5),
            prepared=False, strengths=[], focus_areas=[], note=None, actor=rep,
        )  # fmt: skip
        barrier.wait(TIMEOUT)
        try:
            ledger._save(held)
            results.put(("won", rep, 0))
        except LedgerError as exc:
            results.put(("lost", rep, exc.exit_code))
    finally:
        ledger.close()


def test_two_first_writes_racing_give_the_ledger_one_id_and_both_are_stored(cli: Cli) -> None:
    Ledger.open(cli.db).close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_first_writer, args=(cli.db, rep, barrier, results))
        for rep in ("anna", "bert")
    ]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=TIMEOUT) for _ in procs)
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    assert outcomes == [("won", "anna", 0), ("won", "bert", 0)]  # the loser of the id retried
    lines = export_of(cli.db)
    assert sum(x["type"] == CREATED for x in lines) == 1
    assert sorted(x["data"]["rep"] for x in lines if x["type"] != CREATED) == ["anna", "bert"]
