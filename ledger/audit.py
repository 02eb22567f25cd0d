"""Export, verify and import the ledger as a hash-chained JSON Lines stream (SPEC §5).

One line per event, in ledger order::

    {"position": 7, "data": {...}, "prev": "<64 hex>", "recorded_at": "...Z",
     "stream": "<uuid>", "type": "ledger.domain:Commitment.Closed", "version": 3,
     "hash": "<64 hex>"}

``hash`` is the SHA-256 of the canonical JSON (keys sorted, separators ``,`` and
``:``, UTF-8, no ASCII escaping) of ``{"stream", "version", "type",
"recorded_at", "data", "prev"}``; ``prev`` is the previous line's hash (64
zeros first). ``position`` is not hashed. Lines are written as that canonical
body with ``position`` in front and ``hash`` at the end, so writing a line
costs one JSON encoding.

Everything here streams: pages of notifications out, batches of lines in, so
memory stays flat on a ledger of millions of events. An import is one
transaction (batches inside it): all of it is written, or none.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import IO, Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import AggregateCreated
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.utils import get_topic
from pydantic import ValidationError

from .commands import in_our_words
from .domain import EVENT_CLASSES, Activity, LedgerIdentity
from .errors import Conflict, DigestMismatch, IntegrityFailure, InvalidInput, NotFound
from .import_rules import Replayer
from .keys import MAX_SEALED, is_sealed
from .persistence import build_event, canonical, canonical_parsed, upcast
from .schemas import ENVELOPE_FIELDS, aggregate_topic
from .store import is_locked
from .values import MAX_TEXT, TEXT_CONTROL

ZERO_HASH = "0" * 64
PAGE = 2000
BATCH = 1000
HASHED_KEYS = ("stream", "version", "type", "recorded_at", "data", "prev")
_LINE_KEYS = frozenset((*HASHED_KEYS, "hash"))
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RECORDED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

_LEDGER_CREATED = get_topic(LedgerIdentity.LedgerCreated)
_decoder = json.JSONDecoder()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Record(NamedTuple):
    """One stored event as the export sees it: plain values, no domain objects."""

    position: int
    stream: str
    version: int
    type: str
    recorded_at: str
    data: dict[str, Any]

    def body(self, prev: str) -> str:
        """The canonical JSON of the hashed object."""
        return canonical(
            {
                "data": self.data,
                "prev": prev,
                "recorded_at": self.recorded_at,
                "stream": self.stream,
                "type": self.type,
                "version": self.version,
            }
        )


def line_of(position: int, body: str, digest: str) -> str:
    """An export line: the canonical body with ``position`` first and ``hash`` last."""
    return f'{{"position":{position},{body[1:-1]},"hash":"{digest}"}}'


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


def chain(items: Iterable[Record], prev: str = ZERO_HASH) -> Iterator[tuple[Record, str, str]]:
    """Hash-chain records: yields (record, canonical body, hash)."""
    for record in items:
        body = record.body(prev)
        prev = sha256_hex(body)
        yield record, body, prev


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
    get_topic(cls) for cls in (Activity.Recorded, LedgerIdentity.LedgerCreated)
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
    ) -> None:
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


def stored_bodies(
    ledger: Any, *, after: int = 0, prev: str = ZERO_HASH
) -> Iterator[tuple[int, bytes, str]]:
    """The chain over the stored bytes: (position, hashed body as UTF-8, its hash in
    hex) of every stored event after position ``after``, in ledger order; ``prev``
    is the hash of the event at ``after``.

    Each row is checked as :func:`verify` checks it (canonical bytes and stream
    id, known topic, versions that follow on; from ``after`` > 0 a stream's
    first event seen may be at any version) and the body is spliced from the
    stored text: the one reading of the store behind ``verify``, ``checkpoint``
    and the read model's tree. The first row that fails raises
    :class:`IntegrityFailure` (exit 4) naming its position.
    """
    checker = _Checker(ledger.recorder.canonical_stream, default_event_types(), partway=after > 0)
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
        if not _HEX64.fullmatch(digest):
            raise InvalidInput("--digest: give the 64 hex digits printed by 'commitments verify'")
    count, head, seen_at = 0, ZERO_HASH, 0
    for _position, _body, head in stored_bodies(ledger):
        count += 1
        if head == digest:
            seen_at = count
        if progress is not None and count % 10000 == 0:
            progress(10000)

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


@dataclass(slots=True)
class ParsedLine:
    """One checked export line, with its event validated into its class."""

    number: int
    position: int | None
    stream: UUID
    version: int
    type: str
    recorded_at: str
    data: dict[str, Any]
    event: Any
    body: str  # the canonical hashed body; its "data" value is the canonical data
    key: tuple[UUID, int] = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.stream, self.version)

    def state(self) -> bytes:
        """The stored state: the canonical JSON (UTF-8) of the data plus the
        timestamp, as every writer stores it (SPEC §7.2)."""
        return canonical({**self.data, "timestamp": self.recorded_at}).encode()

    def identity(self) -> str:
        """Canonical JSON of (type, recorded_at, data): equal content, equal text."""
        return canonical([self.type, self.recorded_at, self.data])


def default_event_types() -> dict[str, type]:
    """The event types an import accepts: the domain's, by stored topic."""
    return {get_topic(cls): cls for cls in EVENT_CLASSES}


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
    from .analysis import analysis_kind

    kind = analysis_kind(raw)
    if kind is not None:
        raise InvalidInput(
            f"line {number}: this is an analysis copy ({kind}), not an export: "
            "import refuses it (import the plain 'commitments export' instead); "
            "nothing was imported"
        )


