"""SPEC §4, rule by rule: one test per verdict-table row and per signal rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledger.rules import (
    CheckIn,
    Close,
    CommitmentFacts,
    apply_blocking,
    evaluate,
    expected_amount,
    focus_load,
    rep_signal,
    verdict_counts,
)

START = date(2026, 1, 5)
DUE = date(2026, 2, 1)  # 28 days: 4 weeks
TODAY = date(2026, 2, 10)


def no_activity(metric: str, first: date, last: date) -> float:
    return 0.0


def facts(
    cid: str = "c1",
    *,
    actuals: tuple[float, ...] = (),
    result: str | None = None,
    closed: bool = True,
    owner: str = "rep",
    **kw: object,
) -> CommitmentFacts:
    check_ins = tuple(
        CheckIn(number=i + 1, date=START + timedelta(days=7 * i + 6), actual=a)
        for i, a in enumerate(actuals)
    )
    base: dict[str, object] = dict(
        id=cid,
        rep="alice",
        manager="bob",
        owner=owner,
        focus="prospecting",
        behavior="calls",
        measure="count",
        target=10.0,
        period="week",
        start=START,
        due=DUE,
        check_ins=check_ins,
        closed=Close(date=date(2026, 2, 2), result=result) if closed else None,
    )
    base.update(kw)
    return CommitmentFacts(**base)  # type: ignore[arg-type]


def verdict(f: CommitmentFacts, today: date = TODAY) -> str:
    return evaluate(f, today, no_activity).verdict


def test_expected_amount_scales_target_by_window_over_period() -> None:
    assert expected_amount(10, "week", START, DUE) == pytest.approx(40)
    assert expected_amount(2, "day", START, DUE) == pytest.approx(56)
    assert expected_amount(30, "month", START, DUE) == pytest.approx(28)
    assert expected_amount(12, "window", START, DUE) == pytest.approx(12)


def test_open_commitment_before_due_is_open() -> None:
    assert verdict(facts(closed=False), today=date(2026, 1, 20)) == "open"


def test_unclosed_commitment_after_due_is_overdue() -> None:
    assert verdict(facts(closed=False), today=date(2026, 2, 2)) == "overdue"


def test_released_commitment_is_released_whatever_was_done() -> None:
    assert verdict(facts(closed=False, released=date(2026, 1, 20), actuals=(0,))) == "released"


def test_kept_and_met_is_succeeded() -> None:
    assert verdict(facts(actuals=(10, 10, 10, 10), result="met")) == "succeeded"


def test_kept_and_missed_is_honest_miss() -> None:
    assert verdict(facts(actuals=(10, 10, 10, 10), result="missed")) == "honest_miss"


def test_kept_with_unknown_result_is_kept() -> None:
    assert verdict(facts(actuals=(10, 10, 10, 6))) == "kept"  # 36/40 = 0.9


def test_partial_follow_through_is_partial_whatever_the_result() -> None:
    for result in ("met", "missed", None):
        assert verdict(facts(actuals=(10, 10), result=result)) == "partial"  # 0.5


def test_broken_follow_through_is_broken_even_when_result_met() -> None:
    assert verdict(facts(actuals=(10, 9), result="met")) == "broken"  # 19/40 < 0.5


def test_thresholds_are_per_commitment() -> None:
    f = facts(actuals=(10, 10, 10), kept_at=0.75, partial_at=0.7)
    assert evaluate(f, TODAY, no_activity).follow_through == "kept"  # 0.75
    g = facts(actuals=(10, 10, 10), kept_at=0.8, partial_at=0.76)
    assert evaluate(g, TODAY, no_activity).follow_through == "broken"


def test_check_in_outside_the_window_does_not_count() -> None:
    inside = CheckIn(1, DUE, 36.0)
    outside = CheckIn(2, DUE + timedelta(days=1), 40.0)
    before = CheckIn(3, START - timedelta(days=1), 40.0)
    f = facts(check_ins=(inside, outside, before))
    ev = evaluate(f, TODAY, no_activity)
    assert ev.actual == 36 and ev.verdict == "kept"


def test_later_terms_change_the_expected_amount() -> None:
    original = evaluate(facts(actuals=(8, 8, 8, 8)), TODAY, no_activity)
    revised = evaluate(facts(actuals=(8, 8, 8, 8), target=8.0), TODAY, no_activity)
    assert original.expected == 40 and original.ratio == pytest.approx(0.8)
    assert original.follow_through == "partial"
    assert revised.expected == 32 and revised.follow_through == "kept"


def test_done_measure_is_kept_when_any_check_in_says_done() -> None:
    done = facts(
        measure="done", target=None, period=None, check_ins=(CheckIn(1, START, done=True),)
    )
    assert evaluate(done, TODAY, no_activity).ratio == 1.0
    not_done = facts(
        measure="done", target=None, period=None, check_ins=(CheckIn(1, START, done=False),)
    )
    assert verdict(not_done) == "broken"


def test_metric_commitment_takes_its_actual_from_activity_in_the_window() -> None:
    seen: list[tuple[str, date, date]] = []

    def metric_sum(metric: str, first: date, last: date) -> float:
        seen.append((metric, first, last))
        return 38.0

    f = facts(metric="calls", actuals=(1,))
    ev = evaluate(f, TODAY, metric_sum)
    assert ev.actual == 38 and ev.follow_through == "kept"
    assert seen == [("calls", START, DUE)]


def test_hypothesis_metric_decides_the_result_when_close_gives_none() -> None:
    def won(total: float):
        return lambda metric, first, last: total if metric == "won_value" else 0.0

    f = facts(actuals=(10, 10, 10, 10), expect_metric="won_value", expect_at_least=20000.0)
    assert evaluate(f, TODAY, won(20000)).verdict == "succeeded"
    assert evaluate(f, TODAY, won(19999)).verdict == "honest_miss"
    explicit = facts(
        actuals=(10, 10, 10, 10), result="met", expect_metric="won_value", expect_at_least=20000.0
    )
    assert evaluate(explicit, TODAY, won(0)).verdict == "succeeded"


def test_explicit_unknown_result_falls_back_to_the_outcome_metric() -> None:
    """SPEC §4: `close --result unknown` means nobody judged it, exactly like no
    result: the hypothesis' metric decides."""

    def won(total: float):
        return lambda metric, first, last: total if metric == "won_value" else 0.0

    for result in (None, "unknown"):
        f = facts(
            actuals=(10, 10, 10, 10),
            result=result,
            expect_metric="won_value",
            expect_at_least=20000.0,
        )
        assert evaluate(f, TODAY, won(20000)).result == "met"
        assert evaluate(f, TODAY, won(20000)).verdict == "succeeded"
        assert evaluate(f, TODAY, won(19999)).verdict == "honest_miss"
    without_metric = facts(actuals=(10, 10, 10, 10), result="unknown")
    assert evaluate(without_metric, TODAY, won(20000)).verdict == "kept"


