"""Keep the read-model tables current: catch up, rebuild, status.

Catch-up pulls the ledger's notifications after the tracked position in
pages, turns each page's raw JSON states into rows (``json.loads`` only, no
event objects), and writes the rows and the new position in ONE SQLite
transaction. So every event is applied exactly once, a crash loses at most
the page in flight (and nothing of it is half-written), and several
processes may catch up at once: the position is read inside the page's
``BEGIN IMMEDIATE``. A full rebuild (drop, recreate, replay) and any
sequence of catch-ups, in any page sizes, give identical tables.

The tables are created and dropped with sqlite-utils from
:mod:`projections.tables`; rows are written with ``executemany`` on the same
connection, which is what keeps a rebuild close to the speed of a raw scan.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.store import local_file, location
from ledger.topics import (
    ACTIVITY,
    ACTIVITY_CHUNK,
    AGREED,
    CHECKED_IN,
    CLOSED,
    CORRECTED,
    HELD,
    RELEASED,
    REPLIED,
    REVISED,
)
from ledger.topics import PERSON_TOPICS as _PERSON_TOPICS

from .sealed import SEALED_FIELDS
from .stamps import normalize_timestamp
from .tables import BY_NAME, CACHES, TABLES, TRIGGERS, trigger_sql

if TYPE_CHECKING:
    import sqlite_utils

    from ledger.application import Ledger

    from .query import ReadModel

DEFAULT_PAGE_SIZE = 5000
REBUILD_PAGE_SIZE = 50000  # fewer commits: each rewrote the same index pages to the WAL
Progress = Callable[[int], None]
"""Called after each committed page with the number of notifications in it."""
ProgressFactory = Callable[[int], AbstractContextManager[Progress | None]]

PERSON_TOPICS = frozenset(_PERSON_TOPICS)


def _uuid_text(value: Any) -> str:
    """An originator id (hex text on SQLite, UUID on PostgreSQL) as hyphenated text."""
    if isinstance(value, str) and len(value) == 32:
        v = value
        return f"{v[:8]}-{v[8:12]}-{v[12:16]}-{v[16:20]}-{v[20:]}"
    return str(value)


def _json_list(value: list[str]) -> str:
    """Compact JSON, as SQLite's ``->`` renders it (the in-SQLite pages must match)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def connect(views_path: str, *, any_thread: bool = False) -> sqlite_utils.Database:
    """Open (and create if needed) the read-model file with every table present
    (``any_thread``: a connection that threads take turns on, under a lock)."""
    import sqlite_utils

    _refuse_foreign_file(views_path)
    _create_private(views_path)
    conn = sqlite3.connect(
        views_path, timeout=30, isolation_level=None, check_same_thread=not any_thread
    )
    conn.execute("PRAGMA journal_mode=WAL")
    # Clear text of people (SPEC §7.4): what is deleted or overwritten (an
    # erasure's purge, a rebuild) is zeroed in the file, not left in free pages.
    conn.execute("PRAGMA secure_delete=ON")
    # Derived data, rebuilt from the ledger at will: never fsynced. A process
    # killed at any point leaves it consistent (WAL); only an OS crash or power
    # loss could damage it, and then ensure_current rebuilds it.
    conn.execute("PRAGMA synchronous=OFF")
    db = sqlite_utils.Database(conn)
    existing = set(db.table_names())
    if "tracking" in existing and _columns(conn, "tracking") != BY_NAME["tracking"].names:
        _reset(db)  # written by an older release: derived data, rebuilt
    elif any(t.name not in existing for t in TABLES) or not _indexes_complete(conn):
        with _immediate(conn):
            _create_tables(db)
    if not columns_current(conn):
        _reset(db)  # written by an older release: derived data, rebuilt from the ledger
    return db


def columns_current(conn: sqlite3.Connection) -> bool:
    """Whether every read-model table has exactly today's columns (a views file
    written by an older release lacks the newer ones and is rebuilt)."""
    for t in TABLES:
        found = tuple(
            r[0] for r in conn.execute("SELECT name FROM pragma_table_info(?)", (t.name,))
        )
        if found and found != t.names:
            return False
    return True


def schema_current(conn: sqlite3.Connection) -> bool:
    """:func:`columns_current`, and the report's caches are there with every
    trigger that keeps it true, and every index (issue 19; a file without them,
    written by an older release or by a rebuild that stopped midway, is caught
    up first, which creates them: the cache starts empty)."""
    return (
        columns_current(conn)
        and conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
            f"AND name IN ({', '.join('?' for _ in CACHES)})",
            CACHES,
        ).fetchone()[0]
        == len(CACHES)
        and _indexes_complete(conn)
    )


def _indexes_complete(conn: sqlite3.Connection) -> bool:
    """Whether the file has every secondary index and every trigger (created
    together, after a rebuild's replay: a rebuild stopped midway lacks them)."""
    found = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%'"
    ).fetchone()[0]
    return bool(found >= _INDEX_COUNT and _missing_triggers(conn) == 0)


