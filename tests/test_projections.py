"""The read model against the rules: both time axes, revisions, corrections,
windows, blocking, thresholds, activity, and the catch-up's bookkeeping.

Each test records through the Ledger API with a fixed clock (so ``--as-of``
instants are known), catches the read model up, and reads it back through
:mod:`projections.query`, on SQLite and PostgreSQL ledgers alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger import commands as cmd
from ledger.application import Ledger
from projections.catchup import catch_up, rebuild, status, table_dump
from projections.query import Item, Moment, ReadModel, moment

ACTOR = "tester"


class Clock:
    """A settable clock: every command records at ``now``."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, text: str) -> None:
        self.now = datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass
class World:
    """A ledger with a fixed clock and its read model."""

    ledger: Ledger
    clock: Clock
    views: str

    def read(self, as_of: str | None = None, on: str | None = None, **filters: Any) -> list[Item]:
        catch_up(self.ledger, self.views)
        with ReadModel(self.views) as rm:
            return rm.commitments(self.moment(as_of, on), **filters)

    def one(self, cid: Any, as_of: str | None = None, on: str | None = None) -> Item:
        catch_up(self.ledger, self.views)
        with ReadModel(self.views) as rm:
            return rm.item(str(cid), self.moment(as_of, on))

    def moment(self, as_of: str | None, on: str | None) -> Moment:
        return moment(as_of, on, now=self.clock.now)

    def agree(self, **values: Any) -> str:
        fields: dict[str, Any] = {
            "rep": "alice",
            "manager": "bob",
            "focus": "prospecting",
            "behavior": "outbound calls",
            "target": 10.0,
            "period": "week",
            "start": "2026-01-05",
            "due": "2026-02-01",
            "actor": ACTOR,
        }
        fields.update(values)
        return str(self.ledger.agree(cmd.Agree(**fields)))

    def check_in(self, cid: str, on: str, **values: Any) -> None:
        self.ledger.check_in(_uuid(cid), cmd.validate(cmd.CheckIn, date=on, actor=ACTOR, **values))

    def close(self, cid: str, on: str, **values: Any) -> None:
        self.ledger.close_commitment(
            _uuid(cid), cmd.validate(cmd.Close, date=on, actor=ACTOR, **values)
        )


def _uuid(cid: str) -> Any:
    from uuid import UUID

    return UUID(cid)


@pytest.fixture
def world(db: str, tmp_path: Path) -> Iterator[World]:
    clock = Clock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    ledger = Ledger.open(db, clock=clock)
    try:
        yield World(ledger, clock, str(tmp_path / "views.db"))
    finally:
        ledger.close()


# -- both time axes ------------------------------------------------------------


def test_as_of_before_a_back_filled_check_in_does_not_see_it(world: World) -> None:
    cid = world.agree(target=10.0, period="window")
    world.clock.at("2026-01-20T10:00:00")
    world.check_in(cid, "2026-01-19", actual=4.0)
    world.clock.at("2026-03-05T10:00:00")
    world.check_in(cid, "2026-01-26", actual=6.0)  # back-filled: recorded in March

    before = world.one(cid, as_of="2026-03-01", on="2026-02-01")
    after = world.one(cid, as_of="2026-03-06", on="2026-02-01")
    early_business_date = world.one(cid, as_of="2026-03-06", on="2026-01-25")

    assert before.evaluation.actual == 4
    assert after.evaluation.actual == 10
    assert early_business_date.evaluation.actual == 4


def test_agreement_recorded_after_as_of_does_not_exist_yet(world: World) -> None:
    world.clock.at("2026-01-10T12:00:00")
    world.agree()

    assert world.read(as_of="2026-01-09", on="2026-01-31") == []
    assert len(world.read(as_of="2026-01-10", on="2026-01-31")) == 1
    assert world.read(as_of="2026-01-10", on="2026-01-04") == []  # agreed on its start


def test_close_dated_after_on_leaves_the_commitment_open_or_overdue(world: World) -> None:
    cid = world.agree()
    world.check_in(cid, "2026-01-12", actual=40.0)
    world.close(cid, "2026-02-02", result="met")

    assert world.one(cid, on="2026-01-20").evaluation.verdict == "open"
    assert world.one(cid, on="2026-02-01").evaluation.verdict == "open"
    assert world.one(cid, on="2026-02-02").evaluation.verdict == "succeeded"


