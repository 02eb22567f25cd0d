"""People in the read model (SPEC §7.4): the ``people`` table, how catch-up
keeps it, and finding a person by name.

Events name people by subject id; a person's name is sealed in their own
``Person`` events. Catch-up opens each name with the person's key (the
ledger's key store) into the ``people`` table, and every other table stores
the *name* in its person columns (``rep``, ``manager``, ``actor``): a
subject id is looked up in ``people`` as its row is written. So every read
prints names exactly as before, and a rename (or an erasure) rewrites the
person's rows: the read model is derived, and a rebuild gives the same rows.

**Legacy persons.** A store written before release 3 holds names in clear in
its events. A person field that is not a subject id is such a *legacy name*:
its rows show it as it is, it is not a row of ``people`` (its id, where one
is shown, is derived from the name for the read model only,
:func:`legacy_subject`), and a command that names it again registers it, so
its new events carry a subject id while its old rows keep reading.

**Finding a person by name**: :class:`People` (one per command), whose
:meth:`People.ref` is the one function every front end resolves a person
with (``--rep``, ``--manager``, ``--by``, the actor, the server's caller).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid5

from ledger.errors import InvalidInput, NotFound
from ledger.people import NewPerson
from ledger.streams import NAMESPACE
from ledger.topics import ERASED, REGISTERED, RENAMED, ROSTER_CHANGED
from ledger.topics import PERSON_TOPICS as TOPICS  # noqa: F401  (sqlpages imports it here)

from .stamps import normalize_timestamp

#: Person events that rewrite the rows already in the read model (a rename, an
#: erasure): a catch-up page ends just before one, so the rows before it are
#: written first, whatever the page size (see :func:`cut_before`).
REWRITING: set[str] = {RENAMED, ERASED}

#: Every (table, column) of the read model that holds a person's name.
PERSON_COLUMNS: tuple[tuple[str, str], ...] = (
    ("sessions", "rep"),
    ("sessions", "manager"),
    ("sessions", "actor"),
    ("commitments", "rep"),
    ("commitments", "manager"),
    ("commitments", "actor"),
    ("revisions", "rep"),
    ("revisions", "actor"),
    ("check_ins", "rep"),
    ("check_ins", "actor"),
    ("corrections", "rep"),
    ("corrections", "actor"),
    ("closes", "rep"),
    ("closes", "actor"),
    ("releases", "rep"),
    ("releases", "actor"),
    ("replies", "rep"),
    ("replies", "by"),
    ("replies", "actor"),
    ("supports", "rep"),
    ("supports", "manager"),
    ("activity_daily", "rep"),
)


def legacy_subject(name: str) -> str:
    """The id a legacy person (a name written in clear by release 1 or 2)
    shows in the read model: derived from the name, held nowhere else."""
    return str(uuid5(NAMESPACE, "legacy-person:" + name))


def is_subject_text(ref: Any) -> bool:
    """Whether a stored person reference is a subject id (hyphenated UUID text)."""
    if not isinstance(ref, str) or len(ref) != 36:
        return False
    try:
        return str(UUID(ref)) == ref
    except ValueError:
        return False


Opener = Callable[[str], str]
"""Opens a sealed value with its subject's key (``KeyStore.open_text``)."""


def apply_person_events(
    conn: sqlite3.Connection, events: Iterable[Sequence[Any]], open_text: Opener
) -> bool:
    """Apply ``(position, originator_id, topic, state)`` of ``Person`` events,
    in ledger order, to the ``people`` table; a rename rewrites the person's
    rows in every table. Returns whether any name changed (caches of names
    must then be dropped)."""
    renamed = False
    for pos, originator_id, topic, state in events:
        s = json.loads(state) if isinstance(state, str | bytes) else state
        subject = _hyphenated(originator_id)
        at = s["timestamp"]
        if topic == REGISTERED:
            name = _open(open_text, s["name"], subject)
            conn.execute(
                "INSERT INTO people (subject, name, manager, team, region, effective, listed, "
                "erased, recorded_at, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (subject) DO NOTHING",
                (
                    subject,
                    name,
                    s["manager"],
                    s["team"],
                    s["region"],
                    s["effective"],
                    int(bool(s["listed"])),
                    int(name == _erased(subject)),  # the key is gone: unreadable, erased
                    _stamp(at),
                    pos,
                ),
            )
        elif topic == ROSTER_CHANGED:
            conn.execute(
                "UPDATE people SET manager = ?, team = ?, region = ?, effective = ?, "
                "recorded_at = ? WHERE subject = ?",
                (s["manager"], s["team"], s["region"], s["effective"], _stamp(at), subject),
            )
        elif topic == RENAMED:
            row = conn.execute("SELECT name FROM people WHERE subject = ?", (subject,)).fetchone()
            new = _open(open_text, s["name"], subject)
            conn.execute(
                "UPDATE people SET name = ?, recorded_at = ? WHERE subject = ?",
                (new, _stamp(at), subject),
            )
            if row is not None and row[0] != new:
                rename_in_rows(conn, row[0], new)
                renamed = True
        elif topic == ERASED:
            # the key is destroyed: the name becomes erased:<8 hex> everywhere;
            # the free text opened with the key goes when the read model sees
            # the key store changed and rebuilds (projections.sealed)
            row = conn.execute("SELECT name FROM people WHERE subject = ?", (subject,)).fetchone()
            new = _erased(subject)
            conn.execute(
                "UPDATE people SET name = ?, erased = 1, recorded_at = ? WHERE subject = ?",
                (new, _stamp(at), subject),
            )
            if row is not None and row[0] != new:
                rename_in_rows(conn, row[0], new)
                renamed = True
    return renamed


