"""Upgrading an export written before the people registry (SPEC §7.4).

An export of release 1 or 2 names people in clear in every event (``rep``,
``manager``, ``actor``), keys each rep's workload stream by the rep's name,
and an activity row without a CRM id has a source id hashing the whole row,
the rep's name included. ``import --upgrade`` turns such a file into today's
shape before importing it (without the flag the file imports as it is, hash
for hash, its names read as legacy names):

* each distinct name becomes a registered person (a random subject id, the
  name sealed under a new key of theirs in the ledger's key store), with a
  ``Person.Registered`` event placed just before the first event naming them
  (same ``recorded_at``);
* every person field holds the subject id instead, each event at its class's
  current version;
* a workload stream id is derived from the rep's subject id; a source id
  ``sha256:...`` (a hash over a row that held the name) becomes
  ``sha256:`` + SHA-256 of the subject id and the old hash, and the activity's
  stream id follows from it;
* the hash chain is computed again over the new lines.

So the old file's hashes, digests and checkpoints no longer apply to what is
imported (the chain of the old file is verified first, line by line, as
``import`` always does). What this cannot do: shred names from the *old*
store or from copies of the old export; they hold the names in clear.
Re-importing a CSV that was imported before the upgrade without
``--id-column`` gives new source ids (they now hash the subject id), so its
rows would count twice: use ``--id-column``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from ..domain import (
    Activity,
    ActivityChunk,
    Person,
    RepWorkload,
    activity_id,
    is_subject,
    workload_id,
)
from ..keys import seal
from ..persistence import event_state
from .jsonl import ZERO_HASH, Record, default_event_types, line_of, parse_line, sha256_hex

PERSON_FIELDS = ("rep", "manager", "actor", "by")


def is_legacy(lines: list[Any]) -> bool:
    """Whether parsed export lines name people in clear (an export written
    before the registry): some person field holds something not a subject id."""
    for line in lines:
        for name in PERSON_FIELDS:
            value = line.data.get(name)
            if isinstance(value, str) and not is_subject(value):  # a name in clear
                return True
    return False


def maybe_upgrade(lines: Iterator[bytes], keys: Callable[[], Any]) -> Iterator[str | bytes]:
    """``lines`` of an export as ``import`` should read them: unchanged (and
    still streamed) when the first line naming a person names them by subject
    id; upgraded (:func:`upgrade_lines`, the whole file read first) when it
    names them in clear. ``keys()`` gives the key store, asked only then."""
    peeked: list[bytes] = []
    for raw in lines:
        peeked.append(raw)
        try:
            data = json.loads(raw).get("data")
        except (ValueError, AttributeError):
            break  # not an export line: import says why
        if not isinstance(data, dict):
            break
        values = [v for v in (data.get(f) for f in PERSON_FIELDS) if isinstance(v, str)]
        if not values:
            continue
        if all(is_subject(v) for v in values):
            break
        upgraded = upgrade_lines(itertools.chain(peeked, lines), keys())
        if upgraded is not None:
            return upgraded
        return iter(())  # pragma: no cover - a legacy line makes the file legacy
    return itertools.chain(peeked, lines)


def upgrade_lines(raw_lines: Iterable[str | bytes], keys: Any) -> Iterator[str] | None:
    """The lines of an export in today's shape, or None when the export
    already is (nothing to upgrade). ``keys``: the importing ledger's key
    store, which receives the new people's keys. Every old line is checked
    (JSON, chain, event validation) before anything is produced."""
    types = default_event_types()
    parsed = []
    prev: str | None = None
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        line, prev = parse_line(number, raw, prev, types)
        parsed.append(line)
    if not is_legacy(parsed):
        return None
    return _rewrite(parsed, keys)


def _rewrite(parsed: list[Any], keys: Any) -> Iterator[str]:
    subjects: dict[str, UUID] = {}
    streams: dict[UUID, UUID] = {}  # old workload / activity stream -> new
    out: list[tuple[str, int, str, str, dict[str, Any]]] = []

    def ref(name: str, recorded_at: str) -> str:
        if is_subject(name):
            return name
        subject = subjects.get(name)
        if subject is None:
            subject = subjects[name] = uuid4()
            at = datetime.fromisoformat(recorded_at.replace("Z", "+00:00")).astimezone(UTC)
            person = Person.register(
                at=at,
                subject=subject,
                name=seal(keys.ensure(subject), subject, name),
                manager=None,
                team=None,
                region=None,
                effective=None,
                listed=False,
                actor=str(subject),
            )
            (event,) = person.collect_events()
            out.append(_line_of(event))
        return str(subject)

    for line in parsed:
        event = line.event
        state = event_state(event)
        at = state.pop("timestamp")
        for name in PERSON_FIELDS:
            if isinstance(state.get(name), str):
                state[name] = ref(state[name], at)
        stream = line.stream
        if isinstance(event, RepWorkload.Started):
            streams[stream] = workload_id(state["rep"])
        elif isinstance(event, Activity.Recorded):
            sid = state["source_id"]
            if sid.startswith("sha256:"):
                digest = hashlib.sha256(f"{state['rep']}\x1f{sid}".encode()).hexdigest()
                state["source_id"] = "sha256:" + digest
            streams[stream] = activity_id(state["metric"], state["source_id"])
        elif isinstance(event, ActivityChunk.Recorded):  # each row as a per-row event's
            rows = []
            for rep, day, value, sid in state["rows"]:
                new_rep = ref(rep, at)
                if sid.startswith("sha256:"):
                    sid = "sha256:" + hashlib.sha256(f"{new_rep}\x1f{sid}".encode()).hexdigest()
                rows.append([new_rep, day, value, sid])
            state["rows"] = rows
        out.append((str(streams.get(stream, stream)), line.version, line.type, at, state))
    prev = ZERO_HASH
    for position, (stream, version, topic, at, data) in enumerate(out, start=1):
        body = Record(position, stream, version, topic, at, data).body(prev)
        digest = sha256_hex(body)
        yield line_of(position, body, digest)
        prev = digest


def _line_of(event: Any) -> tuple[str, int, str, str, dict[str, Any]]:
    from eventsourcing.utils import get_topic

    state = event_state(event)
    at = state.pop("timestamp")
    return (str(event.originator_id), event.originator_version, get_topic(type(event)), at, state)
