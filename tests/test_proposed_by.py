"""``agree --proposed-by rep|manager`` (SPEC §7.6): stored on the agreement
(``Commitment.Agreed`` class version 2), shown by ``show`` and ``history``;
agreements stored before the field existed (class version 1) still load,
replay, export and import, as the manager's."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger.application import Ledger
from ledger.audit import export_lines, import_lines
from ledger.domain import Commitment
from tests.conftest import Cli, event_count

AGREE = (
    "agree", "--rep", "alice", "--manager", "bob", "--focus", "prospecting",
    "--behavior", "calls", "--target", "10", "--start", "2026-01-05", "--days", "28",
)  # fmt: skip


def test_proposed_by_is_stored_and_shown_by_show_and_history(cli: Cli) -> None:
    mine = cli.ok([*AGREE, "--proposed-by", "rep"])
    theirs = cli.ok([*AGREE[:-4], "--start", "2026-01-05", "--days", "28", "--focus", "pipeline"])
    shown = json.loads(cli.ok(f"show {mine} --format json --on 2026-01-10"))
    assert shown["proposed_by"] == "rep"
    history = json.loads(cli.ok("history alice --format json --on 2026-01-10"))
    assert {c["id"]: c["proposed_by"] for c in history["commitments"]} == {
        mine: "rep",
        theirs: "manager",  # the default
    }


def test_a_bad_proposed_by_is_refused_and_writes_nothing(cli: Cli) -> None:
    cli.ok(AGREE)
    before = event_count(cli.db)
    result = cli([*AGREE, "--proposed-by", "hr"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "'--proposed-by': 'hr' is not one of 'rep', 'manager'" in result.stderr
    assert event_count(cli.db) == before


def _store_v1_agreement(ledger: Ledger) -> Any:
    """What release 1 stored for an agreement: no ``proposed_by``, no ``class_version``."""
    agg = Commitment.agree(
        at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        rep="alice",
        manager="bob",
        owner="manager",  # a rep-owned one would need its workload's events too
        focus="prospecting",
        behavior="calls",
        measure="count",
        target=10.0,
        period="week",
        unit=None,
        metric=None,
        baseline=None,
        start=date(2026, 1, 5),
        due=date(2026, 2, 1),
        hypothesis=None,
        expect_metric=None,
        expect_at_least=None,
        session_id=None,
        supports=None,
        kept_at=0.9,
        partial_at=0.5,
        focus_cap_override=None,
        on=date(2026, 1, 5),
        actor="bob",
        proposed_by="manager",
    )
    (event,) = agg.collect_events()
    stored = ledger.mapper.to_stored_event(event)
    state = json.loads(stored.state)
    assert state.pop("class_version") == 3 and state.pop("proposed_by") == "manager"
    ledger.recorder.insert_events(
        [
            StoredEvent(
                originator_id=stored.originator_id,
                originator_version=stored.originator_version,
                topic=stored.topic,
                state=json.dumps(state, separators=(",", ":")).encode(),
            )
        ]
    )
    return agg.id


def test_a_version_1_agreement_loads_replays_and_round_trips_as_the_managers(
    db: str, tmp_path: Path
) -> None:
    ledger = Ledger.open(db)
    try:
        cid = _store_v1_agreement(ledger)
        loaded: Commitment = ledger.repository.get(cid)
        assert loaded.proposed_by == "manager"
        # the commands work on it: a check-in is written as usual
        ledger.check_in(cid, date="2026-01-09", actual=5, actor="bob")
        lines = list(export_lines(ledger))
    finally:
        ledger.close()
    (first,) = [json.loads(x) for x in lines if json.loads(x)["type"].endswith("Agreed")]
    assert "proposed_by" not in first["data"]  # stored bytes are never rewritten
    cli = Cli(db=db, views=str(tmp_path / "views.db"))
    shown = json.loads(cli.ok(f"show {cid} --format json --on 2026-01-10"))
    assert (shown["proposed_by"], shown["actual"]) == ("manager", 5)
    # an export of it imports into an empty ledger, hashes kept
    other = Ledger.open(str(tmp_path / "copy.db"))
    try:
        import_lines(other, lines)
        again = list(export_lines(other))
        assert [json.loads(x)["hash"] for x in again] == [json.loads(x)["hash"] for x in lines]
        assert other.repository.get(cid).proposed_by == "manager"
    finally:
        other.close()


def test_a_views_file_of_an_older_release_is_rebuilt(sqlite_db: str, tmp_path: Path) -> None:
    cli = Cli(db=sqlite_db, views=str(tmp_path / "views.db"))
    cid = cli.ok([*AGREE, "--proposed-by", "rep"])
    cli.ok("history alice")
    conn = sqlite3.connect(cli.views)
    conn.execute("ALTER TABLE commitments DROP COLUMN proposed_by")  # as release 1 made it
    conn.commit()
    conn.close()
    shown = json.loads(cli.ok(f"show {cid} --format json --on 2026-01-10"))
    assert shown["proposed_by"] == "rep"
