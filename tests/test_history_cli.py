"""``history``, ``list`` and ``show`` through the command line, for a scenario
recorded through the command line: the JSON of ``history`` against a JSON
Schema of SPEC §5, the other formats, and the three commands agreeing."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import jsonschema
import pytest

from tests.conftest import Cli

NUMBER_OR_NULL = {"type": ["number", "null"]}
STRING_OR_NULL = {"type": ["string", "null"]}
VERDICT = {
    "enum": [
        "open",
        "overdue",
        "released",
        "succeeded",
        "honest_miss",
        "kept",
        "partial",
        "broken",
        "blocked",
    ]
}
DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
ID = {
    "type": "string",
    "pattern": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
}

COMMITMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "rep",
        "owner",
        "proposed_by",
        "manager",
        "focus",
        "behavior",
        "target",
        "period",
        "metric",
        "start",
        "due",
        "status",
        "expected",
        "actual",
        "ratio",
        "follow_through",
        "result",
        "verdict",
        "supported_by",
        "events",
        "replies",
    ],
    "properties": {
        "id": ID,
        "rep": {"type": "string"},
        "owner": {"enum": ["rep", "manager"]},
        "proposed_by": {"enum": ["rep", "manager"]},
        "manager": {"type": "string"},
        "focus": {"type": "string"},
        "behavior": {"type": "string"},
        "target": NUMBER_OR_NULL,
        "period": {"enum": ["day", "week", "month", "window", None]},
        "metric": STRING_OR_NULL,
        "start": DATE,
        "due": DATE,
        "status": {"enum": ["open", "overdue", "released", "closed"]},
        "expected": NUMBER_OR_NULL,
        "actual": {"type": "number"},
        "ratio": {"type": "number"},
        "follow_through": {"enum": ["kept", "partial", "broken", None]},
        "result": {"enum": ["met", "missed", "unknown", None]},
        "verdict": VERDICT,
        "supported_by": {"type": "array", "items": ID},
        "events": {"type": "integer", "minimum": 1},
        "pace": {
            "type": ["object", "null"],
            "required": ["expected_so_far", "actual_so_far", "ratio"],
        },
        "replies": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["on", "by", "text", "contests"],
                "properties": {
                    "on": DATE,
                    "by": {"type": "string"},
                    "text": {"type": "string"},
                    "contests": {"type": "boolean"},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}

SESSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "rep",
        "manager",
        "on",
        "prepared",
        "strengths",
        "focus",
        "note",
        "commitments",
    ],
    "properties": {
        "id": ID,
        "rep": {"type": "string"},
        "manager": {"type": "string"},
        "on": DATE,
        "prepared": {"type": "boolean"},
        "strengths": {"type": "array", "items": {"type": "string"}},
        "focus": {"type": "array", "items": {"type": "string"}},
        "note": STRING_OR_NULL,
        "commitments": {"type": "array", "items": ID},
    },
    "additionalProperties": False,
}

HISTORY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "rep",
        "as_of",
        "on",
        "window_days",
        "signal",
        "reasons",
        "follow_through_rate",
        "focus_load",
        "overloaded",
        "counts",
        "commitments",
        "sessions",
    ],
    "properties": {
        "rep": {"type": "string"},
        "as_of": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"},
        "on": DATE,
        "window_days": {"type": "integer", "minimum": 1},
        "signal": {
            "enum": ["will_concern", "first_warning", "skill_gap", "on_track", "insufficient_data"]
        },
        "reasons": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "verdict"],
                "properties": {"id": ID, "verdict": VERDICT},
                "additionalProperties": False,
            },
        },
        "follow_through_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "focus_load": {"type": "integer", "minimum": 0},
        "overloaded": {"type": "boolean"},
        "counts": {
            "type": "object",
            "required": VERDICT["enum"],
            "properties": {v: {"type": "integer", "minimum": 0} for v in VERDICT["enum"]},
            "additionalProperties": False,
        },
        "commitments": {"type": "array", "items": COMMITMENT_SCHEMA},
        "sessions": {"type": "array", "items": SESSION_SCHEMA},
    },
    "additionalProperties": False,
}


def agree(cli: Cli, options: str) -> str:
    """Records one of alice's agreements with bob; ``options`` as a shell would split them."""
    return cli.ok(f"agree --rep alice --manager bob {options}")


