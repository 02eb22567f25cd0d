"""A subject-access export (GDPR Art. 15, SPEC §7.4 ``people export``):
everything the ledger holds about one person, decrypted, and nothing about
anyone else.

**Which events.** An event is *about* the person when it names them, and its
entry says how (``as``):

* ``subject``: one of their own ``Person`` events (registered, roster
  changes, renames);
* ``rep`` / ``manager``: a coaching session naming them, every event of a
  commitment whose agreement names them, every event of their workload
  (the rep's), their activity rows (``rep``), and another person's roster
  entry naming them as that person's ``manager``;
* ``actor``: any event they recorded;
* ``by``: a reply they wrote.

Every other event is left out.

**Whose text.** Free text is opened only when it is the person's own, as
SPEC §7.4 assigns it (and seals it): a session's note and a rep-owned
commitment's texts are the rep's, a manager-owned commitment's texts the
manager's, a reply the replier's. A text of someone else's in an event about
the person (the manager's own commitment that supports the rep's, a
manager's reply, a session note in the manager's export) is ``[withheld]``,
and the entry's ``withheld`` names the field and its owner's pseudonym, so
the person knows it exists and whom to ask.

**Other people** appear as pseudonyms, ``p-<first 8 hex of their subject
id>``: in person fields (``rep``, ``manager``, ``actor``, ``by``), as the
stream of their own ``Person`` events, as the name in them, and wherever a
clear value equals another person's name (a team named after its manager).
The person's own references stay as stored (their subject id); their name
is in ``person``.

The key store must hold the person's key: for an erased person (or a lost
key store) nothing about them can be read, and :class:`PersonErased` says so.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid5

from .audit import records
from .errors import PersonErased
from .formats.jsonl import Record, chain
from .keys import WITHHELD_TEXT, KeyStore, erased_name, is_sealed, pseudonym, sealed_subject
from .sealing import FREE_TEXT_BY_TOPIC, as_subject
from .streams import NAMESPACE
from .topics import (
    ACTIVITY_CHUNK,
    AGREED,
    COMMITMENT_PREFIX,
    ERASED,
    PERSON_TOPICS,
    REGISTERED,
    RENAMED,
    REPLIED,
    ROSTER_CHANGED,
    WORKLOAD_PREFIX,
    WORKLOAD_STARTED,
)
from .topics import HELD as SESSION

FORMAT = "commitments-subject-access/1"
NOTE = (
    "everything this ledger holds about one person (GDPR Art. 15): their registry "
    "entry and every event naming them, their own text opened; other people appear "
    "as p-<8 hex of their subject id>, other people's text as [withheld]"
)

PERSON_FIELDS = ("rep", "manager", "actor", "by")
"""Fields naming a person (by subject id; a legacy store: by name)."""
NAME_FIELDS = frozenset({"name"})
ROLES = ("subject", "rep", "manager", "actor", "by")


def legacy_pseudonym(name: str) -> str:
    """The pseudonym of a person named in clear by a store from before the
    registry: that of the id the read model derives from the name
    (``projections.people.legacy_subject``)."""
    return pseudonym(uuid5(NAMESPACE, "legacy-person:" + name))


def person_pseudonym(ref: str) -> str:
    """The pseudonym of a person reference (a subject id or a legacy name)."""
    subject = as_subject(ref)
    return pseudonym(subject) if subject is not None else legacy_pseudonym(ref)


class _Streams:
    """Who each commitment and workload stream is about, from its first event."""

    def __init__(self) -> None:
        self.commitments: dict[str, tuple[str | None, str | None, str]] = {}
        self.workloads: dict[str, str | None] = {}

    def see(self, r: Record) -> None:
        if r.type == AGREED:
            self.commitments[r.stream] = (
                r.data.get("rep"),
                r.data.get("manager"),
                str(r.data.get("owner") or "rep"),
            )
        elif r.type == WORKLOAD_STARTED:
            self.workloads[r.stream] = r.data.get("rep")

    def people_of(self, r: Record) -> dict[str, Any]:
        """The person fields that apply to ``r``: its own, plus its stream's."""
        out: dict[str, Any] = {f: r.data.get(f) for f in PERSON_FIELDS if f in r.data}
        if r.type.startswith(COMMITMENT_PREFIX) and r.stream in self.commitments:
            rep, manager, _ = self.commitments[r.stream]
            out.setdefault("rep", rep)
            out.setdefault("manager", manager)
        elif r.type.startswith(WORKLOAD_PREFIX) and r.stream in self.workloads:
            out.setdefault("rep", self.workloads[r.stream])
        return out

    def text_owner(self, r: Record) -> Any:
        """Whose free text ``r`` holds (SPEC §7.4; :func:`ledger.sealing.owner_of`)."""
        if r.type == REPLIED:
            return r.data.get("by")
        if r.type == SESSION:
            return r.data.get("rep")
        if r.type.startswith(COMMITMENT_PREFIX) and r.stream in self.commitments:
            rep, manager, owner = self.commitments[r.stream]
            return manager if owner == "manager" else rep
        return None


