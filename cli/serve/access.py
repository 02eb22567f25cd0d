"""The access store: who may use the server (grants, tokens stored only as
SHA-256 hashes) and the append-only access log of every read and write
through it. Kept apart from the ledger, so that reading never changes the
chain: on SQLite a file beside the ledger (``X.db`` -> ``X.access.db``, mode
0600); on PostgreSQL the tables ``access_grants`` and ``access_log`` beside
the ledger's (not part of the event store, the export or the chain).

Grants and the log hold people by subject id (SPEC §7.4's people registry),
never by name: a grant is the subject id and role (the person is found by
name through the registry when granting); a log entry is who asked, whom it
was about (subject ids; ``unregistered`` for a name the registry does not
know), the action, the id of the commitment or session concerned, the HTTP
status, and for reads whether names were shown (``names``: hr reads are
pseudonymised unless they ask for names). Never free text. Triggers refuse
every UPDATE or DELETE of a log row, and of a grant (except recording its
revocation), on both backends.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AfterValidator

from ledger.commands import Command, validate
from ledger.errors import IntegrityFailure, InvalidInput, NotFound, RuleViolation
from ledger.store import by_backend, store_env

from .policy import Role

TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh bearer token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored of a token: the SHA-256 hex of its UTF-8 bytes."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


UNREGISTERED = "unregistered"
"""What the log holds for a person named in a request whom the registry does not know."""


def _subject(value: str) -> str:
    """A subject id as stored: hyphenated lowercase UUID text (never a name)."""
    if not isinstance(value, str) or len(value) != 36:
        raise ValueError("must be a subject id (a hyphenated UUID), never a name")
    try:
        parsed = UUID(value)
    except ValueError:
        raise ValueError("must be a subject id (a hyphenated UUID), never a name") from None
    if str(parsed) != value:
        raise ValueError("must be a subject id (lowercase, hyphenated)")
    return value


SubjectId = Annotated[str, AfterValidator(_subject)]


class GrantAccess(Command):
    subject: SubjectId
    role: Role
    actor: SubjectId


class RevokeAccess(Command):
    subject: SubjectId
    actor: SubjectId


@dataclass(frozen=True)
class Grant:
    subject: str
    role: str
    granted_at: str
    granted_by: str
    revoked_at: str | None
    revoked_by: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Entry:
    """One line of the access log."""

    at: str
    via: str  # "api" or "cli"
    who: str | None  # the caller's person id (None: no identity)
    role: str | None
    action: str
    subjects: tuple[str, ...]  # person ids the request concerned
    target: str | None  # a commitment or session id
    status: int  # the HTTP status (the CLI's grant and revoke: 200)
    names: bool | None = None  # a read: shown with names (False: pseudonymised)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["subjects"] = list(self.subjects)
        return d


def parse_since(text: str) -> str:
    """``--since``: a date (from the start of that day, UTC) or an ISO date-time,
    as the log's timestamp text."""
    value = text.strip()
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"--since: {text!r} is neither a date (YYYY-MM-DD) nor an ISO date-time"
        ) from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class AccessStore(ABC):
    """Grants and the access log, on one backend (one subclass each)."""

    IDENTIFY_INLINE: ClassVar[bool] = False
    """Whether a token is cheap enough to look up on the server's event loop
    itself rather than in a thread."""

    @classmethod
    @abstractmethod
    def of_ledger(cls, db: str) -> AccessStore:
        """The access store of the ledger at ``db`` (created on first use)."""

    def grant(self, subject: str, role: str, by: str, *, log: bool = True) -> str:
        """Grant ``role`` to the person ``subject`` (by subject ``by``); returns
        the token (the only time it is seen).

        ``log``: append the grant to the access log in the same transaction (the
        command line; the server logs the request itself)."""
        c = validate(GrantAccess, subject=subject, role=role, actor=by)
        token = new_token()
        at = now_text()
        with self._tx() as q:
            active = q(
                "SELECT role FROM access_grants WHERE subject = {p} AND revoked_at IS NULL",
                c.subject,
            )
            if active:
                raise RuleViolation(
                    f"they already have access (role {active[0][0]}): revoke it first"
                )
            q(
                "INSERT INTO access_grants (subject, role, token_hash, granted_at, granted_by) "
                "VALUES ({p}, {p}, {p}, {p}, {p})",
                c.subject,
                c.role.value,
                token_hash(token),
                at,
                c.actor,
            )
            if log:
                entry = Entry(at, "cli", c.actor, None, "access.grant", (c.subject,), None, 200)
                self._append(q, entry)
        return token

    def revoke(self, subject: str, by: str, *, log: bool = True) -> None:
        """Revoke the access of the person ``subject``; ``log`` as for :meth:`grant`."""
        c = validate(RevokeAccess, subject=subject, actor=by)
        at = now_text()
        with self._tx() as q:
            active = q(
                "SELECT id FROM access_grants WHERE subject = {p} AND revoked_at IS NULL",
                c.subject,
            )
            if not active:
                raise NotFound("they have no access granted")
            q(
                "UPDATE access_grants SET revoked_at = {p}, revoked_by = {p} WHERE id = {p}",
                at,
                c.actor,
                active[0][0],
            )
            if log:
                entry = Entry(at, "cli", c.actor, None, "access.revoke", (c.subject,), None, 200)
                self._append(q, entry)

    def grants(self) -> list[Grant]:
        with self._tx(write=False) as q:
            rows = q(
                "SELECT subject, role, granted_at, granted_by, revoked_at, revoked_by "
                "FROM access_grants ORDER BY granted_at, id"
            )
        return [Grant(*r) for r in rows]

    def identify(self, token: str) -> tuple[str, Role] | None:
        """The subject id and role a bearer token stands for, or None (unknown,
        altered or revoked)."""
        with self._tx(write=False) as q:
            rows = q(
                "SELECT subject, role FROM access_grants "
                "WHERE token_hash = {p} AND revoked_at IS NULL",
                token_hash(token),
            )
        return (str(rows[0][0]), Role(rows[0][1])) if rows else None

    def role_of(self, subject: str) -> Role | None:
        """The role granted to ``subject`` (a proxy in front vouches for the person)."""
        with self._tx(write=False) as q:
            rows = q(
                "SELECT role FROM access_grants WHERE subject = {p} AND revoked_at IS NULL",
                subject,
            )
        return Role(rows[0][0]) if rows else None

    def append(self, entry: Entry) -> None:
        self.append_many([entry])

    def append_many(self, entries: Sequence[Entry]) -> None:
        """Append ``entries`` in order, in one transaction: all of them or none."""
        with self._tx() as q:
            for entry in entries:
                self._append(q, entry)

    def entries(self, since: str | None = None) -> list[Entry]:
        with self._tx(write=False) as q:
            rows = q(
                "SELECT at, via, who, role, action, subjects, target, status, names "
                "FROM access_log WHERE at >= {p} ORDER BY id",
                since or "",
            )
        return [
            Entry(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                tuple(json.loads(r[5])),
                r[6],
                r[7],
                None if r[8] is None else bool(r[8]),
            )
            for r in rows
        ]

    def _append(self, q: Query, e: Entry) -> None:
        q(
            "INSERT INTO access_log (at, via, who, role, action, subjects, target, status, names) "
            "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
            e.at,
            e.via,
            e.who,
            e.role,
            e.action,
            json.dumps(list(e.subjects), ensure_ascii=False),
            e.target,
            e.status,
            None if e.names is None else int(e.names),
        )

    @abstractmethod
    def _tx(self, *, write: bool = True) -> Any:
        """A context manager: one transaction, yielding ``q(sql, *params) -> rows``
        (``write``: take the write lock first, so check-then-write cannot race)."""

    @abstractmethod
    def close(self) -> None: ...


