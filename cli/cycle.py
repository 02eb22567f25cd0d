"""The coaching cycle (SPEC §7.6): ``prep``, ``plan``, ``model`` and ``due``.

Each catches the read model up, asks :mod:`projections.cycle` (which judges
with :mod:`ledger.rules`), and writes the chosen format to stdout or ``-o``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import annotated_types
import click

from ledger import rules

from .context import Env, open_read_model, pass_env
from .params import PERSON, format_option
from .read_options import as_of_options, moment, output_option
from .render import cell, json_text, md_table, text_table, write_output

if TYPE_CHECKING:
    from projections.query import Moment, ReadModel


# The options' bounds, as types: the CLI's click options and the server's query
# parameters (cli/serve/api.py reads these signatures) take the same values.
Per = Literal["day", "week", "month"]
PlanDays = Annotated[int, annotated_types.Interval(ge=1, le=3660)]
HistoryDays = Annotated[int, annotated_types.Interval(ge=7, le=36600)]
Seed = Annotated[int, annotated_types.Ge(0)]
Within = Annotated[int, annotated_types.Interval(ge=0, le=3660)]

ITEM_COLUMNS = ("id", "owner", "focus", "behavior", "start", "due", "verdict", "actual", "ratio")


def _rows(objs: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[list[Any]]:
    return [[o[c] for c in columns] for o in objs]


# -- prep ----------------------------------------------------------------------------


@click.command()
@click.argument("rep", type=PERSON)
@click.option(
    "--manager", type=PERSON, help="Prepare the session with this manager (their commitments)."
)
@as_of_options
@format_option("table", "json", "md", "html", help="html: a printable one-page agenda.")
@output_option
@pass_env
def prep(
    env: Env,
    rep: str,
    manager: str | None,
    as_of: str | None,
    on: str | None,
    fmt: str,
    output: str | None,
) -> None:
    """The agenda of a rep's next coaching session.

    What happened since the rep's last session (the latest dated before D):
    wins, experiments (honest misses), broken and blocked commitments, the
    manager's own promises, what is behind pace, due soon or overdue, and
    the rep's activity against the team's median; the conversation to have
    follows the rep's signal.

    \b
    Example:
      commitments prep alice
      commitments prep alice --manager bob --on 2026-02-02 --format json
      commitments prep alice --format html -o alice-prep.html
    """
    at = moment(as_of, on)
    with open_read_model(env) as rm:
        agenda = prep_object(rm, at, rep, manager)
    if fmt == "json":
        text = json_text(agenda)
    elif fmt == "html":
        from .html import prep_page

        text = prep_page(agenda, at.as_of_text)
    else:
        text = render_prep(agenda, fmt)
    write_output(text, output)


def prep_object(rm: ReadModel, at: Moment, rep: str, manager: str | None = None) -> dict[str, Any]:
    """``prep REP --format json`` (SPEC §7.6): the agenda of a rep's next session."""
    from projections.cycle import prep as build

    return build(rm, rep.strip(), at, manager.strip() if manager else None)


def render_prep(a: dict[str, Any], fmt: str) -> str:
    from projections.cycle import AGENDA

    last = a["last_session"]
    since = (
        f"since the last session on {last['on']} with {last['manager']}"
        if last
        else "no earlier session: since the start of the trailing 90 days"
    )
    reasons = ", ".join(f"{r['id']} {r['verdict']}" for r in a["reasons"]) or "none"
    head = [
        f"signal: {a['signal']} (reasons: {reasons})",
        f"conversation: {a['conversation']}",
        f"focus load: {a['focus_load']}",
    ]
    metric_cols = ("metric", "rep_per_week", "team_median_per_week")
    if fmt == "md":
        from .safe import md_text

        out = [f"## Session prep: {md_text(a['rep'])}, on {a['on']}", "", f"{since}.", ""]
        out += [f"- {md_text(line)}" for line in head]
        for key, title in AGENDA:
            out += ["", f"### {title} ({len(a[key])})", ""]
            if a[key]:
                out.append(md_table(ITEM_COLUMNS, _rows(a[key], ITEM_COLUMNS)))
            else:
                out.append("none")
        out += ["", "### Activity against the team (per week, trailing 90 days)", ""]
        out.append(
            md_table(metric_cols, _rows(a["metrics"], metric_cols)) if a["metrics"] else "none"
        )
        return "\n".join(out)
    out = [f"Session prep for {a['rep']} on {a['on']}, {since}", *head, ""]
    for key, title in AGENDA:
        if a[key]:
            out += [
                f"{title} ({len(a[key])}):",
                text_table(ITEM_COLUMNS, _rows(a[key], ITEM_COLUMNS)),
                "",
            ]
        else:
            out.append(f"{title}: none")
    out += ["", "Activity against the team (per week, trailing 90 days):"]
    out.append(
        text_table(metric_cols, _rows(a["metrics"], metric_cols)) if a["metrics"] else "none"
    )
    return "\n".join(out)


