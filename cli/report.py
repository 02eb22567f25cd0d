"""``report coaching``: coaching patterns per manager, for HR and enablement.

Catches the read model up, computes the measures with
:mod:`projections.coaching`, and writes them as a table, JSON, CSV, markdown
or a self-contained HTML page (:mod:`cli.html`), to stdout or ``-o FILE``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import click

from ledger import rules

from .context import Env, open_read_model, pass_env
from .params import PERSON, format_option
from .pseudonyms import Pseudonymiser, pseudonymise_option
from .read_options import WindowDays, as_of_options, moment, output_option, window_days_option
from .render import json_text, md_table, text_table, write_output

if TYPE_CHECKING:
    from projections.query import Moment, ReadModel


SCALARS = (
    "reps_coached",
    "sessions_held",
    "sessions_per_rep_per_30_days",
    "prepared_share",
    "commitments_agreed",
    "rep_commitments_agreed",
    "manager_commitments_agreed",
    "hypothesis_share",
    "two_sided_share",
    "rep_proposed_share",
    "loops_due",
    "loops_closed_in_time",
    "loops_pending",
    "loop_closure",
    "overdue_count",
    "manager_follow_through_rate",
    "safe_failure_index",
    "contested_share",
    "focus_cap_overrides",
)
TABLE = (
    ("manager", "manager"),
    ("reps", "reps_coached"),
    ("sessions", "sessions_held"),
    ("per rep/30d", "sessions_per_rep_per_30_days"),
    ("prepared", "prepared_share"),
    ("agreed", "commitments_agreed"),
    ("hypothesis", "hypothesis_share"),
    ("two-sided", "two_sided_share"),
    ("rep-proposed", "rep_proposed_share"),
    ("loop closure", "loop_closure"),
    ("overdue", "overdue_count"),
    ("own follow-through", "manager_follow_through_rate"),
    ("safe failure", "safe_failure_index"),
    ("contested", "contested_share"),
    ("overrides", "focus_cap_overrides"),
)


@click.group()
def report() -> None:
    """Reports across reps and managers."""


@report.command()
@click.option(
    "--manager", type=PERSON, help="Only this manager (the team total still covers everyone)."
)
@click.option(
    "--group-by",
    type=click.Choice(["manager", "team", "region"]),
    default="manager",
    show_default=True,
    help="One row per manager, or per team or region of the reps (the roster as it stands now).",
)
@as_of_options
@window_days_option("Trailing window: business dates in (D - N, D].")
@format_option("table", "json", "csv", "md", "html")
@output_option
@pseudonymise_option
@pass_env
def coaching(
    env: Env,
    manager: str | None,
    group_by: GroupBy,  # click.Choice: one of these
    as_of: str | None,
    on: str | None,
    window_days: int,
    fmt: str,
    output: str | None,
    pseudonymise: bool = False,
) -> None:
    """Coaching patterns per manager over the trailing window, plus a team total.

    Reps coached, sessions (cadence, preparation), commitments agreed (with a
    hypothesis, two-sided), loop closure, overdue, the manager's own
    follow-through, the safe-failure index and focus-cap overrides. See
    docs/reports.md for how each is computed. --group-by team or region
    counts each session and commitment under the team or region of its rep
    (JSON: "group_by" and "groups": [{"group", ...}] instead of "managers").

    \b
    Example:
      commitments report coaching
      commitments report coaching --manager bob --format json
      commitments report coaching --group-by region --format json
      commitments report coaching --format html -o coaching.html
    """
    at = moment(as_of, on)
    manager = manager.strip() if manager is not None else None
    with open_read_model(env) as rm:
        obj = coaching_object(rm, at, manager, window_days, group_by=group_by)
        if pseudonymise:
            p = Pseudonymiser.of(rm.conn)
            obj = p(obj)
            if group_by == "team":  # a team is named after its manager unless given a name
                for g in obj.get("groups", []):
                    g["group"] = p.maybe_person(g["group"])
    if fmt == "html":
        from .html import coaching_page

        text = coaching_page(obj)
    else:
        text = render_coaching(obj, fmt)
    write_output(text, output)


GroupBy = Literal["manager", "team", "region"]
"""``--group-by`` (the API's ``?group_by=``: anything else is 422)."""


def coaching_object(
    rm: ReadModel,
    at: Moment,
    manager: str | None = None,
    window_days: WindowDays = rules.DEFAULT_WINDOW_DAYS,
    *,
    group_by: GroupBy = "manager",
) -> dict[str, Any]:
    """``report coaching --format json``."""
    from projections.coaching import coaching_report

    manager = rm.named(manager, "manager")  # unknown: exit 3 with the closest names
    return coaching_report(rm, at, window_days, manager, group_by=group_by).as_dict()


def flat_row(m: dict[str, Any], key: str = "manager") -> dict[str, Any]:
    """One manager, team or region (or the team total) as flat columns: CSV and markdown."""
    label = m.get(key, "(team)")
    row: dict[str, Any] = {key: "(none)" if label is None else label}
    row.update({k: m[k] for k in SCALARS})
    row.update({f"manager_{k}": v for k, v in m["manager_follow_through"].items()})
    row.update({f"mix_{k}": v for k, v in m["follow_through_mix"].items()})
    row["overloaded_reps"] = ";".join(m["overloaded_reps"])
    return row


def render_coaching(obj: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json_text(obj)
    key = "manager" if "managers" in obj else "group"
    rows = [flat_row(m, key) for m in [*obj.get("managers", obj.get("groups", [])), obj["team"]]]
    if fmt == "csv":
        from .safe import csv_cell

        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in r.items()} for r in rows)
        return buf.getvalue().rstrip("\n")
    head = (
        f"Coaching patterns as of {obj['as_of']}, on {obj['on']}, window {obj['window_days']} days"
    )
    if key == "group":
        head += f", by {obj['group_by']}"
    if fmt == "md":
        return f"## {head}\n\n" + md_table(list(rows[0]), [list(r.values()) for r in rows])
    return f"{head}\n\n" + _table(rows, key)


