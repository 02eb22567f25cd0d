"""The store behind one interface: one recorder class per backend (ledger.store).

The application installs the backend's recorder class for its ``--db``, and
both recorders answer the ledger's store questions alike for the same events.
"""

from __future__ import annotations

import uuid
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import resolve_topic

from ledger.application import Ledger
from ledger.errors import StorageUnavailable
from ledger.keys import PostgresKeyStore, SqliteKeyStore, open_keystore
from ledger.store import local_file, recorder_class, store_env
from ledger.store.postgres import LedgerPostgresRecorder
from ledger.store.recorder import LedgerRecorder
from ledger.store.sqlite import LedgerSQLiteRecorder

TOPIC = "ledger.domain:Activity.Recorded"


def expected_class(db: str) -> type[LedgerRecorder]:
    return LedgerSQLiteRecorder if local_file(db) else LedgerPostgresRecorder


def test_the_ledger_installs_its_backends_recorder_class(db: str) -> None:
    assert recorder_class(db) is expected_class(db)
    assert resolve_topic(store_env(db)["APPLICATION_RECORDER_TOPIC"]) is expected_class(db)
    ledger = Ledger.open(db)
    try:
        assert type(ledger.recorder) is expected_class(db)
        assert isinstance(ledger.recorder, LedgerRecorder)
    finally:
        ledger.close()


def test_each_backend_has_its_key_store_class(db: str) -> None:
    expected = SqliteKeyStore if local_file(db) else PostgresKeyStore
    with open_keystore(db) as store:
        assert type(store) is expected


def test_a_missing_table_is_refused_with_the_backends_hint(db: str) -> None:
    with pytest.raises(StorageUnavailable) as refused:
        Ledger.open(db, create_table=False)
    assert str(refused.value).endswith(expected_class(db).INIT_HINT)
    ledger = Ledger.open(db, create_table=True)
    try:
        assert ledger.created_tables
        assert ledger.recorder.tables_present()
        assert not ledger.recorder.ensure_tables()  # already there
    finally:
        ledger.close()


def stored(stream: UUID, version: int, n: int) -> StoredEvent:
    state = b'{"metric":"calls","n":%d,"timestamp":"2026-01-0%dT09:00:00Z"}' % (n, n)
    return StoredEvent(stream, version, TOPIC, state)


def test_both_recorders_answer_alike_for_the_same_events(db: str) -> None:
    a, b = sorted(uuid.uuid4() for _ in range(2))
    absent = uuid.uuid4()
    ledger = Ledger.open(db)
    recorder = ledger.recorder
    try:
        events = [stored(a, 1, 1), stored(a, 2, 2), stored(b, 1, 3)]
        with recorder.datastore.transaction(commit=True) as curs:
            recorder.lock_for_insert(curs)
            recorder.insert_stored(curs, events)
        with recorder.datastore.transaction(commit=False) as curs:
            assert recorder.count_events(curs) == 3
            assert recorder.max_position(curs) == recorder.max_notification_id()
            head = recorder.max_position(curs)
            assert recorder.first_state(curs, b) == events[2].state
            assert recorder.first_state(curs, absent) is None
            assert [e.originator_version for e in recorder.events_of(curs, a)] == [1, 2]
            found = recorder.lookup(curs, {(a, 2), (b, 1), (absent, 1)})
            assert found == {(a, 2): (TOPIC, events[1].state), (b, 1): (TOPIC, events[2].state)}
            assert dict(recorder.created_among(curs, [a.hex, absent.hex], 0)) == {a.hex: True}
            assert dict(recorder.created_among(curs, [a.hex], head)) == {a.hex: False}
            assert recorder.streams_created_between(curs, a, a, TOPIC, 11) == [a]
            assert recorder.field_values(curs, TOPIC, "metric", None) == ["calls"]
            assert recorder.field_values(curs, TOPIC, "metric", "emails") == []
            assert recorder.latest_timestamps(curs, "other") == ["2026-01-03T09:00:00Z"]
        rows = list(recorder.stored_rows(after=0, page=2))
        assert [recorder.canonical_stream(r[1]) for r in rows] == [str(a), str(a), str(b)]
        assert [bytes(r[4]) for r in rows] == [e.state for e in events]
        read = recorder.page_reader([TOPIC])
        assert [(r[0], r[2]) for r in read(rows[0][0], head, 10)] == [
            (rows[1][0], 2),
            (rows[2][0], 1),
        ]
        with recorder.datastore.transaction(commit=True) as curs:
            curs.execute("SAVEPOINT duplicate")  # as the activity import tries a batch
            with pytest.raises(recorder.DUPLICATE):
                recorder.insert_stored(curs, [stored(a, 1, 1)])
            curs.execute("ROLLBACK TO SAVEPOINT duplicate")
        with recorder.datastore.transaction(commit=False) as curs:
            assert recorder.count_events(curs) == 3
    finally:
        ledger.close()
