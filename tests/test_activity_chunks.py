"""Activity stored as chunks of rows (issue 19): an import writes one
``ActivityChunk.Recorded`` per chunk of rows, older ledgers hold one
``Activity.Recorded`` per row, and every reader sees the same rows in both.
A (metric, source id) is recorded once across the two shapes (the store's
``activity_keys``), an import is all-or-nothing, an export of both shapes
imports with its keys, and ``--as-of`` / ``--on`` see a chunk's rows at the
chunk's ``recorded_at`` and at each row's own date."""

from __future__ import annotations

import dataclasses
import io
import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import projections.catchup as catchup
from ledger import commands as cmd
from ledger.activity_import import import_csv
from ledger.application import Ledger
from ledger.audit import export_lines
from ledger.domain import activity_id
from ledger.errors import Conflict, IntegrityFailure
from ledger.formats.activity_csv import ImportOptions, ImportRejected
from ledger.store import local_file
from projections.catchup import catch_up, rebuild
from projections.query import MetricSums, moment
from tests.conftest import (
    CHUNK_TOPIC,
    ROW_TOPIC,
    Cli,
    activity_states,
    chunk_notifications,
)

OPTIONS = ImportOptions(
    metric="calls", rep_column="rep", date_column="day", value_column="n", id_column="id"
)


def csv_bytes(rows: list[tuple[str, str, str, str]]) -> bytes:
    lines = ["id,rep,day,n", *(",".join(r) for r in rows)]
    return ("\n".join(lines) + "\n").encode()


def per_row(ledger: Ledger, source_id: str, day: str = "2026-01-05", value: float = 1.0) -> None:
    """One row recorded as its own ``Activity.Recorded`` (the shape of ledgers
    from before issue 19, still written by ``record_activity``)."""
    ledger.record_activity(
        cmd.RecordActivity(
            rep="ann",
            metric="calls",
            date=date.fromisoformat(day),
            value=value,
            source_id=source_id,
            actor="crm",
        )
    )


def imported(ledger: Ledger, rows: list[tuple[str, str, str, str]], **kw: Any) -> str:
    summary = import_csv(ledger, io.BytesIO(csv_bytes(rows)), OPTIONS, actor="crm", **kw)
    return str(summary)


def notes(ledger: Ledger) -> list[Any]:
    head = ledger.recorder.max_notification_id() or 0
    return list(ledger.recorder.select_notifications(start=1, limit=head + 1))


def keys_of(ledger: Ledger, source_ids: list[str]) -> set[str]:
    """Which of the source ids (metric ``calls``) the key table holds."""
    wanted = {activity_id("calls", s).hex: s for s in source_ids}
    recorder = ledger.recorder
    with recorder.datastore.transaction(commit=False) as curs:
        if not recorder._keys_present(curs):
            return set()
        return {wanted[k] for k, _ in recorder.activity_keys_among(curs, list(wanted), 0)}


def row(sid: str, day: str = "2026-01-05", n: str = "1") -> tuple[str, str, str, str]:
    return (sid, "ann", day, n)


# -- idempotent by (metric, source id) across both shapes -----------------------


