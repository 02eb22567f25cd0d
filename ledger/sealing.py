"""Which free text is sealed, under whose key (SPEC §7.4), as events are saved.

The free text of an event is personal data about its *owner*:

* a coaching session's ``note``: the rep's;
* a commitment's texts (behaviour, hypothesis, focus-cap override, check-in
  notes, correction, revision and release reasons, closing notes): the rep's
  when the commitment is rep-owned, the manager's when it is manager-owned;
* a reply's text: the replier's.

:func:`seal_events` is called by :class:`ledger.application.Ledger` on every
command's new events just before they are stored, so every writer of new
events goes through it; the hash chain and checkpoints then cover the
ciphertext. Imports store the export's data unchanged (already sealed, or a
release-1 export's clear text). Readers open sealed text with
:meth:`ledger.keys.KeyStore.open_text` (``[erased]`` once the key is gone).

A person is sealed for only when they are referred to by subject id (a UUID,
SPEC §7.4's people registry); text about a person still named by a free
string (a ledger written before the registry) is stored as before, in clear.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from .domain import CoachingSession, Commitment
from .keys import KeyStore, is_sealed, seal

FREE_TEXT: dict[type, tuple[str, ...]] = {
    CoachingSession.Held: ("note",),
    Commitment.Agreed: ("behavior", "hypothesis", "focus_cap_override"),
    Commitment.CheckInRecorded: ("note",),
    Commitment.CheckInCorrected: ("reason",),
    Commitment.Revised: ("reason", "behavior"),
    Commitment.Released: ("reason",),
    Commitment.Closed: ("note",),
}
"""Each event type's free-text fields (by class)."""

_REPLIED = getattr(Commitment, "Replied", None)
if _REPLIED is not None:  # the reply event (SPEC §7.4): its text is the replier's
    FREE_TEXT[_REPLIED] = ("text",)

FREE_TEXT_BY_TOPIC: dict[str, tuple[str, ...]] = {get_topic(c): f for c, f in FREE_TEXT.items()}
"""The same, by stored topic (for readers of stored JSON)."""


def as_subject(value: Any) -> UUID | None:
    """A person reference as a subject id, or None if it is a free-string name."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str) and len(value) == 36:
        try:
            parsed = UUID(value)
        except ValueError:
            return None
        return parsed if str(parsed) == value else None
    return None


def owner_of(aggregate: Any, event: Any) -> UUID | None:
    """Whose key seals ``event``'s free text (None: nobody's, stored in clear)."""
    if _REPLIED is not None and isinstance(event, _REPLIED):
        return as_subject(getattr(event, "by", None))
    if isinstance(event, CoachingSession.Held):
        return as_subject(event.rep)
    if isinstance(aggregate, Commitment):
        owner = aggregate.manager if aggregate.owner == "manager" else aggregate.rep
        return as_subject(owner)
    return None


def seal_events(store_of: Any, aggregate: Any, events: list[Any]) -> list[Any]:
    """``events`` with their free text sealed under the owner's key.
    ``store_of()`` gives the key store (opened only when something is sealed);
    :class:`ledger.keys.KeyDestroyed` if the owner has been erased."""
    out = []
    for event in events:
        fields = FREE_TEXT.get(type(event))
        subject = owner_of(aggregate, event) if fields else None
        if fields and subject is not None:
            values = {f: getattr(event, f) for f in fields}
            todo = {f: v for f, v in values.items() if isinstance(v, str) and not is_sealed(v)}
            if todo:
                store: KeyStore = store_of()
                key = store.ensure(subject)
                event = dataclasses.replace(
                    event, **{f: seal(key, subject, v) for f, v in todo.items()}
                )
        out.append(event)
    return out


def open_data(store: KeyStore, data: dict[str, Any]) -> dict[str, Any]:
    """A stored event's data with every sealed string opened (``[erased]``
    where the key is gone), for readers given the key store."""
    return {k: _open(store, v) for k, v in data.items()}


def _open(store: KeyStore, value: Any) -> Any:
    if isinstance(value, str):
        return store.open_text(value) if is_sealed(value) else value
    if isinstance(value, list):
        return [_open(store, v) for v in value]
    if isinstance(value, dict):
        return {k: _open(store, v) for k, v in value.items()}
    return value


def open_event(store: KeyStore, event: Any) -> Any:
    """A domain event with its sealed fields opened (``[erased]`` where the key is gone)."""
    changes: dict[str, str] = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name, None)
        if isinstance(value, str) and is_sealed(value):
            changes[f.name] = store.open_text(value)
    return dataclasses.replace(event, **changes) if changes else event
