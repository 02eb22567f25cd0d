"""Export, verify and import (SPEC §5 "Export format"), on both backends."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.audit import export_lines, import_lines
from ledger.errors import Conflict, IntegrityFailure
from ledger.store import local_file
from tests.conftest import Cli, event_count, ticking_clock

ZERO = "0" * 64


def build_sample(db: str) -> dict[str, Any]:
    """A small ledger with every kind of event; returns the ids it made."""
    ledger = Ledger.open(db, clock=ticking_clock())
    try:
        a: dict[str, Any] = {"actor": "tester"}
        sid = ledger.record_session(
            cmd.validate(
                cmd.RecordSession,
                rep="alice",
                manager="bob",
                date="2026-01-05",
                prepared=True,
                focus_areas=["prospecting"],
                note="first session ✓",
                **a,
            )
        )
        calls = ledger.agree(
            cmd.validate(
                cmd.Agree,
                rep="alice",
                manager="bob",
                focus="prospecting",
                behavior="outbound calls",
                target=10,
                period="week",
                start="2026-01-05",
                session_id=sid,
                expect="pipeline doubles",
                **a,
            )
        )
        ride = ledger.agree(
            cmd.validate(
                cmd.Agree,
                rep="alice",
                manager="bob",
                owner="manager",
                focus="prospecting",
                behavior="two ride-alongs",
                target=2,
                period="window",
                start="2026-01-05",
                supports=calls,
                **a,
            )
        )
        demo = ledger.agree(
            cmd.validate(
                cmd.Agree,
                rep="alice",
                manager="bob",
                focus="discovery",
                behavior="run a demo",
                done=True,
                start="2026-01-05",
                days=14,
                **a,
            )
        )
        for day, n in (("2026-01-11", 9), ("2026-01-18", 10), ("2026-01-25", 12)):
            ledger.check_in(calls, cmd.validate(cmd.CheckIn, date=day, actual=n, **a))
        ledger.correct(calls, cmd.Correct(check_in=1, actual=11, reason="CRM missed two", **a))
        ledger.revise(
            calls, cmd.validate(cmd.Revise, date="2026-01-20", reason="holiday", target=8, **a)
        )
        ledger.close_commitment(
            calls, cmd.validate(cmd.Close, date="2026-02-04", result="missed", **a)
        )
        ledger.check_in(ride, cmd.validate(cmd.CheckIn, date="2026-01-20", actual=1, **a))
        ledger.close_commitment(ride, cmd.validate(cmd.Close, date="2026-02-04", **a))
        ledger.release(
            demo, cmd.validate(cmd.Release, date="2026-01-10", reason="customer cancelled", **a)
        )
        ledger.record_activities(
            dict(
                rep="alice",
                metric="calls",
                date=f"2026-01-{d:02d}",
                value=d,
                source_id=f"c{d}",
                **a,
            )
            for d in range(5, 10)
        )  # fmt: skip  (one ActivityChunk.Recorded)
        for d in (10, 11):  # per-row Activity.Recorded, as ledgers before issue 19 hold
            ledger.record_activity(
                cmd.RecordActivity(rep="alice", metric="calls", date=date(2026, 1, d), value=d,
                                   source_id=f"c{d}", **a)
            )  # fmt: skip
        return {"session": sid, "calls": calls, "ride": ride, "demo": demo}
    finally:
        ledger.close()


def export_of(db: str, since: int = 0) -> list[dict[str, Any]]:
    ledger = Ledger.open(db)
    try:
        return [json.loads(line) for line in export_lines(ledger, since=since)]
    finally:
        ledger.close()


def rehash(lines: list[dict[str, Any]], prev: str = ZERO) -> list[dict[str, Any]]:
    """Recompute the chain with plain hashlib + json (independently of ledger.audit)."""
    out = []
    for line in lines:
        body = {k: line[k] for k in ("stream", "version", "type", "recorded_at", "data")}
        body["prev"] = prev
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        prev = hashlib.sha256(text.encode("utf-8")).hexdigest()
        out.append({**line, "prev": body["prev"], "hash": prev})
    return out


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    return str(path)


def raw_sql(db: str, sqlite_sql: str, pg_sql: str, params: tuple[Any, ...] = ()) -> None:
    """Tamper with the store behind the ledger's back (tests only)."""
    if local_file(db) is None:  # on a server
        import psycopg

        url, _, schema = db.partition("?schema=")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(pg_sql.replace("{table}", f'"{schema}".ledger_events'), params or None)
    else:
        import sqlite3

        lite = sqlite3.connect(db)
        with lite:
            lite.execute(sqlite_sql.replace("{table}", "stored_events"), params)
        lite.close()


