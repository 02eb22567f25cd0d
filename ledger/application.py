"""The ledger application: the only way events get written.

Each public command method takes its command, a pydantic model of
:mod:`ledger.commands` validated when it was built, loads what it needs,
lets the aggregates apply their rules, and saves every new event of the
command in one transaction with one ``recorded_at`` (or, inside
:meth:`Ledger.batch`, keeps them for the batch's one transaction). A
refusal raises a named error from :mod:`ledger.errors` before anything is
saved. Stored events are only ever inserted: nothing here, or anywhere in
this code base, updates or deletes one.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    OperationalError,
    PersistenceError,
    RecordConflictError,
)
from eventsourcing.utils import Environment, get_topic

from . import commands as cmd
from . import rules
from .domain import CoachingSession, Commitment, Person, RepWorkload, is_subject, workload_id
from .errors import (
    AmbiguousId,
    Conflict,
    InvalidInput,
    LedgerError,
    NotFound,
    StorageUnavailable,
    UnknownMetric,
    no_such,
)
from .store import DEFAULT_DB, create_table_setting, is_locked, recorder_class, redact, store_env

if TYPE_CHECKING:  # imported when used: a check-in does not pay for the CSV import
    from .activity_import import WriteCounts
    from .formats.activity_csv import ActivityRow
    from .keys import KeyStore
    from .people import NewPerson, RosterChange
    from .store.recorder import LedgerRecorder
    from .unit_of_work import UnitOfWork

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class CheckInReceipt:
    """What :meth:`Ledger.check_in` recorded: the check-in's number (1-based)
    and warnings about it (it was recorded all the same)."""

    number: int
    warnings: tuple[str, ...] = ()


RETRY_HINT = "another writer changed it first; nothing was written, run the command again"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Ledger(Application):
    """The commitment ledger (an eventsourcing application named ``ledger``)."""

    name = "ledger"
    _batch: UnitOfWork | None = None  # set on a batch's ledger (:meth:`batch`)
    _shares_store = False  # a batch's ledger, a copy of the ledger: closing it closes nothing
    recorder: LedgerRecorder  # one class per backend (:mod:`ledger.store`)

    def __init__(
        self, env: dict[str, str] | None = None, *, clock: Clock = utc_now, db: str = ""
    ) -> None:
        self.clock = clock
        self.db = db
        self.created_tables = False  # True when this open created the tables
        self._ledger_id: UUID | None = None
        self._keys: dict[int, KeyStore] = {}
        super().__init__(env)

    # -- lifecycle -------------------------------------------------------

    @classmethod
    def open(
        cls,
        db: str | None = None,
        *,
        clock: Clock = utc_now,
        create_table: bool | None = None,
    ) -> Ledger:
        """Open the ledger at ``db`` (a SQLite path or a ``postgresql://`` URL).

        ``create_table`` defaults to the ``CREATE_TABLE`` environment variable
        (default yes). The recorder (one class per backend, :mod:`ledger.store`)
        always runs with ``CREATE_TABLE=n``: missing tables are created by its
        ``ensure_tables`` when ``create_table`` (on PostgreSQL once, under an
        advisory lock), and are an error otherwise.
        """
        db = db or DEFAULT_DB
        if create_table is None:
            create_table = create_table_setting()
        env = store_env(db)
        recorder_class(db).prepare(db)
        try:
            ledger = cls(env, clock=clock, db=db)
        except (PersistenceError, OSError) as exc:
            raise StorageUnavailable(
                f"cannot open the ledger at {redact(db)}: {_one_line(exc)}"
            ) from None
        ledger._prepare_tables(create_table)
        return ledger

    def construct_env(self, name: str, env: Any = None) -> Environment:
        """The store's settings are exactly those :meth:`open` built: unlike a
        plain eventsourcing application, nothing is read from ``os.environ``
        here (no ``CREATE_TABLE``, no ``LEDGER_SQLITE_DBNAME`` overriding
        ``--db``), so every setting has one reader, :mod:`ledger.store`."""
        return Environment(name, dict(env or {}))

    def _prepare_tables(self, create: bool) -> None:
        """Create the tables if missing (``create``), or refuse to go on without them."""
        try:
            if create:
                self.created_tables = self.recorder.ensure_tables()
                if self.created_tables:  # the key store too, by the same role
                    from .keys import prepare_keystore

                    prepare_keystore(self.db)
                return
            present = self.recorder.tables_present()
        except (PersistenceError, OSError) as exc:
            self.close()
            raise StorageUnavailable(
                f"cannot open the ledger at {redact(self.db)}: {_one_line(exc)}"
            ) from None
        if not present:
            self.close()
            raise StorageUnavailable(
                f"no ledger tables at {redact(self.db)} and CREATE_TABLE=n: "
                + self.recorder.INIT_HINT
            )

    # -- the ledger id ---------------------------------------------------

    def ledger_id(self) -> UUID | None:
        """The ledger's id (SPEC §7.2), or None before its first write.

        Written by ``init`` or the first write as a ``LedgerCreated`` event
        (see :mod:`ledger.identity`); carried by export and import. One
        primary-key read the first time; remembered once known (it never
        changes)."""
        if self._ledger_id is None:
            from .identity import stored_ledger_id

            with self.recorder.datastore.transaction(commit=False) as curs:
                self._ledger_id = stored_ledger_id(self.recorder, curs)
        return self._ledger_id

    def ensure_ledger_id(self, actor: str) -> UUID:
        """The ledger id, writing the ``LedgerCreated`` event (by ``actor``)
        first if there is none yet. For a writer that needs the id before its
        first event; read commands use :meth:`ledger_id` and write nothing."""
        found = self.ledger_id()
        if found is None:
            self._save(actor=actor)
            found = self.ledger_id()
            if found is None:  # pragma: no cover - the save above wrote it
                raise StorageUnavailable("the ledger id was not stored")
        return found

    # -- people (SPEC §7.4) ---------------------------------------------

    @property
    def keys(self) -> KeyStore:
        """The key store of people's keys (``X.keys.db`` beside a SQLite
        ledger; a schema of its own on PostgreSQL), opened on first use, one
        per thread (a server's threads share the ledger, not a connection)."""
        import threading

        me = threading.get_ident()
        found = self._keys.get(me)
        if found is None:
            from .keys import open_keystore

            found = self._keys[me] = open_keystore(self.db)
        return found

    def close(self) -> None:
        if self._shares_store:  # a batch's ledger: the store and keys are its ledger's
            return
        keys, self._keys = self._keys, {}
        for store in keys.values():
            with contextlib.suppress(Exception):  # another thread's SQLite connection
                store.close()
        super().close()

    def person(self, subject: UUID) -> Person:
        return self._get(subject, Person, "person")  # type: ignore[no-any-return]

    def person_name(self, ref: str) -> str:
        """The name of a person reference: a subject's current name (opened
        with its key; ``[erased]`` when the key is gone), or a legacy name as is."""
        if not is_subject(ref):
            return ref
        return self.keys.open_text(self.person(UUID(ref)).name)

    def _seal_name(self, subject: UUID, name: str) -> str:
        from .keys import seal

        return seal(self.keys.ensure(subject), subject, name)

    def _registered(self, people: Sequence[NewPerson], at: datetime, actor: str) -> list[Person]:
        """Person aggregates for ``people``, their names sealed under fresh
        keys, not saved: the caller saves them with its own events. A person
        registered as the command's own actor is recorded as registering themselves."""
        out = []
        for p in people:
            c = cmd.RegisterPerson(name=p.name, team=p.team, region=p.region, effective=p.effective)
            out.append(
                Person.register(
                    at=at,
                    subject=p.subject,
                    name=self._seal_name(p.subject, c.name),
                    manager=p.manager,
                    team=c.team,
                    region=c.region,
                    effective=c.effective,
                    listed=p.listed,
                    actor=actor,
                )
            )
        return out

    def register_people(
        self,
        people: Sequence[NewPerson],
        *,
        actor: str,
        changes: Sequence[RosterChange] = (),
        register: Sequence[NewPerson] = (),
    ) -> None:
        """Register ``people`` and apply roster ``changes`` to registered
        ones, all in one transaction (``people add``, ``people import``).
        ``register``: people named for the first time as the actor."""
        at = self.clock()
        aggregates: list[Any] = self._registered(register, at, actor)
        aggregates += self._registered(people, at, actor)
        for change in changes:
            person = self.person(change.subject)
            person.change_roster(
                at=at,
                manager=change.manager,
                team=change.team,
                region=change.region,
                effective=change.effective,
                actor=actor,
            )
            aggregates.append(person)
        if aggregates:
            self._save(*aggregates)

    def rename_person(
        self, subject: UUID, new_name: str, *, actor: str, register: Sequence[NewPerson] = ()
    ) -> None:
        """Record a person's corrected name (GDPR Art. 16), sealed under their key."""
        at = self.clock()
        c = cmd.RegisterPerson(name=new_name)
        new = self._registered(register, at, actor)
        person = next((p for p in new if p.id == subject), None)  # a legacy name, registered now
        if person is None:
            person = self.person(subject)
        person.rename(at=at, name=self._seal_name(subject, c.name), actor=actor)
        self._save(*new, *([] if person in new else [person]))

    def erase_person(
        self, subject: UUID, *, reason: str, actor: str, register: Sequence[NewPerson] = ()
    ) -> None:
        """Erase a person (GDPR Art. 17, SPEC §7.4): destroy their key, then
        record ``Person.Erased`` (subject id and reason). Key first: should
        the record fail, the person is already unreadable, and running the
        command again records it. An erased person: :class:`PersonErased` (exit 4)."""
        c = cmd.ErasePerson(reason=reason)
        at = self.clock()
        person = self.person(subject)
        if person.erased:
            person.erase(at=at, reason=c.reason, actor=actor)  # refuses: already erased
        self.keys.destroy(subject)
        person.erase(at=at, reason=c.reason, actor=actor)
        self._save(*self._registered(register, at, actor), person)

    # -- writing ---------------------------------------------------------

    @contextlib.contextmanager
    def batch(self, *, flush_every: int = 20_000, seal: bool = True) -> Iterator[Ledger]:
        """A unit of work: ``with ledger.batch() as uow:`` runs many commands on
        ``uow`` (this ledger's own methods, every rule applied) and writes all
        their events, in command order, in ONE transaction when the block ends;
        an exception inside the block writes nothing (see :mod:`ledger.unit_of_work`).

        ``uow.clock`` may be replaced to give each command its own recorded_at
        (the demo records each on its business date). Free text is sealed as
        every command seals it; ``seal=False`` leaves it in clear, only for the
        benchmark of what sealing costs (``bench/bench_privacy.py``). A
        concurrent writer that got to a stream first: :class:`Conflict`. A
        command refused inside the block may have left its aggregates half
        changed in memory: let its error end the block (nothing is written).
        """
        from eventsourcing.persistence import IntegrityError

        from .identity import stored_ledger_id
        from .unit_of_work import UnitOfWork

        uow = copy.copy(self)  # the same store, mapper and keys; its own clock and batch
        uow._shares_store = True
        try:
            with self.recorder.datastore.transaction(commit=True) as curs:
                has_id = stored_ledger_id(self.recorder, curs) is not None
                uow._batch = UnitOfWork(
                    uow, curs, has_id=has_id, flush_every=flush_every, seal=seal
                )
                yield uow
                uow._batch.flush()
        except IntegrityError:
            raise Conflict(RETRY_HINT) from None
        finally:
            if uow._batch is not None and uow._batch.written:
                self._ledger_id = None  # read again: the batch may have written it
            uow._batch = None

    def _save(self, *aggregates: Any, actor: str = "ledger") -> None:
        """Save the aggregates' new events in one transaction. A ledger without
        an id gets its ``LedgerCreated`` in the same transaction (recorded at
        the same instant, by the same actor); if another first write stored one
        meanwhile, the fixed stream refuses ours and the events are saved
        without it. Inside a :meth:`batch`, the batch keeps them instead."""
        if self._batch is not None:
            self._batch.take(aggregates)
            return
        from .sealing import seal_events

        events = [
            e
            for agg in aggregates
            for e in seal_events(lambda: self.keys, agg, agg.collect_events())
        ]
        created: list[Any] = []
        if self.ledger_id() is None:
            from .identity import created_event

            at = events[0].timestamp if events else self.clock()
            who = getattr(events[0], "actor", actor) if events else actor
            created = [created_event(at, who)]
        try:
            try:
                self._save_events(*created, *events)
            except RecordConflictError:
                if not created:
                    raise
                self._ledger_id = None
                if self.ledger_id() is None:
                    raise
                self._save_events(*events)  # another first write gave the ledger its id
        except RecordConflictError:
            raise Conflict(RETRY_HINT) from None
        except OperationalError as exc:
            if is_locked(exc):
                raise Conflict(
                    "the ledger is locked by another writer (waited SQLITE_LOCK_TIMEOUT "
                    "seconds); nothing was written, run the command again"
                ) from None
            raise

    def _save_events(self, *events: Any) -> None:
        if events:
            self.save(*events)

    def _get(self, aggregate_id: UUID, kind: type[Any], what: str) -> Any:
        aggregate = self._stored(aggregate_id)
        if aggregate is None:
            raise no_such(what, aggregate_id)
        if not isinstance(aggregate, kind):
            raise no_such(what, aggregate_id)
        return aggregate

    def _stored(self, aggregate_id: UUID) -> Any:
        """The aggregate, or None if there is none: inside a :meth:`batch`, as
        the batch left it (and a miss is remembered for the batch)."""
        if self._batch is not None:
            return self._batch.get(aggregate_id, self.repository.get)
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def commitment(self, commitment_id: UUID) -> Commitment:
        return self._get(commitment_id, Commitment, "commitment")  # type: ignore[no-any-return]

    def session(self, session_id: UUID) -> CoachingSession:
        return self._get(session_id, CoachingSession, "coaching session")  # type: ignore[no-any-return]

    def record_session(self, c: cmd.RecordSession, *, register: Sequence[NewPerson] = ()) -> UUID:
        """Record a session. Here and in every command: ``c`` is the command,
        validated when it was built (:mod:`ledger.commands`); ``register`` are the
        people it names for the first time (:mod:`ledger.people`), saved with it."""
        at = self.clock()
        people = self._registered(register, at, c.actor)
        session = CoachingSession.hold(
            at=at,
            rep=c.rep,
            manager=c.manager,
            date=c.date,
            prepared=c.prepared,
            strengths=list(c.strengths),
            focus_areas=list(c.focus_areas),
            note=c.note,
            actor=c.actor,
        )
        self._save(*people, session)
        return session.id  # type: ignore[no-any-return]

    def agree(self, c: cmd.Agree, *, register: Sequence[NewPerson] = ()) -> UUID:
        at = self.clock()
        if c.session_id is not None:
            self.session(c.session_id).check_agreement_of(c.rep, c.manager)
        if not c.new_metric:
            for option, name in (("--metric", c.metric), ("--expect-metric", c.expect_metric)):
                if name is not None:
                    self._require_known_metric(option, name)
        if c.supports is not None:
            self.commitment(c.supports).check_supportable_by(c.rep)
        to_save: list[Any] = self._registered(register, at, c.actor)
        workload: RepWorkload | None = None
        legacy: dict[UUID, str] = {}
        if c.owner == rules.Role.REP:
            workload = self.workload(c.rep)
            if workload is None:
                workload = RepWorkload.start(at=at, rep=c.rep, actor=c.actor)
            legacy = self._legacy_workload_areas(c.rep, register)
        commitment = Commitment.agree(at=at, **agreed_fields(c))
        to_save.append(commitment)
        if workload is not None:
            workload.take(
                at=at,
                commitment_id=commitment.id,
                focus=c.focus,
                override=c.override_focus_cap,
                actor=c.actor,
                also_open=legacy,
            )
            to_save.append(workload)
        self._save(*to_save)
        return commitment.id  # type: ignore[no-any-return]

    def _require_known_metric(self, option: str, name: str) -> None:
        """*Input rule* (SPEC §7.1): a metric named on a new agreement has
        recorded activity (a typo would otherwise measure nothing, and the
        commitment would close broken), unless the caller says ``new_metric``."""
        if self.metric_is_known(name):
            return
        known = self.known_metrics()
        listed = ", ".join(repr(m) for m in known[:20]) if known else "none yet"
        more = f" and {len(known) - 20} more" if len(known) > 20 else ""
        raise UnknownMetric(
            f"{option} {name!r}: no activity is recorded for that metric "
            f"(known metrics: {listed}{more}); "
            "import its activity first, or pass --new-metric if its rows will come later"
        )

    def metric_is_known(self, name: str) -> bool:
        """Whether any activity of metric ``name`` is stored."""
        return bool(self._metric_query(name))

    def known_metrics(self) -> list[str]:
        """The metrics with recorded activity, sorted."""
        return sorted(self._metric_query(None))

    def _metric_query(self, name: str | None) -> list[str]:
        """Read the metric of stored activity events: one match of ``name``
        (None: every distinct metric). The state is plain JSON (see
        :mod:`ledger.persistence`), so the database reads it directly."""
        from .domain import Activity, ActivityChunk

        found: list[str] = []
        with self.recorder.datastore.transaction(commit=False) as curs:
            for cls in (ActivityChunk.Recorded, Activity.Recorded):  # both shapes (issue 19)
                values = self.recorder.field_values(curs, get_topic(cls), "metric", name)
                if name is not None and values:
                    return values
                found += [v for v in values if v not in found]
        return found

    def _legacy_workload_areas(self, rep: str, register: Sequence[NewPerson]) -> dict[UUID, str]:
        """The open commitments of a registered rep's *legacy* workload: a
        store written before release 3 kept it on a stream derived from the
        rep's name. The focus cap counts them too, so upgrading a store does
        not reset anyone's focus areas."""
        if not is_subject(rep):
            return {}
        name = next((p.name for p in register if p.ref == rep), None)
        if name is None:
            try:
                name = self.person_name(rep)
            except LedgerError:
                return {}
        old = self.workload(name)
        return dict(old.active) if old is not None else {}

    def workload(self, rep: str) -> RepWorkload | None:
        aggregate = self._stored(workload_id(rep))
        if aggregate is None:
            return None
        assert isinstance(aggregate, RepWorkload)
        return aggregate

    def check_in(
        self, commitment_id: UUID, c: cmd.CheckIn, *, register: Sequence[NewPerson] = ()
    ) -> CheckInReceipt:
        """Record a check-in; the receipt has its number and, for one dated
        after the due date (it is kept but does not count, SPEC §7.1), a warning."""
        commitment = self.commitment(commitment_id)
        at = self.clock()
        commitment.record_check_in(
            at=at,
            date=c.date,
            actual=c.actual,
            done=c.done,
            note=c.note,
            actor=c.actor,
        )
        self._save(*self._registered(register, at, c.actor), commitment)
        number = len(commitment.check_ins)
        start, due = commitment.start, commitment.terms.due
        warnings: tuple[str, ...] = ()
        if not rules.counts_in_window(c.date, start, due):
            warnings = (
                f"check-in {number} dated {c.date} does not count: outside the window "
                f"{start} to {due}; it is recorded all the same",
            )
        return CheckInReceipt(number, warnings)

    def correct(
        self, commitment_id: UUID, c: cmd.Correct, *, register: Sequence[NewPerson] = ()
    ) -> None:
        commitment = self.commitment(commitment_id)
        at = self.clock()
        commitment.correct_check_in(
            at=at,
            number=c.check_in,
            actual=c.actual,
            done=c.done,
            reason=c.reason,
            actor=c.actor,
        )
        self._save(*self._registered(register, at, c.actor), commitment)

    def revise(
        self, commitment_id: UUID, c: cmd.Revise, *, register: Sequence[NewPerson] = ()
    ) -> None:
        commitment = self.commitment(commitment_id)
        at = self.clock()
        commitment.revise(
            at=at,
            date=c.date,
            reason=c.reason,
            target=c.target,
            period=c.period,
            due=c.due,
            behavior=c.behavior,
            actor=c.actor,
        )
        self._save(*self._registered(register, at, c.actor), commitment)

    def release(
        self, commitment_id: UUID, c: cmd.Release, *, register: Sequence[NewPerson] = ()
    ) -> None:
        at = self.clock()
        commitment = self.commitment(commitment_id)
        commitment.release(at=at, date=c.date, reason=c.reason, actor=c.actor)
        people = self._registered(register, at, c.actor)
        self._save(*people, commitment, *self._end_for_workload(commitment, at, c.actor))

    def close_commitment(
        self, commitment_id: UUID, c: cmd.Close, *, register: Sequence[NewPerson] = ()
    ) -> None:
        at = self.clock()
        commitment = self.commitment(commitment_id)
        commitment.close(
            at=at, date=c.date, result=c.result, value=c.value, note=c.note, actor=c.actor
        )
        people = self._registered(register, at, c.actor)
        self._save(*people, commitment, *self._end_for_workload(commitment, at, c.actor))

    def reply(
        self, commitment_id: UUID, c: cmd.Reply, *, register: Sequence[NewPerson] = ()
    ) -> None:
        """Record a reply by the commitment's rep or manager (SPEC §7.4); the
        rules are :meth:`Commitment.reply`'s. ``date`` defaults to today (UTC).
        ``by`` is a person reference (a subject id), compared with the ones the
        commitment names; the text is sealed under the replier's key."""
        at = self.clock()
        commitment = self.commitment(commitment_id)
        known_as = None
        legacy = [r for r in (commitment.rep, commitment.manager) if not is_subject(r)]
        if legacy and is_subject(c.by) and c.by not in (commitment.rep, commitment.manager):
            name = next((p.name for p in register if p.ref == c.by), None)
            with contextlib.suppress(LedgerError):
                name = name or self.person_name(c.by)
            known_as = name if name in legacy else None
        commitment.reply(
            at=at,
            known_as=known_as,
            date=c.date or at.astimezone(UTC).date(),
            by=c.by,
            text=c.text,
            contests=c.contest,
            actor=c.actor,
        )
        self._save(*self._registered(register, at, c.actor), commitment)

    def record_activity(self, c: cmd.RecordActivity) -> UUID:
        """Record one activity row as its own ``Activity.Recorded`` (the demo
        and the per-row shape older ledgers hold; an import writes chunks).
        Its id is derived from (metric, source id), as the importer derives
        it: the same row again, stored in either shape, is refused
        (:class:`Conflict`: the store's key table), where an import would skip it."""
        from .domain import Activity

        activity = Activity.record(at=self.clock(), **c.model_dump())  # the event's fields
        self._save(activity)
        return activity.id  # type: ignore[no-any-return]

    def _end_for_workload(self, commitment: Commitment, at: datetime, actor: str) -> list[Any]:
        if commitment.owner != rules.Role.REP:
            return []
        workload = self.workload(commitment.rep)
        if workload is None:
            return []
        workload.end(at=at, commitment_id=commitment.id, actor=actor)
        return [workload]

    def record_activities(self, rows: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Record activity rows (dicts of ``RecordActivity``'s fields, each
        validated); return (recorded, already present).

        As :meth:`record_activity_rows`: one transaction, one ``recorded_at``;
        a row whose (metric, source id) is already stored, or repeated in
        ``rows``, is skipped and counted as already present.
        """
        from .formats.activity_csv import ActivityRow

        validated = (
            ActivityRow(c.rep, c.metric, c.date, c.value, c.source_id, c.actor)
            for c in (cmd.RecordActivity(**values) for values in rows)
        )
        counts = self.record_activity_rows(validated)
        return counts.recorded, counts.already_present + counts.repeated

    def record_activity_rows(
        self, rows: Iterable[ActivityRow], *, batch_size: int | None = None, people: Any = None
    ) -> WriteCounts:
        """Write validated activity rows as ``ActivityChunk.Recorded`` events
        (one per chunk of rows, issue 19), streamed inside ONE transaction with
        one ``recorded_at``
        (see :func:`ledger.activity_import.write_activity_rows`). An exception
        raised by ``rows`` rolls everything back."""
        from .activity_import import CHUNK_ROWS, write_activity_rows

        return write_activity_rows(
            self, rows, at=self.clock(), batch_size=batch_size or CHUNK_ROWS, people=people
        )

    # -- lookups -----------------------------------------------------------

    def resolve(self, ref: str, kind: str = "commitment") -> UUID:
        """A full id, or a unique prefix of at least 6 hex digits, as a UUID."""
        text = ref.strip().lower().replace("-", "")
        if len(text) < 6 or any(ch not in "0123456789abcdef" for ch in text) or len(text) > 32:
            raise InvalidInput(
                f"{ref!r} is not a {kind} id (give the full id or at least 6 of its first digits)"
            )
        if len(text) == 32:
            return UUID(text)
        topic = get_topic({"commitment": Commitment.Agreed, "session": CoachingSession.Held}[kind])
        low, high = text.ljust(32, "0"), text.ljust(32, "f")
        with self.recorder.datastore.transaction(commit=False) as curs:
            rows = self.recorder.streams_created_between(curs, UUID(low), UUID(high), topic, 11)
        if not rows:
            raise NotFound(f"no {kind} with an id starting {ref!r}")
        if len(rows) > 1:
            raise AmbiguousId(ref, [str(r) for r in rows])
        return rows[0]

    def event_count(self) -> int:
        with self.recorder.datastore.transaction(commit=False) as curs:
            return self.recorder.count_events(curs)


AGREED_AS_GIVEN = (
    {f.name for f in dataclasses.fields(Commitment.Agreed)} & set(cmd.Agree.model_fields)
) - {"period", "due", "on"}
"""The fields of ``Commitment.Agreed`` an ``agree`` command gives as they are
(the event's own definition is the one list; the rest are derived below)."""


def agreed_fields(c: cmd.Agree) -> dict[str, Any]:
    """The ``Commitment.Agreed`` fields of an agreement: those of the same name
    as given, and the six the event records differently from the command."""
    return {
        **{name: getattr(c, name) for name in AGREED_AS_GIVEN},
        "measure": "done" if c.done else "count",
        "period": None if c.done else c.period,
        "due": c.due_date,
        "hypothesis": c.expect,
        "focus_cap_override": c.override_focus_cap,
        "on": c.on or c.start,
    }


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


__all__ = ["Conflict", "Ledger", "LedgerError", "utc_now"]
