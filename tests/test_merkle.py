"""ledger.merkle against RFC 6962 §2.1 itself: every tree of 1…64 leaves, every
inclusion proof, every consistency proof between every pair of sizes.

The reference below is written from the RFC's recursive definitions (MTH,
PATH, PROOF, SUBPROOF) over lists of leaf data, sharing no code with the
module: it hashes with hashlib directly and never uses complete-subtree
lookups, frontiers or the RFC 9162 verification loops.
"""

from __future__ import annotations

import hashlib

import pytest

from ledger import merkle

MAX = 64
DATA = [f"event {i}".encode() for i in range(MAX)]


# -- the reference: RFC 6962 §2.1, as written --------------------------------


def mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(d[:k]) + mth(d[k:])).digest()


def path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def proof(m: int, d: list[bytes]) -> list[bytes]:
    return subproof(m, d, True)


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


# -- the module, fed complete subtrees computed by the reference -------------


def node_of(d: list[bytes]) -> merkle.Node:
    def node(level: int, index: int) -> bytes:
        width = 1 << level
        assert (index + 1) * width <= len(d), "asked for a subtree beyond the tree"
        return mth(d[index * width : (index + 1) * width])

    return node


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_roots_of_every_size_match_mth(size: int) -> None:
    d = DATA[:size]
    frontier = merkle.Frontier()
    for item in d:
        frontier.append(merkle.leaf_hash(item))
    assert frontier.root() == mth(d)
    assert merkle.root_hash(size, node_of(d)) == mth(d)


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert merkle.Frontier().root() == mth([]) == merkle.EMPTY_ROOT


def test_a_frontier_reports_every_complete_subtree_once() -> None:
    d = DATA
    frontier = merkle.Frontier()
    seen = {}
    for i, item in enumerate(d):
        seen[(0, i)] = merkle.leaf_hash(item)
        for level, index, h in frontier.append(merkle.leaf_hash(item)):
            assert (level, index) not in seen
            seen[(level, index)] = h
    node = node_of(d)
    assert seen == {key: node(*key) for key in seen}
    assert len(seen) == 2 * MAX - 1
    for size in range(MAX + 1):
        stored = [seen[key] for key in merkle.frontier_nodes(size)]
        rebuilt = merkle.Frontier(size, stored)
        assert rebuilt.root() == mth(d[:size])


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_every_inclusion_proof_matches_path_and_verifies(size: int) -> None:
    d = DATA[:size]
    root = mth(d)
    for m in range(size):
        expected = path(m, d)
        got = merkle.inclusion_path(m, size, node_of(d))
        assert got == expected
        leaf = merkle.leaf_hash(d[m])
        merkle.verify_inclusion(m, size, leaf, got, root)
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(m, size, merkle.leaf_hash(b"other"), got, root)
        if got:
            with pytest.raises(merkle.ProofError):
                merkle.verify_inclusion(m, size, leaf, got[:-1], root)
            with pytest.raises(merkle.ProofError):
                merkle.verify_inclusion(m, size, leaf, [*got, got[0]], root)
        if size > 1:
            other = (m + 1) % size
            if path(other, d) != got or other == m:
                with pytest.raises(merkle.ProofError):
                    merkle.verify_inclusion(other, size, leaf, got, root)


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_every_consistency_proof_matches_proof_and_verifies(size: int) -> None:
    d = DATA[:size]
    new_root = mth(d)
    for old in range(1, size + 1):
        expected = proof(old, d)
        got = merkle.consistency_path(old, size, node_of(d))
        assert got == expected
        old_root = mth(d[:old])
        merkle.verify_consistency(old, size, old_root, new_root, got)
        forged = mth([*d[: old - 1], b"rewritten"])
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old, size, forged, new_root, got)
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old, size, old_root, mth([*d, b"x"]), got)
        if got:
            with pytest.raises(merkle.ProofError):
                merkle.verify_consistency(old, size, old_root, new_root, got[:-1])


def test_a_rewritten_prefix_has_no_consistency_proof() -> None:
    """A tree whose leaf 3 changed cannot be shown to extend the original tree of 8:
    the honest proof from the rewritten tree fails against the original root."""
    original = DATA[:8]
    rewritten = [*DATA[:3], b"rewritten", *DATA[4:20]]
    got = merkle.consistency_path(8, 20, node_of(rewritten))
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(8, 20, mth(original), mth(rewritten), got)


def test_proofs_refuse_sizes_out_of_range() -> None:
    node = node_of(DATA[:4])
    with pytest.raises(ValueError):
        merkle.inclusion_path(4, 4, node)
    with pytest.raises(ValueError):
        merkle.consistency_path(0, 4, node)
    with pytest.raises(ValueError):
        merkle.consistency_path(5, 4, node)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(4, 4, b"\0" * 32, [], b"\0" * 32)
