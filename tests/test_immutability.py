"""Events are immutable: no code path updates or deletes a stored event.

Two checks. Statically, every SQL statement in our source that could change
existing rows (UPDATE, DELETE, REPLACE, TRUNCATE, DROP, ALTER, upserts) is
found and its target must not be an events table. At run time, the events
table gets triggers that abort any UPDATE or DELETE (and TRUNCATE on
PostgreSQL), and every command of the product runs against it: all succeed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import cast
from urllib.parse import parse_qs, urlparse

import pytest

from ledger import commands as cmd
from ledger.store import local_file
from tests.conftest import Cli, due_ahead, event_count

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("ledger", "projections", "cli", "bench", "docs")
EVENTS_TABLES = re.compile(r"stored_events|ledger_events|events_table|snapshots", re.I)
MUTATIONS = re.compile(
    r"\b(?:UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|DROP\s+TABLE(?:\s+IF\s+EXISTS)?"
    r"|ALTER\s+TABLE|(?:INSERT\s+OR\s+)?REPLACE\s+INTO|INSERT\s+INTO)\s+([\w.\"{}%?]+)"
    r"(?P<rest>[^;]*)",
    re.I,
)


def sql_strings(path: Path) -> list[str]:
    """Every string literal of a module; f-strings keep ``{...}`` for their holes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
        elif isinstance(node, ast.JoinedStr):
            found.append(
                "".join(
                    str(v.value)
                    if isinstance(v, ast.Constant)
                    else "{" + ast.unparse(cast(ast.FormattedValue, v).value) + "}"
                    for v in node.values
                )
            )
    return found


def offending(text: str) -> list[str]:
    """The statements in ``text`` that would change rows of an events table."""
    bad = []
    for m in MUTATIONS.finditer(" ".join(text.split())):
        head, target, rest = m.group(0)[: m.start(1) - m.start(0)], m.group(1), m.group("rest")
        verb = head.split()[0].upper()
        if verb == "INSERT" and not re.search(r"\bREPLACE\b|DO\s+UPDATE", head + rest, re.I):
            continue  # a plain insert only appends
        if EVENTS_TABLES.search(target) or (target.startswith("{") and verb != "INSERT"):
            bad.append(m.group(0))
    return bad


def test_the_scanner_flags_every_kind_of_change_to_an_events_table() -> None:
    for statement in [
        "UPDATE stored_events SET state = ?",
        "delete from stored_events where rowid = 1",
        'DELETE FROM "coaching".ledger_events',
        "TRUNCATE TABLE {schema}.ledger_events",
        "INSERT OR REPLACE INTO stored_events VALUES (?)",
        "REPLACE INTO stored_events VALUES (?)",
        "INSERT INTO ledger_events VALUES (%s) ON CONFLICT DO UPDATE SET state = 1",
        "DROP TABLE IF EXISTS stored_events",
        "DELETE FROM {table} WHERE originator_id = ?",
    ]:
        assert offending(statement), statement
    for statement in [
        "INSERT INTO stored_events (originator_id) VALUES (?)",
        "SELECT * FROM stored_events",
        "DELETE FROM commitments",
        "INSERT INTO tracking VALUES (?) ON CONFLICT (name) DO UPDATE SET position = 1",
        "requires UPDATE, DELETE or TRUNCATE privilege",
    ]:
        assert not offending(statement), statement


def test_no_source_file_updates_or_deletes_a_stored_event() -> None:
    files = [p for d in SOURCES for p in sorted((ROOT / d).rglob("*.py"))]
    assert ROOT / "ledger" / "application.py" in files
    problems = [
        f"{path.relative_to(ROOT)}: {statement}"
        for path in files
        for text in sql_strings(path)
        for statement in offending(text)
    ]
    assert problems == []


def _guard_events_table(db: str) -> None:
    """Install triggers that abort any UPDATE/DELETE/TRUNCATE of stored events."""
    if local_file(db) is None:  # on a server
        import psycopg

        schema = parse_qs(urlparse(db).query)["schema"][0]
        url = db.split("?")[0]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                f'CREATE FUNCTION "{schema}".refuse_change() RETURNS trigger LANGUAGE plpgsql '
                "AS $$ BEGIN RAISE EXCEPTION 'stored events are immutable'; END $$"
            )
            conn.execute(
                f'CREATE TRIGGER immutable BEFORE UPDATE OR DELETE ON "{schema}".ledger_events '
                f'FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse_change()'
            )
            conn.execute(
                f'CREATE TRIGGER immutable_truncate BEFORE TRUNCATE ON "{schema}".ledger_events '
                f'FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".refuse_change()'
            )
        return
    import sqlite3

    with sqlite3.connect(db) as conn:
        for verb in ("UPDATE", "DELETE"):
            conn.execute(
                f"CREATE TRIGGER immutable_{verb.lower()} BEFORE {verb} ON stored_events "
                "BEGIN SELECT RAISE(ABORT, 'stored events are immutable'); END"
            )


