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

A history is a list of commitments, each agreed (with either of two
managers, with or without a hypothesis: blank, text, or an outcome metric
with a threshold) and followed by its own check-ins, corrections and
revisions, ended (closed, with or without a result, or released) at once or
after the others, with any operation of the read model's property tests in
between (sessions, activity, replies, clock ticks). T is drawn among the
history's write times (or left to default to now), so it cuts into
commitments' check-ins, corrections, revisions, closes and replies; D is
drawn across the histories' business dates. Besides the report, each
commitment the fast path judged is compared with its judgement by
:meth:`ReadModel.commitments`, and every row the report's caches hold
(``report_verdicts``, ``report_commitments``) with what the latest knowledge
gives, after each report and after more history is caught up.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger import commands as cmd
from ledger import rules
from ledger.application import Ledger
from ledger.errors import LedgerError
from projections import catchup, counted
from projections.catchup import catch_up
from projections.coaching import coaching_report
from projections.query import ReadModel, moment
from projections.tables import BY_NAME
from tests.budget import examples
from tests.conftest import Cli
from tests.test_projection_properties import AGREE, FOCUS, REPS, Clock, _d, ops
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
# Each commitment comes with a script of its own events, written right after it
# is agreed (``-1`` picks the latest commitment made: ``-1 % n == n - 1``):
# check-ins, corrections, revisions; its end (a close with or without a
# result, a release, or none) comes right away or after every agreement, so
# that several run at once; any other operation may follow.
day = st.integers(0, 45)
amount = st.integers(0, 30).map(float)
within = st.integers(3, 25)  # an offset from the start (less 3), mostly before due
CHECK_INS = st.lists(st.tuples(st.just("check_in"), st.just(-1), within, amount), max_size=3)
AFTER = st.lists(  # what follows its check-ins
    st.one_of(
        st.tuples(st.just("correct"), st.just(-1), st.integers(1, 2), amount),
        st.tuples(st.just("revise"), st.just(-1), within, amount),
        st.tuples(
            st.just("activity"), st.integers(0, 2), day, amount, st.integers(0, 8), st.booleans()
        ),
    ),
    max_size=3,
)
END = st.one_of(
    st.tuples(st.just("close"), day, st.sampled_from([None, "met", "missed", "unknown"])),
    st.tuples(st.just("close"), day, st.none()),
    st.tuples(st.just("release"), day),
    st.none(),
)
SCRIPT = st.tuples(
    st.one_of(AGREE_MORE, AGREE),
    st.tuples(CHECK_INS, AFTER).map(lambda parts: parts[0] + parts[1]),
    END,
    st.booleans(),  # ends right away
    st.lists(more_ops.map(tuple), max_size=2),
)


