"""Who may do what through the server (SPEC §7.5): ONE table, role × action ×
relation of the person concerned to the caller, used by every endpoint.

Relations:

* ``self``   the person is the caller;
* ``report`` the person reports to the caller. There is no people registry
  yet, so this is "a rep of a commitment or session naming the caller as
  manager" (:func:`reports_of`); when the roster comes (issue 14) it answers
  from the roster instead and nothing else here changes;
* ``other``  anyone else (also: no person in particular, as for a report
  across everyone).

An action not in the table for a role is refused for every relation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from ledger.calendar import MAX_DATE
from ledger.errors import LedgerError, NotFound

if TYPE_CHECKING:
    from projections.query import ReadModel


class Role(StrEnum):
    REP = "rep"
    MANAGER = "manager"
    HR = "hr"
    ADMIN = "admin"


class Action(StrEnum):
    READ = "read"
    """A person's commitments, sessions and history (the person: the rep)."""
    REPORT = "report"
    """Reports across people (coaching patterns); the person: the manager reported on."""
    RECORD = "record"
    """Check-in, correct, revise, release, close (the person: the commitment's rep)."""
    REPLY = "reply"
    """Answer a commitment's verdict (the person: the commitment's rep; the
    ledger's rule then takes only its rep or the manager named on it)."""
    AGREE_AS = "agree_as"
    """Record a session or agree a commitment naming the person as its manager."""
    AGREE_WITH = "agree_with"
    """Record a session or agree a commitment naming the person as its rep."""
    ACCESS = "access"
    """Grant, revoke and list access."""
    ACCESS_LOG = "access_log"
    """Read the access log."""


class Relation(StrEnum):
    SELF = "self"
    REPORT = "report"
    OTHER = "other"


SELF, REPORT, OTHER = Relation.SELF, Relation.REPORT, Relation.OTHER
ANYONE = frozenset(Relation)

POLICY: dict[tuple[Role, Action], frozenset[Relation]] = {
    # rep: their own commitments, sessions and history; replies to their own verdicts.
    (Role.REP, Action.READ): frozenset({SELF}),
    (Role.REP, Action.REPLY): frozenset({SELF}),
    # manager: their reps, and what names them as manager; writes the cycle for those.
    (Role.MANAGER, Action.READ): frozenset({SELF, REPORT}),
    (Role.MANAGER, Action.RECORD): frozenset({REPORT}),
    # ... and replies on the commitments naming them as manager (the ledger refuses
    # a reply by a manager the commitment does not name: exit 4, 409).
    (Role.MANAGER, Action.REPLY): frozenset({REPORT}),
    (Role.MANAGER, Action.AGREE_AS): frozenset({SELF}),
    # ... and their own coaching patterns (the pages' coaching report, without the
    # team total); a report across everyone (the API's) names nobody: "other".
    (Role.MANAGER, Action.REPORT): frozenset({SELF}),
    # Until the roster (issue 14) says who reports to whom, a manager may open a
    # session or agreement with any rep (it makes the rep theirs); then: {REPORT}.
    (Role.MANAGER, Action.AGREE_WITH): ANYONE,
    # hr: reads everything and the reports; writes nothing. (Pseudonymised by
    # default comes with issue 14's people registry.)
    (Role.HR, Action.READ): ANYONE,
    (Role.HR, Action.REPORT): ANYONE,
    (Role.HR, Action.ACCESS_LOG): ANYONE,
    # admin: what hr reads, plus access.
    (Role.ADMIN, Action.READ): ANYONE,
    (Role.ADMIN, Action.REPORT): ANYONE,
    (Role.ADMIN, Action.ACCESS_LOG): ANYONE,
    (Role.ADMIN, Action.ACCESS): ANYONE,
}

_WHAT = {
    Action.READ: "read about {who}",
    Action.REPORT: "read reports across people",
    Action.RECORD: "record on the commitments of {who}",
    Action.REPLY: "reply on the commitments of {who}",
    Action.AGREE_AS: "record sessions or agreements with {who} as manager",
    Action.AGREE_WITH: "record sessions or agreements with {who} as rep",
    Action.ACCESS: "grant, revoke or list access",
    Action.ACCESS_LOG: "read the access log",
}


def allowed(role: Role, action: Action, relation: Relation) -> bool:
    return relation in POLICY.get((role, action), frozenset())


class Unauthenticated(LedgerError):
    """No identity, or one that is not (or no longer) granted. HTTP 401."""

    exit_code = 4


class Forbidden(LedgerError):
    """A known caller asking for something their role does not allow. HTTP 403."""

    exit_code = 4


@dataclass(frozen=True)
class Caller:
    """The authenticated person and the role granted to them."""

    name: str
    role: Role


def reports_of(rm: ReadModel, manager: str) -> frozenset[str]:
    """Who reports to ``manager``: THE place the roster will answer from (issue 14).

    Today: every rep of a commitment or session naming them as manager,
    whatever its dates (recorded up to now, any business date)."""
    from projections.query import Moment

    everything = Moment(datetime.now(UTC), MAX_DATE)
    return frozenset(rm.reps(everything, manager=manager))


@dataclass
class Scope:
    """A caller's scope; ``reports`` is asked (once) only when a rule needs it."""

    caller: Caller
    reports: Callable[[], frozenset[str]]
    _reports: frozenset[str] | None = field(default=None, repr=False)

    def relation(self, person: str | None, *, manager: str | None = None) -> Relation:
        """``person``'s relation to the caller; ``manager``: the manager named on the
        commitment or session in hand (naming the caller makes its rep a report)."""
        if person is None:
            return OTHER
        if person == self.caller.name:
            return SELF
        if manager is not None and manager == self.caller.name:
            return REPORT
        if self.caller.role is Role.MANAGER and person in self._reports_now():
            return REPORT
        return OTHER

    def may(self, action: Action, person: str | None = None, *, manager: str | None = None) -> bool:
        granted = POLICY.get((self.caller.role, action), frozenset())
        if not granted:
            return False
        if granted == ANYONE:
            return True
        return self.relation(person, manager=manager) in granted

    def require(
        self,
        action: Action,
        person: str | None = None,
        *,
        manager: str | None = None,
        hidden: NotFound | None = None,
    ) -> None:
        """Refuse unless allowed: ``hidden`` (a not-found error) when the caller may
        not even read about the person (ids they may not know exist), else 403."""
        if self.may(action, person, manager=manager):
            return
        if hidden is not None and not self.may(Action.READ, person, manager=manager):
            raise hidden
        role = self.caller.role.value
        what = _WHAT[action].format(who=repr(person) if person is not None else "anyone")
        raise Forbidden(f"{role} {self.caller.name!r} may not {what}")

    def _reports_now(self) -> frozenset[str]:
        if self._reports is None:
            self._reports = self.reports()
        return self._reports
