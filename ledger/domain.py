"""Aggregates and their events (SPEC §3).

Each aggregate validates in a public method, then triggers an event whose
``apply`` only changes state: ``apply`` runs again on every replay, so it
never refuses and never looks at the clock. Every event carries the actor who
recorded it and, where it has one, its business date. Event classes are
nested on their aggregate, so their stored topic is ``ledger.domain:Agg.Event``;
renaming one needs ``eventsourcing.utils.register_topic``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from . import rules
from .errors import (
    CommitmentNotOpen,
    DateOutOfRange,
    FocusCapExceeded,
    InvalidInput,
    InvalidSupport,
    NotFound,
    PersonErased,
    ReplyRefused,
    RevisionAfterDue,
    SessionMismatch,
)
from .streams import LEDGER_STREAM as LEDGER_STREAM  # re-exported
from .streams import NAMESPACE as NAMESPACE


@functools.lru_cache(maxsize=1 << 16)  # a uuid5 per command otherwise (the demo: thousands)
def workload_id(rep: str) -> UUID:
    """The stable id of a rep's workload aggregate, from the rep's person
    reference: the subject id (hyphenated) since release 3, so no name is in
    a new stream id; a store written before that has workloads keyed by the
    rep's name (a legacy person reference), which stay where they are."""
    return uuid5(NAMESPACE, "rep-workload:" + rep)


def activity_id(metric: str, source_id: str) -> UUID:
    """The stable id of one activity row: the same (metric, source id) is one
    event. It is ``uuid5(NAMESPACE, f"activity:{metric}\\x1f{source_id}")``,
    computed by :func:`activity_ids` (the importer's per-row ids are the same)."""
    return UUID(activity_ids(metric)(source_id))


@functools.lru_cache(maxsize=256)
def activity_ids(metric: str) -> Callable[[str], str]:
    """``source id -> activity_id(metric, source id).hex`` for one metric: the
    one place activity ids are computed, per row of an import (tens of
    thousands a second), without building ``UUID`` objects.

    RFC 4122 §4.3's name-based SHA-1 UUID, as :func:`uuid.uuid5` computes it
    (tests compare the two): the SHA-1 of the namespace's 16 bytes and the
    name's UTF-8, of which the first 16 bytes are kept, with version 5 in the
    high nibble of byte 6 (hex digit 12) and the variant ``10`` in the high
    bits of byte 8 (hex digit 16). The namespace and the ``activity:{metric}``
    prefix are hashed once; each row only adds its source id."""
    prefix = hashlib.sha1(NAMESPACE.bytes + f"activity:{metric}\x1f".encode())
    copy, variant = prefix.copy, _VARIANT

    def hex_id(source_id: str) -> str:
        h = copy()
        h.update(source_id.encode())
        x = h.hexdigest()
        return f"{x[:12]}5{x[13:16]}{variant[x[16]]}{x[17:32]}"

    return hex_id


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}
"""A hex digit with its top two bits set to the RFC 4122 variant ``10``."""


def _legacy_names(state: dict[str, Any]) -> None:
    """The upcast of an event written before release 3, whose person fields
    (``rep``, ``manager``, ``actor``) held names: the shape is unchanged, only
    the meaning differs, so the state is kept as stored and its names are read
    as *legacy person references* (see :func:`is_subject`, docs/events.md)."""


def is_subject(ref: str) -> bool:
    """Whether a person reference is a subject id (hyphenated UUID text), as
    every event since release 3 writes; anything else is a legacy name."""
    if len(ref) != 36:
        return False
    try:
        return str(UUID(ref)) == ref
    except ValueError:
        return False