@pytest.fixture
def sample(db: str) -> dict[str, Any]:
    return build_sample(db)


@pytest.fixture
def target(tmp_path: Path) -> Cli:
    """An empty SQLite ledger to import into."""
    return Cli(db=str(tmp_path / "e.db"), views=str(tmp_path / "v.db"))


def test_export_lines_carry_the_spec_fields_and_chain_from_64_zeros(
    db: str, sample: dict[str, Any]
) -> None:
    lines = export_of(db)
    assert len(lines) == event_count(db) > 15
    assert all(
        set(x) == {"position", "stream", "version", "type", "recorded_at", "data", "prev", "hash"}
        for x in lines
    )
    assert lines[0]["prev"] == ZERO
    assert rehash(lines) == lines  # every hash is the canonical sha256, prev links them
    positions = [x["position"] for x in lines]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    created, first = lines[0], lines[1]
    assert created["type"] == "ledger.domain:LedgerIdentity.LedgerCreated"  # the first write's
    assert created["recorded_at"] == first["recorded_at"]
    assert first["stream"] == sample["session"].__str__()  # str(UUID), with dashes
    assert first["type"] == "ledger.domain:CoachingSession.Held"
    assert first["data"]["note"] == "first session ✓"
    assert first["data"]["originator_topic"] == "ledger.domain:CoachingSession"
    assert "timestamp" not in first["data"] and first["recorded_at"].endswith("Z")
    versions = [x["version"] for x in lines if x["stream"] == str(sample["calls"])]
    assert versions == [1, 2, 3, 4, 5, 6, 7]


def test_export_writes_non_ascii_unescaped_to_a_file(cli: Cli, tmp_path: Path) -> None:
    build_sample(cli.db)
    out = tmp_path / "x.jsonl"
    assert cli.ok(f"export -o {out}") == ""
    text = out.read_text("utf-8")
    assert "first session ✓" in text
    assert text.endswith("\n") and text.count("\n") == event_count(cli.db)


def test_verify_prints_count_and_head_and_checks_a_digest(cli: Cli) -> None:
    build_sample(cli.db)
    lines = export_of(cli.db)
    out = cli.ok("verify")
    assert out == f"{len(lines)} {lines[-1]['hash']}"
    assert cli.ok(f"verify --digest {lines[-1]['hash'].upper()}") == out
    wrong = cli(f"verify --digest {lines[-2]['hash']}")
    assert wrong.exit_code == 4
    assert f"hash of event {len(lines) - 1}" in wrong.stderr  # says what the digest matched
    assert cli("verify --digest abc").exit_code == 2


def test_verify_an_empty_ledger_gives_zero_events_and_the_zero_hash(cli: Cli) -> None:
    Ledger.open(cli.db).close()
    assert cli.ok("verify") == f"0 {ZERO}"
    assert cli.ok("export") == ""


def test_export_and_verify_of_a_missing_ledger_file_are_not_found_and_create_nothing(
    tmp_path: Path,
) -> None:
    missing = Cli(db=str(tmp_path / "typo.db"), views=str(tmp_path / "v.db"))
    for command in (["export"], ["verify"]):
        result = missing(command)
        assert result.exit_code == 3 and "no ledger at" in result.stderr
    assert not (tmp_path / "typo.db").exists()


