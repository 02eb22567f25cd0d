"""Write commands: sessions, agreements, check-ins, corrections, revisions,
releases and closes. Each validates, writes its events in one transaction,
and prints the id (or nothing) on stdout."""

from __future__ import annotations

from typing import Any

import click

from .context import Env, pass_env
from .params import PERSON

DATE = click.STRING  # validated by the ledger, so every command words date errors alike
PERIODS = click.Choice(["day", "week", "month", "window"])

new_person_option = click.option(
    "--new-person",
    is_flag=True,
    help="Register a person named here for the first time, even after "
    "'people add'/'people import' made names strict.",
)


def _people_refs(env: Env, new_person: bool, **names: str) -> tuple[dict[str, str], Any]:
    """The subject ids of the people a command names (``rep=..., manager=...``)
    and of its actor, resolved through the read model
    (:meth:`projections.people.People.ref`); their ``register`` list."""
    people = env.people()
    refs = {
        role: people.ref(name, role=role, new_person=new_person) for role, name in names.items()
    }
    refs["actor"] = people.actor(env.actor)
    return refs, people.pending


@click.group()
def session() -> None:
    """Coaching sessions."""


@session.command("record")
@click.option("--rep", required=True, help="The rep coached.")
@click.option("--manager", required=True, help="The manager coaching.")
@click.option("--on", "on", required=True, type=DATE, help="Date of the session (YYYY-MM-DD).")
@click.option("--prepared/--not-prepared", default=False, help="Did the rep come prepared?")
@click.option("--strength", "strengths", multiple=True, help="What is going well (repeatable).")
@click.option("--focus", "focus_areas", multiple=True, help="Focus area chosen (repeatable).")
@click.option("--note", help="Free text.")
@new_person_option
@pass_env
def session_record(
    env: Env, rep: str, manager: str, on: str, new_person: bool, **values: Any
) -> None:
    """Record a coaching session; prints its id.

    \b
    Example:
      commitments session record --rep alice --manager bob --on 2026-01-05 \\
          --prepared --strength rapport --focus prospecting
    """
    ledger = env.ledger()
    refs, register = _people_refs(env, new_person, rep=rep, manager=manager)
    sid = ledger.record_session(date=on, register=register, **refs, **values)
    click.echo(str(sid))


@click.command()
@click.option("--rep", required=True, help="The rep the commitment is about.")
@click.option("--manager", required=True, help="The manager who agreed it.")
@click.option(
    "--owner",
    type=click.Choice(["rep", "manager"]),
    default="rep",
    show_default=True,
    help="Who promises: the rep, or the manager (support).",
)
@click.option("--focus", required=True, help="Focus area (prospecting, pipeline, ...).")
@click.option("--behavior", "--behaviour", "behavior", required=True, help="The behaviour.")
@click.option("--target", type=float, help="Count measure: how many per period.")
@click.option(
    "--per",
    "period",
    type=PERIODS,
    default="week",
    show_default=True,
    help="Period of the target (window: the target is the total).",
)
@click.option("--unit", help="Unit of the target (calls, meetings).")
@click.option(
    "--metric",
    help="Activity metric that measures the behaviour automatically "
    "(one with recorded activity, unless --new-metric).",
)
@click.option("--done", is_flag=True, help="Done measure: a one-off action.")
@click.option("--baseline", type=float, help="Where the rep is today, per period.")
@click.option("--start", required=True, type=DATE, help="First day (YYYY-MM-DD).")
@click.option("--due", type=DATE, help="Last day, inclusive (YYYY-MM-DD).")
@click.option("--days", type=int, help="Window length in days [default: 30]; due = start + N - 1.")
@click.option("--expect", help="The hypothesis: what the behaviour will do to results.")
@click.option("--expect-metric", help="Outcome metric that tests the hypothesis.")
@click.option("--expect-at-least", type=float, help="Threshold of the outcome metric.")
@click.option("--session", "session_ref", help="Id (or prefix) of the session it came from.")
@click.option("--supports", "supports_ref", help="Rep commitment this manager commitment supports.")
@click.option("--kept-at", type=float, default=0.9, show_default=True, help="Kept threshold.")
@click.option("--partial-at", type=float, default=0.5, show_default=True, help="Partial threshold.")
@click.option("--override-focus-cap", metavar="REASON", help="Allow a third focus area; why.")
@click.option("--on", "on", type=DATE, help="Date of the agreement [default: start].")
@click.option(
    "--new-metric",
    is_flag=True,
    help="Accept a --metric or --expect-metric with no recorded activity yet "
    "(its rows will be imported later).",
)
@click.option(
    "--proposed-by",
    type=click.Choice(["rep", "manager"]),
    default="manager",
    show_default=True,
    help="Who proposed it: a rep who manages themselves, or the manager.",
)
@new_person_option
@pass_env
def agree(
    env: Env,
    session_ref: str | None,
    supports_ref: str | None,
    rep: str,
    manager: str,
    new_person: bool,
    **values: Any,
) -> None:
    """Agree a commitment; prints its id.

    \b
    Example (rep):
      commitments agree --rep alice --manager bob --focus prospecting \\
          --behavior "outbound calls" --target 10 --per week --baseline 5 \\
          --start 2026-01-05 --days 30 --expect "pipeline doubles"
    Example (manager support):
      commitments agree --rep alice --manager bob --owner manager \\
          --focus prospecting --behavior "two ride-alongs" --target 2 --per window \\
          --start 2026-01-05 --supports 3f2a9c
    """
    ledger = env.ledger()
    if session_ref:
        values["session_id"] = ledger.resolve(session_ref, "session")
    if supports_ref:
        values["supports"] = ledger.resolve(supports_ref)
    values = {k: v for k, v in values.items() if v is not None and v is not False}
    refs, register = _people_refs(env, new_person, rep=rep, manager=manager)
    cid = ledger.agree(register=register, **refs, **values)
    click.echo(str(cid))


