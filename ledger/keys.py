"""People's keys and sealed text: crypto-shredding (SPEC §7.4).

Each person (a random subject id) has a key of their own, kept in a key store
apart from the events. Personal data (a person's name, the free text about
them) is stored *sealed* under that key; the events, their hash chain and the
checkpoints cover the ciphertext. Erasing a person destroys the key: the
events stay exactly as they were, verification still passes, and what was
sealed under the key can no longer be read by anyone.

A sealed value is one line of text::

    sealed:v1:<subject id, 32 hex>:<urlsafe base64 of nonce(12) + ciphertext + tag(16)>

AES-256-GCM with a fresh random nonce for each seal, and the subject id's 16
bytes as associated data, so a sealed value moved to another person's field
does not open.

The key stores:

* **SQLite** (a ledger ``X.db``): ``X.keys.db`` beside it, created owner-only
  (0600), ``PRAGMA secure_delete=ON`` so a destroyed key's bytes are
  overwritten with zeros in the file, and the write-ahead log checkpointed
  and truncated after a destruction, so no older copy of the page survives
  in ``-wal`` either.
* **PostgreSQL**: the table ``person_keys`` in a schema of its own
  (``commitment_keys`` beside a ledger in ``public``, ``<schema>_keys``
  beside a ledger in another schema), so it can be granted and backed up
  apart from the events. Created once under an advisory lock; a destruction
  deletes the row, records the subject as destroyed and then tries ``VACUUM
  FULL`` on the table (which rewrites it without the dead row; a role without
  the right to vacuum leaves that to autovacuum).

How to use it::

    from ledger.keys import open_keystore, seal

    store = open_keystore("commitments.db")          # or a postgresql:// URL
    sealed = seal(store.ensure(subject), subject, "Dana")
    store.open_text(sealed)                          # "Dana"
    store.destroy(subject)
    store.open_text(sealed)                          # "[erased]"

This module imports only the standard library and ``cryptography`` (the
latter when something is sealed or opened, so a read that meets no sealed
text does not pay for it).
"""

from __future__ import annotations

import os
import sqlite3
import time
from abc import ABC, abstractmethod
from binascii import a2b_base64
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from .files import KEYS_SUFFIX, beside, create_private
from .store import by_backend

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
PREFIX = "sealed:v1:"
_PREFIX_LEN = len(PREFIX)
ERASED_TEXT = "[erased]"
WITHHELD_TEXT = "[withheld]"
KEYS_TABLE = "person_keys"
DEFAULT_KEYS_SCHEMA = "commitment_keys"
MAX_PLAIN_BYTES = 4 * 2000
"""The most UTF-8 bytes a sealed field holds: the longest text a command takes
(2000 characters) at four bytes each."""
MAX_SEALED = len(PREFIX) + 33 + 4 * -(-(NONCE_BYTES + MAX_PLAIN_BYTES + TAG_BYTES) // 3)
"""The longest sealed value (an import refuses longer ones)."""


class SealError(Exception):
    """A sealed value that does not open: tampered with, malformed, or sealed
    for another subject or under another key."""


class KeyDestroyed(Exception):
    """A key was asked for a subject whose key has been destroyed (an erased person)."""


def is_sealed(value: str) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(key: bytes, subject: UUID, plaintext: str) -> str:
    """``plaintext`` sealed under ``key`` for ``subject`` (AES-256-GCM, fresh nonce)."""
    if len(key) != KEY_BYTES:
        raise SealError(f"a key is {KEY_BYTES} bytes, not {len(key)}")
    import base64
    import secrets

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(NONCE_BYTES)
    body = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), subject.bytes)
    return f"{PREFIX}{subject.hex}:{base64.urlsafe_b64encode(nonce + body).decode('ascii')}"


def _parts(sealed: str) -> tuple[UUID, bytes]:
    import base64
    import binascii

    if not is_sealed(sealed):
        raise SealError("not a sealed value")
    subject_hex, sep, data = sealed[len(PREFIX) :].partition(":")
    if not sep or len(subject_hex) != 32:
        raise SealError("a malformed sealed value")
    try:
        subject = UUID(hex=subject_hex)
        raw = base64.urlsafe_b64decode(data.encode("ascii"))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise SealError("a malformed sealed value") from None
    if subject.hex != subject_hex or len(raw) < NONCE_BYTES + TAG_BYTES:
        raise SealError("a malformed sealed value")
    return subject, raw


def sealed_subject(sealed: str) -> UUID:
    """The subject a sealed value names (raises :class:`SealError` if malformed)."""
    return _parts(sealed)[0]