def _columns(conn: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(row[1] for row in conn.execute(f"PRAGMA table_info([{table}])"))


def _refuse_foreign_file(views_path: str) -> None:
    """Never write read-model tables into a file that holds something else."""
    if views_path == ":memory:" or views_path.startswith("file:"):
        return
    why = _not_a_read_model(views_path)
    if why is not None:
        from ledger.errors import InvalidInput

        raise InvalidInput(f"{views_path}: {why} is not a read model; nothing was written")


def _not_a_read_model(path: str) -> str | None:
    """:func:`ledger.files.not_a_read_model`, asking SQLite first.

    That function reads the file's header through a file descriptor of its own,
    and closing it drops every POSIX lock this process holds on the file: the
    locks of other threads' SQLite connections too (a server's readers). Another
    process may then take the file for unused, checkpoint it and delete its WAL
    under them ("disk I/O error", "database disk image is malformed"). SQLite
    shares one descriptor per file among its connections and closes none while
    locks are held, so a database it can read is judged through it; only a file
    SQLite cannot read as a database (which no connection of ours has open) is
    looked at directly."""
    from ledger.files import not_a_read_model, not_a_read_model_by_names, schema_names

    if not os.path.isfile(path):
        return not_a_read_model(path)  # a directory or nothing: no descriptor of ours
    if os.path.getsize(path) == 0:
        return None  # empty (perhaps a read model another thread is creating)
    try:
        names = schema_names(path)
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "") not in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            raise
        return not_a_read_model(path)
    return not_a_read_model_by_names(names)


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One ``BEGIN IMMEDIATE`` transaction: committed, or rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _create_private(path: str) -> None:
    """Create a new read-model file readable by its owner only (it holds
    verdicts about people); SQLite gives its -wal and -shm files the same mode."""
    if path == ":memory:" or path.startswith("file:"):
        return
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


_TYPES = {"TEXT": str, "INTEGER": int, "REAL": float, "BLOB": bytes}
_INDEX_COUNT = sum(len(t.all_indexes) for t in TABLES)


def _create_tables(
    db: sqlite_utils.Database, *, indexes: bool = True, deferred: frozenset[str] = frozenset()
) -> None:
    """Create the missing tables; ``indexes=False`` (a rebuild): only the unique
    indexes catch-up looks rows up by, except those of the ``deferred`` tables."""
    existing = set(db.table_names())
    for t in TABLES:
        if t.name in existing:
            continue
        db[t.name].create(  # type: ignore[union-attr]
            {c.name: _TYPES[c.type] for c in t.columns},
            pk=t.pk[0] if len(t.pk) == 1 else t.pk,
            not_null=set(t.pk),
        )
    if indexes:
        _create_indexes(db)
    else:
        for t in TABLES:
            if t.looked_up and t.name not in deferred:
                db[t.name].create_index(t.unique, unique=True, if_not_exists=True)  # type: ignore[union-attr]


def _create_indexes(db: sqlite_utils.Database) -> None:
    """The secondary indexes (a rebuild adds them after the replay: much faster
    than keeping random-order B-trees up to date row by row)."""
    for t in TABLES:
        for cols, unique in t.all_indexes:
            db[t.name].create_index(cols, unique=unique, if_not_exists=True)  # type: ignore[union-attr]
    for trigger in TRIGGERS:  # issue 19: what keeps the report's cache true
        db.conn.execute(trigger_sql(*trigger))


def _missing_triggers(conn: sqlite3.Connection) -> int:
    """How many of :data:`TRIGGERS` the file lacks (the report fills its cache only
    when none is missing: see :func:`projections.counted.remember`)."""
    found = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    return sum(name not in found for name, *_ in TRIGGERS)


@dataclass(frozen=True)
class Tracking:
    """Where a read model stands: the ledger it was built from, the position
    applied up to, and the hash of the stored event at that position."""

    position: int = 0
    source: str | None = None
    ledger_id: str | None = None
    event_hash: str | None = None


TRACKING_SQL = "SELECT position, source, ledger_id, event_hash FROM tracking WHERE name = 'ledger'"


def tracking(conn: sqlite3.Connection) -> Tracking:
    row = conn.execute(TRACKING_SQL).fetchone()
    return Tracking(int(row[0]), row[1], row[2], row[3]) if row else Tracking()


@dataclass(frozen=True)
class Source:
    """The ledger a read model is being built from or read for."""

    where: str  # path or redacted URL
    ledger_id: str | None  # None: a ledger not written since before release 2


def _refuse_foreign(at: Tracking, me: Source, views_path: str) -> None:
    """A read model of another ledger is refused (exit 4), naming both."""
    theirs = at.ledger_id
    if theirs is None or theirs == me.ledger_id:
        return
    from ledger.errors import IntegrityFailure

    mine = me.ledger_id or "without an id yet"
    raise IntegrityFailure(
        f"the read model {views_path} belongs to ledger {theirs} ({at.source}), not to "
        f"ledger {mine} ({me.where}); pass another --views (nothing was read)"
    )


def tracked_position(conn: sqlite3.Connection) -> tuple[int, str | None]:
    t = tracking(conn)
    return t.position, t.source


def _set_position(
    conn: sqlite3.Connection,
    position: int,
    source: str,
    event_hash: str | None = None,
    ledger_id: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO tracking (name, position, source, ledger_id, event_hash) "
        "VALUES ('ledger', ?, ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
        "source = excluded.source, ledger_id = excluded.ledger_id, "
        "event_hash = excluded.event_hash",
        (position, source, ledger_id, event_hash),
    )


def event_hash(originator_id: Any, version: int, topic: str, state: bytes | str) -> str:
    """SHA-256 of one stored event: its stream id as stored (hex text on SQLite,
    a UUID on PostgreSQL), version, topic and state bytes. A read model records
    the hash of the event at its position; any change of that event shows."""
    import hashlib

    stream = originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)
    data = state.encode() if isinstance(state, str) else bytes(state)
    head = f"{stream}\n{version}\n{topic}\n".encode()
    return hashlib.sha256(head + data).hexdigest()


HashAt = Callable[[int], str | None]
"""``hash_at(position)``: the :func:`event_hash` of the ledger's event at a
position, None at 0 or where there is no event."""


