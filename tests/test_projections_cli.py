"""``commitments projections status`` and ``rebuild`` through the command line."""

from __future__ import annotations

import json

from projections.catchup import table_dump
from tests.conftest import Cli


def _record(cli: Cli) -> str:
    cid = cli.ok(
        "agree --rep alice --manager bob --focus prospecting --behavior calls --target 5 "
        "--start 2026-01-05",
    )
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    return cid


def test_status_shows_lag_until_a_read_catches_up(cli: Cli) -> None:
    _record(cli)

    before = json.loads(cli.ok("projections status --format json"))
    cli.ok("list")
    after = json.loads(cli.ok("projections status --format json"))

    # LedgerCreated (with the first write) + 3 people (rep, manager, actor) + agreed +
    # workload started + taken + check-in; each write caught the read model up first
    # (it finds people by name there), so only the check-in is not applied yet
    assert before["head"] == 8 and before["lag"] == 1 and before["position"] == 7
    assert after["lag"] == 0 and after["position"] == after["head"]
    assert after["tables"]["commitments"] == 1 and after["tables"]["check_ins"] == 1


def test_rebuild_replays_into_identical_tables(cli: Cli) -> None:
    _record(cli)
    cli.ok("list")
    before = table_dump(cli.views)

    result = cli("projections rebuild")

    assert result.exit_code == 0
    assert "rebuilt" in result.stderr and result.stdout == ""
    assert table_dump(cli.views) == before


def test_status_table_names_every_table(cli: Cli) -> None:
    _record(cli)
    out = cli.ok("projections status")

    for name in ("position", "lag", "commitments", "check_ins", "activity_daily"):
        assert name in out
