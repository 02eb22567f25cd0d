"""People as the write side takes them (SPEC §7.4): a person named for the
first time, and what a command needs to register them in its own transaction.

Finding a person by name is the read model's job (``projections.people``):
names are sealed in the events, so the event store cannot be searched by
name. A front end resolves every name of a command to a subject id there; a
name nobody has yet becomes a :class:`NewPerson`, handed to the command's
:class:`~ledger.application.Ledger` method as ``register=[...]`` so that the
registration and the command's own events commit together (a refused
command registers nobody).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid4


@dataclass(frozen=True)
class NewPerson:
    """A person to register: a fresh random subject id and their name in clear
    (sealed by the ledger when it writes ``Person.Registered``), and their
    place in the roster if known. ``listed``: registered by ``people add`` or
    ``people import`` rather than on first use."""

    subject: UUID
    name: str
    manager: str | None = None
    team: str | None = None
    region: str | None = None
    effective: date | None = None
    listed: bool = False

    @classmethod
    def named(cls, name: str, **roster: object) -> NewPerson:
        return cls(uuid4(), name, **roster)  # type: ignore[arg-type]

    @property
    def ref(self) -> str:
        """The person reference events carry: the subject id, hyphenated."""
        return str(self.subject)


@dataclass(frozen=True)
class RosterChange:
    """A registered person's new place in the roster from ``effective`` on."""

    subject: UUID
    manager: str | None
    team: str | None
    region: str | None
    effective: date
