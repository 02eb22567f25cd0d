"""The key store and sealing (SPEC §7.4, ledger/keys.py), on both backends."""

from __future__ import annotations

import base64
import os
import stat
import uuid
from pathlib import Path

import pytest

from ledger.keys import (
    ERASED_TEXT,
    KEY_BYTES,
    KeyDestroyed,
    SealError,
    erased_name,
    is_sealed,
    keys_schema,
    keystore_path,
    open_keystore,
    pseudonym,
    seal,
    sealed_subject,
    unseal,
)

from .conftest import ledger_location


@pytest.fixture(params=["sqlite", "postgres"])
def store_db(request: pytest.FixtureRequest, tmp_path: Path):
    with ledger_location(request.param, tmp_path) as location:
        yield location


def test_seal_round_trip_with_a_fresh_nonce_each_time() -> None:
    key, subject = os.urandom(KEY_BYTES), uuid.uuid4()
    a, b = seal(key, subject, "Dana Åberg"), seal(key, subject, "Dana Åberg")
    assert a != b  # fresh nonce
    assert is_sealed(a) and a.startswith(f"sealed:v1:{subject.hex}:")
    assert "Dana" not in a and sealed_subject(a) == subject
    assert unseal(key, subject, a) == unseal(key, subject, b) == "Dana Åberg"
    assert not is_sealed("Dana")


def test_tampered_text_does_not_open() -> None:
    key, subject = os.urandom(KEY_BYTES), uuid.uuid4()
    sealed = seal(key, subject, "a note about Dana")
    head, _, data = sealed.rpartition(":")
    raw = bytearray(base64.urlsafe_b64decode(data))
    raw[15] ^= 1
    tampered = f"{head}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(SealError):
        unseal(key, subject, tampered)
    with pytest.raises(SealError):
        unseal(key, subject, sealed[:-8])  # truncated
    with pytest.raises(SealError):
        unseal(os.urandom(KEY_BYTES), subject, sealed)  # another key


def test_wrong_subject_does_not_open_even_when_the_text_names_it() -> None:
    key, subject, other = os.urandom(KEY_BYTES), uuid.uuid4(), uuid.uuid4()
    sealed = seal(key, subject, "Dana")
    with pytest.raises(SealError):
        unseal(key, other, sealed)
    moved = sealed.replace(subject.hex, other.hex)  # relabelled: the AAD differs
    with pytest.raises(SealError):
        unseal(key, other, moved)


def test_names_for_erased_and_pseudonymised_people() -> None:
    subject = uuid.UUID("0123456789abcdef0123456789abcdef")
    assert erased_name(subject) == "erased:01234567"
    assert pseudonym(subject) == "p-01234567"


def test_store_makes_a_key_once_and_reads_it_back(store_db: str) -> None:
    subject = uuid.uuid4()
    with open_keystore(store_db) as store:
        assert store.key(subject) is None
        key = store.ensure(subject)
        assert len(key) == KEY_BYTES and store.ensure(subject) == key
        sealed = seal(key, subject, "Dana")
    with open_keystore(store_db) as again:  # another process: from the store itself
        assert again.key(subject) == key
        assert again.open_text(sealed) == "Dana"
        assert again.open_text("plain text") == "plain text"


def test_destroyed_key_is_gone_and_never_made_again(store_db: str) -> None:
    subject, other = uuid.uuid4(), uuid.uuid4()
    with open_keystore(store_db) as store:
        sealed = seal(store.ensure(subject), subject, "Dana")
        kept = seal(store.ensure(other), other, "Lee")
        store.destroy(subject)
        assert store.key(subject) is None
        with pytest.raises(KeyDestroyed):
            store.ensure(subject)
        assert store.open_text(sealed) == ERASED_TEXT
        assert store.open_text(kept) == "Lee"
    with open_keystore(store_db) as again:
        assert again.key(subject) is None and again.is_destroyed(subject)
        with pytest.raises(KeyDestroyed):
            again.ensure(subject)
        assert again.open_text(sealed) == ERASED_TEXT


