"""``team`` (SPEC §7.1): every rep's signal on one page, each entry equal to
what ``history REP`` says of that rep. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, event_count

AT = ("--as-of", "2999-12-31", "--on", "2026-11-23")
ENTRY_KEYS = [
    "rep",
    "managers",
    "signal",
    "follow_through_rate",
    "focus_load",
    "overloaded",
    "counts",
    "reasons",
]


@pytest.fixture
def demo(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A demo team ending on Monday 23 November 2026 (its pages go to tmp_path)."""
    monkeypatch.chdir(tmp_path)
    cli.ok("demo --until 2026-11-23")
    return cli


def team(cli: Cli, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cli.ok(["team", *args, *AT, "--format", "json"]))
    return result


def test_every_team_entry_equals_that_reps_history(demo: Cli) -> None:
    obj = team(demo)
    assert list(obj) == ["as_of", "on", "window_days", "reps"]
    assert (obj["on"], obj["window_days"]) == ("2026-11-23", 90)
    rep_owned = json.loads(demo.ok(["list", "--owner", "rep", *AT, "--format", "json"]))
    assert [e["rep"] for e in obj["reps"]] == sorted({c["rep"] for c in rep_owned})
    assert len(obj["reps"]) == 12
    for entry in obj["reps"]:
        assert list(entry) == ENTRY_KEYS
        history = json.loads(demo.ok(["history", entry["rep"], *AT, "--format", "json"]))
        assert entry == {
            "rep": history["rep"],
            "managers": sorted({c["manager"] for c in history["commitments"]}),
            **{k: history[k] for k in ENTRY_KEYS[2:]},
        }
        assert history["as_of"] == obj["as_of"]
    signals = {e["signal"] for e in obj["reps"]}
    assert {"will_concern", "first_warning", "skill_gap", "on_track"} <= signals


def test_team_of_one_manager_lists_their_reps_with_whole_histories(demo: Cli) -> None:
    everyone = {e["rep"]: e for e in team(demo)["reps"]}
    mine = team(demo, "--manager", "Uma Garcia")["reps"]
    theirs = json.loads(
        demo.ok(["list", "--manager", "Uma Garcia", "--owner", "rep", *AT, "--format", "json"])
    )
    assert [e["rep"] for e in mine] == sorted({c["rep"] for c in theirs})
    assert all(e == everyone[e["rep"]] for e in mine)
    assert all(e["managers"] == ["Uma Garcia"] for e in mine)


def test_a_rep_with_two_managers_names_both(cli: Cli) -> None:
    for manager, focus in (("bob", "prospecting"), ("zoe", "discovery")):
        cli.ok(
            f"agree --rep alice --manager {manager} --focus {focus} --behavior calls --target 5 "
            "--start 2026-01-05",
        )
    cli.ok(
        "agree --rep carol --manager bob --owner manager --focus prospecting "
        "--behavior ride-alongs --done --start 2026-01-05",
    )
    obj = json.loads(cli.ok("team --on 2026-01-10 --format json"))
    # carol has only a manager-owned commitment: no entry of her own
    assert [(e["rep"], e["managers"]) for e in obj["reps"]] == [("alice", ["bob", "zoe"])]
    assert obj["reps"][0]["counts"]["open"] == 2
    zoe = json.loads(cli.ok("team --manager zoe --on 2026-01-10 --format json"))
    assert zoe["reps"] == obj["reps"]  # alice's whole history, bob's commitment included


def test_team_formats(demo: Cli, tmp_path: Path) -> None:
    obj = team(demo)
    rows = list(csv.DictReader(io.StringIO(demo.ok(["team", *AT, "--format", "csv"]))))
    assert [r["rep"] for r in rows] == [e["rep"] for e in obj["reps"]]
    first, entry = rows[0], obj["reps"][0]
    assert first["signal"] == entry["signal"]
    assert first["count_succeeded"] == str(entry["counts"]["succeeded"])
    assert first["reasons"] == ";".join(f"{r['id']} {r['verdict']}" for r in entry["reasons"])
    md = demo.ok(["team", *AT, "--format", "md"]).splitlines()
    assert md[0].startswith("## Team as of") and len(md) == 4 + len(rows)
    table = demo.ok(["team", *AT]).splitlines()
    assert table[2].split()[:5] == ["rep", "managers", "signal", "follow-through", "focus"]
    assert len(table) == 4 + len(rows)
    page = tmp_path / "team.html"
    result = demo(["team", *AT, "--format", "html", "-o", str(page)])
    assert result.exit_code == 0 and result.stdout == ""
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    html = page.read_text("utf-8")
    assert all(e["rep"] in html for e in obj["reps"])
    assert html.count('class="badge sig-') == len(rows)


def test_team_refusals(demo: Cli) -> None:
    before = event_count(demo.db)
    unknown = demo("team --manager 'uma garcia'")
    assert unknown.exit_code == 3 and unknown.stdout == ""
    assert unknown.stderr == (
        "error: no manager named 'uma garcia' in the ledger; did you mean 'Uma Garcia'?\n"
    )
    for args in (("--on", "2026-02-30"), ("--window-days", "0"), ("--format", "xml")):
        result = demo(["team", *args])
        assert result.exit_code == 2 and result.stdout == "", args
    assert event_count(demo.db) == before


def test_a_ledger_without_commitments_has_an_empty_team(cli: Cli) -> None:
    cli.ok("session record --rep alice --manager bob --on 2026-01-05")
    obj = json.loads(cli.ok("team --format json"))
    assert obj["reps"] == []
    assert cli.ok("team").endswith("(no reps with commitments)")