# -- plan ----------------------------------------------------------------------------


@click.command()
@click.argument("rep", type=PERSON)
@as_of_options
@format_option("table", "json", "md", "html", help="html: a printable one-page plan.")
@output_option
@pass_env
def plan(
    env: Env, rep: str, as_of: str | None, on: str | None, fmt: str, output: str | None
) -> None:
    """The printable 30-day plan: a rep's open commitments, the manager's support,
    the hypotheses and the dates check-ins are due.

    \b
    Example:
      commitments plan alice
      commitments plan alice --on 2026-01-05 --format html -o alice-plan.html
    """
    at = moment(as_of, on)
    with open_read_model(env) as rm:
        p = plan_object(rm, at, rep)
    if fmt == "json":
        text = json_text(p)
    elif fmt == "html":
        from .html import plan_page

        text = plan_page(p, at.as_of_text)
    else:
        text = render_plan(p, fmt)
    write_output(text, output)


def plan_object(rm: ReadModel, at: Moment, rep: str) -> dict[str, Any]:
    """``plan REP --format json`` (SPEC §7.6): the rep's 30-day plan."""
    from projections.cycle import plan as build

    return build(rm, rep.strip(), at)


def _hypothesis(c: dict[str, Any]) -> str | None:
    text = c["hypothesis"] or ""
    if c["expect_metric"]:
        text = f"{text} [{c['expect_metric']} >= {cell(c['expect_at_least'])}]".strip()
    return text or None


PLAN_COLUMNS = ("id", "owner", "focus", "behavior", "target", "period", "start", "due")


def render_plan(p: dict[str, Any], fmt: str) -> str:
    rows = [
        [
            *(c[k] for k in PLAN_COLUMNS),
            _hypothesis(c),
            c["supports"],
            c["check_ins_due"],
        ]
        for c in p["commitments"]
    ]
    headers = [*PLAN_COLUMNS, "hypothesis", "supports", "check_ins_due"]
    if fmt == "md":
        from .safe import md_text

        body = md_table(headers, rows) if rows else "No open commitments."
        return f"## 30-day plan: {md_text(p['rep'])}, on {p['on']}\n\n{body}"
    body = text_table(headers, rows) if rows else "(no open commitments)"
    return f"30-day plan for {p['rep']} on {p['on']}\n\n{body}"


# -- model ---------------------------------------------------------------------------


@click.command()
@click.argument("rep", type=PERSON)
@click.option("--activity", required=True, help="Activity metric the rep would change.")
@click.option("--outcome", required=True, help="Outcome metric it should move.")
@click.option("--to", "to", required=True, type=float, help="Planned activity per period.")
@click.option(
    "--per",
    type=click.Choice(["day", "week", "month"]),
    default="week",
    show_default=True,
    help="Period of --to (month: 30 days).",
)
@click.option(
    "--days", type=click.IntRange(1, 3660), default=30, show_default=True, help="Plan length."
)
@click.option(
    "--history-days",
    type=click.IntRange(7, 36600),
    default=180,
    show_default=True,
    help="History the rate is learnt from: the days ending on D, in 7-day weeks.",
)
@as_of_options
@click.option(
    "--seed", type=click.IntRange(0), default=0, show_default=True, help="Bootstrap seed."
)
@format_option("table", "json")
@pass_env
def model(
    env: Env,
    rep: str,
    activity: str,
    outcome: str,
    to: float,
    per: str,
    days: int,
    history_days: int,
    as_of: str | None,
    on: str | None,
    seed: int,
    fmt: str,
) -> None:
    """If the rep did N of ACTIVITY per period, what OUTCOME would follow?

    From the rep's own history: rate = outcome per unit of activity over the
    weeks of history; expected = rate x planned activity; p10 and p90 from
    1,000 bootstrap resamples of the weeks. The suggested line pastes into
    ``agree``. See docs/coaching-cycle.md.

    \b
    Example:
      commitments model "Moses Frase" --activity engagements --outcome won_value \\
          --to 10 --per week --on 2017-06-30
    """
    at = moment(as_of, on)
    with open_read_model(env) as rm:
        m, active = _model(rm, at, rep, activity, outcome, to, per, days, history_days, seed)
    if fmt == "json":
        click.echo(json_text(m))
        return
    click.echo(render_model(m, active, to, per, days))


def _model(
    rm: ReadModel,
    at: Moment,
    rep: str,
    activity: str,
    outcome: str,
    to: float,
    per: str,
    days: int,
    history_days: int,
    seed: int,
) -> tuple[dict[str, Any], int]:
    from projections.cycle import model as build

    return build(
        rm,
        rep.strip(),
        at,
        activity=activity.strip(),
        outcome=outcome.strip(),
        to=to,
        per=per,
        days=days,
        history_days=history_days,
        seed=seed,
    )


