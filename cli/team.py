"""``team``: every rep's signal on one page (SPEC §7.1).

One entry per rep with a rep-owned commitment visible at T, D; each entry is
what ``history REP`` says of that rep (signal, reasons, follow-through rate,
focus load, counts), computed by the same code (:func:`projections.query.judge_history`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ledger import rules

from .context import Env, open_read_model, pass_env
from .params import PERSON, format_option
from .pseudonyms import Pseudonymiser, pseudonymise_option
from .read_options import WindowDays, as_of_options, moment, output_option, window_days_option
from .render import csv_text, json_text, md_table, text_table, write_output

if TYPE_CHECKING:
    from collections.abc import Sequence

    from projections.query import History, Moment, ReadModel, TeamEntry


COUNTS = tuple(rules.VERDICTS)
COLUMNS = (
    "rep",
    "managers",
    "signal",
    "follow_through_rate",
    "focus_load",
    "overloaded",
    *(f"count_{v}" for v in COUNTS),
    "reasons",
)
TABLE = (
    ("rep", "rep"),
    ("managers", "managers"),
    ("signal", "signal"),
    ("follow-through", "follow_through_rate"),
    ("focus", "focus_load"),
    ("overloaded", "overloaded"),
    ("open", "count_open"),
    ("overdue", "count_overdue"),
    ("reasons", "reasons"),
)


@click.command()
@click.option(
    "--manager", type=PERSON, help="Only reps with a commitment agreed with this manager."
)
@click.option("--team", type=PERSON, help="Only reps of this team, as the roster stands now.")
@click.option("--region", type=PERSON, help="Only reps of this region, as the roster stands now.")
@as_of_options
@window_days_option("Trailing window of the signals (close dates in (D - N, D]).")
@format_option("table", "json", "csv", "md", "html")
@output_option
@pseudonymise_option
@pass_env
def team(
    env: Env,
    manager: str | None,
    team: str | None,
    region: str | None,
    as_of: str | None,
    on: str | None,
    window_days: int,
    fmt: str,
    output: str | None,
    pseudonymise: bool = False,
) -> None:
    """Every rep's signal, follow-through rate, focus load and counts, one row per rep.

    Each row says what 'commitments history REP' says of that rep (same as-of,
    business date and window). With --manager, the reps with a commitment
    agreed with that manager, each with their whole history.

    \b
    Example:
      commitments team
      commitments team --manager bob --format json
      commitments team --region Central
      commitments team --format html -o team.html

    --team and --region keep the reps the roster ('people import', 'people
    add') puts there now; a team is a registered team, else the manager's name.
    """
    at = moment(as_of, on)
    manager = manager.strip() if manager is not None else None
    with open_read_model(env) as rm:
        obj = team_object(rm, at, manager, window_days, team=team, region=region)
        if pseudonymise:
            p = Pseudonymiser.of(rm.conn)
            obj = p(obj)
            manager = None if manager is None else p.person(manager)
    if fmt == "html":
        from .html import team_page

        text = team_page(obj, manager)
    else:
        text = render_team(obj, fmt)
    write_output(text, output)


def team_object(
    rm: ReadModel,
    at: Moment,
    manager: str | None = None,
    window_days: WindowDays = rules.DEFAULT_WINDOW_DAYS,
    *,
    team: str | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """``team --format json`` (an unknown manager: exit 3 with the closest names),
    kept to the reps of ``team`` and ``region`` if given."""
    manager = rm.named(manager, "manager")
    histories = rm.team(at, window_days, manager)
    if team is not None or region is not None:
        from projections.people import names_in

        members = names_in(rm.conn, team=team, region=region)
        histories = [h for h in histories if h.rep in members]
    return team_json(histories, at, window_days)


def team_json(
    histories: Sequence[History | TeamEntry], at: Any, window_days: int
) -> dict[str, Any]:
    """``team --format json``: ``{"as_of", "on", "window_days", "reps": [...]}``."""
    return {
        "as_of": at.as_of_text,
        "on": at.d,
        "window_days": window_days,
        "reps": [h.summary() for h in histories],
    }


def flat_row(r: dict[str, Any]) -> dict[str, Any]:
    """One rep as flat columns (CSV, markdown, table)."""
    row = {k: r[k] for k in ("rep", "managers", "signal", "follow_through_rate")}
    row.update(focus_load=r["focus_load"], overloaded=r["overloaded"])
    row.update({f"count_{v}": r["counts"][v] for v in COUNTS})
    row["reasons"] = ";".join(f"{x['id']} {x['verdict']}" for x in r["reasons"])
    return row


def render_team(obj: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json_text(obj)
    rows = [flat_row(r) for r in obj["reps"]]
    if fmt == "csv":
        return csv_text(rows, COLUMNS)
    head = f"Team as of {obj['as_of']}, on {obj['on']}, window {obj['window_days']} days"
    if fmt == "md":
        return f"## {head}\n\n" + md_table(COLUMNS, [[row[c] for c in COLUMNS] for row in rows])
    if not rows:
        return f"{head}\n\n(no reps with commitments)"
    for row in rows:
        row["reasons"] = _reason_counts(row["reasons"])
    headers = [h for h, _ in TABLE]
    return f"{head}\n\n" + text_table(headers, [[row[k] for _, k in TABLE] for row in rows])


def _reason_counts(reasons: str) -> str:
    """``2 broken, 1 succeeded`` from ``id verdict;id verdict``."""
    from collections import Counter

    counts = Counter(part.split(" ", 1)[1] for part in reasons.split(";") if part)
    return ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) or "-"
