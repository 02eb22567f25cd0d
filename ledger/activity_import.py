"""Import CRM activity from CSV: one ``ActivityChunk.Recorded`` per chunk of
accepted rows (SPEC §3, §5; issue 19).

The file's rows come from :mod:`ledger.formats.activity_csv`, read once as a
stream and checked cell by cell; the valid rows flow straight into
:meth:`ledger.application.Ledger.record_activity_rows`, which writes them in
chunks of :data:`CHUNK_ROWS` inside ONE transaction
(:func:`write_activity_rows`). Each row is still recorded once per (metric,
source id): the store's key table (``activity_keys``, :mod:`ledger.store`)
holds the derived id of every row of either shape (a chunk's rows, and
the per-row ``Activity.Recorded`` events of older ledgers and of ``record
activity``), inserted in the same transaction. The first bad row stops the
writing; once the whole file is read,
:class:`~ledger.formats.activity_csv.ImportRejected` is raised, the
transaction rolls back, and nothing is written, keys included. Memory stays
flat in the file's size: rows are never held beyond one chunk, the keys of
at most :data:`KEY_BATCH_ROWS` rows are held back to be inserted together
(once :data:`HOLD_KEYS_FROM` rows are recorded),
and rows repeated in the file are found through the store itself (it sees
the import's own uncommitted keys) or among the keys held back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby, islice
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from operator import itemgetter
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError, Mapper, OperationalError, StoredEvent
from eventsourcing.utils import get_topic

from .domain import ActivityChunk, activity_ids
from .errors import Conflict
from .formats.activity_csv import (
    ActivityCsv,
    ActivityRow,
    ImportOptions,
    ImportSummary,
    PersonResolver,
    actor_name,
)
from .persistence import canonical_parsed, event_state
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
        self, rows: Iterable[ActivityRow], *, batch_size: int | None = ..., people: Any = ...
    ) -> WriteCounts: ...


CHUNK_ROWS = 10_000
"""Rows per ``ActivityChunk.Recorded`` (and per batch read from the rows).
Measured (docs/performance.md, "Activity import"): per 100k rows the
import's CPU time falls as chunks grow (0.91 s at 1000 rows, 0.84 s at 5000,
0.71 s at 10,000: fewer savepoints, larger sorted runs of keys), its peak
memory rises slowly (38, 41, 46 MB). A reader holds one chunk at a time
(the SQLite read model), or pages of at most
``projections.catchup.CHUNK_BYTES_PER_PAGE`` of them; 10,000 rows are about
700 KB of state."""


HOLD_KEYS_FROM = 200_000
"""Rows an import records with each chunk's keys inserted at once, before it
holds them back (:data:`KEY_BATCH_ROWS`): while the key table is small
enough for the page cache, holding back only adds a sort (at 300,000 rows
1.72 s of CPU against 1.64 s, measured)."""

KEY_BATCH_ROWS = 200_000
"""Rows whose keys the writer holds back and inserts together, in id order
(:meth:`_ActivityWriter.flush`): the key table's B-tree (the ids are in
random order) is then walked once per this many rows rather than once per
chunk, which thrashed the import's page cache once the table outgrew it.
Measured (docs/performance.md, "Activity import"), 1,000,000 rows, CPU:
the keys' inserts 3.7 s a chunk at a time, 1.6 s at 50,000 rows, 1.3 s at
100,000, 1.15 s at 200,000; the peak grows with it (only the keys are held,
about 150 bytes a row): 96 MB at 200,000."""


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
    batch_size: int = CHUNK_ROWS,
    people: PersonResolver | None = None,
) -> WriteCounts:
    """Write validated rows as ``ActivityChunk.Recorded`` events, all recorded at ``at``.

    Streams ``rows`` in batches through the ledger's recorder inside ONE
    transaction (on PostgreSQL, with the events table locked the way the
    recorder locks it, so readers never pass over a gap), so memory stays
    flat and an exception raised by ``rows`` rolls everything back. A row
    whose (metric, source id) is already stored, in either shape, is skipped
    (already present); one repeated in ``rows`` is skipped too (repeated):
    the transaction sees its own keys, so no more ids are kept in memory than
    the :data:`KEY_BATCH_ROWS` held back. Use
    :meth:`Ledger.record_activity_rows` rather than this.
    """
    recorder = ledger.recorder
    writer = _ActivityWriter(ledger, at)
    counts = WriteCounts()
    rows = iter(rows)
    try:
        with recorder.datastore.transaction(commit=True) as curs, recorder.bulk_write(curs):
            recorder.lock_for_insert(curs)
            before = recorder.max_position(curs)
            recorder.ensure_activity_keys(curs)
            batch = list(islice(rows, batch_size))
            while batch:
                writer.register(curs, people, batch[0].actor, before, counts)
                writer.write(curs, batch, before, counts)
                batch = list(islice(rows, batch_size))
            writer.flush(curs, before, counts)
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
    """Turns batches of activity rows into ``ActivityChunk.Recorded`` events
    (one per batch and metric: the rows of one import share its actor and
    instant) through the recorder, inside the caller's transaction, their
    rows' keys held back and inserted together (:meth:`flush`,
    :meth:`ledger.store.recorder.LedgerRecorder.insert_chunk_keys`).

    What is the same for every chunk is worked out once per import: the
    template state (one mapped chunk event's
    :func:`~ledger.persistence.event_state`, recorded at the import's
    instant), the topic, each metric's id maker
    (:func:`ledger.domain.activity_ids`) and the JSON text of each rep, date
    and value. A row is already validated, so it costs no model or event
    object: its JSON text is spliced into the template state as the
    mapper's transcoder would write it (:meth:`_state`), when that agrees
    with the mapper on the first chunk; otherwise every chunk goes through
    the aggregate and the mapper (same result, slower). Measured in bench/README.md ("activity
    import")."""

    def __init__(self, ledger: Ledger, at: datetime) -> None:
        self.ledger = ledger
        self.at = at
        self.recorder = ledger.recorder
        template = ActivityChunk.record(
            at=at, metric="m", rows=(("r", date(2000, 1, 1), 1.0, "s"),), actor="a"
        )
        self.template = event_state(template.collect_events()[0])
        self.encode = ledger.mapper.transcoder.encode
        self.fast: bool | None = None
        self.optimistic = True
        self.duplicate = self.recorder.DUPLICATE
        self.topic = get_topic(ActivityChunk.Recorded)
        self.actor = "activity-import"
        # the canonical JSON of each rep, date (as JSON mode dumps it) and value
        self.reps = _JsonTexts(canonical_parsed)
        self.days = _JsonTexts(lambda day: canonical_parsed(day.isoformat()))
        self.values = _JsonTexts(_float_json)
        self.held: list[_Held] = []
        self.held_keys: set[str] = set()
        self.held_rows = 0
        self.grown = False

    def register(
        self,
        curs: Any,
        people: PersonResolver | None,
        actor: str,
        before: int,
        counts: WriteCounts,
    ) -> None:
        """Insert ``Person.Registered`` for the reps the rows read so far named
        for the first time (before their rows, in this transaction)."""
        if people is None or len(people.pending) == self.registered:
            return
        self.flush(curs, before, counts)  # nothing inserted under a held-back savepoint
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

    def _slow_state(self, metric: str, actor: str, rows: Sequence[ActivityRow]) -> bytes:
        chunk = ActivityChunk.record(
            at=self.at,
            metric=metric,
            rows=tuple((r.rep, r.date, r.value, r.source_id) for r in rows),
            actor=actor,
        )
        state: bytes = self.ledger.mapper.to_stored_event(chunk.collect_events()[0]).state
        return state

    def _state(self, metric: str, actor: str, rows: Sequence[ActivityRow]) -> bytes:
        """The chunk's stored state: the template event's state (the mapper's
        :func:`~ledger.persistence.event_state`) with the chunk's metric and
        actor, encoded by the mapper's transcoder, its rows spliced in as the
        transcoder's canonical JSON writes them: each row's rep, date and value
        as that JSON (worked out once per distinct value, :class:`_JsonTexts`),
        its source id escaped by ``json``'s own ``encode_basestring``. A list
        of rows encoded by the transcoder costs twice as much (measured,
        docs/performance.md); :meth:`write` checks the two agree."""
        reps, days, values = self.reps, self.days, self.values
        for texts in (reps, days, values):
            if len(texts) > 100_000:
                texts.clear()
        sid = encode_basestring
        text = ",".join([f"[{reps[r[0]]},{days[r[2]]},{values[r[3]]},{sid(r[4])}]" for r in rows])
        state = dict(self.template)
        state["metric"] = metric
        state["actor"] = actor
        state["rows"] = []
        # '"rows":[]' is there once: a '"' inside a JSON string is escaped
        return self.encode(state).replace(b'"rows":[]', b'"rows":[' + text.encode() + b"]", 1)

    def write(self, curs: Any, batch: list[ActivityRow], before: int, counts: WriteCounts) -> None:
        """Write the batch as one chunk per run of rows of one metric and actor."""
        if self.fast is None:
            first = batch[:2]
            self.fast = self._state(first[0].metric, first[0].actor, first) == self._slow_state(
                first[0].metric, first[0].actor, first
            )
            self.actor = batch[0].actor
        for _metric_actor, run in groupby(batch, key=_METRIC_ACTOR):
            self._write_run(curs, list(run), before, counts)

    def _write_run(
        self, curs: Any, run: list[ActivityRow], before: int, counts: WriteCounts
    ) -> None:
        """Insert the run's new rows as one chunk; count the ones already
        stored (in either shape) or repeated.

        Optimistic first: the chunk is inserted without looking anything up,
        with its keys (:meth:`_try_insert`) or, once the import has recorded
        :data:`HOLD_KEYS_FROM` rows, its keys held back (:meth:`_hold`) and
        inserted with those of the next chunks (:meth:`flush`); the key
        table's primary key refuses a row stored before. Only then is the
        chunk, or are the held-back chunks, rolled back and written again with
        their keys looked up (:meth:`_look_up`), and the lookups continue
        until a chunk turns out to be all new (a re-import does not pay for a
        failed insert on every chunk)."""
        metric, actor = run[0].metric, run[0].actor
        hex_id = activity_ids(metric)
        keys = list(map(hex_id, map(_SOURCE_ID, run)))
        fresh = dict(zip(keys, run, strict=True))
        if len(fresh) < len(run):  # rows repeated in the run: each key keeps its first
            fresh = {}
            for key, row in zip(keys, run, strict=True):
                if key in fresh:
                    counts.repeated += 1
                else:
                    fresh[key] = row
        if not self.optimistic:
            self._look_up(curs, metric, actor, fresh, before, counts)
        elif counts.recorded < HOLD_KEYS_FROM:  # the key table still fits the cache
            if self._try_insert(curs, metric, actor, fresh):
                counts.recorded += len(fresh)
            else:
                self._look_up(curs, metric, actor, fresh, before, counts)
        else:
            self._hold(curs, metric, actor, fresh, counts)
            if self.held_rows >= KEY_BATCH_ROWS:
                self.flush(curs, before, counts)

    def _hold(
        self, curs: Any, metric: str, actor: str, fresh: dict[str, ActivityRow], counts: WriteCounts
    ) -> None:
        """Insert the chunk of ``fresh``'s rows not held back already (those are
        repeated), its keys held back; the first held back opens a savepoint."""
        held = self.held_keys
        new, taken = fresh, []
        if held and not held.isdisjoint(fresh):
            taken = [key for key in fresh if key in held]
            new = {key: row for key, row in fresh.items() if key not in held}
        if not self.held:
            if not self.grown:
                self.recorder.bulk_write_grows(curs)
                self.grown = True
            curs.execute("SAVEPOINT activity_keys_held")
        stream, position = "", 0
        if new:
            record = self._record(metric, actor, new)
            stream, position = record[0], self.recorder.insert_chunk_event(curs, record)
        ids = sorted(new)  # a sorted run: the flush's sort is cheaper (measured)
        self.held.append(_Held(metric, actor, stream, position, ids, taken))
        held.update(ids)
        self.held_rows += len(fresh)
        counts.recorded += len(new)
        counts.repeated += len(taken)

    def flush(self, curs: Any, before: int, counts: WriteCounts) -> None:
        """Insert the held-back keys, in id order. A row stored before (in
        either shape, or by an earlier flush of this import) rolls the
        held-back chunks back to their savepoint: each is then written again
        with its keys looked up, counted as if never held back."""
        if not self.held:
            return
        held, self.held, self.held_keys, self.held_rows = self.held, [], set(), 0
        curs.execute("SAVEPOINT activity_keys_flush")  # PostgreSQL: the transaction goes on
        try:
            self.recorder.insert_chunk_keys(curs, [(h.position, h.ids) for h in held if h.ids])
        except self.duplicate:
            curs.execute("ROLLBACK TO SAVEPOINT activity_keys_flush")
            # the rows are read back from the chunks (not held in memory), then
            # the chunks rolled back and written again
            rows = [self._rows_of(curs, h) for h in held]
            curs.execute("ROLLBACK TO SAVEPOINT activity_keys_held")
            curs.execute("RELEASE SAVEPOINT activity_keys_held")
            for h, fresh in zip(held, rows, strict=True):
                counts.recorded -= len(h.ids)
                counts.repeated -= len(h.taken)
                self._look_up(curs, h.metric, h.actor, fresh, before, counts, h.taken)
            return
        curs.execute("RELEASE SAVEPOINT activity_keys_flush")
        curs.execute("RELEASE SAVEPOINT activity_keys_held")

    def _rows_of(self, curs: Any, held: _Held) -> dict[str, ActivityRow]:
        """The rows of a held-back chunk as they were written, by key, in order:
        read back from its state, which holds each row's rep, date, value and
        source id as the writer had them (the same JSON text written again)."""
        if not held.stream:
            return {}
        state = self.recorder.first_state(curs, UUID(held.stream))
        assert state is not None
        hex_id, metric, actor = activity_ids(held.metric), held.metric, held.actor
        return {
            hex_id(sid): ActivityRow(rep, metric, date.fromisoformat(day), float(value), sid, actor)
            for rep, day, value, sid in json.loads(state)["rows"]
        }

    def _look_up(
        self,
        curs: Any,
        metric: str,
        actor: str,
        fresh: dict[str, ActivityRow],
        before: int,
        counts: WriteCounts,
        taken: Sequence[str] = (),
    ) -> None:
        """Insert the chunk of ``fresh``'s rows not stored yet, and its keys;
        optimistic again after a chunk with none stored. ``taken``: the keys
        of rows of the chunk left out of ``fresh`` as held back by a chunk
        before it (each is found now, and counted)."""
        found = 0
        for key, ours in self.recorder.activity_keys_among(curs, [*fresh, *taken], before):
            found += 1
            fresh.pop(key, None)
            if ours:
                counts.repeated += 1
            else:
                counts.already_present += 1
        self.optimistic = found == 0
        if fresh:
            self._insert_chunk(curs, metric, actor, fresh)
            counts.recorded += len(fresh)

    def _record(
        self, metric: str, actor: str, fresh: dict[str, ActivityRow]
    ) -> tuple[str, int, str, bytes]:
        rows = list(fresh.values())
        state = (
            self._state(metric, actor, rows) if self.fast else self._slow_state(metric, actor, rows)
        )
        return (uuid4().hex, 1, self.topic, state)

    def _insert_chunk(
        self, curs: Any, metric: str, actor: str, fresh: dict[str, ActivityRow]
    ) -> None:
        self.recorder.insert_chunk(curs, self._record(metric, actor, fresh), sorted(fresh))

    def ensure_ledger_id(self, curs: Any) -> None:
        """Give a ledger without an id its ``LedgerCreated`` (SPEC §7.2), in this transaction."""
        from .identity import created_stored, stored_ledger_id

        if stored_ledger_id(self.recorder, curs) is None:
            self._insert(curs, [created_stored(self.ledger.mapper, self.at, self.actor)])

    def _insert(self, curs: Any, stored: list[StoredEvent]) -> None:
        self.recorder.insert_stored(curs, stored)

    def _try_insert(
        self, curs: Any, metric: str, actor: str, fresh: dict[str, ActivityRow]
    ) -> bool:
        """Insert the chunk and its keys under a savepoint; False (and nothing
        inserted) on a row stored before."""
        curs.execute("SAVEPOINT activity_batch")
        try:
            self._insert_chunk(curs, metric, actor, fresh)
        except self.duplicate:
            curs.execute("ROLLBACK TO SAVEPOINT activity_batch")
            curs.execute("RELEASE SAVEPOINT activity_batch")
            return False
        curs.execute("RELEASE SAVEPOINT activity_batch")
        return True


_METRIC_ACTOR = itemgetter(1, 5)  # an ActivityRow's (metric, actor)
_SOURCE_ID = itemgetter(4)  # an ActivityRow's source id


@dataclass
class _Held:
    """A chunk inserted with its keys held back (:meth:`_ActivityWriter.flush`)."""

    metric: str
    actor: str
    stream: str  # its event's stream id, 32 hex digits ("": none, every row was taken)
    position: int  # of its event
    ids: list[str]  # its rows' keys, sorted
    taken: list[str]  # the keys of its rows left out as held back by a chunk before it


class _JsonTexts(dict[Any, str]):
    """Each value's JSON text in a chunk's state, worked out on first use."""

    def __init__(self, text: Callable[[Any], str]) -> None:
        super().__init__()
        self.text = text

    def __missing__(self, value: Any) -> str:
        text = self.text(value)
        if value != 0:  # 0.0 and -0.0 are one key with two texts: never kept
            self[value] = text
        return text


def _float_json(value: Any) -> str:
    """A row's value as the state holds it: ``float(value)`` in canonical JSON."""
    return canonical_parsed(float(value))


# -- the import ----------------------------------------------------------------


def import_csv(
    ledger: Ledger,
    source: BinaryIO,
    options: ImportOptions,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
    batch_size: int = CHUNK_ROWS,
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


__all__ = ["CHUNK_ROWS", "WriteCounts", "import_csv", "write_activity_rows"]
