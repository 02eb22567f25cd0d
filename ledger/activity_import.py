"""Import CRM activity from CSV: one activity event per accepted row (SPEC §3, §5).

The file's rows come from :mod:`ledger.formats.activity_csv`, read once as a
stream and checked cell by cell; the valid rows flow straight into
:meth:`ledger.application.Ledger.record_activity_rows`, which writes them in
batches inside ONE transaction (:func:`write_activity_rows`). The first bad
row stops the writing; once the whole file is read,
:class:`~ledger.formats.activity_csv.ImportRejected` is raised, the
transaction rolls back, and nothing is written. Memory stays flat in the
file's size: rows are never held beyond one batch, and rows repeated in the
file are found through the store itself (it sees the import's own
uncommitted rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from eventsourcing.persistence import IntegrityError, Mapper, OperationalError, StoredEvent
from eventsourcing.utils import get_topic

from .domain import Activity, activity_ids
from .errors import Conflict
from .formats.activity_csv import (
    ActivityCsv,
    ActivityRow,
    ImportOptions,
    ImportSummary,
    PersonResolver,
    actor_name,
)
from .persistence import event_state
from .store import is_locked

if TYPE_CHECKING:
    from eventsourcing.domain import Aggregate

    from .people import NewPerson
    from .store.recorder import LedgerRecorder


class Ledger(Protocol):
    """What an import needs of :class:`ledger.application.Ledger` (which
    imports this module: named by shape, so the two do not import each other)."""

    @property
    def db(self) -> str: ...

    @property
    def mapper(self) -> Mapper: ...

    @property
    def recorder(self) -> LedgerRecorder: ...

    def _registered(
        self, people: Sequence[NewPerson], at: datetime, actor: str
    ) -> Iterable[Aggregate]: ...

    def record_activity_rows(
        self, rows: Iterable[ActivityRow], *, batch_size: int = ..., people: Any = ...
    ) -> WriteCounts: ...


@dataclass
class WriteCounts:
    """What :meth:`Ledger.record_activity_rows` did with the rows it was given."""

    recorded: int = 0
    already_present: int = 0
    repeated: int = 0


# -- writing -----------------------------------------------------------------


def write_activity_rows(
    ledger: Ledger,
    rows: Iterable[ActivityRow],
    *,
    at: datetime,
    batch_size: int = 20_000,
    people: PersonResolver | None = None,
) -> WriteCounts:
    """Write validated rows as ``Activity.Recorded`` events, all recorded at ``at``.

    Streams ``rows`` in batches through the ledger's recorder inside ONE
    transaction (on PostgreSQL, with the events table locked the way the
    recorder locks it, so readers never pass over a gap), so memory stays
    flat and an exception raised by ``rows`` rolls everything back. A row
    whose (metric, source id) is already stored is skipped (already present);
    one repeated in ``rows`` is skipped too (repeated): the transaction sees
    its own rows, so no set of ids is kept in memory. Use
    :meth:`Ledger.record_activity_rows` rather than this.
    """
    recorder = ledger.recorder
    writer = _ActivityWriter(ledger, at)
    counts = WriteCounts()
    rows = iter(rows)
    try:
        with recorder.datastore.transaction(commit=True) as curs:
            recorder.lock_for_insert(curs)
            before = recorder.max_position(curs)
            batch = list(islice(rows, batch_size))
            while batch:
                writer.register(curs, people, batch[0].actor)
                writer.write(curs, batch, before, counts)
                batch = list(islice(rows, batch_size))
            if counts.recorded:
                writer.ensure_ledger_id(curs)
    except IntegrityError:
        raise Conflict(
            "another writer recorded some of these activities at the same time; "
            "nothing was written, run the import again"
        ) from None
    except OperationalError as exc:
        if is_locked(exc):
            raise Conflict(
                "the ledger is locked by another writer; nothing was written, try again"
            ) from None
        raise
    return counts


class _ActivityWriter:
    """Turns batches of activity rows into stored events and inserts them
    through the recorder (:meth:`ledger.store.recorder.LedgerRecorder.insert_records`),
    inside the caller's transaction.

    What is the same for every row is worked out once per import: the
    template state (one mapped event's :func:`~ledger.persistence.event_state`,
    recorded at the import's instant), the topic, each metric's id maker
    (:func:`ledger.domain.activity_ids`) and each date's ISO text. A row is
    already validated, so it costs no model or event object: its fields go
    into the template state, which the mapper's transcoder encodes
    (:meth:`_states`), when that agrees with the mapper on the first row;
    otherwise every row goes through the aggregate and the mapper (same
    result, slower). Measured in bench/README.md ("activity import")."""

    def __init__(self, ledger: Ledger, at: datetime) -> None:
        self.ledger = ledger
        self.at = at
        self.recorder = ledger.recorder
        template = Activity.record(
            at=at, rep="r", metric="m", date=date(2000, 1, 1), value=1.0, source_id="s", actor="a"
        )
        self.template = event_state(template.collect_events()[0])
        self.encode = ledger.mapper.transcoder.encode
        self.fast: bool | None = None
        self.optimistic = True
        self.duplicate = self.recorder.DUPLICATE
        self.topic = get_topic(Activity.Recorded)
        self.actor = "activity-import"
        self.days: dict[date, str] = {}  # each date's ISO text, as JSON mode dumps it

    def register(self, curs: Any, people: PersonResolver | None, actor: str) -> None:
        """Insert ``Person.Registered`` for the reps the rows read so far named
        for the first time (before their rows, in this transaction)."""
        if people is None or len(people.pending) == self.registered:
            return
        new = people.pending[self.registered :]
        self.registered = len(people.pending)
        to_stored = self.ledger.mapper.to_stored_event
        stored = [
            to_stored(e)
            for agg in self.ledger._registered(new, self.at, actor)
            for e in agg.collect_events()
        ]
        self._insert(curs, stored)

    registered = 0

    def _slow_state(self, row: ActivityRow) -> bytes:
        activity = Activity.record(at=self.at, **row._asdict())
        state: bytes = self.ledger.mapper.to_stored_event(activity.collect_events()[0]).state
        return state

    def _state(self, row: ActivityRow) -> bytes:
        """The row's stored state (:meth:`_states` of one row)."""
        return self._states([row])[0]

    def _states(self, rows: Iterable[ActivityRow]) -> list[bytes]:
        """The rows' stored states: the template event's state (the mapper's
        :func:`~ledger.persistence.event_state`) with each row's fields in, as
        JSON mode dumps them, encoded by the mapper's transcoder. One dict is
        filled in for every row in turn (each is encoded before the next)."""
        days, encode = self.days, self.encode
        if len(days) > 100_000:
            days.clear()
        state = dict(self.template)
        out = []
        for rep, metric, day, value, source_id, actor in rows:
            iso = days.get(day)
            if iso is None:
                iso = days[day] = day.isoformat()
            state["rep"] = rep
            state["metric"] = metric
            state["date"] = iso
            state["value"] = float(value)
            state["source_id"] = source_id
            state["actor"] = actor
            out.append(encode(state))
        return out

    def _decide(self, row: ActivityRow) -> None:
        self.fast = self._state(row) == self._slow_state(row)

    def write(self, curs: Any, batch: list[ActivityRow], before: int, counts: WriteCounts) -> None:
        """Insert the batch's new rows; count the ones already stored or repeated.

        Optimistic first: the batch is inserted under a savepoint without
        looking anything up, and the store's primary key refuses a duplicate.
        Only then is the batch rolled back to the savepoint and its ids looked
        up, and the lookups continue until a batch turns out to be all new
        (a re-import does not pay for a failed insert on every batch)."""
        if self.fast is None:
            self._decide(batch[0])
            self.actor = batch[0].actor
        fresh: dict[str, ActivityRow] = {}
        metric, hex_id = "", None
        for row in batch:
            if row.metric != metric or hex_id is None:
                metric, hex_id = row.metric, activity_ids(row.metric)
            key = hex_id(row.source_id)
            if key in fresh:
                counts.repeated += 1
            else:
                fresh[key] = row
        if self.optimistic:
            records = self._records(fresh)
            if self._try_insert(curs, records):
                counts.recorded += len(records)
                return
            self.optimistic = False
        found = 0
        for key, ours in self.recorder.created_among(curs, list(fresh), before):
            found += 1
            del fresh[key]
            if ours:
                counts.repeated += 1
            else:
                counts.already_present += 1
        self.optimistic = found == 0
        if fresh:
            records = self._records(fresh)
            self.recorder.insert_records(curs, records)
            counts.recorded += len(records)

    def _records(self, fresh: dict[str, ActivityRow]) -> list[tuple[str, int, str, bytes]]:
        """The rows' ``(stream id, version, topic, state)`` records, in index
        order (each index page is visited once)."""
        keys = sorted(fresh)
        rows = [fresh[key] for key in keys]
        states = self._states(rows) if self.fast else [self._slow_state(r) for r in rows]
        topic = self.topic
        return [(key, 1, topic, state) for key, state in zip(keys, states, strict=True)]

    def ensure_ledger_id(self, curs: Any) -> None:
        """Give a ledger without an id its ``LedgerCreated`` (SPEC §7.2), in this transaction."""
        from .identity import created_stored, stored_ledger_id

        if stored_ledger_id(self.recorder, curs) is None:
            self._insert(curs, [created_stored(self.ledger.mapper, self.at, self.actor)])

    def _insert(self, curs: Any, stored: list[StoredEvent]) -> None:
        self.recorder.insert_stored(curs, stored)

    def _try_insert(self, curs: Any, records: list[tuple[str, int, str, bytes]]) -> bool:
        """Insert under a savepoint; False (and nothing inserted) on a duplicate id."""
        curs.execute("SAVEPOINT activity_batch")
        try:
            self.recorder.insert_records(curs, records)
        except self.duplicate:
            curs.execute("ROLLBACK TO SAVEPOINT activity_batch")
            curs.execute("RELEASE SAVEPOINT activity_batch")
            return False
        curs.execute("RELEASE SAVEPOINT activity_batch")
        return True


# -- the import ----------------------------------------------------------------


def import_csv(
    ledger: Ledger,
    source: BinaryIO,
    options: ImportOptions,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 20_000,
    people: PersonResolver | None = None,
    new_person: bool = False,
) -> ImportSummary:
    """Import one CSV stream (UTF-8, optional BOM) all-or-nothing.

    ``progress``, if given, is called now and then with the number of bytes
    read so far. Raises :class:`ImportRejected` (nothing written) when any
    row is bad, :class:`InvalidInput` when the header does not fit the
    options, :class:`ledger.errors.Conflict` when another writer got there
    first.
    """
    actor = actor_name(actor)
    if people is not None:  # the actor, as the rows carry them: a subject id
        actor = people.ref(actor, role="actor", new_person=True)
    reader = ActivityCsv(options, actor, people, new_person=new_person)
    with reader.reading(source, progress) as rows:
        counts = ledger.record_activity_rows(rows, batch_size=batch_size, people=people)
    summary = reader.summary
    summary.recorded = counts.recorded
    summary.already_present = counts.already_present
    summary.repeated = counts.repeated
    return summary


__all__ = ["WriteCounts", "import_csv", "write_activity_rows"]
