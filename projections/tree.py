"""The ledger's Merkle tree in the read model, and the proofs built from it (SPEC §7.3).

``merkle_leaves`` holds one row per event (its rank, position, export hash
and leaf hash) and ``merkle_nodes`` the hash of every complete subtree
above them (see :mod:`projections.tables`). :func:`extend` appends the
events after the last leaf, a batch per transaction. Only proofs read the
tree, so it is extended when a proof is asked for (:func:`catch_up_tree`,
up to the tables' tracked position), not by every catch-up: a read or a
rebuild of the tables never pays for hashing every event again (issue 19;
the first proof after a rebuild builds the whole tree once). Built in one
go or leaf by leaf, the rows are the same (``projections verify`` compares
them, extending its own rebuild's tree as far as the views file's). It reads the store as ``verify``
does (:func:`ledger.audit.stored_bodies`: leaf bytes spliced from the stored
canonical JSON; a stored event ``verify`` refuses stops it, exit 4). A proof
then reads O(log² n) rows: milliseconds at a million events.

The tree here serves proofs only. ``checkpoint`` and ``verify --checkpoint``
recompute the root from the events themselves (:mod:`ledger.checkpoints`),
and a proof is only as good as the checkpoint it is checked against, so an
edited or stale read model can make a proof fail, never make a false one pass.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ledger.errors import IntegrityFailure, InvalidInput, NotFound, RuleViolation
from ledger.merkle import Frontier, consistency_path, frontier_nodes, inclusion_path, leaf_hash
from ledger.merkle import root_hash as merkle_root

BATCH = 10000
ZERO_HASH = "0" * 64  # the first event's prev (ledger.audit, not imported: a proof starts fast)


def _last_leaf(conn: sqlite3.Connection) -> tuple[int, int, str]:
    """(tree size, position of the last leaf, its export hash in hex)."""
    row = conn.execute(
        "SELECT rank, position, hash FROM merkle_leaves ORDER BY rank DESC LIMIT 1"
    ).fetchone()
    return (0, 0, ZERO_HASH) if row is None else (row[0] + 1, row[1], bytes(row[2]).hex())


def _clear(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM merkle_leaves")
    conn.execute("DELETE FROM merkle_nodes")


def extend(conn: sqlite3.Connection, ledger: Any, head: int, *, batch: int = BATCH) -> int:
    """Append a leaf for every event after the tree's last one, up to position
    ``head``; returns how many. One transaction per batch of events."""
    from ledger.audit import stored_bodies

    added = 0
    while True:
        conn.execute("BEGIN")
        try:
            # The first statement writes, so it waits for any other writer of the
            # read model; everything after reads what that writer committed.
            conn.execute("UPDATE tracking SET position = position WHERE name = 'ledger'")
            size, position, prev = _last_leaf(conn)
            if position > head:
                if position <= (ledger.recorder.max_notification_id() or 0):
                    # another process's catch-up built the tree past the head this
                    # one read before taking the lock: nothing left to add
                    conn.execute("ROLLBACK")
                    return added
                # the ledger, read again now, is behind the tree: it was replaced
                _clear(conn)
                size, position, prev = 0, 0, ZERO_HASH
            node = node_reader(conn)
            frontier = Frontier(size, [node(*at) for at in frontier_nodes(size)])
            leaves, nodes = [], []
            for at, body, digest in islice(stored_bodies(ledger, after=position, prev=prev), batch):
                if at > head:
                    break
                leaf = leaf_hash(body)
                leaves.append((frontier.size, at, bytes.fromhex(digest), leaf))
                nodes += frontier.append(leaf)
            if not leaves:
                conn.execute("ROLLBACK")
                return added
            conn.executemany(
                "INSERT INTO merkle_leaves (rank, position, hash, leaf) VALUES (?, ?, ?, ?)",
                leaves,
            )
            conn.executemany(
                "INSERT INTO merkle_nodes (level, number, hash) VALUES (?, ?, ?)", nodes
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        added += len(leaves)
        if len(leaves) < batch:
            return added


def catch_up_tree(ledger: Any, views_path: str) -> int:
    """Extend the read model's tree up to the position its tables have applied
    (a tree left short by a killed process is finished the same way); returns
    how many leaves were added."""
    from .catchup import connect, tracked_position

    db = connect(views_path)
    try:
        return extend(db.conn, ledger, tracked_position(db.conn)[0])
    finally:
        db.close()


def node_reader(conn: sqlite3.Connection) -> Any:
    """``node(level, index)`` over the stored tree (see :data:`ledger.merkle.Node`)."""

    def node(level: int, index: int) -> bytes:
        if level == 0:
            row = conn.execute("SELECT leaf FROM merkle_leaves WHERE rank = ?", (index,)).fetchone()
        else:
            row = conn.execute(
                "SELECT hash FROM merkle_nodes WHERE level = ? AND number = ?", (level, index)
            ).fetchone()
        if row is None:
            raise IntegrityFailure(
                f"the read model's Merkle tree lacks node ({level}, {index}): "
                "run 'commitments projections rebuild'"
            )
        return bytes(row[0])

    return node


def tree_size(conn: sqlite3.Connection) -> int:
    return _last_leaf(conn)[0]


def last_position(conn: sqlite3.Connection) -> int:
    """The position of the tree's last leaf (0: no leaves)."""
    return _last_leaf(conn)[1]


