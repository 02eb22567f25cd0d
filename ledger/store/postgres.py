"""The PostgreSQL event store: tables created once, without races; inserts that need only INSERT.

Two departures from eventsourcing's stock PostgreSQL recorder, both small:

* Writers serialize on a transaction-scoped **advisory lock** instead of
  ``LOCK TABLE ... IN EXCLUSIVE MODE``. Both make the commit order of inserts
  equal their notification-id order (so a follower never skips an id that
  commits later), but ``LOCK TABLE ... EXCLUSIVE`` requires UPDATE, DELETE or
  TRUNCATE privilege on the table, and the ledger's writers are granted only
  SELECT and INSERT. Every writer goes through this recorder, so they all
  take the same lock.
* The store is opened with ``CREATE_TABLE=n``. The tables are created by
  :meth:`LedgerPostgresRecorder.ensure_tables` (``commitments init``, or on
  first use): it checks the catalogue, and only when something is missing
  takes a session advisory lock, checks again, creates, and releases. Many
  processes starting at once against a fresh schema therefore never run
  concurrent DDL (which PostgreSQL answers with "tuple concurrently updated").

Besides, the statements of :class:`ledger.store.recorder.LedgerRecorder`.
Stream ids are stored as ``uuid``; the notification id is a column.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

import psycopg
from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Composed, Identifier, Literal

from ..errors import InvalidInput
from ..topics import ACTIVITY
from . import redact
from .recorder import KEYS_TABLE, LedgerRecorder, PageReader, StoredRow, stored_fields


def advisory_key(purpose: str, schema: str, table: str) -> int:
    """A stable signed 64-bit advisory-lock key for one purpose on one table."""
    digest = hashlib.sha256(f"commitments:{purpose}:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LedgerPostgresRecorder(LedgerRecorder, PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL application recorder, serializing inserts with an
    advisory lock (needs no table privilege beyond INSERT) instead of LOCK TABLE."""

    INIT_HINT = "run 'commitments init' as a role that may create them"
    DUPLICATE = (psycopg.errors.UniqueViolation, sqlite3.IntegrityError)

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        key = advisory_key("insert", self.datastore.schema, self.events_table_name)
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout),
            SQL("SELECT pg_advisory_xact_lock({0})").format(Literal(key)),
        ]

    @classmethod
    def settings(cls, db: str) -> dict[str, str]:
        """A PostgreSQL URL may carry ``?schema=NAME`` to keep the tables in a schema."""
        url = urlparse(db)
        if not url.path.strip("/"):
            raise InvalidInput(f"--db: {redact(db)} names no database")
        query = parse_qs(url.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(url.path.lstrip("/")),
            "POSTGRES_HOST": url.hostname or "localhost",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or ""),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "2",
            "POSTGRES_MAX_OVERFLOW": "4",
        }
        if query.get("schema"):
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env

    def _sql(self, text: str) -> Composed:
        """``text`` with ``{schema}`` and ``{table}`` filled in as the quoted names
        of the recorder's schema and events table."""
        return SQL(text).format(  # type: ignore[arg-type]
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
        )

    # -- tables ----------------------------------------------------------------

    def _missing(self, curs: Any) -> bool:
        """Whether the events table or the stored-event type is absent."""
        schema = self.datastore.schema
        curs.execute(
            "SELECT to_regclass(%s) IS NULL AS no_table, to_regtype(%s) IS NULL AS no_type",
            (
                Identifier(schema, self.events_table_name).as_string(curs.connection),
                Identifier(schema, self.stored_event_type_name).as_string(curs.connection),
            ),
        )
        row = curs.fetchone()
        return bool(row["no_table"] or row["no_type"])

    def tables_present(self) -> bool:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            return not self._missing(curs)

    def ensure_tables(self) -> bool:
        """Create the schema, events table, type and index if missing; True if this call
        created them.

        Safe to call from many processes at once: the DDL runs under a session
        advisory lock, and only after re-checking under the lock.
        """
        datastore = self.datastore
        created = False
        with datastore.get_connection() as conn, conn.cursor() as curs:
            if not self._missing(curs):
                if not self._keys_present(curs):
                    self._add_keys_table()
                datastore.register_type_adapters()
                return False
            key = advisory_key("create", datastore.schema, self.events_table_name)
            curs.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                if self._missing(curs):
                    curs.execute(
                        "SELECT 1 FROM pg_namespace WHERE nspname = %s", (datastore.schema,)
                    )
                    if curs.fetchone() is None:
                        curs.execute(SQL("CREATE SCHEMA {0}").format(Identifier(datastore.schema)))
                    self.create_table()
                    created = True
                if created:
                    self._add_keys_table()
            finally:
                curs.execute("SELECT pg_advisory_unlock(%s)", (key,))
        datastore.register_type_adapters()
        return created

    def _add_keys_table(self) -> None:
        """Create the activity key table (issue 19), filled from the stored
        activity, in its own transaction under the insert lock. A ledger from
        before it, opened by a role that may not create tables (a writer
        granted only SELECT and INSERT), goes on without it: ``init`` run by
        the owner, or the owner's first activity write, creates it."""
        try:
            with self.datastore.transaction(commit=True) as tx:
                self.lock_for_insert(tx)
                self.ensure_activity_keys(tx)
        except ProgrammingError as exc:
            if not isinstance(exc.__cause__, psycopg.errors.InsufficientPrivilege):
                raise

    # -- writing ---------------------------------------------------------------

    def lock_for_insert(self, curs: Any) -> None:
        self._lock_table(curs)

    def _insert_plain(self, curs: Any, events: Sequence[StoredEvent]) -> None:
        # The recorder's own insert, which takes the insert lock first.
        PostgresApplicationRecorder._insert_stored_events(self, curs, events)

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # eventsourcing's own writes (Ledger._save): the activity keys with them,
        # once the insert's notification ids are read off the cursor
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        self.index_activity(curs, stored_fields(stored_events))
        return ids

    # -- the activity keys -----------------------------------------------------

    def _keys_sql(self, text: str) -> Composed:
        return SQL(text).format(  # type: ignore[arg-type]
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            keys=Identifier(KEYS_TABLE),
        )

    def _keys_present(self, curs: Any) -> bool:
        curs.execute(
            "SELECT to_regclass(%s) IS NOT NULL AS present",
            (Identifier(self.datastore.schema, KEYS_TABLE).as_string(curs.connection),),
        )
        return bool(curs.fetchone()["present"])

    def _create_keys(self, curs: Any) -> None:
        curs.execute(
            self._keys_sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{keys} "
                "(id uuid PRIMARY KEY, position bigint NOT NULL)"
            )
        )

    def _keys_after(self, curs: Any, after: Any, upto: int, page: int) -> list[tuple[Any, int]]:
        first = after == ""
        curs.execute(
            self._keys_sql(
                "SELECT id, position FROM {schema}.{keys} WHERE (%s OR id > %s) "
                "AND position <= %s ORDER BY id LIMIT %s"
            ),
            (first, None if first else after, upto, page),
        )
        return [(r["id"], r["position"]) for r in curs.fetchall()]

    def _keys_of_topic(self, curs: Any) -> None:
        curs.execute(
            self._keys_sql(
                "INSERT INTO {schema}.{keys} (id, position) "
                "SELECT originator_id, notification_id FROM {schema}.{table} "
                "WHERE topic = %s AND originator_version = 1"
            ),
            (ACTIVITY,),
        )

    def _states_of_topic(self, curs: Any, topic: str) -> list[tuple[str, int, bytes]]:
        curs.execute(
            self._keys_sql(
                "SELECT originator_id, notification_id, state FROM {schema}.{table} "
                "WHERE topic = %s"
            ),
            (topic,),
        )
        return [
            (UUID(str(r["originator_id"])).hex, r["notification_id"], bytes(r["state"]))
            for r in curs.fetchall()
        ]

    def _keys_of_events(self, curs: Any, hex_ids: Sequence[str]) -> None:
        curs.execute(
            self._keys_sql(
                "INSERT INTO {schema}.{keys} (id, position) "
                "SELECT originator_id, notification_id FROM {schema}.{table} "
                "WHERE originator_id = ANY(%s) AND originator_version = 1"
            ),
            ([UUID(k) for k in hex_ids],),
        )

    def insert_activity_keys(self, curs: Any, hex_ids: Sequence[str], position: int) -> None:
        curs.execute(
            self._keys_sql(
                "INSERT INTO {schema}.{keys} (id, position) SELECT unnest(%s::uuid[]), %s"
            ),
            (list(hex_ids), position),
        )

    def insert_chunk_keys(self, curs: Any, chunks: Sequence[tuple[int, Sequence[str]]]) -> None:
        # one statement, in id order (as SQLite's: the primary key's B-tree
        # walked once for several chunks)
        curs.execute(
            self._keys_sql(
                "INSERT INTO {schema}.{keys} (id, position) "
                "SELECT k, p FROM unnest(%s::uuid[], %s::bigint[]) AS t(k, p) ORDER BY k"
            ),
            (
                [i for _p, ids in chunks for i in ids],
                [p for p, ids in chunks for _i in ids],
            ),
        )

    def position_of(self, curs: Any, hex_id: str) -> int:
        curs.execute(
            self._keys_sql(
                "SELECT notification_id FROM {schema}.{table} "
                "WHERE originator_id = %s AND originator_version = 1"
            ),
            (UUID(hex_id),),
        )
        return int(curs.fetchone()["notification_id"])

    def activity_keys_among(
        self, curs: Any, hex_ids: Sequence[str], after: int
    ) -> Iterator[tuple[str, bool]]:
        sql = self._keys_sql(
            "SELECT id, position > %s AS ours FROM {schema}.{keys} WHERE id = ANY(%s::uuid[])"
        )
        for i in range(0, len(hex_ids), 5000):
            curs.execute(sql, (after, list(hex_ids[i : i + 5000])))
            for r in curs.fetchall():
                yield UUID(str(r["id"])).hex, bool(r["ours"])

    @staticmethod
    def stream_key(hex_id: str) -> UUID:
        return UUID(hex_id)

    # -- reading ---------------------------------------------------------------

    def count_events(self, curs: Any) -> int:
        curs.execute(self._sql("SELECT count(*) AS n FROM {schema}.{table}"))
        return int(curs.fetchone()["n"])

    def max_position(self, curs: Any) -> int:
        curs.execute(self._sql("SELECT max(notification_id) AS n FROM {schema}.{table}"))
        return int(curs.fetchone()["n"] or 0)

    def first_state(self, curs: Any, stream: UUID) -> bytes | None:
        curs.execute(
            self._sql(
                "SELECT state FROM {schema}.{table} "
                "WHERE originator_id = %s AND originator_version = 1"
            ),
            (stream,),
        )
        row = curs.fetchone()
        return None if row is None else bytes(row["state"])

    def events_of(self, curs: Any, stream: UUID) -> list[StoredEvent]:
        curs.execute(
            self._sql(
                "SELECT originator_version, topic, state FROM {schema}.{table} "
                "WHERE originator_id = %s ORDER BY originator_version"
            ),
            (stream,),
        )
        return [
            StoredEvent(stream, r["originator_version"], r["topic"], bytes(r["state"]))
            for r in curs.fetchall()
        ]

    def lookup(
        self, curs: Any, keys: set[tuple[UUID, int]]
    ) -> dict[tuple[UUID, int], tuple[str, bytes]]:
        if not keys:
            return {}
        streams = [k[0] for k in keys]
        versions = [k[1] for k in keys]
        curs.execute(
            self._sql(
                "SELECT e.originator_id, e.originator_version, e.topic, e.state "
                "FROM {schema}.{table} e JOIN unnest(%s::uuid[], %s::bigint[]) AS k(s, v) "
                "ON e.originator_id = k.s AND e.originator_version = k.v"
            ),
            (streams, versions),
        )
        return {
            (row["originator_id"], row["originator_version"]): (row["topic"], bytes(row["state"]))
            for row in curs.fetchall()
        }

    def created_among(
        self, curs: Any, hex_ids: Sequence[str], after: int
    ) -> Iterator[tuple[str, bool]]:
        sql = self._sql(
            "SELECT originator_id, notification_id > %s AS ours "
            "FROM {schema}.{table} "
            "WHERE originator_id = ANY(%s) AND originator_version = 1"
        )
        for i in range(0, len(hex_ids), 900):
            curs.execute(sql, (after, [UUID(k) for k in hex_ids[i : i + 900]]))
            for r in curs.fetchall():
                yield UUID(str(r["originator_id"])).hex, bool(r["ours"])

    def streams_created_between(
        self, curs: Any, low: UUID, high: UUID, topic: str, limit: int
    ) -> list[UUID]:
        curs.execute(
            self._sql(
                "SELECT originator_id FROM {schema}.{table} WHERE originator_id "
                "BETWEEN %s AND %s AND originator_version = 1 AND topic = %s LIMIT %s"
            ),
            (low, high, topic, limit),
        )
        return [UUID(str(r["originator_id"])) for r in curs.fetchall()]

    def field_values(self, curs: Any, topic: str, field: str, value: str | None) -> list[str]:
        found = f"convert_from(state, 'UTF8')::jsonb ->> '{field}'"
        if value is None:
            sql = f"SELECT DISTINCT {found} AS m FROM {{schema}}.{{table}} WHERE topic = %s"
            curs.execute(self._sql(sql), (topic,))
        else:
            sql = (
                f"SELECT {found} AS m FROM {{schema}}.{{table}} "
                f"WHERE topic = %s AND {found} = %s LIMIT 1"
            )
            curs.execute(self._sql(sql), (topic, value))
        return [str(r["m"]) for r in curs.fetchall()]

    def latest_timestamps(self, curs: Any, except_topic: str) -> list[str]:
        ts = "(convert_from(state, 'UTF8')::json ->> 'timestamp')"
        curs.execute(
            self._sql(
                f"SELECT DISTINCT {ts} AS ts FROM {{schema}}.{{table}} WHERE topic <> %s AND "
                f"substr({ts}, 1, 19) = (SELECT max(substr({ts}, 1, 19)) "
                "FROM {schema}.{table} WHERE topic <> %s)"
            ),
            (except_topic, except_topic),
        )
        return [row["ts"] for row in curs.fetchall()]

    def stored_rows(self, after: int = 0, page: int = 2000) -> Iterator[StoredRow]:
        head = self.max_notification_id() or 0
        position = after
        sql = self._sql(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        )
        while position < head:
            with self.datastore.transaction(commit=False) as curs:
                curs.execute(sql, (position, head, page))
                rows = curs.fetchall()
            if not rows:
                break
            for r in rows:
                yield (
                    r["notification_id"], str(r["originator_id"]), r["originator_version"],
                    r["topic"], bytes(r["state"]),
                )  # fmt: skip
            position = rows[-1]["notification_id"]

    def canonical_stream(self, stored: Any) -> str | None:
        return str(stored)

    def page_reader(self, topics: Sequence[str]) -> PageReader:
        def read_recorder(after: int, upto: int, limit: int) -> Sequence[Sequence[Any]]:
            notes = self.select_notifications(
                start=after, limit=limit, stop=upto, topics=topics, inclusive_of_start=False
            )
            return [(n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notes]

        return read_recorder


RECORDER = LedgerPostgresRecorder
