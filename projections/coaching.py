"""Coaching patterns per manager (SPEC §4), served from the read model.

Every measure is computed over the trailing window (D − window_days, D] from
the read-model tables, with the verdicts of :mod:`projections.query` (so the
report agrees with ``show``, ``list`` and ``history``); nothing replays the
event store. What puts a thing "in the window":

* a **session**: its date;
* an **agreement**: its business date (``--on``, default the start);
* a **loop** (loop closure): its due date, latest terms;
* a **verdict** (follow-through mix, the manager's own follow-through, the
  safe-failure index): the date it was closed or released; open and overdue
  commitments count as they stand on D.

A commitment belongs to the manager named on it. Shares are ``null`` when
their denominator is 0. The team total pools the same numbers over every
manager (shares recomputed from the pooled counts, not averaged).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ledger import rules
from ledger.errors import NotFound

from .query import Item, Moment, ReadModel, number

LOOP_GRACE_DAYS = 7
"""A loop is closed in time when the commitment is closed or released by due + 7 days."""

MIX = (
    rules.SUCCEEDED,
    rules.HONEST_MISS,
    rules.KEPT,
    rules.PARTIAL,
    rules.BROKEN,
    rules.BLOCKED,
    rules.RELEASED,
    rules.OVERDUE,
)
"""Verdicts shown in a follow-through mix (open commitments are not judged yet)."""


def share(part: int, whole: int) -> float | None:
    """``part / whole`` rounded to 2 places, ``None`` when ``whole`` is 0."""
    return number(part / whole) if whole else None


@dataclass(frozen=True)
class Window:
    """The trailing window (D − days, D]."""

    on: date
    days: int

    @property
    def first(self) -> date:
        return self.on - timedelta(days=self.days - 1)

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.on

    def months(self) -> list[str]:
        """Calendar months (``YYYY-MM``) the window touches, oldest first."""
        out, y, m = [], self.first.year, self.first.month
        while (y, m) <= (self.on.year, self.on.month):
            out.append(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out


@dataclass
class _Tally:
    """The raw counts behind one manager's measures (or the team's)."""

    reps_coached: set[str] = field(default_factory=set)
    sessions: int = 0
    prepared: int = 0
    rep_agreed: int = 0
    manager_agreed: int = 0
    with_hypothesis: int = 0
    two_sided: int = 0
    loops_due: int = 0
    loops_closed: int = 0
    loops_pending: int = 0
    overdue: int = 0
    manager_verdicts: Counter[str] = field(default_factory=Counter)
    rep_verdicts: Counter[str] = field(default_factory=Counter)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    overloaded: set[str] = field(default_factory=set)
    month_sessions: Counter[str] = field(default_factory=Counter)
    month_due: Counter[str] = field(default_factory=Counter)
    month_closed: Counter[str] = field(default_factory=Counter)
    month_pending: Counter[str] = field(default_factory=Counter)

    def add(self, other: _Tally) -> None:
        for name, value in vars(other).items():
            mine = getattr(self, name)
            if isinstance(mine, set):
                mine |= value
            elif isinstance(mine, Counter):
                mine.update(value)
            elif isinstance(mine, list):
                mine.extend(value)
            else:
                setattr(self, name, mine + value)


@dataclass(frozen=True)
class Patterns:
    """The coaching measures of one manager (``manager`` None: the team total)."""

    manager: str | None
    window: Window
    tally: _Tally

    def as_dict(self) -> dict[str, Any]:
        """The measures under their JSON names (SPEC §5 ``report coaching``)."""
        t, w = self.tally, self.window
        reps = len(t.reps_coached)
        agreed = t.rep_agreed + t.manager_agreed
        decided = t.loops_due - t.loops_pending
        honest, broken = t.rep_verdicts[rules.HONEST_MISS], t.rep_verdicts[rules.BROKEN]
        mft = t.manager_verdicts
        good = mft[rules.SUCCEEDED] + mft[rules.KEPT] + mft[rules.HONEST_MISS]
        judged = good + mft[rules.PARTIAL] + mft[rules.BROKEN]
        per_rep = t.sessions / reps * 30 / w.days if reps else None
        out: dict[str, Any] = {} if self.manager is None else {"manager": self.manager}
        out.update(
            {
                "reps_coached": reps,
                "sessions_held": t.sessions,
                "sessions_per_rep_per_30_days": number(per_rep),
                "prepared_share": share(t.prepared, t.sessions),
                "commitments_agreed": agreed,
                "rep_commitments_agreed": t.rep_agreed,
                "manager_commitments_agreed": t.manager_agreed,
                "hypothesis_share": share(t.with_hypothesis, t.rep_agreed),
                "two_sided_share": share(t.two_sided, t.rep_agreed),
                "loops_due": t.loops_due,
                "loops_closed_in_time": t.loops_closed,
                "loops_pending": t.loops_pending,
                "loop_closure": share(t.loops_closed, decided),
                "overdue_count": t.overdue,
                "manager_follow_through": _counts(mft),
                "manager_follow_through_rate": share(good, judged),
                "follow_through_mix": {v: t.rep_verdicts[v] for v in MIX},
                "safe_failure_index": share(honest, honest + broken),
                "focus_cap_overrides": len(t.overrides),
                "overrides": sorted(t.overrides, key=lambda o: (o["agreed_on"], o["id"])),
                "overloaded_reps": sorted(t.overloaded),
                "months": [self._month(m) for m in w.months()],
            }
        )
        return out

    def _month(self, month: str) -> dict[str, Any]:
        t = self.tally
        decided = t.month_due[month] - t.month_pending[month]
        return {
            "month": month,
            "sessions_held": t.month_sessions[month],
            "loops_due": t.month_due[month],
            "loops_closed_in_time": t.month_closed[month],
            "loop_closure": share(t.month_closed[month], decided),
        }


def _counts(counter: Counter[str]) -> dict[str, int]:
    return {v: counter.get(v, 0) for v in rules.VERDICTS}


@dataclass(frozen=True)
class CoachingReport:
    """Coaching patterns of every manager (or one) and the team total."""

    at: Moment
    window: Window
    managers: tuple[Patterns, ...]
    team: Patterns

    def as_dict(self) -> dict[str, Any]:
        """``{"as_of", "on", "window_days", "managers": [...], "team": {...}}``."""
        return {
            "as_of": self.at.as_of_text,
            "on": self.at.d,
            "window_days": self.window.days,
            "managers": [m.as_dict() for m in self.managers],
            "team": self.team.as_dict(),
        }


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _ended_on(item: Item) -> date | None:
    f = item.facts
    if f.closed is not None:
        return f.closed.date
    return f.released


def _has_hypothesis(item: Item) -> bool:
    f = item.facts
    return bool((f.hypothesis or "").strip() or f.expect_metric)


def _tally_commitments(
    items: Sequence[Item], window: Window, agreed_on: dict[str, date], tallies: dict[str, _Tally]
) -> None:
    supported = {i.facts.supports for i in items if i.facts.owner == "manager"}
    on = window.on
    for item in items:
        f, e = item.facts, item.evaluation
        t = tallies.setdefault(f.manager, _Tally())
        if agreed_on[f.id] in window:
            if f.owner == "rep":
                t.rep_agreed += 1
                t.with_hypothesis += _has_hypothesis(item)
                t.two_sided += f.id in supported
            else:
                t.manager_agreed += 1
            if f.focus_cap_override:
                t.overrides.append(
                    {
                        "id": f.id,
                        "rep": f.rep,
                        "focus": f.focus,
                        "reason": f.focus_cap_override,
                        "agreed_on": agreed_on[f.id].isoformat(),
                    }
                )
        ended = _ended_on(item)
        if f.due in window:
            month = f.due.isoformat()[:7]
            t.loops_due += 1
            t.month_due[month] += 1
            if ended is not None and ended <= f.due + timedelta(days=LOOP_GRACE_DAYS):
                t.loops_closed += 1
                t.month_closed[month] += 1
            elif ended is None and on <= f.due + timedelta(days=LOOP_GRACE_DAYS):
                t.loops_pending += 1
                t.month_pending[month] += 1
        if e.status == rules.OVERDUE:
            t.overdue += 1
        counted = e.status in (rules.OPEN, rules.OVERDUE) or (ended is not None and ended in window)
        if counted:
            if f.owner == "manager":
                t.manager_verdicts[e.verdict] += 1
            else:
                t.rep_verdicts[e.verdict] += 1


def _tally_overload(items: Sequence[Item], tallies: dict[str, _Tally]) -> None:
    """Reps whose open rep-owned commitments span more than 2 focus areas, under
    every manager named on one of those commitments."""
    by_rep: dict[str, list[Item]] = {}
    for item in items:
        by_rep.setdefault(item.facts.rep, []).append(item)
    for rep, own in by_rep.items():
        pairs = [(i.facts, i.evaluation) for i in own]
        if rules.is_overloaded(rules.focus_load(pairs)):
            for f, e in pairs:
                if f.owner == "rep" and e.status in (rules.OPEN, rules.OVERDUE):
                    tallies.setdefault(f.manager, _Tally()).overloaded.add(rep)


def _tally_sessions(rm: ReadModel, at: Moment, window: Window, tallies: dict[str, _Tally]) -> None:
    for manager, rep, day, prepared in rm.conn.execute(
        "SELECT manager, rep, date, prepared FROM sessions "
        "WHERE recorded_at <= ? AND date >= ? AND date <= ?",
        (at.t, window.first.isoformat(), window.on.isoformat()),
    ):
        t = tallies.setdefault(manager, _Tally())
        t.sessions += 1
        t.prepared += bool(prepared)
        t.reps_coached.add(rep)
        t.month_sessions[day[:7]] += 1


def _known_managers(rm: ReadModel, at: Moment) -> set[str]:
    rows = rm.conn.execute(
        "SELECT manager FROM sessions WHERE recorded_at <= ? AND date <= ? "
        "UNION SELECT manager FROM commitments WHERE recorded_at <= ? AND agreed_on <= ?",
        (at.t, at.d, at.t, at.d),
    )
    return {r[0] for r in rows}


def coaching_report(
    rm: ReadModel,
    at: Moment,
    window_days: int = rules.DEFAULT_WINDOW_DAYS,
    manager: str | None = None,
    items: Iterable[Item] | None = None,
) -> CoachingReport:
    """Every manager's coaching patterns as of T, on D, over (D − window_days, D].

    Managers are those with a session or a commitment visible at (T, D), even
    with nothing in the window (their counts are 0 and their shares null).
    ``manager`` keeps one of them (``NotFound`` if unknown); the team total
    always covers everyone. ``items`` may pass commitments already judged.
    """
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    window = Window(at.on, window_days)
    known = _known_managers(rm, at)
    if manager is not None and manager not in known:
        raise NotFound(f"no sessions or commitments with manager {manager!r} as of {at.as_of_text}")
    judged = list(items) if items is not None else rm.commitments(at)
    agreed_on = {i.facts.id: _day(i.agreed_on) for i in judged}
    tallies: dict[str, _Tally] = {m: _Tally() for m in known}
    _tally_sessions(rm, at, window, tallies)
    _tally_commitments(judged, window, agreed_on, tallies)
    _tally_overload(judged, tallies)
    team = _Tally()
    for t in tallies.values():
        team.add(t)
    chosen = [manager] if manager is not None else sorted(tallies)
    return CoachingReport(
        at=at,
        window=window,
        managers=tuple(Patterns(m, window, tallies[m]) for m in chosen),
        team=Patterns(None, window, team),
    )