def parse_line(
    number: int,
    raw: str | bytes,
    prev: str | None,
    types: Mapping[str, type],
    *,
    check_chain: bool = True,
) -> tuple[ParsedLine, str]:
    """Check one export line and validate its event; returns it and its hash.

    ``prev`` is the previous line's hash (None for the first line: any
    ``prev`` is accepted there, so a ``--since`` export can be read alone).
    """
    where = f"line {number}"
    check_size(where, raw)
    try:
        obj = json.loads(raw)  # bytes: UTF-8 (a BOM is allowed), UTF-16 or UTF-32
    except ValueError as exc:  # UnicodeDecodeError included
        raise InvalidInput(f"{where}: not JSON in UTF-8 ({_short(exc)})") from None
    if not isinstance(obj, dict):
        raise InvalidInput(f"{where}: not a JSON object")
    if not obj.keys() >= _LINE_KEYS:
        missing = [k for k in (*HASHED_KEYS, "hash") if k not in obj]
        raise InvalidInput(f"{where}: missing {', '.join(missing)}")
    stream, version, topic = obj["stream"], obj["version"], obj["type"]
    recorded_at, data, digest = obj["recorded_at"], obj["data"], obj["hash"]
    if not isinstance(stream, str) or not _UUID.fullmatch(stream):
        raise InvalidInput(f"{where}: stream is not a lower-case UUID with dashes")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidInput(f"{where}: version is not a whole number of 1 or more")
    if not isinstance(recorded_at, str) or not _RECORDED_AT.fullmatch(recorded_at):
        raise InvalidInput(f"{where}: recorded_at is not an ISO 8601 UTC time ending in Z")
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: data is not a JSON object")
    for name in ("prev", "hash"):
        if not isinstance(obj[name], str) or not _HEX64.fullmatch(obj[name]):
            raise InvalidInput(f"{where}: {name} is not 64 lower-case hex digits")

    # The chain, before anything else about the event.
    if check_chain and prev is not None and obj["prev"] != prev:
        raise IntegrityFailure(
            f"{where}: broken hash chain: prev does not match the hash of the line before"
        )
    body = canonical({k: obj[k] for k in HASHED_KEYS})
    try:
        encoded = body.encode("utf-8")
    except UnicodeEncodeError:  # a "\ud800" escape: JSON allows it, UTF-8 does not
        raise InvalidInput(f"{where}: a string holds a lone surrogate (invalid Unicode)") from None
    if check_chain and hashlib.sha256(encoded).hexdigest() != digest:
        raise IntegrityFailure(
            f"{where}: broken hash chain: hash does not match the line's content"
        )

    cls = types.get(topic) if isinstance(topic, str) else None
    if cls is None:
        raise InvalidInput(f"{where}: unknown event type {topic!r}")
    _check_data(where, cls, version, data)
    _check_strings(where, data)
    state = dict(data)
    state["timestamp"] = recorded_at
    stream_id = UUID(stream)
    try:
        event = build_event(topic, stream_id, version, state)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "data"
        raise InvalidInput(f"{where}: {topic}: {loc}: {in_our_words(first)}") from None
    except Exception as exc:  # an upcaster refusing an impossible old state
        raise InvalidInput(f"{where}: {topic}: {exc}") from None
    position = obj.get("position")
    if not isinstance(position, int) or isinstance(position, bool):
        position = None
    line = ParsedLine(number, position, stream_id, version, topic, recorded_at, data, event, body)
    return line, digest


