"""Export, verify and import the ledger as a hash-chained JSON Lines stream (SPEC §5).

The line format (what a line holds, how it is hashed and checked) is
:mod:`ledger.formats.jsonl`'s; here the store is read into lines and lines
are written into the store.

Everything here streams: pages of notifications out, batches of lines in, so
memory stays flat on a ledger of millions of events. An import is one
transaction (batches inside it): all of it is written, or none.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.utils import get_topic

from .domain import Activity, ActivityChunk, LedgerIdentity
from .errors import Conflict, DigestMismatch, IntegrityFailure, InvalidInput, NotFound
from .formats.jsonl import (
    HEX64,
    ZERO_HASH,
    ParsedLine,
    Record,
    analysis_kind,
    chain,
    default_event_types,
    line_of,
    parse_line,
)
from .import_rules import Replayer
from .persistence import canonical, canonical_parsed
from .store import is_locked
from .store.recorder import keys_of_chunk
from .topics import ACTIVITY, ACTIVITY_CHUNK

PAGE = 2000
BATCH = 1000

_LEDGER_CREATED = get_topic(LedgerIdentity.LedgerCreated)
_decoder = json.JSONDecoder()


# -- reading the store -----------------------------------------------------


def records(ledger: Any, *, after: int = 0, page: int = PAGE) -> Iterator[Record]:
    """Every stored event after notification ``after``, in ledger order, page by page.

    Stops at the head as it was when iteration began, so the result is a
    consistent prefix even while others write.
    """
    recorder = ledger.recorder
    head = recorder.max_notification_id() or 0
    position = after
    while position < head:
        try:
            notifications = recorder.select_notifications(
                start=position, limit=page, stop=head, inclusive_of_start=False
            )
        except Exception as exc:
            # an originator id that is not a UUID (ValueError), or, on SQLite, a
            # TEXT column holding bytes that are not UTF-8 ("Could not decode")
            if not isinstance(exc, ValueError) and "decode" not in str(exc):
                raise
            raise IntegrityFailure(
                f"a stored event after position {position} cannot be read: {exc}"
            ) from None
        if not notifications:
            break
        for n in notifications:
            try:
                state = _decoder.decode(n.state.decode("utf-8"))
                recorded_at = state.pop("timestamp")
            except (ValueError, KeyError, AttributeError, TypeError):
                raise IntegrityFailure(
                    f"stored event at position {n.id} is not a JSON object with a timestamp"
                ) from None
            yield Record(
                position=n.id,
                stream=str(n.originator_id),
                version=n.originator_version,
                type=n.topic,
                recorded_at=recorded_at,
                data=state,
            )
        position = notifications[-1].id


def export_lines(ledger: Any, *, since: int = 0) -> Iterator[str]:
    """The export, one line (without newline) per event after position ``since``.

    With ``since`` the chain continues: the first line's ``prev`` is the hash
    of the event at ``since``, so the output appends to an earlier export.
    """
    if since < 0:
        raise InvalidInput(f"--since {since}: a position is 0 or more")
    prev = ZERO_HASH
    if since:
        prev = _hash_at(ledger, since)
    for record, body, digest in chain(records(ledger, after=since), prev):
        yield line_of(record.position, body, digest)


def _hash_at(ledger: Any, position: int) -> str:
    found = None
    for record, _body, digest in chain(records(ledger)):
        if record.position == position:
            found = digest
            break
        if record.position > position:
            break
    if found is None:
        raise NotFound(f"--since {position}: no event at that position in the ledger")
    return found


# -- verify: the chain over the stored bytes ------------------------------------

UPGRADE = (
    "this ledger was written by a release before the chain covered the stored bytes; "
    "upgrade it: 'commitments export -o ledger.jsonl', then "
    "'commitments --db NEW import ledger.jsonl' into a new ledger "
    "(import writes canonical bytes and keeps every hash)"
)
_ONCE_ONLY = frozenset(
    get_topic(cls)
    for cls in (Activity.Recorded, ActivityChunk.Recorded, LedgerIdentity.LedgerCreated)
)  # streams that never get a version 2: not remembered (memory stays flat)


def stored_rows(
    ledger: Any, *, after: int = 0, page: int = PAGE
) -> Iterator[tuple[int, str, int, str, bytes]]:
    """Every stored row after position ``after`` as the store holds it, in ledger
    order: (position, stream id as stored, version, topic, state bytes), page by
    page, up to the head as it was when iteration began."""
    return ledger.recorder.stored_rows(after=after, page=page)  # type: ignore[no-any-return]


class _Checker:
    """Checks each stored row for verify: canonical stream id and bytes, known
    topic, versions that follow on; yields the canonical hashed body."""

    def __init__(
        self,
        stream_of: Callable[[Any], str | None],
        types: Mapping[str, type],
        *,
        partway: bool = False,
        keys: _KeyDigest | None = None,
    ) -> None:
        self.keys = keys  # fed the activity keys of each checked event
        self.stream_of = stream_of  # a stored stream id as a UUID with dashes (None: not canonical)
        self.types = types
        self.last: dict[str, int] = {}
        self.topics: dict[str, str] = {}
        # Read from partway along: a stream's first event seen may be at any version.
        self.partway = partway

    def body(self, row: tuple[int, str, int, str, Any], prev: str) -> str:
        position, sid, version, topic, state = row
        where = f"stored event at position {position}"
        stream = self.stream_of(sid)
        if stream is None:
            raise IntegrityFailure(
                f"{where}: stream id {sid!r} is not in canonical form (32 lower-case hex "
                "digits): edited behind the ledger's back"
            )
        if topic not in self.types:
            raise IntegrityFailure(f"{where}: unknown event type {topic!r}")
        have = self.last.get(stream, 0)
        if version != have + 1 and not (self.partway and have == 0):
            what = "a duplicate of" if version <= have else "a gap after"
            raise IntegrityFailure(
                f"{where}: stream {stream} version {version} is {what} its version {have}"
            )
        if topic not in _ONCE_ONLY:
            self.last[stream] = version
        text = obj = None
        try:
            text = state.decode("utf-8") if isinstance(state, bytes) else None
            # raw_decode: without decode's whitespace handling, which a canonical
            # text never needs; anything else takes the full decode below.
            obj, end = _decoder.raw_decode(text) if text is not None else (None, 0)
            if text is not None and end != len(text):
                raise ValueError("not one JSON value alone")
        except ValueError:
            try:  # not UTF-8, or leading whitespace (parseable, not canonical)
                obj = _decoder.decode(text) if text is not None else None
            except ValueError:
                text = obj = None
        if not isinstance(obj, dict) or not isinstance(obj.get("timestamp"), str):
            raise IntegrityFailure(f"{where}: not a JSON object in UTF-8 with a timestamp")
        if canonical_parsed(obj) != text:
            if next(iter(obj)) == "timestamp" and _old_format(obj) == text:
                raise IntegrityFailure(f"{where}: not in canonical JSON: {UPGRADE}")
            raise IntegrityFailure(
                f"{where}: the stored bytes are not the canonical JSON of their content "
                "(duplicate keys, other key order or spacing, or another encoding): "
                "edited behind the ledger's back"
            )
        if self.keys is not None:
            self.keys.add_event(position, sid, version, topic, obj)
        recorded_at = obj.pop("timestamp")
        # The text is canonical, so the hashed body is spliced from it rather than
        # encoded again: the data is the text without its timestamp member.
        member = '"timestamp":' + encode_basestring(recorded_at)
        if text.count(member) == 1:
            if text.startswith("{" + member):
                data = "{" + text[len(member) + 2 :] if len(text) > len(member) + 2 else "{}"
            else:
                data = text.replace("," + member, "", 1)
            topic_json = self.topics.get(topic) or self.topics.setdefault(topic, canonical(topic))
            return (
                f'{{"data":{data},"prev":"{prev}","recorded_at":{member[12:]},'
                f'"stream":"{stream}","type":{topic_json},"version":{version}}}'
            )
        return Record(position, stream, version, topic, recorded_at, obj).body(prev)


def _old_format(obj: dict[str, Any]) -> str:
    """How releases before 2 stored a state: compact JSON, keys in field order,
    the timestamp first. ``obj`` is in the order its text had."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class _KeyDigest:
    """An order-free digest of a multiset of activity keys (row id, position):
    their count and the sum of their SHA-256 values modulo 2**256. Constant
    memory, so ``verify`` compares the key table with the events at any size."""

    def __init__(self) -> None:
        self.count, self.total = 0, 0

    def add(self, key: str, position: int) -> None:
        self.count += 1
        value = int.from_bytes(hashlib.sha256(f"{key}:{position}".encode()).digest(), "big")
        self.total = (self.total + value) % (1 << 256)

    def add_event(self, position: int, sid: Any, version: int, topic: str, obj: Any) -> None:
        """The keys the event stored at ``position`` (its state parsed: ``obj``)
        must have in the table: none unless it holds activity."""
        if topic == ACTIVITY and version == 1:
            self.add(str(sid).replace("-", ""), position)  # hex text, a UUID or its text
        elif topic == ACTIVITY_CHUNK:
            try:
                keys = keys_of_chunk(obj)
            except (KeyError, IndexError, TypeError, AttributeError):
                raise IntegrityFailure(
                    f"stored event at position {position}: an activity chunk whose rows are "
                    "not [rep, date, value, source id]: edited behind the ledger's back"
                ) from None
            for key in keys:
                self.add(key, position)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _KeyDigest) and (self.count, self.total) == (
            other.count,
            other.total,
        )

    __hash__ = None  # type: ignore[assignment]


