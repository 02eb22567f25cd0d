"""Which files a command may write: one guard for every writer of files.

A ledger lives in several files: the event store itself (SQLite), its read
model (``X.views.db``), the key store of people's keys (``X.keys.db``), the
access log (``X.access.db``), signing keys wherever ``keys generate`` put
them, and SQLite's ``-wal``/``-shm``/``-journal`` files beside each. No
option that writes a file (``-o``, ``--views``, the demo's pages...) may
overwrite any of them: a report written over the ledger destroys it.

Two tests, both needed:

* **by path** (:func:`family`): the target is one of the files above or a
  companion of one (compared after resolving symbolic links, and as the
  same inode, so a hard link is caught too);
* **by content** (:func:`kind`): an existing target that is a SQLite
  database, a SQLite write-ahead log, or a signing key is refused whatever
  its name, so a key or a ledger kept elsewhere is safe as well.

``--views`` is the one option that writes a database; it may name a new
file, an empty one, a SQLite database without tables, or an existing read
model (:func:`check_views`). Every refusal is :class:`InvalidInput` (exit 2)
and happens before anything is written.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import suppress

from .errors import InvalidInput
from .store import local_file

SQLITE_HEADER = b"SQLite format 3\x00"
WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
COMPANIONS = ("-wal", "-shm", "-journal")
KEYS_SUFFIX = ".keys.db"
ACCESS_LOG_SUFFIX = ".access.db"
VIEWS_SUFFIX = ".views.db"
READ_MODEL_MARK = "tracking"
"""The table every read model has (its position in the ledger)."""
SIGNING_KEY_MARKS = (b"PRIVATE+KEY+", b"-----BEGIN PRIVATE KEY-----", b"PRIVATE KEY-----")
"""How a signing key file starts or what it holds: a C2SP signed-note signer
key, or a PEM private key (``keys generate`` writes one of these)."""


def beside(db: str, suffix: str) -> str:
    """``X.db`` -> ``X<suffix>`` (the files kept next to a SQLite ledger)."""
    root, _ = os.path.splitext(db)
    return root + suffix


def ledger_files(db: str, views: str | None = None) -> dict[str, str]:
    """What must never be overwritten, by description: the ledger, its views,
    keys and access log (PostgreSQL: only the views file is a local file)."""
    out: dict[str, str] = {}
    path = local_file(db)
    if path is not None:
        out[path] = "the ledger"
        out[beside(path, VIEWS_SUFFIX)] = "the ledger's read model"
        out[beside(path, KEYS_SUFFIX)] = "the ledger's key store"
        out[beside(path, ACCESS_LOG_SUFFIX)] = "the ledger's access log"
    if views:
        out[views] = "the ledger's read model"
    return out


def family(path: str) -> list[str]:
    """A file and the companions SQLite keeps beside it."""
    return [path, *(path + c for c in COMPANIONS)]


def _same(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _head(path: str, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except (IsADirectoryError, FileNotFoundError, PermissionError):
        return b""


def kind(path: str) -> str | None:
    """What an existing file is, when it must not be overwritten: "a SQLite
    database", "a SQLite write-ahead log", "a signing key"; None otherwise."""
    head = _head(path)
    if head.startswith(SQLITE_HEADER):
        return "a SQLite database"
    if head[:4] in WAL_MAGIC:
        return "a SQLite write-ahead log"
    if any(mark in head for mark in SIGNING_KEY_MARKS):
        return "a signing key"
    for companion in COMPANIONS:
        base = path[: -len(companion)]
        if path.endswith(companion) and _head(base, 16).startswith(SQLITE_HEADER):
            return f"the {companion[1:]} file of the SQLite database {base}"
    return None


def _protected(path: str, protected: Mapping[str, str]) -> str | None:
    for owner, what in protected.items():
        for member in family(owner):
            if _same(path, member):
                return what if member == owner else f"a companion file of {what} ({member})"
    return None


def check_output(path: str, option: str, protected: Mapping[str, str]) -> None:
    """Refuse (exit 2) writing ``path`` for ``option`` if it is one of the
    ``protected`` files (or their companions), or an existing database, WAL
    file or signing key. ``-`` (stdout) is always fine."""
    if path == "-":
        return
    what = _protected(path, protected)
    if what is None and os.path.exists(path):
        what = kind(path)
    if what is not None:
        raise InvalidInput(f"{option} {path}: refusing to overwrite {what}; nothing was written")


def check_outputs(paths: Iterable[str], option: str, protected: Mapping[str, str]) -> None:
    for path in paths:
        check_output(path, option, protected)


def check_views(path: str, protected: Mapping[str, str]) -> None:
    """Refuse (exit 2) a ``--views`` path that is the ledger or another
    protected file, or an existing file that is not a read model."""
    others = {p: w for p, w in protected.items() if not _same(p, path) or "read model" not in w}
    what = _protected(path, others)
    if what is None and os.path.exists(path):
        what = not_a_read_model(path)
    if what is not None:
        raise InvalidInput(
            f"--views {path}: {what} is not a read model; refusing to write the "
            "read model into it (nothing was written)"
        )


def not_a_read_model(path: str) -> str | None:
    """Why an existing file cannot hold a read model, or None if it can: an
    empty file, a SQLite database without tables, or a read model."""
    if os.path.isdir(path):
        return "a directory"
    head = _head(path, 16)
    if not head:
        return None
    if not head.startswith(SQLITE_HEADER):
        return kind(path) or "an existing file that is not a database"
    try:
        names = schema_names(path)
    except sqlite3.DatabaseError:
        return None  # a damaged database with a SQLite header: the read model's own recovery
    return not_a_read_model_by_names(names)


def schema_names(path: str) -> set[str]:
    """The names in a SQLite file's schema, read through a read-only connection
    (``sqlite3.DatabaseError`` if SQLite cannot read it)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()


def not_a_read_model_by_names(names: set[str]) -> str | None:
    """What a SQLite database whose schema holds ``names`` is, unless it can
    hold a read model (no tables yet, or a read model's): None then."""
    if not names or READ_MODEL_MARK in names:
        return None
    if "stored_events" in names:
        return "a ledger"
    return "a SQLite database of something else"


def remove_family(path: str) -> None:
    """Delete a file and its SQLite companions (a derived file being discarded)."""
    for member in family(path):
        with suppress(FileNotFoundError):
            os.remove(member)


def create_private(path: str) -> bool:
    """Create ``path`` as a new empty file readable and writable by its owner
    only (0600), unless it already exists; True if this call created it.
    SQLite gives a database's ``-wal`` and ``-shm`` files the database file's
    mode, so a database created here keeps all its files owner-only."""
    if path == ":memory:" or path.startswith("file:"):
        return False
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def replace_private(path: str, text: str) -> None:
    """Write ``path`` whole, owner-only (0600), replacing it atomically: a
    crash leaves the old file or the new one, never a part (checkpoint notes,
    key backups)."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".commitments-", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
