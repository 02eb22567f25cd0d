"""Free text in table, csv and md output (SPEC §7.1): a newline, tab or ESC
inside a value never starts a new line or column, and a csv reader gets one
row per record back, with the text exactly as stored.

The commands refuse ESC (and any control character in names) today; the
ledger may still hold them, written by an older version or another tool, so
the test lets them through the input check while writing and then reads every
command and format back. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re

import click
import pytest

from ledger import text
from tests.conftest import Cli

ON = ("--as-of", "2999-12-31", "--on", "2026-03-01")
REP = "eve\tx\x1b[2J"
MANAGER = "mo\x1b]0;pwned\x07 tab\there"
BEHAVIOR = "calls\n  verdict: succeeded\tkept\x1b[31m"
NOTE = "first line\nsecond\tcolumn\x1b[2J\r\nthird"
HYPOTHESIS = "pipeline doubles\n  status: closed"
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # what must never reach the terminal raw
FAKE = re.compile(r"^\s*(verdict: succeeded|status: closed$|second|third|here|x\b)", re.M)


@pytest.fixture
def hostile(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """One session and one closed commitment full of line breaks, tabs and ESC."""
    with monkeypatch.context() as m:  # as an older writer would have let them through
        never = re.compile("(?!)")
        m.setattr(text, "TEXT_CONTROL", never)
        m.setattr(text, "CONTROL", never)
        sid = cli.ok(
            ["session", "record", "--rep", REP, "--manager", MANAGER, "--on", "2026-01-05",
            "--note", NOTE, "--focus", "prospecting"],
        )  # fmt: skip
        cid = cli.ok(
            ["agree", "--rep", REP, "--manager", MANAGER, "--focus", "prospecting",
            "--behavior", BEHAVIOR, "--target", "10", "--per", "week", "--start", "2026-01-05",
            "--days", "28", "--expect", HYPOTHESIS, "--session", sid[:8]],
        )  # fmt: skip
        cli.ok(["check-in", cid[:8], "--on", "2026-01-09", "--actual", "9", "--note", NOTE])
        cli.ok(["close", cid[:8], "--on", "2026-02-02", "--result", "met", "--note", NOTE])
    return {"session": sid, "commitment": cid}


def safe_lines(text: str, rows: int) -> None:
    """No raw control character, no fake line, and exactly ``rows`` lines."""
    assert not RAW.search(text), repr(text)
    assert not FAKE.search(text), text
    assert len(text.splitlines()) == rows, text


@pytest.mark.parametrize(
    ("args", "rows"),
    [
        (("list", *ON), 3),  # header, rule, one commitment
        (("history", REP, *ON), 8),  # 4 lines of signal, a blank line, the table
        (("session", "list"), 3),
        (("team", *ON), 5),  # title, blank, header, rule, one rep
        (("report", "coaching", *ON), 6),  # title, blank, header, rule, manager, team
    ],
)
def test_tables_keep_one_line_per_record(
    cli: Cli, hostile: dict[str, str], args: tuple[str, ...], rows: int
) -> None:
    text = cli.ok(args)
    safe_lines(text, rows)
    assert "\\t" in text and "\\x1b" in text  # shown, as escapes


def test_show_prints_no_fake_line(cli: Cli, hostile: dict[str, str]) -> None:
    text = cli.ok(["show", hostile["commitment"], *ON])
    assert not RAW.search(text) and not FAKE.search(text)
    assert "behavior: calls\\n  verdict: succeeded\\tkept\\x1b[31m" in text
    assert [line.split(":")[0] for line in text.splitlines() if line.startswith("  ")][:4] == [
        "  as of 2999-12-31T23",
        "  rep eve\\tx\\x1b[2J, manager mo\\x1b]0;pwned\\x07 tab\\there, "
        "owner rep, focus prospecting",
        "  behavior",
        "  measure",
    ]
    assert sum(line.startswith("  status: ") for line in text.splitlines()) == 1
    session = cli.ok(["session", "show", hostile["session"]])
    assert not RAW.search(session) and not FAKE.search(session)
    assert "note: first line\\nsecond\\tcolumn\\x1b[2J\\r\\nthird" in session


@pytest.mark.parametrize(
    ("args", "records", "column", "value"),
    [
        (("list", *ON), 1, "behavior", BEHAVIOR),
        (("history", REP, *ON), 1, "behavior", BEHAVIOR),
        (("session", "list"), 1, "note", NOTE),
        (("team", *ON), 1, "rep", REP),
        (("report", "coaching", *ON), 2, "manager", MANAGER),
    ],
)
def test_csv_gives_one_row_per_record_with_the_text_as_stored(
    cli: Cli,
    hostile: dict[str, str],
    args: tuple[str, ...],
    records: int,
    column: str,
    value: str,
) -> None:
    result = cli([*args, "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert len(rows) == records
    # RFC 4180 quoting: line breaks and tabs come back as stored (the test runner
    # reads \r\n as \n; click drops ANSI colour sequences when stdout is no terminal)
    assert rows[0][column] == click.unstyle(value).replace("\r\n", "\n")


@pytest.mark.parametrize(
    ("args", "rows"),
    [
        (("list", *ON), 3),
        (("history", REP, *ON), 12),  # title, as of, 4 bullets, 3 blank lines, table
        (("session", "list"), 3),
        (("team", *ON), 5),
        (("report", "coaching", *ON), 6),
    ],
)
def test_markdown_keeps_one_line_per_row(
    cli: Cli, hostile: dict[str, str], args: tuple[str, ...], rows: int
) -> None:
    text = cli.ok([*args, "--format", "md"])
    safe_lines(text, rows)
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len({line.count(" | ") for line in table if not line.startswith("|---")}) == 1