def _check_activity_keys(ledger: Any, expected: _KeyDigest, upto: int) -> None:
    """The store's activity key table (issue 19) must hold exactly the keys of
    the activity events up to position ``upto``: a key added, removed or moved
    would make a later import skip a row as already present, or refuse one."""
    stored = ledger.recorder.stored_activity_keys(upto)
    if stored is None:  # a ledger from before the table: its next write fills it
        return
    found = _KeyDigest()
    for key, position in stored:
        found.add(key, position)
    if found != expected:
        other = " (other ones)" if found.count == expected.count else ""
        raise IntegrityFailure(
            f"the activity key table does not match the activity events: {expected.count} "
            f"keys for the rows stored up to position {upto}, the table holds "
            f"{found.count}{other}: edited behind the ledger's back (an import would skip "
            "or refuse rows by it)"
        )


def stored_bodies(
    ledger: Any,
    *,
    after: int = 0,
    prev: str = ZERO_HASH,
    keys: _KeyDigest | None = None,
) -> Iterator[tuple[int, bytes, str]]:
    """The chain over the stored bytes: (position, hashed body as UTF-8, its hash in
    hex) of every stored event after position ``after``, in ledger order; ``prev``
    is the hash of the event at ``after``.

    Each row is checked as :func:`verify` checks it (canonical bytes and stream
    id, known topic, versions that follow on; from ``after`` > 0 a stream's
    first event seen may be at any version) and the body is spliced from the
    stored text: the one reading of the store behind ``verify``, ``checkpoint``
    and the read model's tree. The first row that fails raises
    :class:`IntegrityFailure` (exit 4) naming its position. ``keys``, if given,
    is fed the activity keys each checked row must have in the key table.
    """
    checker = _Checker(
        ledger.recorder.canonical_stream, default_event_types(), partway=after > 0, keys=keys
    )
    body_of, sha256 = checker.body, hashlib.sha256
    for row in stored_rows(ledger, after=after):
        body = body_of(row, prev).encode("utf-8")
        prev = sha256(body).hexdigest()
        yield row[0], body, prev


