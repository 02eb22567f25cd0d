"""A read command on a SQLite ledger whose read model is current imports nothing
of the event store (``projections.catchup.open_current``'s promise): importing
the domain (eventsourcing's aggregates) alone cost more than the whole start-up
aim of ``history``, ``prep`` and ``model`` (≤ 2.5x ``python -c "import click"``,
bench/README.md). Not a timing: which modules a read loads."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from ledger import commands as cmd

READ = """
import json, sys
from cli.main import main
sys.argv[0] = "commitments"
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(m for m in sys.modules if m.startswith("eventsourcing"))
print(json.dumps({"code": code, "loaded": loaded}))
"""


def _run(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", READ, *args], capture_output=True, text=True, check=False
    )
    answer: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


@pytest.mark.parametrize(
    "command",
    [("history", "alice"), ("prep", "alice"), ("plan", "alice"), ("due", "--rep", "alice")],
)
def test_a_current_read_imports_no_event_store(tmp_path: Path, command: tuple[str, ...]) -> None:
    from ledger.application import Ledger

    db = str(tmp_path / "ledger.db")
    start = (date.today() - timedelta(days=3)).isoformat()
    ledger = Ledger.open(db)
    cid = ledger.agree(
        cmd.validate(
            cmd.Agree,
            rep="alice",
            manager="bob",
            focus="prospecting",
            behavior="outbound calls",
            target=10,
            period="week",
            start=start,
            days=30,
            actor="seed",
        )
    )
    ledger.check_in(cid, cmd.validate(cmd.CheckIn, date=start, actual=4, actor="seed"))
    first = _run("--db", db, *command)  # catches the read model up: opens the ledger
    assert first["code"] == 0 and first["loaded"], first
    again = _run("--db", db, *command)
    assert again == {"code": 0, "loaded": []}, again
