"""Read commands for coaching sessions: ``session list`` and ``session show``
(SPEC §7.1). Notes, strengths, preparation and focus areas come back as they
were recorded, with the ids of the commitments agreed with ``--session``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from .context import Env, open_read_model, pass_env
from .params import PERSON, format_option

if TYPE_CHECKING:
    from projections.query import Moment, ReadModel


COLUMNS = ("id", "on", "rep", "manager", "prepared", "focus", "strengths", "note", "commitments")
TABLE_COLUMNS = ("id", "on", "rep", "manager", "prepared", "focus", "commitments", "note")


@click.command("list")
@click.option("--rep", type=PERSON, help="Only this rep's sessions.")
@click.option("--manager", type=PERSON, help="Only sessions held by this manager.")
@click.option("--from", "first", metavar="DATE", help="Only sessions on or after DATE.")
@click.option("--to", "last", metavar="DATE", help="Only sessions on or before DATE.")
@click.option(
    "--as-of",
    "as_of",
    metavar="T",
    help="What the ledger knew at T: a date (end of that day, UTC) or an ISO "
    "date-time [default: now].",
)
@format_option("table", "json", "csv", "md")
@pass_env
def session_list(
    env: Env,
    rep: str | None,
    manager: str | None,
    first: str | None,
    last: str | None,
    as_of: str | None,
    fmt: str,
) -> None:
    """List coaching sessions by date, each with the commitments agreed in it.

    \b
    Example:
      commitments session list --rep alice
      commitments session list --manager bob --from 2026-01-01 --to 2026-03-31 --format json
    """
    from .read_options import moment

    at = moment(as_of, None)
    with open_read_model(env) as rm:
        sessions = session_list_objects(rm, at, rep, manager, first, last)
    click.echo(render_sessions(sessions, fmt))


def session_list_objects(
    rm: ReadModel,
    at: Moment,
    rep: str | None = None,
    manager: str | None = None,
    from_: str | None = None,
    to: str | None = None,
) -> list[dict[str, Any]]:
    """``session list --format json``: the sessions, by date (as of T only)."""
    from .read_options import date_option

    d1, d2 = date_option("--from", from_), date_option("--to", to)
    rep, manager = rm.named(rep, "rep"), rm.named(manager, "manager")
    return rm.session_objects(
        at.t,
        rep=rep,
        manager=manager,
        first=d1.isoformat() if d1 else None,
        last=d2.isoformat() if d2 else None,
    )


@click.command("show")
@click.argument("session_id", metavar="ID")
@format_option("table", "json")
@pass_env
def session_show(env: Env, session_id: str, fmt: str) -> None:
    """Show one coaching session: preparation, strengths, focus, note, commitments.

    ID is the full id or a unique prefix of at least 6 characters.

    \b
    Example:
      commitments session show 7c01d2
      commitments session show 7c01d2 --format json
    """
    from .read_options import moment
    from .render import json_text

    with open_read_model(env) as rm:
        obj = session_object(rm, moment(None, None), session_id)
    if fmt == "json":
        click.echo(json_text(obj))
        return
    click.echo(_session_text(obj))


def session_object(rm: ReadModel, at: Moment, session: str) -> dict[str, Any]:
    """``session show ID --format json``."""
    sid = rm.resolve(session, "session")
    found = rm.session_objects(at.t, ids=[sid])
    if not found:  # resolved, so recorded: only a clock running backwards gets here
        from ledger.errors import NotFound

        raise NotFound(f"no session with id {sid}")
    return found[0]


def render_sessions(sessions: list[dict[str, Any]], fmt: str) -> str:
    from .render import csv_text, json_text, md_table, text_table

    if fmt == "json":
        return json_text(sessions)
    if fmt == "csv":
        return csv_text(sessions, COLUMNS)
    if fmt == "md":
        return md_table(COLUMNS, [[s[c] for c in COLUMNS] for s in sessions])
    if not sessions:
        return "(no sessions)"
    rows = [
        [*(s[c] for c in TABLE_COLUMNS[:-2]), len(s["commitments"]), s["note"]] for s in sessions
    ]
    return text_table(TABLE_COLUMNS, rows)


def _session_text(obj: dict[str, Any]) -> str:
    from .render import cell, escaped

    s = escaped(obj)
    lines = [
        f"session {s['id']}",
        f"  on {s['on']}: rep {s['rep']}, manager {s['manager']}",
        f"  prepared: {cell(s['prepared'])}",
        f"  strengths: {'; '.join(s['strengths']) or '-'}",
        f"  focus: {'; '.join(s['focus']) or '-'}",
        f"  note: {cell(s['note'])}",
        f"commitments agreed in it ({len(s['commitments'])}):",
    ]
    lines += [f"  {cid}" for cid in s["commitments"]]
    return "\n".join(lines)
