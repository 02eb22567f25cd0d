"""``commitments activity import``: CSV rows become activity events, all or nothing.

Runs on SQLite and PostgreSQL (the ``cli`` fixture), mostly on the real CRM
sample in ``examples/crm``; expectations are computed here from the CSV
with the ``csv`` module, not taken from the importer.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.utils import get_topic

from ledger.activity_import import import_csv
from ledger.application import Ledger
from ledger.domain import ActivityChunk, activity_id
from ledger.errors import InvalidInput
from ledger.formats.activity_csv import (
    MAX_ERRORS,
    ActivityRow,
    ImportOptions,
    ImportRejected,
    Where,
)
from ledger.persistence import PlainJSONTranscoder, PydanticMapper
from tests.conftest import CRM, Cli, activity_count, activity_states, chunk_notifications

PIPELINE = CRM / "sales_pipeline.csv"
ENGAGEMENTS = (
    "--metric engagements --rep-column sales_agent --date-column engage_date"
    " --id-column opportunity_id --date-format %d-%m-%y"
)
WON = (
    "--metric won_value --rep-column sales_agent --date-column close_date"
    " --value-column close_value --date-format %d-%m-%y --where deal_stage=Won"
)


def pipeline_rows() -> list[dict[str, str]]:
    with PIPELINE.open(newline="") as f:
        return list(csv.DictReader(f))


def dmy(text: str) -> str:
    """``dd-mm-yy`` -> ISO, by hand (not strptime, the importer's tool)."""
    d, m, y = text.split("-")
    return f"20{y}-{m}-{d}"


def activities(db: str, *, names: bool = True) -> list[dict[str, Any]]:
    """The stored ``Activity.Recorded`` states, read straight from the recorder;
    with ``names``, each rep's subject id replaced by the person's name
    (``rep_subject`` keeps the id)."""
    ledger = Ledger.open(db)
    try:
        out: list[dict[str, Any]] = []
        pos = 0
        while True:
            page = ledger.recorder.select_notifications(
                start=pos, limit=5000, inclusive_of_start=False
            )
            if not page:
                if names:
                    known: dict[str, str] = {}
                    for a in out:
                        ref = a["rep_subject"] = a["rep"]
                        if ref not in known:
                            known[ref] = ledger.person_name(ref)
                        a["rep"] = known[ref]
                return out
            pos = page[-1].id
            out += activity_states(page)
    finally:
        ledger.close()


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> str:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


# -- the real CRM file -------------------------------------------------------------


def test_engagements_and_won_value_match_a_count_of_the_csv(cli: Cli) -> None:
    rows = pipeline_rows()
    engaged = [r for r in rows if r["engage_date"]]
    won = [r for r in rows if r["deal_stage"] == "Won"]

    r1 = cli(f"activity import {PIPELINE} {ENGAGEMENTS} --where engage_date")
    r2 = cli(f"activity import {PIPELINE} {WON}")
    assert (r1.exit_code, r2.exit_code) == (0, 0), (r1.stderr, r2.stderr)
    assert f"{len(rows)} rows read, {len(engaged)} recorded, 0 already present" in r1.stderr
    assert f"{len(won)} recorded" in r2.stderr
    assert f"{len(rows) - len(won)} filtered out" in r2.stderr

    stored = activities(cli.db)
    by_metric = defaultdict(list)
    for a in stored:
        by_metric[a["metric"]].append(a)
    assert len(stored) == activity_count(cli.db) == len(engaged) + len(won)

    eng = {a["source_id"]: (a["rep"], a["date"], a["value"]) for a in by_metric["engagements"]}
    assert eng == {
        r["opportunity_id"]: (r["sales_agent"], dmy(r["engage_date"]), 1.0) for r in engaged
    }
    per_rep: Counter[tuple[str, str]] = Counter()
    for r in won:
        per_rep[r["sales_agent"], dmy(r["close_date"])] += int(r["close_value"])
    got: Counter[tuple[str, str]] = Counter()
    for a in by_metric["won_value"]:
        got[a["rep"], a["date"]] += a["value"]
        assert a["source_id"].startswith("sha256:")
    assert got == per_rep
    # one import, one recorded_at
    assert len({a["timestamp"] for a in by_metric["engagements"]}) == 1
    assert len({a["timestamp"] for a in by_metric["won_value"]}) == 1


def test_reimporting_the_same_file_records_nothing(cli: Cli) -> None:
    cli.ok(f"activity import {PIPELINE} {ENGAGEMENTS} --where engage_date")
    cli.ok(f"activity import {PIPELINE} {WON}")
    before = activity_count(cli.db)

    again = cli(f"activity import {PIPELINE} {ENGAGEMENTS} --where engage_date")
    won_again = cli(f"activity import {PIPELINE} {WON}")

    assert activity_count(cli.db) == before
    assert "0 recorded, 8300 already present, 500 filtered out" in again.stderr
    assert "0 recorded, 4238 already present" in won_again.stderr


def test_prospecting_rows_without_engage_date_are_errors_with_line_numbers(cli: Cli) -> None:
    with PIPELINE.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        missing = [reader.line_num for row in reader if not row[5]]
    assert len(missing) == 500

    result = cli(f"activity import {PIPELINE} {ENGAGEMENTS}")

    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[:MAX_ERRORS] == [
        f"{PIPELINE}:{n}: missing date: column 'engage_date' is empty" for n in missing[:MAX_ERRORS]
    ]
    assert len(lines) == MAX_ERRORS + 1
    assert "500 bad rows of 8800" in lines[-1] and "nothing was written" in lines[-1]
    assert activity_count(cli.db) == 0


def test_a_where_on_deal_stage_skips_the_prospecting_rows_too(cli: Cli) -> None:
    out = cli(f"activity import {PIPELINE} {ENGAGEMENTS} --where deal_stage!=Prospecting")
    assert out.exit_code == 0, out.stderr
    assert "8300 recorded, 0 already present, 500 filtered out" in out.stderr


def test_stdin_is_read_when_the_file_is_a_dash(cli: Cli) -> None:
    text = PIPELINE.read_text()
    out = cli(f"activity import - {WON}", input=text)
    assert out.exit_code == 0, out.stderr
    assert out.stderr.startswith("<stdin>: 8800 rows read, 4238 recorded")
    assert out.stdout == ""


# -- idempotence and all-or-nothing ---------------------------------------------------


def test_an_overlapping_file_records_only_the_new_rows(cli: Cli, tmp_path: Path) -> None:
    with PIPELINE.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader if r[5]]
    first = write_csv(tmp_path / "jan.csv", header, rows[:300])
    second = write_csv(tmp_path / "feb.csv", header, rows[200:450])
    cli.ok(f"activity import {first} {ENGAGEMENTS}")
    assert activity_count(cli.db) == 300

    out = cli(f"activity import {second} {ENGAGEMENTS}")

    assert "250 rows read, 150 recorded, 100 already present" in out.stderr
    assert activity_count(cli.db) == 450
    assert {a["source_id"] for a in activities(cli.db)} == {r[0] for r in rows[:450]}


