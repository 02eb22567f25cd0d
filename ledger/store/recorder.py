"""What the ledger asks of its event store beyond eventsourcing's recorder interface.

One subclass per backend implements it (:mod:`ledger.store.sqlite`,
:mod:`ledger.store.postgres`), as eventsourcing's ``searchabletimestamps``
example extends the application recorder. Methods taking ``curs`` run inside
the caller's transaction (``recorder.datastore.transaction(...)``); the others
open their own.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from ..topics import ACTIVITY, ACTIVITY_CHUNK

#: ``read(after, upto, limit)``: the next stored events of some topics after
#: position ``after`` up to ``upto``, as ``(position, stream id, version, topic,
#: state)`` rows.
PageReader = Callable[[int, int, int], Sequence[Sequence[Any]]]

#: The table beside the events table that holds the id of every activity row
#: stored, of either shape (issue 19): ``activity_id(metric, source id)`` and
#: the position of the event holding the row.
KEYS_TABLE = "activity_keys"

#: ``(position, stream id as stored, version, topic, state bytes)``
StoredRow = tuple[int, Any, int, str, bytes]


class LedgerRecorder(ApplicationRecorder):
    """The ledger's application recorder: the bulk insert, lookups, page reads
    and locks its writers and readers need, on either backend."""

    #: What to do when the tables are missing and may not be created here.
    INIT_HINT: ClassVar[str]
    #: The errors a duplicate (stream, version) raises inside a transaction.
    DUPLICATE: ClassVar[tuple[type[Exception], ...]]

    events_table_name: str
    datastore: Any

    # -- where the store lives ---------------------------------------------

    @classmethod
    @abstractmethod
    def settings(cls, db: str) -> dict[str, str]:
        """The backend's eventsourcing settings for ``--db`` (refused, exit 2, if
        ``db`` cannot name such a store)."""

    @classmethod
    def prepare(cls, db: str) -> None:
        """Anything the store needs before it is opened (nothing by default)."""

    @abstractmethod
    def tables_present(self) -> bool:
        """Whether the events table exists."""

    @abstractmethod
    def ensure_tables(self) -> bool:
        """Create the tables if missing; True if this call created them."""

    # -- writing inside the caller's transaction ---------------------------

    @abstractmethod
    def lock_for_insert(self, curs: Any) -> None:
        """Take the lock the recorder's own inserts take, for the rest of the
        transaction (so readers never pass over a gap that fills in later)."""

    def bulk_write(self, curs: Any) -> AbstractContextManager[None]:
        """Whatever makes a large write in this transaction cheaper, undone
        after it (nothing by default)."""
        return nullcontext()

    def bulk_write_grows(self, curs: Any) -> None:
        """Inside :meth:`bulk_write`: the write has grown large (an import past
        ``HOLD_KEYS_FROM`` rows); nothing by default."""

    def insert_stored(self, curs: Any, events: Sequence[StoredEvent]) -> None:
        """Insert stored events, with the recorder's own statements and lock,
        and the keys of any activity rows among them (:meth:`index_activity`)."""
        self._insert_plain(curs, events)
        self.index_activity(curs, stored_fields(events))

    def insert_records(
        self, curs: Any, records: Sequence[tuple[str, int, str, bytes]], *, index: bool = True
    ) -> None:
        """Insert ``(stream id as 32 hex digits, version, topic, state)`` rows,
        as :meth:`insert_stored` inserts stored events: for a bulk writer that
        has its rows' fields already (the activity importer) and need not
        build an object per row. A backend may bind the rows directly.
        ``index=False``: the caller inserts the activity keys itself."""
        key = self.stream_key
        self._insert_plain(curs, [StoredEvent(key(i), v, t, s) for i, v, t, s in records])
        if index:
            self.index_activity(curs, records)

    @abstractmethod
    def _insert_plain(self, curs: Any, events: Sequence[StoredEvent]) -> None:
        """:meth:`insert_stored` without the activity keys."""

    # -- the activity keys (issue 19) ----------------------------------------
    #
    # An activity row is recorded once per (metric, source id), whether it is
    # stored as its own ``Activity.Recorded`` event (the stream id is the
    # row's id) or as a row of an ``ActivityChunk.Recorded``. The key table
    # holds every row's id with the position of its event; whatever inserts
    # an event of either topic inserts its keys in the same transaction
    # (:meth:`index_activity`), so its primary key refuses a row stored
    # before in either shape. A ledger from before the table gets it, filled
    # from its per-row events, with its first activity write.

    def index_activity(self, curs: Any, events: Iterable[tuple[Any, int, str, bytes]]) -> None:
        """Insert the keys of the activity rows among ``events`` (stream id,
        version, topic, state), just inserted in this transaction: a
        duplicate raises one of :attr:`DUPLICATE`."""
        per_row: list[str] = []
        chunks: list[tuple[str, bytes]] = []
        for stream, version, topic, state in events:
            if topic == ACTIVITY and version == 1:
                per_row.append(_hex(stream))
            elif topic == ACTIVITY_CHUNK:
                chunks.append((_hex(stream), state))
        if not per_row and not chunks:
            return
        if self.ensure_activity_keys(curs):
            return  # created now, filled from the stored events, these among them
        if per_row:
            self._keys_of_events(curs, per_row)
        for stream, state in chunks:
            self.insert_activity_keys(curs, chunk_keys(state), self.position_of(curs, stream))

    def ensure_activity_keys(self, curs: Any) -> bool:
        """Create the key table if it is missing, in the caller's write
        transaction (so it is created by the write that needs it, or not at
        all), filled with the keys of the activity already stored; True if
        this call created it."""
        if self._keys_present(curs):
            return False
        self._create_keys(curs)
        self._keys_of_topic(curs)
        chunks = self._states_of_topic(curs, ACTIVITY_CHUNK)
        for _stream, position, state in chunks:  # none unless written without the table
            self.insert_activity_keys(curs, chunk_keys(state), position)
        return True

    @abstractmethod
    def _keys_present(self, curs: Any) -> bool:
        """Whether the key table exists."""

    @abstractmethod
    def _create_keys(self, curs: Any) -> None:
        """Create the (empty) key table."""

    @abstractmethod
    def _keys_of_topic(self, curs: Any) -> None:
        """Insert the key of every stored per-row activity event."""

    @abstractmethod
    def _states_of_topic(self, curs: Any, topic: str) -> list[tuple[str, int, bytes]]:
        """(stream hex, position, state) of every stored event of ``topic``."""

    @abstractmethod
    def _keys_of_events(self, curs: Any, hex_ids: Sequence[str]) -> None:
        """Insert the keys of the per-row activity events ``hex_ids`` (stored)."""

    @abstractmethod
    def insert_activity_keys(self, curs: Any, hex_ids: Sequence[str], position: int) -> None:
        """Insert row ids (32 hex digits each) held by the event at ``position``;
        one already there raises one of :attr:`DUPLICATE`."""

    @abstractmethod
    def position_of(self, curs: Any, hex_id: str) -> int:
        """The position of version 1 of stream ``hex_id`` (stored)."""

    @abstractmethod
    def activity_keys_among(
        self, curs: Any, hex_ids: Sequence[str], after: int
    ) -> Iterator[tuple[str, bool]]:
        """Which of the row ids ``hex_ids`` are stored (in either shape), each
        with whether its event was stored after position ``after``."""

    def insert_chunk(
        self, curs: Any, record: tuple[str, int, str, bytes], hex_ids: Sequence[str]
    ) -> None:
        """Insert one ``ActivityChunk.Recorded`` record whose rows have the ids
        ``hex_ids`` (the writer computed them: its state is not read again),
        and their keys: a row already stored raises one of :attr:`DUPLICATE`."""
        self.insert_activity_keys(curs, hex_ids, self.insert_chunk_event(curs, record))

    def insert_chunk_event(self, curs: Any, record: tuple[str, int, str, bytes]) -> int:
        """Insert one ``ActivityChunk.Recorded`` record without its rows' keys,
        which the caller inserts later in this transaction
        (:meth:`insert_chunk_keys`); its position."""
        self.insert_records(curs, [record], index=False)
        return self.position_of(curs, record[0])

    def insert_chunk_keys(self, curs: Any, chunks: Sequence[tuple[int, Sequence[str]]]) -> None:
        """Insert the row ids of several chunk events, ``(position, ids in
        order)`` each; one already there raises one of :attr:`DUPLICATE`. A
        backend may insert them all in one pass in id order (chunk by chunk
        here)."""
        for position, hex_ids in chunks:
            self.insert_activity_keys(curs, hex_ids, position)

    def stored_activity_keys(
        self, upto: int, page: int = 20_000
    ) -> Iterator[tuple[str, int]] | None:
        """Every (row id as 32 hex digits, position) of the key table whose event
        is at or before position ``upto``, page by page in id order; None if the
        store has no key table (a ledger from before issue 19, not written since)."""
        with self.datastore.transaction(commit=False) as curs:
            if not self._keys_present(curs):
                return None
        return self._key_pages(upto, page)

    def _key_pages(self, upto: int, page: int) -> Iterator[tuple[str, int]]:
        after = ""
        while True:
            with self.datastore.transaction(commit=False) as curs:
                rows = self._keys_after(curs, after, upto, page)
            for key, position in rows:
                yield _hex(key), int(position)
            if len(rows) < page:
                return
            after = rows[-1][0]

    @abstractmethod
    def _keys_after(self, curs: Any, after: Any, upto: int, page: int) -> list[tuple[Any, int]]:
        """Up to ``page`` (id, position) rows of the key table with an id after
        ``after`` ("" for the first page) and a position at or before ``upto``,
        in id order."""

    @staticmethod
    @abstractmethod
    def stream_key(hex_id: str) -> Any:
        """A stream id, given as 32 hex digits, as this store holds and binds it."""

    # -- reading -----------------------------------------------------------

    @abstractmethod
    def count_events(self, curs: Any) -> int:
        """How many events are stored."""

    @abstractmethod
    def max_position(self, curs: Any) -> int:
        """The highest notification id (0 when empty)."""

    @abstractmethod
    def first_state(self, curs: Any, stream: UUID) -> bytes | None:
        """The state of version 1 of ``stream``, or None."""

    @abstractmethod
    def events_of(self, curs: Any, stream: UUID) -> list[StoredEvent]:
        """Every stored event of ``stream``, in version order."""

    @abstractmethod
    def lookup(
        self, curs: Any, keys: set[tuple[UUID, int]]
    ) -> dict[tuple[UUID, int], tuple[str, bytes]]:
        """(topic, state) of each (stream, version) of ``keys`` that is stored."""

    @abstractmethod
    def created_among(
        self, curs: Any, hex_ids: Sequence[str], after: int
    ) -> Iterator[tuple[str, bool]]:
        """Which of the streams ``hex_ids`` (32 hex digits each) have a version 1
        stored, each with whether it was stored after position ``after``."""

    @abstractmethod
    def streams_created_between(
        self, curs: Any, low: UUID, high: UUID, topic: str, limit: int
    ) -> list[UUID]:
        """Streams whose id is from ``low`` to ``high`` and whose version 1 has ``topic``."""

    @abstractmethod
    def field_values(self, curs: Any, topic: str, field: str, value: str | None) -> list[str]:
        """The distinct values of a top-level state field among events of
        ``topic``; with ``value``: that value, if any event has it. ``field`` is
        a name from the code (it is written into the statement), never input."""

    @abstractmethod
    def latest_timestamps(self, curs: Any, except_topic: str) -> list[str]:
        """The stored ``timestamp`` texts of the latest second recorded (events
        of ``except_topic`` left out)."""

    @abstractmethod
    def stored_rows(self, after: int = 0, page: int = 2000) -> Iterator[StoredRow]:
        """Every stored row after position ``after`` as the store holds it, in
        ledger order, page by page (one read transaction each), up to the head
        as it was when iteration began."""

    @abstractmethod
    def canonical_stream(self, stored: Any) -> str | None:
        """A stream id as stored, as a lower-case UUID with dashes; None if the
        store holds it in other than canonical form."""

    @abstractmethod
    def page_reader(self, topics: Sequence[str]) -> PageReader:
        """A reader of the stored events of ``topics``, page by page."""


def _hex(stream: Any) -> str:
    return stream.hex if isinstance(stream, UUID) else str(stream).replace("-", "")


def chunk_keys(state: bytes) -> list[str]:
    """The row ids (32 hex digits) of an ``ActivityChunk.Recorded`` state."""
    import json

    return keys_of_chunk(json.loads(state))


def keys_of_chunk(data: dict[str, Any]) -> list[str]:
    """The row ids (32 hex digits) of an ``ActivityChunk.Recorded`` state, parsed."""
    from ..domain import activity_ids

    hex_id = activity_ids(data["metric"])
    return [hex_id(row[3]) for row in data["rows"]]


def stored_fields(events: Iterable[StoredEvent]) -> list[tuple[Any, int, str, bytes]]:
    return [(e.originator_id, e.originator_version, e.topic, e.state) for e in events]
