"""``report coaching`` equals judging every commitment through ``ledger.rules``
(issue 13, item 1), for random histories and any knowledge time T
(``--as-of``) and evaluation date D (``--on``).

The report's fast path reads only the rows its window can see, totals
check-ins and activity in SQL where no revision or correction is visible, and
judges only the commitments closed in the window (and the manager
commitments supporting them). The reference judges every visible commitment
through :meth:`ReadModel.commitments` (every row read, every verdict from
:func:`ledger.rules.evaluate`). Both are tallied into the report's measures
by the same code, so any difference is a difference in what the fast path
selected, totalled or judged.

The histories are those of the read model's property tests plus agreements
with a second manager, hypotheses (blank, text, an outcome metric with a
threshold) and sessions of either manager. T is drawn between the history's
first and last write (or left to default to now), so it cuts into
commitments' check-ins, corrections, revisions, closes and replies; D is
drawn across and beyond the histories' business dates.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger import rules
from ledger.application import Ledger
from ledger.errors import LedgerError
from projections import coaching
from projections.catchup import catch_up
from projections.coaching import coaching_report
from projections.query import ReadModel, moment
from tests.test_projection_properties import AGREE, BASE, FOCUS, REPS, Clock, _d, ops
from tests.test_projection_properties import apply as apply_base

MANAGERS = ("mgr", "gina")

# an agreement with the second manager, a proposer and a hypothesis: none, a
# blank text, a text, or the activity metric with a threshold
AGREE_MORE = st.tuples(
    st.just("agree_more"),
    st.integers(0, 20),  # rep
    st.sampled_from(MANAGERS),
    st.sampled_from(["rep", "rep", "manager"]),
    st.integers(0, 20),  # focus
    st.sampled_from(["count", "done", "metric"]),
    st.integers(0, 30).map(float),  # target
    st.sampled_from(["day", "week", "month", "window"]),
    st.integers(0, 45),  # start
    st.integers(1, 40),  # days
    st.sampled_from([None, "   ", "more demos", "metric"]),
    st.integers(0, 12).map(float),  # expect at least
    st.sampled_from(["rep", "manager"]),
)
SESSION_MORE = st.tuples(st.just("session_more"), st.integers(0, 20), st.integers(0, 45))
more_ops = st.one_of(ops, ops, AGREE_MORE, SESSION_MORE)
# an index into the commitments made, modulo their number: often one of the first
# three, so that they gather check-ins, corrections and revisions before they end
pick = st.one_of(st.integers(0, 20), st.integers(0, 2))
amount = st.integers(0, 30).map(float)
CHECK_IN = st.tuples(st.just("check_in"), pick, st.integers(0, 45), amount)
REVISE = st.tuples(st.just("revise"), pick, st.integers(0, 45), amount)
CLOSE = st.tuples(
    st.just("close"),
    pick,
    st.integers(0, 45),
    st.sampled_from([None, None, "met", "missed", "unknown"]),
)
CORRECT = st.tuples(st.just("correct"), pick, st.integers(1, 2), amount)
ACTIVITY = st.tuples(st.just("activity"), pick, st.integers(0, 45), amount, st.integers(0, 8))
# what happens while commitments run: check-ins, corrections and activity weigh more
RUNNING = st.one_of(more_ops, CHECK_IN, CHECK_IN, CHECK_IN, CORRECT, REVISE, ACTIVITY)
# the ends of commitments, and what may still change their verdict after one
ENDING = st.one_of(
    CLOSE, CLOSE, CLOSE, st.tuples(st.just("release"), pick, st.integers(0, 45)), CORRECT, CORRECT
)


def _joined(parts: tuple[list[tuple[Any, ...]], ...]) -> list[tuple[Any, ...]]:
    return [op for part in parts for op in part]


def histories(most: int) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    """Agreements first, then any operations, then mostly closes, releases and
    corrections, then any again: most commitments end, many after a check-in,
    a correction or a revision."""
    return st.tuples(
        st.lists(st.one_of(AGREE, AGREE_MORE), min_size=3, max_size=most // 4),
        st.lists(RUNNING, min_size=3, max_size=most // 2),
        st.lists(ENDING, min_size=3, max_size=most // 4),
        st.lists(more_ops, max_size=most // 8),
    ).map(_joined)


def _rep_owned_of(ledger: Ledger, cid: UUID, rep: str) -> bool:
    commitment = ledger.commitment(cid)
    return bool(commitment.owner == "rep" and commitment.rep == rep)


def apply(ledger: Ledger, clock: Clock, op: tuple[Any, ...], made: list[UUID]) -> None:
    """The read model's random operations, plus this test's two kinds."""
    if op[0] == "agree_more":
        clock.now += timedelta(seconds=1)
        _, rep, manager, owner, focus, measure, target, period, start, days, hyp, least, who = op
        values: dict[str, Any] = {
            "rep": REPS[rep % 3],
            "manager": manager,
            "owner": owner,
            "focus": FOCUS[focus % 3],
            "behavior": "do it",
            "start": _d(start),
            "days": days,
            "override_focus_cap": "testing" if focus % 2 else None,
            "proposed_by": who,
            "new_metric": True,
            "actor": "t",
        }
        if measure == "done":
            values["done"] = True
        else:
            values.update(target=target, period=period)
            if measure == "metric":
                values["metric"] = "calls"
        if hyp == "metric":
            values.update(expect="calls go up", expect_metric="calls", expect_at_least=least)
        elif hyp is not None:
            values["expect"] = hyp
        supportable = [c for c in made if _rep_owned_of(ledger, c, values["rep"])]
        if owner == "manager" and supportable:
            values["supports"] = supportable[focus % len(supportable)]
        with contextlib.suppress(LedgerError):  # a refusal writes nothing
            made.append(ledger.agree(**values))
    elif op[0] == "session_more":
        clock.now += timedelta(seconds=1)
        with contextlib.suppress(LedgerError):
            ledger.record_session(
                rep=REPS[op[1] % 3], manager="gina", date=_d(op[2]), prepared=op[1] % 2, actor="t"
            )
    else:
        apply_base(ledger, clock, op, made)


# T: an index into the history's write times (or None: now, after everything);
# D: a business date from before the first start to after most dues
moments = st.lists(
    st.tuples(
        st.one_of(st.none(), st.integers(0, 10_000)),
        st.integers(-5, 110),
        st.sampled_from([1, 30, 90, 90, 90, 365]),
        st.sampled_from(["manager", "manager", "team", "region"]),
    ),
    min_size=1,
    max_size=4,
)


# every history is also read with everything known, on dates that see most closes
EVERYTHING = [(None, 60, 90, "manager"), (None, 110, 365, "manager")]


def check(history: list[tuple[Any, ...]], cuts: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        ledger = Ledger.open(str(Path(tmp) / "ledger.db"), clock=clock)
        views = str(Path(tmp) / "views.db")
        try:
            made: list[UUID] = []
            times = [clock.now]
            for op in history:
                apply(ledger, clock, op, made)
                times.append(clock.now)
            catch_up(ledger, views)
        finally:
            ledger.close()
        reached: set[str] = set()
        with ReadModel(views) as rm:
            for when, on, window, group_by in cuts + EVERYTHING:
                as_of = None if when is None else times[when % len(times)]
                at = moment(
                    None if as_of is None else as_of.astimezone(UTC).isoformat(),
                    _d(on),
                    now=clock.now + timedelta(days=1),
                )
                fast = coaching_report(rm, at, window, group_by=group_by).as_dict()
                # the commitments it judged (its temporary tables are still there),
                # each exactly as judging every commitment judges it
                judged = {f.id: e for f, e in coaching._judge(rm, at)}
                every = {i.facts.id: i.evaluation for i in rm.commitments(at)}
                assert judged == {cid: every[cid] for cid in judged}
                reference = coaching_report(
                    rm, at, window, judge_all=True, group_by=group_by
                ).as_dict()
                assert fast == reference, (at, window, group_by)
                apart = {r[0] for r in rm.conn.execute("SELECT id FROM temp.complex")}
                if len(judged) > len(apart):
                    reached.add("judged from totals")
                if apart:
                    reached.add("judged row by row")
                if any(e.verdict == rules.BLOCKED for e in judged.values()):
                    reached.add("blocked")
        for what in reached:
            event(what)


SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(SETTINGS, max_examples=30)
@given(history=histories(40), cuts=moments)
def test_report_coaching_equals_judging_every_commitment(
    history: list[tuple[Any, ...]], cuts: list[tuple[Any, ...]]
) -> None:
    check(history, cuts)


@pytest.mark.slow
@settings(SETTINGS, max_examples=400)
@given(history=histories(80), cuts=moments)
def test_report_coaching_equals_judging_every_commitment_many_histories(
    history: list[tuple[Any, ...]], cuts: list[tuple[Any, ...]]
) -> None:
    check(history, cuts)


def test_a_history_reaches_what_the_fast_path_treats_apart() -> None:
    """The operations above do build what the fast path reads differently: in
    one window, a commitment judged from SQL's totals (check-ins, activity and
    a hypothesis metric), one judged row by row (a correction and a revision),
    a blocked rep commitment under a broken supporting one, and a T that hides
    some of it."""
    history: list[tuple[Any, ...]] = [
        ("agree_more", 0, "mgr", "rep", 0, "count", 10.0, "week", 0, 14, "metric", 3.0, "rep"),
        ("agree_more", 0, "gina", "manager", 1, "done", 0.0, "day", 0, 14, None, 0.0, "manager"),
        ("check_in", 0, 5, 4.0),
        ("activity", 0, 4, 5.0, 1),
        ("agree", 1, "rep", 1, "count", 5.0, "week", 2, 20, 0),
        ("check_in", 2, 6, 1.0),
        ("correct", 2, 1, 9.0),
        ("revise", 2, 4, 3.0),
        ("close", 0, 17, None),
        ("close", 1, 17, None),
        ("close", 2, 25, "met"),
        ("session_more", 0, 3),
    ]
    check(history, [(None, 40, 90, "manager"), (7, 40, 90, "manager"), (None, 20, 7, "team")])
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        ledger = Ledger.open(str(Path(tmp) / "ledger.db"), clock=clock)
        try:
            made: list[UUID] = []
            for op in history:
                apply(ledger, clock, op, made)
            catch_up(ledger, str(Path(tmp) / "views.db"))
        finally:
            ledger.close()
        with ReadModel(str(Path(tmp) / "views.db")) as rm:
            at = moment(None, _d(40), now=clock.now + timedelta(days=1))
            report = coaching_report(rm, at, 90).as_dict()
            judged = {r[0] for r in rm.conn.execute("SELECT id FROM temp.judged")}
            apart = {r[0] for r in rm.conn.execute("SELECT id FROM temp.complex")}
            verdicts = {i.facts.id: i.evaluation.verdict for i in rm.commitments(at)}
    assert BASE.isoformat() == _d(0) and len(made) == 3
    assert judged == {str(c) for c in made} and apart == {str(made[2])}
    assert verdicts == {
        str(made[0]): "blocked",  # 5.3 calls of 20: broken, and so is its support
        str(made[1]): "broken",  # manager-owned, never done
        str(made[2]): "succeeded",  # corrected to 9 of the revised 3 a week
    }
    assert report["team"]["follow_through_mix"]["blocked"] == 1
    assert report["team"]["manager_follow_through"]["broken"] == 1
