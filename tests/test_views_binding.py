"""A views file proves where it came from (SPEC §7.2, finding 4 of issue 12).

The tracking row records the position applied and the hash of the ledger's
event there; every read checks both against the ledger, so a ledger restored
from a backup (the event at the tracked position changed or vanished) is
rebuilt automatically before answering, on both backends.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from projections.catchup import table_dump
from tests.conftest import Cli


def _agree(cli: Cli, rep: str = "alice") -> str:
    return cli.ok(
        ["agree", "--rep", rep, "--manager", "bob", "--focus", "prospecting",
        "--behavior", "calls", "--target", "5", "--per", "week", "--start", "2026-01-05"],
    )  # fmt: skip


def _backup(cli: Cli, folder: Path) -> Callable[[], None]:
    """Take a backup of the ledger now; the returned function restores it."""
    if not cli.db.startswith("postgresql"):
        copy = folder / "backup.db"
        src, dst = sqlite3.connect(cli.db), sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        dst.close()

        def restore_file() -> None:  # SQLite's backup API, onto the live file
            src, dst = sqlite3.connect(copy), sqlite3.connect(cli.db)
            src.backup(dst)
            src.close()
            dst.close()

        return restore_file

    import psycopg

    export = folder / "backup.jsonl"
    cli.ok(f"export -o {export}")
    url, schema = cli.db.split("?schema=")

    def restore_schema() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
        cli.ok(f"import {export}")

    return restore_schema


def test_a_restored_backup_is_rebuilt_before_the_next_read(cli: Cli, tmp_path: Path) -> None:
    cid = _agree(cli)
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    cli.ok("list")
    restore = _backup(cli, tmp_path)
    cli.ok(f"close {cid} --on 2026-02-04 --result met")
    assert json.loads(cli.ok(f"show {cid} --format json"))["status"] == "closed"

    restore()
    cli.ok(f"check-in {cid} --on 2026-01-16 --actual 5")
    cli.ok(f"check-in {cid} --on 2026-01-23 --actual 6")
    shown = json.loads(cli.ok(f"show {cid} --format json --on 2026-01-31"))

    assert shown["status"] == "open", "the close that no longer exists is still served"
    assert shown["result"] is None
    assert shown["actual"] == 15, "the check-ins written after the restore are missing"
    fresh = str(tmp_path / "fresh.views.db")
    Cli(cli.db, fresh).ok("projections rebuild")
    assert table_dump(cli.views) == table_dump(fresh)


def test_a_rewritten_event_at_the_tracked_position_is_noticed(
    sqlite_db: str, tmp_path: Path
) -> None:
    cli = Cli(sqlite_db, str(tmp_path / "views.db"))
    cid = _agree(cli)
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    assert json.loads(cli.ok(f"show {cid} --format json"))["actual"] == 4
    conn = sqlite3.connect(sqlite_db)
    last = conn.execute("SELECT max(rowid) FROM stored_events").fetchone()[0]
    conn.execute(
        "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), "
        "'\"actual\":4.0', '\"actual\":9.0') AS BLOB) WHERE rowid = ?",
        (last,),
    )
    conn.commit()
    conn.close()

    assert json.loads(cli.ok(f"show {cid} --format json"))["actual"] == 9


def test_a_views_file_of_an_older_release_is_rebuilt(cli: Cli, tmp_path: Path) -> None:
    cid = _agree(cli)
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    cli.ok("list")
    expected = table_dump(cli.views)
    conn = sqlite3.connect(cli.views)
    conn.execute("ALTER TABLE tracking DROP COLUMN event_hash")
    conn.commit()
    conn.close()

    assert cid in cli.ok("list")
    assert table_dump(cli.views) == expected


def test_nothing_new_reads_without_opening_the_ledger_application(
    sqlite_db: str, tmp_path: Path, monkeypatch: object
) -> None:
    """The "nothing new" path stays cheap: plain sqlite3 reads only."""
    from ledger import application

    cli = Cli(sqlite_db, str(tmp_path / "views.db"))
    _agree(cli)
    cli.ok("list")
    opened: list[str] = []
    real = application.Ledger.open

    def spy(*args: object, **kwargs: object) -> object:
        opened.append(str(args))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(application.Ledger, "open", spy)
    cli.ok("list")
    assert opened == []


# -- projections verify ------------------------------------------------------------


def _edit_views(cli: Cli, sql: str) -> None:
    conn = sqlite3.connect(cli.views)
    conn.execute(sql)
    conn.commit()
    conn.close()


def _verify_refuses(cli: Cli, *words: str) -> None:
    result = cli("projections verify")
    assert result.exit_code == 4, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_projections_verify_passes_on_a_faithful_read_model(cli: Cli) -> None:
    cid = _agree(cli)
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    cli.ok("list")
    before = table_dump(cli.views)

    out = cli.ok("projections verify")

    assert "match a rebuild" in out and "position" in out
    assert table_dump(cli.views) == before  # read-only


def test_projections_verify_compares_a_lagging_read_model_at_its_own_position(cli: Cli) -> None:
    cid = _agree(cli)
    cli.ok("list")
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")  # not read yet

    assert "match a rebuild" in cli.ok("projections verify")


def test_deleting_a_row_from_the_views_file_is_caught(cli: Cli) -> None:
    """Finding 4: deleting rows from the views file changed a signal with exit 0."""
    cid = _agree(cli)
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    cli.ok(f"close {cid} --on 2026-02-04 --result missed")
    before = json.loads(cli.ok("history alice --format json --on 2026-02-10"))
    _edit_views(cli, "DELETE FROM closes")
    after = json.loads(cli.ok("history alice --format json --on 2026-02-10"))
    assert after["counts"] != before["counts"]  # what the edit does to every read

    _verify_refuses(cli, "closes", "1 rows missing")


@pytest.mark.parametrize(
    "sql, table",
    [
        ("UPDATE check_ins SET actual = 40", "check_ins"),
        ("UPDATE commitments SET kept_at = 0.1", "commitments"),
        ("INSERT INTO releases VALUES ('x', 'alice', '2026-01-10', 'r', 'a', "
         "'2026-01-10T00:00:00.000000Z', 99)", "releases"),
        ("UPDATE tracking SET source = 'elsewhere'", "tracking"),
        ("UPDATE tracking SET ledger_id = 'c0ffee'", "belongs to ledger c0ffee"),
        ("DROP TABLE corrections", "corrections"),
    ],
)  # fmt: skip
def test_any_edit_of_the_views_file_is_caught(cli: Cli, sql: str, table: str) -> None:
    cid = _agree(cli)
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    cli.ok("list")
    _edit_views(cli, sql)

    _verify_refuses(cli, table)


def _read_then_edit_the_ledger(sqlite_db: str, tmp_path: Path, sql: str) -> Cli:
    """A ledger with an agreement and a check-in, read once (the views file tracks
    the check-in), then ``sql`` run on its store behind its back."""
    cli = Cli(sqlite_db, str(tmp_path / "views.db"))
    cid = _agree(cli)
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    cli.ok("list")
    conn = sqlite3.connect(sqlite_db)
    conn.execute(sql)
    conn.commit()
    conn.close()
    return cli


def test_projections_verify_catches_a_replaced_ledger(sqlite_db: str, tmp_path: Path) -> None:
    cli = _read_then_edit_the_ledger(
        sqlite_db,
        tmp_path,
        "UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), "
        "'\"actual\":4.0', '\"actual\":9.0') AS BLOB) WHERE rowid = "
        "(SELECT max(rowid) FROM stored_events)",
    )
    _verify_refuses(cli, "not the one it applied")


def test_projections_verify_without_a_read_model_is_not_found(cli: Cli) -> None:
    _agree(cli)  # a write resolves names through the read model: it makes one
    for extra in ("", "-wal", "-shm"):
        Path(cli.views + extra).unlink(missing_ok=True)
    result = cli("projections verify")
    assert result.exit_code == 3 and result.stdout == ""
    assert "no read model" in result.stderr


def test_projections_verify_refuses_events_that_do_not_replay(
    sqlite_db: str, tmp_path: Path
) -> None:
    """Found by tests/test_tamper_properties.py: a stored state that is no longer
    JSON made projections verify crash (exit 1) instead of refusing."""
    cli = _read_then_edit_the_ledger(
        sqlite_db,
        tmp_path,
        "UPDATE stored_events SET state = CAST('{not json' AS BLOB) WHERE topic LIKE '%Agreed'",
    )
    _verify_refuses(cli, "do not replay")


def test_projections_verify_refuses_a_tracked_event_whose_stream_id_is_not_a_uuid(
    sqlite_db: str, tmp_path: Path
) -> None:
    """Found by tests/test_tamper_properties.py (issue 19): a NUL written over the
    first byte of the stream id of the event the views file tracks made
    projections verify crash (exit 1, eventsourcing parsing it as a UUID)
    instead of refusing the read model as not the ledger's."""
    cli = _read_then_edit_the_ledger(
        sqlite_db,
        tmp_path,
        "UPDATE stored_events SET originator_id = char(0) || substr(originator_id, 2) "
        "WHERE rowid = (SELECT max(rowid) FROM stored_events)",
    )
    _verify_refuses(cli, "not the one it applied")