def roles_of(r: Record, refs: set[str], streams: _Streams) -> list[str]:
    """How ``r`` is about the person known by ``refs`` (empty: it is not)."""
    roles: set[str] = set()
    if r.type in PERSON_TOPICS and r.stream in refs:
        roles.add("subject")
    for field, value in streams.people_of(r).items():
        if isinstance(value, str) and value in refs:
            roles.add(field)
    if r.type == ACTIVITY_CHUNK and any(_rep_of(row) in refs for row in r.data.get("rows", ())):
        roles.add("rep")  # one of the chunk's rows is the person's (issue 19)
    return [role for role in ROLES if role in roles]


def _rep_of(row: Any) -> Any:
    """The rep of one row of an ``ActivityChunk.Recorded`` (``[rep, date, value, source id]``)."""
    return row[0] if isinstance(row, list) and row else None


class _Shower:
    """Turns one stored event about the person into what the export shows."""

    def __init__(self, store: KeyStore, refs: set[str], subject: UUID | None) -> None:
        self.store = store
        self.refs = refs
        self.subject = subject
        self.other_names: dict[str, str] = {}  # casefolded name -> pseudonym ("": own)
        self._pattern: re.Pattern[str] | None = None

    def others(self, r: Record) -> None:
        """Remember another person's name (opened), to pseudonymise it anywhere."""
        if r.stream in self.refs or r.type not in (REGISTERED, RENAMED):
            return
        sealed = r.data.get("name")
        if isinstance(sealed, str) and is_sealed(sealed):
            subject = sealed_subject(sealed)
            if self.store.key(subject) is not None:
                self.other_names[self.store.open_text(sealed).casefold()] = pseudonym(subject)

    def show(self, r: Record, owner: Any) -> tuple[str, dict[str, Any], dict[str, str | None]]:
        withheld: dict[str, str | None] = {}
        free = FREE_TEXT_BY_TOPIC.get(r.type, ())
        own_person_event = r.type in PERSON_TOPICS and r.stream in self.refs
        data: dict[str, Any] = {}
        for key, value in r.data.items():
            if key in PERSON_FIELDS and isinstance(value, str):
                data[key] = value if value in self.refs else person_pseudonym(value)
            elif isinstance(value, str) and is_sealed(value):
                data[key] = self._sealed(key, value, withheld)
            elif key in free and isinstance(value, str):
                if isinstance(owner, str) and owner in self.refs:
                    data[key] = value  # the person's own text, stored in clear (legacy)
                else:
                    data[key] = WITHHELD_TEXT
                    withheld[key] = person_pseudonym(owner) if isinstance(owner, str) else None
            elif r.type == ERASED and key == "reason" and not own_person_event:
                data[key] = WITHHELD_TEXT  # an erasure's reason concerns the erased person
                withheld[key] = person_pseudonym(r.stream)
            else:
                data[key] = self.clear(value)
        if r.type == ACTIVITY_CHUNK and isinstance(data.get("rows"), list):
            data["rows"] = self._chunk_rows(r)
        stream = r.stream
        if r.type in PERSON_TOPICS and not own_person_event:
            stream = person_pseudonym(r.stream)  # another person's own stream id
        return stream, data, withheld

    def _chunk_rows(self, r: Record) -> list[Any]:
        """A chunk's rows as the export shows them: the person recorded the
        chunk (``actor``): every row, each other rep as a pseudonym, as their
        per-row events would show; otherwise only the person's own rows (the
        other rows are about other people, not about them)."""
        rows = [row for row in r.data["rows"] if isinstance(row, list) and row]
        if r.data.get("actor") in self.refs:
            return [
                [row[0] if _rep_of(row) in self.refs else person_pseudonym(str(row[0])), *row[1:]]
                for row in rows
            ]
        return [row for row in rows if _rep_of(row) in self.refs]

    def _sealed(self, key: str, value: str, withheld: dict[str, str | None]) -> str:
        subject = sealed_subject(value)
        if subject == self.subject:
            return self.store.open_text(value)
        if key in NAME_FIELDS:
            return pseudonym(subject)  # another person's name
        withheld[key] = pseudonym(subject)
        return WITHHELD_TEXT

    def clear(self, value: Any) -> Any:
        """``value`` with every other person's name in it (whole words, any
        letter case) as their pseudonym: a team named after its manager, a
        note of the person's own that names someone."""
        if isinstance(value, str):
            whole = self.other_names.get(value.casefold())
            if whole:
                return whole
            if self._pattern is None:
                return value
            return self._pattern.sub(self._replace, value)
        if isinstance(value, list):
            return [self.clear(v) for v in value]
        if isinstance(value, dict):
            return {k: self.clear(v) for k, v in value.items()}
        return value

    def compile(self, own_names: list[str]) -> None:
        """Prepare :meth:`clear` to find other people's names inside text. The
        person's own names are matched too (longest first) and left as they
        are, so another person called "Anna" does not eat "Anna Snelling"."""
        own = {n.casefold() for n in own_names if isinstance(n, str) and n.strip()}
        for name in own:
            self.other_names.setdefault(name, "")
        names = sorted((n for n in self.other_names if n.strip()), key=len, reverse=True)
        if names:
            alternation = "|".join(re.escape(n) for n in names)
            self._pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)

    def _replace(self, m: re.Match[str]) -> str:
        return self.other_names.get(m[0].casefold()) or m[0]


