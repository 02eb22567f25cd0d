"""The root ``commitments`` group.

Subcommands live one module per group and are imported only when invoked,
so a write command does not pay for the read side's imports.
"""

from __future__ import annotations

import getpass
import importlib
import os
from typing import Any

import click

from .errors import ErrorMappingGroup

# name -> "module:attribute"; the order is the order of ``--help``.
COMMANDS = {
    "session": "cli.record:session",
    "agree": "cli.record:agree",
    "check-in": "cli.record:check_in",
    "correct": "cli.record:correct",
    "revise": "cli.record:revise",
    "release": "cli.record:release",
    "close": "cli.record:close",
    "reply": "cli.record:reply",
    "show": "cli.read:show",
    "list": "cli.read:list_",
    "history": "cli.read:history",
    "team": "cli.team:team",
    "report": "cli.report:report",
    "prep": "cli.cycle:prep",
    "plan": "cli.cycle:plan",
    "model": "cli.cycle:model",
    "due": "cli.cycle:due",
    "activity": "cli.activity:activity",
    "people": "cli.people:people",
    "export": "cli.audit:export",
    "import": "cli.audit:import_",
    "verify": "cli.audit:verify",
    "keys": "cli.checkpoints:keys",
    "checkpoint": "cli.checkpoints:checkpoint",
    "prove": "cli.checkpoints:prove",
    "projections": "cli.projections:projections",
    "init": "cli.store:init",
    "demo": "cli.demo:demo",
    "serve": "cli.serve.command:serve",
    "access": "cli.serve.command:access",
}


class LazyGroup(ErrorMappingGroup):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return _not_built(cmd_name)
        command: click.Command = getattr(module, attr)
        return command


def _not_built(name: str) -> click.Command:
    @click.command(name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def missing(args: Any) -> None:
        """Not built yet."""
        raise click.ClickException(f"'commitments {name}' is not built yet")

    return missing


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="COMMITMENTS_DB",
    default="commitments.db",
    show_default=True,
    help="SQLite file path or postgresql:// URL of the event store.",
)
@click.option(
    "--views",
    envvar="COMMITMENTS_VIEWS",
    default=None,
    help="SQLite file of the read model. Default: beside the ledger file "
    "(X.db -> X.views.db), or ./commitments-<first 8 hex of the ledger id>.views.db "
    "for PostgreSQL.",
)
@click.option(
    "--actor",
    envvar="COMMITMENTS_ACTOR",
    default=_default_actor,
    help="Who is recording (an attribution, not authentication). Default: the OS user.",
)
@click.version_option(package_name="commitment-ledger")
@click.pass_context
def cli(ctx: click.Context, db: str, views: str | None, actor: str) -> None:
    """An event-sourced ledger of coaching commitments between sales managers and reps.

    Record a coaching cycle, then read it back:

    \b
      commitments session record --rep alice --manager bob --on 2026-01-05 --prepared
      commitments agree --rep alice --manager bob --focus prospecting \\
          --behavior "outbound calls" --target 10 --per week --start 2026-01-05
      commitments check-in 3f2a9c --on 2026-01-12 --actual 9
      commitments close 3f2a9c --on 2026-02-04 --result met
      commitments history alice
    """
    from .context import Env

    ctx.obj = Env(db=db, views=views, actor=actor)


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    cli(prog_name="commitments")