def _arranged(scripts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    now: list[tuple[Any, ...]] = []
    later: list[tuple[Any, ...]] = []
    for nth, (agree, own, end, at_once, others) in enumerate(scripts):
        now += [agree, *own]
        if end is not None:
            (now if at_once else later).append((end[0], -1 if at_once else nth, *end[1:]))
        now += others
    return now + later


def histories(most: int) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    return st.lists(SCRIPT, min_size=1, max_size=most // 5).map(_arranged)


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
            made.append(ledger.agree(cmd.validate(cmd.Agree, **values)))
    elif op[0] == "session_more":
        clock.now += timedelta(seconds=1)
        with contextlib.suppress(LedgerError):
            ledger.record_session(
                cmd.validate(
                    cmd.RecordSession,
                    rep=REPS[op[1] % 3],
                    manager="gina",
                    date=_d(op[2]),
                    prepared=op[1] % 2,
                    actor="t",
                )
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


LATEST = (None, 110, 365, "manager")  # everything known, after most business dates


def _read(
    rm: ReadModel, clock: Clock, times: list[Any], cut: tuple[Any, ...], reached: set[str]
) -> None:
    """Assert the report at ``cut`` equals the reference, as a fresh process reads
    (a read transaction of its own, which the previous reports' cache writes
    are visible to); note what it met in ``reached``."""
    when, on, window, group_by = cut
    if rm.conn.in_transaction:
        rm.conn.execute("COMMIT")
    rm.pin()
    as_of = None if when is None else times[when % len(times)]
    at = moment(
        None if as_of is None else as_of.astimezone(UTC).isoformat(),
        _d(on),
        now=clock.now + timedelta(days=1),
    )
    fast = coaching_report(rm, at, window, group_by=group_by).as_dict()
    # the commitments it judged (its temporary tables are still there), each
    # exactly as judging every commitment judges it (before blocking, which the
    # report applies over these and those read from the cache)
    every = {i.facts.id: i.evaluation for i in rm.commitments(at)}
    judged = counted.evaluate(rm, at)
    cached = dict(rm.conn.execute("SELECT id, verdict FROM temp.cached").fetchall())
    for cid, e in judged.items():
        assert _before_blocking(every[cid], e.verdict) == e
    for cid, verdict in cached.items():
        assert _before_blocking(every[cid], verdict).verdict == verdict
    reference = coaching_report(rm, at, window, judge_all=True, group_by=group_by).as_dict()
    assert fast == reference, (at, window, group_by)
    apart = {r[0] for r in rm.conn.execute("SELECT id FROM temp.complex")}
    if len(judged) > len(apart):
        reached.add("judged from totals")
    if apart:
        reached.add("judged row by row")
    if any(e.verdict == rules.BLOCKED for e in every.values() if e.id in judged or e.id in cached):
        reached.add("blocked")
    if cached:
        reached.add("read from the cache")
    # a commitment with a cached verdict that (T, D) cuts into: judged again
    if rm.conn.execute(
        "SELECT 1 FROM temp.judged j JOIN report_verdicts r ON r.id = j.id"
    ).fetchone():
        reached.add("cache passed over")
    if cached and judged:
        reached.add("cached and judged in one report")
    fresh = rm.conn.execute("SELECT count(*) FROM temp.fresh").fetchone()[0]
    visible = rm.conn.execute(
        "SELECT count(*) FROM commitments WHERE recorded_at <= ? AND agreed_on <= ?", (at.t, at.d)
    ).fetchone()[0]
    if fresh < visible:
        reached.add("counted from the cached rows")
        if fresh:
            reached.add("cached and fresh rows in one report")


def _before_blocking(e: rules.Evaluation, verdict: str) -> rules.Evaluation:
    """``e`` as it was before blocking, if blocking made it blocked and ``verdict``
    (the verdict before blocking) says so."""
    if e.verdict == rules.BLOCKED and verdict in (rules.PARTIAL, rules.BROKEN):
        return replace(e, verdict=verdict, blocked_by=())
    return e


def _assert_cache_is_latest(rm: ReadModel, clock: Clock) -> None:
    """Every verdict the cache holds is the latest knowledge's (before blocking)."""
    if rm.conn.in_transaction:
        rm.conn.execute("COMMIT")
    at = moment(None, _d(3000), now=clock.now + timedelta(days=1))
    every = {i.facts.id: i.evaluation for i in rm.commitments(at)}
    for cid, verdict in rm.conn.execute("SELECT id, verdict FROM report_verdicts"):
        assert _before_blocking(every[cid], verdict).verdict == verdict, cid
    names = ", ".join(BY_NAME["report_commitments"].names)
    rows = rm.conn.execute(f"SELECT {names} FROM report_commitments").fetchall()
    assert counted.wrong_cached_rows(rm, rows) == 0
    blocked = rm.conn.execute(
        "SELECT id, verdict FROM report_commitments WHERE verdict IS NOT NULL"
    ).fetchall()
    for cid, verdict in blocked:  # after blocking: as judging every commitment gives
        assert every[cid].verdict == verdict, cid


def check(
    history: list[tuple[Any, ...]],
    cuts: list[tuple[Any, ...]],
    more: list[tuple[Any, ...]] = (),  # type: ignore[assignment]
    in_sqlite: tuple[bool, bool] = (True, True),
) -> set[str]:
    """Assert the report equals the reference at every cut, before and after
    ``more`` of the history is caught up (by the SQL pages or the Python
    applier: ``in_sqlite``), the cache filled by the reports before; return
    what the fast path met on the way (judged from totals, judged row by row,
    blocked, read from the cache...)."""
    reached: set[str] = set()
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
            with mock.patch.object(catchup, "USE_SQL", in_sqlite[0]):
                catch_up(ledger, views)
            with ReadModel(views) as rm:
                for cut in [LATEST, *cuts, *EVERYTHING]:
                    _read(rm, clock, times, cut, reached)
                _assert_cache_is_latest(rm, clock)
            if more:
                for op in more:
                    apply(ledger, clock, op, made)
                    times.append(clock.now)
                with mock.patch.object(catchup, "USE_SQL", in_sqlite[1]):
                    catch_up(ledger, views)
                with ReadModel(views) as rm:
                    _assert_cache_is_latest(rm, clock)
                    for cut in [*cuts, *EVERYTHING, *cuts, LATEST]:
                        _read(rm, clock, times, cut, reached)
                    _assert_cache_is_latest(rm, clock)
        finally:
            ledger.close()
    return reached


SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(SETTINGS, max_examples=examples(300))  # the fast run: 30
@given(
    history=histories(60),
    cuts=moments,
    more=st.lists(st.one_of(more_ops, SCRIPT.map(lambda s: _arranged([s]))), max_size=4),
    in_sqlite=st.tuples(st.booleans(), st.booleans()),
)
def test_report_coaching_equals_judging_every_commitment(
    history: list[tuple[Any, ...]],
    cuts: list[tuple[Any, ...]],
    more: list[Any],
    in_sqlite: tuple[bool, bool],
) -> None:
    """Also after more of the history arrives, by either writer, once reports
    have filled the cache: whatever it arrives by, a cached verdict it changes
    is forgotten (and every cached verdict stays the latest knowledge's)."""
    flat = [op for part in more for op in (part if isinstance(part, list) else [part])]
    for what in check(history, cuts, flat, in_sqlite):
        event(what)


def test_a_history_reaches_what_the_fast_path_treats_apart() -> None:
    """The operations above do build what the fast path reads differently: in
    one window, a commitment judged from SQL's totals (check-ins, activity and
    a hypothesis metric), one judged row by row (a correction and a revision),
    and a blocked rep commitment under a broken supporting one."""
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
    more = [("activity", 0, 4, 2.0, 7)]  # rep 0's calls in its first commitment's window
    reached = check(
        history, [(7, 40, 90, "manager"), (None, 20, 7, "team"), (12, 40, 90, "team")], more
    )
    assert reached == {
        "judged from totals",
        "judged row by row",
        "blocked",
        "read from the cache",
        "cache passed over",
        "cached and judged in one report",
        "counted from the cached rows",
        "cached and fresh rows in one report",
    }


@contextlib.contextmanager
def _caught_up(ops: list[tuple[Any, ...]]) -> Iterator[tuple[Ledger, Clock, str, str, list[UUID]]]:
    """A ledger in a temporary directory with ``ops`` applied and its read model
    caught up: (ledger, clock, ledger path, views path, the commitments made)."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        db, views = str(Path(tmp) / "ledger.db"), str(Path(tmp) / "views.db")
        ledger = Ledger.open(db, clock=clock)
        made: list[UUID] = []
        try:
            for op in ops:
                apply(ledger, clock, op, made)
            catch_up(ledger, views)
            yield ledger, clock, db, views, made
        finally:
            ledger.close()


def test_a_views_file_without_the_cache_gets_it_empty_on_the_next_read() -> None:
    """A read model written before issue 19 (no ``report_verdicts``, no triggers)
    is caught up before it is read, which creates both; the report then fills
    the cache, and activity recorded later in the commitment's window forgets
    the verdict it changes."""
    from projections.catchup import open_current
    from projections.tables import TRIGGERS

    ops = [
        ("agree_more", 0, "mgr", "rep", 0, "metric", 10.0, "week", 0, 14, None, 0.0, "rep"),
        ("activity", 0, 4, 5.0, 1),
        ("close", 0, 17, None),
    ]
    with _caught_up(ops) as (ledger, clock, db, views, made):
        with sqlite3.connect(views) as conn:  # as an older release left it
            conn.execute("DROP TABLE report_verdicts")
            conn.execute("DROP TABLE report_commitments")
        at = moment(None, _d(60), now=clock.now + timedelta(days=1))
        rm = open_current(db, views)
        try:
            names = {r[0] for r in rm.conn.execute("SELECT name FROM sqlite_master")}
            assert {"report_verdicts", "report_commitments"} <= names
            assert {t[0] for t in TRIGGERS} <= names
            coaching_report(rm, at)
        finally:
            rm.close()
        with sqlite3.connect(views) as conn:
            for cache in ("report_verdicts", "report_commitments"):
                assert conn.execute(f"SELECT id FROM {cache}").fetchall() == [(str(made[0]),)]
        apply(ledger, clock, ("activity", 0, 6, 1.0, 2), made)  # in its window
        catch_up(ledger, views)
        with sqlite3.connect(views) as conn:
            for cache in ("report_verdicts", "report_commitments"):
                assert conn.execute(f"SELECT id FROM {cache}").fetchall() == []


@pytest.mark.parametrize(
    ("cache", "edit"),
    [
        ("report_verdicts", "verdict = 'kept'"),
        ("report_commitments", "verdict = 'kept'"),
        ("report_commitments", "closed_on = NULL, ended_on = NULL"),
        ("report_commitments", "two_sided = 1"),
        ("report_commitments", "known_at = '2000-01-01'"),
    ],
)
def test_projections_verify_checks_each_cached_row_against_the_ledger(
    cache: str, edit: str
) -> None:
    """A cache the report filled verifies clean (a rebuild leaves it empty, so
    its rows are read and judged again, not compared); a cached row edited in
    the views file does not."""
    from projections.verify import verify

    ops = [
        ("agree_more", 0, "mgr", "rep", 0, "count", 10.0, "week", 0, 14, None, 0.0, "rep"),
        ("check_in", 0, 5, 4.0),
        ("close", 0, 17, None),
    ]
    with _caught_up(ops) as (ledger, clock, _db, views, _made):
        rm = ReadModel(views)
        try:
            rm.pin()
            coaching_report(rm, moment(None, _d(30), now=clock.now + timedelta(days=1)))
        finally:
            rm.close()
        clean = verify(ledger, views)
        with sqlite3.connect(views) as conn:
            assert conn.execute(f"SELECT count(*) FROM {cache}").fetchone() == (1,)
            conn.execute(f"UPDATE {cache} SET {edit}")
        edited = verify(ledger, views)
    assert clean.ok
    assert not edited.ok
    assert [t.name for t in edited.tables if not t.ok] == [cache]


def test_a_rename_forgets_the_cached_rows_it_changes(cli: Cli) -> None:
    """A manager renamed after the report cached their commitments: the next
    report shows the new name only, as judging every commitment does."""
    from tests.test_people import agree

    cid = agree(cli, "alice", "bob").stdout.strip()
    cli.ok(f"close {cid} --on 2026-01-30")
    args = ["report", "coaching", "--on", "2026-02-15", "--format", "json"]
    before = json.loads(cli.ok(args))
    with sqlite3.connect(cli.views) as conn:
        assert conn.execute("SELECT manager FROM report_commitments").fetchall() == [("bob",)]
    cli.ok("people rename bob --to Robert")
    after = json.loads(cli.ok(args))
    assert [m["manager"] for m in after["managers"]] == ["Robert"]
    assert after["managers"][0] == {**before["managers"][0], "manager": "Robert"}