def subject_access(
    ledger: Any, store: KeyStore, subject: UUID | None, *, legacy_name: str | None = None
) -> dict[str, Any]:
    """Everything held about the person ``subject`` (a registered person),
    also named ``legacy_name`` in events a store from before the registry
    wrote in clear (their current name: a legacy person registered since),
    or only ``legacy_name`` (a legacy person, ``subject`` None).

    :class:`PersonErased` if their key is destroyed (or the key store lost):
    nothing about them can be read any more."""
    refs = {str(subject)} if subject is not None else set()
    if legacy_name is not None:
        refs.add(legacy_name)
    if not refs:
        raise ValueError("subject_access: give a subject id or a legacy name")
    if subject is not None and store.key(subject) is None:
        raise PersonErased(
            f"{erased_name(subject)}: their key is destroyed, so nothing "
            "held about them can be read; there is nothing to export and nothing was written"
        )
    streams = _Streams()
    shower = _Shower(store, refs, subject)
    person = _Person(store, subject, legacy_name)
    entries: list[dict[str, Any]] = []
    head = 0
    for r, _body, digest in chain(records(ledger)):
        head = r.position
        streams.see(r)
        shower.others(r)
        roles = roles_of(r, refs, streams)
        if not roles:
            continue
        if "subject" in roles:
            person.see(r)
        stream, data, withheld = shower.show(r, streams.text_owner(r))
        entry: dict[str, Any] = {
            "position": r.position,
            "stream": stream,
            "version": r.version,
            "type": r.type,
            "recorded_at": r.recorded_at,
            "as": roles,
            "data": data,
            "withheld": withheld,
            "hash": digest,
        }
        entries.append(entry)
    # other people's names, wherever they are in a value (once all are known)
    own_names = [n["name"] for n in person.names] + ([legacy_name] if legacy_name else [])
    shower.compile(own_names)
    for entry in entries:
        own_name_event = "subject" in entry["as"]
        entry["data"] = {
            k: v if k in PERSON_FIELDS or (own_name_event and k in NAME_FIELDS) else shower.clear(v)
            for k, v in entry["data"].items()
        }
    person.pseudonymise(shower)
    counts: dict[str, int] = {}
    for entry in entries:
        short = entry["type"].split(":", 1)[-1]
        counts[short] = counts.get(short, 0) + 1
    lid = ledger.ledger_id()
    return {
        "format": FORMAT,
        "note": NOTE,
        "ledger_id": None if lid is None else str(lid),
        "head": head,
        "person": person.as_json(),
        "counts": dict(sorted(counts.items())),
        "events": entries,
    }


