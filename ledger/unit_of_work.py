"""The unit of work behind :meth:`ledger.application.Ledger.batch`: the
events of many commands, written in one transaction.

Inside a batch every command runs as usual (validated, every rule of its
aggregates applied, free text sealed) but saves nothing on its own: its
aggregates stay here, so the next command of the batch finds them (an
aggregate changed in the batch is never read back from the store), and its
events are kept in command order. They are inserted, in that order, inside
the batch's one open transaction whenever ``flush_every`` are pending, and the
rest when the batch ends; the transaction then commits. An exception inside
the batch rolls everything back: the store is as it was before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from .sealing import seal_events


class UnitOfWork:
    """The pending state of one batch (``ledger``: the batch's ledger,
    ``curs``: its open transaction)."""

    def __init__(
        self, ledger: Any, curs: Any, *, has_id: bool, flush_every: int, seal: bool
    ) -> None:
        self.ledger = ledger
        self.curs = curs
        self.needs_id = not has_id  # write a LedgerCreated first (a ledger without an id)
        self.flush_every = flush_every
        self.seal = seal
        self.aggregates: dict[UUID, Any] = {}
        self.missing: set[UUID] = set()
        self.events: list[Any] = []
        self.written = 0
        self.keys = lambda: ledger.keys  # the key store, opened when something is sealed
        # A store holding nothing but its ledger id has no aggregate to read:
        # every miss of this batch is then known without asking it (a stream
        # another writer creates meanwhile is refused at the insert: Conflict).
        self.empty = ledger.recorder.max_position(curs) <= (1 if has_id else 0)

    def get(self, aggregate_id: UUID, load: Callable[[UUID], Any]) -> Any | None:
        """The aggregate as this batch left it, else as ``load`` reads it from
        the store (kept for the batch's next commands), else None (a miss is
        remembered too: the batch does not ask the store twice)."""
        found = self.aggregates.get(aggregate_id)
        if found is None and not self.empty and aggregate_id not in self.missing:
            try:
                found = self.aggregates[aggregate_id] = load(aggregate_id)
            except AggregateNotFoundError:
                self.missing.add(aggregate_id)
        return found

    def take(self, aggregates: tuple[Any, ...]) -> None:
        """Keep the new events of ``aggregates`` (one command's), in the order
        given, sealed as :meth:`Ledger._save` seals them."""
        for agg in aggregates:
            events = agg.collect_events()
            if self.seal:
                events = seal_events(self.keys, agg, events)
            self.events.extend(events)
            self.aggregates[agg.id] = agg
        if len(self.events) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Insert the events kept so far, in command order, inside the batch's
        transaction. The ledger's first write also writes its ``LedgerCreated``,
        recorded at the same instant as the first event, by the same actor (as
        :meth:`Ledger._save` does)."""
        if not self.events:
            return
        events, self.events = self.events, []
        if self.needs_id:
            from .identity import created_event

            first = events[0]
            events.insert(0, created_event(first.timestamp, getattr(first, "actor", "ledger")))
            self.needs_id = False
        to_stored = self.ledger.mapper.to_stored_event
        # The recorder's unique (id, version) key still refuses anything a
        # concurrent writer got to first (IntegrityError: the batch rolls back).
        self.ledger.recorder.insert_stored(self.curs, [to_stored(e) for e in events])
        self.written += len(events)
