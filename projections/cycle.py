"""The coaching cycle of SPEC §7.6, from the read model: ``prep`` (the agenda
of the next session), ``plan`` (the printable 30-day plan), ``due`` (check-ins
and closes coming up, and loops overdue), ``report hypotheses`` and ``model``
(what an activity level would do to an outcome, from the rep's own history).

Commitments are the per-commitment objects of ``show``/``history``
(:class:`projections.query.Item`), judged by :mod:`ledger.rules`; every
threshold and formula (behind pace, due soon, check-in dates, the
conversation, hypothesis scores, the scenario model) lives in
:mod:`ledger.rules`. What is chosen here is only which commitments and rows
each list holds.

There is no people roster yet: where the spec says "the rep's roster team",
:func:`roster_team` answers ``None`` and the fallback applies (every rep with
that metric); a roster slots in there.
"""

from __future__ import annotations

import math
import shlex
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from difflib import get_close_matches
from statistics import median
from typing import Any

from ledger import rules
from ledger.calendar import MAX_AMOUNT
from ledger.errors import InvalidInput, NotFound
from ledger.text import SURROGATE as _SURROGATE

from .query import Item, Moment, ReadModel, number

# -- people and names -------------------------------------------------------------


def roster_team(rm: ReadModel, rep: str, at: Moment) -> list[str] | None:
    """The reps of ``rep``'s roster team, or None when there is no roster (yet)."""
    return None


def _unknown(kind: str, name: str, known: list[str]) -> NotFound:
    close = get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return NotFound(f"no {kind} {name!r} in the ledger{hint}")


def _people(rm: ReadModel, at: Moment, column: str) -> list[str]:
    sql = (
        f"SELECT {column} FROM commitments WHERE recorded_at <= ? AND agreed_on <= ? "
        f"UNION SELECT {column} FROM sessions WHERE recorded_at <= ? AND date <= ?"
    )
    if column == "rep":
        sql += " UNION SELECT DISTINCT rep FROM activity_daily WHERE recorded_at <= ? AND date <= ?"
        params: tuple[str, ...] = (at.t, at.d) * 3
    else:
        params = (at.t, at.d) * 2
    return sorted(r[0] for r in rm.conn.execute(sql, params))


def _valid_text(what: str, value: str) -> None:
    """InvalidInput (exit 2) for a lone surrogate: undecodable bytes in an
    argument, which no stored name can hold (and SQLite cannot be asked for)."""
    if _SURROGATE.search(value):
        raise InvalidInput(f"{what} {value!r} is not valid text (undecodable bytes)")


def require_person(rm: ReadModel, at: Moment, kind: str, name: str) -> None:
    """NotFound (exit 3, with the closest names) unless ``name`` is a rep (or a
    manager) named on a commitment or session, or a rep with CRM activity,
    visible at (T, D). Indexed look-ups; the full list only for the message."""
    _valid_text(kind, name)
    where = f"{kind} = ? AND recorded_at <= ?"
    probes = [
        f"SELECT 1 FROM commitments WHERE {where} AND agreed_on <= ? LIMIT 1",
        f"SELECT 1 FROM sessions WHERE {where} AND date <= ? LIMIT 1",
    ]
    if kind == "rep":
        probes.append(f"SELECT 1 FROM activity_daily WHERE {where} AND date <= ? LIMIT 1")
    for sql in probes:
        if rm.conn.execute(sql, (name, at.t, at.d)).fetchone() is not None:
            return
    raise _unknown(kind, name, _people(rm, at, kind))


def require_metric(rm: ReadModel, at: Moment, option: str, metric: str) -> None:
    """NotFound (exit 3, listing the known metrics) for a metric with no activity recorded."""
    _valid_text(option, metric)
    found = rm.conn.execute(
        "SELECT 1 FROM activity_daily WHERE metric = ? AND recorded_at <= ? LIMIT 1",
        (metric, at.t),
    ).fetchone()
    if found is None:
        known = [
            r[0]
            for r in rm.conn.execute(
                "SELECT DISTINCT metric FROM activity_daily WHERE recorded_at <= ? ORDER BY metric",
                (at.t,),
            )
        ]
        listed = ", ".join(known) or "none yet"
        raise NotFound(f"{option}: no activity recorded for metric {metric!r} (known: {listed})")


# -- sessions ----------------------------------------------------------------------


