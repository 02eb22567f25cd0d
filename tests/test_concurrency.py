"""Concurrent writers: exactly one wins, the loser exits 5 and nothing is lost.

Two OS processes load the same aggregate, wait for each other on a barrier,
then save: the optimistic concurrency check of the event store (a unique
aggregate id + version) lets one through and turns the other into
:class:`~ledger.errors.Conflict` (exit 5, "run the command again"). Runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.errors import Conflict, LedgerError
from tests.conftest import Cli, event_count

START = "2026-01-05"
TIMEOUT = 60


def _check_in_racer(db: str, cid: str, amount: float, barrier: Any, results: Any) -> None:
    """Load the commitment, record a check-in in memory, meet the other racer, save."""
    ledger = Ledger.open(db)
    try:
        commitment = ledger.commitment(UUID(cid))
        commitment.record_check_in(
            at=datetime.now(UTC),
            date=date(2026, 1, 12),
            actual=amount,
            done=None,
            note=f"racer {amount:g}",
            actor=f"racer-{amount:g}",
        )
        barrier.wait(TIMEOUT)
        try:
            ledger._save(commitment)  # the save every command goes through
            results.put(("won", amount, 0, ""))
        except LedgerError as exc:
            results.put(("lost", amount, exc.exit_code, str(exc)))
    finally:
        ledger.close()


def _agree_racer(db: str, focus: str, barrier: Any, results: Any) -> None:
    """Agree a rep commitment, after both racers loaded the rep's (empty) workload."""
    ledger = Ledger.open(db)
    original = ledger.workload

    def workload_then_wait(rep: str) -> Any:
        found = original(rep)
        barrier.wait(TIMEOUT)
        return found

    ledger.workload = workload_then_wait  # type: ignore[method-assign]
    try:
        try:
            cid = ledger.agree(
                rep="alice",
                manager="bob",
                focus=focus,
                behavior=f"{focus} work",
                target=5,
                start=START,
                actor="racer",
            )
            results.put(("won", focus, 0, str(cid)))
        except LedgerError as exc:
            results.put(("lost", focus, exc.exit_code, str(exc)))
    finally:
        ledger.close()


def _race(target: Any, args_per_racer: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args_per_racer))
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for args in args_per_racer]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=TIMEOUT) for _ in procs]
    for p in procs:
        p.join(TIMEOUT)
        assert p.exitcode == 0
    return sorted(outcomes)


@pytest.fixture
def cid(cli: Cli) -> str:
    return cli.ok(
        "agree --rep alice --manager bob --focus prospecting --behavior 'outbound calls' "
        f"--target 10 --start {START}",
    )


def test_two_processes_racing_on_one_commitment_one_wins_the_other_gets_exit_5(
    cli: Cli, cid: str
) -> None:
    before = event_count(cli.db)
    outcomes = _race(_check_in_racer, [(cli.db, cid, 7.0), (cli.db, cid, 9.0)])
    assert [o[0] for o in outcomes] == ["lost", "won"]
    _, lost_amount, code, message = outcomes[0]
    winner = outcomes[1][1]
    assert code == 5
    assert "again" in message and "nothing was written" in message
    # Exactly the winner's event was stored; the loser's was not half-written.
    assert event_count(cli.db) == before + 1
    ledger = Ledger.open(cli.db)
    try:
        stored = ledger.commitment(UUID(cid))
        notes = [(c.actual, c.note and ledger.keys.open_text(c.note)) for c in stored.check_ins]
        assert notes == [(winner, f"racer {winner:g}")]  # stored sealed (SPEC 7.4)
    finally:
        ledger.close()
    # Nothing is lost: the loser runs its command again and it is recorded after the winner's.
    assert cli.ok(["check-in", cid, "--on", "2026-01-12", "--actual", f"{lost_amount:g}"]) == "2"
    assert event_count(cli.db) == before + 2


def test_two_agreements_racing_for_one_rep_conflict_on_the_focus_cap_bookkeeping(
    cli: Cli,
) -> None:
    outcomes = _race(_agree_racer, [(cli.db, "prospecting"), (cli.db, "discovery")])
    assert [o[0] for o in outcomes] == ["lost", "won"]
    assert outcomes[0][2] == 5
    # Only the winner's agreement exists: agreement + workload started + taken,
    # after the ledger's LedgerCreated (written with the first write, the winner's).
    assert event_count(cli.db) == 4
    ledger = Ledger.open(cli.db)
    try:
        workload = ledger.workload("alice")
        assert workload is not None
        assert list(workload.active) == [UUID(outcomes[1][3])]
    finally:
        ledger.close()


def test_a_conflict_in_the_command_line_exits_5_and_writes_nothing(
    cli: Cli, cid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer appends between this command's load and its save."""
    load = Ledger.commitment
    raced: list[bool] = []

    def load_then_someone_else_writes(self: Ledger, commitment_id: UUID) -> Any:
        stale = load(self, commitment_id)
        if raced:  # the other writer's own load
            return stale
        raced.append(True)
        other = Ledger.open(cli.db)
        try:
            other.check_in(commitment_id, date="2026-01-11", actual=3, actor="someone else")
        finally:
            other.close()
        return stale

    monkeypatch.setattr(Ledger, "commitment", load_then_someone_else_writes)
    before = event_count(cli.db)
    result = cli(f"check-in {cid} --on 2026-01-12 --actual 9")
    monkeypatch.undo()
    assert result.exit_code == 5
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "run the command again" in lines[0]
    assert result.stdout == ""
    assert event_count(cli.db) == before + 1  # only the other writer's check-in
    ledger = Ledger.open(cli.db)
    try:
        assert [c.actual for c in ledger.commitment(UUID(cid)).check_ins] == [3]
    finally:
        ledger.close()


def test_conflict_is_exit_code_5() -> None:
    assert Conflict.exit_code == 5