class CoachingSession(Aggregate):
    """A dated meeting of a manager and a rep."""

    class Held(Aggregate.Created):
        """A coaching session took place: who, when, whether the rep came
        prepared, what is going well and the focus areas chosen."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        rep: str
        manager: str
        date: date
        prepared: bool
        strengths: list[str]
        focus_areas: list[str]
        note: str | None
        actor: str

    def __init__(
        self,
        rep: str,
        manager: str,
        date: date,
        prepared: bool,
        strengths: list[str],
        focus_areas: list[str],
        note: str | None,
        actor: str,
    ) -> None:
        self.rep = rep
        self.manager = manager
        self.date = date
        self.prepared = prepared
        self.strengths = list(strengths)
        self.focus_areas = list(focus_areas)
        self.note = note

    @classmethod
    def hold(cls, *, at: datetime, **fields: Any) -> CoachingSession:
        return cls._create(cls.Held, id=uuid4(), timestamp=at, **fields)

    def check_agreement_of(self, rep: str, manager: str) -> None:
        """*Input rule* (SPEC §7.1): a commitment agreed ``--session`` S has
        S's rep and S's manager."""
        if self.rep != rep or self.manager != manager:
            raise SessionMismatch(
                f"session {self.id} was held by {self.manager!r} with {self.rep!r}, "
                f"not by {manager!r} with {rep!r}"
            )


@dataclass
class CheckInState:
    """One check-in as the aggregate holds it, corrections applied."""

    number: int
    date: date
    actual: float | None
    done: bool | None
    note: str | None
    corrections: int = 0


@dataclass
class Terms:
    """The current terms of a commitment (latest revision applied)."""

    behavior: str
    target: float | None
    period: str | None
    due: date
    revisions: list[date] = field(default_factory=list)


class Commitment(Aggregate):
    """A promise by its owner (rep or manager) to perform a behaviour between
    start and due, with an optional hypothesis of its effect on results."""

    class Agreed(Aggregate.Created):
        """A commitment was agreed: its owner, focus area, behaviour and
        measure (a count ``target`` per ``period``, optionally read from an
        activity ``metric``, or a one-off ``done``), the window ``start`` to
        ``due`` (inclusive), the hypothesis, the session it came from, the rep
        commitment it ``supports`` (manager commitments only), the kept and
        partial thresholds, and the focus-cap override reason if one was
        needed. ``on`` is the business date of the agreement. ``proposed_by``
        (since version 2): who proposed it, ``rep`` (a rep who manages
        themselves) or ``manager``; version 1 agreements were the manager's."""

        class_version = 3
        rep: str
        manager: str
        owner: str
        focus: str
        behavior: str
        measure: str
        target: float | None
        period: str | None
        unit: str | None
        metric: str | None
        baseline: float | None
        start: date
        due: date
        hypothesis: str | None
        expect_metric: str | None
        expect_at_least: float | None
        session_id: UUID | None
        supports: UUID | None
        kept_at: float
        partial_at: float
        focus_cap_override: str | None
        on: date
        actor: str
        proposed_by: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["proposed_by"] = "manager"

        upcast_v2_v3 = staticmethod(_legacy_names)

    class CheckInRecorded(Aggregate.Event):
        """The owner reported progress on ``date``: an ``actual`` amount
        (count measure) or ``done`` (done measure)."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        date: date
        actual: float | None
        done: bool | None
        note: str | None
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Commitment)
            aggregate.check_ins.append(
                CheckInState(
                    number=len(aggregate.check_ins) + 1,
                    date=self.date,
                    actual=self.actual,
                    done=self.done,
                    note=self.note,
                )
            )

    class CheckInCorrected(Aggregate.Event):
        """Check-in number ``check_in`` (1-based) is corrected to a new
        ``actual`` or ``done``; ``date`` is the corrected check-in's date."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        check_in: int
        date: date
        actual: float | None
        done: bool | None
        reason: str
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Commitment)
            entry = aggregate.check_ins[self.check_in - 1]
            fixed = rules.correct(
                rules.CheckIn(entry.number, entry.date, entry.actual, entry.done),
                rules.Correction(self.check_in, self.actual, self.done),
            )
            entry.actual, entry.done = fixed.actual, fixed.done
            entry.corrections += 1

    class Revised(Aggregate.Event):
        """The terms were renegotiated on ``date`` (before the due date): any
        of a new target, period, due date or behaviour text."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        date: date
        reason: str
        target: float | None
        period: str | None
        due: dt.date | None
        behavior: str | None
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Commitment)
            terms = aggregate.terms
            now = rules.revise(
                rules.Terms(terms.behavior, terms.target, terms.period, terms.due),
                rules.Revision(self.target, self.period, self.due, self.behavior),
            )
            terms.behavior, terms.target, terms.period = now.behavior, now.target, now.period
            terms.due = now.due
            terms.revisions.append(self.date)

    class Released(Aggregate.Event):
        """The commitment was released on ``date``: circumstances changed.
        Neutral; it counts for nobody and against nobody."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        date: date
        reason: str
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Commitment)
            aggregate.released_on = self.date

    class Closed(Aggregate.Event):
        """The loop was closed on ``date``, optionally with the ``result``
        (met, missed, unknown) and a result value."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        date: date
        result: str | None
        value: float | None
        note: str | None
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Commitment)
            aggregate.closed_on = self.date
            aggregate.result = self.result

    class Replied(Aggregate.Event):
        """The judged person answered: ``by`` (the commitment's rep or
        manager) replied on ``date`` with ``text``, contesting the verdict when
        ``contests``. A reply stands beside the verdict; it never changes it."""

        date: date
        by: str
        text: str
        contests: bool
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Commitment)
            aggregate.replies.append((self.date, self.by, self.contests))

    def __init__(
        self,
        rep: str,
        manager: str,
        owner: str,
        focus: str,
        behavior: str,
        measure: str,
        target: float | None,
        period: str | None,
        unit: str | None,
        metric: str | None,
        baseline: float | None,
        start: date,
        due: date,
        hypothesis: str | None,
        expect_metric: str | None,
        expect_at_least: float | None,
        session_id: UUID | None,
        supports: UUID | None,
        kept_at: float,
        partial_at: float,
        focus_cap_override: str | None,
        on: date,
        actor: str,
        proposed_by: str = "manager",
    ) -> None:
        self.rep = rep
        self.manager = manager
        self.owner = owner
        self.focus = focus
        self.measure = measure
        self.unit = unit
        self.metric = metric
        self.baseline = baseline
        self.start = start
        self.hypothesis = hypothesis
        self.expect_metric = expect_metric
        self.expect_at_least = expect_at_least
        self.session_id = session_id
        self.supports = supports
        self.kept_at = kept_at
        self.partial_at = partial_at
        self.focus_cap_override = focus_cap_override
        self.proposed_by = proposed_by
        self.agreed_on = on
        self.terms = Terms(behavior=behavior, target=target, period=period, due=due)
        self.check_ins: list[CheckInState] = []
        self.closed_on: date | None = None
        self.released_on: date | None = None
        self.result: str | None = None
        self.replies: list[tuple[date, str, bool]] = []

    # -- queries ---------------------------------------------------------

    @property
    def is_active(self) -> bool:
        """Open or overdue: neither closed nor released."""
        return self.closed_on is None and self.released_on is None

    @property
    def state_word(self) -> str:
        if self.closed_on is not None:
            return f"closed on {self.closed_on}"
        if self.released_on is not None:
            return f"released on {self.released_on}"
        return "open"

    def _require_active(self, verb: str) -> None:
        if not self.is_active:
            raise CommitmentNotOpen(f"cannot {verb}: commitment {self.id} is {self.state_word}")

    # -- commands --------------------------------------------------------

    @classmethod
    def agree(cls, *, at: datetime, **fields: Any) -> Commitment:
        if fields["due"] < fields["start"]:
            raise InvalidInput(f"due {fields['due']} is before start {fields['start']}")
        return cls._create(cls.Agreed, id=uuid4(), timestamp=at, **fields)

    def check_supportable_by(self, rep: str) -> None:
        """Refuse unless this is a rep-owned commitment of ``rep``."""
        if self.owner != "rep" or self.rep != rep:
            raise InvalidSupport(
                f"supports: {self.id} is a {self.owner}-owned commitment of {self.rep!r}, "
                f"not a rep-owned commitment of {rep!r}"
            )

    def record_check_in(
        self,
        *,
        at: datetime,
        date: date,
        actual: float | None,
        done: bool | None,
        note: str | None,
        actor: str,
    ) -> None:
        self._require_active("check in")
        if date < self.start:
            raise DateOutOfRange(f"check-in date {date} is before the start {self.start}")
        self._require_measure(actual, done)
        self.trigger_event(
            self.CheckInRecorded,
            timestamp=at,
            date=date,
            actual=actual,
            done=done,
            note=note,
            actor=actor,
        )

    def correct_check_in(
        self,
        *,
        at: datetime,
        number: int,
        actual: float | None,
        done: bool | None,
        reason: str,
        actor: str,
    ) -> None:
        if not 1 <= number <= len(self.check_ins):
            raise NotFound(
                f"check-in {number} does not exist: commitment {self.id} "
                f"has {len(self.check_ins)} check-in(s)"
            )
        self._require_measure(actual, done)
        self.trigger_event(
            self.CheckInCorrected,
            timestamp=at,
            check_in=number,
            date=self.check_ins[number - 1].date,
            actual=actual,
            done=done,
            reason=reason,
            actor=actor,
        )

    def revise(
        self,
        *,
        at: datetime,
        date: date,
        reason: str,
        target: float | None,
        period: str | None,
        due: date | None,
        behavior: str | None,
        actor: str,
    ) -> None:
        self._require_active("revise")
        if date > self.terms.due:
            raise RevisionAfterDue(
                f"cannot revise on {date}: the due date {self.terms.due} has passed; "
                "close it (broken) or release it instead"
            )
        if date < self.agreed_on:
            raise DateOutOfRange(f"revision date {date} is before the agreement ({self.agreed_on})")
        if (target is not None or period is not None) and self.measure == "done":
            raise InvalidInput("a done commitment has no target or period to revise")
        if due is not None and due < self.start:
            raise InvalidInput(f"due {due} is before start {self.start}")
        if at.astimezone(dt.UTC).date() > self.terms.due:
            # *Input rule* (SPEC §7.1): the ledger's clock, whatever ``date`` says:
            # a loop that ran past its due is closed or released, not
            # renegotiated after the fact with a back-dated revision.
            raise RevisionAfterDue(
                f"cannot revise: its due date {self.terms.due} is past (today is "
                f"{at.astimezone(dt.UTC).date()} UTC, whatever --on says); "
                "close it or release it instead"
            )
        self.trigger_event(
            self.Revised,
            timestamp=at,
            date=date,
            reason=reason,
            target=target,
            period=period,
            due=due,
            behavior=behavior,
            actor=actor,
        )

    def release(self, *, at: datetime, date: date, reason: str, actor: str) -> None:
        self._require_active("release")
        if date < self.agreed_on:
            raise DateOutOfRange(f"release date {date} is before the agreement ({self.agreed_on})")
        self.trigger_event(self.Released, timestamp=at, date=date, reason=reason, actor=actor)

    def close(
        self,
        *,
        at: datetime,
        date: date,
        result: str | None,
        value: float | None,
        note: str | None,
        actor: str,
    ) -> None:
        self._require_active("close")
        if date < self.start:
            raise DateOutOfRange(f"close date {date} is before the start {self.start}")
        self.trigger_event(
            self.Closed,
            timestamp=at,
            date=date,
            result=result,
            value=value,
            note=note,
            actor=actor,
        )

    def reply(
        self,
        *,
        at: datetime,
        date: date,
        by: str,
        text: str,
        contests: bool,
        actor: str,
        known_as: str | None = None,
    ) -> None:
        """*Rule* (SPEC §7.4): the commitment's rep or manager answers a
        commitment that is closed, released or overdue on ``date``; an open one
        has no verdict to answer yet. ``date`` is on or after the agreement and
        not after the ledger's clock (``at``): a reply dated ahead could make a
        running commitment look overdue. ``known_as``: the legacy name the
        commitment holds for the replier (a commitment written before the
        registry names people in clear; ``by`` is their subject id)."""
        if (known_as or by) not in (self.rep, self.manager):
            raise ReplyRefused(
                f"cannot reply: {by!r} is neither the rep ({self.rep!r}) nor the manager "
                f"({self.manager!r}) of commitment {self.id}"
            )
        if date < self.agreed_on:
            raise DateOutOfRange(f"reply date {date} is before the agreement ({self.agreed_on})")
        today = at.astimezone(dt.UTC).date()
        if date > today:
            raise DateOutOfRange(
                f"reply date {date} is after today ({today} UTC): a reply answers a "
                "verdict already given"
            )
        if not self.answerable_on(date):
            raise ReplyRefused(
                f"cannot reply on {date}: commitment {self.id} is open (due {self.terms.due}); "
                "a reply answers a closed, released or overdue commitment"
            )
        self.trigger_event(
            self.Replied,
            timestamp=at,
            date=date,
            by=by,
            text=text,
            contests=contests,
            actor=actor,
        )

    def answerable_on(self, day: date) -> bool:
        """Closed or released on or before ``day``, or overdue on it (SPEC §4
        status on D: ``day`` is after the due date, latest terms)."""
        ended = self.closed_on if self.closed_on is not None else self.released_on
        if ended is not None and ended <= day:
            return True
        return day > self.terms.due

    def _require_measure(self, actual: float | None, done: bool | None) -> None:
        if self.measure == "count" and actual is None:
            raise InvalidInput("this commitment counts an amount: give --actual N")
        if self.measure == "done" and done is None:
            raise InvalidInput("this commitment is a one-off action: give --done")


class RepWorkload(Aggregate):
    """The rep's open rep-owned commitments and their focus areas: the
    consistency boundary of the focus cap (SPEC §3). Two agreements for one
    rep racing each other conflict here, so the cap cannot be slipped past."""

    class Started(Aggregate.Created):
        """The ledger began tracking this rep's workload."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        rep: str
        actor: str

    class CommitmentTaken(Aggregate.Event):
        """A rep-owned commitment in ``focus`` became open for the rep."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        commitment_id: UUID
        focus: str
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, RepWorkload)
            aggregate.active[self.commitment_id] = self.focus

    class CommitmentEnded(Aggregate.Event):
        """A rep-owned commitment was closed or released; it no longer
        counts towards the focus cap."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        commitment_id: UUID
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, RepWorkload)
            aggregate.active.pop(self.commitment_id, None)

    def __init__(self, rep: str, actor: str) -> None:
        self.rep = rep
        self.active: dict[UUID, str] = {}

    @classmethod
    def start(cls, *, at: datetime, rep: str, actor: str) -> RepWorkload:
        return cls._create(cls.Started, id=workload_id(rep), timestamp=at, rep=rep, actor=actor)

    @property
    def focus_areas(self) -> set[str]:
        return set(self.active.values())

    def take(
        self,
        *,
        at: datetime,
        commitment_id: UUID,
        focus: str,
        override: str | None,
        actor: str,
        also_open: dict[UUID, str] | None = None,
    ) -> None:
        """Count a new rep-owned commitment in ``focus``; SPEC §3 focus cap: a
        focus area beyond :data:`rules.FOCUS_CAP` is refused unless ``override`` says why.
        ``also_open``: open commitments counted on the rep's legacy workload
        (a store from before release 3), which count towards the cap too."""
        areas = self.focus_areas | set((also_open or {}).values())
        if rules.exceeds_focus_cap(areas, focus) and not override:
            raise FocusCapExceeded(
                f"focus cap: the rep already works on {len(areas)} focus areas "
                f"({', '.join(sorted(areas))}); {focus!r} would be one more. "
                "Pass --override-focus-cap REASON to record why"
            )
        self.trigger_event(
            self.CommitmentTaken,
            timestamp=at,
            commitment_id=commitment_id,
            focus=focus,
            actor=actor,
        )

    def end(self, *, at: datetime, commitment_id: UUID, actor: str) -> None:
        if commitment_id in self.active:
            self.trigger_event(
                self.CommitmentEnded, timestamp=at, commitment_id=commitment_id, actor=actor
            )


