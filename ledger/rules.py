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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
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
FOCUS_CAP = 2
"""SPEC §3: a rep's open rep-owned commitments span at most this many focus areas."""


@dataclass(frozen=True)
class CheckIn:
    """A check-in as of (T, D), corrections applied."""

    number: int
    date: date
    actual: float | None = None
    done: bool | None = None


@dataclass(frozen=True)
class Correction:
    """A correction of check-in number ``check_in`` to a new actual or done."""

    check_in: int
    actual: float | None = None
    done: bool | None = None


@dataclass(frozen=True)
class Terms:
    """The terms a revision may change."""

    behavior: str
    target: float | None
    period: str | None
    due: date


@dataclass(frozen=True)
class Revision:
    """A renegotiation: each term it gives (not None; a behaviour not empty) replaces the old."""

    target: float | None = None
    period: str | None = None
    due: date | None = None
    behavior: str | None = None


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


# -- facts from events: revisions and corrections (SPEC §3) ---------------------


def revise(terms: Terms, revision: Revision) -> Terms:
    """The terms after one revision: a term it leaves out (None), or an empty
    behaviour, stays as it was."""
    return Terms(
        behavior=revision.behavior or terms.behavior,
        target=terms.target if revision.target is None else revision.target,
        period=terms.period if revision.period is None else revision.period,
        due=terms.due if revision.due is None else revision.due,
    )


def revised(terms: Terms, revisions: Iterable[Revision]) -> Terms:
    """The terms after the revisions, in ledger order."""
    for revision in revisions:
        terms = revise(terms, revision)
    return terms


def correct(check_in: CheckIn, correction: Correction) -> CheckIn:
    """A correction replaces both the actual and the done of its check-in."""
    return replace(check_in, actual=correction.actual, done=correction.done)


def apply_corrections(
    check_ins: Iterable[CheckIn], corrections: Iterable[Correction]
) -> tuple[CheckIn, ...]:
    """The check-ins with the corrections applied in ledger order (the latest
    wins); a correction of a check-in not among them changes nothing."""
    by_number = {c.number: c for c in check_ins}
    for correction in corrections:
        entry = by_number.get(correction.check_in)
        if entry is not None:
            by_number[correction.check_in] = correct(entry, correction)
    return tuple(by_number.values())


# -- amounts: what a verdict needs of check-ins and activity --------------------


@dataclass(frozen=True)
class Amounts:
    """The totals a verdict needs (SPEC §4), however the caller came by them:
    ``checked_in`` the check-ins' actuals dated within [start, due] and
    ``done`` whether any check-in says done (corrections applied to both);
    ``metric`` the rep's activity of the commitment's metric within [start,
    due] and ``hypothesis_metric`` that of the hypothesis' metric, each 0 when
    the verdict does not need it (:func:`needs_metric_total`,
    :func:`needs_hypothesis_total`)."""

    checked_in: float = 0.0
    done: bool = False
    metric: float = 0.0
    hypothesis_metric: float = 0.0


def check_in_totals(check_ins: Iterable[CheckIn], start: date, due: date) -> tuple[float, bool]:
    """(the actuals of the check-ins dated within [start, due], whether any says done)."""
    entries = tuple(check_ins)
    total = sum(
        c.actual for c in entries if c.actual is not None and counts_in_window(c.date, start, due)
    )
    return float(total), any(c.done for c in entries)


def needs_metric_total(facts: CommitmentFacts) -> bool:
    """A count measure read from an activity metric takes its actual from the metric."""
    return facts.measure != "done" and bool(facts.metric)


def needs_hypothesis_total(facts: CommitmentFacts) -> bool:
    """A closed commitment without a judged result (met or missed) whose hypothesis
    names a metric and a threshold takes its result from that metric."""
    return (
        facts.closed is not None
        and facts.closed.result not in (MET, MISSED)
        and bool(facts.expect_metric)
        and facts.expect_at_least is not None
    )


def amounts_of(facts: CommitmentFacts, metric_sum: MetricSum) -> Amounts:
    """The amounts from the facts' check-ins and ``metric_sum`` over [start, due],
    asking ``metric_sum`` only for the totals the verdict needs."""
    checked_in, done = check_in_totals(facts.check_ins, facts.start, facts.due)
    metric = hypothesis_metric = 0.0
    if needs_metric_total(facts):
        assert facts.metric is not None
        metric = float(metric_sum(facts.metric, facts.start, facts.due))
    if needs_hypothesis_total(facts):
        assert facts.expect_metric is not None
        hypothesis_metric = float(metric_sum(facts.expect_metric, facts.start, facts.due))
    return Amounts(checked_in, done, metric, hypothesis_metric)


def actual_amount(facts: CommitmentFacts, amounts: Amounts) -> float:
    """Metric activity in [start, due] if the commitment names a metric, else its check-ins'."""
    return amounts.metric if needs_metric_total(facts) else amounts.checked_in


def ratio_of(facts: CommitmentFacts, amounts: Amounts) -> tuple[float | None, float, float]:
    """(expected, actual, follow-through ratio)."""
    if facts.measure == "done":
        return None, 1.0 if amounts.done else 0.0, 1.0 if amounts.done else 0.0
    assert facts.target is not None and facts.period is not None
    expected = expected_amount(facts.target, facts.period, facts.start, facts.due)
    actual = actual_amount(facts, amounts)
    ratio = actual / expected if expected > 0 else 1.0
    return expected, actual, ratio