@click.command("check-in")
@click.argument("commitment")
@click.option("--on", "on", required=True, type=DATE, help="Date of the check-in.")
@click.option("--actual", type=float, help="Amount done (count measure).")
@click.option("--done", is_flag=True, default=None, help="The one-off action is done.")
@click.option("--note", help="Free text.")
@pass_env
def check_in(env: Env, commitment: str, on: str, **values: Any) -> None:
    """Record a check-in on a commitment; prints the check-in's number.

    A check-in dated after the due date is recorded, with a warning on
    stderr: it does not count (outside the window).

    \b
    Example:
      commitments check-in 3f2a9c --on 2026-01-12 --actual 9 --note "2 days at a fair"
    """
    from .errors import warn

    ledger = env.ledger()
    cid = ledger.resolve(commitment)
    refs, register = _people_refs(env, False)
    receipt = ledger.check_in(cid, date=on, register=register, **refs, **values)
    for warning in receipt.warnings:
        warn(warning)
    click.echo(str(receipt.number))


@click.command()
@click.argument("commitment")
@click.option("--check-in", "check_in", required=True, type=int, help="Check-in number (1-based).")
@click.option("--actual", type=float, help="The right amount.")
@click.option("--done/--not-done", default=None, help="The right done flag.")
@click.option("--reason", required=True, help="Why it is corrected.")
@pass_env
def correct(env: Env, commitment: str, **values: Any) -> None:
    """Correct a check-in (a new event; the original stays).

    \b
    Example:
      commitments correct 3f2a9c --check-in 1 --actual 11 --reason "CRM sync missed two calls"
    """
    ledger = env.ledger()
    cid = ledger.resolve(commitment)
    refs, register = _people_refs(env, False)
    ledger.correct(cid, register=register, **refs, **values)


@click.command()
@click.argument("commitment")
@click.option("--on", "on", required=True, type=DATE, help="Date of the revision.")
@click.option("--reason", required=True, help="Why the terms change.")
@click.option("--target", type=float, help="New target.")
@click.option("--per", "period", type=PERIODS, help="New period.")
@click.option("--due", type=DATE, help="New due date.")
@click.option("--behavior", "--behaviour", "behavior", help="New behaviour text.")
@pass_env
def revise(env: Env, commitment: str, on: str, **values: Any) -> None:
    """Renegotiate the terms, on or before the current due date.

    \b
    Example:
      commitments revise 3f2a9c --on 2026-01-19 --target 8 --reason "territory split"
    """
    ledger = env.ledger()
    cid = ledger.resolve(commitment)
    refs, register = _people_refs(env, False)
    ledger.revise(cid, date=on, register=register, **refs, **values)


@click.command()
@click.argument("commitment")
@click.option("--on", "on", required=True, type=DATE, help="Date of the release.")
@click.option("--reason", required=True, help="What changed (neutral, no blame).")
@pass_env
def release(env: Env, commitment: str, on: str, reason: str) -> None:
    """Release a commitment: circumstances changed; it counts for nobody.

    \b
    Example:
      commitments release 3f2a9c --on 2026-01-20 --reason "account moved to another team"
    """
    ledger = env.ledger()
    cid = ledger.resolve(commitment)
    refs, register = _people_refs(env, False)
    ledger.release(cid, date=on, reason=reason, register=register, **refs)


@click.command()
@click.argument("commitment")
@click.option("--on", "on", required=True, type=DATE, help="Date of the close.")
@click.option(
    "--result", type=click.Choice(["met", "missed", "unknown"]), help="Did the result follow?"
)
@click.option("--value", type=float, help="The result value.")
@click.option("--note", help="Free text.")
@pass_env
def close(env: Env, commitment: str, on: str, **values: Any) -> None:
    """Close the loop on a commitment, with the result if known.

    \b
    Example:
      commitments close 3f2a9c --on 2026-02-04 --result missed --note "pipeline flat"
    """
    ledger = env.ledger()
    cid = ledger.resolve(commitment)
    refs, register = _people_refs(env, False)
    ledger.close_commitment(cid, date=on, register=register, **refs, **values)


@click.command()
@click.argument("commitment")
@click.option(
    "--by",
    "by",
    required=True,
    type=PERSON,
    help="Who answers: the commitment's rep or its manager (anyone else is refused).",
)
@click.option("--text", required=True, help="The reply, in the replier's words.")
@click.option("--contest", is_flag=True, help="The reply contests the verdict.")
@click.option("--on", "on", type=DATE, help="Date of the reply (YYYY-MM-DD) [default: today, UTC].")
@pass_env
def reply(env: Env, commitment: str, on: str | None, **values: Any) -> None:
    """Answer a commitment's verdict: a reply by its rep or manager, beside the verdict.

    The commitment must be closed, released or overdue on the reply's date; a
    reply never changes the verdict. It shows in show, list (a marker), history
    and the pages; --contest counts in report coaching's contested_share.

    \b
    Example:
      commitments reply 3f2a9c --by alice --contest \\
          --text "the CRM lost two weeks of my calls"
    """
    ledger = env.ledger()
    if on is not None:
        values["date"] = on
    cid = ledger.resolve(commitment)
    refs, register = _people_refs(env, False, by=values.pop("by"))
    ledger.reply(cid, register=register, **refs, **values)


def _add_session_readers() -> None:
    """``session list`` and ``session show`` (read side, :mod:`cli.sessions`)."""
    from .sessions import session_list, session_show

    session.add_command(session_list)
    session.add_command(session_show)


_add_session_readers()
