"""PostgreSQL as the event store: tables created once without races, and writers
that may only SELECT and INSERT.

PostgreSQL-only tests skip with a reason unless ``COMMITMENTS_TEST_POSTGRES``
is set (``.ci/run`` sets it); with it set and no server they fail. The tests
that also mean something on SQLite take the two-backend ``db`` fixture.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.errors import StorageUnavailable
from tests.conftest import PG_ENV, Cli, due_ahead, postgres_url

REPO = Path(__file__).resolve().parents[1]


# -- helpers shared by the PostgreSQL test modules -------------------------------


def require_postgres() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV}=postgresql://user@host:port/db")
    return url


def with_schema(url: str, schema: str, user: str | None = None) -> str:
    if user is not None:
        scheme, rest = url.split("://", 1)
        rest = rest.split("@", 1)[1] if "@" in rest else rest
        url = f"{scheme}://{user}@{rest}"
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}schema={schema}"


def admin(url: str, *statements: Any) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def pg_url() -> str:
    """The test server's URL (skips without it; fails if it is set and the server is down)."""
    url = require_postgres()
    admin(url, "SELECT 1")
    return url


@pytest.fixture
def fresh_schema(pg_url: str) -> Iterator[str]:
    """A schema name that does not exist yet; dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield schema
    admin(pg_url, sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def cli_process(db: str, views: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """``python -m cli`` as its own process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.update(kwargs.pop("env", {}))
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "--db", db, "--views", views, "--actor", "t", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


AGREE = (
    "agree --manager bob --focus prospecting --behavior 'outbound calls' --target 10 --per week"
    " --start 2026-01-05"
)


# -- creating the tables -----------------------------------------------------------


def test_init_creates_the_tables_and_a_second_init_changes_nothing(cli: Cli) -> None:
    first = cli("init")
    assert first.exit_code == 0, first.stderr
    assert "created the ledger tables" in first.stderr
    again = cli("init")
    assert again.exit_code == 0, again.stderr
    assert "already exist" in again.stderr
    assert len(cli.ok(f"{AGREE} --rep alice")) == 36


def test_with_create_table_n_commands_run_once_init_has_created_the_tables(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.ok("init")
    monkeypatch.setenv("CREATE_TABLE", "n")
    cid = cli.ok(f"{AGREE} --rep alice")
    cli.ok(f"check-in {cid} --on 2026-01-12 --actual 9")
    assert '"actual": 9' in cli.ok(f"show {cid} --format json")


def test_with_create_table_n_a_schema_without_tables_is_refused_with_a_pointer_to_init(
    pg_url: str, fresh_schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREATE_TABLE", "n")
    cli = Cli(db=with_schema(pg_url, fresh_schema), views=str(tmp_path / "v.db"))
    result = cli(f"{AGREE} --rep alice")
    assert result.exit_code == 1
    assert "commitments init" in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(StorageUnavailable):
        Ledger.open(cli.db)
    with psycopg.connect(pg_url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s", (fresh_schema,)
        ).fetchone()
    assert found == (0,)


def _agree_after_barrier(db: str, rep: str, barrier: Any) -> str:
    barrier.wait()
    ledger = Ledger.open(db)
    try:
        return str(ledger.agree(cmd.Agree(**_agree_values(rep))))
    finally:
        ledger.close()


def _agree_values(rep: str) -> dict[str, Any]:
    return {
        "rep": rep,
        "manager": "bob",
        "focus": "prospecting",
        "behavior": "outbound calls",
        "target": 10,
        "period": "week",
        "start": "2026-01-05",
        "actor": "t",
    }


def test_eight_processes_opening_a_fresh_schema_at_once_create_it_once_and_all_write(
    pg_url: str, fresh_schema: str
) -> None:
    db = with_schema(pg_url, fresh_schema)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(8)
    with ctx.Pool(8) as pool:
        ids = pool.starmap(
            _agree_after_barrier, [(db, f"rep{i}", barrier) for i in range(8)], chunksize=1
        )
    assert len(set(ids)) == 8
    ledger = Ledger.open(db, create_table=False)
    try:
        agreed = {ledger.commitment(uuid.UUID(i)).rep for i in ids}
    finally:
        ledger.close()
    assert agreed == {f"rep{i}" for i in range(8)}


def test_eight_inits_at_once_create_the_tables_exactly_once(
    pg_url: str, fresh_schema: str, tmp_path: Path
) -> None:
    db = with_schema(pg_url, fresh_schema)
    procs = [cli_process(db, str(tmp_path / "v.db"), "init") for _ in range(8)]
    outcomes = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    assert [code for code, _ in outcomes] == [0] * 8, outcomes
    created = [err for _, err in outcomes if "created the ledger tables" in err]
    assert len(created) == 1, outcomes


# -- a writer that may only SELECT and INSERT --------------------------------------


@pytest.fixture
def insert_only(pg_url: str, fresh_schema: str) -> Iterator[str]:
    """A ledger created by the owner, and the URL of a role granted only SELECT, INSERT."""
    role = f"w_{uuid.uuid4().hex[:12]}"
    owner_db = with_schema(pg_url, fresh_schema)
    Ledger.open(owner_db).close()  # the owner creates the tables (what `init` does)
    ident, schema = sql.Identifier(role), sql.Identifier(fresh_schema)
    table = sql.Identifier(fresh_schema, "ledger_events")
    seq = sql.Identifier(fresh_schema, "ledger_events_notification_id_seq")
    keys = sql.Identifier(fresh_schema + "_keys")  # the key store (made with the tables)
    admin(
        pg_url,
        sql.SQL("CREATE ROLE {} LOGIN").format(ident),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, ident),
        sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(table, ident),
        sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(seq, ident),
        # the activity rows' keys (issue 19), beside the events
        sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(
            sql.Identifier(fresh_schema, "activity_keys"), ident
        ),
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(keys, ident),
        sql.SQL("GRANT SELECT, INSERT ON {}.person_keys TO {}").format(keys, ident),
    )
    try:
        yield with_schema(pg_url, fresh_schema, user=role)
    finally:
        admin(
            pg_url,
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema),
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(keys),
            sql.SQL("DROP OWNED BY {}").format(ident),
            sql.SQL("DROP ROLE {}").format(ident),
        )