def _erased(subject: str) -> str:
    """``erased:<first 8 hex>``, as :func:`ledger.keys.erased_name` writes it."""
    return "erased:" + subject.replace("-", "")[:8]


def cut_before(topics: Sequence[str]) -> int | None:
    """Where a page of events (their topics, in order) must end: the index of
    its first rewriting person event that is not its first event, or None."""
    for i, topic in enumerate(topics):
        if i and topic in REWRITING:
            return i
    return None


def rename_in_rows(conn: sqlite3.Connection, old: str, new: str) -> None:
    """Show ``new`` wherever the read model shows the person ``old`` (a rename;
    an erasure passes ``erased:<8 hex>``)."""
    for table, column in PERSON_COLUMNS:
        conn.execute(f"UPDATE [{table}] SET [{column}] = ? WHERE [{column}] = ?", (new, old))


def _open(open_text: Opener, value: str, subject: str) -> str:
    """A sealed name opened; ``erased:<8 hex>`` when the key is gone."""
    from ledger.keys import ERASED_TEXT, is_sealed

    try:
        name = open_text(value)
        return _erased(subject) if name == ERASED_TEXT and is_sealed(value) else name
    except Exception as exc:  # a sealed name that does not open: say so, never guess
        from ledger.errors import IntegrityFailure

        raise IntegrityFailure(f"a person's sealed name does not open: {exc}") from None


def _stamp(at: str) -> str:
    return at if len(at) == 27 else normalize_timestamp(at)


def _hyphenated(value: Any) -> str:
    if isinstance(value, str) and len(value) == 32:
        return str(UUID(value))
    return str(value)


# -- reading ------------------------------------------------------------------


@dataclass(frozen=True)
class PersonRow:
    """One person as ``people list``/``people show`` print them."""

    name: str
    subject: str
    manager: str | None
    team: str | None
    region: str | None
    erased: bool
    legacy: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "subject": self.subject,
            "manager": self.manager,
            "team": self.team,
            "region": self.region,
            "erased": self.erased,
        }


def _legacy_names(conn: sqlite3.Connection) -> set[str]:
    """Names written in clear by an older release (reps, managers): those the
    tables show that no ``people`` row has."""
    sql = (
        "SELECT rep FROM commitments UNION SELECT manager FROM commitments "
        "UNION SELECT rep FROM sessions UNION SELECT manager FROM sessions "
        "UNION SELECT rep FROM activity_daily"
    )
    registered = {r[0] for r in conn.execute("SELECT name FROM people")}
    return {r[0] for r in conn.execute(sql) if r[0] is not None} - registered


def roster(conn: sqlite3.Connection) -> list[PersonRow]:
    """Everyone the read model knows, by name: the registered people (each with
    their manager's name and their team: the registered one, else their
    manager's name), then the legacy persons of an older store."""
    names = dict(conn.execute("SELECT subject, name FROM people").fetchall())
    out = []
    for r in conn.execute(
        "SELECT subject, name, manager, team, region, erased FROM people ORDER BY name, position"
    ).fetchall():
        manager = None if r[2] is None else names.get(r[2], r[2])
        out.append(PersonRow(r[1], r[0], manager, r[3] or manager, r[4], bool(r[5])))
    for name in sorted(_legacy_names(conn)):
        out.append(PersonRow(name, legacy_subject(name), None, None, None, False, legacy=True))
    out.sort(key=lambda p: p.name)
    return out


