"""Output safety: what hostile text typed into the ledger can do when read back.

* CSV: cells that a spreadsheet would run as a formula are defused with a
  leading ``'``; numbers stay numbers.
* HTML: every user string is escaped (no ``<script>``, no injected tag or
  ``on...`` attribute survives), in names, notes and focus areas.
* Markdown: table syntax and inline syntax are escaped; a row stays a row.
* SQL: metacharacters in every string field round-trip exactly through
  record -> history/list/show/report -> export -> import (queries are
  parameterised; ``%`` and ``_`` are not wildcards).
* Files: a new ledger, its read model and ``-o`` outputs are owner-only.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cli.safe import FORMULA_TRIGGERS, csv_cell, md_text, one_line
from tests.conftest import Cli, due_ahead, subject_of
from tests.test_audit import copy_keys

ON = ("--as-of", "2999-12-31", "--on", "2026-03-01")


# -- the helpers themselves ----------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "\n=1"])
def test_formula_cells_get_a_leading_quote(text: str) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", [-3, -0.5, 0, 12.5])
def test_numbers_stay_numbers_even_when_negative(value: float) -> None:
    assert csv_cell(value) == value


def test_text_that_looks_numeric_is_still_text() -> None:
    assert csv_cell("-3") == "'-3"  # the type decides, never a guess
    assert csv_cell("alice") == "alice" and csv_cell(None) == ""
    assert csv_cell(["=a", "b"]) == "'=a;b"


def test_markdown_escapes_table_and_inline_syntax() -> None:
    assert md_text("a|b") == "a\\|b"
    assert md_text("x\ny\r\nz\tw\x1b[2J") == "x\\ny\\r\\nz\\tw\\x1b\\[2J"
    assert md_text("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"
    assert md_text("<b>`c`</b>") == "\\<b\\>\\`c\\`\\</b\\>"


def test_one_line_escapes_what_drives_a_terminal() -> None:
    assert one_line("a\nb\x1b[2J\x00\u202e") == "a\\nb\\x1b[2J\\x00\\u202e"
    assert one_line("José 名前 ✓") == "José 名前 ✓"


# -- a ledger full of hostile text -------------------------------------------------------

XSS = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(1)>'
ATTR2 = "' onmouseover='alert(1)"


def record(cli: Cli, rep: str, manager: str, focus: str, text: str) -> str:
    """A session, a rep commitment with a check-in and a close, a manager commitment."""
    cli.ok(
        ["session", "record", "--rep", rep, "--manager", manager, "--on", "2026-01-05",
        "--focus", focus, "--strength", " ".join(text.splitlines()), "--note", text],
    )  # fmt: skip
    cid = cli.ok(
        ["agree", "--rep", rep, "--manager", manager, "--focus", focus, "--behavior", text,
        "--target", "10", "--per", "week", "--unit", focus, "--start", "2026-01-05",
        "--expect", text],
    )  # fmt: skip
    cli.ok(["check-in", cid, "--on", "2026-01-12", "--actual", "12", "--note", text])
    cli.ok(
        ["agree", "--rep", rep, "--manager", manager, "--owner", "manager", "--focus", focus,
        "--behavior", text, "--done", "--start", "2026-01-05", "--supports", cid],
    )  # fmt: skip
    cli.ok(["close", cid, "--on", "2026-02-04", "--result", "missed", "--note", text])
    return cid


class Tags(HTMLParser):
    """Every tag and attribute name of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(name for name, _ in attrs)


def assert_inert(page: str) -> None:
    parser = Tags()
    parser.feed(page)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert not [a for a in parser.attributes if a.startswith("on")]
    assert XSS not in page