@pytest.fixture
def scenario(cli: Cli) -> dict[str, str]:
    """A quarter of alice's commitments, recorded through the command line."""
    cli.ok(
        "session record --rep alice --manager bob --on 2026-01-05 --prepared --focus prospecting",
    )
    calls = agree(
        cli,
        "--focus prospecting --behavior 'outbound calls' --target 10 --per week"
        " --start 2026-01-05 --days 30 --expect 'pipeline doubles'",
    )
    for day, actual in (("2026-01-12", "9"), ("2026-01-19", "12"), ("2026-01-26", "11")):
        cli.ok(f"check-in {calls} --on {day} --actual {actual}")
    cli.ok(f"check-in {calls} --on 2026-02-02 --actual 10")
    cli.ok(f"correct {calls} --check-in 1 --actual 11 --reason 'CRM sync'")
    cli.ok(f"close {calls} --on 2026-02-04 --result missed")

    demos = agree(
        cli,
        "--focus discovery --behavior 'demo calls' --target 4 --per window"
        " --start 2026-01-05 --days 28",
    )
    ride = agree(
        cli,
        "--owner manager --focus discovery --behavior ride-along --done"
        f" --start 2026-01-05 --days 28 --supports {demos[:8]}",
    )
    cli.ok(f"check-in {demos} --on 2026-01-20 --actual 1")
    cli.ok(f"close {demos} --on 2026-02-02")
    cli.ok(f"close {ride} --on 2026-02-02 --note 'no time'")

    notes = agree(
        cli,
        "--focus prospecting --behavior 'call notes' --done --start 2026-01-05 --days 14",
    )
    cli.ok(f"close {notes} --on 2026-01-20")  # never done: broken

    open_ = agree(
        cli,
        "--focus prospecting --behavior referrals --target 2 --per week"
        " --start 2026-02-16 --days 28",
    )
    cli.ok(f"check-in {open_} --on 2026-02-22 --actual 2")
    return {"calls": calls, "demos": demos, "ride": ride, "notes": notes, "open": open_}


ON = "--as-of 2026-12-31 --on 2026-03-01"


def test_history_json_matches_the_schema_and_the_rules(cli: Cli, scenario: dict[str, str]) -> None:
    out = json.loads(cli.ok(f"history alice {ON} --format json"))

    jsonschema.validate(out, HISTORY_SCHEMA)
    by_id = {c["id"]: c for c in out["commitments"]}
    calls = by_id[scenario["calls"]]
    assert (calls["expected"], calls["actual"], calls["ratio"]) == (42.86, 44, 1.03)
    assert calls["verdict"] == "honest_miss" and calls["events"] == 7
    assert by_id[scenario["demos"]]["verdict"] == "blocked"
    assert by_id[scenario["demos"]]["supported_by"] == [scenario["ride"]]
    assert by_id[scenario["ride"]]["verdict"] == "broken"
    assert by_id[scenario["notes"]]["verdict"] == "broken"
    assert by_id[scenario["open"]]["pace"] == {
        "expected_so_far": 4,
        "actual_so_far": 2,
        "ratio": 0.5,
    }
    assert out["signal"] == "first_warning"
    assert out["reasons"] == [{"id": scenario["notes"], "verdict": "broken"}]
    assert out["follow_through_rate"] == 0.5
    assert out["counts"] == {
        "open": 1,
        "overdue": 0,
        "released": 0,
        "succeeded": 0,
        "honest_miss": 1,
        "kept": 0,
        "partial": 0,
        "broken": 1,
        "blocked": 1,
    }
    assert (out["focus_load"], out["overloaded"]) == (1, False)
    assert (out["as_of"], out["on"], out["window_days"]) == (
        "2026-12-31T23:59:59Z",
        "2026-03-01",
        90,
    )


