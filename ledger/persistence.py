"""How events become stored records (where they are stored: :mod:`ledger.store`).

Stored state is plain JSON: pydantic dumps each event dataclass in JSON mode
(dates as ``YYYY-MM-DD``, timestamps as ISO 8601 UTC, ids as strings), so the
export format, the projections and third-party tools read it without any
eventsourcing-specific encoding. Decoding validates the state with the same
pydantic adapter, after any upcasting (``class_version``).
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import TypeAdapter

#: The canonical JSON of SPEC §5 (keys sorted, separators ``,`` and ``:``, no
#: ASCII escaping): every state is stored as its UTF-8 bytes, so the hash chain
#: covers the stored bytes themselves (``verify`` checks it, SPEC §7.2).
CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(obj: Any) -> str:
    """The canonical JSON text of ``obj``."""
    return CANONICAL.encode(obj)


# The C encoder behind CANONICAL, built once with CANONICAL's own settings and
# no cycle check: ``JSONEncoder.encode`` builds one on every call, a quarter of
# its cost on an event's state (measured for verify, bench/README.md).
_PARSED = (
    c_make_encoder(
        None, CANONICAL.default, encode_basestring, None, CANONICAL.key_separator,
        CANONICAL.item_separator, True, False, True,
    )
    if c_make_encoder is not None
    else None
)  # fmt: skip


def canonical_parsed(obj: Any) -> str:
    """:func:`canonical` of a value ``json`` has just parsed (it cannot hold a
    cycle, so the cycle check is skipped): the same text, faster."""
    if _PARSED is None or isinstance(obj, str):
        return CANONICAL.encode(obj)
    return "".join(_PARSED(obj, 0))


class PlainJSONTranscoder(Transcoder):
    """Canonical UTF-8 JSON, nothing else: the state is already plain."""

    def encode(self, obj: Any) -> bytes:
        # a state is a JSON-mode dump (or built like one): it cannot hold a cycle
        return canonical_parsed(obj).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        return json.loads(data)


def adapter(cls: Any) -> TypeAdapter[Any]:
    """The pydantic adapter of one event class (built once, on first use)."""
    found = _ADAPTERS.get(cls)
    if found is None:
        found = _ADAPTERS[cls] = TypeAdapter(cls)
    return found


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def event_state(event: Any) -> dict[str, Any]:
    """An event's stored state: JSON-mode dump without id and version."""
    cls = type(event)
    state: dict[str, Any] = adapter(cls).dump_python(event, mode="json")
    del state["originator_id"], state["originator_version"]
    class_version = getattr(cls, "class_version", 1)
    if class_version > 1:
        state["class_version"] = class_version
    return state


def upcast(cls: type, state: dict[str, Any]) -> dict[str, Any]:
    """Bring an older event state up to the class's current version."""
    class_version = getattr(cls, "class_version", 1)
    from_version = state.pop("class_version", 1)
    while from_version < class_version:
        getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
        from_version += 1
    return state


def build_event(topic: str, originator_id: Any, version: int, state: dict[str, Any]) -> Any:
    """Validate a stored state into its event object."""
    cls = resolve_topic(topic)
    state = upcast(cls, dict(state))
    state["originator_id"] = originator_id
    state["originator_version"] = version
    return adapter(cls).validate_python(state)


class PydanticMapper(Mapper):
    """eventsourcing mapper that stores events as plain, pydantic-validated JSON."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        state = self.transcoder.encode(event_state(domain_event))
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        return build_event(
            stored_event.topic,
            stored_event.originator_id,
            stored_event.originator_version,
            self.transcoder.decode(state),
        )
