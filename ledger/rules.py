"""The rules of SPEC §4, from facts to verdicts, as plain functions.

Everything here is pure: the caller (the read model, or a report tool
replaying an export) gathers a commitment's facts *as of* a transaction time
and *on* a business date, and passes a ``metric_sum`` that totals the rep's
activity of one metric over a date range. Every command that reports a
verdict goes through :func:`evaluate`, :func:`apply_blocking` and
:func:`rep_signal`, so ``show``, ``list``, ``history`` and the reports agree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum

from .calendar import PERIOD_DAYS, period_days

MetricSum = Callable[[str, date, date], float]
"""``metric_sum(metric, first, last)``: the rep's activity total in [first, last]."""


class Status(StrEnum):
    """A commitment's status on a business date (SPEC §4)."""

    OPEN = "open"
    OVERDUE = "overdue"
    RELEASED = "released"
    CLOSED = "closed"


class Verdict(StrEnum):
    """Every verdict (SPEC §4), in SPEC §5 order. A ``StrEnum``: each member is
    its text, so stored and printed values are the words themselves."""

    OPEN = "open"
    OVERDUE = "overdue"
    RELEASED = "released"
    SUCCEEDED = "succeeded"
    HONEST_MISS = "honest_miss"
    KEPT = "kept"
    PARTIAL = "partial"
    BROKEN = "broken"
    BLOCKED = "blocked"


class SignalKind(StrEnum):
    """A rep's signal (SPEC §4), in SPEC §5 order."""

    WILL_CONCERN = "will_concern"
    FIRST_WARNING = "first_warning"
    SKILL_GAP = "skill_gap"
    ON_TRACK = "on_track"
    INSUFFICIENT_DATA = "insufficient_data"


class Role(StrEnum):
    """Who owns, or proposed, a commitment (``owner``, ``proposed_by``)."""

    REP = "rep"
    MANAGER = "manager"


OPEN, OVERDUE, RELEASED, CLOSED = Status
STATUSES = tuple(s.value for s in Status)  # plain text: what click offers as choices
# Follow-through (also verdicts)
KEPT, PARTIAL, BROKEN = Verdict.KEPT, Verdict.PARTIAL, Verdict.BROKEN
# Results
MET, MISSED, UNKNOWN = "met", "missed", "unknown"
# Verdicts (besides open, overdue, released, kept, partial, broken)
SUCCEEDED, HONEST_MISS, BLOCKED = Verdict.SUCCEEDED, Verdict.HONEST_MISS, Verdict.BLOCKED

VERDICTS = tuple(v.value for v in Verdict)  # plain text, as STATUSES
# Rep signals
WILL_CONCERN, FIRST_WARNING, SKILL_GAP, ON_TRACK, INSUFFICIENT_DATA = SignalKind
SIGNALS = tuple(s.value for s in SignalKind)
DEFAULT_WINDOW_DAYS = 90


@dataclass(frozen=True)
class CheckIn:
    """A check-in as of (T, D), corrections applied."""

    number: int
    date: date
    actual: float | None = None
    done: bool | None = None


@dataclass(frozen=True)
class Close:
    date: date
    result: str | None = None
    value: float | None = None


@dataclass(frozen=True)
class CommitmentFacts:
    """What the ledger knew of one commitment as of T, on D (latest terms applied)."""

    id: str
    rep: str
    manager: str
    owner: str
    focus: str
    behavior: str
    measure: str  # "count" or "done"
    start: date
    due: date
    target: float | None = None
    period: str | None = None
    unit: str | None = None
    metric: str | None = None
    baseline: float | None = None
    kept_at: float = 0.9
    partial_at: float = 0.5
    hypothesis: str | None = None
    expect_metric: str | None = None
    expect_at_least: float | None = None
    supports: str | None = None
    session_id: str | None = None
    focus_cap_override: str | None = None
    proposed_by: str = "manager"
    check_ins: tuple[CheckIn, ...] = ()
    closed: Close | None = None
    released: date | None = None


@dataclass(frozen=True)
class Pace:
    """Progress of an open commitment: actual so far against expected so far."""

    expected_so_far: float
    actual_so_far: float
    ratio: float | None


@dataclass(frozen=True)
class Evaluation:
    """The verdict of one commitment and every number behind it."""

    id: str
    status: str
    window_days: int
    expected: float | None
    actual: float
    ratio: float
    follow_through: str | None
    result: str | None
    verdict: str
    pace: Pace | None = None
    blocked_by: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Reason:
    id: str
    verdict: str


@dataclass(frozen=True)
class Signal:
    """A rep's signal over the trailing window, with the commitments that decided it."""

    signal: str
    reasons: tuple[Reason, ...]
    follow_through_rate: float | None
    closed_in_window: int