def session_object(rm: ReadModel, at: Moment, row: dict[str, Any]) -> dict[str, Any]:
    """A session as SPEC §7.1's session JSON (with the commitments agreed in it)."""
    ids = [
        r[0]
        for r in rm.conn.execute(
            "SELECT id FROM commitments WHERE rep = ? AND session_id = ? AND recorded_at <= ? "
            "AND agreed_on <= ? ORDER BY position",
            (row["rep"], row["id"], at.t, at.d),
        )
    ]
    return {
        "id": row["id"],
        "rep": row["rep"],
        "manager": row["manager"],
        "on": row["date"],
        "prepared": row["prepared"],
        "strengths": row["strengths"],
        "focus": row["focus_areas"],
        "note": row["note"],
        "commitments": ids,
    }


# -- prep --------------------------------------------------------------------------


@dataclass(frozen=True)
class Since:
    """What "since the last session" covers: business dates in (after, on]."""

    after: date
    on: date

    def __contains__(self, day: date | None) -> bool:
        return day is not None and self.after < day <= self.on


# The lists of :func:`prep`'s agenda, in the order every rendering of it (text,
# Markdown, HTML) shows them, with their titles.
AGENDA = (
    ("wins", "Wins: succeeded or kept since the last session"),
    ("experiments", "Experiments: honest misses since the last session"),
    ("broken", "Broken since the last session"),
    ("blocked", "Blocked since the last session (the manager's support failed)"),
    ("manager_promises", "The manager's own promises"),
    ("behind_pace", "Behind pace (actual so far under 0.8 of expected so far)"),
    ("due_soon", "Due within 7 days"),
    ("overdue", "Overdue: loops to close or release"),
)


def prep(
    rm: ReadModel,
    rep: str,
    at: Moment,
    manager: str | None = None,
    window_days: int = rules.DEFAULT_WINDOW_DAYS,
) -> dict[str, Any]:
    """The agenda of the rep's next session (SPEC §7.6 ``prep``).

    "Since" is after the rep's latest session dated before D (with
    ``manager``: the latest with that manager) up to D; with no such session,
    the trailing window (D − window_days, D]. ``manager`` keeps the lists to
    commitments agreed with that manager; the signal is the rep's own.
    """
    require_person(rm, at, "rep", rep)
    if manager is not None:
        require_person(rm, at, "manager", manager)
    history = rm.history(rep, at, window_days, known=True)
    sessions = [
        s
        for s in rm.sessions(at, rep=rep, manager=manager)
        if date.fromisoformat(s["date"]) < at.on
    ]
    last = sessions[-1] if sessions else None
    after = date.fromisoformat(last["date"]) if last else at.on - timedelta(days=window_days)
    since = Since(after, at.on)
    items = [i for i in history.items if manager is None or i.facts.manager == manager]
    own = [i for i in items if i.facts.owner == "rep"]

    def closed_since(*verdicts: str) -> list[dict[str, Any]]:
        return [
            i.as_dict()
            for i in own
            if i.evaluation.status == rules.CLOSED
            and i.evaluation.verdict in verdicts
            and i.ended_on in since
        ]

    def promise_due(item: Item) -> bool:
        e = item.evaluation
        if e.status in (rules.OPEN, rules.OVERDUE):
            return True
        return e.verdict in (rules.BROKEN, rules.PARTIAL) and item.ended_on in since

    soon = at.on + timedelta(days=rules.DUE_SOON_DAYS)
    return {
        "rep": rep,
        "on": at.d,
        "last_session": session_object(rm, at, last) if last else None,
        "signal": history.signal.signal,
        "reasons": [{"id": r.id, "verdict": r.verdict} for r in history.signal.reasons],
        "conversation": rules.CONVERSATION[history.signal.signal],
        "wins": closed_since(rules.SUCCEEDED, rules.KEPT),
        "experiments": closed_since(rules.HONEST_MISS),
        "broken": closed_since(rules.BROKEN),
        "blocked": closed_since(rules.BLOCKED),
        "manager_promises": [
            i.as_dict()
            for i in items
            if i.facts.owner == "manager" and i.facts.supports and promise_due(i)
        ],
        "behind_pace": [
            i.as_dict() for i in own if rules.is_behind_pace(i.evaluation.status, i.evaluation.pace)
        ],
        "due_soon": [
            i.as_dict()
            for i in items
            if i.evaluation.status == rules.OPEN and at.on <= i.facts.due <= soon
        ],
        "overdue": [i.as_dict() for i in items if i.evaluation.status == rules.OVERDUE],
        "focus_load": history.focus_load,
        "replies": [],  # replies (SPEC §7.4) are not recorded by this release
        "metrics": activity_metrics(rm, rep, at, window_days),
    }