def test_one_bad_row_writes_nothing_and_names_its_line(cli: Cli, tmp_path: Path) -> None:
    good = [["a1", "alice", "05-01-17", "3"], ["a2", "bob", "06-01-17", "4"]]
    path = write_csv(
        tmp_path / "calls.csv",
        ["id", "rep", "day", "n"],
        [*good, ["a3", "carol", "31-02-17", "5"], ["a4", "dan", "07-01-17", "1"]],
    )
    args = ("--metric", "calls", "--rep-column", "rep", "--date-column", "day")
    out = cli(
        ["activity", "import", path, *args, "--value-column", "n", "--id-column", "id",
        "--date-format", "%d-%m-%y"],
    )  # fmt: skip
    assert out.exit_code == 2
    assert out.stderr.splitlines() == [
        f"{path}:4: date '31-02-17' in column 'day' does not match --date-format %d-%m-%y",
        "error: import aborted: 1 bad row of 4 (listed); nothing was written",
    ]
    assert activity_count(cli.db) == 0


def test_a_bad_row_after_several_written_batches_still_writes_nothing(
    db: str, tmp_path: Path
) -> None:
    rows = [[f"id{i}", f"rep{i % 7}", "2017-03-01", str(i % 5)] for i in range(2500)]
    rows.append(["bad", "rep1", "2017-03-01", "-2"])
    path = write_csv(tmp_path / "big.csv", ["id", "rep", "day", "n"], rows)
    options = ImportOptions(
        metric="calls", rep_column="rep", date_column="day", value_column="n", id_column="id"
    )
    with open(path, "rb") as f, pytest.raises(ImportRejected) as caught:
        import_csv(Ledger.open(db), f, options, actor="me", batch_size=1000)

    assert [str(e) for e in caught.value.errors] == [
        "line 2502: value '-2' in column 'n' must be a finite number >= 0"
    ]
    assert activity_count(db) == 0


