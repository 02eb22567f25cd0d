"""``commitments people``: the registry of people (SPEC §7.4).

Every person has a random subject id; events name people by it and a
person's name is sealed in their own events. These commands register people
(one, or a roster from a CSV), list and show them, and correct a name. Once
``people add`` or ``people import`` has been used, a command naming someone
unregistered is refused (exit 3, with the closest names) unless it passes
``--new-person``.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from .context import Env, open_read_model, output_file_option, pass_env
from .params import PERSON, format_option

if TYPE_CHECKING:
    from projections.people import PersonRow


DATE = click.STRING  # checked as the commands check dates


@click.group()
def people() -> None:
    """The people the ledger knows: register, list, show, rename."""


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    from ledger.commands import RegisterPerson, validate

    try:
        return validate(RegisterPerson, name="x", effective=value).effective
    except Exception as exc:
        from ledger.errors import InvalidInput

        raise InvalidInput(f"{option}: {str(exc).split(': ', 1)[-1]}") from None


def _today(env: Env) -> date:
    return env.ledger().clock().date()


def _summary(new: int, changes: int, unchanged: int) -> str:
    return f"{new} registered, {changes} roster changes, {unchanged} unchanged"


@people.command("add")
@click.argument("name")
@click.option("--manager", help="Who they report to (a registered person).")
@click.option("--team", help="Their team. Default: their manager's.")
@click.option("--region", help="Their region.")
@click.option("--effective", type=DATE, help="Since when this roster entry holds (YYYY-MM-DD).")
@click.option(
    "--new-person",
    is_flag=True,
    help="Register a --manager named for the first time too, once names are strict.",
)
@pass_env
def add(
    env: Env,
    name: str,
    manager: str | None,
    team: str | None,
    region: str | None,
    effective: str | None,
    new_person: bool,
) -> None:
    """Register NAME; prints their subject id.

    A name already registered is refused (exit 4): 'people import' changes a
    roster entry. After the first 'people add' or 'people import', names are
    strict: a command naming someone unregistered is refused unless it
    passes --new-person.

    \b
    Example:
      commitments people add "Dana Lee" --manager "Omar Reyes" --region West
    """
    from ledger.errors import RuleViolation
    from ledger.formats.roster_csv import RosterRow
    from projections.people import check_name, find, plan_roster

    name = check_name(name, "name")
    row = RosterRow(
        0,
        name,
        None if manager is None else check_name(manager, "--manager"),
        None if team is None else check_name(team, "--team"),
        None if region is None else check_name(region, "--region"),
    )
    if row.manager == name:
        from ledger.errors import InvalidInput

        raise InvalidInput(f"{name!r} cannot be their own manager")
    when = _date(effective, "--effective")
    people_ = env.people()
    if find(people_.conn, name) is not None:
        raise RuleViolation(
            f"{name!r} is registered already; 'people import' changes a roster entry, "
            "'people rename' a name"
        )
    plan = plan_roster(
        people_.conn,
        [row],
        when,
        change_effective=when or _today(env),
        strict_managers=not new_person,
    )
    actor = people_.actor(env.actor)
    env.ledger().register_people(plan.new, actor=actor, register=people_.pending)
    click.echo(next(p.ref for p in plan.new if p.name == name))


@people.command("import")
@click.argument("file", type=click.File("rb"), metavar="FILE.csv")
@click.option("--name-column", required=True, metavar="C", help="Column naming the person.")
@click.option("--manager-column", metavar="C", help="Column naming their manager.")
@click.option("--team-column", metavar="C", help="Column naming their team (default: the manager).")
@click.option("--region-column", metavar="C", help="Column naming their region.")
@click.option(
    "--effective",
    type=DATE,
    help="Since when the roster holds (YYYY-MM-DD). Default: new entries from the start, "
    "changes from today.",
)
@pass_env
def import_(
    env: Env,
    file: BinaryIO,
    name_column: str,
    manager_column: str | None,
    team_column: str | None,
    region_column: str | None,
    effective: str | None,
) -> None:
    """Register the people of a roster CSV ('-' reads stdin), all or nothing.

    Each row is a person; their manager (registered too if new), team and
    region. A person already registered whose roster entry differs gets a
    new, dated roster change; one whose entry is the same, nothing. Every
    cell is checked as the commands check a name (a bad row: exit 2, the
    file's line numbers listed, nothing written). The summary goes to stderr.

    \b
    Example, on the CRM sample (35 agents and their 6 managers):
      commitments people import examples/crm/sales_teams.csv \\
          --name-column sales_agent --manager-column manager \\
          --region-column regional_office
    """
    from ledger.formats.activity_csv import ImportRejected
    from ledger.formats.roster_csv import read_roster
    from projections.people import plan_roster

    from .safe import one_line

    when = _date(effective, "--effective")
    shown = str(getattr(file, "name", "<stdin>"))
    if shown in ("-", "<stdin>") or not isinstance(getattr(file, "name", None), str):
        shown = "<stdin>"
    try:
        rows = read_roster(
            file,
            name_column=name_column,
            manager_column=manager_column,
            team_column=team_column,
            region_column=region_column,
        )
    except ImportRejected as exc:
        for error in exc.errors:
            click.echo(one_line(f"{shown}:{error.line}: {error.reason}"), err=True)
        raise
    people_ = env.people()
    plan = plan_roster(people_.conn, rows, when, change_effective=when or _today(env))
    actor = people_.actor(env.actor)
    env.ledger().register_people(
        plan.new, changes=plan.changes, actor=actor, register=people_.pending
    )
    click.echo(
        f"{shown}: {len(rows)} people read, "
        + _summary(len(plan.new), len(plan.changes), plan.unchanged),
        err=True,
    )


def _rows(env: Env, team: str | None, region: str | None) -> list[PersonRow]:
    from projections.people import roster

    with open_read_model(env) as rm:
        rows = roster(rm.conn)
    return [
        r
        for r in rows
        if (team is None or r.team == team) and (region is None or r.region == region)
    ]


COLUMNS = ("name", "subject", "manager", "team", "region", "erased")


@people.command("list")
@click.option("--team", type=PERSON, help="Only people of this team.")
@click.option("--region", type=PERSON, help="Only people of this region.")
@format_option("table", "json", "csv")
@pass_env
def list_(env: Env, team: str | None, region: str | None, fmt: str) -> None:
    """Everyone the ledger knows, by name, with their manager, team and region.

    Includes the people an older release wrote by name (legacy persons), with
    an id derived from the name for display. JSON: an array of {"name",
    "subject", "manager", "team", "region", "erased"}.

    \b
    Example:
      commitments people list --region Central --format json
    """
    objs = [r.as_json() for r in _rows(env, team, region)]
    click.echo(_render(objs, fmt))


def _render(objs: list[dict[str, Any]], fmt: str) -> str:
    from .render import csv_text, json_text, text_table

    if fmt == "json":
        return json_text(objs)
    if fmt == "csv":
        return csv_text(objs, COLUMNS).rstrip("\n")
    return text_table(COLUMNS, [[o[c] for c in COLUMNS] for o in objs])


def _one(env: Env, name: str) -> PersonRow:
    from ledger.errors import NotFound
    from projections.names import unknown_person_message
    from projections.people import known_names, roster

    with open_read_model(env) as rm:
        rows = roster(rm.conn)
        known = known_names(rm.conn)
    for r in rows:
        if r.name == name and not r.erased:
            return r
    raise NotFound(unknown_person_message("person", name, known))


@people.command("show")
@click.argument("name", type=PERSON)
@format_option("table", "json")
@pass_env
def show(env: Env, name: str, fmt: str) -> None:
    """One person: subject id, manager, team, region, erased.

    \b
    Example:
      commitments people show "Anna Snelling" --format json
    """
    obj = _one(env, name).as_json()
    if fmt == "json":
        from .render import json_text

        click.echo(json_text(obj))
        return
    width = max(len(c) for c in COLUMNS)
    from .render import cell

    click.echo("\n".join(f"{c.ljust(width)}  {cell(obj[c])}" for c in COLUMNS))


@people.command("rename")
@click.argument("name", type=PERSON)
@click.option("--to", "new_name", required=True, help="The corrected name.")
@pass_env
def rename(env: Env, name: str, new_name: str) -> None:
    """Correct a person's name (GDPR Art. 16): a new event with the new name,
    sealed under their key. Every read shows the new name from then on, for
    their whole history; the old name stays only in their earlier events.

    \b
    Example:
      commitments people rename "Ana Snelling" --to "Anna Snelling"
    """
    from uuid import UUID

    from ledger.errors import RuleViolation
    from projections.people import check_name, known_names

    name = check_name(name, "NAME")  # as export and erase: a name no command accepts is exit 2
    new_name = check_name(new_name, "--to")  # checked before any lookup
    person = _one(env, name)
    people_ = env.people()
    if new_name in known_names(people_.conn):
        raise RuleViolation(f"{new_name!r} already names someone; nothing was written")
    actor = people_.actor(env.actor)
    subject = people_.ref(person.name) if person.legacy else person.subject
    env.ledger().rename_person(UUID(subject), new_name, actor=actor, register=people_.pending)


@people.command("export")
@click.argument("name", type=PERSON)
@output_file_option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="Write to FILE (created owner-only, 0600) instead of stdout.",
)
@pass_env
def export(env: Env, name: str, output: str) -> None:
    """Everything the ledger holds about NAME, as JSON: a subject-access export.

    For a GDPR Art. 15 request: their registry entry (every name they
    had, their roster history) and every event naming them (as rep,
    manager, actor or replier; their own Person events; their activity),
    with their own text opened with their key. Nothing about anyone else:
    other people appear as p-<first 8 hex of their subject id>, and text
    that is someone else's under SPEC §7.4 (a manager-owned commitment's
    text in a rep's export, a session note in the manager's) as [withheld],
    its owner named in the event's "withheld". Needs the key store. An
    unknown name is exit 3; an erased person exit 4 (nothing can be read).
    The shape: docs/privacy.md and docs/schemas/subject-access.json.

    \b
    Example:
      commitments people export "Anna Snelling" -o anna-snelling.json
    """
    import json
    from uuid import UUID

    from ledger.errors import NotFound, PersonErased
    from ledger.subject_access import subject_access
    from projections.names import unknown_person_message
    from projections.people import check_name, known_names, roster

    name = check_name(name, "NAME")
    ledger = env.existing_ledger()
    with open_read_model(env) as rm:
        rows = [r for r in roster(rm.conn) if r.name == name]
        known = known_names(rm.conn)
    if not rows:
        raise NotFound(unknown_person_message("person", name, known))
    row = sorted(rows, key=lambda r: r.erased)[0]
    if row.erased:
        raise PersonErased(
            f"{name} was erased: their key is destroyed, so nothing held about them can "
            "be read; there is nothing to export and nothing was written"
        )
    subject = None if row.legacy else UUID(row.subject)
    found = subject_access(ledger, ledger.keys, subject, legacy_name=row.name)
    found["access"] = _access_of(env, str(subject)) if subject is not None else None
    text = json.dumps(found, indent=2, ensure_ascii=False) + "\n"
    if output == "-":
        click.echo(text, nl=False)
    else:
        from ledger.files import replace_private

        replace_private(output, text)
    click.echo(f"{len(found['events'])} events about {name}", err=True)


def _access_of(env: Env, subject: str) -> dict[str, Any]:
    """The server's grants and access log about ``subject`` (none when the
    ledger has no access store: a SQLite one is not created by reading it)."""
    import os

    from ledger.subject_access import access_section

    from .serve.access import access_path, open_access

    if env.ledger_file is not None and not os.path.exists(access_path(env.ledger_file)):
        return access_section(subject, [], [])
    store = open_access(env.db)
    try:
        grants = [g.as_dict() for g in store.grants()]
        log = [e.as_dict() for e in store.entries()]
    finally:
        store.close()
    return access_section(subject, grants, log)


def _privacy_commands() -> None:
    """``people erase`` and ``people keys`` (crypto-shredding, cli/privacy.py)."""
    from .privacy import erase, keys

    people.add_command(erase)
    people.add_command(keys)


_privacy_commands()
