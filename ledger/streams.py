"""The fixed ids the ledger derives its streams from: plain ``uuid5`` values,
importable without the event-sourcing library (a read command checks the
ledger id with plain ``sqlite3`` and must not pay for the domain's import)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

NAMESPACE = uuid5(NAMESPACE_URL, "https://commitment-ledger.invalid/")

#: The one stream of :class:`ledger.domain.LedgerIdentity`. Fixed, so two first
#: writes racing each other both try to insert version 1 of it and only one
#: succeeds: a ledger never gets two ids.
LEDGER_STREAM = uuid5(NAMESPACE, "ledger-identity")