def test_html_pages_escape_names_notes_and_focus_areas(cli: Cli, tmp_path: Path) -> None:
    record(cli, rep=XSS, manager=ATTR, focus=ATTR2, text=XSS + ATTR + ATTR2)
    rep_page = cli.ok(["history", XSS, *ON, "--format", "html"])
    report = cli.ok(["report", "coaching", *ON, "--format", "html"])
    for page in (rep_page, report):
        assert_inert(page)
        assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the text is there, as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rep_page


def test_csv_outputs_defuse_formulas_and_keep_numbers(cli: Cli) -> None:
    rep, manager, focus = '=HYPERLINK("http://evil.example","x")', "+cmd", "@focus"
    record(cli, rep=rep, manager=manager, focus=focus, text="-2+3")
    outputs = [
        cli.ok(["list", *ON, "--format", "csv"]),
        cli.ok(["history", rep, *ON, "--format", "csv"]),
        cli.ok(["report", "coaching", *ON, "--format", "csv"]),
    ]
    for out in outputs:
        rows = list(csv.reader(io.StringIO(out)))
        for row in rows:
            for cell in row:
                assert not cell.startswith(FORMULA_TRIGGERS), (cell, row)
    listed = list(csv.DictReader(io.StringIO(outputs[0])))
    own = next(r for r in listed if r["owner"] == "rep")
    assert own["rep"] == "'" + rep and own["manager"] == "'+cmd" and own["focus"] == "'@focus"
    assert own["behavior"] == "'-2+3"
    assert float(own["target"]) == 10 and float(own["actual"]) == 12  # numbers stay bare
    report = list(csv.DictReader(io.StringIO(outputs[2])))
    assert [r["manager"] for r in report] == ["'+cmd", "(team)"]


def md_rows(md: str) -> list[list[str]]:
    return [re.split(r"(?<!\\)\|", line)[1:-1] for line in md.splitlines() if line.startswith("|")]


def test_markdown_keeps_one_row_per_commitment_whatever_the_text(cli: Cli) -> None:
    rep, text = "a|b `c`", "x | y\nz [k](javascript:alert(1)) <b>bold</b>"
    record(cli, rep=rep, manager="m|n", focus="f|g", text=text)
    for md in (
        cli.ok(["history", rep, *ON, "--format", "md"]),
        cli.ok(["list", *ON, "--format", "md"]),
        cli.ok(["report", "coaching", *ON, "--format", "md"]),
    ):
        rows = md_rows(md)
        assert len({len(r) for r in rows}) == 1, md  # every row has the header's cells
        assert "<b>" not in md and not re.search(r"(?<!\\)\]\(", md)
    history = cli.ok(["history", rep, *ON, "--format", "md"])
    assert history.startswith("## a\\|b \\`c\\`: ")
    assert len(md_rows(history)) == 2 + 2  # header, rule, two commitments


# -- SQL metacharacters in every string field ---------------------------------------------

SQL = "o'brien\"; DROP TABLE commitments; -- 50%_off \\ %s ?"


