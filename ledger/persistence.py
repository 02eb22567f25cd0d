"""How events become stored records, and where the store lives.

Stored state is plain JSON: pydantic dumps each event dataclass in JSON mode
(dates as ``YYYY-MM-DD``, timestamps as ISO 8601 UTC, ids as strings), so the
export format, the projections and third-party tools read it without any
eventsourcing-specific encoding. Decoding validates the state with the same
pydantic adapter, after any upcasting (``class_version``).
"""

from __future__ import annotations

import json
import os
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import TypeAdapter

from .errors import InvalidInput

DEFAULT_DB = "commitments.db"


#: The canonical JSON of SPEC §5 (keys sorted, separators ``,`` and ``:``, no
#: ASCII escaping): every state is stored as its UTF-8 bytes, so the hash chain
#: covers the stored bytes themselves (``verify`` checks it, SPEC §7.2).
CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(obj: Any) -> str:
    """The canonical JSON text of ``obj``."""
    return CANONICAL.encode(obj)


# The C encoder behind CANONICAL, built once with CANONICAL's own settings and
# no cycle check: ``JSONEncoder.encode`` builds one on every call, a quarter of
# its cost on an event's state (measured for verify, bench/README.md).
_PARSED = (
    c_make_encoder(
        None, CANONICAL.default, encode_basestring, None, CANONICAL.key_separator,
        CANONICAL.item_separator, True, False, True,
    )
    if c_make_encoder is not None
    else None
)  # fmt: skip


def canonical_parsed(obj: Any) -> str:
    """:func:`canonical` of a value ``json`` has just parsed (it cannot hold a
    cycle, so the cycle check is skipped): the same text, faster."""
    if _PARSED is None or isinstance(obj, str):
        return CANONICAL.encode(obj)
    return "".join(_PARSED(obj, 0))


class PlainJSONTranscoder(Transcoder):
    """Canonical UTF-8 JSON, nothing else: the state is already plain."""

    def encode(self, obj: Any) -> bytes:
        # a state is a JSON-mode dump (or built like one): it cannot hold a cycle
        return canonical_parsed(obj).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


