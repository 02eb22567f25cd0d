"""Coaching patterns per manager (SPEC §4), served from the read model.

Every measure is computed over the trailing window (D − window_days, D] from
the read-model tables; nothing replays the event store. Counts come from SQL
over the tables; the verdicts they need are decided by :mod:`ledger.rules`
(as in ``show``, ``list`` and ``history``), and ``judge_all=True`` computes the
same report by judging every commitment through :mod:`projections.query`: the
reference a test compares the fast path with. What puts a thing "in the
window":

* a **session**: its date;
* an **agreement**: its business date (``--on``, default the start);
* a **loop** (loop closure): its due date, latest terms;
* a **verdict** (follow-through mix, the manager's own follow-through, the
  safe-failure index, the contested share): the date it was closed or
  released; open and overdue commitments count as they stand on D.

``contested_share`` (SPEC §7.4): of the rep-owned commitments closed in the
window (each has a verdict), the share carrying a reply visible at (T, D)
that contests it.

A commitment belongs to the manager named on it. Shares are ``null`` when
their denominator is 0. The team total pools the same numbers over every
manager (shares recomputed from the pooled counts, not averaged).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from ledger import rules
from ledger.errors import NotFound

from .query import Item, MetricSums, Moment, ReadModel, commitment_facts, number
from .tables import BY_NAME

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

    @cached_property
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
    rep_proposed: int = 0
    two_sided: int = 0
    loops_due: int = 0
    loops_closed: int = 0
    loops_pending: int = 0
    overdue: int = 0
    manager_verdicts: Counter[str] = field(default_factory=Counter)
    rep_verdicts: Counter[str] = field(default_factory=Counter)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    overloaded: set[str] = field(default_factory=set)
    rep_judged: int = 0
    contested: int = 0
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
    """The coaching measures of one manager (``manager`` None: the team total),
    or of one team or region (``label``: ``group``)."""

    manager: str | None
    window: Window
    tally: _Tally
    label: str = "manager"

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
        out: dict[str, Any] = {}
        if self.label == "group":
            out["group"] = self.manager
        elif self.manager is not None:
            out["manager"] = self.manager
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
                "rep_proposed_share": share(t.rep_proposed, t.rep_agreed),
                "loops_due": t.loops_due,
                "loops_closed_in_time": t.loops_closed,
                "loops_pending": t.loops_pending,
                "loop_closure": share(t.loops_closed, decided),
                "overdue_count": t.overdue,
                "manager_follow_through": _counts(mft),
                "manager_follow_through_rate": share(good, judged),
                "follow_through_mix": {v: t.rep_verdicts[v] for v in MIX},
                "safe_failure_index": share(honest, honest + broken),
                "contested_share": share(t.contested, t.rep_judged),
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
    group_by: str = "manager"

    def as_dict(self) -> dict[str, Any]:
        """``{"as_of", "on", "window_days", "managers": [...], "team": {...}}``;
        grouped by team or region, ``"group_by"`` and ``"groups"`` instead of
        ``"managers"`` (SPEC §7.4)."""
        out: dict[str, Any] = {
            "as_of": self.at.as_of_text,
            "on": self.at.d,
            "window_days": self.window.days,
        }
        if self.group_by == "manager":
            out["managers"] = [m.as_dict() for m in self.managers]
        else:
            out["group_by"] = self.group_by
            out["groups"] = [m.as_dict() for m in self.managers]
        out["team"] = self.team.as_dict()
        return out


def _none_last(name: str | None) -> tuple[bool, str]:
    return (name is None, name or "")


@contextmanager
def _grouped(rm: ReadModel, by: str) -> Iterator[None]:
    """Inside: the ``sessions``, ``commitments`` and ``supports`` tables as this
    connection sees them (temporary views of the same names, which SQLite
    looks up before the tables) carry the rep's team or region (``by``) in
    their ``manager`` column, so the report's every count groups by it."""
    from .people import group_of
    from .tables import BY_NAME

    if by not in ("team", "region"):
        raise ValueError(by)
    conn = rm.conn
    groups = group_of(conn, by)
    conn.execute("PRAGMA temp_store = MEMORY")  # as the report sets it, before temp is used
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS grp (rep TEXT PRIMARY KEY, g TEXT)")
    conn.execute("DELETE FROM temp.grp")
    conn.executemany("INSERT INTO temp.grp VALUES (?, ?)", groups.items())
    fallback = "t.manager" if by == "team" else "NULL"
    group = (
        f"(CASE WHEN t.rep IN (SELECT rep FROM temp.grp) "
        f"THEN (SELECT g FROM temp.grp WHERE grp.rep = t.rep) ELSE {fallback} END)"
    )
    views = ("sessions", "commitments", "supports")
    try:
        for name in views:
            cols = ", ".join(
                f"{group} AS manager" if c == "manager" else f"t.[{c}]" for c in BY_NAME[name].names
            )
            conn.execute(f"CREATE TEMP VIEW [{name}] AS SELECT {cols} FROM main.[{name}] t")
        yield
    finally:
        for name in views:
            conn.execute(f"DROP VIEW IF EXISTS temp.[{name}]")


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _day_or_none(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class _Counted:
    """One commitment as the report counts it at (T, D): whom and when it is
    about, its status and (where the report needs it) its verdict."""

    id: str
    rep: str
    manager: str
    owner: str
    focus: str
    agreed_on: date
    due: date
    closed_on: date | None
    released_on: date | None
    status: str
    verdict: str | None  # None: closed before the window, where no count needs it
    with_hypothesis: bool
    override: str | None
    proposed_by: str
    supports: str | None
    contested: bool

    @property
    def ended_on(self) -> date | None:
        return self.closed_on if self.closed_on is not None else self.released_on

    @classmethod
    def of_item(cls, item: Item) -> _Counted:
        """A commitment judged by :meth:`ReadModel.commitments`."""
        f, e = item.facts, item.evaluation
        return cls(
            id=f.id,
            rep=f.rep,
            manager=f.manager,
            owner=f.owner,
            focus=f.focus,
            agreed_on=_day(item.agreed_on),
            due=f.due,
            closed_on=f.closed.date if f.closed is not None else None,
            released_on=f.released,
            status=e.status,
            verdict=e.verdict,
            with_hypothesis=rules.has_hypothesis(f),
            override=f.focus_cap_override,
            proposed_by=f.proposed_by,
            supports=f.supports,
            contested=item.contested,
        )


def _tally_commitments(
    rows: Sequence[_Counted], window: Window, tallies: dict[str, _Tally]
) -> None:
    supported = {r.supports for r in rows if r.owner == "manager"}
    on = window.on
    for r in rows:
        t = tallies[r.manager]
        if r.agreed_on in window:
            if r.owner == "rep":
                t.rep_agreed += 1
                t.with_hypothesis += r.with_hypothesis
                t.rep_proposed += r.proposed_by == "rep"
                t.two_sided += r.id in supported
            else:
                t.manager_agreed += 1
            if r.override:
                t.overrides.append(
                    {
                        "id": r.id,
                        "rep": r.rep,
                        "focus": r.focus,
                        "reason": r.override,
                        "agreed_on": r.agreed_on.isoformat(),
                    }
                )
        ended = r.ended_on
        if r.due in window:
            month = r.due.isoformat()[:7]
            t.loops_due += 1
            t.month_due[month] += 1
            if ended is not None and ended <= r.due + timedelta(days=LOOP_GRACE_DAYS):
                t.loops_closed += 1
                t.month_closed[month] += 1
            elif ended is None and on <= r.due + timedelta(days=LOOP_GRACE_DAYS):
                t.loops_pending += 1
                t.month_pending[month] += 1
        if r.status == rules.OVERDUE:
            t.overdue += 1
        counted = r.status in (rules.OPEN, rules.OVERDUE) or (ended is not None and ended in window)
        if counted:
            assert r.verdict is not None
            if r.owner == "manager":
                t.manager_verdicts[r.verdict] += 1
            else:
                t.rep_verdicts[r.verdict] += 1
        if r.owner == "rep" and r.closed_on is not None and r.closed_on in window:
            t.rep_judged += 1
            t.contested += r.contested


def _tally_overload(rows: Sequence[_Counted], tallies: dict[str, _Tally]) -> None:
    """Reps overloaded by their open rep-owned commitments (:func:`rules.is_overloaded`),
    under every manager named on one of those commitments."""
    loaded: dict[str, list[_Counted]] = {}
    for r in rows:
        if rules.counts_towards_load(r.owner, r.status):
            loaded.setdefault(r.rep, []).append(r)
    for rep, own in loaded.items():
        if rules.is_overloaded(rules.focus_load_of((r.owner, r.focus, r.status) for r in own)):
            for r in own:
                tallies[r.manager].overloaded.add(rep)


def _tally_sessions(rm: ReadModel, at: Moment, window: Window, tallies: dict[str, _Tally]) -> None:
    where = "WHERE recorded_at <= ? AND date >= ? AND date <= ?"
    params = (at.t, window.first.isoformat(), window.on.isoformat())
    for manager, month, held, prepared in rm.conn.execute(
        f"SELECT manager, substr(date, 1, 7), count(*), sum(prepared) FROM sessions {where} "
        "GROUP BY 1, 2",
        params,
    ):
        t = tallies[manager]
        t.sessions += held
        t.prepared += prepared or 0
        t.month_sessions[month] += held
    for manager, rep in rm.conn.execute(
        f"SELECT DISTINCT manager, rep FROM sessions {where}", params
    ):
        tallies[manager].reps_coached.add(rep)


_KNOWN = """
WITH RECURSIVE m(manager) AS (  -- each manager once, from the index on {table} (manager, ...)
  SELECT min(manager) FROM {table}
  UNION ALL
  SELECT (SELECT min(t.manager) FROM {table} t WHERE t.manager > m.manager) FROM m
  WHERE m.manager IS NOT NULL
)
SELECT manager FROM m WHERE manager IS NOT NULL AND EXISTS
  (SELECT 1 FROM {table} t WHERE t.manager = m.manager AND t.recorded_at <= :t AND t.{day} <= :d)
"""


def _regrouped(rm: ReadModel) -> bool:
    """Whether :func:`_grouped` has put the rep's team or region in the tables'
    ``manager`` column (its temporary views are there)."""
    return (
        rm.conn.execute(
            "SELECT 1 FROM sqlite_temp_master WHERE type = 'view' AND name = 'sessions'"
        ).fetchone()
        is not None
    )


def _known_managers(rm: ReadModel, at: Moment) -> set[str]:
    """Managers with a session or a commitment visible at (T, D). From the tables
    (not regrouped by :func:`_grouped`), one index lookup per manager; a null
    manager is never known that way, so a table that has one is scanned."""
    p = {"t": at.t, "d": at.d}
    if (
        not _regrouped(rm)
        and not rm.conn.execute(
            "SELECT 1 FROM sessions WHERE manager IS NULL "
            "UNION ALL SELECT 1 FROM commitments WHERE manager IS NULL"
        ).fetchone()
    ):
        known: set[str] = set()
        for table, day in (("sessions", "date"), ("commitments", "agreed_on")):
            known.update(r[0] for r in rm.conn.execute(_KNOWN.format(table=table, day=day), p))
        return known
    rows = rm.conn.execute(
        "SELECT manager FROM sessions WHERE recorded_at <= :t AND date <= :d "
        "UNION SELECT manager FROM commitments WHERE recorded_at <= :t AND agreed_on <= :d",
        p,
    )
    return {r[0] for r in rows}


def coaching_report(
    rm: ReadModel,
    at: Moment,
    window_days: int = rules.DEFAULT_WINDOW_DAYS,
    manager: str | None = None,
    *,
    judge_all: bool = False,
    group_by: str = "manager",
) -> CoachingReport:
    """Every manager's coaching patterns as of T, on D, over (D − window_days, D].

    ``group_by`` ``team`` or ``region``: the same measures per team or region
    of the *rep* each session and commitment is about, as the roster stands
    now (a rep outside the roster: team = the manager named on the row,
    region = null); see :func:`_grouped`.

    Managers are those with a session or a commitment visible at (T, D), even
    with nothing in the window (their counts are 0 and their shares null).
    ``manager`` keeps one of them (``NotFound`` if unknown); the team total
    always covers everyone.

    Only the commitments whose verdict the measures need (closed in the
    window, and the manager commitments supporting them, for blocking) are
    judged by :mod:`ledger.rules`; everything else needs only a status, read
    straight from the tables. ``judge_all`` judges every commitment through
    :meth:`ReadModel.commitments` instead: the reference the tests compare with.
    """
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    if group_by != "manager":
        if manager is not None:
            from ledger.errors import InvalidInput

            raise InvalidInput("--manager goes with --group-by manager only")
        with _grouped(rm, group_by):
            report = coaching_report(rm, at, window_days, judge_all=judge_all)
        label = "group"
        return CoachingReport(
            at=report.at,
            window=report.window,
            managers=tuple(Patterns(p.manager, p.window, p.tally, label) for p in report.managers),
            team=report.team,
            group_by=group_by,
        )
    window = Window(at.on, window_days)
    rm.conn.execute("PRAGMA temp_store = MEMORY")  # before any temporary table is used
    known = _known_managers(rm, at)
    if manager is not None and manager not in known:
        raise NotFound(f"no sessions or commitments with manager {manager!r} as of {at.as_of_text}")
    # every manager a counted row can name: the window sees only visible rows
    tallies: dict[str, _Tally] = {m: _Tally() for m in known}
    _tally_sessions(rm, at, window, tallies)
    if judge_all:
        rows = [_Counted.of_item(item) for item in rm.commitments(at)]
        _tally_commitments(rows, window, tallies)
        _tally_overload(rows, tallies)
    else:
        _tally_from_tables(rm, at, window, tallies, cache=not _regrouped(rm))
    team = _Tally()
    for t in tallies.values():
        team.add(t)
    chosen = [manager] if manager is not None else sorted(tallies, key=_none_last)
    return CoachingReport(
        at=at,
        window=window,
        managers=tuple(Patterns(m, window, tallies[m]) for m in chosen),
        team=Patterns(None, window, team),
    )


# -- the fast path: counted rows, verdicts only where needed -----------------
#
# Each commitment is counted from one row (id, whom and when it is about, its
# latest due, close and release, its flags and, once closed, its verdict):
# from ``report_commitments`` (a cache of these rows as the latest knowledge
# has them) where (T, D) sees every row it was read from, else from
# ``temp.fresh``, read from the tables at (T, D) for the visible commitments
# the cache does not serve. Only fresh commitments closed in the window (and
# the closed manager commitments supporting them, for blocking) need a
# verdict. For those without a visible revision or correction, SQL totals
# their check-ins within [start, due] and their metrics' activity, and the
# rules judge them from those amounts (rules.Amounts); the others are read row
# by row and judged from their check-ins.

_DUES = """
CREATE TEMP TABLE dues AS
SELECT commitment_id AS id, due FROM revisions v
WHERE due IS NOT NULL AND recorded_at <= :t AND date <= :d
  AND position = (SELECT max(w.position) FROM revisions w
                  WHERE w.commitment_id = v.commitment_id AND w.due IS NOT NULL
                    AND w.recorded_at <= :t AND w.date <= :d)
"""

# a cached row serves (T, D) when (T, D) sees every row it was read from, and
# it holds a verdict if one is counted (closed in the window)
_SERVED = (  # (+: never a reason to pick the index of a stamp: each count picks its own)
    ":cache AND +known_at <= :t AND +settled_on <= :d "
    "AND (verdict IS NOT NULL OR closed_on IS NULL OR closed_on < :first)"
)
_UNSERVED = f"""
CREATE TEMP TABLE want AS
SELECT c.id FROM commitments c WHERE c.recorded_at <= :t AND c.agreed_on <= :d
  AND NOT EXISTS (SELECT 1 FROM report_commitments r WHERE r.id = c.id AND {_SERVED})
"""
_FRESH = """
CREATE TEMP TABLE fresh AS -- the visible commitments the cache does not serve, at (T, D)
SELECT c.id, c.rep, c.manager, c.owner, c.focus, c.agreed_on, c.supports,
  coalesce(n.due, c.due) AS due, x.date AS closed_on, r.date AS released_on,
  coalesce(x.date, r.date) AS ended_on,
  CASE WHEN c.owner = 'rep' THEN states_hypothesis(c.hypothesis, c.expect_metric) ELSE 0 END
    AS hypothesis,
  c.proposed_by,
  EXISTS (SELECT 1 FROM commitments m WHERE m.supports = c.id AND m.owner = 'manager'
          AND m.recorded_at <= :t AND m.agreed_on <= :d) AS two_sided,
  c.focus_cap_override AS override,
  EXISTS (SELECT 1 FROM replies y WHERE y.commitment_id = c.id AND y.contests = 1
          AND y.recorded_at <= :t AND y.date <= :d) AS contested,
  NULL AS verdict
FROM want w CROSS JOIN commitments c ON c.id = w.id
LEFT JOIN dues n ON n.id = c.id
LEFT JOIN closes x ON x.commitment_id = c.id AND x.recorded_at <= :t AND x.date <= :d
LEFT JOIN releases r ON r.commitment_id = c.id AND r.recorded_at <= :t AND r.date <= :d
"""
_COUNTED_COLUMNS = (
    "id, rep, manager, owner, focus, agreed_on, supports, due, closed_on, released_on, "
    "ended_on, hypothesis, proposed_by, two_sided, override, contested, verdict"
)


def _counted(where: str, columns: str, legs: tuple[bool, bool]) -> str:
    """SQL: the ``columns`` of the counted rows meeting ``where`` (a condition on
    the columns both have: each side uses its index): the cached rows that
    serve, the fresh ones, or both (``legs``: whether there are any of each;
    one alone is a plain subquery SQLite flattens, with no compound to step
    through)."""
    cached = f"SELECT {columns} FROM main.report_commitments WHERE {_SERVED} AND ({where})"
    fresh = f"SELECT {columns} FROM temp.fresh WHERE {where}"
    return (
        "(" + " UNION ALL ".join(q for q, on in zip((cached, fresh), legs, strict=True) if on) + ")"
    )


_JUDGED_AMONG = """
CREATE TEMP TABLE judged AS
WITH closed(id) AS ({closed})
SELECT id FROM closed
UNION
SELECT m.id FROM commitments m
JOIN closes x ON x.commitment_id = m.id AND x.recorded_at <= :t AND x.date <= :d
WHERE m.owner = 'manager' AND m.recorded_at <= :t AND m.agreed_on <= :d
  AND m.supports IN (SELECT f.id FROM fresh f WHERE f.owner = 'rep'
                     AND f.id IN (SELECT id FROM closed))
"""
# the fresh commitments (T, D) judges: those closed in the window, and the
# closed manager commitments supporting them (for blocking)
_JUDGED = _JUDGED_AMONG.format(closed="SELECT id FROM fresh WHERE closed_on BETWEEN :first AND :d")

_COMPLEX = """
SELECT commitment_id AS id FROM revisions WHERE recorded_at <= :t AND date <= :d
  AND commitment_id IN (SELECT id FROM judged)
UNION
SELECT commitment_id FROM corrections WHERE recorded_at <= :t AND date <= :d
  AND commitment_id IN (SELECT id FROM judged)
"""

# the commitment's columns by name, and its close's as ``date``, ``result`` and
# ``value`` (names the commitments table does not use): the row is both
_COLUMNS = ", ".join(f"c.[{name}]" for name in BY_NAME["commitments"].names)
_CLOSE = "x.date AS date, x.result AS result, x.value AS value"
_METRIC_TOTAL = (
    "(SELECT total(a.value) FROM activity_daily a WHERE a.rep = c.rep AND a.metric = c.{m} "
    "AND a.date >= c.start AND a.date <= min(c.due, :d) AND a.recorded_at <= :t)"
)
_SIMPLE = f"""
SELECT {_COLUMNS}, {_CLOSE},
  total(CASE WHEN k.date >= c.start AND k.date <= c.due THEN k.actual END) AS checked_in,
  coalesce(max(k.done), 0) AS done,
  CASE WHEN c.metric IS NULL THEN 0 ELSE {_METRIC_TOTAL.format(m="metric")} END AS metric_total,
  CASE WHEN c.expect_metric IS NULL THEN 0
       ELSE {_METRIC_TOTAL.format(m="expect_metric")} END AS hypothesis_total
FROM judged j CROSS JOIN commitments c ON c.id = j.id
JOIN closes x ON x.commitment_id = c.id
LEFT JOIN check_ins k ON k.commitment_id = c.id AND k.recorded_at <= :t AND k.date <= :d
WHERE j.id NOT IN (SELECT cx.id FROM complex cx)
GROUP BY j.id
"""
_FULL = f"""
SELECT {_COLUMNS}, {_CLOSE} FROM complex j CROSS JOIN commitments c ON c.id = j.id
JOIN closes x ON x.commitment_id = c.id
"""


_CACHED = """
CREATE TEMP TABLE cached AS -- verdicts the latest knowledge settled, valid at (T, D)
SELECT r.id, r.verdict FROM judged j CROSS JOIN report_verdicts r ON r.id = j.id
WHERE r.known_at <= :t AND r.settled_on <= :d
"""

# the stamps of the commitments just judged, from every row the read model
# holds (not only those visible at T, D); a released one is never cached
_LATEST = "coalesce((SELECT max(v.{col}) FROM {table} v WHERE v.commitment_id = c.id), '')"
_STAMPS = f"""
SELECT c.id, c.rep, c.metric, c.expect_metric, c.start, s.due,
  max(c.recorded_at, x.recorded_at,
      {_LATEST.format(col="recorded_at", table="revisions")},
      {_LATEST.format(col="recorded_at", table="check_ins")},
      {_LATEST.format(col="recorded_at", table="corrections")},
      coalesce((SELECT max(a.recorded_at) FROM activity_daily a
                WHERE a.rep = c.rep AND a.metric IN (c.metric, c.expect_metric)
                  AND a.date >= c.start AND a.date <= s.due), '')) AS known_at,
  max(c.agreed_on, c.start, s.due, x.date,
      {_LATEST.format(col="date", table="revisions")},
      {_LATEST.format(col="date", table="check_ins")},
      {_LATEST.format(col="date", table="corrections")}) AS settled_on
FROM (SELECT j.id, coalesce((SELECT w.due FROM revisions w
                             WHERE w.commitment_id = j.id AND w.due IS NOT NULL
                             ORDER BY w.position DESC LIMIT 1),
                            (SELECT c.due FROM commitments c WHERE c.id = j.id)) AS due
      FROM judged j) s
CROSS JOIN commitments c ON c.id = s.id
JOIN closes x ON x.commitment_id = c.id
WHERE NOT EXISTS (SELECT 1 FROM releases r WHERE r.commitment_id = c.id)
"""


# the stamps of the commitments just judged, from every row the read model
# holds (not only those visible at T, D); a released one is never cached
_LATEST = "coalesce((SELECT max(v.{col}) FROM {table} v WHERE v.commitment_id = c.id), '')"
_LATEST_DUE = (
    "coalesce((SELECT w.due FROM revisions w WHERE w.commitment_id = c.id AND w.due IS NOT NULL "
    "ORDER BY w.position DESC LIMIT 1), c.due)"
)
_ACTIVITY_KNOWN = (
    "coalesce((SELECT max(a.recorded_at) FROM activity_daily a WHERE a.rep = c.rep "
    "AND a.metric IN (c.metric, c.expect_metric) AND a.date >= c.start AND a.date <= {due}), '')"
)
_STAMPS = f"""
SELECT c.id, c.rep, c.metric, c.expect_metric, c.start, s.due,
  max(c.recorded_at, x.recorded_at,
      {_LATEST.format(col="recorded_at", table="revisions")},
      {_LATEST.format(col="recorded_at", table="check_ins")},
      {_LATEST.format(col="recorded_at", table="corrections")},
      {_ACTIVITY_KNOWN.format(due="s.due")}) AS known_at,
  max(c.agreed_on, c.start, s.due, x.date,
      {_LATEST.format(col="date", table="revisions")},
      {_LATEST.format(col="date", table="check_ins")},
      {_LATEST.format(col="date", table="corrections")}) AS settled_on
FROM (SELECT j.id, coalesce((SELECT w.due FROM revisions w
                             WHERE w.commitment_id = j.id AND w.due IS NOT NULL
                             ORDER BY w.position DESC LIMIT 1),
                            (SELECT c.due FROM commitments c WHERE c.id = j.id)) AS due
      FROM judged j) s
CROSS JOIN commitments c ON c.id = s.id
JOIN closes x ON x.commitment_id = c.id
WHERE NOT EXISTS (SELECT 1 FROM releases r WHERE r.commitment_id = c.id)
"""


# the stamps of each fresh row (report_commitments' known_at, settled_on and
# what its activity trigger watches): the latest of its own rows' and those of
# the manager commitments supporting it, every row the read model holds
def _latest_of(table: str) -> str:
    """SQL: per commitment of ``ids``, the latest ``recorded_at`` and business
    date of its rows in ``table``."""
    return (
        f"SELECT v.commitment_id AS id, max(v.recorded_at) AS known, max(v.date) AS settled "
        f"FROM ids CROSS JOIN {table} v ON v.commitment_id = ids.id GROUP BY v.commitment_id"
    )


_OWN_STAMPS = f"""
WITH j(id, for_id) AS (
  SELECT id, id FROM temp.fresh WHERE verdict IS NOT NULL
  UNION ALL
  SELECT m.id, m.supports FROM temp.fresh f CROSS JOIN commitments m ON m.supports = f.id
  WHERE f.verdict IS NOT NULL AND m.owner = 'manager'
),
ids(id) AS (SELECT DISTINCT id FROM j),
rv AS ({_latest_of("revisions")}),
ci AS ({_latest_of("check_ins")}),
co AS ({_latest_of("corrections")}),
rp AS ({_latest_of("replies")}),
due(id, due) AS (
  SELECT v.commitment_id, v.due FROM ids CROSS JOIN revisions v ON v.commitment_id = ids.id
  WHERE v.due IS NOT NULL AND v.position = (SELECT max(w.position) FROM revisions w
                                            WHERE w.commitment_id = v.commitment_id
                                              AND w.due IS NOT NULL)
)
SELECT j.for_id, c.metric, c.expect_metric, c.start, coalesce(n.due, c.due) AS due,
  max(c.recorded_at, coalesce(x.recorded_at, ''), coalesce(r.recorded_at, ''),
      coalesce(rv.known, ''), coalesce(ci.known, ''), coalesce(co.known, ''),
      coalesce(rp.known, ''),
      {_ACTIVITY_KNOWN.format(due="coalesce(n.due, c.due)")}) AS known_at,
  max(c.agreed_on, c.start, coalesce(x.date, ''), coalesce(r.date, ''),
      CASE WHEN x.date IS NOT NULL THEN coalesce(n.due, c.due) ELSE '' END,
      coalesce(rv.settled, ''), coalesce(ci.settled, ''), coalesce(co.settled, ''),
      coalesce(rp.settled, '')) AS settled_on
FROM j CROSS JOIN commitments c ON c.id = j.id
LEFT JOIN due n ON n.id = c.id
LEFT JOIN closes x ON x.commitment_id = c.id
LEFT JOIN releases r ON r.commitment_id = c.id
LEFT JOIN rv ON rv.id = c.id
LEFT JOIN ci ON ci.id = c.id
LEFT JOIN co ON co.id = c.id
LEFT JOIN rp ON rp.id = c.id
"""
_ROW_STAMPS = f"""
SELECT o.for_id,
  ',' || group_concat(coalesce(o.metric, '') || ',' || coalesce(o.expect_metric, ''), ',') || ','
    AS metrics,
  min(o.start) AS watch_start, max(o.due) AS watch_due, max(o.known_at) AS known_at,
  max(o.settled_on) AS settled_on
FROM ({_OWN_STAMPS}) o GROUP BY o.for_id
"""
# the stamps of every fresh row, from what its columns but the verdict are read
# from: its own row, revisions, close, release and replies, and the rows of the
# manager commitments supporting it (a row with a verdict: _ROW_STAMPS too)
_BASE_STAMPS = """
WITH rv AS (SELECT v.commitment_id AS id, max(v.recorded_at) AS known, max(v.date) AS settled
            FROM revisions v WHERE v.commitment_id IN (SELECT id FROM temp.fresh)
            GROUP BY v.commitment_id),
rp AS (SELECT v.commitment_id AS id, max(v.recorded_at) AS known, max(v.date) AS settled
       FROM replies v WHERE v.commitment_id IN (SELECT id FROM temp.fresh)
       GROUP BY v.commitment_id),
sp AS (SELECT m.supports AS id, max(m.recorded_at) AS known, max(m.agreed_on) AS settled
       FROM commitments m WHERE m.owner = 'manager'
         AND m.supports IN (SELECT id FROM temp.fresh) GROUP BY m.supports)
SELECT f.id,
  max(c.recorded_at, coalesce(x.recorded_at, ''), coalesce(r.recorded_at, ''),
      coalesce(rv.known, ''), coalesce(rp.known, ''), coalesce(sp.known, '')) AS known_at,
  max(c.agreed_on, c.start, coalesce(x.date, ''), coalesce(r.date, ''),
      coalesce(rv.settled, ''), coalesce(rp.settled, ''), coalesce(sp.settled, '')) AS settled_on
FROM temp.fresh f CROSS JOIN commitments c ON c.id = f.id
LEFT JOIN closes x ON x.commitment_id = c.id
LEFT JOIN releases r ON r.commitment_id = c.id
LEFT JOIN rv ON rv.id = c.id
LEFT JOIN rp ON rp.id = c.id
LEFT JOIN sp ON sp.id = c.id
"""

# each fresh row with its stamps: :data:`_BASE_STAMPS` and, with a verdict,
# :data:`_ROW_STAMPS` too (what the verdict was judged from, and what the
# activity trigger watches); those (T, D) sees every row of
_STAMPED = (
    "SELECT {columns}, j.metrics, j.watch_start, j.watch_due, "
    "max(b.known_at, coalesce(j.known_at, '')) AS known_at, "
    "max(b.settled_on, coalesce(j.settled_on, '')) AS settled_on "
    "FROM temp.fresh f JOIN ({base}) b ON b.id = f.id "
    "LEFT JOIN ({judged}) j ON j.for_id = f.id"
)
_LATEST_ROWS = (
    "SELECT * FROM ("
    + _STAMPED.format(
        columns=", ".join(f"f.{c}" for c in _COUNTED_COLUMNS.split(", ")),
        base=_BASE_STAMPS,
        judged=_ROW_STAMPS,
    )
    + ") WHERE known_at <= :t AND settled_on <= :d ORDER BY id"
)


def _n(condition: str) -> str:
    """SQL: how many rows of the group meet ``condition`` (0, never null)."""
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


# the status at D of a counted row that has not ended (rules.status_at)
_OPEN_STATUS = f"CASE WHEN :d > due THEN '{rules.OVERDUE}' ELSE '{rules.OPEN}' END"
_IN_WINDOW = "BETWEEN :first AND :d"
_GRACE = f"date(due, '+{LOOP_GRACE_DAYS} days')"


def _count_queries(legs: tuple[bool, bool]) -> dict[str, str]:
    """The report's counts of commitments, over the rows :func:`_counted` gives."""
    return {
        "agreed": f"""
SELECT manager, {_n("owner = 'rep'")}, {_n("owner = 'rep' AND hypothesis")},
  {_n("owner = 'rep' AND proposed_by = 'rep'")}, {_n("owner = 'rep' AND two_sided")},
  {_n("owner <> 'rep'")}
FROM {
            _counted(
                f"agreed_on {_IN_WINDOW}",
                "manager, owner, hypothesis, proposed_by, two_sided",
                legs,
            )
        }
GROUP BY manager
""",
        "loops": f"""
SELECT manager, substr(due, 1, 7), count(*),
  {_n(f"ended_on IS NOT NULL AND ended_on <= {_GRACE}")},
  {_n(f"ended_on IS NULL AND :d <= {_GRACE}")}
FROM {_counted(f"due {_IN_WINDOW}", "manager, due, ended_on", legs)} GROUP BY 1, 2
""",
        # ended in the window: by verdict (a released one: released), with how
        # many were closed (judged) and how many of those are contested
        "ended": f"""
SELECT manager, owner,
  CASE WHEN released_on IS NOT NULL THEN '{rules.RELEASED}' ELSE verdict END, count(*),
  {_n("closed_on IS NOT NULL")}, {_n("closed_on IS NOT NULL AND contested")}
FROM {
            _counted(
                f"ended_on {_IN_WINDOW}",
                "manager, owner, released_on, closed_on, verdict, contested",
                legs,
            )
        }
GROUP BY 1, 2, 3
""",
        # open at D (a counted row that ended, ended by D): each with its status
        "open": f"""
SELECT manager, owner, rep, focus, {_OPEN_STATUS}
FROM {_counted("ended_on IS NULL", "manager, owner, rep, focus, due", legs)}
""",
        "overrides": f"""
SELECT manager, id, rep, focus, override, agreed_on
FROM {
            _counted(
                f"override > '' AND +agreed_on {_IN_WINDOW}",
                "manager, id, rep, focus, override, agreed_on",
                legs,
            )
        }
""",
    }


_COUNTS = {legs: _count_queries(legs) for legs in ((True, True), (True, False), (False, True))}


def _tally_from_tables(
    rm: ReadModel, at: Moment, window: Window, tallies: dict[str, _Tally], *, cache: bool
) -> None:
    """:func:`_tally_commitments` and :func:`_tally_overload` of the commitments
    the window can see, counted in SQL from one row each: from
    ``report_commitments`` where ``cache`` and (T, D) sees every row it was
    read from, else read at (T, D) (``temp.fresh``), with the verdicts of those
    closed in the window from ``report_verdicts`` where the latest knowledge
    settled them and (T, D) sees all of their rows, else judged; blocking
    applied over both. What was read at the latest knowledge is remembered in
    both caches (:func:`remember`)."""
    conn = rm.conn
    conn.execute("PRAGMA temp_store = MEMORY")
    # no mmap_size: with the verdicts cached, mapping the read model saved no CPU
    # and its file-backed pages put the report's peak RSS at 176 MB at 1.1M events
    # (73 MB without; docs/performance.md, growth curve)
    conn.create_function("states_hypothesis", 2, rules.states_hypothesis, deterministic=True)
    p = {"t": at.t, "d": at.d, "first": window.first.isoformat(), "cache": int(cache)}
    _drop_temporary(conn)
    conn.execute(_DUES, p)
    conn.execute("CREATE UNIQUE INDEX temp.dues_id ON dues (id)")
    if cache and _all_served(conn, p):
        conn.execute("CREATE TEMP TABLE want (id TEXT)")
    else:
        conn.execute(_UNSERVED, p)
    evaluated = _read_fresh(rm, at, p)
    any_fresh = conn.execute("SELECT 1 FROM temp.fresh LIMIT 1").fetchone() is not None
    counts = _COUNTS[(cache, any_fresh) if cache or any_fresh else (False, True)]
    if cache:
        remember(rm, at, evaluated)
    for manager, rep_agreed, hypothesis, proposed, two_sided, manager_agreed in conn.execute(
        counts["agreed"], p
    ):
        t = tallies[manager]
        t.rep_agreed += rep_agreed
        t.with_hypothesis += hypothesis
        t.rep_proposed += proposed
        t.two_sided += two_sided
        t.manager_agreed += manager_agreed
    for manager, month, due, closed, pending in conn.execute(counts["loops"], p):
        t = tallies[manager]
        t.loops_due += due
        t.month_due[month] += due
        t.loops_closed += closed
        t.month_closed[month] += closed
        t.loops_pending += pending
        t.month_pending[month] += pending
    for manager, owner, verdict, count, closed, contested in conn.execute(counts["ended"], p):
        assert verdict is not None  # closed in the window: judged or cached
        t = tallies[manager]
        (t.rep_verdicts if owner == "rep" else t.manager_verdicts)[verdict] += count
        if owner == "rep":
            t.rep_judged += closed
            t.contested += contested
    loaded: dict[str, list[tuple[str, str, str, str]]] = {}
    for manager, owner, rep, focus, status in conn.execute(counts["open"], p):
        t = tallies[manager]
        (t.rep_verdicts if owner == "rep" else t.manager_verdicts)[status] += 1
        t.overdue += status == rules.OVERDUE
        if rules.counts_towards_load(owner, status):
            loaded.setdefault(rep, []).append((manager, owner, focus, status))
    for rep, own in loaded.items():
        if rules.is_overloaded(rules.focus_load_of((o, f, s) for _, o, f, s in own)):
            for manager, *_ in own:
                tallies[manager].overloaded.add(rep)
    for manager, cid, rep, focus, reason, agreed_on in conn.execute(counts["overrides"], p):
        tallies[manager].overrides.append(
            {"id": cid, "rep": rep, "focus": focus, "reason": reason, "agreed_on": agreed_on}
        )


def _read_fresh(
    rm: ReadModel, at: Moment, p: dict[str, Any], judged: str = _JUDGED
) -> dict[str, str]:
    """Read the commitments of ``temp.want`` at (T, D) into ``temp.fresh``, with
    the verdicts (after blocking) of those closed in the window (``:first`` to
    ``:d``; or those ``judged`` selects): read from ``report_verdicts`` where it
    serves, else judged. Return the verdicts judged (before blocking)."""
    conn = rm.conn
    conn.execute(_FRESH, p)
    conn.execute("CREATE UNIQUE INDEX temp.fresh_id ON fresh (id)")
    for column in ("agreed_on", "due", "ended_on", "closed_on"):
        conn.execute(f"CREATE INDEX temp.fresh_{column} ON fresh ({column})")
    conn.execute(judged, p)
    conn.execute(_CACHED, p)
    verdicts: dict[str, str] = dict(conn.execute("SELECT id, verdict FROM temp.cached"))
    conn.execute("DELETE FROM temp.judged WHERE id IN (SELECT id FROM temp.cached)")
    conn.execute("CREATE TEMP TABLE complex AS " + _COMPLEX, p)
    evaluated = {cid: e.verdict for cid, e in _evaluate(rm, at).items()}
    verdicts.update(evaluated)
    owners, supports = {}, {}
    for cid, owner, supported in conn.execute(
        "SELECT c.id, c.owner, c.supports FROM commitments c WHERE c.id IN "
        "(SELECT id FROM temp.cached UNION ALL SELECT id FROM temp.judged)"
    ):
        owners[cid], supports[cid] = owner, supported
    blocked = rules.blocked_by(verdicts, owners, supports)
    conn.executemany(
        "UPDATE temp.fresh SET verdict = ? WHERE id = ?",
        ((rules.BLOCKED if cid in blocked else v, cid) for cid, v in verdicts.items()),
    )
    return evaluated


def _drop_temporary(conn: sqlite3.Connection) -> None:
    for name in ("dues", "want", "with_verdict", "fresh", "judged", "cached", "complex"):
        conn.execute(f"DROP TABLE IF EXISTS temp.{name}")


def _all_served(conn: sqlite3.Connection, p: dict[str, Any]) -> bool:
    """Whether the cache serves every commitment visible at (T, D): as many rows
    serve as commitments are visible (a row that serves is visible). The rows
    that do not serve are found through three indexes: at the latest
    knowledge, none or a few."""
    rows = conn.execute("SELECT count(*) FROM report_commitments").fetchone()[0]
    unserved = conn.execute(
        "SELECT count(*) FROM (SELECT id FROM report_commitments WHERE known_at > :t "
        "UNION SELECT id FROM report_commitments WHERE settled_on > :d "
        "UNION SELECT id FROM report_commitments WHERE verdict IS NULL AND closed_on >= :first)",
        p,
    ).fetchone()[0]
    visible = conn.execute(
        "SELECT count(*) FROM commitments WHERE recorded_at <= :t AND agreed_on <= :d", p
    ).fetchone()[0]
    return bool(rows - unserved == visible)


def remember(rm: ReadModel, at: Moment, verdicts: dict[str, str]) -> int:
    """Keep what this report read at the latest knowledge: in ``report_verdicts``
    the verdicts (before blocking) just judged for the commitments of
    ``temp.judged`` whose every row ``at`` sees, and in ``report_commitments``
    the rows of ``temp.fresh`` whose every row (and every row of their
    supporters) ``at`` sees. Return how many rows were written.

    The rows come from the read transaction the report reads in (``rm.pin``),
    at the tracking row it saw; another connection writes them, in one
    transaction that first checks that the file still stands at that row and
    has every trigger that keeps the caches true (a rebuild midway has not):
    else nothing is written. Nothing is written either outside a read
    transaction, or when the file cannot be written now (read-only, locked by
    a catch-up): it is a cache, and the next report fills it."""
    conn = rm.conn
    if not conn.in_transaction:
        return 0
    tracking = conn.execute(
        "SELECT position, event_hash FROM tracking WHERE name = 'ledger'"
    ).fetchone()
    path = next((r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "main"), "")
    if tracking is None or not path:
        return 0
    judged = [
        (*r[:6], verdicts[r[0]], r[6], r[7])
        for r in (conn.execute(_STAMPS) if verdicts else ())
        if r[0] in verdicts and r[6] <= at.t and r[7] <= at.d
    ]
    fresh = conn.execute("SELECT count(*) FROM temp.fresh").fetchone()[0]
    if not judged and not fresh:
        return 0
    from .tables import TRIGGERS

    try:
        writer = sqlite3.connect(path, timeout=0.5, isolation_level=None)
    except sqlite3.Error:
        return 0
    try:
        writer.execute("PRAGMA secure_delete=ON")  # as catch-up writes (projections.catchup)
        writer.execute("PRAGMA synchronous=OFF")  # derived data: never fsynced
        writer.execute("BEGIN IMMEDIATE")
        now = writer.execute(
            "SELECT position, event_hash FROM tracking WHERE name = 'ledger'"
        ).fetchone()
        names = {
            r[0] for r in writer.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        if now is None or tuple(now) != tuple(tracking) or any(t[0] not in names for t in TRIGGERS):
            writer.execute("ROLLBACK")
            return 0
        before = writer.total_changes
        for table, rows, many in (
            ("report_verdicts", judged, len(judged)),
            ("report_commitments", map(tuple, _latest_rows(conn, at)), fresh),
        ):
            with _indexes_after(writer, table, many):
                writer.executemany(
                    BY_NAME[table].insert_sql().replace("INSERT", "INSERT OR REPLACE", 1), rows
                )
        writer.execute("COMMIT")
        return writer.total_changes - before
    except sqlite3.Error:
        if writer.in_transaction:
            writer.execute("ROLLBACK")
        return 0
    finally:
        writer.close()


@contextmanager
def _indexes_after(conn: sqlite3.Connection, table: str, rows: int) -> Iterator[None]:
    """Inside: up to ``rows`` rows go into ``table``. Many of them (a report after a
    rebuild fills the caches): its secondary indexes are dropped first and
    built again after, in the same transaction (sorting once is much faster
    than keeping random-order B-trees up to date row by row)."""
    if rows < _MANY_ROWS:
        yield
        return
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL",
        (table,),
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX [{name}]")
    yield
    for _, sql in indexes:
        conn.execute(sql)


_MANY_ROWS = 20_000
"""From how many rows :func:`_indexes_after` builds the indexes after the rows."""


def _latest_rows(conn: sqlite3.Connection, at: Moment) -> sqlite3.Cursor:
    """The rows of ``temp.fresh`` (after blocking) that ``at`` reads as the latest
    knowledge has them, as ``report_commitments`` holds them, in the order of
    its primary key (fewer pages written), one at a time (a report after a
    rebuild writes every commitment's)."""
    return conn.execute(_LATEST_ROWS, {"t": at.t, "d": at.d})


def wrong_cached_verdicts(rm: ReadModel, cached: Sequence[Sequence[Any]]) -> int:
    """How many of ``cached`` (rows of ``report_verdicts``, in column order) are
    not what ``rm`` (a read model rebuilt from the ledger) gives: the stamps and
    window :data:`_STAMPS` takes, and the verdict before blocking at the latest
    knowledge (``projections verify``)."""
    if not cached:
        return 0
    conn = rm.conn
    conn.execute("DROP TABLE IF EXISTS temp.judged")
    conn.execute("CREATE TEMP TABLE judged (id TEXT PRIMARY KEY)")
    conn.executemany("INSERT OR IGNORE INTO temp.judged VALUES (?)", ((r[0],) for r in cached))
    stamps = {r[0]: tuple(r) for r in conn.execute(_STAMPS)}
    on = max((str(r[8]) for r in cached if r[8]), default="")
    judged: dict[str, rules.Evaluation] = {}
    if on:
        from .query import moment

        at = moment(None, on)
        ids = [r[0] for r in cached]
        judged = {i.facts.id: i.evaluation for i in rm.commitments(at, ids=ids)}
    wrong = 0
    for row in cached:
        cid, verdict = row[0], row[6]
        e = judged.get(cid)
        before = e.verdict if e is not None else None
        if before == rules.BLOCKED and verdict in (rules.PARTIAL, rules.BROKEN):
            before = verdict
        if stamps.get(cid) != (*row[:6], row[7], row[8]) or before != verdict:
            wrong += 1
    return wrong


_WITH_VERDICT = (
    "SELECT id FROM fresh WHERE closed_on IS NOT NULL AND id IN (SELECT id FROM temp.with_verdict)"
)


def wrong_cached_rows(rm: ReadModel, cached: Sequence[Sequence[Any]]) -> int:
    """How many of ``cached`` (rows of ``report_commitments``, in column order)
    are not what ``rm`` (a read model rebuilt from the ledger) reads at the
    latest knowledge: every column, but a verdict not filled yet (null)
    (``projections verify``)."""
    if not cached:
        return 0
    from .query import moment

    conn = rm.conn
    names = BY_NAME["report_commitments"].names
    settled, verdict = names.index("settled_on"), names.index("verdict")
    at = moment(None, max(str(r[settled]) for r in cached))
    conn.execute("PRAGMA temp_store = MEMORY")  # as the report sets it, before temp is used
    conn.create_function("states_hypothesis", 2, rules.states_hypothesis, deterministic=True)
    p = {"t": at.t, "d": at.d, "cache": 0}
    _drop_temporary(conn)
    conn.execute(_DUES, p)
    conn.execute("CREATE TEMP TABLE want (id TEXT PRIMARY KEY)")
    conn.executemany("INSERT OR IGNORE INTO temp.want VALUES (?)", ((r[0],) for r in cached))
    conn.execute("CREATE TEMP TABLE with_verdict (id TEXT PRIMARY KEY)")
    conn.executemany(
        "INSERT OR IGNORE INTO temp.with_verdict VALUES (?)",
        ((r[0],) for r in cached if r[verdict] is not None),
    )
    _read_fresh(rm, at, p, _JUDGED_AMONG.format(closed=_WITH_VERDICT))
    conn.executemany(  # as the report left them: no verdict, stamped without one
        "UPDATE temp.fresh SET verdict = NULL WHERE id = ?",
        ((r[0],) for r in cached if r[verdict] is None),
    )
    latest = {r[0]: tuple(r) for r in _latest_rows(conn, at)}
    wrong = 0
    for row in cached:
        wrong += latest.get(row[0]) != tuple(row)
    return wrong


def _evaluate(rm: ReadModel, at: Moment) -> dict[str, rules.Evaluation]:
    """Judge the commitments of the temporary table ``judged`` (before blocking)."""
    return _facts_and_evaluations(rm, at)[1]


def _judge(rm: ReadModel, at: Moment) -> list[tuple[rules.CommitmentFacts, rules.Evaluation]]:
    """Judge the commitments of the temporary table ``judged``, blocking applied
    among them."""
    facts, evaluations = _facts_and_evaluations(rm, at)
    judged = rules.apply_blocking(evaluations, facts)
    return [(facts[cid], e) for cid, e in judged.items()]


def _facts_and_evaluations(
    rm: ReadModel, at: Moment
) -> tuple[dict[str, rules.CommitmentFacts], dict[str, rules.Evaluation]]:
    conn = rm.conn
    p = {"t": at.t, "d": at.d}
    facts: dict[str, rules.CommitmentFacts] = {}
    evaluations: dict[str, rules.Evaluation] = {}
    for row in conn.execute(_SIMPLE, p):
        # facts without check-ins: the rules judge from the totals SQL took of them
        f = facts[row["id"]] = commitment_facts(row, close=row)
        amounts = rules.Amounts(
            checked_in=row["checked_in"],
            done=bool(row["done"]),
            metric=float(row["metric_total"]),
            hypothesis_metric=float(row["hypothesis_total"]),
        )
        evaluations[f.id] = rules.judge(f, at.on, amounts)
    full = {row["id"]: row for row in conn.execute(_FULL)}
    if full:
        visible: dict[str, dict[str, list[Any]]] = {}
        for table, columns in (
            ("revisions", "v.target, v.period, v.due, v.behavior"),
            ("check_ins", "v.number, v.date, v.actual, v.done"),
            ("corrections", "v.check_in, v.actual, v.done"),
        ):
            for row in conn.execute(
                f"SELECT v.commitment_id, {columns} FROM complex j "
                f"CROSS JOIN {table} v ON v.commitment_id = j.id "
                "WHERE v.recorded_at <= :t AND v.date <= :d ORDER BY v.position",
                p,
            ):
                visible.setdefault(row["commitment_id"], {}).setdefault(table, []).append(row)
        sums = MetricSums(conn, at)
        for cid, row in full.items():
            rows = visible.get(cid, {})
            f = facts[cid] = commitment_facts(
                row,
                revisions=rows.get("revisions", ()),
                check_ins=rows.get("check_ins", ()),
                corrections=rows.get("corrections", ()),
                close=row,
            )
            evaluations[cid] = rules.evaluate(f, at.on, sums.for_rep(f.rep))
    return facts, evaluations