def _table(rows: Sequence[dict[str, Any]], key: str = "manager") -> str:
    columns = ((key, key), *TABLE[1:])
    headers = [h for h, _ in columns]
    return text_table(headers, [[r[k] for _, k in columns] for r in rows])


HYPOTHESES = ("manager", "made", "met", "missed", "unknown", "hit_rate", "honest_miss_share")


@report.command()
@click.option("--manager", type=PERSON, help="Only this manager.")
@as_of_options
@window_days_option("Trailing window: commitments closed in (D - N, D].")
@format_option("table", "json", "csv", "md")
@pass_env
def hypotheses(
    env: Env,
    manager: str | None,
    as_of: str | None,
    on: str | None,
    window_days: int,
    fmt: str,
) -> None:
    """How good the hypotheses were, per manager.

    Over rep-owned commitments with a hypothesis (text or outcome metric)
    closed in the window: how many were made, met, missed or unknown; the hit
    rate met / (met + missed); the honest-miss share honest_miss / (honest_miss
    + succeeded). Shares are null when 0/0.

    \b
    Example:
      commitments report hypotheses
      commitments report hypotheses --manager bob --format json
    """
    at = moment(as_of, on)
    with open_read_model(env) as rm:
        obj = hypotheses_object(rm, at, manager, window_days)
    rows = [[m[k] for k in HYPOTHESES] for m in obj["managers"]]
    if fmt == "json":
        text = json_text(obj)
    elif fmt == "csv":
        from .safe import csv_row

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(HYPOTHESES)
        writer.writerows(csv_row(r) for r in rows)
        text = buf.getvalue().rstrip("\n")
    else:
        head = (
            f"Hypotheses as of {obj['as_of']}, on {obj['on']}, "
            f"closed in the last {obj['window_days']} days"
        )
        if fmt == "md":
            text = f"## {head}\n\n" + md_table(HYPOTHESES, rows)
        else:
            text = f"{head}\n\n" + text_table(HYPOTHESES, rows)
    click.echo(text)


def hypotheses_object(
    rm: ReadModel,
    at: Moment,
    manager: str | None = None,
    window_days: WindowDays = rules.DEFAULT_WINDOW_DAYS,
) -> dict[str, Any]:
    """``report hypotheses --format json`` (SPEC §7.6): how good the hypotheses were."""
    from projections.cycle import hypotheses_report

    return hypotheses_report(rm, at, window_days, manager.strip() if manager else None)