class Activity(Aggregate):
    """One row of CRM activity. Its id derives from (metric, source id), so
    the same row imported twice is one event."""

    class Recorded(Aggregate.Created):
        """The rep did ``value`` of ``metric`` on ``date``; ``source_id`` is
        the row's id in the source system (or a stable hash of the row)."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        rep: str
        metric: str
        date: date
        value: float
        source_id: str
        actor: str

    def __init__(
        self, rep: str, metric: str, date: date, value: float, source_id: str, actor: str
    ) -> None:
        self.rep = rep
        self.metric = metric
        self.date = date
        self.value = value
        self.source_id = source_id

    @classmethod
    def record(cls, *, at: datetime, **fields: Any) -> Activity:
        return cls._create(
            cls.Recorded,
            id=activity_id(fields["metric"], fields["source_id"]),
            timestamp=at,
            **fields,
        )


class ActivityChunk(Aggregate):
    """Rows of CRM activity written together by one import: one event holds
    many rows (issue 19), each the same fact an :class:`Activity` event
    records. A row's (metric, source id) is still recorded once across both
    shapes: the store keeps the derived :func:`activity_id` of every row in
    its key table (:mod:`ledger.store`), written in the same transaction."""

    class Recorded(Aggregate.Created):
        """The rep of each row did its ``value`` of ``metric`` on its
        ``date``; a row is ``[rep, date, value, source id]``, in the order
        the import read them. Recorded at the import's one instant."""

        metric: str
        rows: tuple[tuple[str, date, float, str], ...]
        actor: str

    def __init__(
        self, metric: str, rows: tuple[tuple[str, date, float, str], ...], actor: str
    ) -> None:
        self.metric = metric
        self.rows = rows

    @classmethod
    def record(cls, *, at: datetime, **fields: Any) -> ActivityChunk:
        return cls._create(
            cls.Recorded,
            id=UUID(bytes=os.urandom(16), version=4),
            timestamp=at,
            **fields,
        )


