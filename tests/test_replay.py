"""ledger.replay.events: typed events, in ledger order, from a ledger, a db or an export."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from ledger.domain import Activity, ActivityChunk, CoachingSession, Commitment, LedgerIdentity
from ledger.errors import IntegrityFailure, NotFound
from ledger.replay import events
from tests.test_audit import build_sample, export_of, write_jsonl


def envelope(items: Any) -> list[tuple[int, str, int, str, datetime]]:
    return [(e.position, str(e.stream), e.version, e.type, e.recorded_at) for e in items]


def test_a_ledger_its_db_and_its_export_replay_the_same_typed_events(
    db: str, tmp_path: Path
) -> None:
    ids = build_sample(db)
    lines = export_of(db)
    path = write_jsonl(tmp_path / "ledger.jsonl", lines)
    ledger = Ledger.open(db)
    try:
        from_ledger = list(events(ledger))
    finally:
        ledger.close()
    from_db = list(events(db))
    from_file = list(events(path))
    with open(path, encoding="utf-8") as handle:
        from_handle = list(events(handle))
    expected = [
        (
            x["position"],
            x["stream"],
            x["version"],
            x["type"],
            datetime.fromisoformat(x["recorded_at"]),
        )
        for x in lines
    ]
    assert envelope(from_ledger) == envelope(from_db) == envelope(from_file) == expected
    assert envelope(from_handle) == expected
    assert all(e.recorded_at.tzinfo == UTC for e in from_file)

    assert isinstance(from_file[0].event, LedgerIdentity.LedgerCreated)  # the first write's
    first = from_file[1]
    assert isinstance(first.event, CoachingSession.Held)
    assert first.name == "CoachingSession.Held" and first.event.focus_areas == ["prospecting"]
    closes = [e.event for e in from_file if isinstance(e.event, Commitment.Closed)]
    assert {(c.originator_id, c.result) for c in closes} == {
        (ids["calls"], "missed"),
        (ids["ride"], None),
    }
    values = [e.event.value for e in from_db if isinstance(e.event, Activity.Recorded)]
    values += [
        row[2]
        for e in from_db
        if isinstance(e.event, ActivityChunk.Recorded)
        for row in e.event.rows
    ]  # the rows of chunk events too (issue 19)
    assert sum(values) == sum(range(5, 12))


def test_replaying_an_export_checks_its_chain_unless_told_not_to(
    sqlite_db: str, tmp_path: Path
) -> None:
    build_sample(sqlite_db)
    lines = export_of(sqlite_db)
    lines[3]["data"]["actor"] = "edited"
    text = "".join(json.dumps(x) + "\n" for x in lines)
    with pytest.raises(IntegrityFailure, match=r"^line 4: broken hash chain"):
        list(events(io.StringIO(text)))
    replayed = list(events(io.StringIO(text), verify=False))
    assert len(replayed) == len(lines) and replayed[3].event.actor == "edited"


def test_a_since_export_replays_on_its_own(sqlite_db: str) -> None:
    build_sample(sqlite_db)
    tail = export_of(sqlite_db, since=10)
    text = "".join(json.dumps(x) + "\n" for x in tail)
    assert [e.position for e in events(io.StringIO(text))] == [x["position"] for x in tail]
    assert tail[0]["position"] == 11


def test_replaying_a_ledger_that_does_not_exist_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        list(events(str(tmp_path / "nowhere.db")))
    assert not (tmp_path / "nowhere.db").exists()
