"""Read commands: ``show``, ``list`` and ``history``.

Each catches the read model up first (a no-op when nothing is new), then asks
:mod:`projections.query`, which judges with :mod:`ledger.rules`, so the three
commands agree. Data goes to stdout in the chosen format; messages to stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import click

from ledger import rules

from . import render
from .context import Env, open_read_model, pass_env
from .params import PERSON, format_option
from .pseudonyms import Pseudonymiser, pseudonymise_option
from .read_options import (
    WindowDays,
    as_of_options,
    date_option,
    moment,
    output_option,
    window_days_option,
)
from .render import cell, escaped, json_text, md_table, text_table, write_output

if TYPE_CHECKING:
    from projections.query import History, Item, Moment, ReadModel


STATUSES = rules.STATUSES
VERDICTS = rules.VERDICTS
LIST_COLUMNS = (
    "id",
    "rep",
    "owner",
    "proposed_by",
    "manager",
    "focus",
    "behavior",
    "target",
    "period",
    "metric",
    "start",
    "due",
    "status",
    "expected",
    "actual",
    "ratio",
    "follow_through",
    "result",
    "verdict",
    "supported_by",
    "events",
    "pace_expected_so_far",
    "pace_actual_so_far",
    "reply",
)
TABLE_COLUMNS = (
    "id",
    "rep",
    "owner",
    "manager",
    "focus",
    "start",
    "due",
    "status",
    "expected",
    "actual",
    "ratio",
    "verdict",
    "reply",
)


# -- rendering ---------------------------------------------------------------


def reply_marker(replies: Sequence[dict[str, Any]]) -> str | None:
    """The ``reply`` column of ``list`` and ``history`` tables: ``contested`` when a
    reply contests the verdict, ``replied`` when there are only other replies,
    empty (``-``) when nobody replied. The replies themselves are in ``show``
    and the JSON."""
    if any(r["contests"] for r in replies):
        return "contested"
    return "replied" if replies else None


def flat(obj: dict[str, Any]) -> dict[str, Any]:
    """The per-commitment object with ``pace`` spread into columns and the
    replies as their marker (CSV, markdown, tables)."""
    out = {k: v for k, v in obj.items() if k not in ("pace", "replies")}
    pace = obj.get("pace") or {}
    out["pace_expected_so_far"] = pace.get("expected_so_far")
    out["pace_actual_so_far"] = pace.get("actual_so_far")
    out["reply"] = reply_marker(obj.get("replies") or ())
    return out


def commitments_csv(objs: Sequence[dict[str, Any]]) -> str:
    """Per-commitment objects as CSV: every column of ``list``, flattened (:func:`flat`)."""
    return render.csv_text([flat(o) for o in objs], LIST_COLUMNS)


def render_items(
    items: Sequence[Item], fmt: str, transform: Callable[[Any], Any] | None = None
) -> str:
    objs = [i.as_dict() for i in items]
    if transform is not None:
        objs = transform(objs)
    if fmt == "json":
        return json_text(objs)
    if fmt == "csv":
        return commitments_csv(objs)
    if fmt == "md":
        return md_table(LIST_COLUMNS, [[flat(o)[c] for c in LIST_COLUMNS] for o in objs])
    if not objs:
        return "(no commitments)"
    return text_table(TABLE_COLUMNS, [[flat(o)[c] for c in TABLE_COLUMNS] for o in objs])


# -- show --------------------------------------------------------------------


@click.command()
@click.argument("commitment")
@as_of_options
@format_option("table", "json")
@pass_env
def show(env: Env, commitment: str, as_of: str | None, on: str | None, fmt: str) -> None:
    """Show one commitment: terms, status, verdict and every event behind it.

    \b
    Example:
      commitments show 3f2a9c
      commitments show 3f2a9c --as-of 2026-02-01 --format json
    """
    at = moment(as_of, on)
    with open_read_model(env) as rm:
        out = show_object(rm, at, commitment)
    if fmt == "json":
        click.echo(json_text(out))
        return
    click.echo(_show_text(out, out["terms"], out["log"], at))


def show_object(rm: ReadModel, at: Moment, commitment: str) -> dict[str, Any]:
    """``show --format json``: the per-commitment object with its terms and every event."""
    cid = rm.resolve(commitment)
    item = rm.item(cid, at)
    return {
        "as_of": at.as_of_text,
        "on": at.d,
        **item.as_dict(),
        "terms": item.terms(),
        "log": [e.as_dict() for e in rm.log(cid, at)],
    }


def _show_text(
    obj: dict[str, Any], terms: dict[str, Any], log: list[dict[str, Any]], at: Moment
) -> str:
    obj, terms, log = escaped(obj), escaped(terms), escaped(log)
    if terms["measure"] == "done":
        measure = "done (a one-off action)"
    else:
        unit = f" {terms['unit']}" if terms["unit"] else ""
        measure = f"{obj['target']}{unit} per {obj['period']}"
        if obj["metric"]:
            measure += f", measured by activity metric {obj['metric']!r}"
    lines = [
        f"commitment {obj['id']}",
        f"  as of {at.as_of_text}, on {at.d}",
        f"  rep {obj['rep']}, manager {obj['manager']}, owner {obj['owner']}, focus {obj['focus']}",
        f"  behavior: {obj['behavior']}",
        f"  measure: {measure}" + (f" (baseline {terms['baseline']})" if terms["baseline"] else ""),
        f"  window: {obj['start']} to {obj['due']} ({terms['window_days']} days), "
        f"kept at {terms['kept_at']}, partial at {terms['partial_at']}",
    ]
    if terms["hypothesis"] or terms["expect_metric"]:
        hyp = terms["hypothesis"] or ""
        if terms["expect_metric"]:
            hyp += f" [{terms['expect_metric']} >= {terms['expect_at_least']}]"
        lines.append(f"  hypothesis: {hyp.strip()}")
    if terms["supports"]:
        lines.append(f"  supports: {terms['supports']}")
    if terms["focus_cap_override"]:
        lines.append(f"  focus-cap override: {terms['focus_cap_override']}")
    lines += [
        f"  status: {obj['status']}    verdict: {obj['verdict']}",
        f"  expected {cell(obj['expected'])}, actual {cell(obj['actual'])}, "
        f"ratio {cell(obj['ratio'])}, follow-through {cell(obj['follow_through'])}, "
        f"result {cell(obj['result'])}",
    ]
    if obj["pace"]:
        p = obj["pace"]
        lines.append(
            f"  pace: {cell(p['actual_so_far'])} done of {cell(p['expected_so_far'])} "
            f"expected so far (ratio {cell(p['ratio'])})"
        )
    if obj["supported_by"]:
        lines.append(f"  supported by: {', '.join(obj['supported_by'])}")
    if terms["blocked_by"]:
        lines.append(f"  blocked by: {', '.join(terms['blocked_by'])}")
    replies = obj.get("replies") or []
    if replies:
        lines.append(f"\nreplies ({len(replies)}), beside the verdict (they do not change it):")
        for r in replies:
            what = "contests the verdict" if r["contests"] else "replies"
            lines.append(f"  {r['on']}  {r['by']} {what}: {r['text']}")
    lines.append(f"\nevents ({len(log)}):")
    rows = []
    for e in log:
        skip = ("position", "type", "date", "recorded_at", "actor")
        details = ", ".join(
            f"{k}={cell(v)}" for k, v in e.items() if k not in skip and v is not None
        )
        rows.append([e["position"], e["type"], e["date"], e["recorded_at"], e["actor"], details])
    lines.append(text_table(["position", "event", "date", "recorded_at", "actor", "details"], rows))
    return "\n".join(lines)


# -- list --------------------------------------------------------------------


@click.command("list")
@click.option("--rep", type=PERSON, help="Only this rep's commitments.")
@click.option("--manager", type=PERSON, help="Only commitments agreed with this manager.")
@click.option("--owner", type=click.Choice(["rep", "manager"]), help="Only this owner's.")
@click.option("--focus", help="Only this focus area.")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@click.option("--verdict", type=click.Choice(VERDICTS), help="Only this verdict.")
@click.option(
    "--due-from", metavar="DATE", help="Only commitments due on or after DATE (latest terms)."
)
@click.option("--due-to", metavar="DATE", help="Only commitments due on or before DATE.")
@as_of_options
@format_option("table", "json", "csv", "md")
@pseudonymise_option
@pass_env
def list_(
    env: Env,
    rep: str | None,
    manager: str | None,
    owner: Owner | None,  # click.Choice: one of these or None
    focus: str | None,
    status: str | None,
    verdict: str | None,
    due_from: str | None,
    due_to: str | None,
    as_of: str | None,
    on: str | None,
    fmt: str,
    pseudonymise: bool = False,
) -> None:
    """List commitments with their status and verdict.

    The table's reply column marks a verdict answered by its rep or manager
    (see reply): contested when a reply contests it, replied when the replies
    do not, - when nobody replied. JSON has the replies themselves.

    \b
    Example:
      commitments list --manager bob --verdict broken
      commitments list --rep alice --as-of 2026-03-01 --format csv
      commitments list --owner rep --focus prospecting --due-from 2026-01-01 --due-to 2026-01-31
    """
    at = moment(as_of, on)
    with open_read_model(env) as rm:
        items = list_items(
            rm,
            at,
            rep,
            manager,
            owner,
            focus,
            status,
            verdict,
            due_from,
            due_to,  # type: ignore[arg-type]
        )
        transform = Pseudonymiser.of(rm.conn) if pseudonymise else None
        text = render_items(items, fmt, transform)
    click.echo(text)


Status = Literal[STATUSES]  # type: ignore[valid-type]  # the click choices, as a type
Verdict = Literal[VERDICTS]  # type: ignore[valid-type]
Owner = Literal["rep", "manager"]


def list_items(
    rm: ReadModel,
    at: Moment,
    rep: str | None = None,
    manager: str | None = None,
    owner: Owner | None = None,
    focus: str | None = None,
    status: Status | None = None,
    verdict: Verdict | None = None,
    due_from: str | None = None,
    due_to: str | None = None,
) -> list[Item]:
    """The commitments ``list`` shows, filtered (an unknown rep or manager: exit 3)."""
    first = date_option("--due-from", due_from)
    last = date_option("--due-to", due_to)
    rep, manager = rm.named(rep, "rep"), rm.named(manager, "manager")
    items = rm.commitments(at, rep=rep, manager=manager)
    if owner:
        items = [i for i in items if i.facts.owner == owner]
    if focus is not None:
        items = [i for i in items if i.facts.focus == focus.strip()]
    if first is not None:
        items = [i for i in items if i.facts.due >= first]
    if last is not None:
        items = [i for i in items if i.facts.due <= last]
    if status:
        items = [i for i in items if i.evaluation.status == status]
    if verdict:
        items = [i for i in items if i.evaluation.verdict == verdict]
    return items


def list_objects(
    rm: ReadModel,
    at: Moment,
    rep: str | None = None,
    manager: str | None = None,
    owner: Owner | None = None,
    focus: str | None = None,
    status: Status | None = None,
    verdict: Verdict | None = None,
    due_from: str | None = None,
    due_to: str | None = None,
) -> list[dict[str, Any]]:
    """``list --format json``: an array of per-commitment objects."""
    found = list_items(rm, at, rep, manager, owner, focus, status, verdict, due_from, due_to)
    return [i.as_dict() for i in found]


# -- history -------------------------------------------------------------------


@click.command()
@click.argument("rep", type=PERSON)
@as_of_options
@window_days_option("Trailing window of the signal (close dates in (D - N, D]).")
@format_option(
    "table",
    "json",
    "csv",
    "md",
    "html",
    help="html: the rep's one-page picture (timeline, signal, focus load, support).",
)
@output_option
@pseudonymise_option
@pass_env
def history(
    env: Env,
    rep: str,
    as_of: str | None,
    on: str | None,
    window_days: int,
    fmt: str,
    output: str | None = None,
    pseudonymise: bool = False,
) -> None:
    """A rep's follow-through history: signal with reasons, counts and every commitment.

    \b
    Example:
      commitments history alice
      commitments history alice --as-of 2026-03-01 --format json
      commitments history alice --format html -o alice.html
    """
    if pseudonymise and fmt == "html":
        from ledger.errors import InvalidInput

        raise InvalidInput("history --pseudonymise: give --format table, json, csv or md")
    at = moment(as_of, on)
    with open_read_model(env) as rm:
        h = rm.history(rep.strip(), at, window_days)  # an unknown rep: exit 3, closest names
        transform = Pseudonymiser.of(rm.conn) if pseudonymise else None
        if fmt == "html":
            from .html import rep_page

            text = rep_page(h)
        else:
            text = render_history(h, fmt, transform)
    write_output(text, output)


def history_object(
    rm: ReadModel, at: Moment, rep: str, window_days: WindowDays = rules.DEFAULT_WINDOW_DAYS
) -> dict[str, Any]:
    """``history REP --format json`` (SPEC §5)."""
    return rm.history(rep.strip(), at, window_days).as_dict()


def render_history(h: History, fmt: str, transform: Callable[[Any], Any] | None = None) -> str:
    obj = h.as_dict()
    if transform is not None:
        obj = transform(obj)
    if fmt == "json":
        return json_text(obj)
    if fmt == "csv":
        return commitments_csv(obj["commitments"])
    obj = escaped(obj) if fmt != "md" else obj  # md escapes its own cells
    reasons = ", ".join(f"{r['id']} {r['verdict']}" for r in obj["reasons"]) or "none"
    counts = ", ".join(f"{k} {v}" for k, v in obj["counts"].items())
    rate = cell(obj["follow_through_rate"])
    load = f"{obj['focus_load']}" + (" (overloaded)" if obj["overloaded"] else "")
    if fmt == "md":
        from .safe import md_text

        rows = [[flat(o)[c] for c in LIST_COLUMNS] for o in obj["commitments"]]
        return "\n".join(
            [
                f"## {md_text(obj['rep'])}: {obj['signal']}",
                "",
                f"As of {obj['as_of']}, on {obj['on']}, window {obj['window_days']} days.",
                "",
                f"- reasons: {reasons}",
                f"- follow-through rate: {rate}",
                f"- focus load: {load}",
                f"- counts: {counts}",
                "",
                md_table(LIST_COLUMNS, rows),
            ]
        )
    table = [[flat(o)[c] for c in TABLE_COLUMNS] for o in obj["commitments"]]
    return "\n".join(
        [
            f"{obj['rep']}: {obj['signal']}  (as of {obj['as_of']}, on {obj['on']}, "
            f"window {obj['window_days']} days)",
            f"reasons: {reasons}",
            f"follow-through rate: {rate}    focus load: {load}",
            f"counts: {counts}",
            "",
            text_table(TABLE_COLUMNS, table) if table else "(no commitments)",
        ]
    )