def unseal(key: bytes, subject: UUID, sealed: str) -> str:
    """The plaintext of ``sealed``; :class:`SealError` if it was tampered with,
    is malformed, or was not sealed under ``key`` for ``subject``."""
    named, raw = _parts(sealed)
    if named != subject:
        raise SealError(f"sealed for subject {named}, not {subject}")
    if len(key) != KEY_BYTES:
        raise SealError(f"a key is {KEY_BYTES} bytes, not {len(key)}")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], subject.bytes)
    except InvalidTag:
        raise SealError("a sealed value that does not open (tampered, or another key)") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise SealError("a sealed value whose text is not UTF-8") from None


_URLSAFE = bytes.maketrans(b"-_", b"+/")


def _decrypt(aead: tuple[Any, bytes], data: str) -> str:
    """Open the base64 part of a sealed value with a subject's (cipher, AAD).

    The hot path of a rebuild (one call per sealed value): nothing is imported
    here but on a failure (a function-level import costs more than the AES)."""
    cipher, aad = aead
    try:  # base64.urlsafe_b64decode without its four Python calls on the way
        raw = a2b_base64(data.encode("ascii").translate(_URLSAFE))
    except ValueError:  # binascii.Error and UnicodeEncodeError are ValueErrors
        raise SealError("a malformed sealed value") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise SealError("a malformed sealed value")
    try:
        plain: bytes = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except Exception as exc:
        from cryptography.exceptions import InvalidTag

        if not isinstance(exc, InvalidTag):
            raise
        raise SealError("a sealed value that does not open (tampered, or another key)") from None
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise SealError("a sealed value whose text is not UTF-8") from None


def erased_name(subject: UUID) -> str:
    return "erased:" + subject.hex[:8]