def activity_metrics(rm: ReadModel, rep: str, at: Moment, window_days: int) -> list[dict[str, Any]]:
    """Per activity metric of the rep: its weekly rate and the team's median
    weekly rate over the trailing window (D − window_days, D]. The team is the
    rep's roster team, else the rep and every rep with activity of that metric
    in the window."""
    first = (at.on - timedelta(days=window_days - 1)).isoformat()
    weeks = window_days / 7
    totals: dict[str, dict[str, float]] = defaultdict(dict)
    for metric, who, total in rm.conn.execute(
        "SELECT metric, rep, total(value) FROM activity_daily WHERE date >= ? AND date <= ? "
        "AND recorded_at <= ? AND metric IN (SELECT DISTINCT metric FROM activity_daily "
        "WHERE rep = ? AND recorded_at <= ? AND date <= ?) GROUP BY metric, rep",
        (first, at.d, at.t, rep, at.t, at.d),
    ):
        totals[metric][who] = total
    mine = [
        r[0]
        for r in rm.conn.execute(
            "SELECT DISTINCT metric FROM activity_daily WHERE rep = ? AND recorded_at <= ? "
            "AND date <= ? ORDER BY metric",
            (rep, at.t, at.d),
        )
    ]
    team = roster_team(rm, rep, at)
    out = []
    for metric in mine:
        by_rep = totals.get(metric, {})
        members = team if team is not None else sorted({*by_rep, rep})
        per_week = [by_rep.get(m, 0.0) / weeks for m in members]
        out.append(
            {
                "metric": metric,
                "rep_per_week": number(by_rep.get(rep, 0.0) / weeks),
                "team_median_per_week": number(median(per_week)) if per_week else None,
            }
        )
    return out


# -- plan --------------------------------------------------------------------------


def plan_object(item: Item) -> dict[str, Any]:
    """The per-commitment object with its hypothesis and the dates check-ins are due."""
    f = item.facts
    return {
        **item.as_dict(),
        "hypothesis": f.hypothesis,
        "expect_metric": f.expect_metric,
        "expect_at_least": number(f.expect_at_least, None),
        "supports": f.supports,
        "check_ins_due": [d.isoformat() for d in rules.check_ins_due(f.start, f.due, f.period)],
    }


def plan(rm: ReadModel, rep: str, at: Moment) -> dict[str, Any]:
    """The rep's open commitments (both owners: the rep's promises and the
    manager's support), with hypotheses and check-in dates (SPEC §7.6 ``plan``)."""
    require_person(rm, at, "rep", rep)
    items = rm.commitments(at, rep=rep)
    return {
        "rep": rep,
        "on": at.d,
        "commitments": [plan_object(i) for i in items if i.evaluation.status == rules.OPEN],
    }


# -- due ---------------------------------------------------------------------------


def due(
    rm: ReadModel,
    at: Moment,
    *,
    manager: str | None = None,
    rep: str | None = None,
    within: int = rules.DUE_WITHIN_DAYS,
) -> dict[str, Any]:
    """Check-ins and closes due in [D, D + within], and every overdue loop (a
    close past its due), of open and overdue commitments (both owners)."""
    if rep is not None:
        require_person(rm, at, "rep", rep)
    if manager is not None:
        require_person(rm, at, "manager", manager)
    horizon = at.on + timedelta(days=within)
    items = []
    for item in rm.commitments(at, rep=rep, manager=manager):
        f, status = item.facts, item.evaluation.status
        base = {"id": f.id, "rep": f.rep, "manager": f.manager, "behavior": f.behavior}
        if status == rules.OVERDUE:
            items.append({"kind": "close", **base, "due_on": f.due.isoformat(), "overdue": True})
        elif status == rules.OPEN:
            for day in rules.check_ins_due(f.start, f.due, f.period):
                if at.on <= day <= horizon:
                    items.append(
                        {"kind": "check-in", **base, "due_on": day.isoformat(), "overdue": False}
                    )
            if f.due <= horizon:
                items.append(
                    {"kind": "close", **base, "due_on": f.due.isoformat(), "overdue": False}
                )
    items.sort(key=lambda x: (x["due_on"], x["kind"] != "check-in", x["rep"], x["id"]))
    return {"on": at.d, "within": within, "items": items}


def ics_uid(item: dict[str, Any]) -> str:
    """A UID stable across runs, so a re-subscribed calendar updates, not duplicates."""
    return f"{item['id']}-{item['kind']}-{item['due_on']}@commitments"


# -- report hypotheses -------------------------------------------------------------


