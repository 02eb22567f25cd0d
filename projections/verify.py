"""``projections verify``: is the read model exactly what the ledger gives?

The views file is derived data that anyone with write access to it could
edit (delete a close, change an actual), and a read serves it as it is. The
check rebuilds the read model from the ledger into a temporary file, up to the
position the views file says it has applied (and its Merkle tree as far as
the views file's goes: only proofs extend it), and compares every table row
for row inside SQLite (``EXCEPT`` both ways, on the attached rebuild), so a
million-event read model is compared without loading it into Python; the
report's caches (``report_verdicts`` and ``report_commitments``, empty after a
rebuild) are checked instead by reading (and judging) each commitment they
hold in the rebuild. The
views file is opened read-only and never changed.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ledger.errors import IntegrityFailure
from ledger.store import location

from .catchup import Progress, Tracking, rebuild, recorder_hash_at, tracking
from .tables import BY_NAME, CACHES, TABLES

if TYPE_CHECKING:
    from ledger.application import Ledger


@dataclass(frozen=True)
class TableCheck:
    """One table of the views file against the rebuild."""

    name: str
    rows: int  # in the views file
    missing: int  # rows of the rebuild the views file lacks (or holds changed)
    extra: int  # rows of the views file the rebuild lacks (or holds changed)

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.extra == 0


@dataclass(frozen=True)
class Verification:
    """The outcome: the position compared at, each table, and what differs."""

    views_path: str
    position: int
    head: int
    tables: list[TableCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(t.ok for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def summary(self) -> str:
        """One line naming every difference (empty when there is none)."""
        parts = list(self.problems)
        for t in self.tables:
            if not t.ok:
                parts.append(
                    f"{t.name}: {t.missing} rows missing or changed, {t.extra} not in the ledger"
                )
        return "; ".join(parts)


def verify(
    ledger: Ledger, views_path: str, *, progress: Progress | None = None, attempts: int = 3
) -> Verification:
    """Rebuild into a temporary file up to the views file's position and compare."""
    from ledger.errors import Conflict, NotFound

    from .catchup import max_position

    if not os.path.exists(views_path):
        raise NotFound(f"no read model at {views_path} (any read command builds it)")
    views = sqlite3.connect(f"file:{views_path}?mode=ro", uri=True, timeout=30)
    try:
        with tempfile.TemporaryDirectory(prefix="commitments-verify-") as folder:
            fresh = os.path.join(folder, "rebuilt.views.db")
            for _ in range(attempts):
                at = _tracking_or_none(views)
                head = max_position(ledger)
                if at is None:
                    return Verification(
                        views_path, 0, head, problems=["it has no read-model tables"]
                    )
                tree_at = _tree_position(views)  # only proofs extend the tree: as far as it goes
                try:
                    rebuild(ledger, fresh, progress=progress, upto=min(at.position, head))
                    _extend_tree(ledger, fresh, min(tree_at, head))
                except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
                    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                        raise
                    problem = f"the ledger's events do not replay into a read model ({exc})"
                    return Verification(views_path, at.position, head, problems=[problem])
                views.execute("ATTACH DATABASE ? AS fresh", (fresh,))
                try:
                    views.execute("BEGIN")  # the rows compared are the ones this row describes
                    if _tracking_or_none(views) == at and _tree_position(views) == tree_at:
                        problems = _binding_problems(ledger, at, head)
                        if tree_at > at.position:
                            problems.append(
                                f"its Merkle tree runs to position {tree_at}, past its "
                                f"position {at.position}"
                            )
                        tables = [
                            _compare(views, t.name, t.names) for t in TABLES if t.name not in CACHES
                        ]
                        tables.extend(_check_cache(views, fresh, name) for name in CACHES)
                        return Verification(views_path, at.position, head, tables, problems)
                finally:
                    views.execute("ROLLBACK")
                    views.execute("DETACH DATABASE fresh")
    finally:
        views.close()
    raise Conflict(f"{views_path} kept moving while it was verified; run it again")