def _sqlite_hash_at(conn: sqlite3.Connection, table: str) -> HashAt:
    sql = f"SELECT originator_id, originator_version, topic, state FROM {table} WHERE rowid = ?"

    def hash_at(position: int) -> str | None:
        if position <= 0:
            return None
        row = conn.execute(sql, (position,)).fetchone()
        return None if row is None else event_hash(*row)

    return hash_at


def recorder_hash_at(ledger: Ledger) -> HashAt:
    """:data:`HashAt` through the ledger's recorder, on any backend. It reads the
    row as stored (``stored_rows``), not as a notification: a stream id edited
    into something that is not a UUID hashes differently instead of failing to
    parse. A row whose text is not UTF-8 raises ``IntegrityFailure``."""
    recorder: Any = ledger.recorder

    def hash_at(position: int) -> str | None:
        if position <= 0:
            return None
        row = next(iter(recorder.stored_rows(after=position - 1, page=1)), None)
        if row is None or row[0] != position:
            return None
        return event_hash(row[1], row[2], row[3], row[4])

    return hash_at


class _Applier:
    """Turns notifications into rows. Caches the rep of each commitment and
    its check-in count; the caches are dropped whenever another process has
    moved the position in between."""

    def __init__(self, conn: sqlite3.Connection, open_text: Callable[[str], str]) -> None:
        self.conn = conn
        self.open_text = open_text
        self.open_value: Callable[[Any], Any] = lambda value: value  # set by catch-up
        self.names: dict[str, str] = {}
        self.reps: dict[str, str] = {}
        self.check_ins: dict[str, int] = {}
        self.last_position: int | None = None
        self.sql = {t.name: t.insert_sql() for t in TABLES}

    def reset(self) -> None:
        """Forget the caches (the tables changed under them)."""
        self.names.clear()
        self.reps.clear()
        self.check_ins.clear()

    def rep_of(self, cid: str) -> str:
        rep = self.reps.get(cid)
        if rep is None:
            row = self.conn.execute("SELECT rep FROM commitments WHERE id = ?", (cid,)).fetchone()
            rep = self.reps[cid] = row[0] if row else ""
        return rep

    def next_check_in(self, cid: str) -> int:
        n = self.check_ins.get(cid)
        if n is None:
            row = self.conn.execute(
                "SELECT count(*) FROM check_ins WHERE commitment_id = ?", (cid,)
            ).fetchone()
            n = int(row[0])
        n += 1
        self.check_ins[cid] = n
        return n

    def apply(self, notifications: Sequence[Sequence[Any]]) -> None:
        """Write the rows of ``(position, originator_id, version, topic, state)`` tuples."""
        rows: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t in TABLES}
        loads = json.loads
        people = [(n[0], n[1], n[3], n[4]) for n in notifications if n[3] in PERSON_TOPICS]
        if people:  # first, so the page's other rows show the names they bring
            from .people import apply_person_events

            if apply_person_events(self.conn, people, self.open_text):
                self.reps.clear()  # a rename changed names the cache holds
        if people or not self.names:
            self.names = dict(self.conn.execute("SELECT subject, name FROM people").fetchall())
        names = self.names
        for pos, originator_id, version, topic, state in notifications:
            if topic not in _INTERESTING or topic in PERSON_TOPICS:
                continue
            s = loads(state)
            for f in SEALED_FIELDS.get(topic, ()):
                if f in s:
                    s[f] = self.open_value(s[f])  # free text in clear, as written (SPEC 7.4)
            at = s["timestamp"]
            if len(at) != 27:
                at = normalize_timestamp(at)
            if "rep" in s:
                s["rep"] = names.get(s["rep"], s["rep"])
            if topic == ACTIVITY:
                rows["activity_daily"].append((s["rep"], s["metric"], s["date"], at, s["value"], 1))
                continue
            if topic == ACTIVITY_CHUNK:  # each row as its own Activity.Recorded (issue 19)
                metric, daily = s["metric"], rows["activity_daily"]
                for rep, day, value, _source_id in s["rows"]:
                    daily.append((names.get(rep, rep), metric, day, at, value, 1))
                continue
            oid = _uuid_text(originator_id)
            actor = s.get("actor")
            if actor is not None:
                actor = names.get(actor, actor)
            if "manager" in s:
                s["manager"] = names.get(s["manager"], s["manager"])
            if topic == CHECKED_IN:
                rows["check_ins"].append(
                    (
                        oid,
                        self.next_check_in(oid),
                        self.rep_of(oid),
                        s["date"],
                        s["actual"],
                        _flag(s["done"]),
                        s["note"],
                        actor,
                        at,
                        pos,
                    )
                )
            elif topic == AGREED:
                self.reps[oid] = s["rep"]
                self.check_ins[oid] = 0
                rows["commitments"].append(
                    (
                        oid,
                        s["rep"],
                        s["manager"],
                        s["owner"],
                        s["focus"],
                        s["behavior"],
                        s["measure"],
                        s["target"],
                        s["period"],
                        s["unit"],
                        s["metric"],
                        s["baseline"],
                        s["start"],
                        s["due"],
                        s["hypothesis"],
                        s["expect_metric"],
                        s["expect_at_least"],
                        s["supports"],
                        s["session_id"],
                        s["kept_at"],
                        s["partial_at"],
                        s["focus_cap_override"],
                        s["on"],
                        s.get("proposed_by") or "manager",  # class version 1: the manager's
                        actor,
                        at,
                        pos,
                    )
                )
                if s["supports"]:
                    rows["supports"].append(
                        (oid, s["supports"], s["rep"], s["manager"], s["on"], at, pos)
                    )
            elif topic == HELD:
                rows["sessions"].append(
                    (
                        oid,
                        s["rep"],
                        s["manager"],
                        s["date"],
                        _flag(s["prepared"]),
                        _json_list(s["strengths"]),
                        _json_list(s["focus_areas"]),
                        s["note"],
                        actor,
                        at,
                        pos,
                    )
                )
            elif topic == CORRECTED:
                rows["corrections"].append(
                    (
                        oid,
                        version,
                        self.rep_of(oid),
                        s["check_in"],
                        s["date"],
                        s["actual"],
                        _flag(s["done"]),
                        s["reason"],
                        actor,
                        at,
                        pos,
                    )
                )
            elif topic == REVISED:
                rows["revisions"].append(
                    (
                        oid,
                        version,
                        self.rep_of(oid),
                        s["date"],
                        s["reason"],
                        s["target"],
                        s["period"],
                        s["due"],
                        s["behavior"],
                        actor,
                        at,
                        pos,
                    )
                )
            elif topic == CLOSED:
                rows["closes"].append(
                    (
                        oid,
                        self.rep_of(oid),
                        s["date"],
                        s["result"],
                        s["value"],
                        s["note"],
                        actor,
                        at,
                        pos,
                    )
                )
            elif topic == RELEASED:
                rows["releases"].append(
                    (oid, self.rep_of(oid), s["date"], s["reason"], actor, at, pos)
                )
            elif topic == REPLIED:
                rows["replies"].append(
                    (
                        oid,
                        version,
                        self.rep_of(oid),
                        s["date"],
                        names.get(s["by"], s["by"]),
                        s["text"],
                        _flag(s["contests"]),
                        actor,
                        at,
                        pos,
                    )
                )
        execute = self.conn.executemany
        for name, batch in rows.items():
            if batch:
                execute(self.sql[name], batch)