class Query:
    """``q(sql, *params)``: the ``{p}`` placeholders filled in per backend (the
    table names are plain: on PostgreSQL the connection's search_path is the
    ledger's schema)."""

    def __init__(self, cursor: Any, placeholder: str) -> None:
        self.cursor = cursor
        self.placeholder = placeholder

    def __call__(self, sql: str, *params: Any) -> list[Sequence[Any]]:
        self.cursor.execute(sql.replace("{p}", self.placeholder), params)
        if self.cursor.description is None:  # an INSERT or UPDATE: no rows
            return []
        return list(self.cursor.fetchall())


def _require_subjects(columns: set[str], where: str) -> None:
    """An access store written before grants held subject ids (a column
    ``name``) cannot be read as one that does: say so, change nothing."""
    if "subject" not in columns:
        raise IntegrityFailure(
            f"the access store in {where} holds grants by name (an older release): "
            "move it aside and grant access again ('commitments access grant NAME'); "
            "grants now name people by subject id"
        )


# -- SQLite -------------------------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS access_grants (
    id INTEGER PRIMARY KEY,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    granted_at TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS access_grants_active ON access_grants (subject)
    WHERE revoked_at IS NULL;
CREATE TRIGGER IF NOT EXISTS access_grants_kept BEFORE DELETE ON access_grants
BEGIN SELECT RAISE(ABORT, 'grants are kept: revoke, never delete'); END;
CREATE TRIGGER IF NOT EXISTS access_grants_fixed
BEFORE UPDATE OF id, subject, role, token_hash, granted_at, granted_by ON access_grants
BEGIN SELECT RAISE(ABORT, 'a grant changes only by its revocation'); END;
CREATE TRIGGER IF NOT EXISTS access_grants_revoked_once BEFORE UPDATE ON access_grants
WHEN OLD.revoked_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a grant changes only by its revocation'); END;
CREATE TABLE IF NOT EXISTS access_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    via TEXT NOT NULL,
    who TEXT,
    role TEXT,
    action TEXT NOT NULL,
    subjects TEXT NOT NULL,
    target TEXT,
    status INTEGER NOT NULL,
    names INTEGER
);
CREATE INDEX IF NOT EXISTS access_log_at ON access_log (at);
CREATE TRIGGER IF NOT EXISTS access_log_no_update BEFORE UPDATE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS access_log_no_delete BEFORE DELETE ON access_log
BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
"""


def access_path(db: str) -> str:
    """The SQLite access store beside a SQLite ledger: ``X.db`` -> ``X.access.db``."""
    root, ext = os.path.splitext(db)
    return f"{root}.access{ext or '.db'}"


class SQLiteAccess(AccessStore):
    """One connection per thread (the server answers from a thread pool), WAL."""

    IDENTIFY_INLINE = True  # one indexed read of a WAL file, which never waits for writers

    @classmethod
    def of_ledger(cls, db: str) -> AccessStore:
        return cls(access_path(db))

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if not os.path.exists(path):
            with suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        conn = self._conn()
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'access_log'").fetchone()
        if found:
            columns = {r[1] for r in conn.execute("PRAGMA table_info(access_grants)")}
            _require_subjects(columns, path)
            return
        try:  # every statement is IF NOT EXISTS: servers starting at once agree
            conn.executescript(f"BEGIN IMMEDIATE; {_SQLITE_SCHEMA} COMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL: durable against a process crash; an OS crash or power
            # loss may lose the last entries (not reorder or damage them).
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[Query]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Query(conn.cursor(), "?")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()


# -- PostgreSQL ------------------------------------------------------------------

_PG_SCHEMA = """
CREATE TABLE IF NOT EXISTS {s}.access_grants (
    id BIGSERIAL PRIMARY KEY,
    subject TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    granted_at TEXT NOT NULL,
    granted_by TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS access_grants_active ON {s}.access_grants (subject)
    WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS {s}.access_log (
    id BIGSERIAL PRIMARY KEY,
    at TEXT NOT NULL,
    via TEXT NOT NULL,
    who TEXT,
    role TEXT,
    action TEXT NOT NULL,
    subjects TEXT NOT NULL,
    target TEXT,
    status INTEGER NOT NULL,
    names INTEGER
);
CREATE INDEX IF NOT EXISTS access_log_at ON {s}.access_log (at);
CREATE OR REPLACE FUNCTION {s}.access_log_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$;
CREATE OR REPLACE TRIGGER access_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON {s}.access_log
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.access_log_append_only();
CREATE OR REPLACE FUNCTION {s}.access_grants_revoke_only() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
    IF TG_OP <> 'UPDATE' OR OLD.revoked_at IS NOT NULL
       OR (NEW.id, NEW.subject, NEW.role, NEW.token_hash, NEW.granted_at, NEW.granted_by)
          IS DISTINCT FROM
          (OLD.id, OLD.subject, OLD.role, OLD.token_hash, OLD.granted_at, OLD.granted_by) THEN
        RAISE EXCEPTION 'a grant changes only by its revocation';
    END IF;
    RETURN NEW;
    END $$;
CREATE OR REPLACE TRIGGER access_grants_revoke_only
    BEFORE UPDATE OR DELETE ON {s}.access_grants
    FOR EACH ROW EXECUTE FUNCTION {s}.access_grants_revoke_only();
"""


class PostgresAccess(AccessStore):
    """Tables beside the ledger's, in its schema; a small connection pool."""

    @classmethod
    def of_ledger(cls, db: str) -> AccessStore:
        return cls(db)

    def __init__(self, db: str) -> None:
        from psycopg.sql import Identifier
        from psycopg_pool import ConnectionPool

        env = store_env(db)
        self.schema = env.get("POSTGRES_SCHEMA") or "public"
        conninfo = {
            "dbname": env["POSTGRES_DBNAME"],
            "host": env["POSTGRES_HOST"],
            "port": env["POSTGRES_PORT"],
            "user": env["POSTGRES_USER"] or None,
            "password": env["POSTGRES_PASSWORD"] or None,
            "connect_timeout": env["POSTGRES_CONNECT_TIMEOUT"],
        }
        quoted = Identifier(self.schema).as_string(None)
        conninfo["options"] = f"-c search_path={quoted}"
        self.pool = ConnectionPool(
            kwargs={k: v for k, v in conninfo.items() if v is not None},
            min_size=1,
            max_size=4,
            open=True,
        )
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('commitments.access_store'))")
            exists = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{quoted}.access_log",)
            ).fetchone()
            if not (exists and exists[0]):
                conn.execute(_PG_SCHEMA.replace("{s}", quoted))  # type: ignore[arg-type]
            else:
                rows = conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = 'access_grants'",
                    (self.schema,),
                ).fetchall()
                _require_subjects({r[0] for r in rows}, f"schema {self.schema}")

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[Query]:
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield Query(cur, "%s")

    def close(self) -> None:
        self.pool.close()