def test_broken_rep_commitment_with_broken_manager_support_is_blocked() -> None:
    rep = facts("r", actuals=(1,))
    mgr = facts("m", owner="manager", measure="done", target=None, period=None, supports="r")
    fs = {"r": rep, "m": mgr}
    evs = apply_blocking({k: evaluate(f, TODAY, no_activity) for k, f in fs.items()}, fs)
    assert evs["r"].verdict == "blocked" and evs["r"].blocked_by == ("m",)
    assert evs["m"].verdict == "broken"


def test_partial_rep_commitment_with_partial_manager_support_is_blocked() -> None:
    rep = facts("r", actuals=(10, 10))
    mgr = facts(
        "m",
        owner="manager",
        target=2.0,
        period="window",
        supports="r",
        check_ins=(CheckIn(1, START, 1.0),),
    )
    fs = {"r": rep, "m": mgr}
    evs = apply_blocking({k: evaluate(f, TODAY, no_activity) for k, f in fs.items()}, fs)
    assert evs["m"].verdict == "partial" and evs["r"].verdict == "blocked"


def test_support_delivered_leaves_broken_as_broken() -> None:
    rep = facts("r", actuals=(1,))
    mgr = facts(
        "m",
        owner="manager",
        measure="done",
        target=None,
        period=None,
        supports="r",
        check_ins=(CheckIn(1, START, done=True),),
    )
    fs = {"r": rep, "m": mgr}
    evs = apply_blocking({k: evaluate(f, TODAY, no_activity) for k, f in fs.items()}, fs)
    assert evs["r"].verdict == "broken"


