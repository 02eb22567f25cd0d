"""Opening sealed text into the read model (SPEC §7.4).

Events hold free text (and, with the people registry, names) sealed under a
person's key (:mod:`ledger.keys`). The read model holds it in clear: it is
derived, owner-only, and purged on erasure. Catch-up writes each page's rows
as stored, then :class:`Opener` opens, in the same transaction, the sealed
values of the rows the page added (a rowid range, so a page costs what it
adds). A value whose key is gone reads ``[erased]``.

Catch-up opens them as it writes each row (the Python applier through
:meth:`Opener.open_value`, the in-SQLite pages through the SQL function
``open_sealed`` wrapped around those columns), so no row is written twice; a
last pass over the rows a page added opens anything still sealed.

The views file runs with ``PRAGMA secure_delete=ON`` (set in
:func:`projections.catchup.connect`), so values overwritten or deleted here
leave no bytes behind in it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from ledger import topics

SEALED_COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": ("note",),
    "commitments": ("behavior", "hypothesis", "focus_cap_override"),
    "check_ins": ("note",),
    "corrections": ("reason",),
    "revisions": ("reason", "behavior"),
    "closes": ("note",),
    "releases": ("reason",),
    "replies": ("text",),  # the replier's (a table of the replies feature, when present)
}
"""Read-model columns that may hold sealed text, by table."""

SEALED_PREFIX = "sealed:v1:"
SEALED_GLOB = SEALED_PREFIX + "*"

SEALED_FIELDS: dict[str, tuple[str, ...]] = {
    topics.HELD: ("note",),
    topics.AGREED: ("behavior", "hypothesis", "focus_cap_override"),
    topics.CHECKED_IN: ("note",),
    topics.CORRECTED: ("reason",),
    topics.REVISED: ("reason", "behavior"),
    topics.RELEASED: ("reason",),
    topics.CLOSED: ("note",),
    topics.REPLIED: ("text",),
}
"""The free-text fields of each stored event type (``ledger.sealing.FREE_TEXT``
by topic, spelt out here so the read side does not import the domain)."""


class Opener:
    """Opens the sealed values a page added. ``store_of()`` gives the key
    store; it is asked for only when a sealed value is found."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        store_of: Callable[[], Any],
        state_of: Callable[[], tuple[int, int]],
    ) -> None:
        self.conn = conn
        self.store_of = store_of
        self.state_of = state_of
        self.tables = {t: cols for t, cols in SEALED_COLUMNS.items() if _has_columns(conn, t, cols)}
        self.marks: dict[str, int] = {}
        self.store: Any = None
        conn.create_function("open_sealed", 1, self.open_value)
        self.rebuilt = False  # set by catch-up when it rebuilt for a changed key store

    def mark(self) -> None:
        """Remember where each table ends (call before the page is applied)."""
        self.marks = {
            t: self.conn.execute(f"SELECT coalesce(max(rowid), 0) FROM [{t}]").fetchone()[0]
            for t in self.tables
        }

    def keys_changed(self) -> bool:
        """Whether the key store changed since this read model last opened
        sealed text with it (False if it never did): then it must be rebuilt."""
        return keys_changed(self.conn, self.state_of)

    def open(self) -> int:
        """Open the sealed values of rows added since :meth:`mark`, with one
        ``UPDATE`` per column calling the key store through a SQL function;
        returns how many values. Records the key store's state when used."""
        opened = 0
        for table, cols in self.tables.items():
            for col in cols:
                cur = self.conn.execute(
                    f"UPDATE [{table}] SET [{col}] = open_sealed([{col}]) "
                    f"WHERE rowid > ? AND [{col}] GLOB '{SEALED_GLOB}'",
                    (self.marks.get(table, 0),),
                )
                opened += max(cur.rowcount, 0)
        if self.store is not None:
            record_state(self.conn, self.store.state(), self.store.missing)
        return opened

    def open_value(self, value: Any) -> Any:
        """A stored value as the read model holds it: opened if sealed (one call
        a sealed value of a rebuild: nothing in between but the key store's)."""
        if isinstance(value, str) and value.startswith(SEALED_PREFIX):
            store = self.store
            if store is None:
                store = self.store = self.store_of()  # only when a page brings sealed text
            return store.open_text(value)
        return value


def _has_columns(conn: sqlite3.Connection, table: str, cols: tuple[str, ...]) -> bool:
    found = {r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")}
    return set(cols) <= found


STATE_SQL = "SELECT live, destroyed, missing FROM key_state WHERE name = 'keys'"


def recorded_state(conn: sqlite3.Connection) -> tuple[int, int, bool] | None:
    """The key store's state when this read model last opened sealed text:
    (keys present, keys destroyed, whether a key was missing without having
    been destroyed)."""
    try:
        row = conn.execute(STATE_SQL).fetchone()
    except sqlite3.OperationalError:  # a views file from before the table
        return None
    return None if row is None else (int(row[0]), int(row[1]), bool(row[2]))


def record_state(conn: sqlite3.Connection, state: tuple[int, int], missing: bool) -> None:
    """Remember the key store's state; ``missing`` sticks until a rebuild."""
    conn.execute(
        "INSERT INTO key_state (name, live, destroyed, missing) VALUES ('keys', ?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET live = excluded.live, destroyed = excluded.destroyed, "
        "missing = max(missing, excluded.missing)",
        (*state, int(missing)),
    )


def must_rebuild(seen: tuple[int, int, bool] | None, now: tuple[int, int]) -> bool:
    """Whether a read model that opened sealed text when the key store was
    ``seen`` must be rebuilt with the store as it is ``now``: a key destroyed
    (an erasure), keys gone (the store lost or replaced), or keys added where
    a key was missing (a restore). A key made for a new person opens nothing
    the read model already holds, so it costs no rebuild."""
    if seen is None:  # never opened sealed text: nothing to compare
        return False
    live, destroyed, missing = seen
    return now[1] != destroyed or now[0] < live or (now[0] > live and missing)


def keys_changed(conn: sqlite3.Connection, state_of: Callable[[], tuple[int, int]]) -> bool:
    """Whether a read model that opened sealed text did so with a key store
    that has changed since in a way that matters (:func:`must_rebuild`)."""
    seen = recorded_state(conn)
    return seen is not None and must_rebuild(seen, state_of())  # no store asked for if unused
