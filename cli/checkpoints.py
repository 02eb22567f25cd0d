"""Signing keys, signed checkpoints and Merkle proofs (SPEC §7.3; docs/audit.md)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from .context import Env, pass_env, progress_bar
from .params import format_option


@click.group()
def keys() -> None:
    """Ed25519 signing keys for checkpoints.

    \b
    Example:
      commitments keys generate -o ledger.key --name example.com/coaching
    """


@keys.command()
@click.option("-o", "--output", required=True, metavar="FILE", help="The new key file (0600).")
@click.option(
    "--name",
    default="commitments",
    show_default=True,
    help="The key's name, in the signature lines (no spaces or '+').",
)
def generate(output: str, name: str) -> None:
    """Write a new Ed25519 signing key to FILE (owner-only; an existing file is
    refused) and print its verifier key, NAME+<key id>+<public key>: give that
    to the auditors, keep FILE secret.

    \b
    Example:
      commitments keys generate -o ledger.key
    """
    from ledger.checkpoints import write_signing_key
    from ledger.notes import SigningKey

    key = SigningKey.generate(name)
    write_signing_key(output, key)
    click.echo(str(key.verifier))


def _refuse_overwrite(env: Env, output: str, key: str) -> None:
    """-o must not name the ledger, its views, the key or the last checkpoint kept beside it."""
    from ledger.checkpoints import LAST_SUFFIX
    from ledger.errors import InvalidInput

    protected = [env.views_path, key, key + LAST_SUFFIX]
    if env.ledger_file is not None:
        protected.append(env.ledger_file)
    target = os.path.realpath(output)
    for path in protected:
        for suffix in ("", "-wal", "-shm"):
            if os.path.realpath(path + suffix) == target:
                raise InvalidInput(f"-o {output}: that is {path + suffix}; choose another file")


@click.command()
@click.option(
    "--key",
    required=True,
    metavar="FILE",
    help="Signing key file (from 'keys generate').",
)
@click.option(
    "-o", "--output", metavar="OUT", help="Write the checkpoint to OUT instead of stdout."
)
@pass_env
def checkpoint(env: Env, key: str, output: str | None) -> None:
    """Sign the ledger's Merkle tree as it is now: a C2SP tlog-checkpoint note
    (origin commitments/<ledger id>, size, root, signature).

    The tree is recomputed from the events. The last checkpoint signed with
    each key is kept beside it (KEY.last); a tree that does not extend it (an
    edited, deleted or truncated history, or another ledger) is refused
    (exit 4) and nothing is signed.

    \b
    Example:
      commitments checkpoint --key ledger.key -o 2026-Q1.checkpoint
    """
    from ledger.checkpoints import sign

    if output is not None:
        _refuse_overwrite(env, output, key)
    ledger = env.existing_ledger()
    with progress_bar("hashing", lambda: ledger.recorder.max_notification_id() or 0) as progress:
        note, _tree = sign(ledger, key, progress=progress)
    if output is None:
        click.echo(note, nl=False)
    else:
        from .safe import write_private_text

        write_private_text(output, note)


@click.group()
def prove() -> None:
    """Merkle proofs that an event is in the ledger, or that a later ledger
    extends an earlier one (RFC 6962; check them with docs/audit.md's verifier).

    \b
    Examples:
      commitments prove inclusion 42 --format tlog-proof --checkpoint q1.checkpoint
      commitments prove consistency 1200
    """


def _tree_conn(env: Env) -> Any:
    """The read model caught up, its Merkle tree included, opened for reading in
    one snapshot. A current SQLite ledger's proof never opens the event store."""
    import sqlite3

    from projections.catchup import ensure_current, tracked_position
    from projections.tree import catch_up_tree, last_position

    ensure_current(env.db, env.views_path)
    for _attempt in range(3):
        conn = sqlite3.connect(env.views_path, timeout=30)
        conn.execute("BEGIN")
        if last_position(conn) == tracked_position(conn)[0]:
            return conn
        conn.close()  # the tree lags the tables (only proofs extend it): extend it
        catch_up_tree(env.ledger(), env.views_path)
    return conn


@prove.command()
@click.argument("position", type=int)
@click.option("--size", type=int, help="Prove inclusion in the tree of the first N events.")
@format_option("json", "tlog-proof")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    metavar="FILE",
    help="Prove inclusion in the tree this checkpoint signs (required by tlog-proof).",
)
@pass_env
def inclusion(
    env: Env, position: int, size: int | None, fmt: str, checkpoint_file: str | None
) -> None:
    """Prove that the event at POSITION (as 'show' and the export print it) is
    in the ledger's tree (default: all events now).

    JSON: {"size", "root", "leaf_index", "leaf_hash", "path"}, hashes in hex.
    --format tlog-proof writes a C2SP tlog-proof file (with --checkpoint):
    the index, the path, the signed checkpoint and the event's canonical
    bytes, which 'verify --proof' checks offline with the verifier key alone.

    \b
    Examples:
      commitments prove inclusion 42
      commitments prove inclusion 42 --format tlog-proof --checkpoint q1.checkpoint
    """
    from ledger.errors import IntegrityFailure, InvalidInput

    if position < 1:
        raise InvalidInput(f"POSITION {position}: a position is 1 or more")
    if fmt == "tlog-proof" and checkpoint_file is None:
        raise InvalidInput("--format tlog-proof needs --checkpoint FILE (the tree it proves into)")
    note = signed = None
    if checkpoint_file is not None:
        from ledger.notes import Checkpoint

        note = _read_text(checkpoint_file, "--checkpoint")
        cut = note.rfind("\n\n")
        signed = Checkpoint.parse(note[: cut + 1] if cut >= 0 else note, "--checkpoint")
        if size is not None and size != signed.size:
            raise InvalidInput(f"--size {size} is not the checkpoint's size {signed.size}")
        size = signed.size
    ledger = None
    if signed is not None:
        from ledger.checkpoints import origin

        ledger = env.existing_ledger()
        if signed.origin != origin(ledger):
            raise IntegrityFailure(
                f"--checkpoint is of another ledger ({signed.origin}), not {origin(ledger)}"
            )
    from projections.tree import event_bytes, prove_inclusion

    conn = _tree_conn(env)
    try:
        proof = prove_inclusion(conn, position, size)
        data = event_bytes(conn, ledger, proof) if ledger is not None else b""
    finally:
        conn.close()
    if signed is not None and proof.root != signed.root:
        raise IntegrityFailure(
            f"the ledger's first {signed.size} events do not give the checkpoint's root: "
            "history was rewritten since it was signed"
        )
    if fmt == "json":
        click.echo(json.dumps(proof.as_json(), indent=2))
        return
    from ledger.notes import TlogProof

    assert note is not None
    click.echo(TlogProof(proof.leaf_index, proof.path, note, data).text(), nl=False)