def verify(
    ledger: Any, digest: str | None = None, *, progress: Callable[[int], Any] | None = None
) -> tuple[int, str]:
    """Recompute the chain over the whole store, from the stored bytes: (event
    count, head hash).

    Every stored event must be canonical (SPEC §7.2): its state the canonical
    JSON of its content in UTF-8, its stream id in canonical form, its topic a
    known event type, its version the one after its stream's last; the first
    that is not raises :class:`IntegrityFailure` (exit 4) naming its position
    (a ledger from before release 2 gets the message how to upgrade). With
    ``digest``, raise :class:`DigestMismatch` (exit 4) unless the head is it.
    ``progress(n)`` is called every 10000 events.
    """
    if digest is not None:
        digest = digest.strip().lower()
        if not HEX64.fullmatch(digest):
            raise InvalidInput("--digest: give the 64 hex digits printed by 'commitments verify'")
    count, head, seen_at, last = 0, ZERO_HASH, 0, 0
    keys = _KeyDigest()
    for position, _body, head in stored_bodies(ledger, keys=keys):
        count, last = count + 1, position
        if head == digest:
            seen_at = count
        if progress is not None and count % 10000 == 0:
            progress(10000)

    _check_activity_keys(ledger, keys, last)
    if digest is not None and head != digest:
        if seen_at:
            why = (
                f"the digest is the hash of event {seen_at}: those events are intact "
                f"and {count - seen_at} were appended since"
            )
        else:
            why = "events were edited, inserted, deleted or truncated since it was taken"
        raise DigestMismatch(
            f"the ledger does not match the digest: {count} events, head {head}; {why}"
        )
    return count, head


