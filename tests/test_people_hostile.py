"""Hostile input to the people registry's importers and commands (issue 14):
``people import FILE.csv``, ``people keys import FILE`` and the refusals of
``people rename`` / ``export`` / ``erase``. The project's rule: every import
is checked as strictly as the commands. A refusal is the SPEC's exit code,
one clear line (an importer lists the bad lines of the file, then one
``error:`` line), no traceback, and nothing written: same event count, same
key store, same ``people list``. docs/hostile-inputs.md lists what was tried.

Budget: ``COMMITMENTS_FUZZ_EXAMPLES`` as the other fuzz tests, capped at 40
here so that the default suite stays fast (both backends).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.conftest import Cli, event_count

EXAMPLES = min(examples(40, fuzz=True), 40)
HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
SEED = ("Seed Person", "Seed Manager")


def state(cli: Cli) -> tuple[int, list[Any], str]:
    """What a refusal must leave as it was: the events, the key store, the read model."""
    from ledger.application import Ledger

    ledger = Ledger.open(cli.db)
    try:
        keys = sorted((str(s), k) for s, k in ledger.keys.export_keys())
    finally:
        ledger.close()
    listed = cli("people list --format json")
    assert listed.exit_code == 0, listed.stderr
    return event_count(cli.db), keys, listed.stdout


def seeded(cli: Cli) -> Cli:
    """Two registered people (once: hypothesis reuses the ledger between examples)."""
    if SEED[0] in cli("people list --format json").stdout:
        return cli
    cli.ok(["people", "add", SEED[0], "--manager", SEED[1], "--new-person"])
    return cli


def assert_clean_refusal(result: Any, codes: tuple[int, ...] = (2,)) -> list[str]:
    assert result.exit_code in codes, (result.exit_code, result.stderr)
    lines = result.stderr.rstrip("\n").splitlines()
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    assert not RAW_CONTROL.search(result.stderr), repr(result.stderr)
    return lines


# -- people import FILE.csv -----------------------------------------------------------

NAMES = st.sampled_from(
    [
        "Ana", "Bo", "Seed Person", "José Ñúñez", "名前", "=1+1", "<b>x</b>", 'say "hi", ok',
        "a\x00b", "\x1b[31mred", "line\nbreak", "tab\there", "\u202eevil", "\x85c1",
        "\ud800", "x" * 100, "x" * 101, "", " ", "\ufeffbom",
    ]
) | st.text(max_size=8)  # fmt: skip
MUTATIONS = (
    [
        "none", "bom", "latin-1", "utf-16", "undecodable", "nul", "empty", "header-only",
        "missing-column", "extra-column", "short-row", "duplicate-name", "self-manager",
        "cycle", "cr-only", "unbalanced-quote", "huge-cell", "duplicate-header",
    ]
)  # fmt: skip
PER_MUTATION = settings(HOSTILE, max_examples=max(EXAMPLES // 4, 3))


def quote(cell: str) -> str:
    if cell == "":
        return '""'  # a row, not a blank line (a blank line is no row)
    if any(ch in cell for ch in ',"\r\n') or cell != cell.strip():
        return '"' + cell.replace('"', '""') + '"'
    return cell


def roster_csv(rows: list[tuple[str, str]], mutation: str) -> bytes:
    header = ["name", "manager", "region"]
    if mutation == "duplicate-header":
        header = ["name", "manager", "name"]
    if mutation == "missing-column":
        header = ["name", "region"]
    body: list[list[str]] = [header, *[[n, m, "West"] for n, m in rows]]
    if mutation == "extra-column" and len(body) > 1:
        body[1] = [*body[1], "extra", "more"]
    if mutation == "short-row" and len(body) > 1:
        body[-1] = body[-1][:1]
    if mutation == "duplicate-name":
        body += [["Dup", "Ana", "West"], ["Dup", "Bo", "West"]]
    if mutation == "self-manager":
        body.append(["Self", "Self", "West"])
    if mutation == "cycle":
        body += [["Cy A", "Cy B", "West"], ["Cy B", "Cy C", "West"], ["Cy C", "Cy A", "West"]]
    if mutation == "huge-cell":
        body.append(["x" * 200_000, "", ""])
    if mutation == "header-only":
        body = body[:1]
    lines = [",".join(quote(c) for c in row) for row in body]
    if mutation == "unbalanced-quote":
        lines.append('"never closed,Ana,West')
    text = ("\r" if mutation == "cr-only" else "\r\n").join(lines) + "\n"
    if mutation == "nul":
        text += "Nul,,We\x00st\n"
    if mutation == "empty":
        return b""
    data = text.encode("utf-8", "surrogatepass")
    if mutation == "bom":
        return b"\xef\xbb\xbf" + data
    if mutation == "latin-1":
        return text.encode("latin-1", "replace") + "Ñ\n".encode("latin-1")
    if mutation == "utf-16":
        return text.encode("utf-16", "surrogatepass")
    if mutation == "undecodable":
        return data + b"\xff\xfe\n"
    return data


@pytest.mark.parametrize("mutation", MUTATIONS)
@PER_MUTATION
@given(rows=st.lists(st.tuples(NAMES, NAMES), max_size=6))
def test_a_hostile_roster_is_imported_whole_or_refused_writing_nothing(
    cli: Cli, tmp_path: Path, rows: list[tuple[str, str]], mutation: str
) -> None:
    seeded(cli)
    path = tmp_path / "roster.csv"
    path.write_bytes(roster_csv(rows, mutation))
    before = state(cli)
    result = cli(
        f"people import {path} --name-column name --manager-column manager --region-column region"
    )
    event(f"{mutation}: exit {result.exit_code}")
    if result.exit_code == 0:
        assert mutation not in ("duplicate-name", "self-manager", "cycle", "utf-16", "latin-1")
        assert mutation not in ("undecodable", "nul", "huge-cell", "empty", "missing-column")
        return
    lines = assert_clean_refusal(result)
    for line in lines[:-1]:  # the bad lines of the file, each named
        assert re.match(rf"{re.escape(str(path))}:\d+: ", line), line
    assert state(cli) == before


@HOSTILE
@given(name=NAMES)
@example(name="-0")  # a name that looks like an option is still a name
@example(name="--help")
def test_the_csv_refuses_exactly_the_names_people_add_refuses(
    cli: Cli, tmp_path: Path, name: str
) -> None:
    path = tmp_path / "one.csv"
    path.write_bytes(f"name\n{quote(name)}\n".encode("utf-8", "surrogatepass"))
    imported = cli(f"people import {path} --name-column name")
    added = cli(["people", "add", "--", name])  # after "--", even "-0" is the name
    if imported.exit_code == 2:
        assert added.exit_code == 2, (name, added.exit_code, added.stderr)
    else:
        assert imported.exit_code == 0, imported.stderr
        assert added.exit_code == 4, (name, added.exit_code, added.stderr)  # registered already


def test_a_manager_cycle_in_a_roster_is_refused_naming_it(cli: Cli, tmp_path: Path) -> None:
    seeded(cli)
    path = tmp_path / "cycle.csv"
    path.write_text("name,manager\nAna,Bo\nBo,Ana\n", encoding="utf-8")
    before = state(cli)
    result = cli(f"people import {path} --name-column name --manager-column manager")
    line = assert_clean_refusal(result)[-1]
    assert "cycle" in line and "Ana" in line and "Bo" in line, line
    assert state(cli) == before


def test_a_roster_closing_a_cycle_with_the_registry_is_refused(cli: Cli, tmp_path: Path) -> None:
    seeded(cli)  # Seed Person reports to Seed Manager
    path = tmp_path / "cycle.csv"
    path.write_text("name,manager\nSeed Manager,Seed Person\n", encoding="utf-8")
    before = state(cli)
    result = cli(f"people import {path} --name-column name --manager-column manager")
    line = assert_clean_refusal(result)[-1]
    assert "cycle" in line, line
    assert state(cli) == before


def test_an_undecodable_roster_is_refused_naming_its_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("name\nAna\nJosé\n".encode("latin-1"))
    result = cli(f"people import {path} --name-column name")
    line = assert_clean_refusal(result)[-1]
    assert "line 3" in line and "UTF-8" in line, line


def test_a_roster_over_the_size_limit_is_refused_before_it_is_read_whole(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.formats.roster_csv

    seeded(cli)
    monkeypatch.setattr(ledger.formats.roster_csv, "MAX_ROSTER_BYTES", 1024)
    path = tmp_path / "big.csv"
    path.write_text("name\n" + "".join(f"Person {i}\n" for i in range(200)), encoding="utf-8")
    before = state(cli)
    line = assert_clean_refusal(cli(f"people import {path} --name-column name"))[-1]
    assert "over 1024 bytes" in line, line
    assert state(cli) == before


# -- people keys import ---------------------------------------------------------------


def keys_file(cli: Cli, tmp_path: Path) -> list[str]:
    path = tmp_path / "keys.jsonl"
    cli.ok(f"people keys export -o {path}")
    return path.read_text(encoding="utf-8").splitlines()


def flip_key(line: str) -> str:
    obj = json.loads(line)
    obj["key"] = base64.b64encode(bytes(32)).decode()
    return json.dumps(obj)


KEY_CASES: dict[str, tuple[Any, int, str]] = {
    "truncated line": (lambda ls: [*ls[:-1], ls[-1][: len(ls[-1]) // 2]], 2, "not JSON"),
    "wrong base64": (lambda ls: [*ls[:-1], ls[-1].replace('"key": "', '"key": "!!')], 2, "base64"),
    "short key": (
        lambda ls: [*ls[:-1], re.sub(r'"key": "[^"]*"', '"key": "AAAA"', ls[-1])],
        2,
        "3 bytes",
    ),
    "duplicate subject, other key": (lambda ls: [*ls, flip_key(ls[-1])], 2, "appears twice"),
    "duplicate subject, same key": (lambda ls: [*ls, ls[-1]], 2, "appears twice"),
    "a live key differs": (lambda ls: [*ls[:-1], flip_key(ls[-1])], 4, "different key"),
    "another ledger's file": (
        lambda ls: [
            json.dumps(
                {
                    "format": "commitments-keys/1",
                    "ledger_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12,
                }
            ),
            *ls[1:],
        ],
        4,
        "not of this ledger",
    ),
    "not a keys file": (lambda ls: ls[1:], 2, "not a keys file"),
    "nested 200000 levels": (lambda ls: [*ls, "[" * 200_000], 2, "nested deeper"),
    "nested in the header": (lambda ls: ["{" * 100_000], 2, "nested deeper"),
    "a lone surrogate escape": (
        lambda ls: [*ls, json.dumps({"subject": "\ud800", "key": None})],
        2,
        "not a UUID",
    ),
    "upper-case subject": (
        lambda ls: [
            *ls[:-1],
            ls[-1].upper().replace('"SUBJECT"', '"subject"').replace('"KEY"', '"key"'),
        ],
        2,
        "lower-case",
    ),
    "an extra field": (lambda ls: [*ls[:-1], ls[-1][:-1] + ', "x": 1}'], 2, "nothing else"),
    "empty": (lambda ls: [], 2, "empty"),
}


@pytest.mark.parametrize("case", list(KEY_CASES))
def test_a_hostile_keys_file_is_refused_writing_nothing(
    cli: Cli, tmp_path: Path, case: str
) -> None:
    seeded(cli)
    mutate, code, words = KEY_CASES[case]
    path = tmp_path / "hostile-keys.jsonl"
    path.write_text(
        "\n".join(mutate(keys_file(cli, tmp_path))) + "\n", encoding="utf-8", errors="surrogatepass"
    )
    before = state(cli)
    result = cli(f"people keys import {path}")
    line = assert_clean_refusal(result, (code,))[-1]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert words in line, line
    assert state(cli) == before


def test_a_keys_file_with_undecodable_bytes_is_refused(cli: Cli, tmp_path: Path) -> None:
    seeded(cli)
    lines = keys_file(cli, tmp_path)
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"subject": "\xff"}\n')
    before = state(cli)
    line = assert_clean_refusal(cli(f"people keys import {path}"))[-1]
    assert "UTF-8" in line, line
    assert state(cli) == before


def test_a_keys_file_over_the_limit_is_refused_unread(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli import privacy

    seeded(cli)
    lines = keys_file(cli, tmp_path)
    monkeypatch.setattr(privacy, "MAX_KEYS_FILE", 4096)
    path = tmp_path / "huge.jsonl"
    path.write_text("\n".join(lines) + "\n" + " " * 8192 + "\n", encoding="utf-8")
    before = state(cli)
    line = assert_clean_refusal(cli(f"people keys import {path}"))[-1]
    assert "over 4096 bytes" in line, line
    assert state(cli) == before


def test_a_destroyed_key_in_the_file_for_an_unknown_subject_stays_destroyed(
    cli: Cli, tmp_path: Path
) -> None:
    """A null key (an erased person) is restored as erased; it never brings a key."""
    seeded(cli)
    lines = keys_file(cli, tmp_path)
    gone = "12345678-1234-4234-8234-123456789abc"
    path = tmp_path / "erased.jsonl"
    path.write_text("\n".join([*lines, json.dumps({"subject": gone, "key": None})]) + "\n")
    assert cli(f"people keys import {path}").exit_code == 0
    again = keys_file(cli, tmp_path)
    assert json.dumps({"subject": gone, "key": None}) in again


def test_a_null_key_for_a_live_person_not_erased_here_is_refused(cli: Cli, tmp_path: Path) -> None:
    """A keys file cannot shred someone behind the ledger's back: their name
    and notes would read [erased] with no Person.Erased saying who and why,
    and 'people erase' could no longer find them by name."""
    seeded(cli)
    lines = keys_file(cli, tmp_path)
    last = json.loads(lines[-1])
    path = tmp_path / "shred.jsonl"
    shredding = json.dumps({"subject": last["subject"], "key": None})
    path.write_text("\n".join([*lines[:-1], shredding]) + "\n", encoding="utf-8")
    before = state(cli)
    line = assert_clean_refusal(cli(f"people keys import {path}"), (4,))[-1]
    assert last["subject"] in line and "people erase" in line, line
    assert state(cli) == before


def test_a_null_key_for_a_person_erased_here_is_accepted(cli: Cli, tmp_path: Path) -> None:
    seeded(cli)
    lines = keys_file(cli, tmp_path)
    cli.ok(["people", "erase", SEED[0], "--reason", "request 1"])
    path = tmp_path / "again.jsonl"
    path.write_text("\n".join(keys_file(cli, tmp_path)) + "\n", encoding="utf-8")
    assert cli(f"people keys import {path}").exit_code == 0
    old = tmp_path / "old.jsonl"  # a keys file from before the erasure brings no key back
    old.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = state(cli)
    assert cli(f"people keys import {old}").exit_code == 0
    assert state(cli) == before


# -- rename / export / erase with hostile names ---------------------------------------

BAD_NAMES = ["a\x1bb", "\x00", "line\nbreak", "\x9bc1", "\ud800", "\udcff", "x" * 101]
COMMANDS = {
    "rename NAME": lambda n: ("people", "rename", n, "--to", "Fine Name"),
    "rename --to": lambda n: ("people", "rename", SEED[0], "--to", n),
    "rename --to, unknown NAME": lambda n: ("people", "rename", "Nobody", "--to", n),
    "export": lambda n: ("people", "export", n),
    "erase": lambda n: ("people", "erase", n, "--reason", "request 1"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_hostile_names_are_refused_in_one_line_writing_nothing(cli: Cli, command: str) -> None:
    seeded(cli)
    before = state(cli)
    for name in BAD_NAMES:
        result = cli(COMMANDS[command](name))
        assert_clean_refusal(result)
        assert len(result.stderr.strip().splitlines()) == 1, (name, result.stderr)
        assert result.stdout == ""
    assert state(cli) == before
