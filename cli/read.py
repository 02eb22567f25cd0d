"""Read commands: ``show``, ``list`` and ``history``.

Each catches the read model up first (a no-op when nothing is new), then asks
:mod:`projections.query`, which judges with :mod:`ledger.rules`, so the three
commands agree. Data goes to stdout in the chosen format; messages to stderr.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

import annotated_types
import click

from ledger import rules

from .context import Env, output_file_option, progress_bar
from .params import PERSON, format_option
from .pseudonyms import Pseudonymiser, pseudonymise_option

if TYPE_CHECKING:
    from projections.catchup import Progress
    from projections.query import History, Item, Moment, ReadModel

pass_env = click.make_pass_decorator(Env)

MAX_WINDOW_DAYS = 36600  # 100 years: any real window; keeps D - N inside the calendar
WindowDays = Annotated[int, annotated_types.Interval(ge=1, le=MAX_WINDOW_DAYS)]
"""``--window-days`` as a type (the server's query parameter checks it too)."""
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


def window_days_option(help: str) -> Any:
    """``--window-days N``: the trailing window, 90 days unless given."""
    return click.option(
        "--window-days",
        type=click.IntRange(1, MAX_WINDOW_DAYS),
        default=rules.DEFAULT_WINDOW_DAYS,
        show_default=True,
        help=help,
    )


output_option = output_file_option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of stdout (its path goes to stderr).",
)


def write_output(text: str, output: str | None) -> None:
    """To stdout, or to ``output`` (UTF-8; a new file is mode 0600) with its path on stderr."""
    if output is None:
        click.echo(text)
        return
    from .safe import write_private_text

    write_private_text(output, text if text.endswith("\n") else text + "\n")
    click.echo(f"wrote {output}", err=True)


def as_of_options(f: Any) -> Any:
    f = click.option(
        "--on",
        "on",
        metavar="DATE",
        help="Business date D to evaluate on (YYYY-MM-DD) [default: the date of --as-of].",
    )(f)
    return click.option(
        "--as-of",
        "as_of",
        metavar="T",
        help="What the ledger knew at T: a date (end of that day, UTC) or an ISO "
        "date-time [default: now].",
    )(f)


def _terminal_bar(total: int) -> AbstractContextManager[Progress | None]:
    """A progress bar on stderr when it is a terminal and there is real work."""
    if total < 5000:
        return nullcontext(None)
    return progress_bar("updating read model", lambda: total)


def open_read_model(env: Env) -> ReadModel:
    """Catch the read model up with the ledger, then open it for reading."""
    from projections.catchup import open_current

    return open_current(env.db, env.views_path, progress_for=_terminal_bar)


def _moment(as_of: str | None, on: str | None) -> Moment:
    from projections.query import moment

    return moment(as_of, on)


# -- rendering ---------------------------------------------------------------


def _cell(value: Any) -> str:
    """A value as table text: on one line, control characters shown as escapes
    (a newline, tab or ESC in free text never starts a line or column)."""
    from .safe import one_line

    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return one_line(";".join(str(v) for v in value)) or "-"
    return one_line(str(value))


def escaped(value: Any) -> Any:
    """``value`` with every string in it (and in its lists and dicts) on one line
    (:func:`cli.safe.one_line`): for text output assembled by hand."""
    from .safe import one_line

    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, list):
        return [escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: escaped(v) for k, v in value.items()}
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table (numbers right-aligned)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [
        all(_is_number(r[i]) or r[i] is None for r in rows) and bool(rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        out = [
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(out).rstrip()

    parts = [line(headers), line(["-" * w for w in widths])]
    parts.extend(line(r) for r in cells)
    return "\n".join(parts)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    from .safe import md_cell

    def esc(v: Any) -> str:
        return md_cell(v, _cell)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out.extend("| " + " | ".join(esc(v) for v in row) + " |" for row in rows)
    return "\n".join(out)


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


def csv_text(objs: Sequence[dict[str, Any]], columns: Sequence[str] = LIST_COLUMNS) -> str:
    """CSV with a header row; text cells defused against spreadsheet formulas (cli.safe)."""
    from .safe import csv_row

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for obj in objs:
        row = flat(obj)
        writer.writerow(csv_row(row[c] for c in columns))
    return buf.getvalue().rstrip("\n")


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)


def render_items(
    items: Sequence[Item], fmt: str, transform: Callable[[Any], Any] | None = None
) -> str:
    objs = [i.as_dict() for i in items]
    if transform is not None:
        objs = transform(objs)
    if fmt == "json":
        return _json(objs)
    if fmt == "csv":
        return csv_text(objs)
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
    at = _moment(as_of, on)
    with open_read_model(env) as rm:
        out = show_object(rm, at, commitment)
    if fmt == "json":
        click.echo(_json(out))
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
        f"  expected {_cell(obj['expected'])}, actual {_cell(obj['actual'])}, "
        f"ratio {_cell(obj['ratio'])}, follow-through {_cell(obj['follow_through'])}, "
        f"result {_cell(obj['result'])}",
    ]
    if obj["pace"]:
        p = obj["pace"]
        lines.append(
            f"  pace: {_cell(p['actual_so_far'])} done of {_cell(p['expected_so_far'])} "
            f"expected so far (ratio {_cell(p['ratio'])})"
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
            f"{k}={_cell(v)}" for k, v in e.items() if k not in skip and v is not None
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
    at = _moment(as_of, on)
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
    first = _date_option("--due-from", due_from)
    last = _date_option("--due-to", due_to)
    rep = rep.strip() if rep is not None else None
    manager = manager.strip() if manager is not None else None
    if rep is not None:
        rm.require_person(rep, "rep")
    if manager is not None:
        rm.require_person(manager, "manager")
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


def _date_option(name: str, text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` option value, or exit 2 naming the option."""
    if text is None:
        return None
    from ledger.errors import InvalidInput

    try:
        if len(text.strip()) != 10:
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a date in YYYY-MM-DD form") from None


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
    at = _moment(as_of, on)
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
        return _json(obj)
    if fmt == "csv":
        return csv_text(obj["commitments"])
    obj = escaped(obj) if fmt != "md" else obj  # md escapes its own cells
    reasons = ", ".join(f"{r['id']} {r['verdict']}" for r in obj["reasons"]) or "none"
    counts = ", ".join(f"{k} {v}" for k, v in obj["counts"].items())
    rate = _cell(obj["follow_through_rate"])
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
