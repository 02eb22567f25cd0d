"""The RFC 6962 Merkle tree over the events (SPEC §7.3): hashes, proofs, checks.

Leaf ``i`` is the ``i``-th event in ledger order (its 0-based rank); its data
is the canonical JSON whose SHA-256 is the export line's ``hash``
(:meth:`ledger.audit.Record.body`). As RFC 6962 §2.1 (and RFC 9162 §2.1)
define it::

    leaf hash = SHA-256(0x00 || data)
    node hash = SHA-256(0x01 || left || right)
    MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))   k = the largest power of two < n

Proofs are built from the hashes of *complete* subtrees (``2**level``
leaves starting at ``index * 2**level``), which a caller supplies with a
``node(level, index)`` function: the read model keeps them (see
``projections/tree.py``), tests compute them. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH of the empty tree (RFC 6962 §2.1)."""

Node = Callable[[int, int], bytes]
"""``node(level, index)``: the hash of the complete subtree of ``2**level`` leaves
starting at leaf ``index * 2**level`` (level 0: the leaf hash)."""


class ProofError(ValueError):
    """A proof that does not check out (wrong length, wrong hashes, bad sizes)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The right edge of a growing tree: the roots of its complete subtrees,
    largest (leftmost) first, one per set bit of its size. Enough to append
    leaves and to give the root at every size, in O(log n) memory."""

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} complete subtrees")
        self.size = size
        self.hashes = list(hashes)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; returns the subtrees it completes, as (level, index, hash)."""
        n, h, level, done = self.size, leaf, 0, []
        while n & 1:
            h = node_hash(self.hashes.pop(), h)
            level += 1
            n >>= 1
            done.append((level, self.size >> level, h))
        self.hashes.append(h)
        self.size += 1
        return done

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        h = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            h = node_hash(left, h)
        return h


def frontier_nodes(size: int) -> list[tuple[int, int]]:
    """The (level, index) of the complete subtrees on the right edge of a tree of ``size``."""
    out, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            out.append((level, start >> level))
            start += 1 << level
    return out


def subtree_hash(start: int, end: int, node: Node) -> bytes:
    """MTH(D[start:end]) for a range that starts on a boundary of its left part
    (every range RFC 6962's PATH and SUBPROOF visit does)."""
    n = end - start
    if n < 1:
        raise ValueError("an empty range has no subtree hash")
    if n & (n - 1) == 0 and start % n == 0:
        return node(n.bit_length() - 1, start // n)
    k = split(n)
    return node_hash(subtree_hash(start, start + k, node), subtree_hash(start + k, end, node))


def root_hash(size: int, node: Node) -> bytes:
    return EMPTY_ROOT if size == 0 else subtree_hash(0, size, node)


def inclusion_path(index: int, size: int, node: Node) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(index, D[size]), leaf's sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path, start, end = [], 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, node))
            start += k
    path.reverse()
    return path


def consistency_path(old: int, size: int, node: Node) -> list[bytes]:
    """RFC 6962 §2.1.2 PROOF(old, D[size]); empty when the sizes are equal."""
    if not 0 < old <= size:
        raise ValueError(f"no consistency proof from {old} to {size} leaves")
    path, start, end, whole = [], 0, size, True
    while old != end - start:
        k = split(end - start)
        if old <= k:
            path.append(subtree_hash(start + k, end, node))
            end = start + k
        else:
            path.append(subtree_hash(start, start + k, node))
            start += k
            old -= k
            whole = False
    if not whole:
        path.append(subtree_hash(start, end, node))
    path.reverse()
    return path


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root a leaf and its inclusion path imply (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the inclusion path is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion path is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    if root_from_inclusion(index, size, leaf, path) != root:
        raise ProofError(f"leaf {index} and its path do not give the root of the tree of {size}")


def verify_consistency(
    old: int, size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2: the tree of ``size`` extends the tree of ``old``."""
    if not 0 < old <= size:
        raise ProofError(f"no consistency proof from {old} to {size} leaves")
    if old == size:
        if path or old_root != new_root:
            raise ProofError("trees of equal size must have equal roots and an empty proof")
        return
    hashes = list(path)
    if old & (old - 1) == 0:
        hashes.insert(0, old_root)
    if not hashes:
        raise ProofError("the consistency path is empty")
    fn, sn = old - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            raise ProofError("the consistency path is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency path is too short")
    if fr != old_root:
        raise ProofError(f"the path does not give the old root of the tree of {old}")
    if sr != new_root:
        raise ProofError(f"the path does not give the new root of the tree of {size}")
