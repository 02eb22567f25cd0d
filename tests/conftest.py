"""Shared fixtures: one suite, two backends.

Every test that takes ``db`` runs on embedded SQLite and on PostgreSQL. The
PostgreSQL half needs ``COMMITMENTS_TEST_POSTGRES`` (a ``postgresql://`` URL;
``.ci/run`` sets it); without it those tests skip with that reason, and with
it and no server they fail. Each PostgreSQL test gets a schema of its own.
"""

from __future__ import annotations

import json
import os
import shlex
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

PG_ENV = "COMMITMENTS_TEST_POSTGRES"
ROOT = Path(__file__).resolve().parents[1]
CRM = ROOT / "examples" / "crm"


def pytest_configure(config: pytest.Config) -> None:
    """The fast run (``-m "not slow"``) gives property and fuzz tests a tenth of
    their examples (tests/budget.py); the complete run gives them all."""
    from tests import budget

    budget.QUICK = "not slow" in (config.option.markexpr or "")


def postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger location: a SQLite path or a PostgreSQL URL with its own schema."""
    with ledger_location(request.param, tmp_path) as location:
        yield location


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    """A fresh SQLite ledger path, for tests about the embedded default only."""
    return str(tmp_path / "ledger.db")


@pytest.fixture
def other_db(db: str, tmp_path: Path) -> Iterator[str]:
    """A second empty ledger on the same backend as ``db``."""
    if not db.startswith("postgresql://"):
        yield str(tmp_path / "other.db")
        return
    import psycopg

    url = db.partition("?schema=")[0]
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{url}?schema={schema}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_keys" CASCADE')


@dataclass
class Cli:
    """Runs ``commitments`` in-process against one ledger.

    ``cli("agree --rep alice --focus prospecting --behavior 'outbound calls'")``
    splits the command the way a shell would (``shlex.split``); pass a list
    instead when a value would need awkward quoting (quotes, newlines, hostile
    text): ``cli(["people", "add", name])``.
    """

    db: str
    views: str
    actor: str = "tester"

    def __call__(self, command: str | Sequence[str], *, input: str | None = None) -> Result:
        from cli.main import cli

        args = shlex.split(command) if isinstance(command, str) else list(command)
        return CliRunner().invoke(
            cli,
            ["--db", self.db, "--views", self.views, "--actor", self.actor, *args],
            input=input,
            catch_exceptions=False,
        )

    def ok(self, command: str | Sequence[str], *, input: str | None = None) -> str:
        """The command's standard output (stripped), asserting it exited 0."""
        result = self(command, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stderr)
        return result.stdout.strip()


@pytest.fixture
def cli(db: str, tmp_path: Path) -> Cli:
    return Cli(db=db, views=str(tmp_path / "views.db"))


def event_count(db: str) -> int:
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        return ledger.event_count()
    finally:
        ledger.close()


def activity_count(db: str) -> int:
    """The events of the ledger other than its ``LedgerCreated`` (written with
    the first write) and its ``Person`` events (a person's registration comes
    with the first command naming them), each ``ActivityChunk`` counted as the
    rows it holds (issue 19): what an import on an empty ledger recorded."""
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        rows = sum(len(json.loads(n.state)["rows"]) - 1 for n in chunk_notifications(ledger))
        return (
            ledger.event_count() - (ledger.ledger_id() is not None) - person_events(ledger) + rows
        )
    finally:
        ledger.close()


CHUNK_TOPIC = "ledger.domain:ActivityChunk.Recorded"
ROW_TOPIC = "ledger.domain:Activity.Recorded"


def chunk_notifications(ledger: Any) -> list[Any]:
    """The stored ``ActivityChunk.Recorded`` notifications of the open ``ledger``."""
    recorder = ledger.recorder
    head = recorder.max_notification_id() or 0
    notes = recorder.select_notifications(start=1, limit=head + 1)
    return [n for n in notes if n.topic == CHUNK_TOPIC]


def activity_states(notifications: Any) -> list[dict[str, Any]]:
    """Every activity row among ``notifications``, in either stored shape, as
    the state of a per-row ``Activity.Recorded`` (``originator_id``: the row's
    derived id, ``position``: its event's; a chunk's rows in their order)."""
    from ledger.domain import activity_id

    out: list[dict[str, Any]] = []
    for n in notifications:
        if n.topic == ROW_TOPIC:
            out.append({**json.loads(n.state), "originator_id": n.originator_id, "position": n.id})
        elif n.topic == CHUNK_TOPIC:
            s = json.loads(n.state)
            for rep, day, value, source_id in s["rows"]:
                out.append(
                    {
                        "timestamp": s["timestamp"],
                        "originator_topic": "ledger.domain:Activity",
                        "rep": rep,
                        "metric": s["metric"],
                        "date": day,
                        "value": value,
                        "source_id": source_id,
                        "actor": s["actor"],
                        "originator_id": activity_id(s["metric"], source_id),
                        "position": n.id,
                    }
                )
    return out


def subject_of(db: str, name: str) -> str:
    """The subject id of the person first registered as ``name`` (their sealed
    names opened with the ledger's key store)."""
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        for n in ledger.recorder.select_notifications(start=None, limit=10**6):
            if n.topic == "ledger.domain:Person.Registered":
                state = n.state.decode() if isinstance(n.state, bytes) else n.state
                if ledger.keys.open_text(json.loads(state)["name"]) == name:
                    return str(n.originator_id)
    finally:
        ledger.close()
    raise AssertionError(f"nobody is registered as {name!r}")


def person_events(ledger: Any) -> int:
    """How many ``Person`` events the open ``ledger`` holds."""
    recorder = ledger.recorder
    head = recorder.max_notification_id() or 0
    notes = recorder.select_notifications(start=1, limit=head + 1)
    return sum(1 for n in notes if n.topic.startswith("ledger.domain:Person."))


@contextmanager
def ledger_location(backend: str, folder: Path) -> Iterator[str]:
    """A fresh, empty ledger location for ``backend`` ("sqlite" or "postgres"): a
    file in ``folder``, or the test server's URL with a schema of its own that is
    dropped afterwards (skips the test when no server is configured)."""
    if backend == "sqlite":
        yield str(folder / "ledger.db")
        return
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV}=postgresql://user@host:port/db")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}schema={schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            # the ledger's key store (ledger.keys.keys_schema), if anything made one
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_keys" CASCADE')


def ticking_clock(
    first: datetime = datetime(2026, 1, 20, 9, 0, tzinfo=UTC),
) -> Callable[[], datetime]:
    """A ledger clock for library tests (``Ledger.open(db, clock=...)``): starts at
    ``first`` and moves one second a call, so a scenario of fixed business dates
    is recorded while its commitments are still open (revising needs the ledger's
    clock on or before the due date, SPEC §7.1)."""
    ticks = iter(range(10**9))

    def clock() -> datetime:
        return first + timedelta(seconds=next(ticks))

    return clock


def due_ahead(days: int = 30) -> str:
    """A due date ``days`` after today (UTC): a CLI test that revises needs a
    commitment whose due date the ledger's clock has not passed (SPEC §7.1)."""
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()
