"""Audit commands: export the ledger as a hash-chained JSON Lines stream,
verify the chain against a digest kept elsewhere, and import an export."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from typing import IO, Any

import click

from .context import Env, output_file_option, pass_env, progress_bar


def _progress(items: Iterator[Any], label: str, length: int | None) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal; the items unchanged otherwise."""
    if not sys.stderr.isatty() or not length:
        yield from items
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        for item in items:
            yield item
            bar.update(1)


@click.command()
@output_file_option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Write to FILE instead of stdout.",
)
@click.option(
    "--since",
    type=click.IntRange(min=0),
    default=0,
    metavar="POSITION",
    help="Only events after POSITION; the chain continues from the event at POSITION.",
)
@click.option(
    "--decrypt",
    is_flag=True,
    help="Write an analysis copy with names and free text opened with the key store "
    "(erased people: erased:<8 hex>, [erased]). Import refuses it.",
)
@click.option(
    "--pseudonymise",
    is_flag=True,
    help="Write an analysis copy with people as p-<8 hex> and free text [withheld]. "
    "Import refuses it.",
)
@pass_env
def export(env: Env, output: str, since: int, decrypt: bool, pseudonymise: bool) -> None:
    """Export the ledger as JSON Lines, one hash-chained event per line.

    Each line is {"position", "stream", "version", "type", "recorded_at",
    "data", "prev", "hash"}; see docs/audit.md. With --since, append the
    output to an earlier export and the chain still verifies.

    Names and free text are written as stored: sealed (ciphertext). A
    backup is the export plus 'people keys export'. --decrypt and
    --pseudonymise write analysis copies instead, whose first line says so;
    import refuses them (see docs/privacy.md).

    \b
    Examples:
      commitments export -o ledger.jsonl
      commitments export --since "$(tail -n1 ledger.jsonl | jq .position)" >> ledger.jsonl
      commitments export --pseudonymise -o for-hr.jsonl
    """
    from ledger.audit import export_lines
    from ledger.errors import InvalidInput

    if decrypt and pseudonymise:
        raise InvalidInput("give --decrypt or --pseudonymise, not both")
    if (decrypt or pseudonymise) and since:
        raise InvalidInput("--since goes with a plain export, not an analysis copy")
    ledger = env.existing_ledger()
    if decrypt or pseudonymise:
        from ledger.analysis import analysis_lines

        store = _keystore_for_decrypt(env, ledger) if decrypt else None
        lines = analysis_lines(ledger, "decrypted" if decrypt else "pseudonymised", store)
    else:
        lines = export_lines(ledger, since=since)
    length = (ledger.recorder.max_notification_id() or 0) - since
    created = False
    if output != "-":
        from .safe import create_private_file

        created = create_private_file(output)  # an export holds every judgement: owner-only
    try:
        with click.open_file(output, "w", encoding="utf-8", atomic=output != "-") as out:
            _write(out, _progress(lines, "exporting", length))
    except BaseException:
        if created:
            os.unlink(output)
        raise


def _keystore_for_decrypt(env: Env, ledger: Any) -> Any:
    """The ledger's key store, which --decrypt needs (exit 3 if there is none)."""
    from ledger.errors import NotFound

    store = ledger.keys
    if not store.export_keys():
        raise NotFound(
            "export --decrypt: the ledger has no key store (or it holds no key); "
            "nothing was written"
        )
    return store


