"""Read the tables as of T, on D, and judge commitments with :mod:`ledger.rules`.

This is the one place that turns read-model rows into verdicts; ``show``,
``list``, ``history`` and the reports all call it, so they agree.

Typical use (a report tool)::

    from projections.catchup import ensure_current
    from projections.query import ReadModel, moment

    ensure_current("commitments.db", "commitments.views.db")
    at = moment(as_of="2026-03-01", on=None)           # SPEC §4 defaults
    with ReadModel("commitments.views.db") as rm:
        for item in rm.commitments(at, manager="bob"):
            print(item.facts.id, item.evaluation.verdict, item.as_dict())
        print(rm.history("alice", at).as_dict())

Only rows recorded at or before T (``recorded_at <= T``) and whose business
date is on or before D count; "today" in the rules is D. A commitment agreed
(business date) after D, or recorded after T, does not exist yet.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from ledger import rules
from ledger.calendar import MAX_DATE, MIN_DATE
from ledger.errors import AmbiguousId, InvalidInput, NotFound

from .tables import BY_NAME

# -- the moment of a query -------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """Transaction time T (``as_of``, UTC) and business date D (``on``)."""

    as_of: datetime
    on: date

    @property
    def t(self) -> str:
        """T in the read model's ``recorded_at`` text form."""
        return _iso_z(self.as_of, fraction=True)

    @property
    def d(self) -> str:
        return self.on.isoformat()

    @property
    def as_of_text(self) -> str:
        """T for output: seconds precision unless T has a fraction of a second."""
        return _iso_z(self.as_of, fraction=self.as_of.microsecond not in (0, 999999))


def _iso_z(moment: datetime, *, fraction: bool) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in UTC, the year always 4 digits
    (``strftime("%Y")`` drops the zeros of years before 1000, and the read
    model compares these texts)."""
    m = moment.astimezone(UTC)
    text = f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
    return f"{text}.{m.microsecond:06d}Z" if fraction else f"{text}Z"


def parse_as_of(text: str) -> datetime:
    """``--as-of``: a date (the end of that day, UTC) or an ISO date-time (naive = UTC)."""
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day, time(23, 59, 59, 999999), tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"--as-of: {text!r} is neither a date (YYYY-MM-DD) nor an ISO date-time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"--as-of: {text!r} is out of range in UTC") from None


def parse_on(text: str, option: str = "--on") -> date:
    """``--on`` (or the date ``option`` named): a business date ``YYYY-MM-DD``."""
    try:
        if len(text.strip()) != 10:
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{option}: {text!r} is not a date in YYYY-MM-DD form") from None


def moment(as_of: str | None = None, on: str | None = None, now: datetime | None = None) -> Moment:
    """SPEC §4 defaults: T = now; D = T's date (UTC)."""
    t = parse_as_of(as_of) if as_of else (now or datetime.now(UTC)).astimezone(UTC)
    d = parse_on(on) if on else t.date()
    if not MIN_DATE <= d <= MAX_DATE:
        what = "--on" if on else "--as-of"
        raise InvalidInput(
            f"{what}: the business date {d.isoformat()} is outside {MIN_DATE} to {MAX_DATE}"
        )
    return Moment(t, d)


# -- numbers as the JSON formats want them ----------------------------------


def number(value: float | None, places: int | None = 2) -> int | float | None:
    """Round (``places``), and integral values as ints: 44 not 44.0; None stays None."""
    if value is None:
        return None
    if places is not None:
        value = round(value, places)
    if float(value).is_integer():
        return int(value)
    return value


# -- results ----------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    """One event of a commitment, as ``show`` lists it."""

    position: int
    type: str
    date: str | None
    recorded_at: str
    actor: str | None
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "type": self.type,
            "date": self.date,
            "recorded_at": self.recorded_at,
            "actor": self.actor,
            **self.details,
        }


@dataclass(frozen=True)
class Reply:
    """A reply beside a commitment's verdict (SPEC §7.4), as every output shows it."""

    on: str
    by: str
    text: str
    contests: bool

    def as_dict(self) -> dict[str, Any]:
        return {"on": self.on, "by": self.by, "text": self.text, "contests": self.contests}