TAMPERING = {
    "edit one event's data": (
        "UPDATE {table} SET state = CAST(REPLACE(CAST(state AS TEXT), '\"actual\":10.0', "
        "'\"actual\":12.0') AS BLOB) WHERE rowid = (SELECT rowid FROM {table} "
        "WHERE CAST(state AS TEXT) LIKE '%\"actual\":10.0%' LIMIT 1)",
        "UPDATE {table} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
        "'\"actual\":10.0', '\"actual\":12.0'), 'UTF8') WHERE notification_id = (SELECT "
        "notification_id FROM {table} WHERE convert_from(state, 'UTF8') LIKE "
        "'%\"actual\":10.0%' LIMIT 1)",
    ),
    "delete one event": (
        "DELETE FROM {table} WHERE rowid = 5",
        "DELETE FROM {table} WHERE notification_id = (SELECT min(notification_id) + 4 "
        "FROM {table})",
    ),
    "insert one event": (
        "INSERT INTO {table} SELECT originator_id, originator_version + 100, topic, state "
        "FROM {table} WHERE rowid = 6",
        "INSERT INTO {table} (originator_id, originator_version, topic, state) SELECT "
        "originator_id, originator_version + 100, topic, state FROM {table} "
        "ORDER BY notification_id OFFSET 5 LIMIT 1",
    ),
    "truncate the tail": (
        "DELETE FROM {table} WHERE rowid > (SELECT max(rowid) - 3 FROM {table})",
        "DELETE FROM {table} WHERE notification_id > (SELECT max(notification_id) - 3 "
        "FROM {table})",
    ),
}


def test_verify_reports_a_stored_event_that_cannot_be_read_with_exit_4(sqlite_db: str) -> None:
    build_sample(sqlite_db)
    raw_sql(sqlite_db, "INSERT INTO {table} VALUES ('not-a-uuid', 1, 'x', X'7B7D')", "")
    result = Cli(db=sqlite_db, views=sqlite_db + ".views")("verify")
    assert result.exit_code == 4 and "stream id 'not-a-uuid' is not in canonical form" in (
        result.stderr
    )


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_verify_digest_catches_tampering(cli: Cli, tampering: str) -> None:
    build_sample(cli.db)
    _count, digest = cli.ok("verify").split()
    sqlite_sql, pg_sql = TAMPERING[tampering]
    raw_sql(cli.db, sqlite_sql, pg_sql)
    after = cli(f"verify --digest {digest}")
    assert after.exit_code == 4, after.stderr
    plain = cli("verify")
    if plain.exit_code == 0:  # the chain is self-consistent again: only the digest tells
        assert "does not match the digest" in after.stderr
        assert plain.stdout.split()[1] != digest
    else:  # it left a version gap: plain verify names the position too (SPEC 7.2)
        assert plain.exit_code == 4 and "stored event at position" in plain.stderr
        assert after.stderr == plain.stderr


def test_export_import_export_round_trip_gives_identical_hashes(
    db: str, sample: dict[str, Any], tmp_path: Path, other_db: str
) -> None:
    before = export_of(db)
    copy = other_db
    path = write_jsonl(tmp_path / "export.jsonl", before)
    copy_cli = Cli(db=copy, views=str(tmp_path / "v2.db"))
    result = copy_cli(f"import {path}")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip() == f"read {len(before)}, imported {len(before)}, already present 0"
    after = export_of(copy)
    strip = [{k: v for k, v in x.items() if k != "position"} for x in before]
    assert [{k: v for k, v in x.items() if k != "position"} for x in after] == strip
    # The copy is a working ledger: its aggregates load and take new events.
    ledger = Ledger.open(copy)
    try:
        assert ledger.commitment(sample["calls"]).terms.target == 8
        ledger.record_session(
            cmd.validate(
                cmd.RecordSession, rep="alice", manager="bob", date="2026-03-01", actor="x"
            )
        )
    finally:
        ledger.close()


def test_importing_into_the_same_ledger_twice_adds_nothing(
    cli: Cli, sample: dict[str, Any], tmp_path: Path
) -> None:
    lines = export_of(cli.db)
    path = write_jsonl(tmp_path / "export.jsonl", lines)
    for _ in range(2):
        result = cli(f"import {path}")
        assert result.exit_code == 0, result.stderr
        assert (
            result.stderr.strip() == f"read {len(lines)}, imported 0, already present {len(lines)}"
        )
    assert export_of(cli.db) == lines


def test_import_reads_stdin_when_the_file_is_a_dash(
    db: str, sample: dict[str, Any], tmp_path: Path
) -> None:
    text = "\n".join(json.dumps(x) for x in export_of(db)) + "\n"
    target = Cli(db=str(tmp_path / "other.db"), views=str(tmp_path / "v.db"))
    result = target("import -", input=text)
    assert result.exit_code == 0, result.stderr
    assert event_count(target.db) == event_count(db)


