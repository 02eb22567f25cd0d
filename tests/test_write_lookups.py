"""The write path's shortcuts keep its results: a batch on a store with
nothing in it knows its misses without reading the store (and still finds
what a non-empty store holds), and the recorder's ``insert_records`` stores
what ``insert_stored`` stores. Both backends (the ``db`` fixture)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from ledger import commands as cmd
from ledger.application import Ledger

START = date(2026, 1, 5)


def _agree(rep: str) -> cmd.Agree:
    return cmd.Agree(
        rep=rep, manager="bob", focus="prospecting", behavior="calls", target=5.0,
        start=START, days=28, actor="bob",
    )  # fmt: skip


def _count_reads(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[UUID]:
    reads: list[UUID] = []
    get = ledger.repository.get

    def counting(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        reads.append(aggregate_id)
        return get(aggregate_id, *args, **kwargs)

    monkeypatch.setattr(ledger.repository, "get", counting)
    return reads


def test_a_batch_on_an_empty_store_reads_nothing_for_what_it_misses(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger.open(db)
    try:
        reads = _count_reads(ledger, monkeypatch)
        with ledger.batch() as uow:
            cid = uow.agree(_agree("alice"))  # misses alice's workload: a new one
            uow.agree(_agree("carol"))
            assert uow.commitment(cid).rep == "alice"
        assert reads == []
        assert ledger.workload("alice") is not None
    finally:
        ledger.close()


def test_a_batch_on_a_store_with_events_still_finds_what_it_holds(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger.open(db)
    try:
        first = ledger.agree(_agree("alice"))
        reads = _count_reads(ledger, monkeypatch)
        with ledger.batch() as uow:
            second = uow.agree(_agree("alice"))  # alice's workload is read: it holds `first`
            assert uow.workload("alice") is not None
        assert reads  # the store was asked
        workload = ledger.workload("alice")
        assert workload is not None and set(workload.active) == {first, second}
    finally:
        ledger.close()


def test_insert_records_stores_what_insert_stored_stores(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        recorder = ledger.recorder
        one, two = uuid4(), uuid4()
        with recorder.datastore.transaction(commit=True) as curs:
            recorder.insert_records(curs, [(one.hex, 1, "t:A", b'{"a":1}')])
            recorder.insert_stored(
                curs, [StoredEvent(recorder.stream_key(two.hex), 1, "t:A", b'{"a":1}')]
            )
        with recorder.datastore.transaction(commit=False) as curs:
            assert recorder.events_of(curs, one)[0].state == b'{"a":1}'
            assert [(e.topic, bytes(e.state)) for e in recorder.events_of(curs, one)] == [
                (e.topic, bytes(e.state)) for e in recorder.events_of(curs, two)
            ]
    finally:
        ledger.close()