@dataclass(frozen=True)
class Item:
    """One commitment as of T, on D: its facts, its evaluation, and what links to it."""

    facts: rules.CommitmentFacts
    evaluation: rules.Evaluation
    supported_by: tuple[str, ...]
    events: int
    recorded_at: str
    agreed_on: str
    position: int
    actor: str | None
    replies: tuple[Reply, ...] = ()

    @property
    def contested(self) -> bool:
        """Whether a visible reply contests the verdict."""
        return any(r.contests for r in self.replies)

    @property
    def ended_on(self) -> date | None:
        """The business date it was closed or released (None while it runs)."""
        f = self.facts
        return f.closed.date if f.closed is not None else f.released

    def as_dict(self) -> dict[str, Any]:
        """The per-commitment object of SPEC §5 (``list``, ``show`` and ``history``),
        plus ``pace`` (actual so far against expected so far) for open commitments."""
        f, e = self.facts, self.evaluation
        pace = None
        if e.pace is not None:
            pace = {
                "expected_so_far": number(e.pace.expected_so_far),
                "actual_so_far": number(e.pace.actual_so_far),
                "ratio": number(e.pace.ratio),
            }
        return {
            "id": f.id,
            "rep": f.rep,
            "owner": f.owner,
            "proposed_by": f.proposed_by,
            "manager": f.manager,
            "focus": f.focus,
            "behavior": f.behavior,
            "target": number(f.target, None),
            "period": f.period,
            "metric": f.metric,
            "start": f.start.isoformat(),
            "due": f.due.isoformat(),
            "status": e.status,
            "expected": number(e.expected),
            "actual": number(e.actual),
            "ratio": number(e.ratio),
            "follow_through": e.follow_through,
            "result": e.result,
            "verdict": e.verdict,
            "supported_by": list(self.supported_by),
            "events": self.events,
            "pace": pace,
            "replies": [r.as_dict() for r in self.replies],
        }

    def terms(self) -> dict[str, Any]:
        """Everything else agreed (for ``show``)."""
        f = self.facts
        return {
            "measure": f.measure,
            "unit": f.unit,
            "baseline": number(f.baseline, None),
            "window_days": self.evaluation.window_days,
            "kept_at": f.kept_at,
            "partial_at": f.partial_at,
            "hypothesis": f.hypothesis,
            "expect_metric": f.expect_metric,
            "expect_at_least": number(f.expect_at_least, None),
            "supports": f.supports,
            "session_id": f.session_id,
            "focus_cap_override": f.focus_cap_override,
            "agreed_on": self.agreed_on,
            "blocked_by": list(self.evaluation.blocked_by),
        }


@dataclass(frozen=True)
class History:
    """A rep's follow-through history (SPEC §4 signal, §5 JSON)."""

    rep: str
    at: Moment
    window_days: int
    signal: rules.Signal
    focus_load: int
    counts: dict[str, int]
    items: tuple[Item, ...]
    sessions: tuple[dict[str, Any], ...] = ()

    @property
    def managers(self) -> list[str]:
        """The managers named on the rep's commitments, sorted (``team``)."""
        return sorted({i.facts.manager for i in self.items})

    def summary(self) -> dict[str, Any]:
        """The rep's entry of ``team --format json`` (SPEC §7.1): the signal,
        its reasons and the counts exactly as ``history`` gives them."""
        signal = self._signal_fields()
        return {"rep": self.rep, "managers": self.managers, **{k: signal[k] for k in TEAM_KEYS}}

    def _signal_fields(self) -> dict[str, Any]:
        return _signal_fields(self.signal, self.focus_load, self.counts)

    def as_dict(self) -> dict[str, Any]:
        """Exactly the JSON of ``history REP --format json`` (SPEC §5, §7.1)."""
        return {
            "rep": self.rep,
            "as_of": self.at.as_of_text,
            "on": self.at.d,
            "window_days": self.window_days,
            **self._signal_fields(),
            "commitments": [i.as_dict() for i in self.items],
            "sessions": list(self.sessions),
        }


TEAM_KEYS = ("signal", "follow_through_rate", "focus_load", "overloaded", "counts", "reasons")


