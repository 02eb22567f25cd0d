"""The SQLite event store: a file beside the ledger's other files, created private.

eventsourcing's SQLite application recorder, plus the statements of
:class:`ledger.store.recorder.LedgerRecorder`. Stream ids are stored as 32
lower-case hex digits; the notification id is the table's ``rowid``.
"""

from __future__ import annotations

import os
import re
import sqlite3
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder

from ..errors import IntegrityFailure, InvalidInput, StorageUnavailable
from ..topics import ACTIVITY
from .recorder import KEYS_TABLE, LedgerRecorder, PageReader, StoredRow, stored_fields

_HEX32 = re.compile(r"[0-9a-f]{32}")

_QUARTERS = ("4", "8", "c")
"""Where :meth:`LedgerSQLiteRecorder.insert_chunk_keys` cuts the ids (32 hex digits)."""

BULK_CACHE_KIB = 16 * 1024
"""SQLite's page cache during a bulk write (:meth:`LedgerSQLiteRecorder.bulk_write`), KiB."""

LARGE_BULK_CACHE_KIB = 48 * 1024
"""The same once the write has grown large (:meth:`LedgerSQLiteRecorder.bulk_write_grows`):
the key table of a million rows (44 MB) stays in it."""


def _among(curs: Any, sql: str, hex_ids: Sequence[str], after: int) -> Iterator[tuple[str, bool]]:
    """The (id, stored after position ``after``) rows ``sql`` finds for ``hex_ids``,
    asked 900 ids at a time (``{marks}`` in ``sql``: SQLite's limit of bound values)."""
    for i in range(0, len(hex_ids), 900):
        chunk = hex_ids[i : i + 900]
        curs.execute(sql.format(marks=",".join("?" * len(chunk))), [after, *chunk])
        for r in curs.fetchall():
            yield r[0], bool(r[1])