def window_days(start: date, due: date) -> int:
    return (due - start).days + 1


def expected_amount(target: float, period: str, start: date, due: date) -> float:
    """``target × window_days / period_days`` (SPEC §4)."""
    days = window_days(start, due)
    return target * days / period_days(period, days)


def counts_in_window(day: date, start: date, due: date) -> bool:
    """Whether a check-in or activity dated ``day`` counts: within [start, due]."""
    return start <= day <= due


def actual_amount(facts: CommitmentFacts, metric_sum: MetricSum) -> float:
    """Metric activity in [start, due] if the commitment names a metric, else its check-ins'."""
    if facts.metric:
        return float(metric_sum(facts.metric, facts.start, facts.due))
    return float(
        sum(
            c.actual
            for c in facts.check_ins
            if c.actual is not None and counts_in_window(c.date, facts.start, facts.due)
        )
    )


def ratio_of(facts: CommitmentFacts, metric_sum: MetricSum) -> tuple[float | None, float, float]:
    """(expected, actual, follow-through ratio)."""
    if facts.measure == "done":
        done = any(c.done for c in facts.check_ins)
        return None, 1.0 if done else 0.0, 1.0 if done else 0.0
    assert facts.target is not None and facts.period is not None
    expected = expected_amount(facts.target, facts.period, facts.start, facts.due)
    actual = actual_amount(facts, metric_sum)
    ratio = actual / expected if expected > 0 else 1.0
    return expected, actual, ratio


def follow_through(ratio: float, kept_at: float, partial_at: float) -> str:
    if ratio >= kept_at:
        return KEPT
    if ratio >= partial_at:
        return PARTIAL
    return BROKEN


def result_of(facts: CommitmentFacts, metric_sum: MetricSum) -> str:
    """The close's result if it is ``met`` or ``missed``; else (no result, or
    ``unknown``: nobody judged it) the hypothesis' metric against its threshold."""
    if facts.closed is not None and facts.closed.result in (MET, MISSED):
        return facts.closed.result
    if facts.expect_metric and facts.expect_at_least is not None:
        total = metric_sum(facts.expect_metric, facts.start, facts.due)
        return MET if total >= facts.expect_at_least else MISSED
    return UNKNOWN


def status_of(facts: CommitmentFacts, today: date) -> str:
    if facts.released is not None:
        return RELEASED
    if facts.closed is not None:
        return CLOSED
    return OVERDUE if today > facts.due else OPEN


def verdict_of(status: str, follow: str | None, result: str | None) -> str:
    """The verdict table of SPEC §4, before blocking is applied."""
    if status != CLOSED:
        return status
    if follow == KEPT:
        return {MET: SUCCEEDED, MISSED: HONEST_MISS}.get(result or UNKNOWN, KEPT)
    return follow or BROKEN


def pace_of(facts: CommitmentFacts, today: date, actual: float) -> Pace | None:
    """Expected so far (pro rata to today) against actual so far, for count measures."""
    if facts.measure != "count" or facts.target is None or facts.period is None:
        return None
    elapsed = max(0, min(window_days(facts.start, today), window_days(facts.start, facts.due)))
    days = window_days(facts.start, facts.due)
    expected = facts.target * elapsed / period_days(facts.period, days)
    return Pace(expected, actual, actual / expected if expected > 0 else None)


def evaluate(facts: CommitmentFacts, today: date, metric_sum: MetricSum) -> Evaluation:
    """Status, amounts, follow-through, result and verdict of one commitment."""
    status = status_of(facts, today)
    expected, actual, ratio = ratio_of(facts, metric_sum)
    follow = result = None
    if status == CLOSED:
        follow = follow_through(ratio, facts.kept_at, facts.partial_at)
        result = result_of(facts, metric_sum)
    pace = pace_of(facts, today, actual) if status in (OPEN, OVERDUE) else None
    return Evaluation(
        id=facts.id,
        status=status,
        window_days=window_days(facts.start, facts.due),
        expected=expected,
        actual=actual,
        ratio=ratio,
        follow_through=follow,
        result=result,
        verdict=verdict_of(status, follow, result),
        pace=pace,
    )


def apply_blocking(
    evaluations: Mapping[str, Evaluation], facts: Mapping[str, CommitmentFacts]
) -> dict[str, Evaluation]:
    """A partial or broken rep commitment whose supporting manager commitment is
    itself broken or partial is ``blocked``; the manager's commitment keeps its verdict."""
    supporters: dict[str, list[str]] = {}
    for f in facts.values():
        if f.owner == "manager" and f.supports and f.id in evaluations:
            supporters.setdefault(f.supports, []).append(f.id)
    out = dict(evaluations)
    for cid, ev in evaluations.items():
        if ev.verdict not in (PARTIAL, BROKEN) or facts[cid].owner != "rep":
            continue
        failing = tuple(
            sorted(
                s for s in supporters.get(cid, ()) if evaluations[s].verdict in (PARTIAL, BROKEN)
            )
        )
        if failing:
            out[cid] = replace(ev, verdict=BLOCKED, blocked_by=failing)
    return out


