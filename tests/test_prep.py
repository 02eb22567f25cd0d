"""``prep``: the agenda of a rep's next session (SPEC §7.6), on a scenario whose
agenda is derived by hand below; every list, the conversation per signal, the
"since the last session" boundary, ``--on`` time travel, ``--manager``, the
printable page and the refusals. Runs on both backends.

Rep alice (manager bob unless said), evaluated on D = 2026-02-16 (90-day window):

sessions  bob 2026-01-05, gina 2026-01-10, bob 2026-02-02 (c_pace agreed in it)
old_win   prospecting 01-05..01-18 5/week, 10 done, closed 01-20 met: succeeded
edge      pipeline 01-19..02-01 done, closed 02-02 (the session's day): kept
win       pipeline 01-19..02-01 done, closed 02-03: kept
exp       prospecting 01-19..02-08 5/week, 15 done, closed 02-09 missed: honest_miss
broken    prospecting 01-12..02-08 4/week, 2 done (check-in 02-05), closed 02-10: broken
blocked   pipeline 01-19..02-08 done, not done, closed 02-10: blocked by m_fail
m_fail    manager-owned, supports blocked, 01-19..02-08 done, not done, closed 02-10: broken
over      pipeline 01-05..02-10 done, never closed: overdue
pace      prospecting 02-09..03-08 10/week, 5 done by 02-15: 5 < 0.8 × 80/7
m_open    manager-owned, supports pace, 02-09..03-08 2/window: open
soon      pipeline 02-10..02-20 done: due within 7 days
ontrack   prospecting 02-09..03-08 2/week, 4 done by 02-15: 4 >= 0.8 × 16/7
g1        manager gina, prospecting 02-01..02-10 done, closed 02-11: kept
carol's   c1 (no session ever) 01-05..01-18 done, closed 01-20: kept
calls     alice 6 on 2025-11-01 and 30 on 02-10; carol 90 on 01-10; dave 45 on 01-20;
          erin 9 on 2025-10-01
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from tests.conftest import Cli, event_count, ledger_location

ON = "2026-02-16"


def _build(db: str) -> dict[str, str]:
    ledger = Ledger.open(db)
    a: dict[str, Any] = {"actor": "tester"}
    ids: dict[str, str] = {}

    def agree(name: str, focus: str, start: str, days: int, **kw: Any) -> uuid.UUID:
        kw.setdefault("rep", "alice")
        kw.setdefault("manager", "bob")
        kw.setdefault("behavior", f"{name} behaviour")
        if "target" not in kw:
            kw["done"] = True
        cid = ledger.agree(focus=focus, start=start, days=days, **kw, **a)
        ids[name] = str(cid)
        return cid

    def check_in(cid: uuid.UUID, day: str, **kw: Any) -> None:
        ledger.check_in(cid, date=day, **kw, **a)

    def close(cid: uuid.UUID, day: str, result: str | None = None) -> None:
        ledger.close_commitment(cid, date=day, result=result, **a)

    ids["s1"] = str(ledger.record_session(rep="alice", manager="bob", date="2026-01-05", **a))
    ids["sg"] = str(ledger.record_session(rep="alice", manager="gina", date="2026-01-10", **a))
    s2 = ledger.record_session(rep="alice", manager="bob", date="2026-02-02", prepared=True, **a)
    ids["s2"] = str(s2)
    c = agree("old_win", "prospecting", "2026-01-05", 14, target=5, period="week")
    check_in(c, "2026-01-15", actual=10)
    close(c, "2026-01-20", "met")
    c = agree("edge", "pipeline", "2026-01-19", 14)
    check_in(c, "2026-01-25", done=True)
    close(c, "2026-02-02")
    c = agree("win", "pipeline", "2026-01-19", 14, behavior="<b>call</b> & demo")
    check_in(c, "2026-01-26", done=True)
    close(c, "2026-02-03")
    c = agree("exp", "prospecting", "2026-01-19", 21, target=5, period="week")
    check_in(c, "2026-02-07", actual=15)
    close(c, "2026-02-09", "missed")
    c = agree("broken", "prospecting", "2026-01-12", 28, target=4, period="week")
    check_in(c, "2026-02-05", actual=2)
    close(c, "2026-02-10")
    blocked = agree("blocked", "pipeline", "2026-01-19", 21)
    m = agree("m_fail", "pipeline", "2026-01-19", 21, owner="manager", supports=blocked)
    close(blocked, "2026-02-10")
    close(m, "2026-02-10")
    agree("over", "pipeline", "2026-01-05", 37)
    pace = agree("pace", "prospecting", "2026-02-09", 28, target=10, period="week", session_id=s2)
    check_in(pace, "2026-02-15", actual=5)
    agree("m_open", "prospecting", "2026-02-09", 28, owner="manager", supports=pace, target=2,
          period="window")  # fmt: skip
    agree("soon", "pipeline", "2026-02-10", 11)
    c = agree("ontrack", "prospecting", "2026-02-09", 28, target=2, period="week")
    check_in(c, "2026-02-15", actual=4)
    c = agree("g1", "prospecting", "2026-02-01", 10, manager="gina")
    check_in(c, "2026-02-05", done=True)
    close(c, "2026-02-11")
    c = agree("c1", "prospecting", "2026-01-05", 14, rep="carol")
    check_in(c, "2026-01-10", done=True)
    close(c, "2026-01-20")
    rows = [
        ("alice", "2025-11-01", 6),
        ("alice", "2026-02-10", 30),
        ("carol", "2026-01-10", 90),
        ("dave", "2026-01-20", 45),
        ("erin", "2025-10-01", 9),
    ]
    ledger.record_activities(
        {"rep": r, "metric": "calls", "date": d, "value": v, "source_id": f"{r}-{d}", **a}
        for r, d, v in rows
    )
    ledger.close()
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cli, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("prep")
    with ledger_location(request.param, tmp) as db:
        yield Cli(db=db, views=str(tmp / "views.db")), _build(db)


def prep(cli: Cli, rep: str, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(cli.ok(["prep", rep, "--format", "json", *args]))
    return out


def names(ids: dict[str, str], objs: list[dict[str, Any]]) -> list[str]:
    back = {v: k for k, v in ids.items()}
    return sorted(back[o["id"]] for o in objs)


LISTS = (
    "wins",
    "experiments",
    "broken",
    "blocked",
    "manager_promises",
    "behind_pace",
    "due_soon",
    "overdue",
)


def test_the_agenda_since_the_last_session(scenario: tuple[Cli, dict[str, str]]) -> None:
    cli, ids = scenario
    a = prep(cli, "alice", "--on", ON)
    assert list(a) == [
        "rep", "on", "last_session", "signal", "reasons", "conversation", *LISTS,
        "focus_load", "replies", "metrics",
    ]  # fmt: skip
    assert (a["rep"], a["on"]) == ("alice", ON)
    # the latest session dated before D: bob's on 02-02, with what was agreed in it
    assert a["last_session"] == {
        "id": ids["s2"],
        "rep": "alice",
        "manager": "bob",
        "on": "2026-02-02",
        "prepared": True,
        "strengths": [],
        "focus": [],
        "note": None,
        "commitments": [ids["pace"]],
    }
    assert {k: names(ids, a[k]) for k in LISTS} == {
        # closed after 02-02: "edge" (closed on the session's day) and old_win are not
        "wins": ["g1", "win"],
        "experiments": ["exp"],
        "broken": ["broken"],
        "blocked": ["blocked"],
        "manager_promises": ["m_fail", "m_open"],  # broken since, and open
        "behind_pace": ["pace"],
        "due_soon": ["soon"],
        "overdue": ["over"],
    }
    # one broken in the window (blocked counts for nobody): first warning
    assert a["signal"] == "first_warning"
    assert a["reasons"] == [{"id": ids["broken"], "verdict": "broken"}]
    assert a["conversation"] == "expectations and obstacles: what got in the way"
    assert a["focus_load"] == 2
    assert a["replies"] == []
    # calls over (11-18, 02-16]: alice 30, carol 90, dave 45; erin's are older
    # per week = total / (90 / 7): 2.33, 7, 3.5 -> median 3.5
    assert a["metrics"] == [{"metric": "calls", "rep_per_week": 2.33, "team_median_per_week": 3.5}]
    # every list holds the per-commitment objects of show
    shown = json.loads(cli.ok(f"show {ids['pace']} --on {ON} --format json"))
    (pace,) = a["behind_pace"]
    assert pace == {k: shown[k] for k in pace}
    assert pace["pace"] == {"expected_so_far": 11.43, "actual_so_far": 5, "ratio": 0.44}


def test_on_travels_back_in_time(scenario: tuple[Cli, dict[str, str]]) -> None:
    cli, ids = scenario
    a = prep(cli, "alice", "--on", "2026-02-01")
    # bob's 02-02 session has not happened: the last is gina's on 01-10
    assert a["last_session"]["id"] == ids["sg"]
    assert a["last_session"]["commitments"] == []
    assert {k: names(ids, a[k]) for k in LISTS} == {
        "wins": ["old_win"],
        "experiments": [],
        "broken": [],
        "blocked": [],
        "manager_promises": ["m_fail"],  # open then
        # no check-in visible yet: 0 of 4 x 21/7 = 12 and 0 of 5 x 14/7 = 10
        "behind_pace": ["broken", "exp"],
        # open and due 02-01..02-08, both owners ("over" is due 02-10, g1 02-10)
        "due_soon": ["blocked", "broken", "edge", "exp", "m_fail", "win"],
        "overdue": [],
    }
    assert a["signal"] == "on_track"
    assert a["reasons"] == [{"id": ids["old_win"], "verdict": "succeeded"}]
    assert a["conversation"] == "stretch or a new focus"
    # calls over (11-04, 02-01]: alice 0, carol 90, dave 45 -> median of 0, 7, 3.5
    assert a["metrics"] == [{"metric": "calls", "rep_per_week": 0, "team_median_per_week": 3.5}]


def test_manager_keeps_that_managers_session_and_commitments(
    scenario: tuple[Cli, dict[str, str]],
) -> None:
    cli, ids = scenario
    a = prep(cli, "alice", "--manager", "gina", "--on", ON)
    assert a["last_session"]["id"] == ids["sg"]  # since 01-10
    assert {k: names(ids, a[k]) for k in LISTS if a[k]} == {"wins": ["g1"]}
    assert a["signal"] == "first_warning"  # the rep's own signal


def test_no_session_yet_means_the_trailing_window(scenario: tuple[Cli, dict[str, str]]) -> None:
    cli, ids = scenario
    a = prep(cli, "carol", "--on", ON)
    assert a["last_session"] is None
    assert names(ids, a["wins"]) == ["c1"]  # closed 01-20, inside (11-18, 02-16]
    assert a["signal"] == "on_track"
    assert a["conversation"] == "stretch or a new focus"
    assert names(ids, prep(cli, "carol", "--on", "2026-05-01")["wins"]) == []  # window moved on
    assert prep(cli, "carol", "--on", "2026-05-01")["conversation"] == (
        "agree one measurable commitment"
    )


def test_skill_gap_asks_for_practice(tmp_path: Path) -> None:
    cli = Cli(db=str(tmp_path / "l.db"), views=str(tmp_path / "v.db"))
    for start in ("2026-01-05", "2026-01-12"):
        cid = cli.ok(
            f"agree --rep zoe --manager bob --focus calls --behavior calls --done --start {start} "
            "--days 5",
        )
        cli.ok(f"check-in {cid} --on {start} --done")
        cli.ok(f"close {cid} --on 2026-01-20 --result missed")
    a = prep(cli, "zoe", "--on", "2026-01-25")
    assert (a["signal"], a["conversation"]) == (
        "skill_gap",
        "practise the skill: training or ride-along, a smaller experiment",
    )
    assert len(a["experiments"]) == 2


def test_table_md_and_printable_html(scenario: tuple[Cli, dict[str, str]], tmp_path: Path) -> None:
    cli, ids = scenario
    table = cli.ok(f"prep alice --on {ON}")
    assert "conversation: expectations and obstacles: what got in the way" in table
    assert ids["pace"] in table.split("Behind pace")[1].split("Due within")[0]
    md = cli.ok(f"prep alice --on {ON} --format md")
    assert md.startswith("## Session prep: alice, on 2026-02-16")
    page = tmp_path / "prep.html"
    result = cli(f"prep alice --on {ON} --format html -o {page}")
    assert result.exit_code == 0 and result.stdout == ""
    assert os.stat(page).st_mode & 0o777 == 0o600
    html = page.read_text("utf-8")
    assert "@media print" in html
    assert "&lt;b&gt;call&lt;/b&gt; &amp; demo" in html and "<b>call</b>" not in html
    assert "expectations and obstacles: what got in the way" in html


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("prep", "alicia", "--on", ON), 3, "did you mean 'alice'"),
        (("prep", "alice", "--manager", "gena", "--on", ON), 3, "did you mean 'gina'"),
        (("prep", "alice", "--on", "2026-13-01"), 2, "--on"),
        (("prep", "alice", "--format", "pdf"), 2, "'pdf' is not one of"),
        (("plan", "nobody"), 3, "no rep 'nobody'"),
        (("prep", "alice", "--manager", "\udcff"), 2, "not valid text"),
        (("plan", "\udcff"), 2, "not valid text"),
    ],
)
def test_refusals_write_nothing(
    scenario: tuple[Cli, dict[str, str]], args: tuple[str, ...], code: int, words: str
) -> None:
    cli, _ = scenario
    before = event_count(cli.db)
    result = cli(args)
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    assert words in result.stderr
    assert event_count(cli.db) == before
