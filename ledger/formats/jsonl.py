"""The export line (SPEC §5): one event of a hash-chained JSON Lines stream.

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

Here: writing a line (:class:`Record`, :func:`line_of`, :func:`chain`) and
reading one (:func:`parse_line`: checked and validated into its event class,
each line refused the way the commands refuse its content). Reading the store
and writing an import are :mod:`ledger.audit`'s.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import IO, Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import AggregateCreated
from eventsourcing.utils import get_topic
from pydantic import ValidationError

from ..commands import in_our_words
from ..domain import EVENT_CLASSES
from ..errors import IntegrityFailure, InvalidInput
from ..keys import MAX_SEALED, is_sealed
from ..persistence import build_event, canonical, upcast
from ..values import MAX_TEXT, TEXT_CONTROL
from .schemas import ENVELOPE_FIELDS, aggregate_topic

ZERO_HASH = "0" * 64
HASHED_KEYS = ("stream", "version", "type", "recorded_at", "data", "prev")
_LINE_KEYS = frozenset((*HASHED_KEYS, "hash"))
HEX64 = re.compile(r"[0-9a-f]{64}")
_RECORDED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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


def chain(items: Iterable[Record], prev: str = ZERO_HASH) -> Iterator[tuple[Record, str, str]]:
    """Hash-chain records: yields (record, canonical body, hash)."""
    for record in items:
        body = record.body(prev)
        prev = sha256_hex(body)
        yield record, body, prev


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
        if not isinstance(obj[name], str) or not HEX64.fullmatch(obj[name]):
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


# -- the first line of an analysis copy (``export --decrypt``/``--pseudonymise``) --

ANALYSIS_KEY = "analysis_copy"


def header(kind: str) -> str:
    """The first line of an analysis copy."""
    return canonical(
        {
            ANALYSIS_KEY: kind,
            "note": "an analysis copy, not an export: its data is not what the ledger "
            "stores and its hashes do not verify; commitments import refuses it",
        }
    )


def analysis_kind(raw: str | bytes) -> str | None:
    """The kind of analysis copy ``raw`` (a first line) announces, or None."""
    if ANALYSIS_KEY.encode() not in (raw if isinstance(raw, bytes) else raw.encode()):
        return None
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    if isinstance(obj, dict) and ANALYSIS_KEY in obj:
        return str(obj[ANALYSIS_KEY])
    return None