def known_names(conn: sqlite3.Connection) -> list[str]:
    """Every name a command may use without ``--new-person`` (registered, not
    erased, and legacy)."""
    rows = conn.execute("SELECT name FROM people WHERE erased = 0").fetchall()
    return sorted({r[0] for r in rows} | _legacy_names(conn))


def strict(conn: sqlite3.Connection) -> bool:
    """True once ``people add`` or ``people import`` has been used: a command
    naming an unregistered person is then refused unless ``--new-person``."""
    return conn.execute("SELECT 1 FROM people WHERE listed = 1 LIMIT 1").fetchone() is not None


def find(conn: sqlite3.Connection, name: str) -> str | None:
    """The subject id of the registered, not erased, person called ``name``
    (the first registered, should a race have registered two), or None."""
    row = conn.execute(
        "SELECT subject FROM people WHERE name = ? AND erased = 0 ORDER BY position LIMIT 1",
        (name,),
    ).fetchone()
    return None if row is None else str(row[0])


def check_name(name: str, what: str = "name") -> str:
    """A person's name as commands take it: trimmed, 1-100 characters, on one
    line (exit 2 otherwise), as every command checks it."""
    from ledger.text import name_problem
    from ledger.values import MAX_NAME

    text = name.strip()
    if not text:
        raise InvalidInput(f"{what}: must not be empty")
    if len(text) > MAX_NAME:
        raise InvalidInput(f"{what}: must have at most {MAX_NAME} characters")
    problem = name_problem(text)
    if problem:
        raise InvalidInput(f"{what}: {problem}")
    return text


@dataclass
class People:
    """Person resolution for one command, over a current read model: name ->
    the person reference its events carry. People named for the first time
    are collected in :attr:`pending`, to be registered by the command itself
    (``register=people.pending``), so a refused command registers nobody."""

    conn: sqlite3.Connection
    pending: list[NewPerson] = field(default_factory=list)
    _strict: bool | None = None
    _legacy: set[str] | None = None

    def ref(self, name: str, *, role: str = "person", new_person: bool = False) -> str:
        """The subject id (as events carry it) of the person called ``name``.

        A registered person: their subject id. A name nobody has yet: a new
        person (registered with the command), unless names are strict (after
        ``people add``/``people import``) and ``new_person`` is false: then
        :class:`NotFound` (exit 3) with the closest names. A legacy name (an
        older store's) is known: it is registered on its first new use."""
        name = check_name(name, f"--{role}" if role in ("rep", "manager", "by") else role)
        for p in self.pending:
            if p.name == name:
                return p.ref
        found = find(self.conn, name)
        if found is not None:
            return found
        if not new_person and self.is_strict() and name not in self.legacy():
            from .names import unknown_person_message

            message = unknown_person_message(role, name, known_names(self.conn))
            raise NotFound(
                f"{message} (names are strict since 'people add'/'people import': "
                "register them with 'people add', or pass --new-person)"
            )
        person = NewPerson.named(name)
        self.pending.append(person)
        return person.ref

    def actor(self, name: str) -> str:
        """The actor's reference: never refused for being new (the actor comes
        from ``--actor``/the OS user or the server's login, not a typed name)."""
        return self.ref(name, role="actor", new_person=True)

    def is_strict(self) -> bool:
        if self._strict is None:
            self._strict = strict(self.conn)
        return self._strict

    def legacy(self) -> set[str]:
        if self._legacy is None:
            self._legacy = _legacy_names(self.conn)
        return self._legacy

    def name_of(self, ref: str) -> str:
        """The name shown for a person reference."""
        for p in self.pending:
            if p.ref == ref:
                return p.name
        if not is_subject_text(ref):
            return ref
        row = self.conn.execute("SELECT name FROM people WHERE subject = ?", (ref,)).fetchone()
        return ref if row is None else str(row[0])


# -- the roster (``people add``, ``people import``) ---------------------------


@dataclass
class RosterPlan:
    """What a roster import records: people to register (listed), roster
    changes of registered people, and how many rows changed nothing."""

    new: list[NewPerson] = field(default_factory=list)
    changes: list[Any] = field(default_factory=list)  # ledger.people.RosterChange
    unchanged: int = 0


