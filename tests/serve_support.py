"""What the server's tests share: a server over a fresh ledger, its people and tokens.

The cast, registered in the roster (the people registry) before anything
else: alice and tess report to bob, rita reports to mona; bob and mona are
managers, hugo is hr and ada admin. A session and commitments name bob as
alice's manager and mona as rita's; tess (rostered to bob) has none yet.
Every event names people by subject id. Each has a token.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from ledger import commands as cmd

ROLES = {"alice": "rep", "rita": "rep", "bob": "manager", "mona": "manager", "hugo": "hr"}
ROLES["ada"] = "admin"
ROLES["tess"] = "rep"
ROSTER = {"alice": "bob", "tess": "bob", "rita": "mona"}
"""Who reports to whom (``people add NAME --manager M``)."""
TODAY = date.today()
START = (TODAY - timedelta(days=3)).isoformat()


@dataclass
class Served:
    """A server (in-process, through FastAPI's TestClient) over one ledger."""

    db: str
    views: str
    client: TestClient
    app: Any
    tokens: dict[str, str] = field(default_factory=dict)
    subjects: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> Any:
        return self.app.services

    @property
    def ledger(self) -> Any:
        return self.services.ledger

    def events(self) -> int:
        return int(self.ledger.event_count())

    def as_(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str | None, **params: Any) -> Any:
        return self.client.get("/api/v1" + path, params=params, headers=self.as_(who))

    def post(self, path: str, who: str | None, body: Any) -> Any:
        return self.client.post("/api/v1" + path, json=body, headers=self.as_(who))

    def sub(self, name: str, manager: str | None = None) -> str:
        """``name``'s subject id; someone new is registered (``people add NAME
        [--manager M]``) first."""
        if name not in self.subjects:
            from ledger.people import NewPerson

            boss = None if manager is None else self.sub(manager)
            person = NewPerson.named(name, listed=True, manager=boss)
            self.ledger.register_people([person], actor=self.subjects["ada"])
            self.subjects[name] = person.ref
        return self.subjects[name]

    def session(self, rep: str, manager: str, **values: Any) -> str:
        """A coaching session (written directly, not through the API)."""
        sid = self.ledger.record_session(
            cmd.RecordSession(
                rep=self.sub(rep),
                manager=self.sub(manager),
                date=values.pop("date", START),
                actor=self.subjects["ada"],
                **values,
            )
        )
        return str(sid)

    def commitment(self, rep: str, manager: str, *, check_in: bool = True) -> str:
        """A fresh open rep-owned commitment (written directly, not through the API)."""
        cid = self.ledger.agree(
            cmd.validate(
                cmd.Agree,
                rep=self.sub(rep),
                manager=self.sub(manager),
                focus="prospecting",
                behavior="outbound calls",
                target=10,
                period="week",
                start=START,
                days=30,
                actor=self.subjects["ada"],
            )
        )
        if check_in:
            self.ledger.check_in(
                cid, cmd.validate(cmd.CheckIn, date=START, actual=4, actor=self.subjects["ada"])
            )
        return str(cid)


def register_cast(ledger: Any) -> dict[str, str]:
    """``people add`` of the cast with the roster (names strict from then on):
    their subject ids, by name."""
    from dataclasses import replace

    from ledger.people import NewPerson

    people = {name: NewPerson.named(name, listed=True) for name in ROLES}
    cast = [
        replace(p, manager=people[ROSTER[name]].ref) if name in ROSTER else p
        for name, p in people.items()
    ]
    ledger.register_people(cast, actor=people["ada"].ref)
    return {p.name: p.ref for p in cast}


@contextmanager
def served(db: str, folder: Path, *, trust_header: str | None = None) -> Iterator[Served]:
    """A server over the ledger at ``db`` with the cast granted and seeded."""
    from cli.serve.app import Config, create_app

    views = str(folder / "views.db")
    app = create_app(Config(db=db, views=views, trust_header=trust_header))
    with TestClient(app, raise_server_exceptions=True) as client:
        s = Served(db, views, client, app)
        s.subjects = register_cast(s.ledger)
        for name, role in ROLES.items():
            s.tokens[name] = s.services.access.grant(s.subjects[name], role, s.subjects["ada"])
        sub = s.subjects
        s.ledger.record_session(
            cmd.validate(
                cmd.RecordSession,
                rep=sub["alice"],
                manager=sub["bob"],
                date=START,
                actor=sub["ada"],
            )
        )
        s.ledger.record_session(
            cmd.validate(
                cmd.RecordSession,
                rep=sub["rita"],
                manager=sub["mona"],
                date=START,
                actor=sub["ada"],
            )
        )
        s.commitment("alice", "bob")
        s.commitment("rita", "mona")
        yield s


def is_error(response: Any, exit_code: int | None = None) -> bool:
    """The error body of SPEC §7.5, exactly: {"error": {"exit_code", "message"}}, one line."""
    body = response.json()
    if set(body) != {"error"} or set(body["error"]) != {"exit_code", "message"}:
        return False
    err = body["error"]
    if not isinstance(err["message"], str) or "\n" in err["message"] or not err["message"]:
        return False
    return exit_code is None or err["exit_code"] == exit_code


def cli_json(db: str, views: str, command: str) -> Any:
    """The CLI's ``--format json`` output of ``command`` (split as a shell would) for the
    same ledger and views."""
    from click.testing import CliRunner

    from cli.main import cli

    args = ["--db", db, "--views", views, *shlex.split(command), "--format", "json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)
