"""An activity CSV's cells are checked with the commands' value types
(``ledger.formats.activity_csv``): a rep, a date or a value the CSV accepts is
one ``activity record`` (``RecordActivity``) accepts, with the same value, and
what the command refuses the CSV refuses, naming the line."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.commands import RecordActivity, validate
from ledger.errors import InvalidInput
from ledger.formats.activity_csv import ActivityCsv, ActivityRow, ImportOptions, ImportRejected

OPTIONS = ImportOptions(metric="calls", rep_column="rep", date_column="day", value_column="n")
CELLS = {"rep": "ann", "day": "2017-01-02", "n": "3"}


def read_one(**cells: str) -> ActivityRow | str:
    """The one row of a CSV holding ``cells`` (over the defaults), or why it is refused."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    row = {**CELLS, **cells}
    writer.writerow(row.keys())
    writer.writerow(row.values())
    reader = ActivityCsv(OPTIONS, "me")
    try:
        return next(reader.rows(io.StringIO(out.getvalue(), newline="")))
    except ImportRejected as exc:
        [error] = exc.errors
        assert error.line == 2
        return error.reason


def command(**values: Any) -> RecordActivity | None:
    """``activity record``'s reading of the values, or None if it refuses them."""
    fields = {"rep": "ann", "metric": "calls", "date": "2017-01-02", "value": 3.0}
    try:
        return validate(RecordActivity, **{**fields, **values, "source_id": "s", "actor": "me"})
    except InvalidInput:
        return None


# What a UTF-8 file can hold in a cell (no lone surrogates; csv refuses NUL itself).
CHARACTERS = st.characters(codec="utf-8", exclude_characters="\x00")
TEXT = st.text(CHARACTERS, max_size=120) | st.sampled_from(
    ["", " ", "a" * 100, "a" * 101, " ann ", "ann\x7f", "ann\tlee", "Zoë \u2028", "x\x85"]
)


@settings(max_examples=300, deadline=None)
@given(name=TEXT)
def test_a_rep_cell_is_accepted_exactly_when_the_command_accepts_the_rep(name: str) -> None:
    read, taken = read_one(rep=name), command(rep=name)
    if taken is None:
        assert isinstance(read, str) and read.startswith(("missing rep", "rep in column 'rep'"))
    else:
        assert isinstance(read, ActivityRow) and read.rep == taken.rep


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31)))
def test_a_date_cell_is_accepted_exactly_when_the_command_accepts_the_date(day: date) -> None:
    read, taken = read_one(day=day.isoformat()), command(date=day.isoformat())
    if taken is None:
        assert (
            read == f"date {day.isoformat()!r} in column 'day' is outside 1900-01-01 to 2999-12-31"
        )
    else:
        assert isinstance(read, ActivityRow) and read.date == taken.date


@settings(max_examples=300, deadline=None)
@given(value=st.floats() | st.sampled_from([0.0, -0.0, 1e12, 1.0000001e12, -1e-300]))
def test_a_value_cell_is_accepted_exactly_when_the_command_accepts_the_value(value: float) -> None:
    read, taken = read_one(n=repr(value)), command(value=value)
    if taken is None:
        assert isinstance(read, str)
        assert read.endswith(("must be a finite number >= 0", "is above 1e+12")), read
    else:
        assert isinstance(read, ActivityRow) and read.value == taken.value


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"rep": "  "}, "missing rep: column 'rep' is empty"),
        ({"rep": "a" * 101}, "rep in column 'rep' is longer than 100 characters"),
        ({"rep": "ann\x1b"}, "rep in column 'rep' has control characters"),
        (
            {"day": "1899-12-31"},
            "date '1899-12-31' in column 'day' is outside 1900-01-01 to 2999-12-31",
        ),
        ({"n": " "}, "missing value: column 'n' is empty"),
        ({"n": "many"}, "value 'many' in column 'n' is not a number"),
        ({"n": "-inf"}, "value '-inf' in column 'n' must be a finite number >= 0"),
        ({"n": "inf"}, "value 'inf' in column 'n' must be a finite number >= 0"),
        ({"n": "-1"}, "value '-1' in column 'n' must be a finite number >= 0"),
        ({"n": "1e13"}, "value '1e13' in column 'n' is above 1e+12"),
    ],
)
def test_each_refusal_names_the_column_and_the_cell(cells: dict[str, str], reason: str) -> None:
    assert read_one(**cells) == reason


def test_a_repeated_value_cell_is_read_once_and_stays_the_same() -> None:
    lines = ["rep,day,n\n", "ann,2017-01-02,2.5\n", "bob,2017-01-03,2.5\n", "cy,2017-01-04,-2.5\n"]
    reader = ActivityCsv(OPTIONS, "me")
    rows = reader.rows(lines)
    assert [r.value for r in (next(rows), next(rows))] == [2.5, 2.5]
    with pytest.raises(ImportRejected) as caught:
        next(rows)
    assert [str(e) for e in caught.value.errors] == [
        "line 4: value '-2.5' in column 'n' must be a finite number >= 0"
    ]


@pytest.mark.parametrize("metric", ["", "   ", "m" * 101, "cal\nls", "calls\ud800"])
def test_a_metric_the_commands_refuse_is_refused(metric: str) -> None:
    with pytest.raises(InvalidInput, match=r"--metric .*: give a name of 1-100 characters"):
        ImportOptions(metric=metric, rep_column="rep", date_column="day")


def read_rows(header: list[str], *rows: list[str]) -> list[ActivityRow | str]:
    """Every row read from a CSV of ``rows`` with the ids in column ``id``, or
    the file's refusals (line: reason)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerows([header, *rows])
    options = ImportOptions(
        metric="calls", rep_column="rep", date_column="day", value_column="n", id_column="id"
    )
    reader = ActivityCsv(options, "me")
    try:
        return list(reader.rows(io.StringIO(out.getvalue(), newline="")))
    except ImportRejected as exc:
        return [str(e) for e in exc.errors]


@settings(max_examples=300, deadline=None)
@given(
    source_id=TEXT | st.sampled_from(["x" * 2000, "x" * 2001, " id ", "id\x9f", "ïd", "id\u00a0"])
)
def test_a_row_whose_other_cells_were_seen_before_is_checked_the_same(source_id: str) -> None:
    # The second row's rep, date and value were read (and taken) on the first
    # row: its id is checked as it is on a row read first.
    header = ["id", "rep", "day", "n"]
    first = read_rows(header, [source_id, "ann", "2017-01-02", "3"])
    second = read_rows(
        header, ["warm", "ann", "2017-01-02", "3"], [source_id, "ann", "2017-01-02", "3"]
    )
    if isinstance(first[0], ActivityRow):
        assert second[1:] == first
    else:
        assert second == [str(first[0]).replace("line 2:", "line 3:", 1)]
