"""``report coaching``: every measure of SPEC §4 "Coaching patterns" on a small
scenario whose values are computed by hand below, the null cases, and the
output formats.

The scenario, evaluated on D = 2026-03-31 with a 90-day window, i.e. business
dates 2026-01-01 .. 2026-03-31 (months 2026-01, 2026-02, 2026-03):

manager bob
  sessions  alice 2025-12-20 prepared (before the window)
            alice 2026-01-05 prepared, alice 2026-02-02 not prepared,
            carol 2026-03-02 prepared
  c0 alice  prospecting 2025-11-01..11-30, 0 of 10/week, closed 12-01: broken, before window
  c1 alice  prospecting 01-05..02-01 10/week, 40 done, hypothesis, closed 02-03 met: succeeded
  m1 (bob)  manager-owned, supports c1, done, 01-05..01-18, not done, closed 01-20: broken
  c2 alice  pipeline, done, 01-05..01-18, done, closed 02-10 missed: honest_miss (late)
  c4 carol  discovery 02-02..02-15 3/week, 1 of 6, closed 02-16: broken
  c5 carol  negotiation, done, 01-10..01-20, never closed: overdue
  c3 carol  prospecting 03-02..03-31 5/window, hypothesis, 1 done: open (loop pending)
  c6 carol  closing 03-20..04-18, focus-cap override "quarter end push": open
  (c3 and c6 were proposed by carol herself, --proposed-by rep; the rest by bob)
  c7 alice  prospecting 03-01..03-10, released 03-05: released
manager gina
  session   alice 2026-03-15 not prepared
manager dana
  session   erin 2025-10-01 (before the window): nothing in the window, every share null
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from tests.conftest import Cli, ledger_location

ON = "2026-03-31"


def _build(db: str) -> dict[str, str]:
    ledger = Ledger.open(db)
    a: dict[str, Any] = {"actor": "tester"}

    def session(rep: str, manager: str, day: str, prepared: bool) -> None:
        ledger.record_session(rep=rep, manager=manager, date=day, prepared=prepared, **a)

    def agree(rep: str, focus: str, start: str, days: int, **kw: Any) -> str:
        kw.setdefault("manager", "bob")
        kw.setdefault("behavior", f"{focus} behaviour")
        if "target" not in kw:
            kw["done"] = True
        return str(ledger.agree(rep=rep, focus=focus, start=start, days=days, **kw, **a))

    def check_in(cid: str, day: str, **kw: Any) -> None:
        ledger.check_in(uuid.UUID(cid), date=day, **kw, **a)

    def close(cid: str, day: str, result: str | None = None) -> None:
        ledger.close_commitment(uuid.UUID(cid), date=day, result=result, **a)

    session("alice", "bob", "2025-12-20", True)
    session("alice", "bob", "2026-01-05", True)
    session("alice", "bob", "2026-02-02", False)
    session("carol", "bob", "2026-03-02", True)
    session("alice", "gina", "2026-03-15", False)
    session("erin", "dana", "2025-10-01", True)
    ids: dict[str, str] = {}
    ids["c0"] = agree("alice", "prospecting", "2025-11-01", 30, target=10, period="week")
    check_in(ids["c0"], "2025-11-20", actual=0)
    close(ids["c0"], "2025-12-01")
    ids["c1"] = agree(
        "alice", "prospecting", "2026-01-05", 28, target=10, period="week", expect="pipeline x2"
    )
    check_in(ids["c1"], "2026-01-30", actual=40)
    close(ids["c1"], "2026-02-03", "met")
    ids["m1"] = agree(
        "alice", "support", "2026-01-05", 14, owner="manager", supports=uuid.UUID(ids["c1"])
    )
    close(ids["m1"], "2026-01-20")
    ids["c2"] = agree("alice", "pipeline", "2026-01-05", 14)
    check_in(ids["c2"], "2026-01-10", done=True)
    close(ids["c2"], "2026-02-10", "missed")
    ids["c7"] = agree("alice", "prospecting", "2026-03-01", 10, target=3, period="week")
    ledger.release(uuid.UUID(ids["c7"]), date="2026-03-05", reason="territory change", **a)
    ids["c4"] = agree("carol", "discovery", "2026-02-02", 14, target=3, period="week")
    check_in(ids["c4"], "2026-02-10", actual=1)
    close(ids["c4"], "2026-02-16")
    ids["c3"] = agree(
        "carol",
        "prospecting",
        "2026-03-02",
        30,
        target=5,
        period="window",
        expect="more demos",
        proposed_by="rep",
    )
    check_in(ids["c3"], "2026-03-10", actual=1)
    ids["c5"] = agree("carol", "negotiation", "2026-01-10", 11)
    ids["c6"] = agree(
        "carol",
        "closing",
        "2026-03-20",
        30,
        target=2,
        period="week",
        override_focus_cap="quarter end push",
        proposed_by="rep",
    )
    ledger.close()
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cli, dict[str, str]]]:
    """The scenario above, built once per backend (tests only read it)."""
    tmp = tmp_path_factory.mktemp("coaching")
    with ledger_location(request.param, tmp) as db:
        yield Cli(db=db, views=str(tmp / "views.db")), _build(db)


def report(cli: Cli, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(
        cli.ok(["report", "coaching", "--on", ON, "--format", "json", *args])
    )
    return out


def manager(rep: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [m for m in rep["managers"] if m["manager"] == name]
    return found


@pytest.fixture
def bob(scenario: tuple[Cli, dict[str, str]]) -> dict[str, Any]:
    return manager(report(scenario[0]), "bob")


def test_json_has_the_spec_shape_with_a_team_total(scenario: tuple[Cli, dict[str, str]]) -> None:
    rep = report(scenario[0])
    assert list(rep) == ["as_of", "on", "window_days", "managers", "team"]
    assert rep["on"] == ON and rep["window_days"] == 90 and rep["as_of"].endswith("Z")
    assert [m["manager"] for m in rep["managers"]] == ["bob", "dana", "gina"]
    assert "manager" not in rep["team"]
    assert set(rep["team"]) | {"manager"} == set(rep["managers"][0])


def test_sessions_reps_coached_cadence_and_preparation(bob: dict[str, Any]) -> None:
    # 3 sessions in the window (the 2025-12-20 one is before it), alice and carol
    assert bob["sessions_held"] == 3
    assert bob["reps_coached"] == 2
    assert bob["sessions_per_rep_per_30_days"] == 0.5  # 3 / 2 reps * 30 / 90
    assert bob["prepared_share"] == 0.67  # 2 of 3


def test_commitments_agreed_hypotheses_and_two_sided_share(bob: dict[str, Any]) -> None:
    # agreed in the window: c1 c2 c3 c4 c5 c6 c7 (rep) and m1 (manager); c0 before it
    assert bob["rep_commitments_agreed"] == 7
    assert bob["manager_commitments_agreed"] == 1
    assert bob["commitments_agreed"] == 8
    assert bob["hypothesis_share"] == 0.29  # c1, c3 of 7
    assert bob["two_sided_share"] == 0.14  # c1 (supported by m1) of 7
    assert bob["rep_proposed_share"] == 0.29  # c3 and c6 (carol proposed them) of 7


def test_loop_closure_counts_closes_and_releases_within_7_days_after_due(
    bob: dict[str, Any],
) -> None:
    # due in the window: c1 c2 m1 c3 c4 c5 c7. In time: c1 (+2 d), m1 (+2 d), c4 (+1 d),
    # c7 (released before due). Late: c2 (+23 d). Never: c5. Pending: c3 (due on D).
    assert bob["loops_due"] == 7
    assert bob["loops_closed_in_time"] == 4
    assert bob["loops_pending"] == 1
    assert bob["loop_closure"] == 0.67  # 4 of the 6 decided
    months = {m["month"]: m for m in bob["months"]}
    assert list(months) == ["2026-01", "2026-02", "2026-03"]
    assert [months[m]["sessions_held"] for m in months] == [1, 1, 1]
    assert (months["2026-01"]["loops_due"], months["2026-01"]["loops_closed_in_time"]) == (3, 1)
    assert months["2026-01"]["loop_closure"] == 0.33  # m1 of c2 m1 c5
    assert months["2026-02"]["loop_closure"] == 1  # c1 c4
    assert months["2026-03"]["loop_closure"] == 1  # c7; c3 pending


def test_overdue_count_and_follow_through_mix(bob: dict[str, Any]) -> None:
    assert bob["overdue_count"] == 1  # c5
    assert bob["follow_through_mix"] == {
        "succeeded": 1,  # c1
        "honest_miss": 1,  # c2
        "kept": 0,
        "partial": 0,
        "broken": 1,  # c4 (c0 was closed before the window)
        "blocked": 0,
        "released": 1,  # c7
        "overdue": 1,  # c5
    }


def test_managers_own_follow_through_counts_manager_owned_commitments(bob: dict[str, Any]) -> None:
    mft = bob["manager_follow_through"]
    assert mft["broken"] == 1 and sum(mft.values()) == 1  # m1
    assert bob["manager_follow_through_rate"] == 0


def test_safe_failure_index_is_honest_misses_over_honest_misses_and_broken(
    bob: dict[str, Any],
) -> None:
    assert bob["safe_failure_index"] == 0.5  # c2 / (c2 + c4); c0 is outside the window


def test_focus_cap_overrides_and_overloaded_reps(
    bob: dict[str, Any], scenario: tuple[Cli, dict[str, str]]
) -> None:
    assert bob["focus_cap_overrides"] == 1
    assert bob["overrides"] == [
        {
            "id": scenario[1]["c6"],
            "rep": "carol",
            "focus": "closing",
            "reason": "quarter end push",
            "agreed_on": "2026-03-20",
        }
    ]
    # carol's open rep commitments: prospecting, negotiation, closing
    assert bob["overloaded_reps"] == ["carol"]


def test_a_manager_with_nothing_in_the_window_has_zero_counts_and_null_shares(
    scenario: tuple[Cli, dict[str, str]],
) -> None:
    dana = manager(report(scenario[0]), "dana")
    assert dana["sessions_held"] == dana["reps_coached"] == dana["commitments_agreed"] == 0
    for key in (
        "sessions_per_rep_per_30_days",
        "prepared_share",
        "hypothesis_share",
        "two_sided_share",
        "rep_proposed_share",
        "loop_closure",
        "manager_follow_through_rate",
        "safe_failure_index",
    ):
        assert dana[key] is None, key
    assert all(m["loop_closure"] is None for m in dana["months"])


def test_team_total_pools_counts_and_recomputes_shares(
    scenario: tuple[Cli, dict[str, str]],
) -> None:
    rep = report(scenario[0])
    gina, team = manager(rep, "gina"), rep["team"]
    assert (gina["sessions_held"], gina["reps_coached"], gina["prepared_share"]) == (1, 1, 0)
    assert gina["sessions_per_rep_per_30_days"] == 0.33  # 1 * 30 / 90
    assert team["sessions_held"] == 4
    assert team["reps_coached"] == 2  # alice (bob and gina) and carol, counted once
    assert team["prepared_share"] == 0.5
    assert team["sessions_per_rep_per_30_days"] == 0.67  # 4 / 2 * 30 / 90
    assert team["safe_failure_index"] == 0.5


def test_manager_option_keeps_one_manager_and_unknown_is_not_found(
    scenario: tuple[Cli, dict[str, str]],
) -> None:
    cli = scenario[0]
    rep = report(cli, "--manager", "gina")
    assert [m["manager"] for m in rep["managers"]] == ["gina"]
    assert rep["team"]["sessions_held"] == 4
    result = cli("report coaching --manager nobody")
    assert result.exit_code == 3
    assert "nobody" in result.stderr


def test_the_window_and_as_of_move_the_measures(scenario: tuple[Cli, dict[str, str]]) -> None:
    cli = scenario[0]
    short = manager(report(cli, "--window-days", "30"), "bob")  # 2026-03-02 .. 03-31
    assert (short["sessions_held"], short["reps_coached"]) == (1, 1)
    assert short["sessions_per_rep_per_30_days"] == 1
    assert short["rep_commitments_agreed"] == 2  # c3 c6 (c7 was agreed on 03-01)
    assert short["safe_failure_index"] is None  # nothing closed in March
    past = report(cli, "--as-of", "2000-01-01")
    assert past["managers"] == []
    assert past["team"]["sessions_held"] == 0


def test_csv_md_and_table_have_one_row_per_manager_and_the_team(
    scenario: tuple[Cli, dict[str, str]],
) -> None:
    cli = scenario[0]
    rows = list(csv.DictReader(io.StringIO(cli.ok(f"report coaching --on {ON} --format csv"))))
    assert [r["manager"] for r in rows] == ["bob", "dana", "gina", "(team)"]
    assert rows[0]["safe_failure_index"] == "0.5" and rows[1]["safe_failure_index"] == ""
    assert rows[0]["mix_overdue"] == "1" and rows[0]["overloaded_reps"] == "carol"
    md = cli.ok(f"report coaching --on {ON} --format md")
    assert md.count("\n| bob |") == 1 and "| (team) |" in md
    table = cli.ok(f"report coaching --on {ON}").splitlines()
    assert table[2].split()[0] == "manager" and len(table) == 3 + 1 + 4


def test_output_file_gets_the_report_and_stdout_stays_empty(
    scenario: tuple[Cli, dict[str, str]], tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    result = scenario[0](f"report coaching --on {ON} --format json -o {out}")
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text())["window_days"] == 90


def test_blocked_is_neither_honest_miss_nor_broken_in_the_safe_failure_index(cli: Cli) -> None:
    rc = cli.ok(
        "agree --rep frank --manager eve --focus calls --behavior calls --target 10 --per window "
        "--start 2026-03-01 --days 10",
    )
    mc = cli.ok(
        ["agree", "--rep", "frank", "--manager", "eve", "--owner", "manager", "--focus", "calls",
        "--behavior", "two call reviews", "--done", "--start", "2026-03-01", "--days", "10",
        "--supports", rc],
    )  # fmt: skip
    cli.ok(["close", rc, "--on", "2026-03-11"])
    cli.ok(["close", mc, "--on", "2026-03-11"])
    eve = manager(report(cli), "eve")
    assert eve["follow_through_mix"]["blocked"] == 1
    assert eve["follow_through_mix"]["broken"] == 0
    assert eve["manager_follow_through"]["broken"] == 1
    assert eve["safe_failure_index"] is None  # 0 / 0
    assert eve["two_sided_share"] == 1
    assert eve["sessions_held"] == 0 and eve["prepared_share"] is None


@pytest.mark.parametrize("on", ["2026-06-01", "2026-07-19", "2026-09-14"])  # Mon, Sun, Mon
@pytest.mark.parametrize("window", [30, 90])
def test_the_fast_path_agrees_with_judging_every_commitment(
    demo_views: str, on: str, window: int
) -> None:
    """SQL aggregates plus verdicts of only the closed-in-window commitments give
    exactly what judging every commitment through ReadModel.commitments gives."""
    from projections.coaching import coaching_report
    from projections.query import ReadModel, moment

    at = moment("2026-12-31", on)
    with ReadModel(demo_views) as rm:
        fast = coaching_report(rm, at, window).as_dict()
        reference = coaching_report(rm, at, window, judge_all=True).as_dict()
    assert fast == reference
    assert fast["team"]["safe_failure_index"] is not None
    assert 0 < fast["team"]["rep_proposed_share"] < 1  # self-managing reps propose some
    assert sum(fast["team"]["follow_through_mix"].values()) > 0


@pytest.mark.parametrize(
    ("as_of", "on", "hides"),
    [
        ("2026-07-19T09:30:00Z", "2026-09-14", True),  # T cuts into the commitments D shows
        ("2026-06-03T08:45:00Z", "2026-06-03", False),  # T and D inside one business day
        ("2026-08-31", "2026-07-19", False),  # events known by T, some dated after D
        ("2026-04-01T12:00:00Z", "2026-12-31", True),  # D after everything, T early
    ],
)
def test_the_fast_path_agrees_with_judging_every_commitment_as_of_any_time(
    demo_views: str, as_of: str, on: str, hides: bool
) -> None:
    """The same with --as-of T and --on D cutting into commitments' events (check-ins,
    corrections, revisions and closes recorded after T or dated after D): the fast
    path reads only what is visible at (T, D), as judging every commitment does."""
    from projections.coaching import coaching_report
    from projections.query import ReadModel, moment

    at, later = moment(as_of, on), moment("2026-12-31", on)
    with ReadModel(demo_views) as rm:
        fast = coaching_report(rm, at, 90).as_dict()
        reference = coaching_report(rm, at, 90, judge_all=True).as_dict()
        everything = coaching_report(rm, later, 90).as_dict()
    assert fast == reference
    assert (fast["team"] != everything["team"]) == hides  # T hides what D alone would show


@pytest.fixture(scope="module")
def demo_views(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo team (revisions, corrections, activity metrics, blocking, overrides)."""
    from datetime import UTC, date, datetime

    from ledger.demo import write_demo
    from projections.catchup import ensure_current

    tmp = tmp_path_factory.mktemp("demo")
    db, views = str(tmp / "demo.db"), str(tmp / "demo.views.db")
    ledger = Ledger.open(db)
    try:
        write_demo(
            ledger,
            reps=30,
            weeks=40,
            seed=3,
            today=date(2026, 9, 21),
            now=datetime(2026, 9, 21, 12, tzinfo=UTC),
        )
    finally:
        ledger.close()
    ensure_current(db, views)
    return views