def test_each_kind_of_bad_row_gets_its_reason(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bad.csv",
        ["id", "rep", "day", "n"],
        [
            ["a", "", "2017-01-02", "1"],
            ["b", "ann", "2017/01/02", "1"],
            ["c", "ann", "2017-01-02", "many"],
            ["d", "ann", "2017-01-02", "nan"],
            ["d2", "ann", "2017-01-02", "2e12"],
            ["d3", "ann", "1017-01-02", "1"],
            ["", "ann", "2017-01-02", "1"],
            ["f", "ann"],
            ["g", "ann", "2017-01-02", "2"],
        ],
    )
    out = cli(
        f"activity import {path} --metric calls --rep-column rep --date-column day "
        "--value-column n --id-column id",
    )
    assert out.exit_code == 2
    assert out.stderr.splitlines()[:-1] == [
        f"{path}:2: missing rep: column 'rep' is empty",
        f"{path}:3: date '2017/01/02' in column 'day' does not match --date-format %Y-%m-%d",
        f"{path}:4: value 'many' in column 'n' is not a number",
        f"{path}:5: value 'nan' in column 'n' must be a finite number >= 0",
        f"{path}:6: value '2e12' in column 'n' is above 1e+12",
        f"{path}:7: date '1017-01-02' in column 'day' is outside 1900-01-01 to 2999-12-31",
        f"{path}:8: missing id: column 'id' is empty",
        f"{path}:9: has 2 fields, the header has 4",
    ]
    assert "8 bad rows of 9" in out.stderr
    assert activity_count(cli.db) == 0