def follow_through(ratio: float, kept_at: float, partial_at: float) -> str:
    if ratio >= kept_at:
        return KEPT
    if ratio >= partial_at:
        return PARTIAL
    return BROKEN


def result_of(facts: CommitmentFacts, amounts: Amounts) -> str:
    """The close's result if it is ``met`` or ``missed``; else (no result, or
    ``unknown``: nobody judged it) the hypothesis' metric against its threshold."""
    if facts.closed is not None and facts.closed.result in (MET, MISSED):
        return facts.closed.result
    if needs_hypothesis_total(facts):
        assert facts.expect_at_least is not None
        return MET if amounts.hypothesis_metric >= facts.expect_at_least else MISSED
    return UNKNOWN


def status_at(
    today: date, due: date, closed_on: date | None = None, released_on: date | None = None
) -> str:
    """Released, closed, or (running) overdue once ``today`` is past due, else open."""
    if released_on is not None:
        return RELEASED
    if closed_on is not None:
        return CLOSED
    return OVERDUE if today > due else OPEN


def status_of(facts: CommitmentFacts, today: date) -> str:
    closed_on = facts.closed.date if facts.closed is not None else None
    return status_at(today, facts.due, closed_on, facts.released)


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
    """Status, amounts, follow-through, result and verdict of one commitment,
    its amounts from its check-ins and ``metric_sum``."""
    return judge(facts, today, amounts_of(facts, metric_sum))


def judge(facts: CommitmentFacts, today: date, amounts: Amounts) -> Evaluation:
    """Status, amounts, follow-through, result and verdict of one commitment
    whose :class:`Amounts` the caller has (its ``check_ins`` are not read)."""
    status = status_of(facts, today)
    expected, actual, ratio = ratio_of(facts, amounts)
    follow = result = None
    if status == CLOSED:
        follow = follow_through(ratio, facts.kept_at, facts.partial_at)
        result = result_of(facts, amounts)
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


def blocked_by(
    verdicts: Mapping[str, str], owners: Mapping[str, str], supports: Mapping[str, str | None]
) -> dict[str, tuple[str, ...]]:
    """Which of ``verdicts`` (commitment id -> verdict before blocking) are
    blocked, each with its failing supporters (sorted): a partial or broken rep
    commitment whose supporting manager commitment, also among ``verdicts``, is
    itself broken or partial. ``owners`` and ``supports`` hold each id's owner
    and supported commitment."""
    supporters: dict[str, list[str]] = {}
    for cid in verdicts:
        supported = supports.get(cid)
        if owners[cid] == "manager" and supported:
            supporters.setdefault(supported, []).append(cid)
    out: dict[str, tuple[str, ...]] = {}
    for cid, verdict in verdicts.items():
        if verdict not in (PARTIAL, BROKEN) or owners[cid] != "rep":
            continue
        failing = tuple(
            sorted(s for s in supporters.get(cid, ()) if verdicts[s] in (PARTIAL, BROKEN))
        )
        if failing:
            out[cid] = failing
    return out


def apply_blocking(
    evaluations: Mapping[str, Evaluation], facts: Mapping[str, CommitmentFacts]
) -> dict[str, Evaluation]:
    """A partial or broken rep commitment whose supporting manager commitment is
    itself broken or partial is ``blocked``; the manager's commitment keeps its verdict."""
    blocked = blocked_by(
        {cid: e.verdict for cid, e in evaluations.items()},
        {cid: facts[cid].owner for cid in evaluations},
        {cid: facts[cid].supports for cid in evaluations},
    )
    out = dict(evaluations)
    for cid, failing in blocked.items():
        out[cid] = replace(evaluations[cid], verdict=BLOCKED, blocked_by=failing)
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


def counts_towards_load(owner: str, status: str) -> bool:
    """An open or overdue rep-owned commitment counts towards its rep's focus load."""
    return owner == "rep" and status in (OPEN, OVERDUE)


def focus_load_of(commitments: Iterable[tuple[str, str, str]]) -> int:
    """Distinct focus areas among (owner, focus, status) that count towards the load."""
    return len(
        {focus for owner, focus, status in commitments if counts_towards_load(owner, status)}
    )


def focus_load(commitments: Iterable[tuple[CommitmentFacts, Evaluation]]) -> int:
    """Distinct focus areas of the rep's open or overdue rep-owned commitments."""
    return focus_load_of((f.owner, f.focus, e.status) for f, e in commitments)


def is_overloaded(load: int) -> bool:
    """More focus areas than the cap (reached by overriding it)."""
    return load > FOCUS_CAP


def exceeds_focus_cap(areas: Collection[str], focus: str) -> bool:
    """Whether one more rep-owned commitment in ``focus`` would take a rep whose
    open ones span ``areas`` past the cap (SPEC §3: refused without an override)."""
    return focus not in areas and len(areas) >= FOCUS_CAP


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


def states_hypothesis(hypothesis: str | None, expect_metric: str | None) -> bool:
    """A hypothesis is stated by a text that is not blank or by an outcome metric."""
    return bool((hypothesis or "").strip() or expect_metric)


def has_hypothesis(facts: CommitmentFacts) -> bool:
    return states_hypothesis(facts.hypothesis, facts.expect_metric)


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
