"""Property tests of the read model (issue 3, "Must show" 2).

For random event histories written through the Ledger API (refusals simply
write nothing): a full rebuild and any sequence of incremental catch-ups, in
random page sizes and interleaved with the writes, give identical tables,
whether each page is applied inside SQLite (``projections.sqlpages``, SQLite
ledgers) or by the Python applier (PostgreSQL ledgers), in any mix;
catching up twice changes nothing; a catch-up killed midway (between pages,
or inside a page before its commit) and then resumed gives the same tables.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import projections.catchup as catchup
from ledger import commands as cmd
from ledger.application import Ledger
from ledger.errors import Conflict, LedgerError
from projections.catchup import catch_up, rebuild, table_dump
from tests.budget import examples

REPS = ("alice", "bob", "Moses Frase")
FOCUS = ("prospecting", "pipeline", "discovery")
STRENGTHS = ("rapport", 'naïve "quotes"', "a/b \\ c", "emoji 🚀")
BASE = date(2026, 1, 5)

day = st.integers(min_value=0, max_value=45)
amount = st.integers(min_value=0, max_value=30).map(float)
pick = st.integers(min_value=0, max_value=20)  # index into what exists, modulo its size

AGREE = st.tuples(
    st.just("agree"),
    pick,
    st.sampled_from(["rep", "rep", "manager"]),
    pick,
    st.sampled_from(["count", "done", "metric"]),
    amount,
    st.sampled_from(["day", "week", "month", "window"]),
    day,
    st.integers(min_value=1, max_value=40),
    pick,
)
CHECK_IN = st.tuples(st.just("check_in"), pick, day, amount)
# agreements and check-ins come up most often, so histories have something to judge
ops = st.one_of(
    AGREE,
    CHECK_IN,
    AGREE,
    CHECK_IN,
    st.tuples(st.just("session"), pick, day, st.booleans()),
    st.tuples(st.just("correct"), pick, st.integers(1, 4), amount),
    st.tuples(st.just("revise"), pick, day, amount),
    st.tuples(st.just("release"), pick, day),
    st.tuples(st.just("close"), pick, day, st.sampled_from([None, "met", "missed", "unknown"])),
    # the last element: stored as one chunk (an import) or as per-row events (issue 19)
    st.tuples(st.just("activity"), pick, day, amount, st.integers(0, 8), st.booleans()),
    # a reply moves the clock on (20 to 90 days) and answers as of that day, by the
    # rep or the manager, or by someone else (refused); contesting or not
    st.tuples(
        st.just("reply"),
        pick,
        st.integers(min_value=20, max_value=90),
        st.sampled_from(["rep", "manager", "outsider"]),
        st.booleans(),
        st.sampled_from(["fair", 'the CRM "lost" calls 🚀', "a\nb"]),
    ),
    st.tuples(st.just("tick"), st.integers(min_value=1, max_value=5000)),
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _d(offset: int) -> str:
    return (BASE + timedelta(days=offset)).isoformat()


def apply(ledger: Ledger, clock: Clock, op: tuple[Any, ...], made: list[UUID]) -> None:
    """Apply one random operation; a refusal writes nothing, which is fine here."""
    kind = op[0]
    clock.now += timedelta(seconds=1)
    try:
        if kind == "tick":
            clock.now += timedelta(minutes=op[1])
        elif kind == "session":
            ledger.record_session(
                cmd.validate(
                    cmd.RecordSession,
                    rep=REPS[op[1] % 3],
                    manager="mgr",
                    date=_d(op[2]),
                    prepared=op[3],
                    strengths=STRENGTHS[: op[1] % 4],
                    focus_areas=FOCUS[: op[2] % 3],
                    actor="t",
                )
            )
        elif kind == "agree":
            _, rep, owner, focus, measure, target, period, start, length, sup = op
            values: dict[str, Any] = {
                "rep": REPS[rep % 3],
                "manager": "mgr",
                "owner": owner,
                "focus": FOCUS[focus % 3],
                "behavior": "do it",
                "start": _d(start),
                "days": length,
                "override_focus_cap": "testing" if focus % 2 else None,
                "actor": "t",
            }
            if measure == "done":
                values["done"] = True
            else:
                values.update(target=target, period=period)
                if measure == "metric":  # its activity may come later in the history
                    values.update(metric="calls", new_metric=True)
            if owner == "manager" and made:
                values["supports"] = made[sup % len(made)]
            made.append(ledger.agree(cmd.Agree(**values)))
        elif made:
            cid = made[op[1] % len(made)]
            commitment = ledger.commitment(cid)
            done = commitment.measure == "done"
            # dates of commitment events are offsets from its start, so most are allowed
            start = (commitment.start - BASE).days
            if kind == "check_in":
                value = {"done": True} if done else {"actual": op[3]}
                ledger.check_in(
                    cid, cmd.validate(cmd.CheckIn, date=_d(start + op[2] - 3), actor="t", **value)
                )
            elif kind == "correct":
                value = {"done": op[3] > 10} if done else {"actual": op[3]}
                ledger.correct(cid, cmd.Correct(check_in=op[2], reason="fix", actor="t", **value))
            elif kind == "revise":
                value = {} if done else {"target": op[3]}
                ledger.revise(
                    cid,
                    cmd.validate(
                        cmd.Revise,
                        date=_d(start + op[2] - 3),
                        reason="r",
                        actor="t",
                        behavior="new",
                        **value,
                    ),
                )
            elif kind == "release":
                ledger.release(
                    cid,
                    cmd.validate(cmd.Release, date=_d(start + op[2] - 3), reason="r", actor="t"),
                )
            elif kind == "close":
                ledger.close_commitment(
                    cid,
                    cmd.validate(cmd.Close, date=_d(start + op[2] - 3), result=op[3], actor="t"),
                )
            elif kind == "reply":
                clock.now += timedelta(days=op[2])
                by = {"rep": commitment.rep, "manager": commitment.manager}.get(op[3], "zed")
                ledger.reply(cid, cmd.Reply(by=by, text=op[5], contest=op[4], actor="t"))
        if kind == "activity":
            rows = [
                {
                    "rep": REPS[op[1] % 3],
                    "metric": "calls",
                    "date": _d(op[2]),
                    "value": op[3] + 0.1,
                    "source_id": f"s{op[4]}",
                    "actor": "t",
                },
                {
                    "rep": REPS[op[1] % 3],
                    "metric": "calls",
                    "date": _d(op[2]),
                    "value": 0.2,
                    "source_id": f"s{op[4]}-b",
                    "actor": "t",
                },
            ]
            if len(op) < 6 or op[5]:  # one ActivityChunk.Recorded
                ledger.record_activities(rows)
            else:  # per-row Activity.Recorded, as a ledger from before issue 19 holds
                for row in rows:  # a row recorded before, in either shape: refused
                    with contextlib.suppress(Conflict):
                        ledger.record_activity(cmd.RecordActivity(**row))
    except LedgerError:
        pass


SETTINGS = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(history=st.lists(ops, min_size=10, max_size=40), data=st.data())
def test_rebuild_equals_any_sequence_of_incremental_catch_ups(
    history: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        ledger = Ledger.open(str(Path(tmp) / "ledger.db"), clock=clock)
        try:
            incremental = str(Path(tmp) / "incremental.db")
            made: list[UUID] = []
            for op in history:
                apply(ledger, clock, op, made)
                if data.draw(st.booleans(), label="catch up now"):
                    in_sqlite = data.draw(st.booleans(), label="pages applied in SQLite")
                    with mock.patch.object(catchup, "USE_SQL", in_sqlite):
                        catch_up(ledger, incremental, page_size=data.draw(st.integers(1, 7)))
            catch_up(ledger, incremental, page_size=data.draw(st.integers(1, 50)))
            full = str(Path(tmp) / "full.db")
            rebuild(ledger, full)
            in_python = str(Path(tmp) / "python.db")
            with mock.patch.object(catchup, "USE_SQL", False):
                rebuild(ledger, in_python)
            # a rebuild in small pages: the check-ins' numbers, counted as its pages
            # write them, carry over from page to page
            paged = str(Path(tmp) / "paged.db")
            rebuild(ledger, paged, page_size=data.draw(st.integers(1, 7), label="rebuild page"))
            assert table_dump(incremental) == table_dump(full)
            assert table_dump(in_python) == table_dump(full)
            assert table_dump(paged) == table_dump(full)
            assert indexes(paged) == indexes(full) == indexes(incremental)

            assert catch_up(ledger, incremental) == 0
            assert table_dump(incremental) == table_dump(full)
        finally:
            ledger.close()


def indexes(views: str) -> list[tuple[str, str]]:
    """The read model's indexes: (name, definition)."""
    conn = sqlite3.connect(views)
    try:
        return conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
        ).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("every", [1, 2, 3])