class LedgerSQLiteRecorder(LedgerRecorder, SQLiteApplicationRecorder):
    """The ledger's recorder on SQLite."""

    INIT_HINT = "run 'commitments init' first"
    DUPLICATE = (sqlite3.IntegrityError,)

    @classmethod
    def settings(cls, db: str) -> dict[str, str]:
        if "://" in db:
            raise InvalidInput(f"--db: {db} is neither a file path nor a postgresql:// URL")
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": db,
            "SQLITE_LOCK_TIMEOUT": lock_timeout(),
        }

    @classmethod
    def prepare(cls, db: str) -> None:
        """Create a new ledger file readable by its owner only."""
        if db == ":memory:" or db.startswith("file:") or os.path.exists(db):
            return
        try:
            fd = os.open(db, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            return
        except OSError as exc:
            raise StorageUnavailable(
                f"cannot create the ledger file {db}: {exc.strerror}"
            ) from None
        os.close(fd)

    def tables_present(self) -> bool:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (self.events_table_name,),
            )
            return curs.fetchone() is not None

    def ensure_tables(self) -> bool:
        if self.tables_present():
            return False
        self.create_table()
        return True

    def lock_for_insert(self, curs: Any) -> None:
        """Nothing to take: a SQLite write transaction holds the file's one write lock."""

    @contextmanager
    def bulk_write(self, curs: Any) -> Iterator[None]:
        # A larger page cache while the activity keys' B-tree grows, so its
        # pages are not spilled to the WAL and read back chunk after chunk;
        # bounded (BULK_CACHE_KIB), so memory stays flat in the file's size.
        curs.execute("PRAGMA cache_size")
        before = int(curs.fetchone()[0])
        curs.execute(f"PRAGMA cache_size = {-BULK_CACHE_KIB}")
        try:
            yield
        finally:
            curs.execute(f"PRAGMA cache_size = {before}")

    def bulk_write_grows(self, curs: Any) -> None:
        # A cache that grows with the import up to a cap (the pages are taken
        # as they are used): at 1,000,000 rows 0.2-0.7 s of CPU less than
        # 16 MiB, a peak of 130 MB instead of 96 (docs/performance.md).
        curs.execute(f"PRAGMA cache_size = {-LARGE_BULK_CACHE_KIB}")

    def _insert_plain(self, curs: Any, events: Sequence[StoredEvent]) -> None:
        # The aggregate recorder's multi-row insert: the application recorder's
        # override only adds a query per row to collect notification ids.
        SQLiteAggregateRecorder._insert_events(self, curs, events)

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # eventsourcing's own writes (Ledger._save): the activity keys with them
        ids = super()._insert_events(c, stored_events, **kwargs)
        self.index_activity(c, stored_fields(stored_events))
        return ids

    def insert_records(
        self, curs: Any, records: Sequence[tuple[str, int, str, bytes]], *, index: bool = True
    ) -> None:
        # The rows are the statement's parameters as they are (ids stored as hex).
        curs.executemany(self.insert_events_statement, records)
        if index:
            self.index_activity(curs, records)

    # -- the activity keys -----------------------------------------------------

    def _keys_present(self, curs: Any) -> bool:
        curs.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (KEYS_TABLE,))
        return curs.fetchone() is not None

    def _create_keys(self, curs: Any) -> None:
        curs.execute(
            f"CREATE TABLE {KEYS_TABLE} (id TEXT PRIMARY KEY, position INTEGER NOT NULL) "
            "WITHOUT ROWID"
        )

    def _keys_of_topic(self, curs: Any) -> None:
        curs.execute(
            f"INSERT INTO {KEYS_TABLE} (id, position) SELECT originator_id, rowid "
            f"FROM {self.events_table_name} WHERE topic = ? AND originator_version = 1",
            (ACTIVITY,),
        )

    def _states_of_topic(self, curs: Any, topic: str) -> list[tuple[str, int, bytes]]:
        curs.execute(
            f"SELECT originator_id, rowid, state FROM {self.events_table_name} WHERE topic = ?",
            (topic,),
        )
        return [(r[0], r[1], r[2]) for r in curs.fetchall()]

    def _keys_of_events(self, curs: Any, hex_ids: Sequence[str]) -> None:
        for i in range(0, len(hex_ids), 900):
            chunk = hex_ids[i : i + 900]
            marks = ",".join("?" * len(chunk))
            curs.execute(
                f"INSERT INTO {KEYS_TABLE} (id, position) SELECT originator_id, rowid "
                f"FROM {self.events_table_name} "
                f"WHERE originator_version = 1 AND originator_id IN ({marks})",
                chunk,
            )

    def insert_activity_keys(self, curs: Any, hex_ids: Sequence[str], position: int) -> None:
        # One statement over a JSON array of the ids (hex digits: nothing to
        # escape) rather than executemany: a chunk's 10,000 keys bind once
        # (measured, docs/performance.md "Activity import").
        curs.execute(
            f"INSERT INTO {KEYS_TABLE} (id, position) SELECT value, ? FROM json_each(?)",
            (position, '["' + '","'.join(hex_ids) + '"]' if hex_ids else "[]"),
        )

    def insert_chunk_keys(self, curs: Any, chunks: Sequence[tuple[int, Sequence[str]]]) -> None:
        # One statement per quarter of the ids over {"position": [ids], ...},
        # inserted in id order: the key table's B-tree is walked once for the
        # keys of several chunks rather than once per chunk, which thrashes the
        # page cache once the table outgrows it; by quarters, so the statement's
        # sort holds a quarter of them (measured, docs/performance.md
        # "Activity import"). Each chunk's ids come sorted (a sorted run is
        # cheaper to sort again) and are cut at the quarters by bisection.
        cuts = [[0, *(bisect_left(ids, q) for q in _QUARTERS), len(ids)] for _p, ids in chunks]
        for part in range(len(_QUARTERS) + 1):
            arrays = ",".join(
                f'"{p}":["' + '","'.join(ids[cut[part] : cut[part + 1]]) + '"]'
                for (p, ids), cut in zip(chunks, cuts, strict=True)
                if cut[part] < cut[part + 1]
            )
            if arrays:
                curs.execute(
                    f"INSERT INTO {KEYS_TABLE} (id, position) "
                    "SELECT k.value, CAST(c.key AS INTEGER) "
                    "FROM json_each(?) c, json_each(c.value) k ORDER BY k.value",
                    ("{" + arrays + "}",),
                )

    def position_of(self, curs: Any, hex_id: str) -> int:
        curs.execute(
            f"SELECT rowid FROM {self.events_table_name} "
            "WHERE originator_id = ? AND originator_version = 1",
            (hex_id,),
        )
        return int(curs.fetchone()[0])

    def _keys_after(self, curs: Any, after: Any, upto: int, page: int) -> list[tuple[Any, int]]:
        curs.execute(
            f"SELECT id, position FROM {KEYS_TABLE} WHERE id > ? AND position <= ? "
            "ORDER BY id LIMIT ?",
            (after, upto, page),
        )
        return [(r[0], r[1]) for r in curs.fetchall()]

    def activity_keys_among(
        self, curs: Any, hex_ids: Sequence[str], after: int
    ) -> Iterator[tuple[str, bool]]:
        sql = f"SELECT id, position > ? FROM {KEYS_TABLE} WHERE id IN ({{marks}})"
        return _among(curs, sql, hex_ids, after)

    @staticmethod
    def stream_key(hex_id: str) -> str:
        return hex_id

    def count_events(self, curs: Any) -> int:
        curs.execute(f"SELECT count(*) FROM {self.events_table_name}")
        return int(curs.fetchone()[0])

    def max_position(self, curs: Any) -> int:
        curs.execute(f"SELECT max(rowid) FROM {self.events_table_name}")
        return int(curs.fetchone()[0] or 0)

    def first_state(self, curs: Any, stream: UUID) -> bytes | None:
        curs.execute(
            f"SELECT state FROM {self.events_table_name} "
            "WHERE originator_id = ? AND originator_version = 1",
            (stream.hex,),
        )
        row = curs.fetchone()
        return None if row is None else row[0]

    def events_of(self, curs: Any, stream: UUID) -> list[StoredEvent]:
        curs.execute(
            f"SELECT originator_version, topic, state FROM {self.events_table_name} "
            "WHERE originator_id = ? ORDER BY originator_version",
            (stream.hex,),
        )
        return [StoredEvent(stream, row[0], row[1], row[2]) for row in curs.fetchall()]

    def lookup(
        self, curs: Any, keys: set[tuple[UUID, int]]
    ) -> dict[tuple[UUID, int], tuple[str, bytes]]:
        found: dict[tuple[UUID, int], tuple[str, bytes]] = {}
        items = list(keys)
        for i in range(0, len(items), 400):
            chunk = items[i : i + 400]
            marks = ",".join(["(?,?)"] * len(chunk))
            params: list[Any] = []
            for stream, version in chunk:
                params += (stream.hex, version)
            # Loop over the keys, one primary-key lookup each.
            curs.execute(
                f"WITH k(s, v) AS (VALUES {marks}) "
                "SELECT e.originator_id, e.originator_version, e.topic, e.state "
                f"FROM k JOIN {self.events_table_name} e "
                "ON e.originator_id = k.s AND e.originator_version = k.v",
                params,
            )
            for row in curs.fetchall():
                found[(UUID(row[0]), row[1])] = (row[2], row[3])
        return found

    def created_among(
        self, curs: Any, hex_ids: Sequence[str], after: int
    ) -> Iterator[tuple[str, bool]]:
        sql = (
            f"SELECT originator_id, rowid > ? FROM {self.events_table_name} "
            "WHERE originator_version = 1 AND originator_id IN ({marks})"
        )
        return _among(curs, sql, hex_ids, after)

    def streams_created_between(
        self, curs: Any, low: UUID, high: UUID, topic: str, limit: int
    ) -> list[UUID]:
        curs.execute(
            f"SELECT originator_id FROM {self.events_table_name} WHERE originator_id "
            "BETWEEN ? AND ? AND originator_version = 1 AND topic = ? LIMIT ?",
            (low.hex, high.hex, topic, limit),
        )
        return [UUID(r[0]) for r in curs.fetchall()]

    def field_values(self, curs: Any, topic: str, field: str, value: str | None) -> list[str]:
        found = f"json_extract(CAST(state AS TEXT), '$.{field}')"
        table = self.events_table_name
        if value is None:
            curs.execute(f"SELECT DISTINCT {found} FROM {table} WHERE topic = ?", (topic,))
        else:
            curs.execute(
                f"SELECT {found} FROM {table} WHERE topic = ? AND {found} = ? LIMIT 1",
                (topic, value),
            )
        return [str(r[0]) for r in curs.fetchall()]

    def latest_timestamps(self, curs: Any, except_topic: str) -> list[str]:
        # Timestamps differ in their fraction digits ("...:05Z", "...:05.25Z"), so the
        # text is compared to the second and the candidates of that second returned.
        ts, table = "json_extract(state, '$.timestamp')", self.events_table_name
        curs.execute(
            f"SELECT DISTINCT {ts} FROM {table} WHERE topic != ? AND substr({ts}, 1, 19) = "
            f"(SELECT max(substr({ts}, 1, 19)) FROM {table} WHERE topic != ?)",
            (except_topic, except_topic),
        )
        return [row[0] for row in curs.fetchall()]

    def stored_rows(self, after: int = 0, page: int = 2000) -> Iterator[StoredRow]:
        head = self.max_notification_id() or 0
        position = after
        sql = (
            "SELECT rowid, originator_id, originator_version, topic, state FROM "
            f"{self.events_table_name} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
        )
        while position < head:
            try:
                with self.datastore.transaction(commit=False) as curs:
                    curs.execute(sql, (position, head, page))
                    rows = curs.fetchall()
            except Exception as exc:
                if "decode" in str(exc):  # SQLite keeps any bytes in a TEXT column
                    self._refuse_undecodable(position, head, page)
                raise
            if not rows:
                break
            for r in rows:
                yield r[0], r[1], r[2], r[3], r[4]
            position = rows[-1][0]

    def _refuse_undecodable(self, position: int, head: int, page: int) -> None:
        """A page SQLite could not hand over as text: name the first row whose stream
        id or topic is not UTF-8 text (an edit behind the ledger's back)."""
        sql = (
            "SELECT rowid, CAST(originator_id AS BLOB), CAST(topic AS BLOB) FROM "
            f"{self.events_table_name} WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(sql, (position, head, page))
            rows = curs.fetchall()
        for rowid, sid, topic in rows:
            for name, value in (("stream id", sid), ("topic", topic)):
                try:
                    bytes(value or b"").decode("utf-8")
                except UnicodeDecodeError:
                    raise IntegrityFailure(
                        f"stored event at position {rowid}: its {name} is not UTF-8 text: "
                        "edited behind the ledger's back"
                    ) from None

    def canonical_stream(self, stored: Any) -> str | None:
        if not (isinstance(stored, str) and _HEX32.fullmatch(stored)):
            return None
        s = stored
        return f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}"

    def page_reader(self, topics: Sequence[str]) -> PageReader:
        # The application recorder's own select_notifications query, minus the
        # per-row Notification/UUID objects, which cost more than the json.loads.
        marks = ",".join("?" * len(topics))
        sql = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE rowid > ? AND rowid <= ? "
            f"AND topic IN ({marks}) ORDER BY rowid LIMIT ?"
        )

        def read_sqlite(after: int, upto: int, limit: int) -> Sequence[Sequence[Any]]:
            with self.datastore.transaction(commit=False) as c:
                c.execute(sql, (after, upto, *topics, limit))
                rows: list[Sequence[Any]] = c.fetchall()
                return rows

        return read_sqlite


def lock_timeout() -> str:
    """Seconds a SQLite writer waits for another's lock before giving up
    (``SQLITE_LOCK_TIMEOUT`` in the environment, default 10); then the command
    fails with exit 5 and nothing written."""
    text = os.environ.get("SQLITE_LOCK_TIMEOUT", "").strip() or "10"
    if not text.isdigit() or not 0 <= int(text) <= 3600:
        raise InvalidInput(f"SQLITE_LOCK_TIMEOUT={text!r}: give whole seconds from 0 to 3600")
    return str(int(text))


RECORDER = LedgerSQLiteRecorder
