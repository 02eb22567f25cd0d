"""``commitments demo``: write a realistic demo team, then show its signals."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import click

from .context import Env, pass_env, progress_bar

if TYPE_CHECKING:
    from ledger.demo import DemoResult
    from projections.query import Moment


TEAM_TABLE_MAX = 40  # larger teams get a count per signal instead of a row per rep


@click.command()
@click.option(
    "--reps", type=click.IntRange(1, 100_000), default=12, show_default=True, help="Team size."
)
@click.option(
    "--weeks",
    type=click.IntRange(1, 520),
    default=12,
    show_default=True,
    help="Weeks of history, ending at the latest Monday on or before --until.",
)
@click.option(
    "--until",
    metavar="DATE",
    help="Business dates end at the latest Monday on or before DATE, and the "
    "signals are judged on DATE [default: today].",
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Same seed, same team and verdicts."
)
@pass_env
def demo(env: Env, reps: int, weeks: int, seed: int, until: str | None) -> None:
    """Write a realistic, deterministic demo team into an empty ledger.

    Several managers and their reps, each rep with a habit (diligent,
    experimenter, slipping, unreliable, blocked, newcomer): coaching sessions
    every four weeks, weekly check-ins, CRM activity, supporting manager
    commitments, releases, revisions, corrections and a focus-cap override.
    Business dates span WEEKS weeks up to the latest Monday on or before
    today, or --until DATE (then the signals and pages are judged on DATE, so
    the same DATE and seed print the same table whenever it runs).
    Prints a summary on stderr and the team's signals on stdout.

    \b
    Example:
      commitments --db demo.db demo
      commitments --db demo.db demo --until 2026-11-23
      commitments --db big.db demo --reps 5000 --weeks 52 --seed 7
    """
    from ledger.demo import write_demo

    from .read_options import moment

    at = moment(None, until)  # --until: a bad date exits 2 before anything is written

    from .html import demo_page_paths

    env.views_path  # noqa: B018 -- refuses a --views that is not a read model, before writing
    for path in demo_page_paths(env, None):
        env.check_output(path, "demo")
    ledger = env.ledger()
    with progress_bar("writing the demo ledger", lambda: weeks + 1) as progress:
        result = write_demo(
            ledger, reps=reps, weeks=weeks, seed=seed, today=at.on, progress=progress
        )
    click.echo(
        f"demo: wrote {result.events} events ({result.reps} reps, {result.managers} managers, "
        f"{result.sessions} sessions, {result.commitments} commitments; business dates "
        f"{result.first_day} to {result.end}) in {result.seconds:.2f} s "
        f"({result.events_per_second:,.0f} events/s) to {env.db}",
        err=True,
    )
    _show_signals(env, result, at)
    from .html import write_demo_pages

    for path in write_demo_pages(env, result.team, at):
        click.echo(f"demo: wrote {path}", err=True)


def _show_signals(env: Env, result: DemoResult, at: Moment) -> None:
    """The team's signals on ``at``, from the read side."""
    from ledger import rules

    from .context import open_read_model
    from .render import text_table

    rows = []
    teams: dict[str, list[tuple[str, str]]] = {}
    for rep, manager, habit in result.team:
        teams.setdefault(manager, []).append((rep, habit))
    with open_read_model(env) as rm:
        for manager, team in teams.items():  # one manager's team at a time: bounded memory
            rows += _team_rows(rm, at, manager, team)
    click.echo(f"Signals on {at.d} (trailing {rules.DEFAULT_WINDOW_DAYS} days):")
    if len(rows) <= TEAM_TABLE_MAX:
        headers = ("rep", "manager", "habit (demo)", "signal", "follow-through", "focus", "reasons")
        click.echo(text_table(headers, rows))
    else:
        counts = Counter((r[2], r[3]) for r in rows)
        habits = sorted({r[2] for r in rows})
        signals = list(rules.SIGNALS)
        table = [(h, *(str(counts[(h, s)]) for s in signals)) for h in habits]
        click.echo(text_table(("habit (demo)", *signals), table))
    click.echo(
        "\nNext: commitments history REP | commitments list --verdict broken"
        " | commitments report coaching"
    )


def _team_rows(
    rm: Any, at: Any, manager: str, team: list[tuple[str, str]]
) -> list[tuple[str, ...]]:
    """One row per rep of ``manager``: signal, follow-through rate, focus load, reasons."""
    from ledger import rules

    by_rep: dict[str, list[Any]] = {}
    for item in rm.commitments(at, manager=manager):
        by_rep.setdefault(item.facts.rep, []).append((item.facts, item.evaluation))
    rows: list[tuple[str, ...]] = []
    for rep, habit in team:
        pairs = by_rep.get(rep, [])
        signal = rules.rep_signal(pairs, at.on, rules.DEFAULT_WINDOW_DAYS)
        reasons = Counter(r.verdict for r in signal.reasons)
        rate = signal.follow_through_rate
        rows.append(
            (
                rep,
                manager,
                habit,
                signal.signal,
                "-" if rate is None else f"{rate:.2f}",
                str(rules.focus_load(pairs)),
                ", ".join(f"{n} {v}" for v, n in sorted(reasons.items())) or "-",
            )
        )
    return rows