def _signal_fields(signal: rules.Signal, focus_load: int, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "signal": signal.signal,
        "reasons": [{"id": r.id, "verdict": r.verdict} for r in signal.reasons],
        "follow_through_rate": number(signal.follow_through_rate),
        "focus_load": focus_load,
        "overloaded": rules.is_overloaded(focus_load),
        "counts": counts,
    }


@dataclass(frozen=True)
class TeamEntry:
    """A rep's row of ``team``: what :meth:`History.summary` gives of the rep's
    history, without keeping the judged commitments (``team`` holds one row per
    rep of the whole ledger, so it keeps only what it prints)."""

    rep: str
    managers: list[str]
    signal: rules.Signal
    focus_load: int
    counts: dict[str, int]

    def summary(self) -> dict[str, Any]:
        """Exactly :meth:`History.summary` of the same rep's history."""
        signal = _signal_fields(self.signal, self.focus_load, self.counts)
        return {"rep": self.rep, "managers": self.managers, **{k: signal[k] for k in TEAM_KEYS}}

    @classmethod
    def judge(
        cls,
        rep: str,
        pairs: list[tuple[rules.CommitmentFacts, rules.Evaluation]],
        at: Moment,
        window_days: int,
    ) -> TeamEntry:
        """The entry from the rep's judged commitments, as :func:`judge_history` judges them."""
        own = [e for f, e in pairs if f.owner == "rep"]
        return cls(
            rep=rep,
            managers=sorted({f.manager for f, _ in pairs}),
            signal=rules.rep_signal(pairs, at.on, window_days),
            focus_load=rules.focus_load(pairs),
            counts=rules.verdict_counts(own),
        )


def judge_history(
    rep: str,
    items: Iterable[Item],
    at: Moment,
    window_days: int,
    sessions: Iterable[dict[str, Any]] = (),
) -> History:
    """A rep's history from their judged commitments (``history`` and ``team``)."""
    items = tuple(items)
    pairs = [(i.facts, i.evaluation) for i in items]
    own = [e for f, e in pairs if f.owner == "rep"]
    return History(
        rep=rep,
        at=at,
        window_days=window_days,
        signal=rules.rep_signal(pairs, at.on, window_days),
        focus_load=rules.focus_load(pairs),
        counts=rules.verdict_counts(own),
        items=items,
        sessions=tuple(sessions),
    )


# -- the reader ----------------------------------------------------------------

_COMMITMENT_COLS = ", ".join(BY_NAME["commitments"].names)


@dataclass
class _Rows:
    """Visible rows of one commitment, before the rules."""

    base: sqlite3.Row
    revisions: list[sqlite3.Row] = field(default_factory=list)
    check_ins: list[sqlite3.Row] = field(default_factory=list)
    corrections: list[sqlite3.Row] = field(default_factory=list)
    close: sqlite3.Row | None = None
    release: sqlite3.Row | None = None
    replies: list[sqlite3.Row] = field(default_factory=list)