_INTERESTING = frozenset(
    {
        HELD,
        AGREED,
        CHECKED_IN,
        CORRECTED,
        REVISED,
        RELEASED,
        CLOSED,
        REPLIED,
        ACTIVITY,
        ACTIVITY_CHUNK,
        *PERSON_TOPICS,
    }
)


def max_position(ledger: Ledger) -> int:
    """The ledger's last notification id (0 when empty)."""
    return int(ledger.recorder.max_notification_id() or 0)  # type: ignore[attr-defined]


def catch_up(
    ledger: Ledger,
    views_path: str,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: Progress | None = None,
    max_pages: int | None = None,
) -> int:
    """Apply every notification after the tracked position; return how far it advanced.

    Each page (``page_size`` notifications) is one transaction: its rows and the
    new position commit together. Stops at the ledger's head as seen when it
    starts, or after ``max_pages`` pages. Safe to call from a follower loop and
    from several processes at once. If the tables were built from another
    ledger, or are ahead of this one (the ledger was replaced), it rebuilds.
    """
    db = connect(views_path)
    try:
        return _catch_up(
            db,
            ledger,
            page_size=page_size,
            progress=progress,
            max_pages=max_pages,
            views_path=views_path,
        )
    finally:
        db.close()


def _catch_up(
    db: sqlite_utils.Database,
    ledger: Ledger,
    *,
    page_size: int,
    progress: Progress | None,
    max_pages: int | None,
    upto: int | None = None,
    views_path: str = "the read model",
    numbered: bool = False,
) -> int:
    conn = db.conn
    source = location(ledger.db)
    lid = ledger.ledger_id()
    me = Source(source, None if lid is None else str(lid))
    head = max_position(ledger) if upto is None else upto
    open_text = _opener(ledger)
    sql_page = _sql_pages(conn, ledger, open_text, head if numbered else 0) if USE_SQL else None
    hash_at = (
        _sqlite_hash_at(conn, f"ledger.{ledger.recorder.events_table_name}")  # type: ignore[attr-defined]
        if sql_page is not None
        else recorder_hash_at(ledger)
    )
    read_page = _page_reader(ledger)
    applier = _Applier(conn, open_text)
    from ledger.keys import keys_state

    from .sealed import Opener

    opener = Opener(conn, lambda: ledger.keys, lambda: keys_state(ledger.db))
    applier.open_value = opener.open_value
    purge = opener.keys_changed()  # a key destroyed (an erasure), restored or lost
    if purge:
        ledger.keys.refresh()  # no key remembered from before may open anything again
    advanced = pages = 0
    try:
        while max_pages is None or pages < max_pages:
            _begin_write(conn)
            try:
                # Where the tables stand is read and checked inside the page's
                # transaction: another process (for this ledger or, wrongly
                # configured, another one) may have moved it since the last page.
                at = tracking(conn)
                _refuse_foreign(at, me, views_path)
                seen = head
                if at.position > head and upto is None:
                    # Another process caught up past the head this call read before
                    # taking the lock: not a sign of a replaced ledger unless the
                    # ledger, read again now, is still behind the rows.
                    seen = max_position(ledger)
                stale = _stale(at, source, seen, hash_at) or purge
                if stale:
                    opener.rebuilt |= purge
                    purge = False
                    _drop_and_create(db)
                    applier.reset()
                    at = Tracking()
                start = at.position
                if start >= head:
                    conn.execute("COMMIT" if stale else "ROLLBACK")
                    break
                opener.mark()
                if sql_page is not None:
                    position = sql_page(start, head, page_size)
                else:
                    if applier.last_position != start:
                        applier.reset()
                    rows, more = read_page(start, head, page_size)
                    # a short page means nothing of interest is left up to the head
                    position = rows[-1][0] if more else head
                    cut = _cut_before([r[3] for r in rows])
                    if cut is not None:  # a rename: the rows before it first
                        rows, position = rows[:cut], rows[cut][0] - 1
                    applier.apply(rows)
                opener.open()  # sealed text in clear, in the page's transaction
                _set_position(conn, position, source, hash_at(position), me.ledger_id)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                applier.last_position = None
                raise
            applier.last_position = position
            advanced += position - start
            pages += 1
            if progress is not None:
                progress(position - start)
    finally:
        if sql_page is not None:
            conn.execute("DETACH DATABASE ledger")
    if opener.rebuilt:
        # the old rows are zeroed in the file (secure_delete); the log that
        # still holds their pages is copied back and truncated to nothing
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # The Merkle tree (SPEC §7.3) is not extended here: only proofs read it, and
    # they extend it first (projections.tree.catch_up_tree). Hashing every event
    # again cost a rebuild three times its tables (issue 19).
    return advanced