#: The largest import line (bytes) and the deepest nesting an import accepts
#: (SPEC §7.2): an export line is a few hundred bytes, nested three levels.
MAX_LINE = 16 * 1024 * 1024
MAX_DEPTH = 64
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def limited_lines(stream: IO[bytes], limit: int = MAX_LINE) -> Iterator[bytes]:
    """The lines of a binary stream; a line longer than ``limit`` bytes is
    refused (:class:`InvalidInput`, exit 2, naming it) after reading at most
    ``limit + 1`` bytes of it, so memory stays flat whatever the file holds."""
    number = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            raise InvalidInput(f"line {number}: longer than {limit // (1024 * 1024)} MiB")
        yield line


def check_size(where: str, raw: str | bytes) -> None:
    """Refuse (exit 2) a line over :data:`MAX_LINE` bytes or nested deeper than
    :data:`MAX_DEPTH` levels, before parsing it (Python's parser recurses)."""
    if len(raw) > MAX_LINE // 4:
        size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "replace"))
        if size > MAX_LINE:
            raise InvalidInput(f"{where}: longer than {MAX_LINE // (1024 * 1024)} MiB")
    if isinstance(raw, bytes):
        data, opening = raw, raw.count(b"[") + raw.count(b"{")
    else:
        data, opening = b"", raw.count("[") + raw.count("{")
    if opening <= MAX_DEPTH:  # every export line
        return
    data = data or raw.encode("utf-8", "replace")  # type: ignore[union-attr]
    depth = 0
    for mark in _BRACKET.finditer(_STRING.sub(b"", data)):
        if mark.group() in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidInput(f"{where}: nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


@dataclass(frozen=True)
class _Shape:
    """What an import checks of one event class, worked out once."""

    created: bool
    allowed: frozenset[str]
    current: int
    outer: str
    flags: frozenset[str] = frozenset()  # fields typed bool (or bool | None)

    @staticmethod
    def of(cls: type) -> _Shape:
        found = _SHAPES.get(cls)
        if found is None:
            names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
            found = _SHAPES[cls] = _Shape(
                created=issubclass(cls, AggregateCreated),
                allowed=frozenset((names | {"class_version"}) - set(ENVELOPE_FIELDS)),
                current=getattr(cls, "class_version", 1),
                outer=aggregate_topic(cls),
                flags=frozenset(
                    f.name
                    for f in fields(cls)  # type: ignore[arg-type]
                    if str(f.type).replace(" ", "") in ("bool", "bool|None")
                ),
            )
        return found


_SHAPES: dict[type, _Shape] = {}


def _check_strings(where: str, data: Any, path: str = "data") -> None:
    """What the commands refuse, an import refuses too: a hash chain is easy to
    recompute, so an edited export must not bring in text no command accepts
    (control characters other than tab and newline, or more than MAX_TEXT
    characters in one field)."""
    if isinstance(data, str):
        if len(data) > (MAX_SEALED if is_sealed(data) else MAX_TEXT):
            raise InvalidInput(f"{where}: {path} is longer than {MAX_TEXT} characters")
        if TEXT_CONTROL.search(data):
            raise InvalidInput(f"{where}: {path} holds control characters")
    elif isinstance(data, dict):
        for key, value in data.items():
            _check_strings(where, value, f"{path}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _check_strings(where, value, f"{path}[{i}]")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def _check_data(where: str, cls: type, version: int, data: dict[str, Any]) -> None:
    shape = _Shape.of(cls)
    if shape.created != (version == 1):
        kind = "creates a stream" if shape.created else "cannot start a stream"
        raise IntegrityFailure(f"{where}: {get_topic(cls)} {kind}, but its version is {version}")
    class_version = data.get("class_version", 1)
    current = shape.current
    if not isinstance(class_version, int) or not 1 <= class_version <= current:
        raise InvalidInput(f"{where}: class_version {class_version!r} is not 1..{current}")
    names = data.keys()
    if class_version < current:
        try:
            names = upcast(cls, dict(data)).keys()  # an older version's fields become today's
        except Exception as exc:
            raise InvalidInput(f"{where}: {get_topic(cls)}: cannot upcast: {exc}") from None
    if not shape.allowed.issuperset(names):
        extra = sorted(set(names) - shape.allowed)
        raise InvalidInput(f"{where}: unexpected field(s) in data: {', '.join(extra)}")
    if shape.created and data.get("originator_topic") != shape.outer:
        raise InvalidInput(f"{where}: originator_topic must be {shape.outer!r}")
    for name in shape.flags & data.keys():
        # a flag is JSON true or false (or null), never "yes" or 1: the model would
        # read those as true, but the stored text would not be what a command writes
        if data[name] is not None and not isinstance(data[name], bool):
            raise InvalidInput(f"{where}: {name} must be true or false")


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
        self.recorder.insert_stored(curs, events)

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
