"""Replay API for report tools: the ledger's events, typed, from any source.

::

    from ledger.replay import events

    for e in events("export.jsonl"):          # or a Ledger, a db path, a postgresql:// URL
        print(e.position, e.recorded_at, e.type, e.event)

Each item is a :class:`Replayed`: where the event sits in ledger order, when it
was recorded, its stream and version, and ``event``, the domain event object
(``ledger.domain``), validated by pydantic and upcast to its class's current
version, so a tool written today reads ledgers written by older versions.

An export file's hash chain is checked while reading (``verify=False`` skips
it); a broken line raises :class:`ledger.errors.IntegrityFailure` naming it.
To get verdicts rather than raw events, see :func:`ledger_from_export` and
docs/audit.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from .audit import ImportSummary, import_lines, records
from .errors import NotFound
from .formats.jsonl import default_event_types, parse_line
from .persistence import build_event

Source = Any  # a Ledger, a db path or URL, an export file path, or an open text file


@dataclass(frozen=True)
class Replayed:
    """One event in ledger order, with the envelope the ledger stored it in."""

    position: int
    recorded_at: datetime
    stream: UUID
    version: int
    type: str
    event: Any

    @property
    def name(self) -> str:
        """The short type name, e.g. ``Commitment.Closed``."""
        return self.type.split(":", 1)[1]


def is_export_file(source: Any) -> bool:
    """Whether ``source`` is an export: a ``.jsonl``/``.json`` path, ``-`` for stdin,
    an open file or any other iterable of lines."""
    if isinstance(source, (str, Path)):
        text = str(source)
        return text == "-" or text.endswith((".jsonl", ".json"))
    return hasattr(source, "read") or (
        hasattr(source, "__iter__") and not isinstance(source, bytes)
    )


def events(
    source: Source,
    *,
    verify: bool = True,
    event_types: Mapping[str, type] | None = None,
    keys: Any = None,
) -> Iterator[Replayed]:
    """Every event of ``source`` in ledger order, typed.

    Free text and names are stored sealed (SPEC §7.4). Given ``keys`` (a
    :class:`ledger.keys.KeyStore`, e.g. ``open_keystore("commitments.db")``),
    every sealed field is opened: its text, or ``[erased]`` once the
    person's key was destroyed; without it, fields stay as stored.

    ``source`` is a :class:`ledger.application.Ledger`, a SQLite path or
    ``postgresql://`` URL of a ledger, or an export: a ``.jsonl`` path, ``-``
    (stdin), an open text file or an iterable of lines. Streams: memory does not grow with the
    ledger.
    """
    if keys is not None:
        from .sealing import open_event

        for item in events(source, verify=verify, event_types=event_types):
            yield replace(item, event=open_event(keys, item.event))
        return
    if hasattr(source, "recorder"):
        yield from _from_ledger(source)
    elif is_export_file(source):
        yield from _from_export(source, verify=verify, event_types=event_types)
    else:
        from .application import Ledger

        db = str(source)
        if "://" not in db and not os.path.exists(db):
            raise NotFound(f"no ledger at {db}")
        ledger = Ledger.open(db, create_table=False)
        try:
            yield from _from_ledger(ledger)
        finally:
            ledger.close()


def _from_ledger(ledger: Any) -> Iterator[Replayed]:
    for r in records(ledger):
        state = dict(r.data)
        state["timestamp"] = r.recorded_at
        stream = UUID(r.stream)
        event = build_event(r.type, stream, r.version, state)
        yield Replayed(r.position, event.timestamp, stream, r.version, r.type, event)


def _lines(source: Any) -> Iterator[str]:
    if not isinstance(source, (str, Path)):
        yield from source
    elif str(source) == "-":
        yield from sys.stdin
    else:
        with open(source, encoding="utf-8") as handle:
            yield from handle


def _from_export(
    source: Any, *, verify: bool, event_types: Mapping[str, type] | None
) -> Iterator[Replayed]:
    types = dict(event_types) if event_types is not None else default_event_types()
    prev: str | None = None
    for number, raw in enumerate(_lines(source), start=1):
        if not raw.strip():
            continue
        line, prev = parse_line(number, raw, prev, types, check_chain=verify)
        yield Replayed(
            line.position if line.position is not None else number,
            line.event.timestamp,
            line.stream,
            line.version,
            line.type,
            line.event,
        )


def ledger_from_export(
    export: str | Path | IO[str] | Iterable[str], db: str
) -> tuple[Any, ImportSummary]:
    """Import an export into the ledger at ``db`` (normally a new SQLite file).

    Returns the open :class:`~ledger.application.Ledger` and the import
    summary; the normal read side (``projections``) then computes verdicts
    from it exactly as the ``commitments`` command does. Close the ledger
    when done.
    """
    from .application import Ledger

    ledger = Ledger.open(db)
    try:
        if isinstance(export, (str, Path)):
            with open(export, encoding="utf-8") as handle:
                summary = import_lines(ledger, handle)
        else:
            summary = import_lines(ledger, export)
    except BaseException:
        ledger.close()
        raise
    return ledger, summary


__all__ = ["Replayed", "events", "is_export_file", "ledger_from_export"]