def _cut_before(topics: list[str]) -> int | None:
    from .people import cut_before

    return cut_before(topics)


def _stale(at: Tracking, source: str, head: int, hash_at: HashAt) -> bool:
    """True when the tables must be rebuilt before the next page: built from
    another location without a ledger id to tell (a ledger from before
    release 2), ahead of this ledger, or the event at their position is not
    the one they applied (the ledger was replaced, e.g. by a restored backup).
    A views file of another ledger id never gets here: it is refused."""
    if at.ledger_id is None and at.source is not None and at.source != source:
        return True
    if at.position > head:
        return True
    return at.position > 0 and hash_at(at.position) != at.event_hash


USE_SQL = True
"""Apply pages inside SQLite when the ledger is a SQLite file (tests switch it off
to check that both ways write the same rows)."""


def _begin_write(conn: sqlite3.Connection) -> None:
    """Start a write transaction on the read model only.

    ``BEGIN IMMEDIATE`` would also lock an attached ledger against its writers;
    a deferred ``BEGIN`` whose first statement writes takes the read model's
    write lock (waiting for another catch-up's page) and reads the ledger
    from a snapshot.
    """
    conn.execute("BEGIN")
    conn.execute("UPDATE tracking SET position = position WHERE name = 'ledger'")


def _opener(ledger: Ledger) -> Callable[[str], str]:
    """Opens a person's sealed name with the ledger's key store, which is
    opened only when a page brings a ``Person`` event."""

    def open_text(value: str) -> str:
        return ledger.keys.open_text(value)

    return open_text


def _sql_ledger(ledger: Ledger) -> bool:
    """Whether the ledger is a SQLite file (its pages can be applied inside SQLite)."""
    path = local_file(ledger.db)
    return path is not None and os.path.isfile(path)


def _sql_pages(
    conn: sqlite3.Connection,
    ledger: Ledger,
    open_text: Callable[[str], str],
    numbered_upto: int = 0,
) -> Callable[[int, int, int], int] | None:
    """The in-SQLite page applier, when the ledger is a SQLite file
    (``numbered_upto``: see :func:`projections.sqlpages.page_applier`)."""
    recorder: Any = ledger.recorder
    if not _sql_ledger(ledger):
        return None
    from .sqlpages import page_applier

    return page_applier(
        conn,
        ledger.db,
        recorder.events_table_name,
        sorted(_INTERESTING),
        open_text,
        numbered_upto=numbered_upto,
    )


PageReader = Callable[[int, int, int], tuple[Sequence[Sequence[Any]], bool]]

#: The most ``ActivityChunk.Recorded`` state one page of the Python applier
#: holds (issue 19): a page of chunks would otherwise hold page size x chunk
#: size rows. Past it, the page ends early (it is read a part at a time).
CHUNK_BYTES_PER_PAGE = 16 << 20
_PART = 1000


def _page_reader(ledger: Ledger) -> PageReader:
    """``read(after, upto, limit)``: the next notifications of interest to the read
    model, as ``(position, originator_id, version, topic, state)`` tuples, and
    whether more may follow (a full page, or one ended early because its
    activity chunks reached :data:`CHUNK_BYTES_PER_PAGE`).

    On SQLite this is the recorder's own ``select_notifications`` query on its
    own connection, minus the per-row ``Notification``/``UUID`` objects, which
    cost more than the ``json.loads``; on PostgreSQL it is the recorder's method.
    """
    read = ledger.recorder.page_reader(sorted(_INTERESTING))

    def read_page(after: int, upto: int, limit: int) -> tuple[Sequence[Sequence[Any]], bool]:
        out: list[Sequence[Any]] = []
        held = 0
        while len(out) < limit:
            want = min(limit - len(out), _PART)
            part = read(after, upto, want)
            out += part
            if len(part) < want:
                return out, False
            held += sum(len(r[4]) for r in part if r[3] == ACTIVITY_CHUNK)
            if held >= CHUNK_BYTES_PER_PAGE:
                return out, True
            after = part[-1][0]
        return out, True

    return read_page


def _reset(
    db: sqlite_utils.Database, *, indexes: bool = True, deferred: frozenset[str] = frozenset()
) -> None:
    """Drop and recreate every table, in one transaction (position back to 0)."""
    with _immediate(db.conn):
        _drop_and_create(db, indexes=indexes, deferred=deferred)


def _drop_and_create(
    db: sqlite_utils.Database, *, indexes: bool = True, deferred: frozenset[str] = frozenset()
) -> None:
    """Drop and recreate every table inside the caller's transaction."""
    for t in TABLES:
        db[t.name].drop(ignore=True)
    _create_tables(db, indexes=indexes, deferred=deferred)