def plan_roster(
    conn: sqlite3.Connection,
    rows: Sequence[Any],
    effective: Any,
    *,
    change_effective: Any,
    strict_managers: bool = False,
) -> RosterPlan:
    """The events a roster (``ledger.people.RosterRow`` items) needs against
    the read model: a name nobody has is registered (listed, with its roster
    entry); a registered person whose manager, team or region differ gets a
    roster change effective ``change_effective`` (a new person's entry holds
    from ``effective``, None: from the start); a manager named but not a row is
    registered with no roster entry of their own. ``strict_managers``
    (``people add`` without ``--new-person`` once names are strict): an
    unregistered manager is refused (exit 3) with the closest names."""
    from dataclasses import replace

    from ledger.people import RosterChange

    plan = RosterPlan()
    refs: dict[str, str] = {}
    for name in [r.name for r in rows]:
        found = find(conn, name)
        if found is not None:
            refs[name] = found
    by_name = {r.name: r for r in rows}
    for row in rows:
        manager = row.manager
        if manager is not None and manager not in refs and manager not in by_name:
            found = find(conn, manager)
            if found is None:
                if strict_managers and strict(conn) and manager not in _legacy_names(conn):
                    from .names import unknown_person_message

                    raise NotFound(
                        unknown_person_message("manager", manager, known_names(conn))
                        + " (register them first, or pass --new-person)"
                    )
                person = NewPerson.named(manager, listed=True)
                plan.new.append(person)
                found = person.ref
            refs[manager] = found
    pending = {r.name: NewPerson.named(r.name, listed=True) for r in rows if r.name not in refs}
    for name, person in pending.items():
        refs[name] = person.ref
    for row in rows:
        manager_ref = None if row.manager is None else refs[row.manager]
        if row.name in pending:
            plan.new.append(
                replace(
                    pending[row.name],
                    manager=manager_ref,
                    team=row.team,
                    region=row.region,
                    effective=effective,
                )
            )
            continue
        now = conn.execute(
            "SELECT manager, team, region FROM people WHERE subject = ?", (refs[row.name],)
        ).fetchone()
        if now is not None and tuple(now) == (manager_ref, row.team, row.region):
            plan.unchanged += 1
            continue
        plan.changes.append(
            RosterChange(UUID(refs[row.name]), manager_ref, row.team, row.region, change_effective)
        )
    _refuse_manager_cycles(conn, plan, {ref: name for name, ref in refs.items()})
    return plan


def _refuse_manager_cycles(
    conn: sqlite3.Connection, plan: RosterPlan, names: dict[str, str]
) -> None:
    """Nobody manages themselves, not even through others: a roster whose
    entries, with the registry's, would close a chain of managers back on a
    person is refused (exit 2) naming the chain; nothing is written."""
    managers = {
        str(subject): manager
        for subject, manager in conn.execute("SELECT subject, manager FROM people")
    }
    touched = [p.ref for p in plan.new] + [str(c.subject) for c in plan.changes]
    managers.update({p.ref: p.manager for p in plan.new})
    managers.update({str(c.subject): c.manager for c in plan.changes})
    done: set[str] = set()  # people whose chain of managers is known to end
    for start in touched:
        chain: list[str] = []
        on_chain: set[str] = set()
        at: str | None = start
        while at is not None and at in managers and at not in done and at not in on_chain:
            chain.append(at)
            on_chain.add(at)
            at = managers[at]
        if at is None or at not in on_chain:
            done.update(chain)
            continue
        cycle = chain[chain.index(at) :]
        shown = " -> ".join(repr(_name_of(conn, names, r)) for r in [*cycle, cycle[0]])
        raise InvalidInput(
            f"the managers form a cycle: {shown}; nobody may manage themselves, "
            "even through others; nothing was written"
        )


def _name_of(conn: sqlite3.Connection, names: dict[str, str], ref: str) -> str:
    if ref in names:
        return names[ref]
    found = conn.execute("SELECT name FROM people WHERE subject = ?", (ref,)).fetchone()
    return ref if found is None else str(found[0])


def names_in(conn: sqlite3.Connection, *, team: str | None, region: str | None) -> set[str]:
    """The names of the people of ``team`` (their registered team, else their
    manager's name) and ``region`` as the roster stands now (``team --team T
    --region R``, ``report coaching --group-by``)."""
    return {
        r.name
        for r in roster(conn)
        if (team is None or r.team == team) and (region is None or r.region == region)
    }


def group_of(conn: sqlite3.Connection, by: str) -> dict[str, str | None]:
    """Each registered person's name -> their team or region (``by``) now."""
    return {r.name: (r.team if by == "team" else r.region) for r in roster(conn)}
