"""Free text sealed under its owner's key, analysis copies, keys backups (SPEC §7.4)."""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

from ledger.keys import is_sealed, open_keystore, sealed_subject
from tests.conftest import Cli, event_count

REP = "Dana Rivers"
MANAGER = "Bob Stone"


def subject_of(cli: Cli, name: str) -> str:
    """A person's subject id, from the read model's ``people`` table."""
    import sqlite3

    cli.ok("list")  # catch the read model up
    conn = sqlite3.connect(cli.views)
    try:
        row = conn.execute("SELECT subject FROM people WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    assert row is not None, name
    return str(row[0])


def _build(cli: Cli) -> dict[str, str]:
    """A session, a rep-owned and a manager-owned commitment, a check-in and a
    close, each with free text naming "Zed" (people referred to by subject id)."""
    sid = cli.ok(
        ["session", "record", "--rep", REP, "--manager", MANAGER, "--on", "2026-01-05",
        "--note", "session note about Zed"],
    )  # fmt: skip
    rep_c = cli.ok(
        ["agree", "--rep", REP, "--manager", MANAGER, "--focus", "prospecting",
        "--behavior", "Zed calls daily", "--target", "10", "--per", "week",
        "--start", "2026-01-05", "--expect", "Zed books more demos"],
    )  # fmt: skip
    mgr_c = cli.ok(
        ["agree", "--rep", REP, "--manager", MANAGER, "--owner", "manager",
        "--focus", "prospecting", "--behavior", "ride along with Zed", "--target", "2",
        "--per", "window", "--start", "2026-01-05"],
    )  # fmt: skip
    cli.ok(["check-in", rep_c, "--on", "2026-01-12", "--actual", "9", "--note", "Zed was ill"])
    cli.ok(["close", rep_c, "--on", "2026-02-04", "--result", "met", "--note", "Zed did well"])
    return {"session": sid, "rep_c": rep_c, "mgr_c": mgr_c}


def _export(cli: Cli, *args: str) -> list[dict]:
    return [json.loads(line) for line in cli.ok(["export", *args]).splitlines()]


def test_free_text_is_stored_sealed_under_its_owners_key(cli: Cli) -> None:
    ids = _build(cli)
    lines = _export(cli)
    assert "Zed" not in json.dumps(lines)
    texts = {
        (line["stream"], field): value
        for line in lines
        for field, value in line["data"].items()
        if isinstance(value, str) and is_sealed(value)
    }
    owners = {k: str(sealed_subject(v)) for k, v in texts.items()}
    rep, manager = subject_of(cli, REP), subject_of(cli, MANAGER)
    assert owners[(ids["session"], "note")] == rep
    assert owners[(ids["rep_c"], "behavior")] == rep
    assert owners[(ids["rep_c"], "hypothesis")] == rep
    assert owners[(ids["rep_c"], "note")] == rep  # check-in and close notes: the rep's
    assert owners[(ids["mgr_c"], "behavior")] == manager
    # the read model holds them in clear
    history = json.loads(cli.ok(["history", REP, "--format", "json"]))
    behaviours = {c["id"]: c["behavior"] for c in history["commitments"]}
    assert behaviours[ids["rep_c"]] == "Zed calls daily"
    assert history["sessions"][0]["note"] == "session note about Zed"
    # the chain covers the ciphertext and the round trip keeps it
    cli.ok("verify")


def test_replay_api_opens_sealed_fields_only_when_given_the_keys(cli: Cli) -> None:
    from ledger.replay import events

    _build(cli)
    plain = [e.event for e in events(cli.db)]
    assert not any("Zed" in str(getattr(e, "note", "") or "") for e in plain)
    with open_keystore(cli.db, create=False) as keys:
        opened = [e.event for e in events(cli.db, keys=keys)]
    notes = {getattr(e, "note", None) for e in opened} - {None}
    assert {"session note about Zed", "Zed was ill", "Zed did well"} <= notes


def test_decrypted_and_pseudonymised_copies_are_marked_and_refused_by_import(
    cli: Cli, other_db: str, tmp_path: Path
) -> None:
    _build(cli)
    decrypted = _export(cli, "--decrypt")
    assert decrypted[0]["analysis_copy"] == "decrypted"
    assert "Zed calls daily" in json.dumps(decrypted, ensure_ascii=False)
    pseudo = _export(cli, "--pseudonymise")
    assert pseudo[0]["analysis_copy"] == "pseudonymised"
    text = json.dumps(pseudo)
    assert "Zed" not in text and REP not in text and MANAGER not in text
    rep, manager = subject_of(cli, REP), subject_of(cli, MANAGER)
    assert f"p-{rep[:8]}" in text and f"p-{manager[:8]}" in text and "[withheld]" in text
    agreed = [x for x in pseudo[1:] if x["type"].endswith("Commitment.Agreed")]
    assert {x["data"]["behavior"] for x in agreed} == {"[withheld]"}
    assert len(pseudo) == len(decrypted) == event_count(cli.db) + 1

    other = Cli(db=other_db, views=str(tmp_path / "other.views.db"))
    for kind, lines in (("decrypted", decrypted), ("pseudonymised", pseudo)):
        path = tmp_path / f"{kind}.jsonl"
        path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
        result = other(f"import {path}")
        assert result.exit_code == 2, result.stderr
        assert f"analysis copy ({kind})" in result.stderr
    assert not os.path.exists(other_db) or event_count(other_db) == 0
    # the plain export still imports, every hash kept
    plain = tmp_path / "plain.jsonl"
    cli.ok(["export", "-o", str(plain)])
    other.ok(["import", str(plain)])
    assert other.ok("verify") == cli.ok("verify")


def test_analysis_copy_options_refused_together_or_with_since(cli: Cli) -> None:
    _build(cli)
    for args in (("--decrypt", "--pseudonymise"), ("--decrypt", "--since", "2")):
        result = cli(["export", *args])
        assert result.exit_code == 2 and result.stdout == ""


def test_decrypt_without_a_key_store_is_refused(cli: Cli, tmp_path: Path) -> None:
    cli.ok("session record --rep alice --manager bob --on 2026-01-05")
    _drop_key_store(cli)
    out = tmp_path / "copy.jsonl"
    result = cli(["export", "--decrypt", "-o", str(out)])
    assert result.exit_code == 3 and "key store" in result.stderr
    assert not out.exists()


def _drop_key_store(cli: Cli) -> None:
    """Lose the key store (a disk gone, a schema dropped)."""
    if cli.db.startswith("postgresql://"):
        import psycopg

        from ledger.keys import keys_schema

        with psycopg.connect(cli.db.partition("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{keys_schema(cli.db)}" CASCADE')
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(cli.db[:-3] + ".keys.db" + suffix).unlink(missing_ok=True)


def test_keys_backup_round_trip_restores_a_readable_ledger(
    cli: Cli, other_db: str, tmp_path: Path
) -> None:
    ids = _build(cli)
    keys_file = tmp_path / "keys.jsonl"
    cli.ok(f"people keys export -o {keys_file}")
    assert stat.S_IMODE(os.stat(keys_file).st_mode) == 0o600
    rows = [json.loads(line) for line in keys_file.read_text().splitlines()]
    assert rows[0]["format"] == "commitments-keys/1"
    assert {r["subject"] for r in rows[1:]} >= {subject_of(cli, REP), subject_of(cli, MANAGER)}
    export = tmp_path / "ledger.jsonl"
    cli.ok(f"export -o {export}")

    rep = subject_of(cli, REP)
    other = Cli(db=other_db, views=str(tmp_path / "restored.views.db"))
    other.ok(f"import {export}")
    before = json.loads(other.ok(f"history erased:{rep[:8]} --format json"))
    assert {c["behavior"] for c in before["commitments"]} == {"[erased]"}  # no keys yet
    other.ok(f"people keys import {keys_file}")
    after = json.loads(other.ok(["history", REP, "--format", "json"]))
    assert {c["id"]: c["behavior"] for c in after["commitments"]}[ids["rep_c"]] == (
        "Zed calls daily"
    )
    again = other(f"people keys import {keys_file}")
    assert again.exit_code == 0 and "imported 0" in again.stderr


def test_keys_import_refuses_bad_files_and_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    _build(cli)
    good = tmp_path / "keys.jsonl"
    cli.ok(["people", "keys", "export", "-o", str(good)])
    head, *body = good.read_text().splitlines()
    subject = str(uuid.uuid4())
    bad_files = {
        "empty": "",
        "not json": "{nope\n",
        "no format": '{"ledger_id": null}\n',
        "bad subject": head + '\n{"subject": "Zed", "key": null}\n',
        "short key": head + f'\n{{"subject": "{subject}", "key": "AAAA"}}\n',
        "bad base64": head + f'\n{{"subject": "{subject}", "key": "!!!"}}\n',
        "extra field": head + f'\n{{"subject": "{subject}", "key": null, "name": "Zed"}}\n',
        "twice": head + "\n" + body[0] + "\n" + body[0] + "\n",
        "not utf-8": None,
    }
    with open_keystore(cli.db) as store:
        before = store.export_keys()
    for what, text in bad_files.items():
        path = tmp_path / "bad.jsonl"
        path.write_bytes(b"\xff\xfe\x00" if text is None else text.encode())
        result = cli(f"people keys import {path}")
        assert result.exit_code == 2, (what, result.stderr)
        assert "nothing was imported" in result.stderr or "file" in result.stderr, what
    with open_keystore(cli.db) as store:
        assert store.export_keys() == before
    # a different key for a known person: refused as a conflict, nothing changed
    other_key = "A" * 43 + "="
    conflict = tmp_path / "conflict.jsonl"
    conflict.write_text(
        head + f'\n{{"subject": "{subject}", "key": null}}\n'
        f'{{"subject": "{subject_of(cli, REP)}", "key": "{other_key}"}}\n'
    )
    result = cli(["people", "keys", "import", str(conflict)])
    assert result.exit_code == 4 and "different key" in result.stderr
    with open_keystore(cli.db) as store:
        assert store.export_keys() == before


def test_keys_export_refuses_to_overwrite_the_ledger(cli: Cli) -> None:
    _build(cli)
    target = cli.views if cli.db.startswith("postgresql://") else cli.db
    result = cli(["people", "keys", "export", "-o", target])
    assert result.exit_code == 2


def _people_in(obj: object, key: str | None = None, found: set[str] | None = None) -> set[str]:
    found = set() if found is None else found
    if isinstance(obj, dict):
        for k, v in obj.items():
            _people_in(v, k, found)
    elif isinstance(obj, list):
        for v in obj:
            _people_in(v, key, found)
    elif isinstance(obj, str) and key in {"rep", "manager", "managers", "actor"}:
        found.add(obj)
    return found


def _without_people(obj: object, names: set[str], key: str | None = None) -> object:
    """``obj`` with every person and free text blanked (``*``): a value under a
    person or text key, a known name, or a pseudonym."""
    import re

    from cli.pseudonyms import PERSON_KEYS, TEXT_KEYS

    if isinstance(obj, dict):
        return {k: _without_people(v, names, k) for k, v in obj.items() if k != "as_of"}
    if isinstance(obj, list):
        return [_without_people(v, names, key) for v in obj]
    if isinstance(obj, str) and (
        key in PERSON_KEYS | TEXT_KEYS or obj in names or re.fullmatch(r"p-[0-9a-f]{8}", obj)
    ):
        return "*"
    return obj


def test_pseudonymised_reads_show_no_name_and_no_free_text_but_the_same_figures(
    cli: Cli,
) -> None:
    cli.ok("demo --reps 4 --weeks 8 --until 2026-11-23")
    team = json.loads(cli.ok("team --on 2026-11-23 --format json"))
    names = _people_in(team) | {p["name"] for p in json.loads(cli.ok("people list --format json"))}
    rep = team["reps"][0]["rep"] if "reps" in team else team["rows"][0]["rep"]
    notes = {c["behavior"] for c in json.loads(cli.ok("list --on 2026-11-23 --format json"))}
    assert len(names) >= 5 and notes
    runs = {
        ("team", "--format", "json"): team,
        ("report", "coaching", "--format", "json"): None,
        ("report", "coaching", "--group-by", "team", "--format", "json"): None,
        ("list", "--format", "json"): None,
        ("history", rep, "--format", "json"): None,
    }
    for args, plain in runs.items():
        base = [*args, "--on", "2026-11-23"]
        plain = plain or json.loads(cli.ok(base))
        pseudo_text = cli.ok([*base, "--pseudonymise"])
        pseudo = json.loads(pseudo_text)
        for name in names:
            assert name not in pseudo_text, (args, name)
        for note in notes:
            assert note not in pseudo_text, (args, note)
        assert "p-" in pseudo_text
        assert _without_people(pseudo, names) == _without_people(plain, names), args
    for fmt in ("table", "csv", "md"):
        text = cli.ok(["list", "--on", "2026-11-23", "--format", fmt, "--pseudonymise"])
        assert not any(n in text for n in names)
    # a person has one pseudonym everywhere
    pseudo_team = json.loads(cli.ok("team --on 2026-11-23 --format json --pseudonymise"))
    pseudo_list = json.loads(cli.ok("list --on 2026-11-23 --format json --pseudonymise"))
    assert _people_in(pseudo_team) >= {c["rep"] for c in pseudo_list}
    refused = cli(["history", rep, "--format", "html", "--pseudonymise"])
    assert refused.exit_code == 2 and refused.stdout == ""


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return [p.name for p in sorted(folder.iterdir()) if p.is_file() and needle in p.read_bytes()]


def test_a_destroyed_key_makes_the_next_read_rebuild_without_the_clear_text(
    cli: Cli, tmp_path: Path
) -> None:
    ids = _build(cli)
    cli.ok("list")
    assert _files_holding(tmp_path, b"Zed calls daily")  # the read model holds it in clear
    rep = subject_of(cli, REP)
    with open_keystore(cli.db) as store:
        store.destroy(uuid.UUID(rep))
    history = json.loads(cli.ok(f"history erased:{rep[:8]} --format json"))
    behaviours = {c["id"]: c["behavior"] for c in history["commitments"]}
    assert behaviours[ids["rep_c"]] == "[erased]"
    assert behaviours[ids["mgr_c"]] == "ride along with Zed"  # the manager's key: kept
    assert history["sessions"][0]["note"] == "[erased]"
    for text in (b"Zed calls daily", b"session note about Zed", b"Zed was ill", b"Zed did well"):
        assert _files_holding(tmp_path, text) == [], text
    assert _files_holding(tmp_path, REP.encode()) == []
    cli.ok("verify")


def test_a_new_persons_key_costs_no_rebuild_of_the_read_model(cli: Cli) -> None:
    """A key made for someone new opens nothing the read model already holds:
    the next catch-up applies the new events only (found by the growth bench,
    where every new person rebuilt a million events). A key added where one
    was missing (a restore) does rebuild: see the keys backup round trip."""
    import sqlite3

    from ledger.application import Ledger
    from projections.catchup import catch_up

    _build(cli)
    cli.ok("list")
    conn = sqlite3.connect(cli.views)
    try:
        caught_up_to = conn.execute("SELECT position FROM tracking").fetchone()[0]
    finally:
        conn.close()
    cli.ok(
        ["session", "record", "--rep", "Newcomer Nash", "--manager", MANAGER,
        "--on", "2026-02-09", "--note", "first meeting"],
    )  # fmt: skip
    ledger = Ledger.open(cli.db)
    try:
        applied = catch_up(ledger, cli.views)
    finally:
        ledger.close()
    assert caught_up_to > 5
    assert 0 < applied < caught_up_to  # Nash's registration and session, not everything
    history = json.loads(cli.ok("history 'Newcomer Nash' --format json"))
    assert [s["note"] for s in history["sessions"]] == ["first meeting"]


def test_losing_the_key_store_leaves_reads_answering_and_verify_passing(
    cli: Cli, tmp_path: Path
) -> None:
    ids = _build(cli)
    rep = subject_of(cli, REP)
    before = cli.ok("verify")
    counts = json.loads(cli.ok(["history", REP, "--format", "json"]))["counts"]
    _drop_key_store(cli)
    history = json.loads(cli.ok(f"history erased:{rep[:8]} --format json"))
    assert history["counts"] == counts
    assert {c["id"]: c["behavior"] for c in history["commitments"]}[ids["rep_c"]] == "[erased]"
    assert cli.ok("verify") == before
    assert _files_holding(tmp_path, b"Zed calls daily") == []
    assert _files_holding(tmp_path, REP.encode()) == []


def test_the_pseudonymiser_uses_the_key_modules_words() -> None:
    from cli.pseudonyms import WITHHELD_TEXT, Pseudonymiser
    from ledger import keys

    subject = uuid.uuid4()
    p = Pseudonymiser(lambda name: str(subject) if name == "Dana" else None)
    assert WITHHELD_TEXT == keys.WITHHELD_TEXT
    assert p.person("Dana") == keys.pseudonym(subject)
    assert p.person(keys.erased_name(subject)) == keys.pseudonym(subject)
    assert p({"rep": "Dana", "note": "x", "focus": "prospecting"}) == {
        "rep": keys.pseudonym(subject),
        "note": keys.WITHHELD_TEXT,
        "focus": "prospecting",
    }


def test_the_read_side_knows_the_same_free_text_fields_as_the_write_side() -> None:
    from ledger.sealing import FREE_TEXT_BY_TOPIC
    from projections.sealed import SEALED_FIELDS

    assert SEALED_FIELDS == FREE_TEXT_BY_TOPIC