def rebuild(
    ledger: Ledger,
    views_path: str,
    *,
    page_size: int = REBUILD_PAGE_SIZE,
    progress: Progress | None = None,
    upto: int | None = None,
) -> int:
    """Drop every read-model table and replay the whole ledger (or its events
    up to position ``upto``); return how far it advanced.

    The secondary indexes are created after the replay: a rebuild that dies
    midway is resumed by the next catch-up, which also restores any missing index.
    """
    db = connect(views_path)
    try:
        lid = ledger.ledger_id()
        me = Source(location(ledger.db), None if lid is None else str(lid))
        _refuse_foreign(tracking(db.conn), me, views_path)  # another ledger's: not ours to drop
        # 24 MB: the B-tree a rebuild writes in random order (the activity's keys)
        # fits at 1.1M events; 32 MB while the commitments' ids were one too, 64 MB
        # cost no less CPU and 34 MB more at the peak (issue 19: under 200 MB)
        db.conn.execute("PRAGMA cache_size=-24576")
        # in-SQLite pages count the check-ins' numbers as they write them and look
        # commitments up in their own in-memory tree: those two indexes can wait
        numbered = USE_SQL and _sql_ledger(ledger)
        deferred = frozenset({"check_ins", "commitments"} if numbered else ())
        _reset(db, indexes=False, deferred=deferred)
        count = _catch_up(
            db,
            ledger,
            page_size=page_size,
            progress=progress,
            max_pages=None,
            upto=upto,
            views_path=views_path,
            numbered=numbered,
        )
        # the indexes are sorted in runs of cache_size: small runs stay in the
        # CPU's caches (1.1M events: 1.83 s of CPU with 24 MB, 1.48 s with 2 MB)
        db.conn.execute("PRAGMA cache_size=-2048")
        with _immediate(db.conn):
            _create_indexes(db)
        return count
    finally:
        db.close()


ATTEMPTS = 8
"""How often a read re-checks the read model after catching up before giving up
(only another process rebuilding the same file in between makes it retry)."""


def ensure_current(
    db_url: str,
    views_path: str,
    progress_for: ProgressFactory | None = None,
    *,
    ledger: Ledger | None = None,
) -> None:
    """Catch the read model up with the ledger (see :func:`open_current`)."""
    open_current(db_url, views_path, progress_for, ledger=ledger).close()


def open_current(
    db_url: str,
    views_path: str,
    progress_for: ProgressFactory | None = None,
    *,
    ledger: Ledger | None = None,
) -> ReadModel:
    """What every read command does first: a read model that is current, opened
    inside one read transaction, proven to come from this ledger.

    The read transaction begins with the tracking row, so the rows served are
    the ones it describes: built from this ledger (``source``), up to at least
    the ledger's head as read just before, and the ledger's event at that
    position is the one they applied (its :func:`event_hash`). Anything else,
    and it catches up (rebuilding when the tables are another ledger's or the
    ledger was replaced) and checks again. Nothing new costs three small reads:
    the ledger's head, the tracking row, the event at the position.

    On a SQLite ledger these are plain ``sqlite3`` reads (no event-store
    imports); the ledger is opened only to catch up. ``progress_for(lag)`` may
    return a context manager yielding a progress callback. A long-running
    process (the server) passes its open ``ledger``, used instead of opening
    one per call (and left open). A views file whose tables lack today's
    columns (an older release's) is rebuilt.
    """
    probe = _Probe(db_url, ledger)
    try:
        for _ in range(ATTEMPTS):
            head = probe.head()
            pinned = _pinned(views_path)
            if pinned is not None:
                rm, at = pinned
                try:
                    _refuse_foreign(at, probe.me(), views_path)
                    if (
                        _serves(at, probe.source, head, probe.hash_at)
                        and schema_current(rm.conn)
                        and not _keys_changed(rm.conn, db_url, ledger)
                    ):
                        return rm
                except BaseException:
                    rm.close()
                    raise
                rm.close()
            probe.catch_up(views_path, progress_for)
    finally:
        probe.close()
    from ledger.errors import Conflict

    raise Conflict(
        f"the read model {views_path} kept changing under this read (is it shared with "
        "another ledger?); nothing was read, run it again"
    )


def _keys_changed(conn: sqlite3.Connection, db_url: str, ledger: Ledger | None = None) -> bool:
    """Whether the read model opened sealed text with a key store that has
    changed since in a way that matters (an erasure, a restore, a lost store;
    :func:`projections.sealed.must_rebuild`): then it is rebuilt. A
    long-running process passes its ``ledger`` (its open key store, no new
    connection)."""
    from .sealed import keys_changed

    if ledger is not None:
        return keys_changed(conn, ledger.keys.state)
    from ledger.keys import keys_state

    return keys_changed(conn, lambda: keys_state(db_url))


def _serves(at: Tracking, source: str, head: int, hash_at: HashAt) -> bool:
    """The rows may be served: this ledger's (same id, or for a ledger without
    one the same location; nothing at all is fine too), at least at the head,
    and the event at their position is the one they applied."""
    if (
        at.ledger_id is None
        and at.source != source
        and not (at.source is None and at.position == 0)
    ):
        return False
    return at.position >= head and hash_at(at.position) == at.event_hash


def _pinned(views_path: str) -> tuple[ReadModel, Tracking] | None:
    """The read model opened in a read transaction, and its tracking row; None
    when there is nothing to read yet (no file, no tables, a damaged file)."""
    from .query import ReadModel

    if not os.path.exists(views_path):
        return None
    rm = ReadModel(views_path)
    try:
        row = rm.pin()
    except sqlite3.OperationalError:
        rm.close()
        return None  # no tables yet: build them
    except sqlite3.DatabaseError:
        rm.close()
        _refuse_foreign_file(views_path)
        discard(views_path)  # damaged (e.g. power loss): it is derived, rebuild it
        return None
    except BaseException:
        rm.close()
        raise
    return rm, Tracking(*row) if row else Tracking()


