"""Who may do what through the server (SPEC §7.5): ONE table, role × action ×
relation of the person concerned to the caller, used by every endpoint.

Relations:

* ``self``       the person is the caller;
* ``report``     the person reports to the caller: in the roster (the people
  registry, ``people add``/``people import``), or as the rep of a commitment
  or session naming the caller as manager (:func:`reports_of`);
* ``unassigned`` a person the roster gives no manager (not registered, or
  registered without one): a manager may open a session or agreement with
  them (it makes them theirs), never with another manager's report;
* ``other``      anyone else (also: no person in particular, as for a report
  across everyone).

Scope follows the roster as it is recorded NOW (the read model's ``people``
table), whatever ``?on=``/``?as_of=`` a page asks for: a manager who lost a
rep yesterday no longer reads them, even on a page dated last month. The
manager named on a commitment keeps it in their scope for good (SPEC §7.5).

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
    PEOPLE = "people"
    """The people registry: the roster page, rename and erase."""


class Relation(StrEnum):
    SELF = "self"
    REPORT = "report"
    UNASSIGNED = "unassigned"
    OTHER = "other"


SELF, REPORT, OTHER = Relation.SELF, Relation.REPORT, Relation.OTHER
UNASSIGNED = Relation.UNASSIGNED
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
    # A manager opens sessions and agreements with their reports, and with people
    # the roster gives no manager (that makes them theirs); never with another
    # manager's report.
    (Role.MANAGER, Action.AGREE_WITH): frozenset({REPORT, UNASSIGNED}),
    # hr: reads everything and the reports, pseudonymised unless they ask for
    # names (PSEUDONYMISED_BY_DEFAULT); writes nothing.
    (Role.HR, Action.READ): ANYONE,
    (Role.HR, Action.REPORT): ANYONE,
    (Role.HR, Action.ACCESS_LOG): ANYONE,
    # admin: what hr reads, plus access.
    (Role.ADMIN, Action.READ): ANYONE,
    (Role.ADMIN, Action.REPORT): ANYONE,
    (Role.ADMIN, Action.ACCESS_LOG): ANYONE,
    (Role.ADMIN, Action.ACCESS): ANYONE,
    # ... and the people registry: the roster, rename, erase.
    (Role.ADMIN, Action.PEOPLE): ANYONE,
}

PSEUDONYMISED_BY_DEFAULT = frozenset({Role.HR})
"""Roles whose reads show people as ``p-<8 hex>`` and free text ``[withheld]``
unless the request asks for names (``?names=1``, recorded in the access log)."""

_WHAT = {
    Action.READ: "read about {who}",
    Action.REPORT: "read reports across people",
    Action.RECORD: "record on the commitments of {who}",
    Action.REPLY: "reply on the commitments of {who}",
    Action.AGREE_AS: "record sessions or agreements with {who} as manager",
    Action.AGREE_WITH: "record sessions or agreements with {who} as rep",
    Action.ACCESS: "grant, revoke or list access",
    Action.ACCESS_LOG: "read the access log",
    Action.PEOPLE: "manage the people registry",
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
    """The authenticated person (their current name, from the people registry)
    and the role granted to them; ``subject``: their subject id (what grants
    and the access log hold)."""

    name: str
    role: Role
    subject: str = ""

    def pseudonymised(self, names: bool) -> bool:
        """Whether this caller's reads show pseudonyms (hr, unless ``names``)."""
        return self.role in PSEUDONYMISED_BY_DEFAULT and not names


def reports_of(rm: ReadModel, manager: str) -> frozenset[str]:
    """Who reports to ``manager`` (a name): THE place scope asks.

    The roster as recorded now (the ``people`` table: everyone whose manager
    is ``manager``, registered or a legacy manager's name; erased people show
    as ``erased:<8 hex>`` and stay in scope), plus every rep of a commitment
    or session naming them as manager, whatever its dates."""
    from projections.query import Moment

    everything = Moment(datetime.now(UTC), MAX_DATE)
    named = set(rm.reps(everything, manager=manager))
    if _has_people(rm):
        rows = rm.conn.execute(
            "SELECT p.name FROM people p LEFT JOIN people m ON m.subject = p.manager "
            "WHERE m.name = ? OR (m.subject IS NULL AND p.manager = ?)",
            (manager, manager),
        ).fetchall()
        named.update(r[0] for r in rows)
    return frozenset(named)


def assigned_in_roster(rm: ReadModel) -> frozenset[str]:
    """The names of people the roster gives a manager (now)."""
    if not _has_people(rm):
        return frozenset()
    rows = rm.conn.execute("SELECT name FROM people WHERE manager IS NOT NULL").fetchall()
    return frozenset(r[0] for r in rows)


def _has_people(rm: ReadModel) -> bool:
    return (
        rm.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'people'"
        ).fetchone()
        is not None
    )


@dataclass
class Scope:
    """A caller's scope; ``reports`` is asked (once) only when a rule needs it."""

    caller: Caller
    reports: Callable[[], frozenset[str]]
    assigned: Callable[[], frozenset[str]] = frozenset
    """Names the roster gives a manager (asked only for ``unassigned``)."""
    _reports: frozenset[str] | None = field(default=None, repr=False)
    _assigned: frozenset[str] | None = field(default=None, repr=False)

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
        if self.caller.role is Role.MANAGER and person not in self._assigned_now():
            return UNASSIGNED
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

    def _assigned_now(self) -> frozenset[str]:
        if self._assigned is None:
            self._assigned = self.assigned()
        return self._assigned


def scope_for(caller: Caller, rm: ReadModel) -> Scope:
    """``caller``'s scope over the read model ``rm`` (asked lazily), under the
    name ``rm`` gives their subject id (a rename takes effect at once)."""
    if caller.subject and _has_people(rm):
        row = rm.conn.execute(
            "SELECT name FROM people WHERE subject = ?", (caller.subject,)
        ).fetchone()
        if row is not None and row[0] != caller.name:
            caller = Caller(str(row[0]), caller.role, caller.subject)
    me = caller
    return Scope(me, lambda: reports_of(rm, me.name), lambda: assigned_in_roster(rm))
