"""What the ledger asks of its event store beyond eventsourcing's recorder interface.

One subclass per backend implements it (:mod:`ledger.store.sqlite`,
:mod:`ledger.store.postgres`), as eventsourcing's ``searchabletimestamps``
example extends the application recorder. Methods taking ``curs`` run inside
the caller's transaction (``recorder.datastore.transaction(...)``); the others
open their own.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

#: ``read(after, upto, limit)``: the next stored events of some topics after
#: position ``after`` up to ``upto``, as ``(position, stream id, version, topic,
#: state)`` rows.
PageReader = Callable[[int, int, int], Sequence[Sequence[Any]]]

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

    @abstractmethod
    def insert_stored(self, curs: Any, events: Sequence[StoredEvent]) -> None:
        """Insert stored events, with the recorder's own statements and lock."""

    def insert_records(self, curs: Any, records: Sequence[tuple[str, int, str, bytes]]) -> None:
        """Insert ``(stream id as 32 hex digits, version, topic, state)`` rows,
        as :meth:`insert_stored` inserts stored events: for a bulk writer that
        has its rows' fields already (the activity importer) and need not
        build an object per row. A backend may bind the rows directly."""
        key = self.stream_key
        self.insert_stored(curs, [StoredEvent(key(i), v, t, s) for i, v, t, s in records])

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