def test_sqlite_store_is_owner_only_and_keeps_no_destroyed_key_bytes(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    store = open_keystore(db)
    subjects = [uuid.uuid4() for _ in range(20)]
    keys = {s: store.ensure(s) for s in subjects}
    path = keystore_path(db)
    assert path == str(tmp_path / "ledger.keys.db")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    files = [p for p in (path, path + "-wal", path + "-shm") if os.path.exists(p)]
    assert all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in files)
    assert any(keys[subjects[3]] in Path(p).read_bytes() for p in files)  # the search works
    reader = open_keystore(db)  # another process's store, open (idle) at the time
    assert reader.key(subjects[3]) == keys[subjects[3]]
    store.destroy(subjects[3])
    for p in (path, path + "-wal", path + "-shm", path + "-journal"):
        if os.path.exists(p):
            assert keys[subjects[3]] not in Path(p).read_bytes(), p
    assert os.path.getsize(path + "-wal") == 0
    assert store.key(subjects[4]) == keys[subjects[4]]
    assert open_keystore(db).key(subjects[3]) is None
    store.close()
    reader.close()


def test_postgres_store_lives_in_its_own_schema_and_drops_the_key(tmp_path: Path) -> None:
    with ledger_location("postgres", tmp_path) as db:
        import psycopg

        subject = uuid.uuid4()
        with open_keystore(db) as store:
            key = store.ensure(subject)
            store.destroy(subject)
        schema = keys_schema(db)
        assert schema.endswith("_keys") and schema != db.rpartition("schema=")[2]
        with psycopg.connect(db.partition("?")[0]) as conn:
            rows = conn.execute(f'SELECT subject, key FROM "{schema}".person_keys').fetchall()
        assert rows == [(subject, None)]
        assert key not in repr(rows).encode()


def test_missing_store_reads_everything_as_gone(store_db: str) -> None:
    subject = uuid.uuid4()
    sealed = seal(os.urandom(KEY_BYTES), subject, "Dana")
    with open_keystore(store_db, create=False) as store:
        assert store.key(subject) is None
        assert store.open_text(sealed) == ERASED_TEXT
        assert store.export_keys() == []
        with pytest.raises(FileNotFoundError):
            store.ensure(subject)
    if not store_db.startswith("postgresql://"):
        assert not os.path.exists(keystore_path(store_db))


def test_export_and_import_round_trip(store_db: str, tmp_path: Path) -> None:
    a, b, gone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with open_keystore(store_db) as store:
        ka, kb = store.ensure(a), store.ensure(b)
        store.ensure(gone)
        store.destroy(gone)
        rows = store.export_keys()
    assert sorted(rows) == sorted([(a, ka), (b, kb), (gone, None)])
    (tmp_path / "restore").mkdir()
    backend = "postgres" if store_db.startswith("postgresql://") else "sqlite"
    with ledger_location(backend, tmp_path / "restore") as other, open_keystore(other) as restored:
        assert restored.import_keys(rows) == 3
        assert restored.key(a) == ka and restored.key(b) == kb
        assert restored.key(gone) is None
        with pytest.raises(KeyDestroyed):
            restored.ensure(gone)
        assert restored.import_keys(rows) == 0  # idempotent


def test_import_never_brings_a_destroyed_key_back_and_refuses_a_different_key(
    store_db: str,
) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    with open_keystore(store_db) as store:
        backup = [(a, store.ensure(a)), (b, store.ensure(b))]
        store.destroy(a)
        assert store.import_keys(backup) == 0
        assert store.key(a) is None
        with pytest.raises(ValueError, match="different key"):
            store.import_keys([(b, os.urandom(KEY_BYTES))])
        with pytest.raises(ValueError, match="bytes"):
            store.import_keys([(uuid.uuid4(), b"short")])
        assert store.key(b) == backup[1][1]
