"""Where the ledger is stored: ``--db`` names a SQLite file or a PostgreSQL URL.

Each backend is one recorder class, installed in the application through
eventsourcing's ``APPLICATION_RECORDER_TOPIC`` (the pattern of eventsourcing's
own ``searchabletimestamps`` example): :class:`ledger.store.sqlite.LedgerSQLiteRecorder`
and :class:`ledger.store.postgres.LedgerPostgresRecorder`, both implementing
:class:`ledger.store.recorder.LedgerRecorder`, the few bulk inserts, lookups,
page reads and locks the ledger needs beyond eventsourcing's own interface.
Code outside this package asks the recorder, never which backend it is.

This module is the one place that tells the backends apart by ``--db``; it
imports no event-store library (the read side and the file guards use it),
and a backend's module is imported only when that backend is opened.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlparse

from ..errors import InvalidInput

if TYPE_CHECKING:
    from .recorder import LedgerRecorder

DEFAULT_DB = "commitments.db"

_T = TypeVar("_T")


def _is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))


def by_backend(db: str, *, sqlite: _T, postgres: _T) -> _T:
    """``postgres`` when ``db`` is a ``postgresql://`` URL, else ``sqlite``: the
    choice of a store kept beside the ledger (its key store, the server's access
    log), one class per backend."""
    return postgres if _is_postgres(db) else sqlite


def recorder_class(db: str) -> type[LedgerRecorder]:
    """The recorder class of the backend ``db`` names (its module imported now)."""
    module = import_module(by_backend(db, sqlite=".sqlite", postgres=".postgres"), __name__)
    cls: type[LedgerRecorder] = module.RECORDER
    return cls


def store_env(db: str) -> dict[str, str]:
    """eventsourcing settings for ``--db``: a SQLite path or a PostgreSQL URL
    (which may carry ``?schema=NAME`` to keep the tables in a schema).

    The recorder never creates tables itself (``CREATE_TABLE=n``):
    :meth:`ledger.application.Ledger.open` asks it to (``ensure_tables``), or
    checks that they are there (``tables_present``)."""
    from eventsourcing.utils import get_topic

    from ..persistence import PlainJSONTranscoder, PydanticMapper

    cls = recorder_class(db)
    return {
        "MAPPER_TOPIC": get_topic(PydanticMapper),
        "TRANSCODER_TOPIC": get_topic(PlainJSONTranscoder),
        "CREATE_TABLE": "n",
        "APPLICATION_RECORDER_TOPIC": get_topic(cls),
        **cls.settings(db),
    }


def local_file(db: str) -> str | None:
    """The file a SQLite ledger lives in (``db`` itself); None for a ledger on a server."""
    return by_backend(db, sqlite=db, postgres=None)


def location(db: str) -> str:
    """How a ledger is named where something built from it records its source:
    a SQLite file's absolute path, a server's URL without its password."""
    path = local_file(db)
    return redact(db) if path is None else os.path.abspath(path)


def redact(db: str) -> str:
    """The URL without its password, for messages."""
    if _is_postgres(db):
        url = urlparse(db)
        if url.password:
            return db.replace(f":{url.password}@", ":***@")
    return db


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


def is_locked(exc: BaseException) -> bool:
    """Whether a store error is another writer's lock outlasting the wait
    (SQLite's "database is locked" / "busy" after ``SQLITE_LOCK_TIMEOUT``)."""
    text = str(exc)
    return "locked" in text or "busy" in text


__all__ = [
    "DEFAULT_DB",
    "by_backend",
    "create_table_setting",
    "is_locked",
    "local_file",
    "location",
    "recorder_class",
    "redact",
    "store_env",
]