def test_show_list_and_history_agree(cli: Cli, scenario: dict[str, str]) -> None:
    history = json.loads(cli.ok(f"history alice {ON} --format json"))["commitments"]
    listed = json.loads(cli.ok(f"list --rep alice {ON} --format json"))

    assert listed == history
    for obj in history:
        shown = json.loads(cli.ok(f"show {obj['id'][:8]} {ON} --format json"))
        assert {k: shown[k] for k in obj} == obj
        assert len(shown["log"]) == obj["events"]


def test_list_filters_by_verdict_status_and_manager(cli: Cli, scenario: dict[str, str]) -> None:
    broken = json.loads(cli.ok(f"list --verdict broken {ON} --format json"))
    open_ = json.loads(cli.ok(f"list --status open {ON} --format json"))
    nobody = cli(f"list --manager zoe {ON} --format json")

    assert {c["id"] for c in broken} == {scenario["notes"], scenario["ride"]}
    assert [c["id"] for c in open_] == [scenario["open"]]
    assert (nobody.exit_code, nobody.stdout) == (3, "")  # a manager the ledger never named


def test_as_of_before_anything_was_recorded_knows_nothing(cli: Cli, scenario: dict) -> None:
    result = cli("history alice --as-of 2020-01-01")
    listed = json.loads(cli.ok("list --as-of 2020-01-01 --format json"))
    shown = cli(f"show {scenario['calls']} --as-of 2020-01-01")

    assert result.exit_code == 3 and "alice" in result.stderr
    assert listed == []
    assert shown.exit_code == 3 and "did not exist yet" in shown.stderr


def test_history_csv_and_markdown_carry_every_commitment(cli: Cli, scenario: dict) -> None:
    rows = list(csv.DictReader(io.StringIO(cli.ok(f"history alice {ON} --format csv"))))
    md = cli.ok(f"history alice {ON} --format md")
    table = cli.ok(f"history alice {ON}")

    assert {r["id"] for r in rows} == set(scenario.values())
    assert {r["verdict"] for r in rows if r["id"] == scenario["calls"]} == {"honest_miss"}
    assert md.startswith("## alice: first_warning")
    assert all(cid in md and cid in table for cid in scenario.values())
    assert "first_warning" in table


def test_window_days_narrows_the_signal(cli: Cli, scenario: dict[str, str]) -> None:
    out = json.loads(cli.ok(f"history alice {ON} --window-days 20 --format json"))

    assert out["window_days"] == 20
    assert out["signal"] == "insufficient_data"  # every close is 20 days or more before D
    assert out["follow_through_rate"] is None


def test_show_table_lists_every_event_with_dates_and_actor(cli: Cli, scenario: dict) -> None:
    out = cli.ok(f"show {scenario['calls']} {ON}")

    assert "verdict: honest_miss" in out
    assert out.count("tester") == 7  # the actor of each of its 7 events
    for kind in ("agreed", "checked_in", "corrected", "closed"):
        assert kind in out


@pytest.mark.parametrize(
    "args",
    [
        ("history", "alice", "--as-of", "yesterday"),
        ("history", "alice", "--on", "2026-13-01"),
        ("list", "--on", "01/02/2026"),
        ("show", "abc"),
    ],
)
def test_bad_dates_and_ids_exit_2(cli: Cli, scenario: dict, args: tuple[str, ...]) -> None:
    result = cli(args)

    assert result.exit_code == 2
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1


def test_unknown_rep_and_unknown_id_exit_3(cli: Cli, scenario: dict[str, str]) -> None:
    assert cli("history nobody").exit_code == 3
    assert cli("show ffffffff").exit_code == 3