def test_an_import_writes_one_chunk_event_per_chunk_of_rows(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        rows = [row(f"s{i}", n=str(i)) for i in range(7)]
        assert imported(ledger, rows, batch_size=3).startswith("7 rows read, 7 recorded")
        chunks = chunk_notifications(ledger)
        assert [len(json.loads(n.state)["rows"]) for n in chunks] == [3, 3, 1]
        assert not [n for n in notes(ledger) if n.topic == ROW_TOPIC]
        states = activity_states(notes(ledger))
        assert [(s["source_id"], s["value"]) for s in states] == [
            (f"s{i}", float(i)) for i in range(7)
        ]
        assert keys_of(ledger, [f"s{i}" for i in range(8)]) == {f"s{i}" for i in range(7)}
    finally:
        ledger.close()


def test_a_row_recorded_per_row_before_is_already_present_in_an_import(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        per_row(ledger, "s1")
        before = ledger.event_count()
        text = imported(ledger, [row("s1"), row("s2"), row("s3")])
        assert text == "3 rows read, 2 recorded, 1 already present, 0 filtered out"
        assert ledger.event_count() == before + 1  # one chunk
        (chunk,) = chunk_notifications(ledger)
        assert [r[3] for r in json.loads(chunk.state)["rows"]] == ["s2", "s3"]
    finally:
        ledger.close()


def test_a_row_imported_in_a_chunk_is_refused_as_a_per_row_event(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        imported(ledger, [row("s1"), row("s2")])
        before = ledger.event_count()
        with pytest.raises(Conflict):
            per_row(ledger, "s2")
        assert ledger.event_count() == before
        per_row(ledger, "s9")  # a new row is still recorded per row
        assert ledger.event_count() == before + 1
        assert keys_of(ledger, ["s1", "s2", "s9"]) == {"s1", "s2", "s9"}
    finally:
        ledger.close()


def test_rows_repeated_in_one_file_and_across_its_chunks_are_counted_as_repeated(
    db: str,
) -> None:
    ledger = Ledger.open(db)
    try:
        per_row(ledger, "old")
        rows = [row("a"), row("a"), row("b"), row("c"), row("old"), row("d"), row("b"), row("e")]
        text = imported(ledger, rows, batch_size=2)  # "a" twice in one chunk, "b" in two
        assert text == (
            "8 rows read, 5 recorded, 1 already present, 2 repeated in the file, 0 filtered out"
        )
        sids = [s["source_id"] for s in activity_states(notes(ledger))]
        assert sorted(sids) == ["a", "b", "c", "d", "e", "old"]
        # the same file again: nothing recorded; a row twice in one chunk is still
        # repeated, every other row already present (as with per-row storage)
        text = imported(ledger, rows, batch_size=2)
        assert text == (
            "8 rows read, 0 recorded, 7 already present, 1 repeated in the file, 0 filtered out"
        )
    finally:
        ledger.close()


def test_a_row_repeated_in_one_chunk_keeps_its_first_reading_in_order(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        rows = [row("a", n="1"), row("b", n="2"), row("a", n="7"), row("c", n="3")]
        assert imported(ledger, rows) == (
            "4 rows read, 3 recorded, 0 already present, 1 repeated in the file, 0 filtered out"
        )
        stored = [(s["source_id"], s["value"]) for s in activity_states(notes(ledger))]
        assert stored == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    finally:
        ledger.close()


def test_the_same_counts_for_the_same_file_as_per_row_storage_gave(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes([row("x1"), row("x2"), row("x1"), row("x3", n="2.5")]))
    options = "--metric calls --rep-column rep --date-column day --value-column n --id-column id"
    first = cli(f"activity import {path} {options}")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == ""
    assert "4 rows read, 3 recorded, 0 already present, 1 repeated in the file" in first.stderr
    again = cli(f"activity import {path} {options}")
    assert again.exit_code == 0, again.stderr
    assert "4 rows read, 0 recorded, 3 already present, 1 repeated in the file" in again.stderr


def test_keys_held_back_for_several_chunks_give_what_a_flush_per_chunk_gives(db: str) -> None:
    """The writer holds the keys of up to ``KEY_BATCH_ROWS`` rows back and
    inserts them together; a row stored before (per row, or by an earlier
    import) or repeated across the held-back chunks makes it write them again
    with lookups. Whatever the number held back, the same counts, the same
    rows in the same chunks and the same keys, and verify passes."""
    from ledger.audit import verify

    def run(metric: str) -> tuple[list[str], list[Any], set[str]]:
        for sid in ("p1", "p5"):  # stored per row before, met in later chunks
            ledger.record_activity(
                cmd.RecordActivity(
                    rep="ann",
                    metric=metric,
                    date=date(2026, 1, 5),
                    value=9.0,
                    source_id=sid,
                    actor="crm",
                )
            )
        options = dataclasses.replace(OPTIONS, metric=metric)
        first = [row("a", n="1"), row("b", n="2"), row("a", n="3"), row("c"), row("p1")]
        first += [row("d"), row("b", n="4"), row("e"), row("f"), row("p5"), row("g")]
        first += [row("e", n="5"), row("h")]
        second = [row("g"), row("h"), row("i"), row("j"), row("i", n="6"), row("k"), row("p1")]
        texts = [
            str(import_csv(ledger, io.BytesIO(csv_bytes(f)), options, actor="crm", batch_size=2))
            for f in (first, first, second, [row("m"), row("n")])
        ]
        chunks = [json.loads(n.state) for n in chunk_notifications(ledger)]
        rows = [c["rows"] for c in chunks if c["metric"] == metric]
        wanted = {activity_id(metric, r[0]).hex: r[0] for r in [*first, *second, ("m",), ("n",)]}
        recorder = ledger.recorder
        with recorder.datastore.transaction(commit=False) as curs:
            found = {wanted[k] for k, _ in recorder.activity_keys_among(curs, list(wanted), 0)}
        return texts, rows, found

    ledger = Ledger.open(db)
    try:
        results = []
        # keys held back: never, from the first row on for 1, 2 or 3 chunks or
        # all of them, after the first chunks for 3 chunks
        for start, held in ((10**9, 1), (0, 1), (0, 3), (0, 5), (0, 10**9), (3, 5)):
            with (
                mock.patch("ledger.activity_import.HOLD_KEYS_FROM", start),
                mock.patch("ledger.activity_import.KEY_BATCH_ROWS", held),
            ):
                results.append(run(f"calls{start}-{held}"))
        texts, rows, found = results[0]
        assert texts[0] == (
            "13 rows read, 8 recorded, 2 already present, 3 repeated in the file, 0 filtered out"
        )
        assert texts[1] == "13 rows read, 0 recorded, 13 already present, 0 filtered out"
        assert texts[2].startswith("7 rows read, 3 recorded, 3 already present, 1 repeated")
        assert rows[0] == [["ann", "2026-01-05", 1.0, "a"], ["ann", "2026-01-05", 2.0, "b"]]
        assert found == set("abcdefghijkmn") | {"p1", "p5"}
        for other in results[1:]:
            assert other == (texts, rows, found)
        verify(ledger)
    finally:
        ledger.close()


# -- all-or-nothing -------------------------------------------------------------


def test_a_bad_row_late_in_a_big_file_writes_nothing_not_even_keys(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        per_row(ledger, "s5")
        before = ledger.event_count()
        rows = [row(f"s{i}", n=str(i % 7)) for i in range(3000)] + [row("bad", day="31-02-2026")]
        with pytest.raises(ImportRejected):
            imported(ledger, rows, batch_size=500)  # six chunks written, then rolled back
        assert ledger.event_count() == before
        assert chunk_notifications(ledger) == []
        assert keys_of(ledger, [f"s{i}" for i in range(3000)]) == {"s5"}
        # and the file, once fixed, imports whole
        text = imported(ledger, rows[:-1], batch_size=500)
        assert text == "3000 rows read, 2999 recorded, 1 already present, 0 filtered out"
    finally:
        ledger.close()


# -- a ledger from before issue 19 ----------------------------------------------


def drop_keys(ledger: Ledger) -> None:
    """Make the store look as one written before issue 19: no key table."""
    recorder = ledger.recorder
    with recorder.datastore.transaction(commit=True) as curs:
        if local_file(ledger.db):
            curs.execute("DROP TABLE activity_keys")
        else:
            curs.execute(f'DROP TABLE "{recorder.datastore.schema}".activity_keys')


def test_a_ledger_without_the_key_table_gets_it_filled_from_its_per_row_events(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        for sid in ("s1", "s2"):
            per_row(ledger, sid)
        drop_keys(ledger)
        assert keys_of(ledger, ["s1", "s2"]) == set()
        text = imported(ledger, [row("s1"), row("s3")])
        assert text == "2 rows read, 1 recorded, 1 already present, 0 filtered out"
        assert keys_of(ledger, ["s1", "s2", "s3"]) == {"s1", "s2", "s3"}
        drop_keys(ledger)
        per_row(ledger, "s4")  # a per-row write creates it too, with every row stored
        assert keys_of(ledger, ["s1", "s2", "s3", "s4"]) == {"s1", "s2", "s3", "s4"}
        with pytest.raises(Conflict):
            per_row(ledger, "s3")
    finally:
        ledger.close()


# -- export and import ----------------------------------------------------------


def test_an_export_of_both_shapes_imports_with_its_keys(
    db: str, other_db: str, tmp_path: Path
) -> None:
    ledger = Ledger.open(db)
    try:
        per_row(ledger, "p1")
        per_row(ledger, "p2")
        imported(ledger, [row("c1"), row("c2"), row("p1"), row("c3")], batch_size=2)
        lines = list(export_lines(ledger))
    finally:
        ledger.close()
    types = [json.loads(x)["type"] for x in lines]
    assert types.count(ROW_TOPIC) == 2 and types.count(CHUNK_TOPIC) == 2
    path = tmp_path / "export.jsonl"
    path.write_text("".join(x if x.endswith("\n") else x + "\n" for x in lines), "utf-8")
    other = Cli(db=other_db, views=str(tmp_path / "other.views.db"))
    result = other(f"import {path}")
    assert result.exit_code == 0, result.stderr
    copy = Ledger.open(other_db)
    try:
        sids = ["p1", "p2", "c1", "c2", "c3"]
        assert keys_of(copy, sids) == set(sids)
        assert sorted(s["source_id"] for s in activity_states(notes(copy))) == sorted(sids)
        # the CSV again, and a per-row write of a row of a chunk: nothing recorded
        text = imported(copy, [row("c1"), row("c2"), row("p1"), row("c3")])
        assert text == "4 rows read, 0 recorded, 4 already present, 0 filtered out"
        with pytest.raises(Conflict):
            per_row(copy, "c2")
    finally:
        copy.close()
    assert other(f"import {path}").exit_code == 0  # the same file again: all present
    assert other("verify").exit_code == 0


def test_an_export_whose_chunk_repeats_a_stored_row_is_refused_whole(
    db: str, other_db: str, tmp_path: Path
) -> None:
    copy = Ledger.open(other_db)
    try:
        per_row(copy, "c2", value=5.0)  # the same row id, recorded in the copy (earlier)
        before = copy.event_count()
    finally:
        copy.close()
    ledger = Ledger.open(db)
    try:
        imported(ledger, [row("c1"), row("c2")])
        lines = list(export_lines(ledger))
    finally:
        ledger.close()
    path = tmp_path / "export.jsonl"
    path.write_text("".join(x if x.endswith("\n") else x + "\n" for x in lines), "utf-8")
    other = Cli(db=other_db, views=str(tmp_path / "other.views.db"))
    result = other(f"import {path}")
    assert result.exit_code == IntegrityFailure.exit_code
    assert "already in the ledger" in result.stderr and "nothing was imported" in result.stderr
    copy = Ledger.open(other_db)
    try:
        assert copy.event_count() == before
        assert keys_of(copy, ["c1", "c2"]) == {"c2"}
    finally:
        copy.close()


# -- the read model: --as-of and --on -------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize("in_sqlite", [True, False], ids=["sql-pages", "python-applier"])
def test_as_of_before_a_chunks_recorded_at_hides_its_rows_and_on_reads_each_rows_date(
    sqlite_db: str, tmp_path: Path, in_sqlite: bool
) -> None:
    clock = Clock()
    ledger = Ledger.open(sqlite_db, clock=clock)
    views = str(tmp_path / "views.db")
    try:
        per_row(ledger, "p1", day="2026-01-05", value=1.0)  # recorded 2026-01-10
        clock.now = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
        rows = [row("c1", "2026-01-05", "10"), row("c2", "2026-01-12", "100")]
        imported(ledger, rows)  # one chunk, recorded 2026-01-20
        with mock.patch.object(catchup, "USE_SQL", in_sqlite):
            catch_up(ledger, views)
    finally:
        ledger.close()
    conn = sqlite3.connect(views)
    try:

        def total(as_of: str, on: str) -> float:
            sums = MetricSums(conn, moment(as_of=as_of, on=on))
            return sums.for_rep("ann")("calls", date(2026, 1, 1), date(2026, 1, 31))

        assert total("2026-01-15", "2026-01-31") == 1.0  # the chunk not recorded yet
        assert total("2026-01-21", "2026-01-31") == 111.0
        assert total("2026-01-21", "2026-01-06") == 11.0  # c2's date is after --on
        daily = conn.execute(
            "SELECT date, recorded_at, value, rows FROM activity_daily ORDER BY date, recorded_at"
        ).fetchall()
    finally:
        conn.close()
    assert daily == [
        ("2026-01-05", "2026-01-10T09:00:00.000000Z", 1.0, 1),
        ("2026-01-05", "2026-01-20T09:00:00.000000Z", 10.0, 1),
        ("2026-01-12", "2026-01-20T09:00:00.000000Z", 100.0, 1),
    ]


def test_both_appliers_and_a_rebuild_read_chunks_and_per_row_events_alike(
    db: str, tmp_path: Path
) -> None:
    ledger = Ledger.open(db)
    try:
        per_row(ledger, "p1")
        imported(ledger, [row(f"c{i}", n=str(i)) for i in range(50)] + [row("p1")], batch_size=7)
        per_row(ledger, "p2", day="2026-01-06", value=2.0)
        dumps = []
        for n, in_sqlite in enumerate((True, False)):
            with mock.patch.object(catchup, "USE_SQL", in_sqlite):
                path = str(tmp_path / f"views{n}.db")
                catch_up(ledger, path, page_size=3)
                dumps.append(catchup.table_dump(path))
                full = str(tmp_path / f"full{n}.db")
                rebuild(ledger, full)
                dumps.append(catchup.table_dump(full))
        # the Python applier's pages end early at CHUNK_BYTES_PER_PAGE of chunks: no row lost
        with (
            mock.patch.object(catchup, "USE_SQL", False),
            mock.patch.object(catchup, "CHUNK_BYTES_PER_PAGE", 1),
            mock.patch.object(catchup, "_PART", 2),
        ):
            path = str(tmp_path / "small-pages.db")
            assert catch_up(ledger, path, page_size=50) > 0
            dumps.append(catchup.table_dump(path))
    finally:
        ledger.close()
    assert len(dumps) == 5 and all(d == dumps[0] for d in dumps)
    conn = sqlite3.connect(str(tmp_path / "views0.db"))
    try:
        found = conn.execute("SELECT sum(value), sum(rows) FROM activity_daily").fetchone()
    finally:
        conn.close()
    assert found == (1.0 + sum(range(50)) + 2.0, 52)


# -- the chunk's stored bytes ---------------------------------------------------

ROW_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@example(rows=[("ann", date(2026, 1, 5), 0.0, "a"), ("ann", date(2026, 1, 5), -0.0, "b")])
@given(
    rows=st.lists(
        st.tuples(
            ROW_TEXT | st.sampled_from(['a"b', "a\\b", "Zoë\u2028", "ann"]),
            st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 31)),
            st.floats(min_value=0, max_value=1e12) | st.sampled_from([0.0, -0.0, 3, 1e-7, 1e11]),
            ROW_TEXT | st.sampled_from(['"', "\\", "\x7f", "é", "a\u2028b"]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_a_chunk_is_stored_as_the_mapper_stores_the_same_event(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, date, float, str]]
) -> None:
    # The writer splices its rows' JSON into the state; the mapper encodes the
    # whole event: the bytes are the same, -0.0 after 0.0 (one dict key) included.
    from ledger.activity_import import _ActivityWriter
    from ledger.formats.activity_csv import ActivityRow

    ledger = Ledger.open(str(tmp_path_factory.mktemp("chunk") / "ledger.db"))
    try:
        writer = _ActivityWriter(ledger, datetime(2026, 11, 29, 12, tzinfo=UTC))
        batch = [ActivityRow(rep, "calls", day, value, sid, "crm") for rep, day, value, sid in rows]
        for _ in range(2):  # the second time from the writer's caches
            assert writer._state("calls", "crm", batch) == writer._slow_state("calls", "crm", batch)
    finally:
        ledger.close()


# -- verify checks the key table against the events ------------------------------


def _keys_sql(ledger: Ledger, sql: str, *args: Any) -> None:
    """Run ``sql`` on the key table behind the ledger's back (``{keys}``: its name)."""
    recorder: Any = ledger.recorder
    schema = "" if local_file(ledger.db) else f'"{recorder.datastore.schema}".'
    table = f"{schema}activity_keys"
    marks = sql.format(keys=table)
    if not local_file(ledger.db):
        marks = marks.replace("?", "%s")
    with recorder.datastore.transaction(commit=True) as curs:
        curs.execute(marks, args)


@pytest.mark.parametrize(
    "edit",
    [
        ("forged", "INSERT INTO {keys} (id, position) VALUES (?, ?)"),
        ("removed", "DELETE FROM {keys} WHERE id = ?"),
        ("moved", "UPDATE {keys} SET position = position + ? WHERE id = ?"),
    ],
    ids=lambda e: e[0],
)
def test_verify_refuses_a_key_table_edited_behind_the_ledgers_back(
    db: str, edit: tuple[str, str]
) -> None:
    """A forged key would make a later import skip that row as already present;
    a removed one would let a row be recorded twice: verify compares the table
    with the keys of the activity events (both shapes) and refuses (exit 4)."""
    from ledger.audit import verify

    ledger = Ledger.open(db)
    try:
        per_row(ledger, "s1")
        imported(ledger, [row("s2"), row("s3")])
        verify(ledger)  # faithful: passes
        kind, sql = edit
        forged = activity_id("calls", "never-imported")
        kept = activity_id("calls", "s2")
        args: dict[str, tuple[Any, ...]] = {
            "forged": (forged.hex if local_file(db) else forged, 1),
            "removed": (kept.hex if local_file(db) else kept,),
            "moved": (1, kept.hex if local_file(db) else kept),
        }
        _keys_sql(ledger, sql, *args[kind])
        with pytest.raises(IntegrityFailure, match="activity key table does not match"):
            verify(ledger)
    finally:
        ledger.close()


def test_verify_passes_a_ledger_without_the_key_table_and_refuses_through_the_cli(
    cli: Cli,
) -> None:
    """A ledger from before the table (dropped here) verifies: its next write
    fills it. Through the command, a forged key is exit 4 with one line."""
    ledger = Ledger.open(cli.db)
    try:
        per_row(ledger, "s1")
        drop_keys(ledger)
    finally:
        ledger.close()
    assert cli("verify").exit_code == 0
    ledger = Ledger.open(cli.db)
    try:
        imported(ledger, [row("s2")])  # creates the table, filled from the events
        forged = activity_id("calls", "never-imported")
        _keys_sql(
            ledger,
            "INSERT INTO {keys} (id, position) VALUES (?, ?)",
            forged.hex if local_file(cli.db) else forged,
            2,
        )
    finally:
        ledger.close()
    result = cli("verify")
    assert result.exit_code == 4 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "activity key table does not match" in result.stderr


def _chunk_state_sql(ledger: Ledger, state: bytes) -> None:
    """Put ``state`` in place of the (only) chunk event's, behind the ledger's back."""
    recorder: Any = ledger.recorder
    schema = "" if local_file(ledger.db) else f'"{recorder.datastore.schema}".'
    sql = f"UPDATE {schema}{recorder.events_table_name} SET state = ? WHERE topic = ?"
    if not local_file(ledger.db):
        sql = sql.replace("?", "%s")
    with recorder.datastore.transaction(commit=True) as curs:
        curs.execute(sql, (state, CHUNK_TOPIC))


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(lambda rows: [*rows, "x"], id="a row that is not a list"),
        pytest.param(lambda rows: [*rows, ["alice", "2026-01-05", 1.0]], id="a row of 3 cells"),
        pytest.param(lambda rows: [*rows, ["alice", "2026-01-05", 1.0, 7]], id="a number as id"),
        pytest.param(lambda rows: "x", id="rows that are not a list"),
    ],
)
def test_verify_refuses_a_chunk_whose_rows_are_not_rows(db: str, rows: Any) -> None:
    """A chunk edited (in canonical JSON) so that a row is not [rep, date,
    value, source id]: verify refuses it (exit 4), naming its position, rather
    than failing on it (test_tamper_properties found exit 1)."""
    from ledger.audit import verify
    from ledger.persistence import canonical

    ledger = Ledger.open(db)
    try:
        imported(ledger, [row("s1"), row("s2")])
        state = json.loads(chunk_notifications(ledger)[0].state)
        state["rows"] = rows(state["rows"])
        _chunk_state_sql(ledger, canonical(state).encode())
        with pytest.raises(IntegrityFailure, match=r"position \d+: an activity chunk whose rows"):
            verify(ledger)
    finally:
        ledger.close()