def test_the_insert_only_role_really_cannot_update_delete_or_lock_the_events(
    insert_only: str,
) -> None:
    url = insert_only.split("?")[0]
    schema = insert_only.split("schema=")[1]
    table = sql.Identifier(schema, "ledger_events")
    for statement in (
        sql.SQL("UPDATE {} SET topic = topic").format(table),
        sql.SQL("DELETE FROM {}").format(table),
        sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table),
    ):
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_a_role_granted_only_select_and_insert_can_run_every_command(
    insert_only: str, tmp_path: Path
) -> None:
    cli = Cli(db=insert_only, views=str(tmp_path / "views.db"))
    assert "already exist" in cli("init").stderr
    sid = cli.ok("session record --rep alice --manager bob --on 2026-01-05")
    cid = cli.ok(f"{AGREE} --rep alice --session {sid} --due {due_ahead()}")  # revised below
    mid = cli.ok(
        "agree --rep alice --manager bob --owner manager --focus prospecting "
        f"--behavior 'two ride-alongs' --done --start 2026-01-05 --supports {cid}",
    )
    other = cli.ok(f"{AGREE} --rep alice --behavior demos")
    cli.ok(f"check-in {cid} --on 2026-01-12 --actual 9")
    cli.ok(f"correct {cid} --check-in 1 --actual 11 --reason 'CRM lag'")
    cli.ok(f"revise {cid} --on 2026-01-13 --reason holiday --target 8")
    cli.ok(["check-in", mid, "--on", "2026-01-20", "--done"])
    cli.ok(["release", other, "--on", "2026-01-14", "--reason", "territory moved"])
    cli.ok(f"close {cid} --on 2026-02-04 --result met")
    csv_file = tmp_path / "calls.csv"
    csv_file.write_text("rep,day,id\nalice,2026-01-06,c1\nalice,2026-01-07,c2\n")
    cli.ok(
        f"activity import {csv_file} --metric calls --rep-column rep --date-column day "
        "--id-column id",
    )
    assert cid in cli.ok("list --rep alice")
    assert '"verdict"' in cli.ok(f"show {cid} --format json")
    assert '"signal"' in cli.ok("history alice --format json")
    assert "bob" in cli.ok("report coaching --format json")
    export = tmp_path / "ledger.jsonl"
    cli.ok(f"export -o {export}")
    # 15 command events + 2 activity rows in one chunk + the ledger's LedgerCreated
    # (with the first write) + 3 people registered on first use (alice, bob, the actor)
    assert len(export.read_text().splitlines()) == 20
    assert "20" in cli.ok("verify")
    cli.ok(f"import {export}")  # everything already present: skipped, nothing written
    cli.ok("projections rebuild")
    assert "lag:      0" in cli.ok("projections status")


def test_a_ledger_from_before_the_activity_keys_works_for_a_writer_until_init_adds_them(
    insert_only: str, pg_url: str, fresh_schema: str, tmp_path: Path
) -> None:
    """A ledger written before issue 19 has no ``activity_keys``: a writer that
    may not create tables still runs its commands (activity aside), and
    ``init`` run by the owner adds the table, filled from the per-row events."""
    owner_db = with_schema(pg_url, fresh_schema)
    owner = Ledger.open(owner_db)
    try:
        owner.record_activity(
            cmd.RecordActivity(
                rep="ann", metric="calls", date=date(2026, 1, 5), value=1.0,
                source_id="c1", actor="crm",
            )
        )  # fmt: skip
    finally:
        owner.close()
    admin(pg_url, sql.SQL("DROP TABLE {}").format(sql.Identifier(fresh_schema, "activity_keys")))
    cli = Cli(db=insert_only, views=str(tmp_path / "views.db"))
    sid = cli.ok("session record --rep alice --manager bob --on 2026-01-05")
    assert len(sid) == 36
    assert cli.ok("people list")
    init = Cli(db=owner_db, views=str(tmp_path / "owner.views.db"))("init")
    assert "already exist" in init.stderr
    admin(
        pg_url,
        sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(
            sql.Identifier(fresh_schema, "activity_keys"),
            sql.Identifier(insert_only.split("://", 1)[1].split("@", 1)[0].split(":")[0]),
        ),
    )
    csv_file = tmp_path / "calls.csv"
    csv_file.write_text("rep,day,id\nann,2026-01-05,c1\nann,2026-01-06,c2\n")
    out = cli(
        f"activity import {csv_file} --metric calls --rep-column rep --date-column day "
        "--id-column id"
    )
    assert out.exit_code == 0, out.stderr
    assert "2 rows read, 1 recorded, 1 already present" in out.stderr