class Person(Aggregate):
    """A person the ledger knows (SPEC §7.4): a rep, a manager, an actor. Its
    id is the person's *subject id*, a random UUID (never derived from a
    name); every other event names people by it. The name is personal data
    held only here, sealed under the person's own key (:mod:`ledger.keys`), so
    destroying the key shreds it while the events and their hashes stay."""

    class Registered(Aggregate.Created):
        """A person was registered: their ``name`` (sealed under their key),
        and, from the roster, their ``manager`` (a subject id), ``team`` and
        ``region`` as of ``effective``. ``listed`` is true for ``people add``
        and ``people import``; a person registered on first use by another
        command is not (after a listed registration, names are strict)."""

        name: str
        manager: str | None
        team: str | None
        region: str | None
        effective: date | None
        listed: bool
        actor: str

    class RosterChanged(Aggregate.Event):
        """The person's place in the roster from ``effective`` on: their
        ``manager`` (a subject id), ``team`` and ``region`` (each null: none).
        A new dated event; commitments keep the manager named when agreed."""

        manager: str | None
        team: str | None
        region: str | None
        effective: date
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Person)
            aggregate.manager = self.manager
            aggregate.team = self.team
            aggregate.region = self.region

    class Renamed(Aggregate.Event):
        """The person's name was corrected (GDPR Art. 16): the new ``name``,
        sealed under their key. Earlier names stay in the earlier events."""

        name: str
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Person)
            aggregate.name = self.name

    class Erased(Aggregate.Event):
        """The person was erased (GDPR Art. 17, SPEC §7.4 ``PersonErased``):
        their key was destroyed, so their name and the free text sealed under
        it can no longer be read. ``reason`` is stored in clear: it must not
        name the person. No earlier event changes; readers show the person as
        ``erased:<first 8 hex of the subject id>`` and their text ``[erased]``."""

        reason: str
        actor: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Person)
            aggregate.erased = True

    def __init__(
        self,
        name: str,
        manager: str | None,
        team: str | None,
        region: str | None,
        effective: date | None,
        listed: bool,
        actor: str,
    ) -> None:
        self.name = name  # sealed
        self.manager = manager
        self.team = team
        self.region = region
        self.listed = listed
        self.erased = False

    @classmethod
    def register(cls, *, at: datetime, subject: UUID, **fields: Any) -> Person:
        return cls._create(cls.Registered, id=subject, timestamp=at, **fields)

    def change_roster(
        self,
        *,
        at: datetime,
        manager: str | None,
        team: str | None,
        region: str | None,
        effective: date,
        actor: str,
    ) -> None:
        if manager == str(self.id):
            raise InvalidInput("a person cannot be their own manager")
        self.trigger_event(
            self.RosterChanged,
            timestamp=at,
            manager=manager,
            team=team,
            region=region,
            effective=effective,
            actor=actor,
        )

    def rename(self, *, at: datetime, name: str, actor: str) -> None:
        self._require_not_erased("renamed")
        self.trigger_event(self.Renamed, timestamp=at, name=name, actor=actor)

    def erase(self, *, at: datetime, reason: str, actor: str) -> None:
        """Record the erasure (the caller destroys the key first)."""
        self._require_not_erased("erased again")
        self.trigger_event(self.Erased, timestamp=at, reason=reason, actor=actor)

    def _require_not_erased(self, what: str) -> None:
        if self.erased:
            raise PersonErased(
                f"erased:{self.id.hex[:8]} was erased; an erased person cannot be {what}"
            )


