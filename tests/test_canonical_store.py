"""The chain covers the stored bytes (SPEC §7.2; issue 12 findings 2, 3 and 7).

Every writer stores canonical JSON with canonical stream ids, and ``verify``
checks the stored bytes themselves: an edit that keeps the parsed content
(duplicate keys, key order, spacing, another encoding, an upper-case stream
id) fails exit 4 naming the position, as do version gaps, duplicate versions
and unknown topics. A ledger written before this release fails with the way
to upgrade. On both backends where the store allows the edit.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Transcoder
from eventsourcing.utils import get_topic

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.audit import stored_rows
from ledger.store import local_file, store_env
from tests.conftest import CRM, Cli
from tests.test_audit import build_sample, export_of, raw_sql


def canonical(obj: Any) -> str:
    """SPEC §5's canonical JSON, written out independently of the ledger's code."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def rows(db: str) -> list[tuple[int, str, int, str, bytes]]:
    ledger = Ledger.open(db)
    try:
        return list(stored_rows(ledger))
    finally:
        ledger.close()


def set_state(db: str, position: int, state: bytes) -> None:
    raw_sql(
        db,
        "UPDATE {table} SET state = ? WHERE rowid = ?",
        "UPDATE {table} SET state = %s WHERE notification_id = %s",
        (state, position),
    )


def head(cli: Cli) -> str:
    return cli.ok("verify").split()[1]


def refused(cli: Cli, position: int, why: str, digest: str | None = None) -> str:
    result = cli(["verify", *(["--digest", digest] if digest else [])])
    assert result.exit_code == 4, (result.exit_code, result.stderr)
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message
    assert f"stored event at position {position}:" in message, message
    assert why in message, message
    return message