def test_a_rebuild_overtaken_between_its_pages_by_another_catch_up_equals_a_rebuild(
    every: int,
) -> None:
    """An in-SQLite rebuild counts the check-ins' numbers as its pages write
    them, and finds their commitments in a tree of its own; when another
    catch-up applies pages in between (as another process may), the
    rebuild's next page reads both again from the tables."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        ledger = Ledger.open(str(Path(tmp) / "ledger.db"), clock=clock)
        try:
            made: list[UUID] = []
            agree = ("agree", 0, "rep", 0, "count", 3.0, "week", 0, 28, 0)
            for i in range(12):  # commitments agreed between check-ins of earlier ones
                if i % 4 == 0:
                    apply(ledger, clock, agree, made)
                apply(ledger, clock, ("check_in", i * 7 % len(made), 3 + i, 1.0), made)
            views = str(Path(tmp) / "views.db")
            pages = 0

            def progress(n: int) -> None:  # runs after each committed page
                nonlocal pages
                pages += 1
                if pages % every == 0:
                    catch_up(ledger, views, page_size=2, max_pages=1)

            rebuild(ledger, views, page_size=3, progress=progress)
            full = str(Path(tmp) / "full.db")
            rebuild(ledger, full)
            assert len(table_dump(full)["check_ins"]) == 12
            assert table_dump(views) == table_dump(full)
            assert indexes(views) == indexes(full)
        finally:
            ledger.close()


class Crash(Exception):
    """A simulated kill of the catch-up process."""


@SETTINGS
@given(
    history=st.lists(ops, min_size=10, max_size=40),
    page_size=st.integers(1, 5),
    crash_after=st.integers(0, 6),
    inside_page=st.booleans(),
    in_sqlite=st.booleans(),
    rebuilding=st.booleans(),
)
def test_catch_up_killed_midway_then_resumed_equals_rebuild(
    history: list[tuple[Any, ...]],
    page_size: int,
    crash_after: int,
    inside_page: bool,
    in_sqlite: bool,
    rebuilding: bool,
) -> None:
    """A catch-up, or a rebuild (whose check-in index waits for the end), killed
    between pages or inside one, then resumed by a catch-up: the same tables and
    indexes as a rebuild."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = Clock()
        ledger = Ledger.open(str(Path(tmp) / "ledger.db"), clock=clock)
        try:
            made: list[UUID] = []
            for op in history:
                apply(ledger, clock, op, made)
            views = str(Path(tmp) / "views.db")
            pages = 0

            def progress(n: int) -> None:  # runs after each committed page
                nonlocal pages
                pages += 1
                if pages > crash_after:
                    raise Crash

            real_set_position = catchup._set_position

            def set_position(*args: Any) -> None:  # the page's rows are written by now
                nonlocal pages
                pages += 1
                if pages > crash_after:
                    raise Crash
                real_set_position(*args)

            run = rebuild if rebuilding else catch_up
            try:
                with mock.patch.object(catchup, "USE_SQL", in_sqlite):
                    if inside_page:
                        with mock.patch.object(catchup, "_set_position", set_position):
                            run(ledger, views, page_size=page_size)
                    else:
                        run(ledger, views, page_size=page_size, progress=progress)
            except Crash:
                pass
            catch_up(ledger, views, page_size=page_size + 1)
            full = str(Path(tmp) / "full.db")
            rebuild(ledger, full)
            assert table_dump(views) == table_dump(full)
            assert indexes(views) == indexes(full)
        finally:
            ledger.close()