def pseudonym(subject: UUID) -> str:
    return "p-" + subject.hex[:8]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class KeyStore(ABC):
    """Per-subject keys. ``key`` reads, ``ensure`` creates on first use,
    ``destroy`` shreds. Keys read are cached for the store's lifetime; a
    destroyed key is forgotten at once."""

    def __init__(self) -> None:
        self._cache: dict[UUID, bytes] = {}
        self._destroyed: set[UUID] = set()
        self._aeads: dict[str, tuple[Any, bytes]] = {}  # subject hex -> (cipher, AAD)
        self.missing = False
        """Whether :meth:`open_text` met a key that is absent without having been
        destroyed (a lost or partial key store): keys added later may open it."""

    # -- one class per backend ------------------------------------------------
    @classmethod
    @abstractmethod
    def of_ledger(cls, db: str, *, create: bool = True) -> KeyStore:
        """The key store of the ledger ``db`` (see :func:`open_keystore`)."""

    @classmethod
    def state_of(cls, db: str) -> tuple[int, int]:
        """:meth:`state` of the ledger ``db``'s key store, read without creating it."""
        with cls.of_ledger(db, create=False) as store:
            return store.state()

    @classmethod
    @abstractmethod
    def prepare(cls, db: str) -> None:
        """Create the key store along with the ledger's tables, if it must be
        (see :func:`prepare_keystore`)."""

    # -- backend primitives -------------------------------------------------
    @abstractmethod
    def _read(self, subject: UUID) -> tuple[bool, bytes | None]:
        """(row exists, key bytes or None if destroyed)."""

    @abstractmethod
    def _insert(self, subject: UUID, key: bytes) -> None:
        """Insert a key unless the subject already has a row (race-safe)."""

    @abstractmethod
    def _shred(self, subject: UUID) -> None:
        """Remove the key bytes for good and keep a row saying it was destroyed."""

    @abstractmethod
    def _rows(self) -> list[tuple[UUID, bytes | None]]: ...

    @abstractmethod
    def close(self) -> None: ...

    # -- the API ------------------------------------------------------------
    def key(self, subject: UUID) -> bytes | None:
        """The subject's key; None if it was destroyed or never made."""
        if subject in self._cache:
            return self._cache[subject]
        if subject in self._destroyed:
            return None
        exists, key = self._read(subject)
        if key is not None:
            self._cache[subject] = key
        elif exists:
            self._destroyed.add(subject)
        return key

    def is_destroyed(self, subject: UUID) -> bool:
        if subject in self._cache:
            return False
        exists, key = self._read(subject)
        return exists and key is None

    def ensure(self, subject: UUID) -> bytes:
        """The subject's key, made on first use; :class:`KeyDestroyed` if it was destroyed."""
        key = self.key(subject)
        if key is not None:
            return key
        if subject in self._destroyed:
            raise KeyDestroyed(f"the key of {erased_name(subject)} was destroyed (erased)")
        import secrets

        self._insert(subject, secrets.token_bytes(KEY_BYTES))
        _, key = self._read(subject)  # another writer may have made it first
        if key is None:
            self._destroyed.add(subject)
            raise KeyDestroyed(f"the key of {erased_name(subject)} was destroyed (erased)")
        self._cache[subject] = key
        return key

    def destroy(self, subject: UUID) -> None:
        """Destroy the subject's key for good (also when it had none: the
        subject is then recorded as destroyed so no key is ever made for it)."""
        self._shred(subject)
        self._cache.pop(subject, None)
        self._aeads.pop(subject.hex, None)
        self._destroyed.add(subject)

    def state(self) -> tuple[int, int]:
        """(keys present, keys destroyed): what a read model compares to
        know whether it must be rebuilt (an erasure, a restore, a lost store)."""
        rows = self._rows()
        destroyed = sum(1 for _, k in rows if k is None)
        return len(rows) - destroyed, destroyed

    def refresh(self) -> None:
        """Forget the keys read so far: another process may have destroyed
        one (a long-running server rebuilding its read model after an erasure
        must not open text with a key it remembers)."""
        self._cache.clear()
        self._destroyed.clear()
        self._aeads.clear()

    def export_keys(self) -> list[tuple[UUID, bytes | None]]:
        """Every subject with its key (None: destroyed), ordered by subject id."""
        return sorted(self._rows(), key=lambda r: r[0].hex)

    def import_keys(self, rows: Iterable[tuple[UUID, bytes | None]]) -> int:
        """Restore keys from an export; returns how many subjects changed.

        A key the store lacks is added; a subject destroyed in either the store
        or the rows stays (becomes) destroyed: a restore never brings an erased
        person's key back. A subject whose live key differs from the row's is
        refused with ``ValueError`` before anything is written."""
        rows = list(rows)
        for subject, key in rows:
            if key is not None and len(key) != KEY_BYTES:
                raise ValueError(f"the key of {subject} is {len(key)} bytes, not {KEY_BYTES}")
        current = {s: k for s, k in self._rows()}
        for subject, key in rows:
            have = current.get(subject)
            if key is not None and have is not None and have != key:
                raise ValueError(f"{subject} already has a different key; nothing was imported")
        changed = 0
        for subject, key in rows:
            if subject in current and current[subject] is None:
                continue  # destroyed here: stays destroyed
            if key is None:
                self.destroy(subject)
                changed += 1
            elif subject not in current:
                self._insert(subject, key)
                changed += 1
        return changed

    def open_text(self, value: str) -> str:
        """``value`` opened with its subject's key if sealed; :data:`ERASED_TEXT`
        if the key is gone; ``value`` itself if it is not sealed. A sealed value
        that does not open under the subject's key raises :class:`SealError`."""
        if not (isinstance(value, str) and value.startswith(PREFIX)):  # is_sealed, inlined
            return value
        subject_hex, _, data = value[_PREFIX_LEN:].partition(":")
        aead = self._aeads.get(subject_hex)  # the hot path of a rebuild: parse once
        if aead is None:
            subject = sealed_subject(value)
            key = self.key(subject)
            if key is None:
                if not self.is_destroyed(subject):
                    self.missing = True
                return ERASED_TEXT
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            aead = self._aeads[subject_hex] = (AESGCM(key), subject.bytes)
        return _decrypt(aead, data)

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SqliteKeyStore(KeyStore):
    """The key store of a SQLite ledger: ``X.keys.db`` beside it."""

    @classmethod
    def of_ledger(cls, db: str, *, create: bool = True) -> KeyStore:
        return cls(keystore_path(db), create=create)

    @classmethod
    def state_of(cls, db: str) -> tuple[int, int]:
        path = keystore_path(db)
        if not os.path.exists(path):
            return 0, 0
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute(
                "SELECT count(key), count(*) - count(key) FROM person_keys"
            ).fetchone()
        except sqlite3.OperationalError:  # no table yet
            return 0, 0
        finally:
            conn.close()
        return int(row[0]), int(row[1])

    @classmethod
    def prepare(cls, db: str) -> None:
        """Nothing: ``X.keys.db`` is created on first use, by whoever writes a key."""

    def __init__(self, path: str, *, create: bool = True) -> None:
        super().__init__()
        self.path = path
        self._conn: sqlite3.Connection | None = None
        if not create and not os.path.exists(path):
            return  # no key store: every key reads as gone
        create_private(path)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS person_keys ("
            "subject TEXT PRIMARY KEY, key BLOB, created_at TEXT NOT NULL, destroyed_at TEXT)"
        )
        self._conn = conn

    def _read(self, subject: UUID) -> tuple[bool, bytes | None]:
        if self._conn is None:
            return False, None
        row = self._conn.execute(
            "SELECT key FROM person_keys WHERE subject = ?", (subject.hex,)
        ).fetchone()
        return (False, None) if row is None else (True, None if row[0] is None else bytes(row[0]))

    def _writable(self) -> sqlite3.Connection:
        if self._conn is None:
            raise FileNotFoundError(f"no key store at {self.path}")
        return self._conn

    def _insert(self, subject: UUID, key: bytes) -> None:
        self._writable().execute(
            "INSERT OR IGNORE INTO person_keys (subject, key, created_at) VALUES (?, ?, ?)",
            (subject.hex, key, _now()),
        )

    def _shred(self, subject: UUID) -> None:
        conn = self._writable()
        conn.execute("BEGIN IMMEDIATE")
        try:
            # delete, then a fresh row: secure_delete zeroes the old cell's bytes
            row = conn.execute(
                "SELECT created_at FROM person_keys WHERE subject = ?", (subject.hex,)
            ).fetchone()
            conn.execute("DELETE FROM person_keys WHERE subject = ?", (subject.hex,))
            conn.execute(
                "INSERT INTO person_keys (subject, key, created_at, destroyed_at) "
                "VALUES (?, NULL, ?, ?)",
                (subject.hex, row[0] if row else _now(), _now()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._truncate_wal(conn)

    def _truncate_wal(self, conn: sqlite3.Connection) -> None:
        """Copy the log into the file and truncate it to zero bytes, so the
        frames that held the key are gone; retried while a reader holds it."""
        for _ in range(50):
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.1)
        raise OSError(
            f"{self.path}: another process keeps the key store's log open; the destroyed "
            "key is zeroed in the database but its log could not be truncated yet"
        )

    def state(self) -> tuple[int, int]:
        if self._conn is None:
            return 0, 0
        row = self._conn.execute(
            "SELECT count(key), count(*) - count(key) FROM person_keys"
        ).fetchone()
        return int(row[0]), int(row[1])

    def _rows(self) -> list[tuple[UUID, bytes | None]]:
        if self._conn is None:
            return []
        return [
            (UUID(hex=s), None if k is None else bytes(k))
            for s, k in self._conn.execute("SELECT subject, key FROM person_keys")
        ]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def keys_schema(db: str) -> str:
    """The schema holding a PostgreSQL ledger's key table."""
    from urllib.parse import parse_qs, urlparse

    schema = (parse_qs(urlparse(db).query).get("schema") or [""])[0]
    if not schema or schema == "public":
        return DEFAULT_KEYS_SCHEMA
    return f"{schema}_keys"


def _advisory_key(purpose: str, schema: str) -> int:
    import hashlib

    digest = hashlib.sha256(f"commitments:{purpose}:{schema}.{KEYS_TABLE}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresKeyStore(KeyStore):
    """The key store of a PostgreSQL ledger: a table in a schema of its own."""

    @classmethod
    def of_ledger(cls, db: str, *, create: bool = True) -> KeyStore:
        return cls(db, create=create)

    @classmethod
    def prepare(cls, db: str) -> None:
        """Writers granted only SELECT and INSERT cannot create the key schema:
        ``init`` (or the first open, by a role that may) creates it with the tables."""
        cls(db).close()

    def __init__(self, db: str, *, create: bool = True) -> None:
        super().__init__()
        from urllib.parse import urlparse, urlunparse

        import psycopg

        url = urlparse(db)
        self.schema = keys_schema(db)
        self._conn: Any = psycopg.connect(
            urlunparse(url._replace(query="", fragment="")), autocommit=True, connect_timeout=5
        )
        from psycopg.sql import SQL, Identifier

        self._conn.execute(SQL("SET search_path TO {0}").format(Identifier(self.schema)))
        self._present = self._exists()
        if create and not self._present:
            self._create()
            self._present = True

    def _sql(self, text: str) -> Any:
        """A statement on the key table: the connection's search path is the
        key schema alone, so statements name the table unqualified."""
        from psycopg.sql import SQL

        return SQL(text)  # type: ignore[arg-type]

    def _exists(self) -> bool:
        row = self._conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{self.schema}".{KEYS_TABLE}',)
        ).fetchone()
        return bool(row[0])

    def _create(self) -> None:
        """Schema and table, created once: under a session advisory lock,
        after checking again, so processes starting together never race on DDL."""
        from psycopg.sql import SQL, Identifier

        lock = _advisory_key("create", self.schema)
        self._conn.execute("SELECT pg_advisory_lock(%s)", (lock,))
        try:
            if not self._exists():
                with self._conn.transaction():
                    found = self._conn.execute(
                        "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
                    ).fetchone()
                    if found is None:
                        self._conn.execute(SQL("CREATE SCHEMA {0}").format(Identifier(self.schema)))
                    self._conn.execute(
                        self._sql(
                            "CREATE TABLE person_keys (subject uuid PRIMARY KEY, key bytea, "
                            "created_at timestamptz NOT NULL DEFAULT now(), "
                            "destroyed_at timestamptz)"
                        )
                    )
        finally:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))

    def _read(self, subject: UUID) -> tuple[bool, bytes | None]:
        if not self._present:
            return False, None
        row = self._conn.execute(
            self._sql("SELECT key FROM person_keys WHERE subject = %s"), (subject,)
        ).fetchone()
        return (False, None) if row is None else (True, None if row[0] is None else bytes(row[0]))

    def _writable(self) -> None:
        if not self._present:
            raise FileNotFoundError(f"no key store in schema {self.schema}")

    def _insert(self, subject: UUID, key: bytes) -> None:
        self._writable()
        self._conn.execute(
            self._sql(
                "INSERT INTO person_keys (subject, key) VALUES (%s, %s) ON CONFLICT DO NOTHING"
            ),
            (subject, key),
        )

    def _shred(self, subject: UUID) -> None:
        self._writable()
        with self._conn.transaction():
            row = self._conn.execute(
                self._sql("DELETE FROM person_keys WHERE subject = %s RETURNING created_at"),
                (subject,),
            ).fetchone()
            self._conn.execute(
                self._sql(
                    "INSERT INTO person_keys (subject, key, created_at, destroyed_at) "
                    "VALUES (%s, NULL, %s, now())"
                ),
                (subject, row[0] if row else datetime.now(UTC)),
            )
        import psycopg

        # rewrite the table without the dead row (needs the table's owner)
        with suppress(psycopg.errors.InsufficientPrivilege):
            self._conn.execute(self._sql("VACUUM FULL person_keys"))

    def state(self) -> tuple[int, int]:
        if not self._present:
            return 0, 0
        row = self._conn.execute(
            self._sql("SELECT count(key), count(*) - count(key) FROM person_keys")
        ).fetchone()
        return int(row[0]), int(row[1])

    def _rows(self) -> list[tuple[UUID, bytes | None]]:
        if not self._present:
            return []
        return [
            (s if isinstance(s, UUID) else UUID(str(s)), None if k is None else bytes(k))
            for s, k in self._conn.execute(self._sql("SELECT subject, key FROM person_keys"))
        ]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _store_class(db: str) -> type[KeyStore]:
    return by_backend(db, sqlite=SqliteKeyStore, postgres=PostgresKeyStore)