def test_a_conflicting_event_refuses_the_whole_file_with_exit_5(
    cli: Cli, sample: dict[str, Any], tmp_path: Path
) -> None:
    lines = export_of(cli.db)
    count = len(lines)
    extra = rehash(
        [
            {**lines[3], "data": {**lines[3]["data"], "actor": "mallory"}},  # conflicts
            *lines,
        ]
    )
    # A fresh event after the conflict must not be written either.
    fresh = export_of(cli.db)[1:2]  # the session (line 1 is the ledger's LedgerCreated)
    assert fresh[0]["type"] == "ledger.domain:CoachingSession.Held"
    fresh[0]["stream"] = "00000000-0000-4000-8000-000000000001"
    fresh[0]["recorded_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # new
    path = write_jsonl(tmp_path / "conflict.jsonl", rehash([*fresh, *extra]))
    result = cli(f"import {path}")
    assert result.exit_code == 5, result.stderr
    assert "line 2" in result.stderr and "other content" in result.stderr
    assert event_count(cli.db) == count


def test_a_broken_chain_is_refused_naming_the_first_bad_line(
    db: str, sample: dict[str, Any], tmp_path: Path
) -> None:
    lines = export_of(db)
    lines[6]["data"]["note"] = "edited after export"
    path = write_jsonl(tmp_path / "broken.jsonl", lines)
    ledger = Ledger.open(str(tmp_path / "e.db"))
    try:
        with pytest.raises(IntegrityFailure, match=r"^line 7: broken hash chain"):
            import_lines(ledger, Path(path).read_text("utf-8").splitlines())
    finally:
        ledger.close()
    target = Cli(db=str(tmp_path / "e2.db"), views=str(tmp_path / "v.db"))
    result = target(f"import {path}")
    assert result.exit_code == 4
    assert "line 7" in result.stderr
    assert event_count(target.db) == 0


def test_a_deleted_line_breaks_the_chain_at_the_line_after_it(
    db: str, sample: dict[str, Any], tmp_path: Path, target: Cli
) -> None:
    lines = export_of(db)
    del lines[4]
    result = target(f"import {write_jsonl(tmp_path / 'gap.jsonl', lines)}")
    assert result.exit_code == 4 and "line 5: broken hash chain" in result.stderr


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda x: "{not json", "line 3: not JSON"),
        (lambda x: {**x, "type": "os:system"}, "line 3: unknown event type 'os:system'"),
        (lambda x: {**x, "stream": x["stream"].upper()}, "line 3: stream is not a lower-case"),
        (lambda x: {**x, "recorded_at": "yesterday"}, "line 3: recorded_at is not"),
        (lambda x: [x], "line 3: not a JSON object"),
    ],
)
def test_unparsable_or_invalid_lines_are_refused_with_exit_2(
    db: str, sample: dict[str, Any], tmp_path: Path, target: Cli, damage: Any, message: str
) -> None:
    exported = export_of(db)
    damaged = damage(exported[2])
    if isinstance(damaged, dict):  # keep the chain valid: the line itself is the problem
        exported = rehash([*exported[:2], damaged, *exported[3:]])
    lines = [json.dumps(x) for x in exported]
    if not isinstance(damaged, dict):
        lines[2] = damaged if isinstance(damaged, str) else json.dumps(damaged)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    result = target(f"import {path}")
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert event_count(target.db) == 0


def test_data_its_event_class_rejects_is_refused_even_with_a_valid_chain(
    db: str, sample: dict[str, Any], tmp_path: Path, target: Cli
) -> None:
    lines = export_of(db)
    checkin = next(i for i, x in enumerate(lines) if x["type"].endswith("CheckInRecorded"))
    lines[checkin]["data"]["date"] = "the fifth of never"
    result = target(f"import {write_jsonl(tmp_path / 'bad.jsonl', rehash(lines))}")
    assert result.exit_code == 2
    assert f"line {checkin + 1}: ledger.domain:Commitment.CheckInRecorded: date" in result.stderr
    lines[checkin]["data"] = {**export_of(db)[checkin]["data"], "sneaky": 1}
    result = target(f"import {write_jsonl(tmp_path / 'bad.jsonl', rehash(lines))}")
    assert result.exit_code == 2 and "unexpected field(s) in data: sneaky" in result.stderr
    assert event_count(target.db) == 0