def test_only_the_first_twenty_bad_rows_are_listed(cli: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bad.csv", ["rep", "day"], [["ann", "soon"] for _ in range(45)])
    out = cli(f"activity import {path} --metric m --rep-column rep --date-column day")
    lines = out.stderr.splitlines()
    assert out.exit_code == 2
    assert [line.split(":")[1] for line in lines[:-1]] == [str(n) for n in range(2, 22)]
    assert "45 bad rows of 45 (the first 20 are listed)" in lines[-1]


def test_an_unknown_column_is_refused_naming_the_header_line(cli: Cli) -> None:
    out = cli(f"activity import {PIPELINE} {ENGAGEMENTS} --where stage=Won")
    assert out.exit_code == 2
    assert out.stderr.startswith(
        f"{PIPELINE}:1: --where stage=Won: no column 'stage' in the header (columns: "
        "opportunity_id, sales_agent,"
    )
    assert out.stderr.splitlines()[-1] == (
        "error: import aborted: the header lacks the columns named above; nothing was written"
    )
    assert activity_count(cli.db) == 0


def test_without_an_id_column_identical_rows_are_one_activity(cli: Cli, tmp_path: Path) -> None:
    rows = [
        ["ann", "2017-01-02", "call"],
        ["ann", "2017-01-02", "call"],
        ["ann", "2017-01-03", "call"],
    ]
    path = write_csv(tmp_path / "calls.csv", ["rep", "day", "kind"], rows)
    args = ("--metric", "calls", "--rep-column", "rep", "--date-column", "day")

    out = cli(["activity", "import", path, *args])
    again = cli(["activity", "import", path, *args])

    assert "3 rows read, 2 recorded, 0 already present, 1 repeated in the file" in out.stderr
    assert "3 rows read, 0 recorded, 2 already present, 1 repeated in the file" in again.stderr
    assert activity_count(cli.db) == 2


# -- --where -------------------------------------------------------------------------


WHERE_ROWS = [
    ["o1", "ann", "2017-01-02", "Won", "big"],
    ["o2", "ann", "2017-01-03", "Lost", ""],
    ["o3", "bob", "2017-01-04", "Won", ""],
    ["o4", "bob", "2017-01-05", "Engaging", "  "],
    ["o5", "cy", "2017-01-06", " Won ", "x"],
]


@pytest.mark.parametrize(
    ("wheres", "kept"),
    [
        (("stage=Won",), {"o1", "o3", "o5"}),
        (("stage!=Won",), {"o2", "o4"}),
        (("note",), {"o1", "o5"}),
        (("stage=Won", "note", "rep!=cy"), {"o1"}),
        (("note=",), {"o2", "o3", "o4"}),
    ],
    ids=["equals", "not-equals", "non-empty", "all-must-hold", "equals-empty"],
)
def test_where_filters_keep_only_matching_rows(
    cli: Cli, tmp_path: Path, wheres: tuple[str, ...], kept: set[str]
) -> None:
    path = write_csv(tmp_path / "w.csv", ["id", "rep", "day", "stage", "note"], WHERE_ROWS)
    args = [a for w in wheres for a in ("--where", w)]
    out = cli(
        ["activity", "import", path, "--metric", "m", "--rep-column", "rep",
        "--date-column", "day", "--id-column", "id", *args],
    )  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert {a["source_id"] for a in activities(cli.db)} == kept
    assert f"{len(kept)} recorded, 0 already present, {5 - len(kept)} filtered out" in out.stderr


def test_where_parses_its_three_forms() -> None:
    assert Where.parse("deal_stage=Won") == Where("deal_stage", "=", "Won")
    assert Where.parse("deal_stage!=Lost") == Where("deal_stage", "!=", "Lost")
    assert Where.parse("engage_date") == Where("engage_date", "nonempty")
    assert Where.parse("note=a=b") == Where("note", "=", "a=b")
    assert Where.parse("x=") == Where("x", "=", "")
    with pytest.raises(InvalidInput):
        Where.parse("=Won")


def test_a_date_format_that_cannot_give_a_whole_date_is_refused(cli: Cli) -> None:
    out = cli(
        f"activity import {PIPELINE} --metric m --rep-column sales_agent --date-column engage_date "
        "--date-format %m-%y",
    )
    assert out.exit_code == 2
    assert "--date-format '%m-%y' does not give a whole date" in out.stderr


# -- the writer's stored events against the real mapper ----------------------------

TRICKY_ROWS = [
    ActivityRow("Moses Frase", "engagements", date(2016, 10, 20), 1.0, "1C1I7A6R", "me"),
    ActivityRow('Zoë "Z" \\ O\'Neil', "wön", date(2017, 1, 2), 4514.0, 'a"b\\c\u2028', "ünï"),
    ActivityRow("x", "m", date(2017, 12, 31), 0.1 + 0.2, "sha256:" + "f" * 64, "a"),
    ActivityRow("x", "m", date(2017, 12, 31), 1e20, "id\u00e9", "a"),
    ActivityRow("x", "m", date(2017, 12, 31), -0.0, "minus zero", "a"),
]


def test_written_rows_are_stored_as_the_mapper_stores_their_chunk_events(db: str) -> None:
    at = datetime(2026, 11, 28, 23, 0, 0, 120, tzinfo=UTC)
    ledger = Ledger.open(db, clock=lambda: at)
    counts = ledger.record_activity_rows(TRICKY_ROWS)  # one batch: the first chunk decides
    assert counts.recorded == len(TRICKY_ROWS)

    # one chunk per run of rows of one metric and actor, in the rows' order
    mapper = PydanticMapper(transcoder=PlainJSONTranscoder())
    runs: list[list[ActivityRow]] = []
    for row in TRICKY_ROWS:
        if runs and (runs[-1][0].metric, runs[-1][0].actor) == (row.metric, row.actor):
            runs[-1].append(row)
        else:
            runs.append([row])
    expected = []
    for run in runs:
        chunk = ActivityChunk.record(
            at=at,
            metric=run[0].metric,
            rows=tuple((r.rep, r.date, r.value, r.source_id) for r in run),
            actor=run[0].actor,
        )
        stored = mapper.to_stored_event(chunk.collect_events()[0])
        expected.append((stored.topic, stored.state))
    found = [
        (n.topic, n.state)
        for n in ledger.recorder.select_notifications(start=1, limit=100)
        if n.topic == get_topic(ActivityChunk.Recorded)
    ]
    assert found == expected
    ids = {
        a["originator_id"] for a in activity_states(ledger.recorder.select_notifications(1, 100))
    }
    assert ids == {activity_id(r.metric, r.source_id) for r in TRICKY_ROWS}


def test_imported_rows_load_back_as_an_activity_chunk_aggregate(
    sqlite_db: str, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "a.csv", ["rep", "day", "n"], [["ann", "2017-01-02", "2.5"]])
    ledger = Ledger.open(sqlite_db)
    options = ImportOptions(metric="calls", rep_column="rep", date_column="day", value_column="n")
    with open(path, "rb") as f:
        summary = import_csv(ledger, f, options, actor="me")
    assert summary.recorded == 1
    [event] = activities(sqlite_db, names=False)
    [note] = chunk_notifications(ledger)
    loaded: ActivityChunk = ledger.repository.get(note.originator_id)
    assert isinstance(loaded, ActivityChunk)
    assert loaded.metric == "calls"
    assert loaded.rows == ((event["rep"], date(2017, 1, 2), 2.5, event["source_id"]),)


def test_progress_reports_bytes_read_up_to_the_whole_file(sqlite_db: str) -> None:
    seen: list[int] = []
    options = ImportOptions(
        metric="won_value", rep_column="sales_agent", date_column="close_date",
        value_column="close_value", date_format="%d-%m-%y", where=(Where.parse("deal_stage=Won"),),
    )  # fmt: skip
    with PIPELINE.open("rb") as f:
        import_csv(Ledger.open(sqlite_db), f, options, actor="me", progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == PIPELINE.stat().st_size


def test_a_rejected_import_lists_errors_in_file_order(sqlite_db: str) -> None:
    data = b"rep,day\nann,2017-01-02\n,2017-01-03\nbob,x\n"
    options = ImportOptions(metric="m", rep_column="rep", date_column="day")
    with pytest.raises(ImportRejected) as caught:
        import_csv(Ledger.open(sqlite_db), io.BytesIO(data), options, actor="me")
    assert [str(e) for e in caught.value.errors] == [
        "line 3: missing rep: column 'rep' is empty",
        "line 4: date 'x' in column 'day' does not match --date-format %Y-%m-%d",
    ]
    assert activity_count(sqlite_db) == 0


def test_record_activities_keeps_its_dict_interface(db: str) -> None:
    ledger = Ledger.open(db)
    row = {"rep": "ann", "metric": "calls", "date": "2017-01-02", "source_id": "x", "actor": "me"}
    assert ledger.record_activities([row, row, {**row, "source_id": "y"}]) == (2, 1)
    assert ledger.record_activities([row]) == (0, 1)
    assert activity_count(db) == 2


def test_repeats_across_batches_and_stored_rows_are_skipped_and_counted(db: str) -> None:
    ledger = Ledger.open(db)
    ledger.record_activities(
        [{"rep": "ann", "metric": "calls", "date": "2017-01-02", "source_id": "p", "actor": "me"}]
    )

    def row(sid: str) -> ActivityRow:
        return ActivityRow("ann", "calls", date(2017, 1, 3), 1.0, sid, "me")

    ids = ["a", "b", "c", "d", "a", "p", "e", "f", "g", "h", "h", "i"]
    counts = ledger.record_activity_rows((row(s) for s in ids), batch_size=3)

    assert (counts.recorded, counts.repeated, counts.already_present) == (9, 2, 1)
    assert sorted(a["source_id"] for a in activities(db)) == sorted(set(ids))


def test_bom_crlf_and_quoted_newlines_keep_the_files_line_numbers(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(
        b"\xef\xbb\xbfid,rep,day\r\n1,ann,2017-01-01\r\n"
        b'2,bob,"2017-01-02\r\nlater"\r\n3,,2017-01-03\r\n'
    )
    out = cli(
        f"activity import {path} --metric m --rep-column rep --date-column day --id-column id"
    )
    assert out.exit_code == 2
    assert out.stderr.splitlines()[:2] == [
        f"{path}:3: date '2017-01-02\\r\\nlater' in column 'day' does not match "
        "--date-format %Y-%m-%d",
        f"{path}:5: missing rep: column 'rep' is empty",
    ]


def test_a_line_that_is_not_utf8_is_named(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"id,rep,day\n1,ann,2017-01-01\n2,Ren\xe9e,2017-01-02\n")
    out = cli(
        f"activity import {path} --metric m --rep-column rep --date-column day --id-column id"
    )
    assert out.exit_code == 2
    assert out.stderr.startswith(f"{path}:3: not UTF-8 text (byte 0xe9")
    assert activity_count(cli.db) == 0


def test_the_help_says_rows_are_stored_in_chunks_each_recorded_once(cli: Cli) -> None:
    from ledger.activity_import import CHUNK_ROWS

    text = " ".join(cli.ok("activity import --help").split())
    assert f"one event per {CHUNK_ROWS:,} rows" in text
    assert "each row is still recorded once by its (metric, id)" in text
    assert "as one activity event" not in text
