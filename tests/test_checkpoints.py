"""Signed checkpoints, inclusion and consistency proofs, tlog-proof files (SPEC §7.3),
on both backends, checked against an independent RFC 6962 computation from the export."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.conftest import Cli, event_count
from tests.test_audit import TAMPERING, build_sample, export_of, raw_sql
from tests.test_canonical_store import EDITS, canonical, set_state
from tests.test_merkle import mth, path, proof

ROOT = Path(__file__).resolve().parents[1]
AUDIT_MD = ROOT / "docs" / "audit.md"
HASHED = ("stream", "version", "type", "recorded_at", "data", "prev")


def leaf_data(line: dict[str, Any]) -> bytes:
    """The canonical bytes behind an export line's hash, by plain json (not ledger.audit)."""
    body = json.dumps(
        {k: line[k] for k in HASHED}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert hashlib.sha256(body).hexdigest() == line["hash"]
    return body


def leaves(db: str) -> tuple[list[bytes], list[int]]:
    """Every event's leaf data and position, in ledger order."""
    lines = export_of(db)
    return [leaf_data(x) for x in lines], [x["position"] for x in lines]


def ledger_id(db: str) -> str:
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        return str(ledger.ledger_id())
    finally:
        ledger.close()


def parse_checkpoint(note: str) -> tuple[str, int, bytes, str, bytes]:
    """(origin, size, root, key name, key id ‖ signature) of a checkpoint note."""
    text, _, sigs = note.partition("\n\n")
    origin, size, root = text.split("\n")
    (line,) = sigs.rstrip("\n").split("\n")
    dash, name, sig = line.split(" ")
    assert dash == "—"
    return origin, int(size), base64.b64decode(root), name, base64.b64decode(sig)


def fails(result: Any, code: int, words: str) -> None:
    """A refusal: the exit code, one line on stderr naming the problem, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert words in result.stderr, result.stderr


@pytest.fixture
def signer(cli: Cli, tmp_path: Path) -> tuple[str, str]:
    """A sample ledger and a signing key: (key file, verifier key)."""
    build_sample(cli.db)
    key = str(tmp_path / "ledger.key")
    return key, cli.ok(f"keys generate -o {key}")


# -- keys ----------------------------------------------------------------------


def test_keys_generate_writes_an_owner_only_key_and_prints_its_signed_note_verifier(
    tmp_path: Path,
) -> None:
    cli = Cli(db=str(tmp_path / "none.db"), views=str(tmp_path / "v.db"))
    key = tmp_path / "k.key"
    verifier = cli.ok(f"keys generate -o {key} --name example.com/coaching")
    assert key.stat().st_mode & 0o777 == 0o600
    name, key_id, encoded = verifier.split("+", 2)
    raw = base64.b64decode(encoded)
    assert name == "example.com/coaching" and raw[0] == 1 and len(raw) == 33
    expected = hashlib.sha256(name.encode() + b"\n\x01" + raw[1:]).digest()[:4]
    assert key_id == expected.hex()
    assert cli.ok(f"keys generate -o {tmp_path / 'd.key'}").startswith("commitments+")
    assert not (tmp_path / "none.db").exists()


def test_keys_generate_refuses_an_existing_file_and_a_bad_name(tmp_path: Path) -> None:
    cli = Cli(db=str(tmp_path / "none.db"), views=str(tmp_path / "v.db"))
    existing = tmp_path / "taken"
    existing.write_text("precious", "utf-8")
    fails(cli(f"keys generate -o {existing}"), 2, "exists")
    assert existing.read_text("utf-8") == "precious"
    fails(cli(f"keys generate -o {tmp_path / 'n.key'} --name 'a b'"), 2, "name")
    fails(cli(f"keys generate -o {tmp_path / 'n.key'} --name a+b"), 2, "name")
    assert not (tmp_path / "n.key").exists()


# -- checkpoints -----------------------------------------------------------------


def test_a_checkpoint_is_a_signed_note_of_origin_size_and_rfc6962_root(
    cli: Cli, signer: tuple[str, str]
) -> None:
    key, verifier = signer
    note = cli.ok(f"checkpoint --key {key}") + "\n"
    origin, size, root, name, sig = parse_checkpoint(note)
    data, _ = leaves(cli.db)
    assert origin == f"commitments/{ledger_id(cli.db)}" and name == "commitments"
    assert size == len(data) == event_count(cli.db)
    assert root == mth(data)
    assert note.endswith("\n") and note.count("\n\n") == 1
    public = base64.b64decode(verifier.split("+", 2)[2])[1:]
    assert sig[:4] == hashlib.sha256(b"commitments\n\x01" + public).digest()[:4]
    text = note.split("\n\n")[0] + "\n"
    Ed25519PublicKey.from_public_bytes(public).verify(sig[4:], text.encode())
    assert Path(key + ".last").read_text("utf-8") == note
    assert Path(key + ".last").stat().st_mode & 0o777 == 0o600


def test_verify_checkpoint_accepts_appends_and_a_key_given_as_a_file(
    cli: Cli, signer: tuple[str, str], tmp_path: Path
) -> None:
    key, verifier = signer
    old = tmp_path / "q1.checkpoint"
    cli.ok(f"checkpoint --key {key} -o {old}")
    cli.ok("session record --rep carol --manager bob --on 2026-03-01")
    pub = tmp_path / "auditor.pub"
    pub.write_text(verifier + "\n", "utf-8")
    for given in (verifier, str(pub)):
        out = cli.ok(f"verify --checkpoint {old} --public-key {given}")
        assert f"first {parse_checkpoint(old.read_text())[1]} events" in out
    assert parse_checkpoint(cli.ok(f"checkpoint --key {key}") + "\n")[1] == event_count(cli.db)


REWRITES = ("edit one event's data", "delete one event", "truncate the tail")


@pytest.mark.parametrize("tampering", REWRITES)
def test_a_rewritten_history_fails_an_older_checkpoint_and_is_not_signed(
    cli: Cli, signer: tuple[str, str], tmp_path: Path, tampering: str
) -> None:
    """Rewriting the store (the chain is not stored: `verify` recomputes it from
    what is there) is caught by a kept checkpoint, and checkpoint refuses to sign it.
    A rewrite that also breaks a stream's versions is named by its position, as
    `verify` names it (the store is read as strictly as `verify` reads it)."""
    key, verifier = signer
    old = tmp_path / "q1.checkpoint"
    # carol, bob and the actor named once first: the write after the checkpoint is one event
    cli.ok("session record --rep carol --manager bob --on 2026-02-01")
    cli.ok(f"checkpoint --key {key} -o {old}")
    cli.ok("session record --rep carol --manager bob --on 2026-03-01")
    raw_sql(cli.db, *TAMPERING[tampering])
    if tampering == "edit one event's data":
        cli.ok("verify")  # every hash recomputed from the rewritten store: it passes
    plain = cli("verify")
    result = cli(f"verify --checkpoint {old} --public-key {verifier}")
    if plain.exit_code == 4:  # e.g. a deletion that leaves a version gap
        fails(result, 4, "stored event at position")
        assert result.stderr == plain.stderr
    else:
        fails(result, 4, "first" if tampering != "truncate the tail" else "truncated")
        assert re.search(r"rewritten|truncated", result.stderr)
    before = Path(key + ".last").read_text("utf-8")
    signing = cli(f"checkpoint --key {key}")
    fails(signing, 4, "stored event at position" if plain.exit_code else "last checkpoint signed")
    assert Path(key + ".last").read_text("utf-8") == before


@pytest.mark.parametrize("edit", list(EDITS))
def test_stored_bytes_that_are_not_canonical_are_neither_signed_nor_accepted(
    cli: Cli, signer: tuple[str, str], tmp_path: Path, edit: str
) -> None:
    """The leaves are spliced from the stored text, so checkpoint reads the store as
    strictly as verify does: a state rewritten to other bytes of the same content
    (which would give the same leaf if it were decoded and encoded again) is refused,
    exit 4 naming its position, by checkpoint and by verify --checkpoint alike."""
    key, verifier = signer
    old = tmp_path / "q1.checkpoint"
    cli.ok(f"checkpoint --key {key} -o {old}")
    line = next(x for x in export_of(cli.db) if "✓" in x["data"].get("note", ""))
    text = canonical({**line["data"], "timestamp": line["recorded_at"]})
    set_state(cli.db, line["position"], EDITS[edit](text))
    where = f"stored event at position {line['position']}:"
    before = Path(key + ".last").read_text("utf-8")
    fails(cli(f"checkpoint --key {key}"), 4, where)
    assert Path(key + ".last").read_text("utf-8") == before
    fails(cli(f"verify --checkpoint {old} --public-key {verifier}"), 4, where)


def test_appending_only_keeps_every_older_checkpoint(
    cli: Cli, signer: tuple[str, str], tmp_path: Path
) -> None:
    key, verifier = signer
    kept = []
    for day in range(1, 4):
        kept.append(tmp_path / f"{day}.checkpoint")
        cli.ok(f"checkpoint --key {key} -o {kept[-1]}")
        cli.ok(f"session record --rep carol --manager bob --on 2026-03-0{day}")
    for note in kept:
        cli.ok(f"verify --checkpoint {note} --public-key {verifier}")
    # An event appended behind the ledger's back with a version gap is an append,
    # but not a valid event: refused as `verify` refuses it, naming its position.
    raw_sql(cli.db, *TAMPERING["insert one event"])
    plain = cli("verify")
    assert plain.exit_code == 4 and "is a gap after its version" in plain.stderr
    for note in kept:
        result = cli(f"verify --checkpoint {note} --public-key {verifier}")
        fails(result, 4, "is a gap after its version")
        assert result.stderr == plain.stderr


def test_one_changed_byte_or_another_key_is_refused(
    cli: Cli, signer: tuple[str, str], tmp_path: Path
) -> None:
    key, verifier = signer
    note = cli.ok(f"checkpoint --key {key}") + "\n"
    origin, size, root, _name, _sig = parse_checkpoint(note)
    other = cli.ok(f"keys generate -o {tmp_path / 'other.key'}")
    changed = {
        "size": note.replace(f"\n{size}\n", f"\n{size - 1}\n", 1),
        "root": note.replace(base64.b64encode(root).decode(), base64.b64encode(bytes(32)).decode()),
        "origin": note.replace(origin, origin[:-1] + ("0" if origin[-1] != "0" else "1")),
        "signature": note[:-6] + ("A" if note[-6] != "A" else "B") + note[-5:],
    }
    for what, text in changed.items():
        assert text != note, what
        tampered = tmp_path / f"{what}.checkpoint"
        tampered.write_text(text, "utf-8")
        fails(cli(f"verify --checkpoint {tampered} --public-key {verifier}"), 4, "")
    good = tmp_path / "good.checkpoint"
    good.write_text(note, "utf-8")
    fails(cli(f"verify --checkpoint {good} --public-key {other}"), 4, "not signed by key")


def test_a_checkpoint_of_another_ledger_is_refused(
    cli: Cli, signer: tuple[str, str], tmp_path: Path
) -> None:
    key, verifier = signer
    note = tmp_path / "a.checkpoint"
    cli.ok(f"checkpoint --key {key} -o {note}")
    other = Cli(db=str(tmp_path / "other.db"), views=str(tmp_path / "ov.db"))
    build_sample(other.db)
    fails(other(f"verify --checkpoint {note} --public-key {verifier}"), 4, "another ledger")
    fails(other(f"checkpoint --key {key}"), 4, "another ledger")


def test_checkpoint_refusals_write_nothing(
    cli: Cli, signer: tuple[str, str], tmp_path: Path
) -> None:
    key, _ = signer
    count = event_count(cli.db)
    fails(cli(f"checkpoint --key {tmp_path / 'missing.key'}"), 2, "no such file")
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n", "utf-8")
    fails(cli(f"checkpoint --key {bad}"), 2, "not a signing key")
    targets = [cli.views, key, key + ".last"]
    if not cli.db.startswith("postgresql"):
        targets += [cli.db, cli.db + "-wal"]
    for target in targets:
        fails(cli(f"checkpoint --key {key} -o {target}"), 2, "choose another file")
    assert not Path(key + ".last").exists()
    assert event_count(cli.db) == count


def test_a_ledger_without_events_has_no_id_to_sign(cli: Cli, tmp_path: Path) -> None:
    key = str(tmp_path / "k.key")
    cli.ok(f"keys generate -o {key}")
    cli.ok("init")
    fails(cli(f"checkpoint --key {key}"), 4, "no id yet")
    assert not Path(key + ".last").exists()
    assert event_count(cli.db) == 0


# -- proofs ------------------------------------------------------------------------


def test_every_inclusion_proof_matches_rfc6962_path(cli: Cli, signer: tuple[str, str]) -> None:
    data, positions = leaves(cli.db)
    for rank, position in enumerate(positions):
        for size in sorted({rank + 1, len(data)}):
            got = json.loads(cli.ok(f"prove inclusion {position} --size {size}"))
            assert got == {
                "size": size,
                "root": mth(data[:size]).hex(),
                "leaf_index": rank,
                "leaf_hash": hashlib.sha256(b"\0" + data[rank]).hexdigest(),
                "path": [h.hex() for h in path(rank, data[:size])],
            }


def test_every_consistency_proof_matches_rfc6962_proof(cli: Cli, signer: tuple[str, str]) -> None:
    data, _ = leaves(cli.db)
    n = len(data)
    for old in range(1, n + 1):
        got = json.loads(cli.ok(f"prove consistency {old}"))
        assert got == {
            "old_size": old,
            "new_size": n,
            "old_root": mth(data[:old]).hex(),
            "new_root": mth(data).hex(),
            "path": [h.hex() for h in proof(old, data)],
        }
    got = json.loads(cli.ok("prove consistency 2 --size 5"))
    assert got["path"] == [h.hex() for h in proof(2, data[:5])]


def test_a_tlog_proof_verifies_offline_with_the_key_alone(
    cli: Cli, signer: tuple[str, str], tmp_path: Path
) -> None:
    key, verifier = signer
    note = tmp_path / "q1.checkpoint"
    cli.ok(f"checkpoint --key {key} -o {note}")
    cli.ok("session record --rep carol --manager bob --on 2026-03-01")
    data, positions = leaves(cli.db)
    size = parse_checkpoint(note.read_text())[1]
    text = cli.ok(f"prove inclusion {positions[3]} --format tlog-proof --checkpoint {note}") + "\n"
    lines = text.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert base64.b64decode(lines[1].removeprefix("extra ")) == data[3]
    assert lines[2] == "index 3"
    hashes = [base64.b64decode(x) for x in lines[3 : lines.index("")]]
    assert hashes == path(3, data[:size])
    assert text.split("\n\n", 1)[1] == note.read_text()
    proof_file = tmp_path / "e.tlog-proof"
    proof_file.write_text(text, "utf-8")
    offline = Cli(db=str(tmp_path / "nowhere.db"), views=str(tmp_path / "nv.db"))
    result = offline(f"verify --proof {proof_file} --public-key {verifier}")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == data[3].decode()
    assert "leaf 3" in result.stderr
    assert not (tmp_path / "nowhere.db").exists()
    other = cli.ok(f"keys generate -o {tmp_path / 'o.key'}")
    fails(offline(f"verify --proof {proof_file} --public-key {other}"), 4, "not signed")
    edited = text.replace(lines[1], "extra " + base64.b64encode(data[3] + b" ").decode())
    proof_file.write_text(edited, "utf-8")
    fails(offline(f"verify --proof {proof_file} --public-key {verifier}"), 4, "proof")
    proof_file.write_text(text.replace("index 3", "index 2"), "utf-8")
    fails(offline(f"verify --proof {proof_file} --public-key {verifier}"), 4, "proof")


def test_a_proof_against_a_checkpoint_the_ledger_no_longer_gives_is_refused(
    cli: Cli, signer: tuple[str, str], tmp_path: Path
) -> None:
    key, _ = signer
    note = tmp_path / "q1.checkpoint"
    cli.ok(f"checkpoint --key {key} -o {note}")
    raw_sql(cli.db, *TAMPERING["edit one event's data"])
    cli.ok("projections rebuild")
    _, positions = leaves(cli.db)
    result = cli(f"prove inclusion {positions[0]} --format tlog-proof --checkpoint {note}")
    fails(result, 4, "rewritten")


def test_leaves_are_ranks_when_positions_skip_numbers(
    cli: Cli, signer: tuple[str, str], tmp_path: Path
) -> None:
    """PostgreSQL positions can skip numbers (a rolled-back insert spends one);
    the leaf index is the event's rank, and the proofs follow it."""
    if not cli.db.startswith("postgresql"):
        pytest.skip("SQLite positions are rowids of a table nothing deletes from: no gaps")
    key, verifier = signer
    # carol, bob and the actor named once first: each session below is one event
    cli.ok("session record --rep carol --manager bob --on 2026-02-28")
    raw_sql(
        cli.db,
        "",
        "SELECT setval(pg_get_serial_sequence('{table}', 'notification_id'), "
        "(SELECT max(notification_id) + 5 FROM {table}))",
    )
    cli.ok("session record --rep carol --manager bob --on 2026-03-01")
    cli.ok("session record --rep carol --manager bob --on 2026-03-02")
    data, positions = leaves(cli.db)
    assert positions[-2] - positions[-3] > 1, positions[-3:]
    for rank in (len(data) - 2, len(data) - 1):
        got = json.loads(cli.ok(f"prove inclusion {positions[rank]}"))
        assert got["leaf_index"] == rank
        assert got["path"] == [h.hex() for h in path(rank, data)]
        assert got["root"] == mth(data).hex()
    note = tmp_path / "gap.checkpoint"
    cli.ok(f"checkpoint --key {key} -o {note}")
    cli.ok(f"verify --checkpoint {note} --public-key {verifier}")
    assert parse_checkpoint(note.read_text())[1:3] == (len(data), mth(data))


def test_proof_refusals(cli: Cli, signer: tuple[str, str], tmp_path: Path) -> None:
    count = event_count(cli.db)
    _, positions = leaves(cli.db)
    fails(cli("prove inclusion 0"), 2, "position")
    fails(cli(f"prove inclusion {positions[-1] + 100}"), 3, "no event at position")
    fails(cli(f"prove inclusion {positions[0]} --size 0"), 2, "--size")
    fails(cli(f"prove inclusion {positions[0]} --size {count + 1}"), 4, "holds")
    fails(cli(f"prove inclusion {positions[5]} --size 3"), 4, "not in the tree")
    fails(cli("prove inclusion 1 --format tlog-proof"), 2, "--checkpoint")
    fails(cli("prove consistency 0"), 2, "OLD_SIZE")
    fails(cli("prove consistency 5 --size 3"), 2, "larger")
    fails(cli(f"prove consistency {count + 1}"), 2, "larger")
    fails(cli(f"prove consistency 1 --size {count + 1}"), 4, "holds")
    fails(cli(f"verify --proof {tmp_path / 'x'} --public-key k"), 2, "")
    note = tmp_path / "c"
    note.write_text("x", "utf-8")
    fails(cli(f"verify --checkpoint {note}"), 2, "--public-key")
    fails(cli("verify --public-key k"), 2, "--public-key")
    fails(cli(f"verify --checkpoint {note} --public-key nonsense"), 2, "verifier key")
    fails(cli(f"verify --proof {note} --public-key {signer[1]}"), 2, "tlog-proof")
    assert event_count(cli.db) == count


# -- the tree in the read model ---------------------------------------------------


def test_the_stored_tree_is_the_same_built_incrementally_or_rebuilt(
    cli: Cli, signer: tuple[str, str]
) -> None:
    from projections.catchup import table_dump

    cli.ok("prove inclusion 1")
    for day in range(1, 8):
        cli.ok(f"session record --rep dan --manager bob --on 2026-03-0{day}")
        cli.ok("list")  # a read catches the tables up; only a proof extends the tree
        cli.ok("prove inclusion 1")
    incremental = table_dump(cli.views)
    data, positions = leaves(cli.db)
    assert [bytes(r[3]) for r in incremental["merkle_leaves"]] == [
        hashlib.sha256(b"\0" + d).digest() for d in data
    ]
    assert [r[1] for r in incremental["merkle_leaves"]] == positions
    assert len(incremental["merkle_nodes"]) == len(data) - bin(len(data)).count("1")
    cli.ok("projections rebuild")
    assert table_dump(cli.views)["merkle_leaves"] == []  # the tables only: the proof builds it
    cli.ok("prove inclusion 1")
    assert table_dump(cli.views) == incremental


def test_projections_verify_checks_the_tree_a_proof_extended(
    cli: Cli, signer: tuple[str, str]
) -> None:
    """Only proofs extend the tree (issue 19): ``projections verify`` compares it
    as far as it goes, so an edited leaf is found and a tree not built yet is fine."""
    import sqlite3

    cli.ok("list")
    cli.ok("projections verify")  # the tables only: no tree yet
    cli.ok("prove inclusion 1")
    cli.ok("session record --rep dan --manager bob --on 2026-03-02")
    cli.ok("list")  # the tables move on, the tree stays where the proof left it
    cli.ok("projections verify")
    conn = sqlite3.connect(cli.views)
    with conn:
        conn.execute("UPDATE merkle_leaves SET leaf = zeroblob(32) WHERE rank = 1")
    conn.close()
    fails(cli("projections verify"), 4, "merkle_leaves: 1 rows missing or changed")


def test_an_import_that_extends_the_log_keeps_older_checkpoints(
    cli: Cli, signer: tuple[str, str], tmp_path: Path
) -> None:
    key, verifier = signer
    first = tmp_path / "first.jsonl"
    cli.ok(f"export -o {first}")
    copy = Cli(db=str(tmp_path / "copy.db"), views=str(tmp_path / "copy.views.db"))
    copy.ok(f"import {first}")
    old = tmp_path / "copy.checkpoint"
    copy.ok(f"checkpoint --key {key} -o {old}")
    cli.ok("session record --rep carol --manager bob --on 2026-03-01")
    second = tmp_path / "second.jsonl"
    cli.ok(f"export -o {second}")
    copy.ok(f"import {second}")
    copy.ok(f"verify --checkpoint {old} --public-key {verifier}")
    copy.ok(f"checkpoint --key {key}")
    assert cli.ok(f"verify --checkpoint {old} --public-key {verifier}")


# -- docs/audit.md ------------------------------------------------------------------


def snippet(name: str) -> str:
    text = AUDIT_MD.read_text("utf-8")
    found = re.search(rf"<!-- snippet: {name}\b.*?-->\s*```python\n(.*?)```", text, re.S)
    assert found, f"docs/audit.md has no '{name}' snippet"
    return found.group(1)


def workflow_blocks() -> list[str]:
    text = AUDIT_MD.read_text("utf-8")
    section = text.split("<!-- workflow:", 1)[1].split("### Checking proofs", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_the_proof_verifier_is_short_and_uses_the_standard_library_only() -> None:
    code = snippet("proofs")
    assert len(code.splitlines()) <= 60
    imports = {w for line in code.splitlines() if line.startswith("import ")
               for w in line[7:].replace(",", " ").split()}  # fmt: skip
    assert imports == {"base64", "hashlib", "json", "sys"}
    assert "from " not in code


def run_workflow(cli: Cli, folder: Path) -> None:
    """The doc's commands in order, in ``folder``; ``> FILE`` redirects stdout."""
    for block in workflow_blocks():
        for line in block.strip().splitlines():
            words = shlex.split(line)
            assert words[0] == "commitments", line
            target = None
            if ">" in words:
                at = words.index(">")
                words, target = words[:at], words[at + 1]
            args = words[1:]
            result = cli(args)
            assert result.exit_code == 0, (line, result.stderr)
            if target:
                (folder / target).write_text(result.stdout, "utf-8")
        if "2026-Q1.checkpoint" in block and "Q2" not in block:
            # the quarter passes: the ledger grows to the sizes the doc uses
            cli.ok("session record --rep carol --manager bob --on 2026-04-01")


def test_the_workflow_and_the_proof_verifier_agree_with_the_checkpoints(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    while event_count(cli.db) < 12:
        cli.ok("session record --rep erin --manager bob --on 2026-01-02")
    assert event_count(cli.db) == 12, "the doc's 'prove consistency 12' is the Q1 size"
    monkeypatch.chdir(tmp_path)
    run_workflow(cli, tmp_path)
    q1 = parse_checkpoint((tmp_path / "2026-Q1.checkpoint").read_text())
    q2 = parse_checkpoint((tmp_path / "2026-Q2.checkpoint").read_text())
    script = tmp_path / "check_proof.py"
    script.write_text(snippet("proofs"), "utf-8")

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, check=False
        )

    b64 = base64.b64encode
    run = check("q1-q2.json")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == (
        f"the tree of {q1[1]} events (root {b64(q1[2]).decode()}) is a prefix of the tree "
        f"of {q2[1]} events (root {b64(q2[2]).decode()})"
    )
    line = next(x for x in export_of(cli.db) if x["position"] == 3)
    (tmp_path / "line.jsonl").write_text(json.dumps(line, ensure_ascii=False) + "\n", "utf-8")
    run = check("event-3.json", "line.jsonl")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"leaf 2 is in the tree of 12 events; root {b64(q1[2]).decode()}"

    # every proof of the ledger, and each one changed, through the plain verifier
    n = event_count(cli.db)
    _, positions = leaves(cli.db)
    for i, position in enumerate(positions):
        (tmp_path / "p.json").write_text(cli.ok(f"prove inclusion {position}"), "utf-8")
        assert check("p.json").returncode == 0
        bad = json.loads((tmp_path / "p.json").read_text())
        bad["leaf_index"] = (i + 1) % n
        (tmp_path / "p.json").write_text(json.dumps(bad), "utf-8")
        assert check("p.json").returncode == 1
    for old in range(1, n + 1):
        got = json.loads(cli.ok(f"prove consistency {old}"))
        (tmp_path / "c.json").write_text(json.dumps(got), "utf-8")
        assert check("c.json").returncode == 0, (old, check("c.json").stderr)
        got["old_root"] = hashlib.sha256(got["old_root"].encode()).hexdigest()
        (tmp_path / "c.json").write_text(json.dumps(got), "utf-8")
        assert check("c.json").returncode == 1, old
    line["data"]["actor"] = "someone else"
    (tmp_path / "line.jsonl").write_text(json.dumps(line, ensure_ascii=False) + "\n", "utf-8")
    assert check("event-3.json", "line.jsonl").returncode == 1
    assert os.path.exists(tmp_path / "event-3.tlog-proof")