def model_object(
    rm: ReadModel,
    at: Moment,
    rep: str,
    activity: str,
    outcome: str,
    to: float,
    per: Per = "week",
    days: PlanDays = 30,
    history_days: HistoryDays = 180,
    seed: Seed = 0,
) -> dict[str, Any]:
    """``model REP --format json`` (SPEC §7.6): the scenario from the rep's own history."""
    return _model(rm, at, rep, activity, outcome, to, per, days, history_days, seed)[0]


def render_model(m: dict[str, Any], active: int, to: float, per: str, days: int) -> str:
    lines = [
        f"{m['rep']}: {m['outcome']} per {m['activity']} over the last {m['history_days']} days "
        f"({m['weeks']} weeks, {active} with activity)",
        f"rate: {cell(m['rate'])} (team: {cell(m['team']['rate'])})",
    ]
    if m["insufficient_history"]:
        lines.append(
            f"insufficient history: {active} weeks with activity, "
            f"{rules.MIN_ACTIVE_WEEKS} needed; no projection"
        )
        return "\n".join(lines)
    projections = (("planned", f"planned ({to:g}/{per})"), ("current", "current (mean week)"))
    keys = ("activity", "expected", "p10", "p90")
    rows = [[label, *(m[name][k] for k in keys)] for name, label in projections]
    headers = ["over " + str(days) + " days", m["activity"], m["outcome"], "p10", "p90"]
    lines += ["", text_table(headers, rows), "", f"suggested: {m['suggested']}"]
    return "\n".join(lines)


# -- due -----------------------------------------------------------------------------


@click.command()
@click.option("--manager", type=PERSON, help="Only commitments agreed with this manager.")
@click.option("--rep", type=PERSON, help="Only this rep's commitments.")
@click.option(
    "--within",
    type=click.IntRange(0, 3660),
    default=rules.DUE_WITHIN_DAYS,
    show_default=True,
    help="Days after D to look ahead.",
)
@as_of_options
@format_option(
    "table", "json", "ics", help="ics: an RFC 5545 calendar to subscribe to (stable UIDs)."
)
@output_option
@pass_env
def due(
    env: Env,
    manager: str | None,
    rep: str | None,
    within: int,
    as_of: str | None,
    on: str | None,
    fmt: str,
    output: str | None,
) -> None:
    """Check-ins and closes due within the next days, and every overdue loop.

    \b
    Example:
      commitments due --manager bob
      commitments due --manager bob --within 14 --format ics -o bob.ics
    """
    at = moment(as_of, on)
    with open_read_model(env) as rm:
        d = due_object(rm, at, manager, rep, within)
    if fmt == "json":
        text = json_text(d)
    elif fmt == "ics":
        text = calendar(d, at.as_of)
        if output is None:
            click.echo(text, nl=False)  # CRLF line ends, as RFC 5545 wants
            return
    else:
        columns = ("due_on", "kind", "overdue", "rep", "manager", "behavior", "id")
        head = f"Due on {d['on']} and the {d['within']} days after, and overdue"
        rows = _rows(d["items"], columns)
        text = f"{head}\n\n" + (text_table(columns, rows) if rows else "(nothing due)")
    write_output(text, output)


def due_object(
    rm: ReadModel,
    at: Moment,
    manager: str | None = None,
    rep: str | None = None,
    within: Within = rules.DUE_WITHIN_DAYS,
) -> dict[str, Any]:
    """``due --format json`` (SPEC §7.6): check-ins and closes due, and overdue."""
    from projections.cycle import due as build

    return build(
        rm,
        at,
        manager=manager.strip() if manager else None,
        rep=rep.strip() if rep else None,
        within=within,
    )


def calendar(d: dict[str, Any], stamp: Any) -> str:
    """The items as an RFC 5545 calendar: one all-day VEVENT each, UID stable
    across runs; DTSTAMP is T, so the same --as-of gives the same file."""
    from datetime import date, timedelta

    from icalendar import Calendar, Event

    from projections.cycle import ics_uid

    cal = Calendar()
    cal.add("prodid", "-//commitment-ledger//due//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "Coaching commitments due")
    for item in d["items"]:
        day = date.fromisoformat(item["due_on"])
        event = Event()
        event.add("uid", ics_uid(item))
        event.add("dtstamp", stamp)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        what = "Check-in" if item["kind"] == "check-in" else "Close the loop"
        late = " (overdue)" if item["overdue"] else ""
        event.add("summary", f"{what}{late}: {item['rep']}: {item['behavior']}")
        event.add(
            "description",
            f"{item['kind']} of commitment {item['id']}, rep {item['rep']}, "
            f"manager {item['manager']}, due {item['due_on']}{late}",
        )
        event.add("categories", [item["kind"]])
        cal.add_component(event)
    return cal.to_ical().decode("utf-8")
