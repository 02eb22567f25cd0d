"""``--pseudonymise`` on reads (SPEC §7.4): people as ``p-<8 hex>``, free text ``[withheld]``.

For analysis by people who must not see who is who (HR looking for patterns,
an analyst sizing a programme): every person becomes a stable pseudonym,
``p-`` and the first 8 hex digits of their subject id (so the same person is
the same pseudonym in every report, and an erased person's ``erased:<8 hex>``
becomes the same ``p-<8 hex>``), and every free text (notes, behaviours,
hypotheses, reasons, replies) ``[withheld]``. Verdicts, counts, dates,
signals and focus areas stay as they are.

A value is a person when its key says so (``rep``, ``manager``, ``actor``,
``by``...) or when it is the name of a registered person, under any key (a
list of overloaded reps, a team named after its manager).

It works on the JSON objects the commands print (``--format json`` and every
other format is rendered from them), so a pseudonymised table, CSV, Markdown
or HTML page shows exactly what the JSON shows.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from typing import Any
from uuid import UUID

WITHHELD_TEXT = "[withheld]"  # ledger.keys.WITHHELD_TEXT (not imported: reads stay light)

PERSON_KEYS = frozenset(
    {"rep", "manager", "actor", "by", "name", "person", "replier", "subject", "reps", "managers"}
)
"""Keys whose string values (or lists of strings) are people."""
TEXT_KEYS = frozenset(
    {"note", "behavior", "hypothesis", "reason", "text", "focus_cap_override", "override"}
)
"""Keys whose values are free text."""


class Pseudonymiser:
    """Maps the names a read model shows to pseudonyms: a registered person by
    their subject id (the read model's ``people`` table), a person known only
    by a name written before the registry by an id derived from the name."""

    @classmethod
    def of(cls, conn: sqlite3.Connection) -> Pseudonymiser:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "people" not in tables:
            return cls(lambda name: None)
        known = {
            str(name): str(subject)
            for name, subject in conn.execute("SELECT name, subject FROM people")
        }
        return cls(known.get, known)

    def __init__(
        self, subject_of: Callable[[str], str | None], known: dict[str, str] | None = None
    ) -> None:
        self.subject_of = subject_of
        self.known = known or {}
        self.cache: dict[str, str] = {}

    def person(self, value: str) -> str:
        found = self.cache.get(value)
        if found is not None:
            return found
        if value.startswith("erased:") and len(value) == 15:
            out = "p-" + value[7:]
        elif value.startswith("p-") and len(value) == 10:
            out = value
        else:
            subject = _as_uuid(value) or _as_uuid(self.subject_of(value))
            if subject is None:  # a name from before the registry: the read model's id for it
                from projections.people import legacy_subject

                subject = UUID(legacy_subject(value))
            out = "p-" + subject.hex[:8]  # ledger.keys.pseudonym
        self.cache[value] = out
        return out

    def maybe_person(self, value: Any) -> Any:
        """``value``'s pseudonym if it is a registered person's name (a team
        named after its manager), else ``value`` (a team's or region's own name)."""
        if isinstance(value, str) and self.subject_of(value) is not None:
            return self.person(value)
        return value

    def __call__(self, obj: Any, key: str | None = None) -> Any:
        if isinstance(obj, dict):
            return {k: self(v, k) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self(v, key) for v in obj]
        if isinstance(obj, str):
            if key in TEXT_KEYS:
                return WITHHELD_TEXT
            if key in PERSON_KEYS or obj in self.known or obj.startswith("erased:"):
                return self.person(obj)  # a person, under any key (overloaded_reps...)
        return obj


PSEUDONYM = re.compile(r"p-[0-9a-f]{8}")


def subject_row(conn: sqlite3.Connection, ref: str) -> Any:
    """The read model's ``people`` row (its subject) a name or a pseudonym
    ``p-<8 hex>`` stands for (the way back, for the server's parameters and
    access log); None when no one, or more than one person, has that pseudonym."""
    if PSEUDONYM.fullmatch(ref):
        rows = conn.execute(
            "SELECT subject FROM people WHERE replace(subject, '-', '') LIKE ? LIMIT 2",
            (ref[2:] + "%",),
        ).fetchall()
        return rows[0] if len(rows) == 1 else None
    return conn.execute(
        "SELECT subject FROM people WHERE name = ? ORDER BY position LIMIT 1", (ref,)
    ).fetchone()


def _as_uuid(value: str | None) -> UUID | None:
    if value is None or len(value) != 36:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def pseudonymise_option(f: Any) -> Any:
    import click

    return click.option(
        "--pseudonymise",
        is_flag=True,
        help="People as p-<first 8 hex of their subject id>, free text [withheld] "
        "(for analysis; see docs/privacy.md).",
    )(f)
