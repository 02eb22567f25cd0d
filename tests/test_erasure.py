"""The erasure test (issue 14, "Must show"), on both backends, and the key-store loss test.

A ledger is built through the command line with a named rep (sessions,
commitments with notes, check-ins, closes, CRM activity, replies when the
reply command exists), the other reps' histories and the team are taken,
and the rep is erased. Then: ``verify`` passes with one event more; every
other rep's history is unchanged; the team's counts and signals are
unchanged; the rep shows as ``erased:<8 hex>``; and a byte search of every
file the product wrote (ledger, its -wal, views, keys, exports and HTML
pages made after the erasure) and of a ``pg_dump`` of the PostgreSQL schemas
finds neither the name (any letter case, UTF-8 or JSON-escaped) nor the
destroyed key's bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from ledger.keys import keys_schema, open_keystore
from tests.conftest import Cli

NAME = "Zoë Quintero-Blåhaj"
OTHERS = ("Otto Berg", "Uma Reyes")
MANAGER = "Mara Lind"
CSV_ROWS = [
    ("A1", NAME, "05-01-26", "3"),
    ("A2", NAME, "06-01-26", "4"),
    ("A3", "Otto Berg", "05-01-26", "5"),
    ("A4", "Uma Reyes", "07-01-26", "2"),
]


def has_reply(cli: Cli) -> bool:
    from cli.main import COMMANDS

    return "reply" in COMMANDS


def build(cli: Cli, tmp_path: Path) -> None:
    """The team: a manager, the rep to erase and two others, each with a
    session, a rep-owned commitment (checked in, closed) and activity; a
    manager-owned commitment supporting the rep's."""
    cli.ok(["people", "add", MANAGER])
    for rep in (NAME, *OTHERS):
        cli.ok(["people", "add", rep, "--manager", MANAGER, "--team", "North"])
    for rep in (NAME, *OTHERS):
        first = rep.split()[0]
        cli.ok(
            ["session", "record", "--rep", rep, "--manager", MANAGER, "--on", "2026-01-05",
            "--prepared", "--note", f"{first} asked for help with discovery calls"],
        )  # fmt: skip
        cid = cli.ok(
            ["agree", "--rep", rep, "--manager", MANAGER, "--focus", "prospecting",
            "--behavior", f"{first} books ten discovery calls", "--target", "10",
            "--per", "week", "--start", "2026-01-05", "--due", "2026-01-25",
            "--expect", f"{first}'s pipeline grows"],
        )  # fmt: skip
        cli.ok(["check-in", cid, "--on", "2026-01-12", "--actual", "8", "--note", f"{first}: ill"])
        cli.ok(["close", cid, "--on", "2026-01-26", "--result", "missed", "--note", f"{first}: ok"])
        if rep == NAME:
            cli.ok(
                ["agree", "--rep", rep, "--manager", MANAGER, "--owner", "manager",
                "--focus", "prospecting", "--behavior", "two ride-alongs", "--target", "2",
                "--per", "window", "--start", "2026-01-05", "--due", "2026-01-25",
                "--supports", cid],
            )  # fmt: skip
            if has_reply(cli):
                cli.ok(["reply", cid, "--by", rep, "--text", f"{first}: I was ill", "--contest"])
    csv = tmp_path / "activity.csv"
    csv.write_text(
        "id,agent,day,calls\n" + "".join(",".join(r) + "\n" for r in CSV_ROWS), encoding="utf-8"
    )
    cli.ok(
        f"activity import {csv} --metric calls --rep-column agent --date-column day "
        "--value-column calls --id-column id --date-format %d-%m-%y",
    )
    csv.unlink()  # the input file is the user's, not written by the product


def _json(cli: Cli, *args: str) -> Any:
    return json.loads(cli.ok([*args, "--on", "2026-02-15", "--format", "json"]))


def _stable(obj: Any) -> Any:
    """``obj`` without its ``as_of`` (the moment of the read)."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if k != "as_of"}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def name_variants(name: str) -> list[bytes]:
    """The name's byte forms to search for: every letter case, UTF-8 and
    JSON-escaped (``\\u00eb``, upper and lower hex), whole and by part."""
    texts = {name, name.lower(), name.upper(), name.casefold(), name.title()}
    for part in name.replace("-", " ").split():
        if len(part) >= 4:
            texts |= {part, part.lower(), part.upper()}
    out: set[bytes] = set()
    for t in texts:
        out.add(t.encode("utf-8"))
        escaped = json.dumps(t)[1:-1]
        out.add(escaped.encode())
        out.add(escaped.replace("\\u", "\\U").encode())
        out.add("".join(f"\\u{ord(c):04X}" if ord(c) > 127 else c for c in t).encode())
    return sorted(out)


def found_in(data: bytes, needles: list[bytes]) -> list[bytes]:
    lowered = data.lower()  # ASCII letters in any case
    return [n for n in needles if n in data or n.lower() in lowered]


def people(cli: Cli) -> dict[str, tuple[str, int]]:
    """The read model's people: name -> (subject id, erased), after a catch-up."""
    import sqlite3

    cli.ok("list")
    conn = sqlite3.connect(cli.views)
    try:
        rows = conn.execute("SELECT name, subject, erased FROM people").fetchall()
    finally:
        conn.close()
    return {r[0]: (str(r[1]), int(r[2])) for r in rows}


