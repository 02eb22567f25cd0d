"""``Ledger.batch()``: many commands, one transaction; and the typed commands."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.errors import FocusCapExceeded, InvalidInput

START = date(2026, 1, 5)


def _agree(focus: str) -> cmd.Agree:
    return cmd.Agree(
        rep="alice", manager="bob", focus=focus, behavior=f"{focus} calls", target=5.0,
        start=START, days=28, actor="bob",
    )  # fmt: skip


def _topics(ledger: Ledger) -> list[str]:
    records = ledger.recorder.select_notifications(start=None, limit=1000)  # type: ignore[attr-defined]
    return [r.topic.rsplit(".", 1)[-1] for r in records]


def test_a_batch_writes_nothing_until_it_ends_then_every_event_in_command_order(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        with ledger.batch() as uow:
            sid = uow.record_session(
                cmd.RecordSession(rep="alice", manager="bob", date=START, actor="bob")
            )
            cid = uow.agree(_agree("prospecting").model_copy(update={"session_id": sid}))
            # the next command finds what the batch did, though nothing is stored yet
            assert uow.check_in(cid, cmd.CheckIn(date=START, actual=3.0, actor="alice")).number == 1
            assert ledger.event_count() == 0
        assert _topics(ledger) == [
            "LedgerCreated", "Held", "Agreed", "Started", "CommitmentTaken", "CheckInRecorded",
        ]  # fmt: skip
        assert ledger.commitment(cid).check_ins[0].actual == 3.0
    finally:
        ledger.close()


def test_a_batch_stamps_each_command_with_its_own_clock_and_the_ledger_id_with_the_first(
    db: str,
) -> None:
    ledger = Ledger.open(db)
    first, second = datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 1, 9, 9, tzinfo=UTC)
    try:
        with ledger.batch() as uow:
            uow.clock = lambda: first
            cid = uow.agree(_agree("prospecting"))
            uow.clock = lambda: second
            uow.check_in(cid, cmd.CheckIn(date=date(2026, 1, 9), actual=1.0, actor="alice"))
        records = ledger.recorder.select_notifications(start=None, limit=100)  # type: ignore[attr-defined]
        stamps = [getattr(ledger.mapper.to_domain_event(r), "timestamp") for r in records]  # noqa: B009 (the protocol has no timestamp)
        assert stamps[0] == first  # LedgerCreated: at the first event, as _save does
        assert stamps[-1] == second and set(stamps[:-1]) == {first}
        assert ledger.clock is not uow.clock  # the ledger's own clock is untouched
    finally:
        ledger.close()


def test_an_exception_inside_a_batch_writes_nothing_even_after_a_flush(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        with pytest.raises(FocusCapExceeded), ledger.batch(flush_every=1) as uow:
            uow.agree(_agree("prospecting"))
            uow.agree(_agree("discovery"))
            uow.agree(_agree("closing"))  # a third focus area: the rule applies in a batch too
        assert ledger.event_count() == 0
        with ledger.batch() as uow:
            uow.agree(_agree("prospecting"))
        assert ledger.event_count() > 0
    finally:
        ledger.close()


def test_a_command_built_directly_refuses_in_one_line_as_the_cli_words_it() -> None:
    with pytest.raises(InvalidInput) as bad:
        cmd.Agree(
            rep="alice", manager="bob", focus="x", behavior="y", target=-1.0, start=START,
            actor="bob",
        )  # fmt: skip
    assert str(bad.value) == "target: must be 0 or more"
    with pytest.raises(InvalidInput, match=r"^date: "):
        cmd.validate(cmd.CheckIn, date="2026-13-01", actual=1, actor="alice")


def test_an_agreement_gives_every_field_of_its_event_from_the_one_definition() -> None:
    import dataclasses

    from eventsourcing.domain import Aggregate

    from ledger.application import agreed_fields
    from ledger.domain import Commitment

    base = {f.name for f in dataclasses.fields(Aggregate.Created)}
    event = {f.name for f in dataclasses.fields(Commitment.Agreed)} - base
    done = cmd.Agree(
        rep="alice", manager="bob", focus="f", behavior="b", done=True, start=START,
        expect="h", override_focus_cap="why", actor="bob",
    )  # fmt: skip
    fields = agreed_fields(done)
    assert set(fields) == event and len(event) == 24
    assert (fields["measure"], fields["period"], fields["on"]) == ("done", None, START)
    assert (fields["hypothesis"], fields["focus_cap_override"]) == ("h", "why")
    assert fields["due"] == date(2026, 2, 3)  # 30 days, the default window