def keys_state(db: str) -> tuple[int, int]:
    """:meth:`KeyStore.state` of the ledger ``db``'s key store, read without
    creating it ((0, 0) when there is none)."""
    return _store_class(db).state_of(db)


def prepare_keystore(db: str) -> None:
    """Create the key store of the ledger ``db`` along with its tables, where
    the roles that write may not create it later (PostgreSQL)."""
    _store_class(db).prepare(db)


def keystore_path(db: str) -> str:
    """``X.db`` -> ``X.keys.db`` (SQLite ledgers only)."""
    return beside(db, KEYS_SUFFIX)


def open_keystore(db: str, *, create: bool = True) -> KeyStore:
    """The key store of the ledger ``db``: ``X.keys.db`` beside a SQLite ledger,
    the ``person_keys`` table in its own schema for a PostgreSQL one. With
    ``create=False`` a missing store is not made: every key reads as gone
    (names show erased, free text ``[erased]``) and writing a key fails."""
    return _store_class(db).of_ledger(db, create=create)


__all__ = [
    "ERASED_TEXT",
    "KEY_BYTES",
    "WITHHELD_TEXT",
    "KeyDestroyed",
    "KeyStore",
    "SealError",
    "erased_name",
    "is_sealed",
    "keys_schema",
    "keystore_path",
    "open_keystore",
    "prepare_keystore",
    "pseudonym",
    "seal",
    "sealed_subject",
    "unseal",
]