# -- people: grants name a person through the registry -----------------------------


def person_for_grant(ledger: Any, views: str, name: str, actor: str) -> tuple[str, str]:
    """``(subject id, actor's subject id)`` for granting access to ``name``.

    The person is found by name through the people registry (the read model,
    caught up first). A name nobody has is registered on first use, as every
    command does, unless names are strict (after ``people add``/``people
    import``): then exit 3 with the closest names. ``actor`` (a name, or a
    subject id) is registered likewise if new."""
    from projections.catchup import ensure_current
    from projections.people import People, is_subject_text
    from projections.query import ReadModel

    ensure_current(ledger.db, views, ledger=ledger)
    with ReadModel(views) as rm:
        people = People(rm.conn)
        subject = people.ref(name, role="person")
        by = actor if is_subject_text(actor) else people.actor(actor)
        if people.pending:
            ledger.register_people((), actor=by, register=people.pending)
    return subject, by


def person_known(ledger: Any, views: str, name: str, actor: str) -> tuple[str, str]:
    """``(subject id, actor's subject id)`` of the registered person ``name``
    (revoking; exit 3 with the closest names if nobody has it)."""
    from projections.catchup import ensure_current
    from projections.names import unknown_person_message
    from projections.people import People, find, is_subject_text, known_names
    from projections.query import ReadModel

    ensure_current(ledger.db, views, ledger=ledger)
    with ReadModel(views) as rm:
        found = find(rm.conn, name.strip())
        if found is None:
            raise NotFound(unknown_person_message("person", name.strip(), known_names(rm.conn)))
        people = People(rm.conn)
        by = actor if is_subject_text(actor) else people.actor(actor)
        if people.pending:
            ledger.register_people((), actor=by, register=people.pending)
    return found, by


def names_by_subject(views: str) -> dict[str, str]:
    """Every registered person's current name, by subject id (for display)."""
    from projections.query import ReadModel

    try:
        with ReadModel(views) as rm:
            return {
                str(r[0]): str(r[1]) for r in rm.conn.execute("SELECT subject, name FROM people")
            }
    except sqlite3.Error:
        return {}


def access_class(db: str) -> type[AccessStore]:
    """The access store class of the ledger at ``db``'s backend."""
    return by_backend(db, sqlite=SQLiteAccess, postgres=PostgresAccess)


def open_access(db: str) -> AccessStore:
    """The access store of the ledger at ``db`` (created on first use)."""
    return access_class(db).of_ledger(db)
