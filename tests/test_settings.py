"""Settings from the environment have one reader each (SPEC §7.1): the command
line and the library agree on ``CREATE_TABLE``, and eventsourcing's own
environment variables cannot override what ``--db`` and the ledger chose."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInput, StorageUnavailable
from tests.conftest import Cli, activity_count

SESSION = ("session", "record", "--rep", "alice", "--manager", "bob", "--on", "2026-01-05")


def has_tables(db: str) -> bool:
    """Whether the ledger's events table exists (either backend)."""
    try:
        Ledger.open(db, create_table=False).close()
    except StorageUnavailable:
        return False
    return True


@pytest.mark.parametrize("word", ["off", "OFF", "no", "n", "false", "f", "0", " off "])
def test_create_table_off_is_off_for_the_command_line_and_the_library(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, word: str
) -> None:
    monkeypatch.setenv("CREATE_TABLE", word)
    result = cli(SESSION)
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no ledger tables" in lines[0] and "init" in lines[0], lines
    assert result.stdout == ""
    with pytest.raises(StorageUnavailable, match="no ledger tables"):
        Ledger.open(cli.db)
    assert not has_tables(cli.db)


def test_create_table_off_works_once_init_has_created_the_tables(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREATE_TABLE", "off")
    assert cli("init").exit_code == 0  # init always may create them
    assert len(cli.ok(SESSION)) == 36
    ledger = Ledger.open(cli.db)
    try:
        # the session, the ledger's LedgerCreated, the rep, manager and actor registered
        assert ledger.event_count() == 5
    finally:
        ledger.close()


@pytest.mark.parametrize("word", ["on", "yes", "y", "TRUE", "t", "1", ""])
def test_create_table_on_or_unset_creates_the_tables(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, word: str
) -> None:
    monkeypatch.setenv("CREATE_TABLE", word)
    assert len(cli.ok(SESSION)) == 36
    assert activity_count(cli.db) == 1  # the session (and the ledger's LedgerCreated)


def test_a_create_table_value_that_is_no_yes_or_no_is_refused(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREATE_TABLE", "maybe")
    result = cli(SESSION)
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CREATE_TABLE='maybe'" in lines[0], lines
    assert result.stdout == ""
    with pytest.raises(InvalidInput, match="CREATE_TABLE"):
        Ledger.open(cli.db)
    monkeypatch.delenv("CREATE_TABLE")
    assert not has_tables(cli.db)


def test_eventsourcing_environment_variables_do_not_override_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """eventsourcing reads ``LEDGER_<SETTING>`` and ``<SETTING>`` from os.environ
    for a plain application; the ledger's store is configured by --db alone."""
    elsewhere = tmp_path / "elsewhere.db"
    monkeypatch.setenv("LEDGER_SQLITE_DBNAME", str(elsewhere))
    monkeypatch.setenv("SQLITE_DBNAME", str(elsewhere))
    monkeypatch.setenv("LEDGER_CREATE_TABLE", "n")
    cli = Cli(db=str(tmp_path / "chosen.db"), views=str(tmp_path / "v.db"))
    assert len(cli.ok(SESSION)) == 36
    assert not elsewhere.exists()
    with sqlite3.connect(tmp_path / "chosen.db") as conn:
        assert conn.execute("SELECT count(*) FROM stored_events").fetchone() == (
            5,
        )  # with LedgerCreated and the 3 people it names (rep, manager, actor)
