"""``list --owner/--focus/--due-from/--due-to`` and the manager column (SPEC
§7.1); unknown person names exit 3 with the closest known names. On SQLite
and PostgreSQL."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, date, datetime, timedelta

import pytest

from projections.names import closest
from tests.conftest import Cli, event_count

ON = ("--as-of", "2999-12-31", "--on", "2026-03-01")


@pytest.fixture
def ledger(cli: Cli) -> dict[str, str]:
    def agree(rep: str, manager: str, focus: str, start: str, days: str, options: str = "") -> str:
        return cli.ok(
            ["agree", "--rep", rep, "--manager", manager, "--focus", focus, "--behavior",
            f"{focus} work", "--target", "5", "--start", start, "--days", days,
            *shlex.split(options)],
        )  # fmt: skip

    calls = agree("Anna Snelling", "Bob Stone", "prospecting", "2026-01-05", "28")
    return {
        "calls": calls,
        "ride": agree(
            "Anna Snelling",
            "Bob Stone",
            "prospecting",
            "2026-01-05",
            "28",
            f"--owner manager --supports {calls[:8]}",
        ),
        "demo": agree("Anna Snelling", "Bob Stone", "discovery", "2026-02-02", "10"),
        "carl": agree("Carl Moss", "Dee Park", "discovery", "2026-01-12", "20"),
    }


def ids(cli: Cli, *args: str) -> set[str]:
    return {c["id"] for c in json.loads(cli.ok(["list", *args, *ON, "--format", "json"]))}


def test_list_filters_by_owner_focus_and_due_dates(cli: Cli, ledger: dict[str, str]) -> None:
    # due dates: calls and ride 2026-02-01, demo 2026-02-11, carl 2026-01-31
    assert ids(cli, "--owner", "manager") == {ledger["ride"]}
    assert ids(cli, "--owner", "rep") == {ledger["calls"], ledger["demo"], ledger["carl"]}
    assert ids(cli, "--focus", "discovery") == {ledger["demo"], ledger["carl"]}
    assert ids(cli, "--due-from", "2026-02-01") == {ledger["calls"], ledger["ride"], ledger["demo"]}
    assert ids(cli, "--due-to", "2026-02-01") == {ledger["calls"], ledger["ride"], ledger["carl"]}
    assert ids(cli, "--due-from", "2026-02-01", "--due-to", "2026-02-01") == {
        ledger["calls"],
        ledger["ride"],
    }  # both ends inclusive
    assert ids(cli, "--due-from", "2026-02-02", "--due-to", "2026-02-10") == set()
    assert ids(cli, "--rep", "Anna Snelling", "--owner", "rep", "--focus", "discovery") == {
        ledger["demo"]
    }


def test_due_filters_use_the_revised_due_date(cli: Cli, ledger: dict[str, str]) -> None:
    # revising is for commitments not yet due: dates relative to today (UTC)
    today = datetime.now(UTC).date()
    due, later = today + timedelta(days=9), today + timedelta(days=40)
    cid = cli.ok(
        "agree --rep 'Carl Moss' --manager 'Dee Park' --focus discovery --behavior demos "
        f"--target 3 --start {today.isoformat()} --days 10",
    )

    def due_within(first: date, last: date) -> bool:
        found = json.loads(
            cli.ok(f"list --due-from {first.isoformat()} --due-to {last.isoformat()} --format json")
        )  # fmt: skip
        return cid in {c["id"] for c in found}

    assert due_within(due, due) and not due_within(later, later)
    cli.ok(f"revise {cid} --on {today.isoformat()} --due {later.isoformat()} --reason x")
    assert due_within(later, later) and not due_within(due, due)


def test_the_list_table_shows_the_manager(cli: Cli, ledger: dict[str, str]) -> None:
    lines = cli.ok(["list", "--rep", "Carl Moss", *ON]).splitlines()
    assert lines[0].split()[:5] == ["id", "rep", "owner", "manager", "focus"]
    assert lines[2].split()[:7] == [
        ledger["carl"],
        "Carl",
        "Moss",
        "rep",
        "Dee",
        "Park",
        "discovery",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("history", "Ann"),
            "error: no rep named 'Ann' in the ledger; did you mean 'Anna Snelling'?",
        ),
        (
            ("history", "anna snelling"),
            "error: no rep named 'anna snelling' in the ledger; did you mean 'Anna Snelling'?",
        ),
        (
            ("list", "--rep", "Ana Snelling"),
            "error: no rep named 'Ana Snelling' in the ledger; did you mean 'Anna Snelling'?",
        ),
        (
            ("list", "--manager", "bob"),
            "error: no manager named 'bob' in the ledger; did you mean 'Bob Stone'?",
        ),
        (
            ("team", "--manager", "Dee"),
            "error: no manager named 'Dee' in the ledger; did you mean 'Dee Park'?",
        ),
        (
            ("report", "coaching", "--manager", "Bob Ston"),
            "error: no manager named 'Bob Ston' in the ledger; did you mean 'Bob Stone'?",
        ),
        (
            ("list", "--manager", "Anna Snelling"),
            "error: no manager named 'Anna Snelling' in the ledger",
        ),
        (("history", "Zed"), "error: no rep named 'Zed' in the ledger"),
    ],
)
def test_unknown_names_exit_3_with_the_closest_known_names(
    cli: Cli, ledger: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    before = event_count(cli.db)
    result = cli(args)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "", message + "\n")
    assert event_count(cli.db) == before


def test_a_known_rep_with_nothing_yet_is_not_unknown(cli: Cli, ledger: dict[str, str]) -> None:
    result = cli("history 'Carl Moss' --on 2026-01-01")
    assert result.exit_code == 3
    assert "no commitments or sessions for rep 'Carl Moss'" in result.stderr
    assert json.loads(cli.ok("list --rep 'Carl Moss' --on 2026-01-01 --format json")) == []


def test_list_refuses_bad_due_dates(cli: Cli, ledger: dict[str, str]) -> None:
    for args in (("--due-from", "2026-02-30"), ("--due-to", "soon"), ("--owner", "team")):
        result = cli(["list", *args])
        assert result.exit_code == 2 and result.stdout == "", args
        assert len(result.stderr.splitlines()) >= 1


def test_closest_names_prefer_case_then_word_prefix_then_spelling() -> None:
    known = ["Anna Snelling", "Annie Hall", "Bob Stone", "Hanna Berg", "alice"]
    assert closest("anna snelling", known) == ["Anna Snelling"]
    assert closest("Ann", known) == ["Anna Snelling", "Annie Hall"]
    assert closest("Snell", known) == ["Anna Snelling"]  # the surname is a word too
    assert closest("Bob Ston", known) == ["Bob Stone"]
    assert closest("Alise", known) == ["alice"]
    assert closest("Zed", known) == [] and closest("", known) == []


@pytest.mark.parametrize(
    "args",
    [
        ("history", "\udcff"),
        ("list", "--rep", "\udcff"),
        ("list", "--manager", "Bob\udc80Stone"),
        ("team", "--manager", "\ud800"),
        ("report", "coaching", "--manager", "\udcff"),
        ("session", "list", "--rep", "\udcff"),
    ],
)
def test_a_person_name_with_undecodable_bytes_is_exit_2_on_one_line(
    cli: Cli, ledger: dict[str, str], args: tuple[str, ...]
) -> None:
    """Undecodable bytes in argv (lone surrogates) cannot name anybody: the
    read commands refuse them before any lookup (found by the CLI fuzzer:
    ``history $'\\xff'`` was 'unexpected UnicodeEncodeError')."""
    before = event_count(cli.db)
    result = cli(args)
    assert (result.exit_code, result.stdout) == (2, ""), result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and "is not valid text (undecodable bytes)" in line
    assert event_count(cli.db) == before


def test_a_person_name_with_control_characters_is_unknown_and_shown_escaped(
    cli: Cli, ledger: dict[str, str]
) -> None:
    result = cli(["history", "Anna\x1bSnelling"])
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        "error: no rep named 'Anna\\x1bSnelling' in the ledger; did you mean 'Anna Snelling'?\n"
    )
