"""The ledger id (SPEC §7.2): one ``LedgerCreated`` event on a fixed stream.

A ledger gets its id with its first write (a command, an activity import, an
import, the demo); a ledger written before this release gets one from its
next write. ``commitments init`` only creates the tables and writes no event:
an export imported into a freshly initialised ledger must keep every hash
(SPEC §7.2's upgrade path) and bring its own id along. The event lives on the fixed stream
:data:`ledger.domain.LEDGER_STREAM` at version 1, so two first writes racing
each other cannot both create one: the store's unique (stream, version) key
refuses the second, which then writes without it (commands) or fails with
"run it again" (imports). An export carries the event like any other, and an
import into a ledger without an id brings the exported ledger's id along.

How to use it::

    from ledger.application import Ledger

    ledger = Ledger.open("commitments.db")    # or a postgresql:// URL
    ledger.ledger_id()                        # UUID, or None before the first write

    # inside a transaction of your own, on either backend (one primary-key read):
    from ledger.identity import stored_ledger_id
    with ledger.recorder.datastore.transaction(commit=False) as curs:
        stored_ledger_id(ledger.recorder, curs)

    # a SQLite ledger file read with plain sqlite3 (the read side's attached file):
    #   SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = 1
    # with LEDGER_STREAM_KEY, then ledger_id_of_state(state)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from .streams import LEDGER_STREAM as LEDGER_STREAM  # re-exported
from .streams import LEDGER_STREAM_KEY as LEDGER_STREAM_KEY
from .streams import ledger_id_of_state as ledger_id_of_state

if TYPE_CHECKING:  # the read side imports this module: no event-store imports here
    from eventsourcing.persistence import StoredEvent


def stored_ledger_id(recorder: Any, curs: Any) -> UUID | None:
    """The ledger id, read inside the caller's transaction ``curs`` (one
    primary-key read, :meth:`ledger.store.recorder.LedgerRecorder.first_state`);
    None if the ledger has none yet."""
    state = recorder.first_state(curs, LEDGER_STREAM)
    return None if state is None else ledger_id_of_state(state)


def created_event(at: datetime, actor: str) -> Any:
    """A new ``LedgerCreated`` domain event (a fresh random id), recorded at ``at``."""
    from .domain import LedgerIdentity

    return LedgerIdentity.create(at=at, actor=actor).collect_events()[0]


def created_stored(mapper: Any, at: datetime, actor: str) -> StoredEvent:
    """A new ``LedgerCreated`` as a stored event, for writers that insert
    stored events themselves (the imports): pass it to
    :meth:`ledger.store.recorder.LedgerRecorder.insert_stored` in the same transaction."""
    stored: StoredEvent = mapper.to_stored_event(created_event(at, actor))
    return stored