@prove.command()
@click.argument("old_size", type=int)
@click.option("--size", type=int, help="The newer tree: the first N events (default: all).")
@format_option("json")
@pass_env
def consistency(env: Env, old_size: int, size: int | None, fmt: str) -> None:
    """Prove that the tree of the first OLD_SIZE events is a prefix of the tree
    now (or of the first N events).

    JSON: {"old_size", "new_size", "old_root", "new_root", "path"}, hashes in hex.

    \b
    Example:
      commitments prove consistency 1200
    """
    from projections.tree import prove_consistency

    if size is not None and old_size > size:
        from ledger.errors import InvalidInput

        raise InvalidInput(f"OLD_SIZE {old_size} is larger than --size {size}")
    conn = _tree_conn(env)
    try:
        obj = prove_consistency(conn, old_size, size)
    finally:
        conn.close()
    click.echo(json.dumps(obj, indent=2))


def _read_text(path: str, option: str) -> str:
    from ledger.errors import InvalidInput

    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read(1 << 20)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{option} {path}: cannot read it as UTF-8 text ({exc})") from None


def public_key(value: str) -> Any:
    """A verifier key given as the string or as a file holding it."""
    from ledger.notes import VerifierKey

    if os.path.isfile(value):
        value = _read_text(value, "--public-key")
    return VerifierKey.parse(value)


def verify_checkpoint(env: Env, checkpoint_file: str, key: str) -> None:
    from ledger.checkpoints import verify

    verifier = public_key(key)
    note = _read_text(checkpoint_file, "--checkpoint")
    ledger = env.existing_ledger()
    with progress_bar("hashing", lambda: ledger.recorder.max_notification_id() or 0) as progress:
        signed, tree = verify(ledger, note, verifier, progress=progress)
    click.echo(
        f"checkpoint verified: the ledger's first {signed.size} events give its signed root; "
        f"the ledger holds {tree.size} events"
    )


def verify_proof(proof_file: str, key: str) -> None:
    """Offline: the proof's checkpoint signature and inclusion path; prints the event."""
    from ledger.notes import TlogProof

    verifier = public_key(key)
    proof = TlogProof.parse(_read_text(proof_file, "--proof"))
    signed = proof.verify(verifier)
    assert proof.extra is not None
    from .safe import one_line

    click.echo(one_line(proof.extra.decode("utf-8", errors="replace")))
    click.echo(
        f"proof verified: this event is leaf {proof.index} of the tree of {signed.size} events "
        f"signed by {verifier.name} for {signed.origin}",
        err=True,
    )