class _Probe:
    """The ledger as a read checks it: its head and the hash of one event."""

    def __init__(self, db_url: str, ledger: Ledger | None = None) -> None:
        self.db_url = db_url
        self.source = location(db_url)
        self._ledger: Ledger | None = ledger
        self._owned = ledger is None  # close only a ledger this probe opened
        self._conn: sqlite3.Connection | None = None
        self._hash_at: HashAt | None = None
        self._me: Source | None = None
        if local_file(db_url) is not None:
            if not os.path.exists(db_url):
                from ledger.errors import NotFound

                raise NotFound(f"no ledger at {db_url} (record something first, or pass --db)")
            with suppress(sqlite3.Error):
                conn = sqlite3.connect(f"file:{db_url}?mode=ro", uri=True, timeout=30)
                conn.execute("SELECT 1 FROM stored_events LIMIT 0")
                self._conn = conn
                self._hash_at = _sqlite_hash_at(conn, "stored_events")

    def me(self) -> Source:
        """This ledger: where it is and its id (read once)."""
        if self._me is None:
            found: Any = None
            if self._conn is not None:
                from ledger.streams import LEDGER_STREAM_KEY, ledger_id_of_state

                row = self._conn.execute(
                    "SELECT state FROM stored_events WHERE originator_id = ? "
                    "AND originator_version = 1",
                    (LEDGER_STREAM_KEY,),
                ).fetchone()
                found = None if row is None else ledger_id_of_state(row[0])
            else:
                found = self.ledger().ledger_id()
            self._me = Source(self.source, None if found is None else str(found))
        return self._me

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from ledger.application import Ledger

            self._ledger = Ledger.open(self.db_url)
        if self._hash_at is None:
            self._hash_at = recorder_hash_at(self._ledger)
        return self._ledger

    def head(self) -> int:
        if self._conn is not None:
            row = self._conn.execute("SELECT max(rowid) FROM stored_events").fetchone()
            return int(row[0] or 0)
        return max_position(self.ledger())

    def hash_at(self, position: int) -> str | None:
        if self._hash_at is None:
            self.ledger()
        assert self._hash_at is not None
        return self._hash_at(position)

    def catch_up(self, views_path: str, progress_for: ProgressFactory | None) -> None:
        ledger = self.ledger()
        try:
            _catch_up_with_progress(ledger, views_path, progress_for)
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise
            _refuse_foreign_file(views_path)
            discard(views_path)
            _catch_up_with_progress(ledger, views_path, progress_for)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._ledger is not None and self._owned:
            self._ledger.close()


def _catch_up_with_progress(
    ledger: Ledger, views_path: str, progress_for: ProgressFactory | None
) -> None:
    if progress_for is None:
        catch_up(ledger, views_path)
        return
    db = connect(views_path)
    try:
        lag = max(0, max_position(ledger) - tracked_position(db.conn)[0])
    finally:
        db.close()
    with progress_for(lag) as progress:
        catch_up(ledger, views_path, progress=progress)


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return False  # locks, missing tables: not damage
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def discard(views_path: str) -> None:
    """Delete the read-model file (and its WAL files): the next catch-up rebuilds it."""
    from ledger.files import remove_family

    remove_family(views_path)


@dataclass(frozen=True)
class Status:
    """Where the read model stands against its ledger."""

    views_path: str
    position: int
    head: int
    tables: dict[str, int]

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


def status(ledger: Ledger, views_path: str) -> Status:
    """Position, the ledger's head, and the row count of every table (no catch-up)."""
    db = connect(views_path)
    try:
        position, _ = tracked_position(db.conn)
        counts = {t.name: db[t.name].count for t in TABLES if t.name != "tracking"}
    finally:
        db.close()
    return Status(views_path, position, max_position(ledger), counts)