# -- import ----------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import did: lines read, events appended, events already present."""

    read: int = 0
    imported: int = 0
    present: int = 0


def import_lines(
    ledger: Any,
    lines: Iterable[str | bytes],
    *,
    event_types: Mapping[str, type] | None = None,
    batch: int = BATCH,
    actor: str = "import",
    register: Sequence[Any] = (),
) -> ImportSummary:
    """Append an export's events to the ledger, all or nothing.

    Each line is checked as it is read, and the first bad line refuses the
    whole file: not JSON or not an export line, an unknown type, data its
    event class does not validate → :class:`InvalidInput` (exit 2); a broken
    hash chain, or a stream whose versions would not follow on →
    :class:`IntegrityFailure` (exit 4). Events already stored with identical
    content are skipped; one whose stream and version exist with other
    content is a :class:`Conflict` (exit 5), reported once the whole file has
    been checked. The inserts happen in batches inside one transaction, which
    is rolled back on any refusal.

    The ledger id travels with the file: its ``LedgerCreated`` line gives a
    ledger without an id that id; a ledger that has one keeps it (the line
    counts as already present: importing another ledger's export merges its
    events in). A ledger that still has no id once the file is in gets a new
    one, recorded now by ``actor``, if anything was imported (``register``:
    the actor as a person to register with it, if named for the first time).
    """
    types = dict(event_types) if event_types is not None else default_event_types()
    store = _Store(ledger)
    summary = ImportSummary()
    conflict: str | None = None
    prev: str | None = None
    try:
        with store.transaction() as curs:
            rules = Replayer(
                lambda stream: store.events_of(curs, stream, ledger.mapper),
                ledger.clock(),
                lambda: store.latest_recorded_at(curs),
            )
            pending: list[ParsedLine] = []
            for number, raw in enumerate(lines, start=1):
                if not raw.strip():
                    continue
                if prev is None:
                    refuse_analysis_copy(number, raw)
                line, prev = parse_line(number, raw, prev, types)
                summary.read += 1
                if conflict is None:
                    pending.append(line)
                    if len(pending) >= batch:
                        conflict = _apply(store, curs, pending, summary, rules)
                        pending = []
            if pending and conflict is None:
                conflict = _apply(store, curs, pending, summary, rules)
            if conflict is not None:
                raise Conflict(conflict)
            rules.finish()
            if summary.imported:
                store.ensure_ledger_id(curs, ledger, actor, register)
    except IntegrityError as exc:
        raise Conflict(f"import: another writer stored one of these events first ({exc})") from None
    except OperationalError as exc:
        if is_locked(exc):
            raise Conflict(
                "the ledger is locked by another writer; nothing was imported, run the import again"
            ) from None
        raise
    return summary


def refuse_analysis_copy(number: int, raw: str | bytes) -> None:
    """An analysis copy (``export --decrypt``/``--pseudonymise``) is not an
    export: its data is not what was stored. Refused (exit 2) at its first line."""
    kind = analysis_kind(raw)
    if kind is not None:
        raise InvalidInput(
            f"line {number}: this is an analysis copy ({kind}), not an export: "
            "import refuses it (import the plain 'commitments export' instead); "
            "nothing was imported"
        )


def _latest(texts: Iterable[Any]) -> datetime | None:
    """The latest of stored ``timestamp`` texts (None if there are none)."""
    found = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in texts if t]
    return max(found) if found else None