def test_a_stream_that_would_skip_a_version_is_refused(
    db: str, sample: dict[str, Any], tmp_path: Path, target: Cli
) -> None:
    lines = export_of(db)
    calls = [x for x in lines if x["stream"] == str(sample["calls"])]
    result = target(f"import {write_jsonl(tmp_path / 'skip.jsonl', rehash([calls[0], calls[2]]))}")
    assert result.exit_code == 4
    assert "version 3 follows no version 2" in result.stderr
    assert event_count(target.db) == 0


def test_export_since_continues_the_chain_so_appending_keeps_it_verifiable(
    cli: Cli, sample: dict[str, Any], tmp_path: Path
) -> None:
    first = export_of(cli.db)
    ledger = Ledger.open(cli.db)
    try:
        ledger.record_session(
            cmd.validate(
                cmd.RecordSession, rep="carol", manager="bob", date="2026-02-01", actor="x"
            )
        )
    finally:
        ledger.close()
    since = first[-1]["position"]
    tail = [json.loads(x) for x in cli.ok(f"export --since {since}").splitlines()]
    assert len(tail) == 1 and tail[0]["prev"] == first[-1]["hash"]
    assert rehash(first + tail) == first + tail
    assert first + tail == export_of(cli.db)
    assert cli.ok("verify").split()[1] == tail[-1]["hash"]
    assert cli("export --since 999999").exit_code == 3

    # A copy holding the first export takes the appended part.
    copy = Cli(db=str(tmp_path / "copy.db"), views=str(tmp_path / "v.db"))
    copy.ok(f"import {write_jsonl(tmp_path / 'a.jsonl', first)}")
    result = copy(f"import {write_jsonl(tmp_path / 'b.jsonl', tail)}")
    assert result.stderr.strip() == "read 1, imported 1, already present 0"
    assert copy.ok("verify") == cli.ok("verify")


def test_import_is_one_transaction_across_many_batches(
    db: str, sample: dict[str, Any], tmp_path: Path
) -> None:
    lines = export_of(db)
    target = str(tmp_path / "t.db")
    bad = [*lines, {**lines[-1], "data": {**lines[-1]["data"], "actor": "other"}}]
    path = write_jsonl(tmp_path / "late.jsonl", rehash(bad))
    ledger = Ledger.open(target)
    try:
        with pytest.raises(Conflict):
            import_lines(ledger, Path(path).read_text("utf-8").splitlines(), batch=2)
        assert ledger.event_count() == 0
        summary = import_lines(ledger, Path(path).read_text("utf-8").splitlines()[:-1], batch=2)
        assert (summary.read, summary.imported, summary.present) == (len(lines),) * 2 + (0,)
    finally:
        ledger.close()


def copy_keys(source: str, target: str) -> None:
    """The people's keys of ``source`` into ``target``'s key store."""
    from ledger.keys import open_keystore

    with open_keystore(source) as a, open_keystore(target) as b:
        b.import_keys(a.export_keys())


def test_a_demo_ledger_round_trips_with_identical_hashes_and_verdicts(
    db: str, other_db: str, tmp_path: Path
) -> None:
    from cli.demo.generator import write_demo

    ledger = Ledger.open(db)
    try:
        written = write_demo(ledger, reps=6, weeks=6, seed=3)
    finally:
        ledger.close()
    path = write_jsonl(tmp_path / "demo.jsonl", export_of(db))
    copy_keys(db, other_db)  # a backup is the export plus the key store (SPEC §7.4)
    source = Cli(db=db, views=str(tmp_path / "v1.db"))
    copy = Cli(db=other_db, views=str(tmp_path / "v2.db"))
    result = copy(f"import {path}")
    assert (
        result.stderr.strip()
        == f"read {written.events}, imported {written.events}, already present 0"
    )
    assert copy.ok("verify") == source.ok("verify")
    assert [x["hash"] for x in export_of(other_db)] == [x["hash"] for x in export_of(db)]
    again = copy(f"import {path}")
    assert again.stderr.strip().endswith(f"imported 0, already present {written.events}")
    report = ["report", "coaching", "--as-of", "2099-12-31", "--format", "json"]
    assert copy.ok(report) == source.ok(report)