def _by_size(lines: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Lines of a file, with a progress bar by bytes read."""
    with click.progressbar(length=size, label="importing", file=sys.stderr) as bar:
        for line in lines:
            yield line
            bar.update(len(line))


def _write(out: IO[str], lines: Iterator[str]) -> None:
    buffer: list[str] = []
    for line in lines:
        buffer.append(line)
        if len(buffer) >= 1000:
            out.write("\n".join(buffer) + "\n")
            buffer.clear()
    if buffer:
        out.write("\n".join(buffer) + "\n")


@click.command("import")
@click.argument("file", type=click.File("rb", lazy=False))
@click.option(
    "--upgrade",
    is_flag=True,
    help="An export written before the people registry (names in clear): register "
    "its people, seal their names, name them by subject id (new hashes).",
)
@pass_env
def import_(env: Env, file: IO[bytes], upgrade: bool) -> None:
    """Import an export (FILE.jsonl, or - for stdin), all or nothing.

    The file's hash chain and every event are checked first; events already
    in the ledger with identical content are skipped; an event whose stream
    and version exist with other content refuses the whole file (exit 5).
    Every new event is applied through the ledger's rules, as the command
    that writes it would apply it, and its recorded_at must not be before
    the ledger's latest nor more than 5 minutes ahead (exit 4 naming the
    line otherwise). Lines over 16 MiB or nested deeper than 64 levels are
    refused (exit 2). Prints "read N, imported N, already present N" on
    stderr.

    With --upgrade, an export written before the people registry (names in
    clear) is upgraded as it is imported: each name becomes a registered
    person whose name is sealed in the key store, the events name them by
    subject id, and the hash chain is computed again (the old file's hashes
    and digests do not apply to the result; see docs/events.md). Without it,
    such a file imports as it is, hash for hash, its names read as legacy
    names; an export in today's shape is the same either way.

    \b
    Examples:
      commitments --db copy.db import ledger.jsonl
      commitments export | commitments --db copy.db import -
      commitments --db new.db import --upgrade release-2-export.jsonl
    """
    from ledger.audit import import_lines, limited_lines

    lines: Iterator[bytes] = _refusing_analysis_copies(limited_lines(file))
    if sys.stderr.isatty() and hasattr(file, "fileno"):
        info = os.fstat(file.fileno())
        if stat.S_ISREG(info.st_mode):  # a file, not a pipe: its size is known
            lines = _by_size(lines, info.st_size)
    from ledger.upgrade import maybe_upgrade

    ledger = env.ledger()
    # an export written before the people registry: names registered and sealed first
    upgraded = maybe_upgrade(lines, lambda: ledger.keys) if upgrade else lines
    people = env.people()
    actor = people.actor(env.actor)
    summary = import_lines(ledger, upgraded, actor=actor, register=people.pending)
    click.echo(
        f"read {summary.read}, imported {summary.imported}, already present {summary.present}",
        err=True,
    )


def _refusing_analysis_copies(lines: Iterator[bytes]) -> Iterator[bytes]:
    """The lines, after checking (before the ledger is opened) that the first
    is not an analysis copy's header (exit 2, nothing written)."""
    import itertools

    from ledger.audit import refuse_analysis_copy

    head: list[bytes] = []
    for number, raw in enumerate(lines, start=1):
        head.append(raw)
        if raw.strip():
            refuse_analysis_copy(number, raw)
            break
    return itertools.chain(head, lines)


@click.command()
@click.option("--digest", metavar="HEX", help="Fail (exit 4) unless the head hash is HEX.")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    metavar="FILE",
    help="Fail (exit 4) unless this signed checkpoint verifies and the ledger extends it.",
)
@click.option(
    "--proof",
    "proof_file",
    metavar="FILE",
    help="Check a tlog-proof file offline (no ledger needed); prints its event.",
)
@click.option(
    "--public-key",
    "key",
    metavar="KEY",
    help="Verifier key (NAME+<key id>+<base64>) or a file holding it.",
)
@pass_env
def verify(
    env: Env,
    digest: str | None,
    checkpoint_file: str | None,
    proof_file: str | None,
    key: str | None,
) -> None:
    """Recompute the hash chain over the whole ledger; print the event count
    and the head hash.

    Every stored event must be the canonical JSON of its content, with a
    canonical stream id, a known type and its stream's next version; the
    first that is not fails (exit 4) naming its position. A ledger written
    before release 2 fails with how to upgrade it (export, then import into
    a new ledger: every hash is kept).

    Keep the head hash somewhere the ledger's operator cannot edit (mail it,
    commit it); later, --digest fails (exit 4) if any event was edited,
    inserted or deleted, or the tail was cut off, since it was taken.

    With --checkpoint and --public-key: check the checkpoint's signature, then
    that the ledger's first SIZE events still give its root (exit 4 if not:
    history was rewritten, even with every hash recomputed). With --proof and
    --public-key: check a tlog-proof file offline and print the event it
    proves. See docs/audit.md.

    \b
    Examples:
      commitments verify
      commitments verify --digest 3f5c...e1a0
      commitments verify --checkpoint 2026-Q1.checkpoint --public-key auditor.pub
      commitments verify --proof 42.tlog-proof --public-key auditor.pub
    """
    from ledger.errors import InvalidInput

    if proof_file is not None or checkpoint_file is not None:
        if key is None:
            raise InvalidInput("--checkpoint and --proof need --public-key KEY")
        if proof_file is not None and (checkpoint_file is not None or digest is not None):
            raise InvalidInput("--proof is checked alone: drop --checkpoint and --digest")
        from .checkpoints import verify_checkpoint, verify_proof

        if proof_file is not None:
            verify_proof(proof_file, key)
            return
        if digest is not None:
            raise InvalidInput("give --digest or --checkpoint, not both")
        assert checkpoint_file is not None
        verify_checkpoint(env, checkpoint_file, key)
        return
    if key is not None:
        raise InvalidInput("--public-key goes with --checkpoint or --proof")
    from ledger.audit import verify as verify_chain

    ledger = env.existing_ledger()
    with progress_bar("verifying", lambda: ledger.recorder.max_notification_id() or 0) as progress:
        count, head = verify_chain(ledger, digest, progress=progress)
    click.echo(f"{count} {head}")