class LedgerIdentity(Aggregate):
    """The ledger itself: one stream (:data:`LEDGER_STREAM`), one event, written
    with the first write (or ``commitments init``). Its ``ledger_id`` names the
    ledger wherever something must be bound to it (views files, checkpoints)."""

    class LedgerCreated(Aggregate.Created):
        """The ledger got its id, ``ledger_id`` (a random UUID), with the first
        write to it (or ``init``); an export carries it, so a ledger imported
        from its export into an empty store keeps its id."""

        class_version = 2
        upcast_v1_v2 = staticmethod(_legacy_names)

        ledger_id: UUID
        actor: str

    def __init__(self, ledger_id: UUID, actor: str) -> None:
        self.ledger_id = ledger_id

    @classmethod
    def create(cls, *, at: datetime, actor: str) -> LedgerIdentity:
        return cls._create(
            cls.LedgerCreated,
            id=LEDGER_STREAM,
            timestamp=at,
            ledger_id=UUID(bytes=os.urandom(16), version=4),
            actor=actor,
        )


EVENT_CLASSES: tuple[type[Aggregate.Event], ...] = (
    CoachingSession.Held,
    Commitment.Agreed,
    Commitment.CheckInRecorded,
    Commitment.CheckInCorrected,
    Commitment.Revised,
    Commitment.Released,
    Commitment.Closed,
    Commitment.Replied,
    RepWorkload.Started,
    RepWorkload.CommitmentTaken,
    RepWorkload.CommitmentEnded,
    Activity.Recorded,
    ActivityChunk.Recorded,
    Person.Registered,
    Person.RosterChanged,
    Person.Renamed,
    Person.Erased,
    LedgerIdentity.LedgerCreated,
)