def _try_to_delete_one(db: str) -> str:
    """Delete a stored event directly; return the database's refusal."""
    if local_file(db) is None:  # on a server
        import psycopg

        schema = parse_qs(urlparse(db).query)["schema"][0]
        with psycopg.connect(db.split("?")[0], autocommit=True) as conn:
            try:
                conn.execute(f'DELETE FROM "{schema}".ledger_events')
            except psycopg.Error as exc:
                return str(exc)
        return ""
    import sqlite3

    with sqlite3.connect(db) as conn:
        try:
            conn.execute("DELETE FROM stored_events")
        except sqlite3.DatabaseError as exc:
            return str(exc)
    return ""


def test_every_command_runs_against_an_events_table_that_refuses_changes(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo's HTML pages land in the working directory on PG
    cli.ok("init")
    _guard_events_table(cli.db)
    cli.ok("demo --reps 6 --weeks 8")
    sid = cli.ok("session record --rep zed --manager bob --on 2026-01-05")
    cid = cli.ok(
        "agree --rep zed --manager bob --focus prospecting --behavior 'outbound calls' "
        f"--target 10 --start 2026-01-05 --due {due_ahead()} --session {sid} --metric calls",
    )  # fmt: skip  (due ahead of today: it is revised below)
    support = cli.ok(
        "agree --rep zed --manager bob --owner manager --focus prospecting --behavior ride-alongs "
        f"--target 2 --per window --start 2026-01-05 --supports {cid}",
    )
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 8")
    cli.ok(f"check-in {cid} --on 2026-01-16 --actual 12")
    cli.ok(f"correct {cid} --check-in 1 --actual 9 --reason typo")
    cli.ok(f"revise {cid} --on 2026-01-20 --target 9 --reason 'territory split'")
    cli.ok(f"release {support} --on 2026-01-21 --reason 'manager on leave'")
    cli.ok(f"close {cid} --on 2026-02-04 --result met")
    csv = tmp_path / "calls.csv"
    csv.write_text("id,rep,day,n\n1,zed,2026-01-09,20\n2,zed,2026-01-16,25\n", encoding="utf-8")
    import_args = [
        "activity", "import", str(csv), "--metric", "calls", "--rep-column", "rep",
        "--date-column", "day", "--value-column", "n", "--id-column", "id",
    ]  # fmt: skip
    cli.ok(import_args)
    cli.ok(import_args)  # idempotent: skips the rows already stored
    for read in (
        ["show", cid, "--format", "json"],
        ["list", "--format", "csv"],
        ["history", "zed", "--format", "json"],
        ["report", "coaching", "--format", "json"],
        ["projections", "rebuild"],
        ["projections", "status"],
    ):
        cli.ok(read)
    export = tmp_path / "ledger.jsonl"
    cli.ok(f"export -o {export}")
    before = event_count(cli.db)
    cli.ok(f"import {export}")  # every event already present: skipped, nothing changed
    assert event_count(cli.db) == before
    cli.ok("verify")
    # The guard was in force the whole time.
    assert "immutable" in _try_to_delete_one(cli.db)
    assert event_count(cli.db) == before


@pytest.mark.parametrize("statement", ["UPDATE stored_events SET topic = 'x'"])
def test_the_sqlite_guard_refuses_an_update(sqlite_db: str, statement: str) -> None:
    import sqlite3

    from ledger.application import Ledger

    ledger = Ledger.open(sqlite_db)
    ledger.record_session(
        cmd.validate(cmd.RecordSession, rep="alice", manager="bob", date="2026-01-05", actor="t")
    )
    ledger.close()
    _guard_events_table(sqlite_db)
    with sqlite3.connect(sqlite_db) as conn, pytest.raises(sqlite3.DatabaseError, match="immut"):
        conn.execute(statement)