def in_window(close_date: date, today: date, days: int) -> bool:
    """Close date in (today − days, today]."""
    return today - timedelta(days=days) < close_date <= today


def rep_signal(
    commitments: Iterable[tuple[CommitmentFacts, Evaluation]],
    today: date,
    days: int = DEFAULT_WINDOW_DAYS,
) -> Signal:
    """SPEC §4 rep signal over rep-owned commitments closed in the trailing window."""
    closed = sorted(
        (
            (f.closed.date, f.id, e.verdict)
            for f, e in commitments
            if f.owner == "rep" and f.closed is not None and e.status == CLOSED
            if in_window(f.closed.date, today, days)
        ),
    )
    counts = Counter(v for _, _, v in closed)

    def reasons(*verdicts: str) -> tuple[Reason, ...]:
        return tuple(Reason(cid, v) for _, cid, v in closed if v in verdicts)

    good = counts[SUCCEEDED] + counts[KEPT] + counts[HONEST_MISS]
    denominator = good + counts[PARTIAL] + counts[BROKEN]
    rate = good / denominator if denominator else None
    if counts[BROKEN] >= 2:
        signal, why = WILL_CONCERN, reasons(BROKEN)
    elif counts[BROKEN] == 1:
        signal, why = FIRST_WARNING, reasons(BROKEN)
    elif counts[HONEST_MISS] >= 2 and counts[HONEST_MISS] > counts[SUCCEEDED]:
        signal, why = SKILL_GAP, reasons(HONEST_MISS, SUCCEEDED)
    elif good + counts[PARTIAL]:
        signal, why = ON_TRACK, reasons(SUCCEEDED, KEPT, HONEST_MISS, PARTIAL)
    else:
        signal, why = INSUFFICIENT_DATA, ()
    return Signal(signal, why, rate, len(closed))


def focus_load(commitments: Iterable[tuple[CommitmentFacts, Evaluation]]) -> int:
    """Distinct focus areas of the rep's open or overdue rep-owned commitments."""
    return len(
        {f.focus for f, e in commitments if f.owner == "rep" and e.status in (OPEN, OVERDUE)}
    )


def is_overloaded(load: int) -> bool:
    return load > 2


def verdict_counts(evaluations: Iterable[Evaluation]) -> dict[str, int]:
    """Counts of every verdict (zeros included), in SPEC §5 order."""
    counts = Counter(e.verdict for e in evaluations)
    return {v: counts.get(v, 0) for v in VERDICTS}


# -- the coaching cycle (SPEC §7.6) ---------------------------------------------

BEHIND_PACE_AT = 0.8
"""An open count commitment is behind pace when actual so far < 0.8 × expected so far."""
DUE_SOON_DAYS = 7
"""``prep``'s due_soon: open commitments due within 7 days after D."""
DUE_WITHIN_DAYS = 7
"""``due``'s default horizon."""

CONVERSATION: dict[str, str] = {
    SKILL_GAP: "practise the skill: training or ride-along, a smaller experiment",
    WILL_CONCERN: "expectations and obstacles: what got in the way",
    FIRST_WARNING: "expectations and obstacles: what got in the way",
    ON_TRACK: "stretch or a new focus",
    INSUFFICIENT_DATA: "agree one measurable commitment",
}
"""The conversation a session should have, by the rep's signal."""


def is_behind_pace(status: str, pace: Pace | None) -> bool:
    """Open count commitment whose actual so far < BEHIND_PACE_AT × expected so far."""
    return (
        status == OPEN
        and pace is not None
        and pace.actual_so_far < BEHIND_PACE_AT * pace.expected_so_far
    )


def check_ins_due(start: date, due: date, period: str | None) -> list[date]:
    """Check-in dates of a commitment: the end of each whole period from start
    (day, week, month of 30 days; a ``window`` or done measure has none) and due."""
    dates: list[date] = []
    if period in ("day", "week", "month"):
        step = period_days(period, window_days(start, due))
        end = start + timedelta(days=step - 1)
        while end < due:
            dates.append(end)
            end += timedelta(days=step)
    dates.append(due)
    return dates