class ReadModel:
    """Read-only access to the read-model file (catch up first: :func:`ensure_current`)."""

    def __init__(self, views_path: str) -> None:
        self.conn = sqlite3.connect(f"file:{views_path}?mode=ro", uri=True, timeout=30)
        self.conn.row_factory = sqlite3.Row

    def pin(self) -> tuple[Any, ...] | None:
        """Begin the read transaction every later query reads from, and return
        the tracking row it sees: ``(position, source, ledger_id, event_hash)``,
        or None."""
        self.conn.execute("BEGIN")
        row = self.conn.execute(
            "SELECT position, source, ledger_id, event_hash FROM tracking WHERE name = 'ledger'"
        ).fetchone()
        return None if row is None else (int(row[0]), row[1], row[2], row[3])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ReadModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commitments ---------------------------------------------------------

    def commitments(
        self,
        at: Moment,
        *,
        rep: str | None = None,
        manager: str | None = None,
        ids: Iterable[str] | None = None,
    ) -> list[Item]:
        """Commitments visible at ``at``, judged; filtered by rep, manager or ids.

        Blocking needs a rep's other commitments, so whole reps are loaded and
        judged, then filtered. Ordered by rep, start, then ledger position.
        """
        where, params = self._rep_scope(rep=rep, manager=manager, ids=ids)
        items = self._judge(at, where, params)
        if manager is not None:
            items = [i for i in items if i.facts.manager == manager]
        if ids is not None:
            wanted = set(ids)
            items = [i for i in items if i.facts.id in wanted]
        return items

    def item(self, commitment_id: str, at: Moment) -> Item:
        """One commitment, or :class:`NotFound` if it did not exist at ``at``."""
        found = self.commitments(at, ids=[commitment_id])
        if not found:
            row = self.conn.execute(
                "SELECT recorded_at, agreed_on FROM commitments WHERE id = ?", (commitment_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no commitment with id {commitment_id}")
            raise NotFound(
                f"commitment {commitment_id} did not exist yet as of {at.as_of_text} on {at.d} "
                f"(recorded {row['recorded_at']}, agreed on {row['agreed_on']})"
            )
        return found[0]

    def history(
        self,
        rep: str,
        at: Moment,
        window_days: int = rules.DEFAULT_WINDOW_DAYS,
        *,
        known: bool = False,
    ) -> History:
        """A rep's commitments, signal, counts and focus load (SPEC §4, §5).
        :class:`NotFound` for a rep with no commitment or session, unless the
        caller already ``known`` the rep (a rep with CRM activity only)."""
        items = self.commitments(at, rep=rep)
        if not items and not known and not self._rep_known(rep, at):
            self.require_person(rep, "rep")
            raise NotFound(f"no commitments or sessions for rep {rep!r} as of {at.as_of_text}")
        sessions = self.session_objects(at.t, on=at.d, rep=rep)
        return judge_history(rep, items, at, window_days, sessions)

    TEAM_BATCH = 200
    """Reps judged together by :meth:`team`: its memory is one batch's rows."""

    def team(
        self, at: Moment, window_days: int = rules.DEFAULT_WINDOW_DAYS, manager: str | None = None
    ) -> list[TeamEntry]:
        """One entry per rep with a rep-owned commitment visible at ``at`` (with
        ``manager``: one agreed with that manager), by rep; each is what the rep's
        whole history (:meth:`history`) says, as :meth:`History.summary` gives it.

        The reps are judged a batch at a time and only their entries are kept,
        so the memory is one batch's rows whatever the ledger's size; the time
        is that of the commitments shown (every rep's, without ``manager``)."""
        sql = (
            "SELECT DISTINCT rep FROM commitments WHERE owner = 'rep' "
            "AND recorded_at <= ? AND agreed_on <= ?"
        )
        params: list[Any] = [at.t, at.d]
        if manager is not None:
            sql += " AND manager = ?"
            params.append(manager)
        reps = sorted(r[0] for r in self.conn.execute(sql, params))
        out = []
        for first in range(0, len(reps), self.TEAM_BATCH):
            batch = reps[first : first + self.TEAM_BATCH]
            by_rep = self._judge_pairs(at, f"rep IN ({','.join('?' * len(batch))})", batch)
            out += [TeamEntry.judge(rep, by_rep.get(rep, []), at, window_days) for rep in batch]
        return out

    # -- people ----------------------------------------------------------------

    def people(self, role: str) -> set[str]:
        """Everyone the read model names as ``role`` (``rep`` or ``manager``), at any time."""
        if role not in ("rep", "manager"):
            raise ValueError(role)
        sql = f"SELECT {role} FROM commitments UNION SELECT {role} FROM sessions"
        return {r[0] for r in self.conn.execute(sql)}

    def require_person(self, name: str, role: str) -> None:
        """:class:`NotFound` (with the closest known names) unless the ledger names
        ``name`` as a ``role`` anywhere."""
        from .names import unknown_person_message

        row = self.conn.execute(
            f"SELECT 1 FROM commitments WHERE {role} = ? UNION ALL "
            f"SELECT 1 FROM sessions WHERE {role} = ? LIMIT 1",
            (name, name),
        ).fetchone()
        if row is None and role == "rep" and self._registered(name):  # rostered, nothing yet
            return
        if row is None:
            raise NotFound(unknown_person_message(role, name, self.people(role)))

    def named(self, name: str | None, role: str) -> str | None:
        """A ``--rep`` or ``--manager`` filter as given: None stays None, a name
        is stripped and must be known as ``role`` (:meth:`require_person`)."""
        if name is None:
            return None
        name = name.strip()
        self.require_person(name, role)
        return name

    def _registered(self, name: str) -> bool:
        """Whether the people registry holds ``name`` (not erased)."""
        try:
            row = self.conn.execute(
                "SELECT 1 FROM people WHERE name = ? AND erased = 0 LIMIT 1", (name,)
            ).fetchone()
        except sqlite3.OperationalError:  # a views file without the registry
            return False
        return row is not None

    # -- sessions ----------------------------------------------------------------

    def session_objects(
        self,
        t: str,
        *,
        on: str | None = None,
        rep: str | None = None,
        manager: str | None = None,
        first: str | None = None,
        last: str | None = None,
        ids: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Sessions recorded at or before ``t`` (and dated on or before ``on``),
        dated within [first, last], as the JSON of ``session show`` (SPEC §7.1),
        by date: each with the ids of the commitments agreed with ``--session``
        visible at the same moment."""
        import json

        sql = "SELECT * FROM sessions WHERE recorded_at <= ?"
        params: list[Any] = [t]
        for column, op, value in (
            ("date", "<=", on),
            ("date", ">=", first),
            ("date", "<=", last),
            ("rep", "=", rep),
            ("manager", "=", manager),
        ):
            if value is not None:
                sql += f" AND {column} {op} ?"
                params.append(value)
        if ids is not None:
            id_list = list(ids)
            sql += f" AND id IN ({','.join('?' * len(id_list)) or 'NULL'})"
            params += id_list
        rows = list(self.conn.execute(sql + " ORDER BY date, position", params))
        agreed: dict[str, list[str]] = defaultdict(list)
        if rows:
            csql = (
                "SELECT session_id, id FROM commitments WHERE session_id IN "
                f"({','.join('?' * len(rows))}) AND recorded_at <= ?"
            )
            cparams: list[Any] = [r["id"] for r in rows] + [t]
            if on is not None:
                csql += " AND agreed_on <= ?"
                cparams.append(on)
            for r in self.conn.execute(csql + " ORDER BY position", cparams):
                agreed[r["session_id"]].append(r["id"])
        return [
            {
                "id": r["id"],
                "rep": r["rep"],
                "manager": r["manager"],
                "on": r["date"],
                "prepared": bool(r["prepared"]),
                "strengths": json.loads(r["strengths"]),
                "focus": json.loads(r["focus_areas"]),
                "note": r["note"],
                "commitments": agreed.get(r["id"], []),
            }
            for r in rows
        ]

    def reps(self, at: Moment, manager: str | None = None) -> list[str]:
        """Reps with a commitment or a session visible at ``at`` (optionally of one manager)."""
        sql = (
            "SELECT rep FROM commitments WHERE recorded_at <= ? AND agreed_on <= ? {m} "
            "UNION SELECT rep FROM sessions WHERE recorded_at <= ? AND date <= ? {m} ORDER BY rep"
        ).format(m="AND manager = ?" if manager is not None else "")
        part = [at.t, at.d] + ([manager] if manager is not None else [])
        return [r[0] for r in self.conn.execute(sql, part + part)]

    def sessions(
        self, at: Moment, *, rep: str | None = None, manager: str | None = None
    ) -> list[dict[str, Any]]:
        """Coaching sessions visible at ``at`` as dicts (strengths/focus_areas as lists)."""
        import json

        sql = "SELECT * FROM sessions WHERE recorded_at <= ? AND date <= ?"
        params: list[Any] = [at.t, at.d]
        if rep is not None:
            sql += " AND rep = ?"
            params.append(rep)
        if manager is not None:
            sql += " AND manager = ?"
            params.append(manager)
        out = []
        for row in self.conn.execute(sql + " ORDER BY date, position", params):
            d = dict(row)
            d["prepared"] = bool(d["prepared"])
            d["strengths"] = json.loads(d["strengths"])
            d["focus_areas"] = json.loads(d["focus_areas"])
            out.append(d)
        return out

    def log(self, commitment_id: str, at: Moment) -> list[LogEntry]:
        """The commitment's events visible at ``at``, in ledger order."""
        t, d = at.t, at.d
        cid = (commitment_id,)
        q = self.conn.execute
        out: list[LogEntry] = []
        for r in q(
            f"SELECT {_COMMITMENT_COLS} FROM commitments WHERE id = ? AND recorded_at <= ? "
            "AND agreed_on <= ?",
            (*cid, t, d),
        ):
            out.append(
                LogEntry(
                    r["position"],
                    "agreed",
                    r["agreed_on"],
                    r["recorded_at"],
                    r["actor"],
                    {"target": number(r["target"], None), "period": r["period"], "due": r["due"]},
                )
            )
        for r in q(_visible("revisions", "commitment_id = ?"), (*cid, t, d)):
            out.append(_entry(r, "revised", ("reason", "target", "period", "due", "behavior")))
        for r in q(_visible("check_ins", "commitment_id = ?"), (*cid, t, d)):
            out.append(_entry(r, "checked_in", ("number", "actual", "done", "note")))
        for r in q(_visible("corrections", "commitment_id = ?"), (*cid, t, d)):
            out.append(_entry(r, "corrected", ("check_in", "actual", "done", "reason")))
        for r in q(_visible("closes", "commitment_id = ?"), (*cid, t, d)):
            out.append(_entry(r, "closed", ("result", "value", "note")))
        for r in q(_visible("releases", "commitment_id = ?"), (*cid, t, d)):
            out.append(_entry(r, "released", ("reason",)))
        for r in q(_visible("replies", "commitment_id = ?"), (*cid, t, d)):
            out.append(_entry(r, "replied", ("by", "text", "contests")))
        out.sort(key=lambda e: e.position)
        return out

    def resolve(self, ref: str, kind: str = "commitment") -> str:
        """A full commitment (or ``kind="session"``) id, or a unique prefix of at
        least 6 hex digits, as the full id."""
        table = {"commitment": "commitments", "session": "sessions"}[kind]
        text = ref.strip().lower().replace("-", "")
        if len(text) < 6 or len(text) > 32 or any(ch not in "0123456789abcdef" for ch in text):
            raise InvalidInput(
                f"{ref!r} is not a {kind} id (give the full id or at least 6 of its first digits)"
            )
        dashed = "-".join(
            part for part in (text[:8], text[8:12], text[12:16], text[16:20], text[20:]) if part
        )
        rows = [
            r[0]
            for r in self.conn.execute(
                f"SELECT id FROM {table} WHERE id GLOB ? ORDER BY id LIMIT 11", (dashed + "*",)
            )
        ]
        if not rows:
            raise unknown_id(ref, kind)
        if len(rows) > 1:
            raise AmbiguousId(ref, rows)
        return str(rows[0])

    def people_of(self, kind: str, ident: str) -> tuple[str, str] | None:
        """The rep and manager named on a commitment or session (any time), or None."""
        table = {"commitment": "commitments", "session": "sessions"}[kind]
        row = self.conn.execute(
            f"SELECT rep, manager FROM {table} WHERE id = ?", (ident,)
        ).fetchone()
        return None if row is None else (row["rep"], row["manager"])

    # -- internals -----------------------------------------------------------

    def _rep_known(self, rep: str, at: Moment) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sessions WHERE rep = ? AND recorded_at <= ? AND date <= ? LIMIT 1",
            (rep, at.t, at.d),
        ).fetchone()
        return row is not None

    @staticmethod
    def _rep_scope(
        *, rep: str | None, manager: str | None, ids: Iterable[str] | None
    ) -> tuple[str, list[Any]]:
        if rep is not None:
            return "rep = ?", [rep]
        if ids is not None:
            id_list = list(ids)
            marks = ",".join("?" * len(id_list)) or "NULL"
            return f"rep IN (SELECT rep FROM commitments WHERE id IN ({marks}))", id_list
        if manager is not None:
            return "rep IN (SELECT rep FROM commitments WHERE manager = ?)", [manager]
        return "1", []

    def _judge_pairs(
        self, at: Moment, where: str, params: list[Any]
    ) -> dict[str, list[tuple[rules.CommitmentFacts, rules.Evaluation]]]:
        """The visible commitments of whole reps (``where`` selects by rep), judged
        as :meth:`_judge` judges them, as (facts, evaluation) by rep, in the same
        order; without the replies and links an :class:`Item` carries."""
        rows = self._visible_rows(at, where, params, replies=False)
        facts = {cid: _facts(r) for cid, r in rows.items()}
        sums = MetricSums(self.conn, at)
        evaluations = {
            cid: rules.evaluate(f, at.on, sums.for_rep(f.rep)) for cid, f in facts.items()
        }
        evaluations = rules.apply_blocking(evaluations, facts)
        by_rep: dict[str, list[tuple[rules.CommitmentFacts, rules.Evaluation]]] = defaultdict(list)
        for cid, f in facts.items():
            by_rep[f.rep].append((f, evaluations[cid]))
        return by_rep

    def _visible_rows(
        self, at: Moment, where: str, params: list[Any], *, replies: bool = True
    ) -> dict[str, _Rows]:
        """Each visible commitment's visible rows, by id, ordered by rep, start, position."""
        t, d = at.t, at.d
        q = self.conn.execute
        rows: dict[str, _Rows] = {}
        for r in q(
            f"SELECT {_COMMITMENT_COLS} FROM commitments WHERE ({where}) "
            "AND recorded_at <= ? AND agreed_on <= ? ORDER BY rep, start, position",
            (*params, t, d),
        ):
            rows[r["id"]] = _Rows(r)
        if not rows:
            return rows
        tables = ["revisions", "check_ins", "corrections", "closes", "releases"]
        for table in tables + ["replies"] * replies:
            sql = _visible(table, f"({where})", _JUDGED_COLUMNS[table])
            for r in q(sql, (*params, t, d)):
                entry = rows.get(r["commitment_id"])
                if entry is None:
                    continue
                if table == "closes":
                    entry.close = r
                elif table == "releases":
                    entry.release = r
                else:
                    getattr(entry, table).append(r)
        return rows

    def _judge(self, at: Moment, where: str, params: list[Any]) -> list[Item]:
        rows = self._visible_rows(at, where, params)
        if not rows:
            return []
        facts = {cid: _facts(r) for cid, r in rows.items()}
        sums = MetricSums(self.conn, at)
        evaluations = {
            cid: rules.evaluate(f, at.on, sums.for_rep(f.rep)) for cid, f in facts.items()
        }
        evaluations = rules.apply_blocking(evaluations, facts)
        supporters: dict[str, list[str]] = defaultdict(list)
        for f in facts.values():
            if f.owner == "manager" and f.supports:
                supporters[f.supports].append(f.id)
        items = []
        for cid, r in rows.items():
            events = 1 + len(r.revisions) + len(r.check_ins) + len(r.corrections)
            events += (r.close is not None) + (r.release is not None) + len(r.replies)
            items.append(
                Item(
                    facts=facts[cid],
                    evaluation=evaluations[cid],
                    supported_by=tuple(supporters.get(cid, ())),
                    events=events,
                    recorded_at=r.base["recorded_at"],
                    agreed_on=r.base["agreed_on"],
                    position=r.base["position"],
                    actor=r.base["actor"],
                    replies=tuple(
                        Reply(x["date"], x["by"], x["text"], bool(x["contests"])) for x in r.replies
                    ),
                )
            )
        return items


def unknown_id(ref: str, kind: str = "commitment") -> NotFound:
    """What :meth:`ReadModel.resolve` raises for an id or prefix it does not find
    (the server raises the same for one the caller may not see)."""
    return NotFound(f"no {kind} with an id starting {ref!r}")


def _visible(table: str, where: str, columns: str = "*") -> str:
    return (
        f"SELECT {columns} FROM {table} WHERE {where} AND recorded_at <= ? AND date <= ? "
        "ORDER BY position"
    )


_JUDGED_COLUMNS = {
    "revisions": "commitment_id, target, period, due, behavior",
    "check_ins": "commitment_id, number, date, actual, done",
    "corrections": 'commitment_id, "check_in", actual, done',
    "closes": "commitment_id, date, result, value",
    "releases": "commitment_id, date",
    "replies": 'commitment_id, date, "by", text, contests',
}
"""The columns :func:`_facts` and an :class:`Item`'s replies read of each table
(the rest, notes and reasons, only ``show``'s log prints)."""


def _entry(row: sqlite3.Row, kind: str, keys: tuple[str, ...]) -> LogEntry:
    details: dict[str, Any] = {}
    for k in keys:
        v = row[k]
        if k in ("done", "contests") and v is not None:
            v = bool(v)
        elif isinstance(v, float):
            v = number(v, None)
        details[k] = v
    return LogEntry(row["position"], kind, row["date"], row["recorded_at"], row["actor"], details)


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _revision(row: Any) -> rules.Revision:
    """A ``revisions`` row (``target``, ``period``, ``due``, ``behavior``) as the rules take it."""
    return rules.Revision(row["target"], row["period"], _d(row["due"]), row["behavior"])


def _check_in(row: Any) -> rules.CheckIn:
    """A ``check_ins`` row (``number``, ``date``, ``actual``, ``done``) as the rules take it."""
    return rules.CheckIn(
        row["number"], date.fromisoformat(row["date"]), row["actual"], _flag(row["done"])
    )


def _correction(row: Any) -> rules.Correction:
    """A ``corrections`` row (``check_in``, ``actual``, ``done``) as the rules take it."""
    return rules.Correction(row["check_in"], row["actual"], _flag(row["done"]))


def commitment_facts(
    base: Any,
    *,
    revisions: Iterable[Any] = (),
    check_ins: Iterable[Any] = (),
    corrections: Iterable[Any] = (),
    close: Any = None,
    release: Any = None,
) -> rules.CommitmentFacts:
    """A commitment's facts from its ``commitments`` row (``base``, by column
    name) and its visible rows of ``revisions``, ``check_ins`` and
    ``corrections`` (ledger order), ``closes`` (``date``, ``result``,
    ``value``) and ``releases`` (``date``): the revisions and corrections
    applied by :mod:`ledger.rules`."""
    agreed = rules.Terms(
        base["behavior"], base["target"], base["period"], date.fromisoformat(base["due"])
    )
    terms = rules.revised(agreed, map(_revision, revisions))
    closed = None
    if close is not None:
        closed = rules.Close(date.fromisoformat(close["date"]), close["result"], close["value"])
    return rules.CommitmentFacts(
        id=base["id"],
        rep=base["rep"],
        manager=base["manager"],
        owner=base["owner"],
        focus=base["focus"],
        behavior=terms.behavior,
        measure=base["measure"],
        start=date.fromisoformat(base["start"]),
        due=terms.due,
        target=terms.target,
        period=terms.period,
        unit=base["unit"],
        metric=base["metric"],
        baseline=base["baseline"],
        kept_at=base["kept_at"],
        partial_at=base["partial_at"],
        hypothesis=base["hypothesis"],
        expect_metric=base["expect_metric"],
        expect_at_least=base["expect_at_least"],
        supports=base["supports"],
        session_id=base["session_id"],
        focus_cap_override=base["focus_cap_override"],
        proposed_by=base["proposed_by"],
        check_ins=rules.apply_corrections(map(_check_in, check_ins), map(_correction, corrections)),
        closed=closed,
        released=_d(release["date"]) if release is not None else None,
    )


def _facts(r: _Rows) -> rules.CommitmentFacts:
    return commitment_facts(
        r.base,
        revisions=r.revisions,
        check_ins=r.check_ins,
        corrections=r.corrections,
        close=r.close,
        release=r.release,
    )


class MetricSums:
    """``metric_sum`` for the rules, from ``activity_daily``: dated within the
    range and on or before D, recorded at or before T."""

    def __init__(self, conn: sqlite3.Connection, at: Moment) -> None:
        self.conn = conn
        self.at = at
        self.cache: dict[tuple[str, str, date, date], float] = {}

    def for_rep(self, rep: str) -> rules.MetricSum:
        def metric_sum(metric: str, first: date, last: date) -> float:
            key = (rep, metric, first, last)
            found = self.cache.get(key)
            if found is None:
                last = min(last, self.at.on)
                row = self.conn.execute(
                    "SELECT total(value) FROM activity_daily WHERE rep = ? AND metric = ? "
                    "AND date >= ? AND date <= ? AND recorded_at <= ?",
                    (rep, metric, first.isoformat(), last.isoformat(), self.at.t),
                ).fetchone()
                found = self.cache[key] = float(row[0])
            return found

        return metric_sum