def table_dump(views_path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in primary-key order (for comparing two builds; not
    the report's caches, which reads fill)."""
    conn = sqlite3.connect(views_path)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for t in TABLES:
            if t.name in CACHES:
                continue
            order = ", ".join(t.pk)
            out[t.name] = conn.execute(f"SELECT * FROM [{t.name}] ORDER BY {order}").fetchall()
        return out
    finally:
        conn.close()


# -- a long-running process's reads ------------------------------------------------


def _file_id(path: str) -> tuple[int, int] | None:
    """The file's identity (device, inode), or None when there is none: a
    connection kept open reads the file it opened, not one put in its place."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


class Reader:
    """:func:`open_current` for a long-running process with many threads (the
    server): the same guarantee, every read served from rows at least at the
    ledger's head as read when it began, proven to be this ledger's, but without
    opening anything per read.

    Each thread keeps its probe of the ledger (for a SQLite ledger a read-only
    connection) and its read-model connection open; a read that finds the rows
    current costs the ledger's head, the tracking row (the read transaction's
    first read) and the hash of the event at the position (the Merkle tree is
    extended by proofs only, so a read does not look at it). The tracking row
    whose tables last had today's columns is remembered, and only a new one is
    checked for them again. A thread that finds the rows behind catches up, one
    thread of the process at a time, on a connection kept open; a catch-up that
    began after a read began covers it, so a thread waiting for another's skips
    its own. A views file put in place
    of the open one (discarded as damaged, rebuilt) is noticed by its inode and
    opened anew. (A ledger restored from a backup needs the process restarted:
    it writes and catches up through the ledger it opened.)"""

    def __init__(self, db_url: str, views_path: str, ledger: Ledger) -> None:
        import threading

        self.db_url = db_url
        self.views_path = views_path
        self.ledger = ledger
        self._local = threading.local()
        self._opened: list[Any] = []  # every probe and read model, to close
        self._opened_lock = threading.Lock()
        self._catching_up = threading.Lock()
        self._caught_up_from = float("-inf")  # when the last catch-up began (monotonic)
        self._checked: tuple[Tracking, tuple[int, int] | None] | None = None
        self._db: sqlite_utils.Database | None = None
        self._db_file: tuple[int, int] | None = None

    # -- per thread ------------------------------------------------------------

    def _probe(self) -> _Probe:
        probe: _Probe | None = getattr(self._local, "probe", None)
        path = local_file(self.db_url)
        ledger_file = None if path is None else _file_id(path)
        if probe is not None and getattr(self._local, "ledger_file", None) != ledger_file:
            probe.close()
            probe = None
        if probe is None:
            probe = _Probe(self.db_url, self.ledger)
            self._local.probe, self._local.ledger_file = probe, ledger_file
            self._keep(probe)
        return probe

    def _read_model(self, fresh: bool) -> tuple[ReadModel, tuple[int, int]] | None:
        from .query import ReadModel

        rm: ReadModel | None = getattr(self._local, "rm", None)
        views_file = _file_id(self.views_path)
        if rm is not None and (fresh or self._local.views_file != views_file):
            rm.close()
            self._local.rm = rm = None
        if views_file is None:
            return None
        if rm is None:
            rm = ReadModel(self.views_path)
            self._local.rm, self._local.views_file = rm, views_file
            self._keep(rm)
        return rm, views_file

    def _keep(self, opened: Any) -> None:
        with self._opened_lock:
            self._opened.append(opened)

    # -- reads -------------------------------------------------------------------

    @contextmanager
    def current(self) -> Iterator[ReadModel]:
        """A current read model inside one read transaction, ended on leaving."""
        import time

        if getattr(self._local, "busy", False):  # a read inside a read: its own
            with open_current(self.db_url, self.views_path, ledger=self.ledger) as own:
                yield own
            return
        self._local.busy = True
        try:
            for attempt in range(ATTEMPTS):
                began = time.monotonic()
                pinned = self._pinned_current(attempt > 0)
                if pinned is not None:
                    try:
                        yield pinned
                    finally:
                        if pinned.conn.in_transaction:
                            pinned.conn.execute("ROLLBACK")
                    return
                self._catch_up(began)
        finally:
            self._local.busy = False
        from ledger.errors import Conflict

        raise Conflict(
            f"the read model {self.views_path} kept changing under this read (is it shared "
            "with another ledger?); nothing was read, run it again"
        )

    def _pinned_current(self, fresh: bool) -> ReadModel | None:
        """The thread's read model pinned at rows that may be served, or None."""
        probe = self._probe()
        head = probe.head()
        opened = self._read_model(fresh)
        if opened is None:
            return None
        rm, views_file = opened
        try:
            row = rm.pin()
        except sqlite3.DatabaseError as exc:
            rm.close()
            self._local.rm = None
            if isinstance(exc, sqlite3.OperationalError):
                return None  # no tables yet: the catch-up builds them
            _refuse_foreign_file(self.views_path)
            discard(self.views_path)  # damaged (e.g. power loss): derived, rebuilt
            return None
        at = Tracking(*row) if row else Tracking()
        try:
            _refuse_foreign(at, probe.me(), self.views_path)
            if _serves(at, probe.source, head, probe.hash_at) and (
                self._checked == (at, views_file)
                or (
                    schema_current(rm.conn) and not _keys_changed(rm.conn, self.db_url, self.ledger)
                )
            ):
                self._checked = (at, views_file)
                return rm
        except BaseException:
            rm.conn.execute("ROLLBACK")
            raise
        rm.conn.execute("ROLLBACK")
        return None

    def _catch_up(self, began: float) -> None:
        """Catch up, unless a catch-up that began after ``began`` already did."""
        import time

        with self._catching_up:
            if self._caught_up_from > began:
                return
            started = time.monotonic()
            views_file = _file_id(self.views_path)
            if self._db is not None and self._db_file != views_file:
                self._close_db()
            try:
                if self._db is None:
                    self._db = connect(self.views_path, any_thread=True)
                    self._db_file = _file_id(self.views_path)
                conn = self._db.conn
                position = tracked_position(conn)[0]
                if position >= self._probe().head() and not _keys_changed(
                    conn, self.db_url, self.ledger
                ):
                    # another worker caught up meanwhile: no write lock to take (the
                    # read checks the rows it is then served again, as ever)
                    self._caught_up_from = started
                    return
                _catch_up(
                    self._db,
                    self.ledger,
                    page_size=DEFAULT_PAGE_SIZE,
                    progress=None,
                    max_pages=None,
                    views_path=self.views_path,
                )
            except sqlite3.DatabaseError as exc:
                self._close_db()
                if not _damaged(exc):
                    raise
                probe = _Probe(self.db_url, self.ledger)
                try:
                    probe.catch_up(self.views_path, None)  # discards the file, rebuilds
                finally:
                    probe.close()
            self._caught_up_from = started

    def _close_db(self) -> None:
        if self._db is not None:
            with suppress(sqlite3.Error):
                self._db.close()
        self._db = None

    def close(self) -> None:
        with self._opened_lock:
            for opened in self._opened:
                with suppress(Exception):
                    opened.close()
            self._opened.clear()
        self._close_db()
        import threading

        self._local = threading.local()