# -- amounts ------------------------------------------------------------------------


def test_revision_changes_the_expected_amount_from_its_recording_on(world: World) -> None:
    cid = world.agree(target=10.0, period="week", start="2026-01-05", due="2026-02-01")
    world.clock.at("2026-01-15T09:00:00")
    world.ledger.revise(
        _uuid(cid),
        cmd.validate(
            cmd.Revise, date="2026-01-15", reason="territory split", target=5.0, actor=ACTOR
        ),
    )

    assert world.one(cid, as_of="2026-01-14", on="2026-01-20").evaluation.expected == 40
    assert world.one(cid, as_of="2026-01-15", on="2026-01-20").evaluation.expected == 20
    # the revision's business date counts too: on the day before it, the old terms hold
    assert world.one(cid, as_of="2026-01-15", on="2026-01-14").evaluation.expected == 40


def test_revised_due_date_changes_the_window(world: World) -> None:
    cid = world.agree(target=1.0, period="day", start="2026-01-05", due="2026-01-11")
    world.ledger.revise(
        _uuid(cid),
        cmd.validate(
            cmd.Revise, date="2026-01-08", reason="more time", due="2026-01-18", actor=ACTOR
        ),
    )

    item = world.one(cid, on="2026-01-20")
    assert item.evaluation.window_days == 14
    assert item.evaluation.expected == 14
    assert item.facts.due == date(2026, 1, 18)


def test_correction_changes_the_ratio(world: World) -> None:
    cid = world.agree(target=40.0, period="window")
    world.check_in(cid, "2026-01-12", actual=10.0)
    world.clock.at("2026-01-13T09:00:00")
    world.ledger.correct(
        _uuid(cid), cmd.Correct(check_in=1, actual=30.0, reason="CRM sync", actor=ACTOR)
    )

    assert world.one(cid, as_of="2026-01-12", on="2026-01-31").evaluation.ratio == 0.25
    assert world.one(cid, as_of="2026-01-13", on="2026-01-31").evaluation.ratio == 0.75


def test_latest_of_several_corrections_wins(world: World) -> None:
    cid = world.agree(target=10.0, period="window")
    world.check_in(cid, "2026-01-12", actual=1.0)
    world.ledger.correct(_uuid(cid), cmd.Correct(check_in=1, actual=5.0, reason="one", actor=ACTOR))
    world.ledger.correct(_uuid(cid), cmd.Correct(check_in=1, actual=9.0, reason="two", actor=ACTOR))

    assert world.one(cid, on="2026-01-31").evaluation.actual == 9


def test_check_in_outside_the_window_does_not_count(world: World) -> None:
    cid = world.agree(target=10.0, period="window", start="2026-01-05", due="2026-01-18")
    world.check_in(cid, "2026-01-10", actual=6.0)
    world.check_in(cid, "2026-01-25", actual=100.0)  # overdue, after the window
    world.close(cid, "2026-01-26")

    item = world.one(cid, on="2026-01-31")
    assert item.evaluation.actual == 6
    assert item.evaluation.verdict == "partial"


def test_activity_decides_metric_commitments_within_window_and_time_axes(world: World) -> None:
    cid = world.agree(
        target=3.0,
        period="window",
        metric="calls",
        start="2026-01-05",
        due="2026-01-18",
        new_metric=True,  # its activity is recorded below
    )
    rows = [
        ("2026-01-04", 5.0),  # before the window
        ("2026-01-06", 1.0),
        ("2026-01-07", 1.0),
        ("2026-01-19", 5.0),  # after the window
    ]
    world.ledger.record_activities(
        {
            "rep": "alice",
            "metric": "calls",
            "date": d,
            "value": v,
            "source_id": f"r{i}",
            "actor": ACTOR,
        }
        for i, (d, v) in enumerate(rows)
    )
    world.clock.at("2026-02-01T09:00:00")
    world.ledger.record_activities(
        [
            {
                "rep": "alice",
                "metric": "calls",
                "date": "2026-01-08",
                "value": 1.0,
                "source_id": "late",
                "actor": ACTOR,
            }
        ]
    )
    world.close(cid, "2026-01-19")

    assert world.one(cid, as_of="2026-01-31", on="2026-01-31").evaluation.actual == 2
    item = world.one(cid, as_of="2026-02-02", on="2026-01-31")
    assert item.evaluation.actual == 3
    assert item.evaluation.verdict == "kept"


