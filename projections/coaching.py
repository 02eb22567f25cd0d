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

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from typing import Any

from ledger import rules
from ledger.errors import NotFound

from .counted import (
    DUES,
    UNSERVED,
    all_served,
    counted_rows,
    drop_temporary,
    read_fresh,
    remember,
)
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


# -- the fast path: the rows of projections.counted, counted in SQL -----------


def _n(condition: str) -> str:
    """SQL: how many rows of the group meet ``condition`` (0, never null)."""
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


# the status at D of a counted row that has not ended (rules.status_at)
_OPEN_STATUS = f"CASE WHEN :d > due THEN '{rules.OVERDUE}' ELSE '{rules.OPEN}' END"
_IN_WINDOW = "BETWEEN :first AND :d"
_GRACE = f"date(due, '+{LOOP_GRACE_DAYS} days')"


def _count_queries(legs: tuple[bool, bool]) -> dict[str, str]:
    """The report's counts of commitments, over the rows :func:`counted_rows` gives."""
    return {
        "agreed": f"""
SELECT manager, {_n("owner = 'rep'")}, {_n("owner = 'rep' AND hypothesis")},
  {_n("owner = 'rep' AND proposed_by = 'rep'")}, {_n("owner = 'rep' AND two_sided")},
  {_n("owner <> 'rep'")}
FROM {
            counted_rows(
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
FROM {counted_rows(f"due {_IN_WINDOW}", "manager, due, ended_on", legs)} GROUP BY 1, 2
""",
        # ended in the window: by verdict (a released one: released), with how
        # many were closed (judged) and how many of those are contested
        "ended": f"""
SELECT manager, owner,
  CASE WHEN released_on IS NOT NULL THEN '{rules.RELEASED}' ELSE verdict END, count(*),
  {_n("closed_on IS NOT NULL")}, {_n("closed_on IS NOT NULL AND contested")}
FROM {
            counted_rows(
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
FROM {counted_rows("ended_on IS NULL", "manager, owner, rep, focus, due", legs)}
""",
        "overrides": f"""
SELECT manager, id, rep, focus, override, agreed_on
FROM {
            counted_rows(
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
    drop_temporary(conn)
    conn.execute(DUES, p)
    conn.execute("CREATE UNIQUE INDEX temp.dues_id ON dues (id)")
    if cache and all_served(conn, p):
        conn.execute("CREATE TEMP TABLE want (id TEXT)")
    else:
        conn.execute(UNSERVED, p)
    evaluated = read_fresh(rm, at, p)
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
