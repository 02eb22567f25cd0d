"""Fixed stream ids, and the ledger id as a stored state holds it.

Standard library only: the read side checks which ledger a views file belongs
to on every read, and must not pay for pydantic or eventsourcing to do so.
"""

from __future__ import annotations

import json
from uuid import NAMESPACE_URL, UUID, uuid5

NAMESPACE = uuid5(NAMESPACE_URL, "https://commitment-ledger.invalid/")
"""The namespace of every derived (uuid5) stream id."""

#: The one stream of ``LedgerIdentity``. Fixed, so two first writes racing
#: each other both try to insert version 1 of it and only one succeeds: a
#: ledger never gets two ids.
LEDGER_STREAM = uuid5(NAMESPACE, "ledger-identity")

#: ``LEDGER_STREAM`` as the SQLite recorder stores stream ids (32 lower-case hex digits).
LEDGER_STREAM_KEY = LEDGER_STREAM.hex


def ledger_id_of_state(state: bytes | str) -> UUID:
    """The ledger id held by a stored ``LedgerCreated`` state."""
    return UUID(json.loads(state)["ledger_id"])
