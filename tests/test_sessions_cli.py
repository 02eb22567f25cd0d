"""``session list`` and ``session show`` (SPEC §7.1): what was said in a
session comes back, with the commitments agreed in it; ``history`` lists the
rep's sessions visible at T, D. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import jsonschema
import pytest

from tests.conftest import Cli, event_count
from tests.test_history_cli import SESSION_SCHEMA

KEYS = ["id", "rep", "manager", "on", "prepared", "strengths", "focus", "note", "commitments"]


def session(cli: Cli, rep: str, manager: str, on: str, options: str = "") -> str:
    """Records a session; ``options`` as a shell would split them."""
    return cli.ok(f"session record --rep {rep} --manager {manager} --on {on} {options}")


@pytest.fixture
def sessions(cli: Cli) -> dict[str, Any]:
    """Two sessions of alice with bob, one of carol with dana; commitments agreed in two."""
    jan = session(
        cli,
        "alice",
        "bob",
        "2026-01-05",
        "--prepared --strength 'rapport with buyers' --strength follow-up"
        " --focus prospecting --note 'pipeline is thin for Q1'",
    )
    feb = session(cli, "alice", "bob", "2026-02-02", "--focus discovery")
    carol = session(cli, "carol", "dana", "2026-01-20", "--prepared")
    common = ("--target", "10", "--per", "week", "--start")
    calls = cli.ok(
        ["agree", "--rep", "alice", "--manager", "bob", "--focus", "prospecting",
        "--behavior", "calls", *common, "2026-01-05", "--session", jan[:8]],
    )  # fmt: skip
    rides = cli.ok(
        "agree --rep alice --manager bob --owner manager --focus prospecting "
        f"--behavior ride-alongs --target 2 --per window --start 2026-01-05 --supports {calls[:8]} "
        f"--session {jan}",
    )
    demos = cli.ok(
        ["agree", "--rep", "carol", "--manager", "dana", "--focus", "discovery",
        "--behavior", "demos", *common, "2026-01-20", "--session", carol[:8]],
    )  # fmt: skip
    return {"jan": jan, "feb": feb, "carol": carol, "calls": calls, "rides": rides, "demos": demos}


def test_session_show_gives_back_everything_recorded_and_its_commitments(
    cli: Cli, sessions: dict[str, Any]
) -> None:
    shown = json.loads(cli.ok(f"session show {sessions['jan'][:6]} --format json"))

    jsonschema.validate(shown, SESSION_SCHEMA)
    assert list(shown) == KEYS
    assert shown == {
        "id": sessions["jan"],
        "rep": "alice",
        "manager": "bob",
        "on": "2026-01-05",
        "prepared": True,
        "strengths": ["rapport with buyers", "follow-up"],
        "focus": ["prospecting"],
        "note": "pipeline is thin for Q1",
        "commitments": [sessions["calls"], sessions["rides"]],
    }
    text = cli.ok(f"session show {sessions['jan']}")
    assert f"session {sessions['jan']}" in text
    assert "note: pipeline is thin for Q1" in text
    assert "strengths: rapport with buyers; follow-up" in text
    assert sessions["calls"] in text and sessions["rides"] in text


def test_session_list_is_every_visible_session_by_date(cli: Cli, sessions: dict[str, Any]) -> None:
    listed = json.loads(cli.ok("session list --format json"))

    for s in listed:
        jsonschema.validate(s, SESSION_SCHEMA)
    assert [s["id"] for s in listed] == [sessions["jan"], sessions["carol"], sessions["feb"]]
    assert listed[1]["commitments"] == [sessions["demos"]]
    assert listed[2] == {
        "id": sessions["feb"],
        "rep": "alice",
        "manager": "bob",
        "on": "2026-02-02",
        "prepared": False,
        "strengths": [],
        "focus": ["discovery"],
        "note": None,
        "commitments": [],
    }
    show = json.loads(cli.ok(f"session show {sessions['carol']} --format json"))
    assert show == listed[1]  # list and show give the same object


def test_session_list_filters_by_rep_manager_and_dates(cli: Cli, sessions: dict[str, Any]) -> None:
    def ids(*args: str) -> list[str]:
        return [s["id"] for s in json.loads(cli.ok(["session", "list", *args, "--format", "json"]))]

    assert ids("--rep", "alice") == [sessions["jan"], sessions["feb"]]
    assert ids("--manager", "dana") == [sessions["carol"]]
    assert ids("--from", "2026-01-20") == [sessions["carol"], sessions["feb"]]
    assert ids("--to", "2026-01-20") == [sessions["jan"], sessions["carol"]]
    assert ids("--from", "2026-01-06", "--to", "2026-02-01") == [sessions["carol"]]
    assert ids("--rep", "alice", "--manager", "dana") == []
    assert ids("--as-of", "2000-01-01") == []  # nothing was recorded by then


def test_session_list_formats(cli: Cli, sessions: dict[str, Any]) -> None:
    rows = list(csv.DictReader(io.StringIO(cli.ok("session list --format csv"))))
    assert [r["id"] for r in rows] == [sessions["jan"], sessions["carol"], sessions["feb"]]
    assert rows[0]["strengths"] == "rapport with buyers;follow-up"
    assert rows[0]["commitments"] == f"{sessions['calls']};{sessions['rides']}"
    assert rows[0]["prepared"] == "True"
    md = cli.ok("session list --rep alice --format md").splitlines()
    assert md[0].startswith("| id | on | rep | manager |") and len(md) == 4
    table = cli.ok("session list --rep alice").splitlines()
    assert table[0].split() == [
        "id", "on", "rep", "manager", "prepared", "focus", "commitments", "note"
    ]  # fmt: skip
    assert table[2].split()[:6] == [
        sessions["jan"],
        "2026-01-05",
        "alice",
        "bob",
        "yes",
        "prospecting",
    ]
    assert cli.ok("session list --rep carol --to 2026-01-01") == "(no sessions)"


def test_history_json_lists_the_reps_sessions_visible_at_t_and_d(
    cli: Cli, sessions: dict[str, Any]
) -> None:
    def history(*args: str) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(
            cli.ok(["history", "alice", *args, "--as-of", "2999-12-31", "--format", "json"])
        )
        return result

    full = history("--on", "2026-03-01")
    listed = json.loads(cli.ok("session list --rep alice --format json"))
    assert full["sessions"] == listed
    early = history("--on", "2026-01-10")  # February's session has not happened yet
    assert [s["id"] for s in early["sessions"]] == [sessions["jan"]]
    assert early["sessions"][0]["commitments"] == [sessions["calls"], sessions["rides"]]


def test_session_refusals_write_nothing(cli: Cli, sessions: dict[str, Any]) -> None:
    before = event_count(cli.db)
    cases = [
        (("session", "show", "abc"), 2),  # too short to be an id prefix
        (("session", "show", "ffffffff"), 3),  # no such session
        (("session", "show", sessions["calls"]), 3),  # a commitment is not a session
        (("session", "list", "--from", "2026-13-01"), 2),
        (("session", "list", "--to", "tomorrow"), 2),
        (("session", "list", "--rep", "Alice"), 3),  # nobody of that name
        (("session", "list", "--as-of", "noon"), 2),
    ]
    for args, code in cases:
        result = cli(args)
        assert result.exit_code == code, (args, result.stderr)
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: ")
    assert "did you mean 'alice'?" in cli("session list --rep Alice").stderr
    assert event_count(cli.db) == before


def test_an_ambiguous_session_prefix_lists_the_candidates(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = iter(
        [
            uuid.UUID("abcdef12-0000-4000-8000-000000000001"),
            uuid.UUID("abcdef12-1111-4000-8000-000000000002"),
        ]
    )
    with monkeypatch.context() as m:
        m.setattr("ledger.domain.uuid4", lambda: next(fixed))
        twins = [session(cli, "alice", "bob", day) for day in ("2026-01-05", "2026-02-02")]
    result = cli("session show abcdef")
    assert (result.exit_code, result.stdout) == (3, "")
    assert "ambiguous" in result.stderr and all(t in result.stderr for t in twins)
    shown = json.loads(cli.ok("session show abcdef121 --format json"))
    assert shown["id"] == twins[1] and shown["on"] == "2026-02-02"
