"""The PostgreSQL event store: tables created once, without races; inserts that need only INSERT.

Two departures from eventsourcing's stock PostgreSQL recorder, both small:

* Writers serialize on a transaction-scoped **advisory lock** instead of
  ``LOCK TABLE ... IN EXCLUSIVE MODE``. Both make the commit order of inserts
  equal their notification-id order (so a follower never skips an id that
  commits later), but ``LOCK TABLE ... EXCLUSIVE`` requires UPDATE, DELETE or
  TRUNCATE privilege on the table, and the ledger's writers are granted only
  SELECT and INSERT. Every writer goes through this recorder, so they all
  take the same lock.
* Commands open the store with ``CREATE_TABLE=n``. The tables are created by
  :func:`ensure_tables` (``commitments init``, or on first use): it checks the
  catalogue, and only when something is missing takes a session advisory
  lock, checks again, creates, and releases. Many processes starting at once
  against a fresh schema therefore never run concurrent DDL (which PostgreSQL
  answers with "tuple concurrently updated").
"""

from __future__ import annotations

import hashlib
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Identifier, Literal


def advisory_key(purpose: str, schema: str, table: str) -> int:
    """A stable signed 64-bit advisory-lock key for one purpose on one table."""
    digest = hashlib.sha256(f"commitments:{purpose}:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL application recorder, serializing inserts with an
    advisory lock (needs no table privilege beyond INSERT) instead of LOCK TABLE."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        key = advisory_key("insert", self.datastore.schema, self.events_table_name)
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout),
            SQL("SELECT pg_advisory_xact_lock({0})").format(Literal(key)),
        ]


def _missing(curs: Any, recorder: LedgerPostgresRecorder) -> bool:
    """Whether the events table or the stored-event type is absent."""
    schema = recorder.datastore.schema
    curs.execute(
        "SELECT to_regclass(%s) IS NULL AS no_table, to_regtype(%s) IS NULL AS no_type",
        (
            Identifier(schema, recorder.events_table_name).as_string(curs.connection),
            Identifier(schema, recorder.stored_event_type_name).as_string(curs.connection),
        ),
    )
    row = curs.fetchone()
    return bool(row["no_table"] or row["no_type"])


def tables_exist(recorder: LedgerPostgresRecorder) -> bool:
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        return not _missing(curs, recorder)


def ensure_tables(recorder: LedgerPostgresRecorder) -> bool:
    """Create the schema, events table, type and index if missing; True if this call created them.

    Safe to call from many processes at once: the DDL runs under a session
    advisory lock, and only after re-checking under the lock.
    """
    datastore = recorder.datastore
    created = False
    with datastore.get_connection() as conn, conn.cursor() as curs:
        if not _missing(curs, recorder):
            datastore.register_type_adapters()
            return False
        key = advisory_key("create", datastore.schema, recorder.events_table_name)
        curs.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            if _missing(curs, recorder):
                curs.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (datastore.schema,))
                if curs.fetchone() is None:
                    curs.execute(SQL("CREATE SCHEMA {0}").format(Identifier(datastore.schema)))
                recorder.create_table()
                created = True
        finally:
            curs.execute("SELECT pg_advisory_unlock(%s)", (key,))
    datastore.register_type_adapters()
    return created
