"""Crypto-shredding at the command line (SPEC §7.4): ``people keys export``,
``people keys import`` and ``people erase``.

A backup of a ledger is its export (ciphertext) plus its keys; the keys
file is the one that can read people's names and notes, so it is written
owner-only and should be kept (and expire) apart from the export.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from uuid import UUID

import click

from ledger.files import replace_private

from .context import Env, output_file_option, pass_env

KEYS_FORMAT = "commitments-keys/1"
MAX_KEYS_FILE = 64 * 1024 * 1024


@click.group()
def keys() -> None:
    """Back up and restore people's keys (the key store, SPEC §7.4).

    A backup is 'commitments export' (names and notes sealed) plus this
    file of keys; keep them apart, the keys file owner-only, and let old
    keys files expire: an erased person's key lives on in every keys file
    made before the erasure (see docs/privacy.md).
    """


@keys.command("export")
@output_file_option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The keys file to write (created owner-only, 0600), or - for stdout.",
)
@pass_env
def keys_export(env: Env, output: str) -> None:
    """Write every person's key (erased people: null) to a keys file.

    The first line is {"format": "commitments-keys/1", "ledger_id": ...};
    then one {"subject", "key"} line per person, the key in base64.

    \b
    Examples:
      commitments people keys export -o keys-2026-03-31.jsonl
    """
    ledger = env.existing_ledger()
    lid = ledger.ledger_id()
    rows = ledger.keys.export_keys()
    lines = [json.dumps({"format": KEYS_FORMAT, "ledger_id": None if lid is None else str(lid)})]
    lines += [
        json.dumps(
            {
                "subject": str(subject),
                "key": None if key is None else base64.b64encode(key).decode("ascii"),
            }
        )
        for subject, key in rows
    ]
    text = "\n".join(lines) + "\n"
    if output == "-":
        click.echo(text, nl=False)
    else:
        replace_private(output, text)
    destroyed = sum(1 for _, k in rows if k is None)
    click.echo(f"exported {len(rows) - destroyed} keys ({destroyed} erased)", err=True)


@keys.command("import")
@click.argument("file", type=click.File("rb", lazy=False))
@pass_env
def keys_import(env: Env, file: Any) -> None:
    """Restore keys from a keys file (all or nothing).

    Keys the store lacks are added; an erased person stays erased (a
    restore never brings a destroyed key back); a person whose key differs
    from the file's refuses the whole file (exit 4), and so does a file
    with no key (erased there) for someone whose key is here and whose
    erasure this ledger has not recorded: use 'people erase'. A malformed
    file is refused (exit 2). Nothing is written on a refusal.

    \b
    Examples:
      commitments people keys import keys-2026-03-31.jsonl
    """
    from ledger.errors import RuleViolation

    rows, ledger_id = parse_keys_file(file.read(MAX_KEYS_FILE + 1))
    ledger = env.ledger()
    mine = ledger.ledger_id()
    if mine is not None and ledger_id is not None and str(mine) != ledger_id:
        raise RuleViolation(
            f"people keys import: the file holds the keys of ledger {ledger_id}, "
            f"not of this ledger ({mine}); nothing was imported"
        )
    store = ledger.keys
    _refuse_shredding(ledger, [s for s, k in rows if k is None and store.key(s) is not None])
    try:
        changed = store.import_keys(rows)
    except ValueError as exc:
        raise RuleViolation(f"people keys import: {exc}") from None
    click.echo(f"read {len(rows)}, imported {changed}", err=True)


def _refuse_shredding(ledger: Any, subjects: list[UUID]) -> None:
    """A null key (erased there) for someone whose key is live here is taken
    only if this ledger recorded their erasure (a ``Person.Erased`` whose key
    destruction did not finish): otherwise the file would shred them with no
    record of who and why, and 'people erase' could no longer find them by
    name. Exit 4, before anything is written."""
    from ledger.errors import NotFound, RuleViolation

    for subject in subjects:
        try:
            erased = ledger.person(subject).erased
        except NotFound:
            erased = False
        if not erased:
            raise RuleViolation(
                f"people keys import: the file has no key for {subject} (erased where it "
                "was made) but this ledger holds their key and has not erased them; "
                "run 'people erase' here, which records why; nothing was imported"
            )


def parse_keys_file(raw: bytes) -> tuple[list[tuple[UUID, bytes | None]], str | None]:
    """The (subject, key) rows of a keys file and the ledger id it names;
    :class:`InvalidInput` (exit 2) naming the first bad line."""
    from ledger.errors import InvalidInput
    from ledger.keys import KEY_BYTES

    if len(raw) > MAX_KEYS_FILE:
        raise InvalidInput(f"people keys import: the file is over {MAX_KEYS_FILE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("people keys import: the file is not UTF-8") from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise InvalidInput("people keys import: the file is empty")

    def bad(n: int, why: str) -> InvalidInput:
        return InvalidInput(f"people keys import: line {n}: {why}; nothing was imported")

    def load(n: int, line: str) -> dict[str, Any]:
        from ledger.audit import check_size

        try:  # a line nested 100,000 deep would exhaust the parser's recursion
            check_size(f"line {n}", line)
        except InvalidInput as exc:
            raise bad(n, str(exc).removeprefix(f"line {n}: ")) from None
        try:
            obj = json.loads(line)
        except ValueError:
            raise bad(n, "not JSON") from None
        if not isinstance(obj, dict):
            raise bad(n, "not a JSON object")
        return obj

    n, first = lines[0]
    head = load(n, first)
    if head.get("format") != KEYS_FORMAT:
        raise bad(n, f'not a keys file (the first line must have "format": "{KEYS_FORMAT}")')
    ledger_id = head.get("ledger_id")
    if ledger_id is not None and not isinstance(ledger_id, str):
        raise bad(n, "ledger_id is not text or null")
    rows: list[tuple[UUID, bytes | None]] = []
    seen: set[UUID] = set()
    for n, line in lines[1:]:
        obj = load(n, line)
        if set(obj) != {"subject", "key"}:
            raise bad(n, 'a key line is {"subject", "key"} and nothing else')
        try:
            subject = UUID(obj["subject"])
        except (TypeError, ValueError, AttributeError):
            raise bad(n, "subject is not a UUID") from None
        if str(subject) != obj["subject"]:
            raise bad(n, "subject is not a lower-case UUID with dashes")
        if subject in seen:
            raise bad(n, f"subject {subject} appears twice")
        seen.add(subject)
        key = obj["key"]
        if key is None:
            rows.append((subject, None))
            continue
        if not isinstance(key, str):
            raise bad(n, "key is not base64 text or null")
        try:
            decoded = base64.b64decode(key, validate=True)
        except (binascii.Error, ValueError):
            raise bad(n, "key is not base64") from None
        if len(decoded) != KEY_BYTES:
            raise bad(n, f"key is {len(decoded)} bytes, not {KEY_BYTES}")
        rows.append((subject, decoded))
    return rows, ledger_id


@click.command()
@click.argument("name")
@click.option(
    "--reason",
    required=True,
    help="Why (kept in clear in the ledger: a request number, not the person's name).",
)
@pass_env
def erase(env: Env, name: str, reason: str) -> None:
    """Erase a person (right to erasure): destroy their key, record Person.Erased.

    For a GDPR Art. 17 request.
    Their name and every text sealed under their key (sessions, their own
    commitments' texts, their replies) can no longer be read by anyone; the
    events stay as they were, so verify, digests and checkpoints still pass.
    The person shows as erased:<8 hex> and their texts as [erased]; verdicts,
    counts and signals are unchanged. The read model is rebuilt without the
    clear text (other read models when they next catch up). Copies made
    before (exports, keys files, pages) are not reached: see docs/privacy.md.
    An unknown name is exit 3; an already erased person exit 4.

    \b
    Examples:
      commitments people erase "Anna Snelling" --reason "request 2026-17"
    """
    from uuid import UUID

    from ledger.errors import NotFound, PersonErased
    from projections.catchup import catch_up, open_current
    from projections.names import unknown_person_message
    from projections.people import People, check_name, known_names

    name = check_name(name, "NAME")
    ledger = env.ledger()
    rm = open_current(env.db, env.views_path, ledger=ledger)
    try:
        row = rm.conn.execute(
            "SELECT subject, erased FROM people WHERE name = ? ORDER BY erased, position LIMIT 1",
            (name,),
        ).fetchone()
        if row is None:
            raise NotFound(unknown_person_message("person", name, known_names(rm.conn)))
        subject = UUID(str(row[0]))
        if row[1]:
            raise PersonErased(f"{name} was erased already; nothing was written")
        people = People(rm.conn)
        actor = people.actor(env.actor)
    finally:
        rm.close()  # no read transaction may hold the read model's log while it is purged
    ledger.erase_person(subject, reason=reason, actor=actor, register=people.pending)
    catch_up(ledger, env.views_path)  # the key store changed: rebuilt without the clear text
    click.echo(f"erased:{subject.hex[:8]}: key destroyed, Person.Erased recorded", err=True)