def pg_dump(db: str) -> bytes:
    """A plain-text dump of the ledger's schema and its key schema, with every
    bytea value (pg_dump writes them as hex: the events' state, the keys)
    decoded and appended, so a search sees the stored bytes themselves."""
    url, _, query = db.partition("?")
    schema = query.partition("schema=")[2]
    out = subprocess.run(
        ["pg_dump", "--no-owner", "-n", schema, "-n", keys_schema(db), url],
        capture_output=True,
        check=True,
    )
    import re

    decoded = [bytes.fromhex(h.decode()) for h in re.findall(rb"\\\\x([0-9a-f]+)", out.stdout)]
    assert decoded, "the dump holds the stored events (as hex)"
    return out.stdout + b"\n" + b"\n".join(decoded)


def _registry_present() -> bool:
    from cli.people import people as group

    return {"add", "erase"} <= set(group.commands)


@pytest.fixture
def team(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    if not _registry_present():
        pytest.skip("the people registry (people add/erase) is not in this branch yet")
    monkeypatch.chdir(tmp_path)
    build(cli, tmp_path)
    return cli


def test_erasure_keeps_the_chain_and_every_other_fact_and_leaves_no_trace(
    team: Cli, tmp_path: Path
) -> None:
    cli = team
    count, _head = cli.ok("verify").split()
    others = {rep: _stable(_json(cli, "history", rep)) for rep in OTHERS}
    before_team = _stable(_json(cli, "team"))
    shown = json.loads(cli.ok(["people", "show", NAME, "--format", "json"]))
    subject = uuid.UUID(shown["subject"])
    assert people(cli)[NAME] == (shown["subject"], 0)
    with open_keystore(cli.db) as store:
        key = store.key(subject)
    assert key is not None
    needles = name_variants(NAME)
    # the search finds the name while it is there (in the read model, in clear)
    assert any(found_in(p.read_bytes(), needles) for p in tmp_path.iterdir() if p.is_file())

    cli.ok(["people", "erase", NAME, "--reason", "request 2026-17 (Art. 17)"])

    new_count, _new_head = cli.ok("verify").split()
    assert int(new_count) == int(count) + 1
    for rep, history in others.items():
        assert _stable(_json(cli, "history", rep)) == history, rep
    erased = f"erased:{subject.hex[:8]}"
    after_team = _stable(_json(cli, "team"))
    assert json.dumps(after_team, ensure_ascii=False).replace(erased, NAME) == json.dumps(
        before_team, ensure_ascii=False
    )
    mine = _json(cli, "history", erased)
    assert mine["rep"] == erased
    assert {c["behavior"] for c in mine["commitments"] if c["owner"] == "rep"} == {"[erased]"}
    assert {s["note"] for s in mine["sessions"]} == {"[erased]"}
    assert people(cli)[erased] == (str(subject), 1)
    assert NAME not in people(cli)
    listed = json.loads(cli.ok("people list --format json"))
    assert {"name": erased, "erased": True}.items() <= next(
        p for p in listed if p["subject"] == str(subject)
    ).items()
    assert cli(["people", "show", NAME]).exit_code == 3  # the name is gone: not confirmable

    # files written after the erasure: exports, analysis copies, HTML pages
    cli.ok("export -o after.jsonl")
    cli.ok("export --decrypt -o after-decrypted.jsonl")
    cli.ok("export --pseudonymise -o after-pseudonymised.jsonl")
    cli.ok("people keys export -o keys-after.jsonl")
    cli.ok(["history", erased, "--format", "html", "-o", "erased.html"])
    cli.ok("team --format html -o team.html")
    cli.ok("report coaching --format html -o coaching.html")

    files = sorted(p for p in tmp_path.iterdir() if p.is_file())
    names = {p.name for p in files}
    assert {"views.db", "after.jsonl", "erased.html", "team.html"} <= names
    if not cli.db.startswith("postgresql://"):
        assert {"ledger.db", "ledger.keys.db"} <= names
    dumps = {p.name: p.read_bytes() for p in files}
    if cli.db.startswith("postgresql://"):
        dumps["pg_dump"] = pg_dump(cli.db)
        assert b"sealed:v1:" in dumps["pg_dump"] and b"person_keys" in dumps["pg_dump"]
    else:
        assert {"ledger.db", "ledger.keys.db", "views.db"} <= set(dumps)
    assert b"[erased]" in dumps["after-decrypted.jsonl"]  # the copy shows the erasure
    assert erased.encode() in dumps["after-decrypted.jsonl"]  # her name, as erased:<8 hex>
    assert OTHERS[0].encode() in dumps["after-decrypted.jsonl"]  # the others' names open
    for where, data in dumps.items():
        assert found_in(data, needles) == [], where
        assert key not in data, where


def test_key_store_loss(team: Cli, tmp_path: Path) -> None:
    cli = team
    before = cli.ok("verify")
    counts = {rep: _json(cli, "history", rep)["counts"] for rep in (NAME, *OTHERS)}
    subjects = {name: row[0] for name, row in people(cli).items()}
    if cli.db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(cli.db.partition("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{keys_schema(cli.db)}" CASCADE')
    else:
        for suffix in ("", "-wal", "-shm"):
            path = cli.db[: -len(".db")] + ".keys.db" + suffix
            if os.path.exists(path):
                os.remove(path)
    assert cli.ok("verify") == before
    team_now = _json(cli, "team")
    shown = {r["rep"] for r in team_now.get("reps", team_now.get("rows", []))}
    assert shown == {f"erased:{uuid.UUID(subjects[n]).hex[:8]}" for n in (NAME, *OTHERS)}
    for rep in (NAME, *OTHERS):
        erased = f"erased:{uuid.UUID(subjects[rep]).hex[:8]}"
        assert _json(cli, "history", erased)["counts"] == counts[rep]
    needles = name_variants(NAME)
    for p in tmp_path.iterdir():
        if p.is_file():
            assert found_in(p.read_bytes(), needles) == [], p.name


def test_erase_refusals_write_nothing(team: Cli) -> None:
    cli = team
    count = cli.ok("verify").split()[0]
    for args, code in (
        (("people", "erase", "Nobody Here", "--reason", "r"), 3),
        (("people", "erase", NAME, "--reason", ""), 2),
        (("people", "erase", NAME), 2),
        (("people", "erase", "", "--reason", "r"), 2),
    ):
        result = cli(args)
        assert result.exit_code == code, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
    assert cli.ok("verify").split()[0] == count
    with open_keystore(cli.db) as store:
        assert store.state()[1] == 0  # no key destroyed
    cli.ok(["people", "erase", NAME, "--reason", "request 2026-17"])
    erased = next(n for n in people(cli) if n.startswith("erased:"))
    again = cli(["people", "erase", erased, "--reason", "twice"])
    assert again.exit_code == 4 and "erased" in again.stderr
    assert cli(["people", "erase", NAME, "--reason", "twice"]).exit_code == 3  # not confirmable
    assert cli(["people", "rename", erased, "--to", "Someone"]).exit_code in (3, 4)
    assert cli.ok("verify").split()[0] == str(int(count) + 1)


def test_every_read_model_drops_the_clear_text_on_its_next_read(team: Cli, tmp_path: Path) -> None:
    cli = team
    other = Cli(db=cli.db, views=str(tmp_path / "analyst.views.db"), actor="analyst")
    other.ok("team")  # a second read model, e.g. an analyst's --views
    needles = name_variants(NAME)
    assert found_in((tmp_path / "analyst.views.db").read_bytes(), needles)
    cli.ok(["people", "erase", NAME, "--reason", "request 2026-17"])
    assert any(r["rep"].startswith("erased:") for r in _json(other, "team")["reps"])
    for suffix in ("", "-wal", "-shm"):
        path = tmp_path / f"analyst.views.db{suffix}"
        if path.exists():
            assert found_in(path.read_bytes(), needles) == [], path.name


def test_a_long_running_reader_forgets_the_keys_it_read_once_a_key_is_destroyed(
    team: Cli, tmp_path: Path
) -> None:
    from ledger.application import Ledger
    from projections.catchup import open_current

    views = str(tmp_path / "server.views.db")
    server = Ledger.open(cli_db := team.db)  # a server's ledger: open for its lifetime
    try:
        rm = open_current(cli_db, views, ledger=server)  # opens every text: keys cached
        rm.close()
        team.ok(["people", "erase", NAME, "--reason", "request 2026-17"])  # another process
        rm = open_current(cli_db, views, ledger=server)
        try:
            names = {r[0] for r in rm.conn.execute("SELECT name FROM people")}
            notes = {r[0] for r in rm.conn.execute("SELECT note FROM sessions")}
        finally:
            rm.close()
    finally:
        server.close()
    assert NAME not in names and any(n.startswith("erased:") for n in names)
    assert "[erased]" in notes
    for suffix in ("", "-wal", "-shm"):
        path = Path(views + suffix)
        if path.exists():
            assert found_in(path.read_bytes(), name_variants(NAME)) == [], path.name