def test_every_writer_stores_canonical_json_and_canonical_stream_ids(
    cli: Cli, other_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_sample(cli.db)  # commands and record_activities
    cli.ok(
        f"activity import {CRM / 'sales_pipeline.csv'} --metric engagements "
        "--rep-column sales_agent --date-column engage_date --id-column opportunity_id "
        "--date-format %d-%m-%y --where engage_date",
    )
    path = tmp_path / "x.jsonl"
    cli.ok(f"export -o {path}")
    copy = Cli(db=other_db, views=str(tmp_path / "v2.db"))
    copy.ok(f"import {path}")
    monkeypatch.chdir(tmp_path)
    demo = Cli(db=str(tmp_path / "demo.db"), views=str(tmp_path / "v3.db"))
    demo.ok("demo --reps 2 --weeks 2")
    for db in (cli.db, other_db, demo.db):
        stored = rows(db)
        assert len(stored) > 20
        for _position, stream, _version, _topic, state in stored:
            text = state.decode("utf-8")
            assert canonical(json.loads(text)) == text
            assert stream == stream.lower() and len(stream) == (32 if local_file(db) else 36)
        cli_of = Cli(db=db, views=str(tmp_path / "v.db"))
        cli_of.ok("verify")


@pytest.fixture
def sample(cli: Cli) -> dict[str, Any]:
    return build_sample(cli.db)


def position_of(db: str, kind: str, predicate: Any = lambda line: True) -> dict[str, Any]:
    return next(x for x in export_of(db) if x["type"] == kind and predicate(x))


CHECK_IN = "ledger.domain:Commitment.CheckInRecorded"

EDITS = {
    # finding 2: Python keeps the last key, SQLite's ->> reads the first
    "duplicate keys": lambda text: ('{"actual":50.0,' + text[1:]).encode(),
    "other key order": lambda text: json.dumps(
        dict([*sorted(json.loads(text).items())[1:], sorted(json.loads(text).items())[0]]),
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode(),  # the first key moved to the end
    "spacing": lambda text: json.dumps(json.loads(text), sort_keys=True).encode(),
    "ASCII escaping": lambda text: json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":")
    ).encode(),  # ensure_ascii: the note's ✓ becomes \u2713
    "UTF-16": lambda text: text.encode("utf-16"),
    "a trailing space": lambda text: (text + " ").encode(),
    "a leading space": lambda text: (" " + text).encode(),
    "a second object after it": lambda text: (text + "{}").encode(),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_that_keeps_the_parsed_content_fails_verify_naming_the_position(
    cli: Cli, sample: dict[str, Any], edit: str
) -> None:
    before = head(cli)
    if edit == "ASCII escaping":
        line = export_of(cli.db)[1]  # the session, whose note holds a non-ASCII character
        assert "✓" in line["data"]["note"]
    else:
        line = position_of(cli.db, CHECK_IN, lambda x: x["data"]["actual"] == 9.0)
    text = canonical({**line["data"], "timestamp": line["recorded_at"]})
    set_state(cli.db, line["position"], EDITS[edit](text))
    why = (
        "not a JSON object in UTF-8"
        if edit in ("UTF-16", "a second object after it")
        else "not the canonical JSON"
    )
    refused(cli, line["position"], why)
    refused(cli, line["position"], why, digest=before)


def test_an_upper_case_stream_id_fails_verify(sqlite_db: str, tmp_path: Path) -> None:
    """Finding 3 (SQLite stores stream ids as text; PostgreSQL's uuid type has one form)."""
    cli = Cli(db=sqlite_db, views=str(tmp_path / "v.db"))
    ids = build_sample(sqlite_db)
    close = position_of(
        sqlite_db, "ledger.domain:Commitment.Closed", lambda x: x["stream"] == str(ids["calls"])
    )
    raw_sql(
        sqlite_db,
        "UPDATE {table} SET originator_id = upper(originator_id) WHERE rowid = ?",
        "",
        (close["position"],),
    )
    refused(cli, close["position"], "is not in canonical form")


@pytest.mark.parametrize("column", ["originator_id", "topic"])
def test_a_stored_text_that_is_not_utf8_fails_verify_naming_the_position(
    sqlite_db: str, tmp_path: Path, column: str
) -> None:
    """SQLite keeps whatever bytes a TEXT column is given: a stream id or topic
    that is not UTF-8 text is an edit behind the ledger's back (exit 4, its
    position), not an unexpected error."""
    cli = Cli(db=sqlite_db, views=str(tmp_path / "v.db"))
    ids = build_sample(sqlite_db)
    before = head(cli)
    close = position_of(
        sqlite_db, "ledger.domain:Commitment.Closed", lambda x: x["stream"] == str(ids["calls"])
    )
    raw_sql(
        sqlite_db,
        f"UPDATE {{table}} SET {column} = CAST(X'ff' || CAST({column} AS BLOB) AS TEXT) "
        "WHERE rowid = ?",
        "",
        (close["position"],),
    )
    refused(cli, close["position"], "is not UTF-8 text")
    refused(cli, close["position"], "is not UTF-8 text", digest=before)
    exported = cli(f"export -o {tmp_path / 'out.jsonl'}")
    assert exported.exit_code == 4, (exported.exit_code, exported.stderr)
    assert "cannot be read" in exported.stderr and "\n" not in exported.stderr.strip()
    assert not (tmp_path / "out.jsonl").exists()


def test_a_version_gap_fails_verify(cli: Cli, sample: dict[str, Any]) -> None:
    last = export_of(cli.db)
    line = [x for x in last if x["stream"] == str(sample["calls"])][-1]
    raw_sql(
        cli.db,
        "UPDATE {table} SET originator_version = originator_version + 5 WHERE rowid = ?",
        "UPDATE {table} SET originator_version = originator_version + 5 WHERE notification_id = %s",
        (line["position"],),
    )
    refused(cli, line["position"], "is a gap after its version")


def test_an_unknown_topic_fails_verify(cli: Cli, sample: dict[str, Any]) -> None:
    line = position_of(cli.db, CHECK_IN)
    raw_sql(
        cli.db,
        "UPDATE {table} SET topic = 'ledger.domain:Commitment.Forged' WHERE rowid = ?",
        "UPDATE {table} SET topic = 'ledger.domain:Commitment.Forged' WHERE notification_id = %s",
        (line["position"],),
    )
    refused(cli, line["position"], "unknown event type")


def test_a_duplicate_version_fails_verify(sqlite_db: str, tmp_path: Path) -> None:
    """A store whose key was dropped (the table rebuilt) holding a version twice."""
    cli = Cli(db=sqlite_db, views=str(tmp_path / "v.db"))
    build_sample(sqlite_db)
    line = position_of(sqlite_db, CHECK_IN)
    conn = sqlite3.connect(sqlite_db)
    with conn:
        conn.executescript(
            "CREATE TABLE t2 (originator_id TEXT, originator_version INTEGER, topic TEXT, "
            "state BLOB); INSERT INTO t2 (rowid, originator_id, originator_version, topic, state) "
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events; "
            "DROP TABLE stored_events; ALTER TABLE t2 RENAME TO stored_events;"
        )
        conn.execute(
            "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM stored_events "
            "WHERE rowid = ?",
            (line["position"],),
        )
        position = conn.execute("SELECT max(rowid) FROM stored_events").fetchone()[0]
    conn.close()
    refused(cli, position, "is a duplicate of its version")


# -- a ledger written before this release -------------------------------------------------


class ReleaseOneTranscoder(Transcoder):
    """How release 1 stored states: compact JSON, keys in the order pydantic dumps them."""

    def encode(self, obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


def release_one_ledger(db: str) -> Ledger:
    env = store_env(db)
    env["TRANSCODER_TOPIC"] = get_topic(ReleaseOneTranscoder)
    ledger = Ledger(env, db=db)
    ledger.recorder.ensure_tables()
    return ledger


def test_a_ledger_from_before_this_release_fails_verify_saying_how_to_upgrade(
    cli: Cli, other_db: str, tmp_path: Path
) -> None:
    ledger = release_one_ledger(cli.db)
    try:
        ledger.record_session(
            cmd.validate(
                cmd.RecordSession, rep="alice", manager="bob", date="2026-01-05", actor="old"
            )
        )
        ledger.agree(
            cmd.validate(
                cmd.Agree,
                rep="alice",
                manager="bob",
                focus="prospecting",
                behavior="calls",
                target=5,
                start="2026-01-05",
                actor="old",
            )
        )
    finally:
        ledger.close()
    assert not rows(cli.db)[0][4].startswith(b'{"actor"')  # really the old order
    message = refused(cli, 1, "upgrade it")
    assert "export" in message and "import" in message and "keeps every hash" in message
    # the upgrade: export, import into a new ledger; every hash is kept
    path = tmp_path / "old.jsonl"
    cli.ok(f"export -o {path}")
    new = Cli(db=other_db, views=str(tmp_path / "v2.db"))
    new.ok(f"import {path}")
    assert export_of(other_db) == export_of(cli.db)
    assert new.ok("verify") == f"{len(export_of(cli.db))} {export_of(cli.db)[-1]['hash']}"