def share_or_none(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class HypothesisScore:
    """How good one manager's hypotheses were (``report hypotheses``)."""

    made: int
    met: int
    missed: int
    unknown: int
    hit_rate: float | None
    honest_miss_share: float | None


def has_hypothesis(facts: CommitmentFacts) -> bool:
    return bool((facts.hypothesis or "").strip() or facts.expect_metric)


def score_hypotheses(
    commitments: Iterable[tuple[CommitmentFacts, Evaluation]], today: date, days: int
) -> HypothesisScore:
    """Rep-owned commitments with a hypothesis (text or metric) closed in the
    window (today − days, today]: hit_rate = met ÷ (met + missed),
    honest_miss_share = honest_miss ÷ (honest_miss + succeeded), None when 0/0."""
    results: Counter[str] = Counter()
    verdicts: Counter[str] = Counter()
    for f, e in commitments:
        if f.owner != "rep" or e.status != CLOSED or f.closed is None:
            continue
        if not has_hypothesis(f) or not in_window(f.closed.date, today, days):
            continue
        results[e.result or UNKNOWN] += 1
        verdicts[e.verdict] += 1
    met, missed = results[MET], results[MISSED]
    honest, succeeded = verdicts[HONEST_MISS], verdicts[SUCCEEDED]
    return HypothesisScore(
        made=sum(results.values()),
        met=met,
        missed=missed,
        unknown=results[UNKNOWN],
        hit_rate=share_or_none(met, met + missed),
        honest_miss_share=share_or_none(honest, honest + succeeded),
    )


# -- scenario modelling (``model``) -----------------------------------------------

MIN_ACTIVE_WEEKS = 8
"""Fewer weeks with activity than this in the history: ``insufficient_history``."""
BOOTSTRAP_RESAMPLES = 1000


def history_weeks(on: date, history_days: int) -> list[tuple[date, date]]:
    """The ``history_days`` days ending on D cut into 7-day weeks ending on D,
    oldest first; a last partial week at the start is dropped."""
    return [
        (on - timedelta(days=7 * k + 6), on - timedelta(days=7 * k))
        for k in reversed(range(history_days // 7))
    ]


@dataclass(frozen=True)
class Projection:
    activity: float
    expected: float | None
    p10: float | None
    p90: float | None


@dataclass(frozen=True)
class Scenario:
    weeks: int
    active_weeks: int
    rate: float | None
    planned: Projection
    current: Projection
    insufficient_history: bool


def _rate(outcome: float, activity: float) -> float:
    return outcome / activity if activity else 0.0


def bootstrap_rates(
    weeks: Sequence[tuple[float, float]], seed: int, resamples: int = BOOTSTRAP_RESAMPLES
) -> list[float]:
    """``resamples`` rates Σ outcome ÷ Σ activity, each over ``len(weeks)`` weeks
    drawn with replacement by ``random.Random(seed).choices`` (a resample
    without activity has rate 0). ``weeks`` are (activity, outcome) pairs."""
    import random

    rng = random.Random(seed)
    out = []
    for _ in range(resamples):
        drawn = rng.choices(weeks, k=len(weeks))
        out.append(_rate(sum(o for _, o in drawn), sum(a for a, _ in drawn)))
    return out


def percentiles_10_90(values: Sequence[float]) -> tuple[float, float]:
    """The 10th and 90th percentiles (``statistics.quantiles(n=10, method="inclusive")``)."""
    from statistics import quantiles

    cuts = quantiles(values, n=10, method="inclusive")
    return cuts[0], cuts[-1]


def scenario(
    weeks: Sequence[tuple[float, float]],
    target: float,
    per: str,
    days: int,
    seed: int = 0,
) -> Scenario:
    """SPEC §7.6 ``model`` from the rep's weekly (activity, outcome) history:
    rate = Σ outcome ÷ Σ activity; planned activity = target × days ÷ period_days;
    expected = rate × activity; p10/p90 from the bootstrap rates × activity;
    ``current`` the same for the mean weekly activity scaled to the days."""
    activity = sum(a for a, _ in weeks)
    outcome = sum(o for _, o in weeks)
    active = sum(1 for a, _ in weeks if a > 0)
    planned_activity = target * days / PERIOD_DAYS[per]
    current_activity = activity / len(weeks) * days / 7 if weeks else 0.0
    rate = outcome / activity if activity else None
    if active < MIN_ACTIVE_WEEKS or rate is None:
        return Scenario(
            weeks=len(weeks),
            active_weeks=active,
            rate=rate,
            planned=Projection(planned_activity, None, None, None),
            current=Projection(current_activity, None, None, None),
            insufficient_history=True,
        )
    low, high = percentiles_10_90(bootstrap_rates(weeks, seed))

    def project(amount: float) -> Projection:
        return Projection(amount, rate * amount, low * amount, high * amount)

    return Scenario(
        weeks=len(weeks),
        active_weeks=active,
        rate=rate,
        planned=project(planned_activity),
        current=project(current_activity),
        insufficient_history=False,
    )