def _closed(cid: str, v: str, days_ago: int = 5) -> tuple[CommitmentFacts, object]:
    actuals = {
        "succeeded": (40,),
        "honest_miss": (40,),
        "kept": (40,),
        "partial": (20,),
        "broken": (0,),
    }[v]
    result = {"succeeded": "met", "honest_miss": "missed"}.get(v)
    f = facts(cid, actuals=actuals, result=result)
    f = CommitmentFacts(**{**f.__dict__, "closed": Close(TODAY - timedelta(days=days_ago), result)})
    ev = evaluate(f, TODAY, no_activity)
    assert ev.verdict == v
    return f, ev


def signal(*items: tuple[CommitmentFacts, object]):
    return rep_signal(items, TODAY, 90)  # type: ignore[arg-type]


def test_two_broken_in_window_is_will_concern() -> None:
    s = signal(_closed("a", "broken"), _closed("b", "broken"), _closed("c", "succeeded"))
    assert s.signal == "will_concern"
    assert [(r.id, r.verdict) for r in s.reasons] == [("a", "broken"), ("b", "broken")]


def test_exactly_one_broken_is_first_warning() -> None:
    s = signal(_closed("a", "broken"), _closed("b", "kept"), _closed("c", "kept"))
    assert s.signal == "first_warning" and [r.id for r in s.reasons] == ["a"]
    assert s.follow_through_rate == pytest.approx(2 / 3)


def test_more_honest_misses_than_successes_is_skill_gap() -> None:
    s = signal(_closed("a", "honest_miss"), _closed("b", "honest_miss"), _closed("c", "succeeded"))
    assert s.signal == "skill_gap"
    assert {r.verdict for r in s.reasons} == {"honest_miss", "succeeded"}


def test_two_honest_misses_and_as_many_successes_is_on_track() -> None:
    s = signal(
        _closed("a", "honest_miss"),
        _closed("b", "honest_miss"),
        _closed("c", "succeeded"),
        _closed("d", "succeeded"),
    )
    assert s.signal == "on_track"


def test_a_partial_alone_is_on_track() -> None:
    assert signal(_closed("a", "partial")).signal == "on_track"


def test_nothing_closed_in_window_is_insufficient_data() -> None:
    old = _closed("a", "broken", days_ago=90)  # (today-90, today]: 90 days ago is outside
    s = signal(old)
    assert s.signal == "insufficient_data" and s.reasons == () and s.follow_through_rate is None


def test_blocked_counts_neither_for_nor_against_the_rep() -> None:
    f, ev = _closed("a", "broken")
    from dataclasses import replace

    s = signal((f, replace(ev, verdict="blocked")))  # type: ignore[type-var]
    assert s.signal == "insufficient_data" and s.follow_through_rate is None


def test_focus_load_counts_distinct_areas_of_open_rep_commitments() -> None:
    items = []
    for cid, focus, owner, closed in (
        ("a", "prospecting", "rep", False),
        ("b", "pipeline", "rep", False),
        ("c", "pipeline", "rep", False),
        ("d", "discovery", "manager", False),
        ("e", "closing", "rep", True),
    ):
        f = facts(cid, focus=focus, owner=owner, closed=closed)
        items.append((f, evaluate(f, date(2026, 1, 20), no_activity)))
    assert focus_load(items) == 2


def test_verdict_counts_list_every_verdict() -> None:
    counts = verdict_counts([evaluate(facts(actuals=(40,), result="met"), TODAY, no_activity)])
    assert counts["succeeded"] == 1 and set(counts) == {
        "open",
        "overdue",
        "released",
        "succeeded",
        "honest_miss",
        "kept",
        "partial",
        "broken",
        "blocked",
    }


def test_pace_compares_actual_so_far_with_expected_so_far() -> None:
    f = facts(closed=False, actuals=(10,))
    ev = evaluate(f, date(2026, 1, 18), no_activity)  # 14 days in: 20 expected so far
    assert ev.pace is not None
    assert ev.pace.expected_so_far == pytest.approx(20) and ev.pace.ratio == pytest.approx(0.5)
