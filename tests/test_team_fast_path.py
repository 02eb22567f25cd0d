"""``team`` judges reps a batch at a time and keeps only each rep's entry
(issue 19: its memory was the whole ledger's judged commitments). The entries
must stay exactly what judging each rep's whole history gives, at any
``--as-of`` T and ``--on`` D, with or without ``--manager``, whatever the batch
size. The read model is one SQLite file on either backend, so this runs once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from cli.demo.generator import write_demo
from ledger.application import Ledger
from projections.catchup import ensure_current
from projections.query import Moment, ReadModel, judge_history, moment

MOMENTS = [
    ("2026-12-31", "2026-09-21"),  # everything known
    ("2026-07-19T09:30:00Z", "2026-09-14"),  # T cuts into the commitments D shows
    ("2026-06-03T08:45:00Z", "2026-06-03"),  # T and D inside one business day
    ("2026-08-31", "2026-07-19"),  # events known by T, some dated after D
    ("2026-04-01T12:00:00Z", "2026-12-31"),  # D after everything, T early
]


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo team (revisions, corrections, activity metrics, blocking, overrides)."""
    tmp: Path = tmp_path_factory.mktemp("team")
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


def exact_team(rm: ReadModel, at: Moment, window: int, manager: str | None) -> list[Any]:
    """``team`` as it was built before batching: every visible commitment judged
    at once, then each rep's whole history through :func:`judge_history`."""
    items = rm.commitments(at, manager=manager)
    if manager is not None:
        reps = sorted({i.facts.rep for i in items if i.facts.owner == "rep"})
        items = [i for rep in reps for i in rm.commitments(at, rep=rep)]
    by_rep: dict[str, list[Any]] = {}
    for i in items:
        by_rep.setdefault(i.facts.rep, []).append(i)
    return [
        judge_history(rep, by_rep[rep], at, window).summary()
        for rep in sorted(by_rep)
        if any(i.facts.owner == "rep" for i in by_rep[rep])
        and (manager is None or any(i.facts.manager == manager for i in by_rep[rep]))
    ]


@pytest.mark.parametrize(("as_of", "on"), MOMENTS)
@pytest.mark.parametrize("window", [30, 90])
@pytest.mark.parametrize("batch", [1, 7, 200])
def test_batched_team_equals_judging_every_reps_whole_history(
    views: str, as_of: str, on: str, window: int, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ReadModel, "TEAM_BATCH", batch)
    at = moment(as_of, on)
    with ReadModel(views) as rm:
        manager = sorted(rm.people("manager"))[0]
        for who in (None, manager):
            fast = [e.summary() for e in rm.team(at, window, who)]
            assert fast == exact_team(rm, at, window, who), (as_of, on, who)
            assert fast, (as_of, on, who)  # every moment shows some reps


def test_the_moments_cut_into_the_histories(views: str) -> None:
    """The moments above are not all the same team: T and D change the entries."""
    with ReadModel(views) as rm:
        teams = [[e.summary() for e in rm.team(moment(as_of, on), 90)] for as_of, on in MOMENTS]
    assert all(a != b for i, a in enumerate(teams) for b in teams[i + 1 :])