def _apply(
    store: _Store, curs: Any, lines: list[ParsedLine], summary: ImportSummary, rules: Replayer
) -> str | None:
    """Insert one batch; returns a conflict message instead of inserting, if any.

    Each new event goes through ``rules`` (:mod:`ledger.import_rules`) first:
    the aggregate's own state rules, its versions and the time rules."""
    keys = {line.key for line in lines}
    wanted = keys | {(s, v - 1) for s, v in keys if v > 1 and (s, v - 1) not in keys}
    stored = store.lookup(curs, wanted)
    fresh: list[ParsedLine] = []
    seen: dict[tuple[UUID, int], ParsedLine] = {}
    for line in lines:
        existing: str | None = None
        if line.key in stored:
            existing = store.identity_of(*stored[line.key])
        elif line.key in seen:
            existing = seen[line.key].identity()
        if existing is not None:
            if existing != line.identity() and line.type != _LEDGER_CREATED:
                return (
                    f"line {line.number}: stream {line.stream} version {line.version} "
                    "is already in the ledger with other content; nothing was imported"
                )
            summary.present += 1
            continue
        before = (line.stream, line.version - 1)
        if line.version > 1 and before not in stored and before not in seen:
            raise IntegrityFailure(
                f"line {line.number}: stream {line.stream} version {line.version} follows "
                f"no version {line.version - 1}, neither in the ledger nor earlier in the file"
            )
        rules.check(line.number, line.event)
        seen[line.key] = line
        fresh.append(line)
    if fresh:
        events = [
            StoredEvent(
                originator_id=line.stream,
                originator_version=line.version,
                topic=line.type,
                state=line.state(),
            )
            for line in fresh
        ]
        store.insert(curs, events)
        summary.imported += len(events)
    rules.trim()
    return None


class _Store:
    """The few recorder operations an import needs (:mod:`ledger.store`)."""

    def __init__(self, ledger: Any) -> None:
        self.recorder = ledger.recorder
        self.datastore = self.recorder.datastore

    def transaction(self) -> Any:
        return self.datastore.transaction(commit=True)

    def identity_of(self, topic: str, state: bytes) -> str:
        data = json.loads(state)
        recorded_at = data.pop("timestamp", None)
        return canonical([topic, recorded_at, data])

    def lookup(
        self, curs: Any, keys: set[tuple[UUID, int]]
    ) -> dict[tuple[UUID, int], tuple[str, bytes]]:
        """(topic, state) of each of ``keys`` already stored (same transaction)."""
        found: dict[tuple[UUID, int], tuple[str, bytes]] = self.recorder.lookup(curs, keys)
        return found

    def insert(self, curs: Any, events: list[StoredEvent]) -> None:
        """Insert the events and their activity keys: an activity row stored
        already, in another event (per-row or a chunk), is refused."""
        try:
            self.recorder.insert_stored(curs, events)
        except self.recorder.DUPLICATE:
            raise IntegrityFailure(
                "an activity row in this file is already in the ledger (the same metric "
                "and source id, in another event): it is recorded once; nothing was imported"
            ) from None

    def events_of(self, curs: Any, stream: UUID, mapper: Any) -> list[Any]:
        """The domain events of ``stream`` stored so far (this transaction's included)."""
        return [mapper.to_domain_event(e) for e in self.recorder.events_of(curs, stream)]

    def latest_recorded_at(self, curs: Any) -> datetime | None:
        """The latest ``recorded_at`` in the ledger (its ``LedgerCreated`` left out)."""
        return _latest(self.recorder.latest_timestamps(curs, _LEDGER_CREATED))

    def ensure_ledger_id(
        self, curs: Any, ledger: Any, actor: str, register: Sequence[Any] = ()
    ) -> None:
        """Give a ledger that has no id yet its ``LedgerCreated``, in this
        transaction (with ``register``: the actor, a person named for the first time)."""
        from .identity import created_stored, stored_ledger_id

        if stored_ledger_id(self.recorder, curs) is None:
            at = ledger.clock()
            to_stored = ledger.mapper.to_stored_event
            people = [
                to_stored(e) for p in ledger._registered(register, at, actor)
                for e in p.collect_events()
            ]  # fmt: skip
            self.insert(curs, [created_stored(ledger.mapper, at, actor), *people])