def adapter(cls: Any) -> TypeAdapter[Any]:
    """The pydantic adapter of one event class (built once, on first use)."""
    found = _ADAPTERS.get(cls)
    if found is None:
        found = _ADAPTERS[cls] = TypeAdapter(cls)
    return found


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def event_state(event: Any) -> dict[str, Any]:
    """An event's stored state: JSON-mode dump without id and version."""
    cls = type(event)
    state: dict[str, Any] = adapter(cls).dump_python(event, mode="json")
    del state["originator_id"], state["originator_version"]
    class_version = getattr(cls, "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    return state


def upcast(cls: type, state: dict[str, Any]) -> dict[str, Any]:
    """Bring an older event state up to the class's current version."""
    class_version = getattr(cls, "class_version", 1)
    from_version = state.pop("class_version", 1)
    while from_version < class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1
    return state


def build_event(topic: str, originator_id: Any, version: int, state: dict[str, Any]) -> Any:
    """Validate a stored state into its event object."""
    cls = resolve_topic(topic)
    state = upcast(cls, dict(state))
    state["originator_id"] = originator_id
    state["originator_version"] = version
    return adapter(cls).validate_python(state)


class PydanticMapper(Mapper):
    """eventsourcing mapper that stores events as plain, pydantic-validated JSON."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = self.transcoder.encode(event_state(domain_event))
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        return build_event(
            stored_event.topic,
            stored_event.originator_id,
            stored_event.originator_version,
            self.transcoder.decode(state),
        )


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def is_locked(exc: BaseException) -> bool:
    """Whether a store error is another writer's lock outlasting the wait
    (SQLite's "database is locked" / "busy" after ``SQLITE_LOCK_TIMEOUT``)."""
    text = str(exc)
    return "locked" in text or "busy" in text


def insert_stored_events(recorder: Any, curs: Any, events: list[StoredEvent], *, pg: bool) -> None:
    """Insert stored events inside the caller's transaction (``curs``), with the
    recorder's own statements: on PostgreSQL its ``_insert_stored_events``, which
    takes the insert lock first; on SQLite the aggregate recorder's multi-row
    insert (the application recorder's override only adds a query per row to
    collect notification ids, which nothing here needs)."""
    if pg:
        recorder._insert_stored_events(curs, events)
    else:
        from eventsourcing.sqlite import SQLiteAggregateRecorder

        SQLiteAggregateRecorder._insert_events(recorder, curs, events)


def pg_sql(recorder: Any, text: str) -> Any:
    """``text`` with ``{schema}`` and ``{table}`` filled in as the quoted names of
    a PostgreSQL recorder's schema and events table."""
    from psycopg.sql import SQL, Identifier

    return SQL(text).format(  # type: ignore[arg-type]
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )


def store_env(db: str, *, create_table: bool = True) -> dict[str, str]:
    """eventsourcing settings for ``--db``: a SQLite path or a PostgreSQL URL.

    A PostgreSQL URL may carry ``?schema=NAME`` to keep the tables in a schema.
    """
    env = {
        "MAPPER_TOPIC": get_topic(PydanticMapper),
        "TRANSCODER_TOPIC": get_topic(PlainJSONTranscoder),
        "CREATE_TABLE": "y" if create_table else "n",
    }
    if is_postgres(db):
        url = urlparse(db)
        if not url.path.strip("/"):
            raise InvalidInput(f"--db: {redact(db)} names no database")
        query = parse_qs(url.query)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=unquote(url.path.lstrip("/")),
            POSTGRES_HOST=url.hostname or "localhost",
            POSTGRES_PORT=str(url.port or 5432),
            POSTGRES_USER=unquote(url.username or ""),
            POSTGRES_PASSWORD=unquote(url.password or ""),
            POSTGRES_CONNECT_TIMEOUT="5",
            POSTGRES_POOL_SIZE="2",
            POSTGRES_MAX_OVERFLOW="4",
        )
        if query.get("schema"):
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    if "://" in db:
        raise InvalidInput(f"--db: {redact(db)} is neither a file path nor a postgresql:// URL")
    env.update(
        PERSISTENCE_MODULE="eventsourcing.sqlite",
        SQLITE_DBNAME=db,
        SQLITE_LOCK_TIMEOUT=lock_timeout(),
    )
    return env


def create_table_setting() -> bool:
    """Whether opening the ledger may create its tables: ``CREATE_TABLE`` in
    the environment (default yes), read here and nowhere else. The words are
    eventsourcing's own (y/yes/t/true/on/1, n/no/f/false/off/0, any case);
    anything else is refused rather than guessed."""
    from eventsourcing.utils import strtobool

    text = os.environ.get("CREATE_TABLE", "").strip() or "y"
    try:
        return strtobool(text)
    except ValueError:
        raise InvalidInput(
            f"CREATE_TABLE={text!r}: give y or n (yes/no, true/false, on/off, 1/0)"
        ) from None


def lock_timeout() -> str:
    """Seconds a SQLite writer waits for another's lock before giving up
    (``SQLITE_LOCK_TIMEOUT`` in the environment, default 10); then the command
    fails with exit 5 and nothing written."""
    text = os.environ.get("SQLITE_LOCK_TIMEOUT", "").strip() or "10"
    if not text.isdigit() or not 0 <= int(text) <= 3600:
        raise InvalidInput(f"SQLITE_LOCK_TIMEOUT={text!r}: give whole seconds from 0 to 3600")
    return str(int(text))


def redact(db: str) -> str:
    """The URL without its password, for messages."""
    if is_postgres(db):
        url = urlparse(db)
        if url.password:
            return db.replace(f":{url.password}@", ":***@")
    return db