# -- the ledger id -------------------------------------------------------------------


def _ledger_id(db: str) -> str:
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        return str(ledger.ledger_id())
    finally:
        ledger.close()


def test_a_views_file_of_another_ledger_is_refused_naming_both(
    db: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from tests.conftest import ledger_location

    backend = "postgres" if db.startswith("postgresql") else "sqlite"
    mine = Cli(db, str(tmp_path / "shared.views.db"))
    _agree(mine)
    mine.ok("list")
    before = table_dump(mine.views)
    with ledger_location(backend, tmp_path / "other") as other_db:
        (tmp_path / "other").mkdir(exist_ok=True)
        other = Cli(other_db, mine.views)
        own = Cli(other_db, str(tmp_path / "o.views.db"))  # a write reads names there too
        own.ok(["check-in", _agree(own, "bert"), "--on", "2026-01-09", "--actual", "2"])

        for args in (("list",), ("history", "bert"), ("projections", "rebuild")):
            result = other(args)
            assert result.exit_code == 4, (args, result.exit_code, result.stderr)
            assert result.stdout == ""
            assert len(result.stderr.strip().splitlines()) == 1
            assert _ledger_id(db) in result.stderr and _ledger_id(other_db) in result.stderr
        _verify_refuses(other, _ledger_id(db), _ledger_id(other_db))
    assert table_dump(mine.views) == before
    assert "alice" in mine.ok("list")


def test_a_moved_sqlite_ledger_keeps_its_views_file(tmp_path: Path) -> None:
    first = Cli(str(tmp_path / "a.db"), str(tmp_path / "kept.views.db"))
    cid = _agree(first)
    first.ok("list")
    for old, new in (("a.db", "b.db"), ("a.keys.db", "b.keys.db")):  # the key store goes too
        for extra in ("", "-wal", "-shm"):
            if (tmp_path / (old + extra)).exists():
                (tmp_path / (old + extra)).rename(tmp_path / (new + extra))
    moved = Cli(str(tmp_path / "b.db"), first.views)
    moved.ok(f"check-in {cid} --on 2026-01-09 --actual 4")

    assert json.loads(moved.ok(f"show {cid} --format json"))["actual"] == 4
    assert "match a rebuild" in moved.ok("projections verify")


def test_the_default_views_file_of_a_postgresql_ledger_carries_its_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from cli.main import cli
    from tests.conftest import ledger_location

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COMMITMENTS_VIEWS", raising=False)
    with ledger_location("postgres", tmp_path) as a, ledger_location("postgres", tmp_path) as b:
        for url, rep in ((a, "anna"), (b, "bert")):
            _agree(Cli(url, str(tmp_path / "unused.views.db")), rep)
            result = CliRunner().invoke(cli, ["--db", url, "list", "--format", "json"])
            assert result.exit_code == 0, result.stderr
            assert {c["rep"] for c in json.loads(result.stdout)} == {rep}
            assert (tmp_path / f"commitments-{_ledger_id(url)[:8]}.views.db").exists()
        assert not (tmp_path / "commitments.views.db").exists()