class _Person:
    """The person's registry entry, from their own ``Person`` events."""

    def __init__(self, store: KeyStore, subject: UUID | None, legacy_name: str | None) -> None:
        self.store = store
        self.subject = subject
        self.legacy_name = legacy_name
        self.names: list[dict[str, Any]] = []
        self.roster: list[dict[str, Any]] = []
        self.listed = False

    def see(self, r: Record) -> None:
        if r.type in (REGISTERED, RENAMED):
            sealed = r.data.get("name")
            name = self.store.open_text(sealed) if isinstance(sealed, str) else sealed
            self.names.append({"name": name, "recorded_at": r.recorded_at, "position": r.position})
        if r.type == REGISTERED:
            self.listed = bool(r.data.get("listed"))
        if r.type in (REGISTERED, ROSTER_CHANGED):
            manager = r.data.get("manager")
            self.roster.append(
                {
                    "effective": r.data.get("effective"),
                    "manager": None if manager is None else person_pseudonym(str(manager)),
                    "team": r.data.get("team"),
                    "region": r.data.get("region"),
                    "recorded_at": r.recorded_at,
                    "position": r.position,
                }
            )

    def pseudonymise(self, shower: _Shower) -> None:
        for row in self.roster:
            row["team"] = shower.clear(row["team"])
            row["region"] = shower.clear(row["region"])

    def as_json(self) -> dict[str, Any]:
        now = self.roster[-1] if self.roster else {}
        name = self.names[-1]["name"] if self.names else self.legacy_name
        return {
            "name": name,
            "subject": None if self.subject is None else str(self.subject),
            "pseudonym": (
                pseudonym(self.subject)
                if self.subject is not None
                else legacy_pseudonym(str(self.legacy_name))
            ),
            "legacy": self.subject is None,
            "listed": self.listed,
            "manager": now.get("manager"),
            "team": now.get("team"),
            "region": now.get("region"),
            "names": self.names,
            "roster": self.roster,
        }


def access_section(
    subject: str, grants: list[dict[str, Any]], log: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the server's access store holds about the person ``subject``:
    their grants (role, when, by whom; never the token's hash) and the access
    log entries that are theirs (``who``) or about them (``subjects``), which
    say who read or wrote their data. Other people as pseudonyms."""

    def shown(ref: Any) -> Any:
        if not isinstance(ref, str) or ref == subject:
            return ref
        return person_pseudonym(ref) if as_subject(ref) is not None else ref

    mine = [
        {
            "role": g["role"],
            "granted_at": g["granted_at"],
            "granted_by": shown(g["granted_by"]),
            "revoked_at": g["revoked_at"],
            "revoked_by": shown(g["revoked_by"]),
        }
        for g in grants
        if g["subject"] == subject
    ]
    entries = [
        {**e, "who": shown(e["who"]), "subjects": [shown(s) for s in e["subjects"]]}
        for e in log
        if e["who"] == subject or subject in e["subjects"]
    ]
    return {"grants": mine, "log": entries}
