"""No command overwrites what it must not (SPEC §7.2, finding 5 of issue 12).

``--views`` refuses (exit 2) an existing file that is not a read model and the
ledger's own path; ``-o`` refuses the ledger, its views, keys and access-log
files, signing keys, and their -wal/-shm files. Every refusal: exit 2, one
line on stderr, empty stdout, and nothing changed (the file's bytes, the
ledger's event count).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Cli, event_count


def _record(cli: Cli) -> str:
    cid = cli.ok(
        "agree --rep alice --manager bob --focus prospecting --behavior calls --target 5 "
        "--start 2026-01-05",
    )
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    return cid


def _digest(path: str | Path) -> str | None:
    """A file's bytes, or for a SQLite database its content (a checkpoint of its
    WAL on close moves bytes between files without changing anything)."""
    p = Path(path)
    if not p.exists():
        return None
    data = p.read_bytes()
    if data.startswith(b"SQLite format 3\x00"):
        conn = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            data = "\n".join(conn.iterdump()).encode()
        finally:
            conn.close()
    return hashlib.sha256(data).hexdigest()


def _refused(result: Result, *words: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _snapshot(cli: Cli, *paths: str | Path) -> tuple[int, list[str | None]]:
    return event_count(cli.db), [_digest(p) for p in paths]


@pytest.mark.parametrize("via_env", [False, True])
def test_views_refuses_an_export_and_leaves_it_intact(
    cli: Cli, tmp_path: Path, via_env: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _record(cli)
    export = tmp_path / "backup-export.jsonl"
    cli.ok(f"export -o {export}")
    before = _snapshot(cli, export)

    if via_env:
        monkeypatch.setenv("COMMITMENTS_VIEWS", str(export))
        from click.testing import CliRunner

        from cli.main import cli as root

        result = CliRunner().invoke(root, ["--db", cli.db, "list"], catch_exceptions=False)
    else:
        result = Cli(cli.db, str(export))("list")

    _refused(result, "--views", "not a read model")
    assert _snapshot(cli, export) == before


def test_views_refuses_the_ledger_itself(sqlite_db: str, tmp_path: Path) -> None:
    cli = Cli(sqlite_db, str(tmp_path / "views.db"))
    _record(cli)  # writes the key store too: the people it names are registered
    keys = str(tmp_path / "ledger.keys.db")
    before = _snapshot(cli, sqlite_db, keys)

    for views in (sqlite_db, sqlite_db + "-wal", keys):
        _refused(Cli(sqlite_db, views)("list"), "--views")
        _refused(Cli(sqlite_db, views)("projections rebuild"), "--views")
    assert _snapshot(cli, sqlite_db, keys) == before


def test_views_refuses_another_ledger_and_a_foreign_database(cli: Cli, tmp_path: Path) -> None:
    _record(cli)
    other = tmp_path / "other.db"
    Cli(str(other), str(tmp_path / "other.views.db")).ok("init")
    foreign = tmp_path / "crm.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE deals (id INTEGER)")
    conn.commit()
    conn.close()
    before = _snapshot(cli, other, foreign)

    _refused(Cli(cli.db, str(other))("list"), "a ledger")
    _refused(Cli(cli.db, str(foreign))("history alice"), "something else")
    assert _snapshot(cli, other, foreign) == before


def test_views_accepts_a_new_an_empty_and_its_own_file(cli: Cli, tmp_path: Path) -> None:
    _record(cli)
    empty = tmp_path / "empty.views.db"
    empty.touch()
    for views in (cli.views, str(empty), str(tmp_path / "new.views.db")):
        assert "alice" in Cli(cli.db, views).ok("list")


@pytest.mark.parametrize(
    "command",
    [
        ("history", "alice", "--format", "html", "-o"),
        ("report", "coaching", "--format", "html", "-o"),
        ("export", "-o"),
        ("export", "--output"),
    ],
)
def test_output_refuses_every_file_of_the_ledger(
    sqlite_db: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    cli = Cli(sqlite_db, str(tmp_path / "views.db"))
    _record(cli)
    cli.ok("list")  # the views file exists
    key = tmp_path / "signing.key"
    key.write_text("PRIVATE+KEY+commitments+0a1b2c3d+AXZlcnkgc2VjcmV0\n")
    key.chmod(0o600)
    link = tmp_path / "innocent.html"
    link.symlink_to(sqlite_db)
    targets = [
        sqlite_db,
        sqlite_db + "-wal",
        sqlite_db + "-shm",
        cli.views,
        cli.views + "-wal",
        str(tmp_path / "ledger.views.db"),  # the default views file, even when --views differs
        str(tmp_path / "ledger.keys.db"),
        str(tmp_path / "ledger.keys.db-wal"),
        str(tmp_path / "ledger.access.db"),
        str(key),
        str(link),
    ]
    # a -wal file's bytes move into its database on any close: watch the contents
    watched = [t for t in targets if not t.endswith(("-wal", "-shm"))]
    before = _snapshot(cli, *watched)

    for target in targets:
        _refused(cli([*command, target]), "refusing to overwrite")

    assert _snapshot(cli, *watched) == before
    for name in ("ledger.access.db", "ledger.views.db"):  # the key store is watched above
        assert not (tmp_path / name).exists()


def test_output_refuses_any_sqlite_database(cli: Cli, tmp_path: Path) -> None:
    _record(cli)
    other = tmp_path / "other.db"
    Cli(str(other), str(tmp_path / "other.views.db")).ok("init")
    before = _snapshot(cli, other)

    _refused(cli(f"export -o {other}"), "SQLite database")
    _refused(cli(f"history alice -o {other}"), "SQLite database")

    assert _snapshot(cli, other) == before


def test_output_still_writes_an_ordinary_file(cli: Cli, tmp_path: Path) -> None:
    _record(cli)
    out = tmp_path / "alice.html"
    out.write_text("old page")
    cli.ok(f"history alice --format html -o {out}")
    assert "alice" in out.read_text()
    export = tmp_path / "out.jsonl"
    cli.ok(f"export -o {export}")
    assert export.read_text().count("\n") == event_count(cli.db)
    assert os.stat(export).st_mode & 0o077 == 0
