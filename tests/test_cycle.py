"""A coaching cycle recorded through the command line."""

from __future__ import annotations

from ledger.application import Ledger
from tests.conftest import Cli, event_count


def test_a_coaching_cycle_is_stored_as_one_event_per_step(cli: Cli) -> None:
    sid = cli.ok(
        "session record --rep alice --manager bob --on 2026-01-05 --prepared --focus prospecting",
    )
    cid = cli.ok(
        "agree --rep alice --manager bob --focus prospecting --behavior 'outbound calls' "
        f"--target 10 --per week --start 2026-01-05 --session {sid[:8]}",
    )
    assert len(cid) == 36
    for day, n in (("2026-01-11", 9), ("2026-01-18", 10), ("2026-01-25", 12)):
        cli.ok(f"check-in {cid[:6]} --on {day} --actual {n}")
    cli.ok(f"correct {cid} --check-in 1 --actual 11 --reason 'CRM missed two'")
    cli.ok(f"close {cid} --on 2026-02-04 --result met")
    ledger = Ledger.open(cli.db)
    c = ledger.commitment(ledger.resolve(cid))
    assert [ci.actual for ci in c.check_ins] == [11, 10, 12]
    assert c.closed_on is not None and c.result == "met"
    assert c.version == 6  # agreed, 3 check-ins, correction, close
    # LedgerCreated + session + agreement + workload(start, take) + 3 check-ins + correction
    # + close + workload end + the 3 people named (rep, manager, actor)
    assert event_count(cli.db) == 14
