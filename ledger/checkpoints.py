"""Signed checkpoints of the ledger's Merkle tree, and checking them (SPEC §7.3).

Both directions recompute the tree from the events in the store, one pass,
O(log n) memory (a :class:`~ledger.merkle.Frontier`), never from a copy that
could be stale or edited: ``checkpoint`` signs what the store holds now, and
``verify --checkpoint`` asks whether the store's first ``size`` events still
give the signed root. The store is read as ``verify`` reads it
(:func:`ledger.audit.stored_bodies`): every stored event must be canonical, and
the leaf bytes are spliced from its stored text, not decoded and encoded again.

``checkpoint`` keeps the last checkpoint it signed with each key in
``<key file>.last`` (owner-only, beside the key) and refuses (exit 4) to
sign a tree that does not extend it: another ledger, fewer events, or a
first ``size`` events that no longer give the root it signed.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .audit import stored_bodies
from .errors import IntegrityFailure, InvalidInput, RuleViolation
from .files import replace_private
from .merkle import Frontier, leaf_hash
from .notes import Checkpoint, SigningKey, VerifierKey, read_checkpoint

ORIGIN_PREFIX = "commitments/"
LAST_SUFFIX = ".last"


def origin(ledger: Any) -> str:
    """The checkpoint origin of this ledger: ``commitments/<ledger id>``."""
    ledger_id = ledger.ledger_id()
    if ledger_id is None:
        raise RuleViolation(
            "the ledger has no events and no id yet (it gets one with its first write): "
            "a checkpoint names the ledger it signs"
        )
    return f"{ORIGIN_PREFIX}{ledger_id}"


@dataclass(frozen=True)
class Tree:
    """The ledger's tree as recomputed from the store."""

    size: int
    root: bytes
    root_at: bytes | None  # the root of the first ``at`` events, if asked and present


def recompute(
    ledger: Any, at: int | None = None, *, progress: Callable[[int], Any] | None = None
) -> Tree:
    """One pass over the store: the tree of every event, and of the first ``at``."""
    frontier = Frontier()
    root_at = frontier.root() if at == 0 else None
    append = frontier.append
    for _position, body, _digest in stored_bodies(ledger):
        append(leaf_hash(body))
        if frontier.size == at:
            root_at = frontier.root()
        if progress is not None and frontier.size % 10000 == 0:
            progress(10000)
    return Tree(frontier.size, frontier.root(), root_at)


def check_extends(ledger: Any, signed: Checkpoint, tree: Tree, what: str) -> None:
    """Refuse (exit 4) unless ``tree`` of this ledger extends the ``signed`` one."""
    mine = origin(ledger)
    if signed.origin != mine:
        raise IntegrityFailure(f"{what} is of another ledger ({signed.origin}), not {mine}")
    if tree.size < signed.size:
        raise IntegrityFailure(
            f"{what} signs {signed.size} events but the ledger holds {tree.size}: "
            "events were deleted or the ledger was truncated"
        )
    if tree.root_at != signed.root:
        raise IntegrityFailure(
            f"the ledger's first {signed.size} events do not give the root {what} signs: "
            "history was rewritten since it was signed"
        )


def sign(
    ledger: Any, key_path: str, *, progress: Callable[[int], Any] | None = None
) -> tuple[str, Tree]:
    """A signed checkpoint of the ledger now; remembers it beside the key.

    Refuses (exit 4) a tree that does not extend the last one signed with the key.
    """
    key = read_signing_key(key_path)
    mine = origin(ledger)
    with _locked(key_path) as last_path:
        last = _last_signed(last_path, key.verifier)
        tree = recompute(ledger, last.size if last else None, progress=progress)
        if last is not None:
            check_extends(ledger, last, tree, f"the last checkpoint signed with {key_path}")
        note = key.sign(Checkpoint(mine, tree.size, tree.root).text())
        replace_private(last_path, note)
    return note, tree


def verify(
    ledger: Any, note: str, key: VerifierKey, *, progress: Callable[[int], Any] | None = None
) -> tuple[Checkpoint, Tree]:
    """Check the signature, then that the ledger now extends the signed tree (exit 4 if not)."""
    signed = read_checkpoint(note, key)
    mine = origin(ledger)
    if signed.origin != mine:
        raise IntegrityFailure(f"the checkpoint is of another ledger ({signed.origin}), not {mine}")
    tree = recompute(ledger, signed.size, progress=progress)
    check_extends(ledger, signed, tree, "the checkpoint")
    return signed, tree


def read_signing_key(path: str) -> SigningKey:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(4096)
    except FileNotFoundError:
        raise InvalidInput(f"--key {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"--key {path}: cannot read it ({exc})") from None
    return SigningKey.parse(text)


def write_signing_key(path: str, key: SigningKey) -> None:
    """Create ``path`` (mode 0600) holding ``key``; an existing file is refused (exit 2)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(
            f"-o {path}: the file exists; a signing key is never overwritten"
        ) from None
    except OSError as exc:
        raise InvalidInput(f"-o {path}: cannot create it ({exc.strerror})") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key.encode())


def _last_signed(path: str, key: VerifierKey) -> Checkpoint | None:
    try:
        with open(path, encoding="utf-8") as fh:
            note = fh.read()
    except FileNotFoundError:
        return None
    return read_checkpoint(note, key, f"the last checkpoint kept in {path}")


@contextmanager
def _locked(key_path: str) -> Iterator[str]:
    """Hold an exclusive lock on the key file (one checkpoint at a time per key);
    yields the path of the last checkpoint kept beside it."""
    fd = os.open(key_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield key_path + LAST_SUFFIX
    finally:
        os.close(fd)