def test_hypothesis_metric_decides_the_result_when_the_close_gives_none(world: World) -> None:
    cid = world.agree(
        target=1.0,
        period="window",
        expect="deals follow",
        expect_metric="won_value",
        expect_at_least=1000.0,
        new_metric=True,  # its activity is recorded below
    )
    world.check_in(cid, "2026-01-10", actual=1.0)
    world.ledger.record_activities(
        [
            {
                "rep": "alice",
                "metric": "won_value",
                "date": "2026-01-20",
                "value": 600.0,
                "source_id": "w1",
                "actor": ACTOR,
            }
        ]
    )
    world.close(cid, "2026-02-01")
    assert world.one(cid, on="2026-02-01").evaluation.verdict == "honest_miss"

    world.ledger.record_activities(
        [
            {
                "rep": "alice",
                "metric": "won_value",
                "date": "2026-01-25",
                "value": 400.0,
                "source_id": "w2",
                "actor": ACTOR,
            }
        ]
    )
    assert world.one(cid, on="2026-02-01").evaluation.verdict == "succeeded"


# -- verdicts needing more than one commitment, and thresholds ------------------------


def test_broken_supporting_manager_commitment_blocks_the_rep(world: World) -> None:
    rep_c = world.agree(target=10.0, period="window")
    mgr_c = world.agree(
        owner="manager",
        behavior="two ride-alongs",
        target=2.0,
        period="window",
        supports=_uuid(rep_c),
    )
    world.check_in(rep_c, "2026-01-20", actual=2.0)
    world.close(rep_c, "2026-02-01")
    world.close(mgr_c, "2026-02-01")  # no ride-along happened: broken

    items = {i.facts.id: i for i in world.read(on="2026-02-02", rep="alice")}
    assert items[rep_c].evaluation.verdict == "blocked"
    assert items[rep_c].evaluation.blocked_by == (mgr_c,)
    assert items[rep_c].supported_by == (mgr_c,)
    assert items[mgr_c].evaluation.verdict == "broken"


def test_kept_support_does_not_block_a_broken_rep_commitment(world: World) -> None:
    rep_c = world.agree(target=10.0, period="window")
    mgr_c = world.agree(
        owner="manager", behavior="ride-along", done=True, target=None, supports=_uuid(rep_c)
    )
    world.check_in(mgr_c, "2026-01-10", done=True)
    world.close(rep_c, "2026-02-01")
    world.close(mgr_c, "2026-02-01")

    items = {i.facts.id: i for i in world.read(on="2026-02-02")}
    assert items[rep_c].evaluation.verdict == "broken"
    assert items[mgr_c].evaluation.verdict == "kept"


def test_thresholds_are_per_commitment(world: World) -> None:
    strict = world.agree(target=10.0, period="window")
    lenient = world.agree(target=10.0, period="window", kept_at=0.5, partial_at=0.2)
    for cid in (strict, lenient):
        world.check_in(cid, "2026-01-10", actual=6.0)
        world.close(cid, "2026-02-01")

    items = {i.facts.id: i for i in world.read(on="2026-02-02")}
    assert items[strict].evaluation.verdict == "partial"
    assert items[lenient].evaluation.verdict == "kept"


def test_filters_by_rep_and_manager(world: World) -> None:
    a = world.agree(rep="alice", manager="bob")
    c = world.agree(rep="carol", manager="dana")

    assert [i.facts.id for i in world.read(rep="alice")] == [a]
    assert [i.facts.id for i in world.read(manager="dana")] == [c]
    assert {i.facts.id for i in world.read()} == {a, c}