def test_sql_metacharacters_round_trip_through_every_read_and_export(
    cli: Cli, tmp_path: Path
) -> None:
    rep, manager = SQL, SQL + " (manager)"
    sql_cli = Cli(db=cli.db, views=cli.views, actor=SQL + " (actor)")
    cid = record(sql_cli, rep=rep, manager=manager, focus=SQL[:60], text=SQL)
    metric = sql_cli.ok(
        [
            "agree",
            "--rep",
            rep,
            "--manager",
            manager,
            "--focus",
            SQL[:60],
            "--behavior",
            SQL,
            "--target",
            "3",
            "--metric",
            SQL[:80],
            "--start",
            "2026-01-05",
            "--due",
            due_ahead(),
            "--expect-metric",
            SQL[:80],
            "--expect-at-least",
            "1",
            "--new-metric",
        ],
    )  # fmt: skip  (due ahead of today: it is revised below)
    sql_cli.ok(["revise", metric, "--on", "2026-01-06", "--reason", SQL, "--behavior", SQL])
    sql_cli.ok(["release", metric, "--on", "2026-01-07", "--reason", SQL])

    history = json.loads(cli.ok(["history", rep, *ON, "--format", "json"]))
    assert history["rep"] == rep
    assert {c["manager"] for c in history["commitments"]} == {manager}
    assert {c["behavior"] for c in history["commitments"]} == {SQL}
    assert {c["focus"] for c in history["commitments"]} == {SQL[:60]}
    assert SQL[:80] in {c["metric"] for c in history["commitments"]}
    # a filter is an exact match: neither % nor _ nor ' acts on the query (a name
    # the ledger does not hold is not found: exit 3, nothing on stdout)
    assert len(json.loads(cli.ok(["list", "--rep", rep, *ON, "--format", "json"]))) == 3
    for near in ("o'brien%", "o_brien", "%", "' OR '1'='1"):
        result = cli(["list", "--rep", near, *ON, "--format", "json"])
        assert (result.exit_code, result.stdout) == (3, ""), near
    shown = json.loads(cli.ok(["show", cid, *ON, "--format", "json"]))
    assert {e["actor"] for e in shown["log"]} == {SQL + " (actor)"}
    assert shown["terms"]["hypothesis"] == SQL
    report = json.loads(
        cli.ok(["report", "coaching", "--manager", manager, *ON, "--format", "json"])
    )
    assert [m["manager"] for m in report["managers"]] == [manager]

    export = tmp_path / "sql.jsonl"
    cli.ok(f"export -o {export}")
    texts = [json.loads(line)["data"] for line in export.read_text(encoding="utf-8").splitlines()]
    # events name the rep by subject id; the name itself is sealed in their Person event
    assert sum(1 for d in texts if d.get("rep") == subject_of(cli.db, rep)) >= 4
    assert rep not in export.read_text(encoding="utf-8")
    # free text is sealed under its owner's key too; the decrypted copy shows it as typed
    assert SQL not in export.read_text(encoding="utf-8")
    decrypted = [json.loads(line) for line in cli.ok("export --decrypt").splitlines()[1:]]
    assert any(x["data"].get("reason") == SQL for x in decrypted)
    assert any(x["data"].get("note") == SQL for x in decrypted)
    copy = Cli(db=str(tmp_path / "copy.db"), views=str(tmp_path / "copy.views.db"))
    copy_keys(cli.db, copy.db)  # the names open with the key store, which travels apart
    copy.ok(f"import {export}")
    assert json.loads(copy.ok(["history", rep, *ON, "--format", "json"])) == history
    assert copy.ok("verify") == cli.ok("verify")


# -- files readable by their owner only ----------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_ledger_views_and_outputs_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which would give 0644
    try:
        c = Cli(db=str(tmp_path / "l.db"), views=str(tmp_path / "l.views.db"))
        record(c, rep="alice", manager="bob", focus="prospecting", text="fine")
        c.ok(["history", "alice", *ON, "--format", "html", "-o", str(tmp_path / "a.html")])
        c.ok(["report", "coaching", *ON, "--format", "csv", "-o", str(tmp_path / "r.csv")])
        c.ok(f"export -o {tmp_path / 'e.jsonl'}")
    finally:
        os.umask(old)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert {"l.db", "l.views.db", "a.html", "r.csv", "e.jsonl"} <= set(made)
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == {name: 0o600 for name in made}


def test_an_existing_output_file_keeps_the_mode_its_owner_chose(tmp_path: Path) -> None:
    c = Cli(db=str(tmp_path / "l.db"), views=str(tmp_path / "l.views.db"))
    record(c, rep="alice", manager="bob", focus="prospecting", text="fine")
    shared = tmp_path / "shared.csv"
    shared.write_text("old")
    shared.chmod(0o640)
    c.ok(["report", "coaching", *ON, "--format", "csv", "-o", str(shared)])
    assert mode(shared) == 0o640 and shared.read_text().startswith("manager,")