def _tree_position(conn: sqlite3.Connection) -> int:
    """The position of the views file's last Merkle leaf (0: no tree yet)."""
    from .tree import last_position

    try:
        return last_position(conn)
    except sqlite3.OperationalError:
        return 0


def _extend_tree(ledger: Ledger, fresh: str, upto: int) -> None:
    """Give the rebuild the tree the views file has, up to position ``upto``."""
    if upto <= 0:
        return
    from .tree import extend

    conn = sqlite3.connect(fresh, isolation_level=None)
    try:
        extend(conn, ledger, upto)
    finally:
        conn.close()


def _tracking_or_none(conn: sqlite3.Connection) -> Tracking | None:
    try:
        return tracking(conn)
    except sqlite3.OperationalError:
        return None


def _binding_problems(ledger: Ledger, at: Tracking, head: int) -> list[str]:
    """Is the views file this ledger's, at a position whose event is unchanged?"""
    out = []
    source = location(ledger.db)
    lid = ledger.ledger_id()
    mine = None if lid is None else str(lid)
    if at.ledger_id is not None and at.ledger_id != mine:
        out.append(
            f"it belongs to ledger {at.ledger_id} ({at.source}), not to ledger "
            f"{mine or 'without an id yet'} ({source})"
        )
    elif at.ledger_id is None and at.source is not None and at.source != source:
        out.append(f"it was built from {at.source}, not {source}")
    if at.position > head:
        out.append(f"its position {at.position} is beyond the ledger's head {head}")
    elif at.position > 0:
        try:
            actual = recorder_hash_at(ledger)(at.position)
        except IntegrityFailure:  # its stream id or topic is not text
            actual = None
        if actual != at.event_hash:
            out.append(f"the ledger's event at position {at.position} is not the one it applied")
    return out


def _check_cache(conn: sqlite3.Connection, fresh: str, name: str) -> TableCheck:
    """A cache the report fills (``report_verdicts``, ``report_commitments``; a
    rebuild leaves them empty), so its rows are not compared with the
    rebuild's: each must be what the rebuild gives at the latest knowledge
    (read :data:`_BATCH` rows at a time, so memory stays flat)."""
    from .counted import wrong_cached_rows, wrong_cached_verdicts
    from .query import ReadModel

    wrong_of = wrong_cached_verdicts if name == "report_verdicts" else wrong_cached_rows
    cols = ", ".join(f"[{c}]" for c in BY_NAME[name].names)
    try:
        rows = conn.execute(f"SELECT {cols} FROM main.[{name}]")
    except sqlite3.OperationalError:  # written before issue 19: no cache
        return TableCheck(name, 0, 0, 0)
    count = wrong = 0
    with ReadModel(fresh) as rm:
        while batch := rows.fetchmany(_BATCH):
            count += len(batch)
            wrong += wrong_of(rm, batch)
    return TableCheck(name, count, 0, wrong)


_BATCH = 20_000


def _compare(conn: sqlite3.Connection, name: str, columns: tuple[str, ...]) -> TableCheck:
    cols = ", ".join(f"[{c}]" for c in columns)
    try:
        rows = conn.execute(f"SELECT count(*) FROM main.[{name}]").fetchone()[0]
        missing, extra = (
            conn.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM {a}.[{name}] "
                f"EXCEPT SELECT {cols} FROM {b}.[{name}])"
            ).fetchone()[0]
            for a, b in (("fresh", "main"), ("main", "fresh"))
        )
    except sqlite3.OperationalError:  # a table or column gone: nothing of it matches
        fresh_rows = conn.execute(f"SELECT count(*) FROM fresh.[{name}]").fetchone()[0]
        return TableCheck(name, 0, int(fresh_rows), 1)
    return TableCheck(name, int(rows), int(missing), int(extra))