def test_history_counts_signal_and_focus_load(world: World) -> None:
    broken = world.agree(focus="prospecting", target=10.0, period="window")
    world.close(broken, "2026-02-01")
    world.agree(focus="discovery", start="2026-02-02", due="2026-03-01")
    catch_up(world.ledger, world.views)
    with ReadModel(world.views) as rm:
        h = rm.history("alice", world.moment(None, "2026-02-10"))

    obj = h.as_dict()
    assert obj["signal"] == "first_warning"
    assert obj["reasons"] == [{"id": broken, "verdict": "broken"}]
    assert obj["counts"]["broken"] == 1 and obj["counts"]["open"] == 1
    assert obj["focus_load"] == 1
    assert obj["follow_through_rate"] == 0


# -- catch-up bookkeeping ----------------------------------------------------------------


def test_catch_up_applies_only_new_events_and_tracks_the_position(world: World) -> None:
    world.agree()
    first = catch_up(world.ledger, world.views)
    again = catch_up(world.ledger, world.views)
    world.agree(rep="carol")
    more = catch_up(world.ledger, world.views)

    st = status(world.ledger, world.views)
    assert (first, again) == (4, 0)  # LedgerCreated + agreed + workload started + taken
    assert more == 3
    assert st.position == st.head and st.lag == 0
    assert st.tables["commitments"] == 2


def test_status_reports_the_lag_before_catching_up(world: World) -> None:
    world.agree()
    catch_up(world.ledger, world.views)
    world.agree(rep="carol")

    st = status(world.ledger, world.views)
    assert st.lag == 3


def test_views_built_from_another_ledger_are_refused_not_overwritten(
    world: World, tmp_path: Path
) -> None:
    """SPEC §7.2: a views file records its ledger's id; another ledger's is
    refused (exit 4), no longer silently rebuilt (which let two ledgers sharing
    a file serve each other's rows, finding 6 of issue 12)."""
    from ledger.errors import IntegrityFailure

    other = Ledger.open(str(tmp_path / "other.db"))
    try:
        other.record_session(
            cmd.validate(
                cmd.RecordSession, rep="zed", manager="yan", date="2026-01-01", actor=ACTOR
            )
        )
        other.record_session(
            cmd.validate(
                cmd.RecordSession, rep="zed", manager="yan", date="2026-01-02", actor=ACTOR
            )
        )
        catch_up(other, world.views)
    finally:
        other.close()
    before = table_dump(world.views)
    world.agree()
    with pytest.raises(IntegrityFailure, match="belongs to ledger"):
        catch_up(world.ledger, world.views)

    assert table_dump(world.views) == before
    assert len(before["sessions"]) == 2


def test_rebuild_gives_the_same_tables_as_catch_up(world: World, tmp_path: Path) -> None:
    cid = world.agree()
    world.check_in(cid, "2026-01-12", actual=3.0)
    catch_up(world.ledger, world.views, page_size=1)
    world.close(cid, "2026-02-01", result="met")
    catch_up(world.ledger, world.views, page_size=2)
    fresh = str(tmp_path / "fresh.db")
    rebuild(world.ledger, fresh)

    assert table_dump(world.views) == table_dump(fresh)


def test_a_damaged_views_file_is_rebuilt_by_the_next_read(world: World) -> None:
    from projections.catchup import ensure_current

    cid = world.agree()
    catch_up(world.ledger, world.views)
    for suffix in ("-wal", "-shm"):
        Path(world.views + suffix).unlink(missing_ok=True)
    # damage (a power loss): the SQLite header survives, the pages are garbage.
    # A file without the header is not a damaged read model but something else,
    # and is refused (tests/test_file_guards.py).
    header = Path(world.views).read_bytes()[:100]
    Path(world.views).write_bytes(header + b"this is not a SQLite page" * 400)

    ensure_current(world.ledger.db, world.views)

    with ReadModel(world.views) as rm:
        assert [i.facts.id for i in rm.commitments(world.moment(None, "2026-01-31"))] == [cid]


def test_reading_a_ledger_that_does_not_exist_exits_3(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from cli.main import cli

    missing = str(tmp_path / "nothing.db")
    result = CliRunner().invoke(cli, ["--db", missing, "history", "alice"])

    assert result.exit_code == 3
    assert "no ledger" in result.stderr
    assert not Path(missing).exists()