def hypotheses_report(
    rm: ReadModel,
    at: Moment,
    window_days: int = rules.DEFAULT_WINDOW_DAYS,
    manager: str | None = None,
) -> dict[str, Any]:
    """How good each manager's hypotheses were, over rep-owned commitments with a
    hypothesis closed in (D − window_days, D] (SPEC §7.6 ``report hypotheses``)."""
    if manager is not None:
        _valid_text("manager", manager)
    managers = _people(rm, at, "manager")
    if manager is not None and manager not in managers:
        raise _unknown("manager", manager, managers)
    by_manager: dict[str, list[tuple[rules.CommitmentFacts, rules.Evaluation]]] = defaultdict(list)
    for item in rm.commitments(at, manager=manager):
        by_manager[item.facts.manager].append((item.facts, item.evaluation))
    rows = []
    for m in [manager] if manager is not None else managers:
        score = rules.score_hypotheses(by_manager.get(m, []), at.on, window_days)
        rows.append(
            {
                "manager": m,
                "made": score.made,
                "met": score.met,
                "missed": score.missed,
                "unknown": score.unknown,
                "hit_rate": number(score.hit_rate),
                "honest_miss_share": number(score.honest_miss_share),
            }
        )
    return {
        "as_of": at.as_of_text,
        "on": at.d,
        "window_days": window_days,
        "managers": rows,
    }


# -- model -------------------------------------------------------------------------


def _weekly(
    rm: ReadModel, at: Moment, weeks: list[tuple[date, date]], metric: str, rep: str | None
) -> list[float]:
    """The metric's total per week (of one rep, or of every rep when None)."""
    if not weeks:
        return []
    first, last = weeks[0][0], weeks[-1][1]
    sql = (
        "SELECT date, total(value) FROM activity_daily WHERE metric = ? AND date >= ? "
        "AND date <= ? AND recorded_at <= ?"
    )
    params: list[Any] = [metric, first.isoformat(), last.isoformat(), at.t]
    if rep is not None:
        sql += " AND rep = ?"
        params.append(rep)
    totals = [0.0] * len(weeks)
    for day, value in rm.conn.execute(sql + " GROUP BY date", params):
        totals[(date.fromisoformat(day) - first).days // 7] += value
    return totals


def model(
    rm: ReadModel,
    rep: str,
    at: Moment,
    *,
    activity: str,
    outcome: str,
    to: float,
    per: str = "week",
    days: int = 30,
    history_days: int = 180,
    seed: int = 0,
) -> tuple[dict[str, Any], int]:
    """SPEC §7.6 ``model``: if the rep did ``to`` ACTIVITY per ``per`` for ``days``
    days, what OUTCOME would follow, from the rep's weeks of history. Also
    returns how many of the weeks had activity (the table shows it)."""
    if not 0 < to <= MAX_AMOUNT:  # also false for nan
        raise InvalidInput(f"--to must be greater than 0 and at most {MAX_AMOUNT:g}, not {to!r}")
    require_metric(rm, at, "--activity", activity)
    require_metric(rm, at, "--outcome", outcome)
    require_person(rm, at, "rep", rep)
    weeks = rules.history_weeks(at.on, history_days)
    acts = _weekly(rm, at, weeks, activity, rep)
    outs = _weekly(rm, at, weeks, outcome, rep)
    result = rules.scenario(list(zip(acts, outs, strict=True)), to, per, days, seed)
    team_ids = roster_team(rm, rep, at)
    if team_ids is None:
        team_act = sum(_weekly(rm, at, weeks, activity, None))
        team_out = sum(_weekly(rm, at, weeks, outcome, None))
    else:
        team_act = sum(sum(_weekly(rm, at, weeks, activity, r)) for r in team_ids)
        team_out = sum(sum(_weekly(rm, at, weeks, outcome, r)) for r in team_ids)

    def projection(p: rules.Projection) -> dict[str, Any]:
        return {
            "activity": number(p.activity),
            "expected": number(p.expected),
            "p10": number(p.p10),
            "p90": number(p.p90),
        }

    expected = result.planned.expected
    return {
        "rep": rep,
        "activity": activity,
        "outcome": outcome,
        "history_days": history_days,
        "weeks": result.weeks,
        "rate": number(result.rate, 4),
        "planned": projection(result.planned),
        "current": projection(result.current),
        "team": {"rate": number(team_out / team_act, 4) if team_act else None},
        "insufficient_history": result.insufficient_history,
        "suggested": None
        if expected is None
        else f"--expect-metric {shlex.quote(outcome)} --expect-at-least {math.floor(expected)}",
    }, result.active_weeks