def _size(conn: sqlite3.Connection, size: int | None) -> int:
    have = tree_size(conn)
    if size is None:
        return have
    if size < 1:
        raise InvalidInput(f"--size {size}: a tree has 1 event or more")
    if size > have:
        raise RuleViolation(f"--size {size}: the ledger holds {have} events")
    return size


@dataclass(frozen=True)
class Inclusion:
    """An inclusion proof of the event at ``position``."""

    size: int
    root: bytes
    leaf_index: int
    leaf_hash: bytes
    path: list[bytes]
    position: int

    def as_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": self.root.hex(),
            "leaf_index": self.leaf_index,
            "leaf_hash": self.leaf_hash.hex(),
            "path": [h.hex() for h in self.path],
        }


def prove_inclusion(conn: sqlite3.Connection, position: int, size: int | None = None) -> Inclusion:
    """The inclusion proof of the event at ``position`` in the tree of ``size`` events."""
    row = conn.execute("SELECT rank, leaf FROM merkle_leaves WHERE position = ?", (position,))
    found = row.fetchone()
    if found is None:
        raise NotFound(f"no event at position {position}")
    rank, leaf = found[0], bytes(found[1])
    n = _size(conn, size)
    if rank >= n:
        raise RuleViolation(
            f"the event at position {position} is leaf {rank}: not in the tree of {n} events"
        )
    node = node_reader(conn)
    path = inclusion_path(rank, n, node)
    return Inclusion(n, merkle_root(n, node), rank, leaf, path, position)


def event_bytes(conn: sqlite3.Connection, ledger: Any, proof: Inclusion) -> bytes:
    """The canonical bytes of the proven event, read from the store and checked
    against the tree (they are the leaf's data)."""
    from ledger.audit import records

    prev = ZERO_HASH
    if proof.leaf_index:
        row = conn.execute(
            "SELECT hash FROM merkle_leaves WHERE rank = ?", (proof.leaf_index - 1,)
        ).fetchone()
        prev = bytes(row[0]).hex()
    data = None
    for record in records(ledger, after=proof.position - 1, page=1):
        if record.position == proof.position:
            data = record.body(prev).encode("utf-8")
        break
    stored = conn.execute(
        "SELECT hash FROM merkle_leaves WHERE rank = ?", (proof.leaf_index,)
    ).fetchone()
    if data is None or hashlib.sha256(data).digest() != bytes(stored[0]):
        raise IntegrityFailure(
            f"the event at position {proof.position} differs from the read model's tree: "
            "run 'commitments verify', then 'commitments projections rebuild'"
        )
    return data


def prove_consistency(
    conn: sqlite3.Connection, old_size: int, size: int | None = None
) -> dict[str, Any]:
    """The consistency proof from the tree of ``old_size`` events to the tree of ``size``."""
    n = _size(conn, size)
    if old_size < 1:
        raise InvalidInput(f"OLD_SIZE {old_size}: a tree has 1 event or more")
    if old_size > n:
        raise InvalidInput(f"OLD_SIZE {old_size} is larger than the new size {n}")
    node = node_reader(conn)
    return {
        "old_size": old_size,
        "new_size": n,
        "old_root": merkle_root(old_size, node).hex(),
        "new_root": merkle_root(n, node).hex(),
        "path": [h.hex() for h in consistency_path(old_size, n, node)],
    }
