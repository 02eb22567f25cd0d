"""``commitments activity``: import CRM activity from CSV (SPEC §5)."""

from __future__ import annotations

import io
import os
import stat
import sys
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from .context import Env, pass_env

if TYPE_CHECKING:
    from ledger.application import Ledger
    from ledger.formats.activity_csv import ImportOptions, ImportSummary


@click.group()
def activity() -> None:
    """CRM activity: the rows that measure metric-backed commitments."""


@activity.command("import")
@click.argument("file", type=click.File("rb"), metavar="FILE.csv")
@click.option("--metric", required=True, help="Name of the activity stream (engagements, calls).")
@click.option("--rep-column", required=True, metavar="C", help="Column naming the rep.")
@click.option("--date-column", required=True, metavar="C", help="Column with the business date.")
@click.option(
    "--value-column", metavar="C", help="Column with the amount (a number >= 0). Default: 1 a row."
)
@click.option(
    "--id-column",
    metavar="C",
    help="Column with the row's id in the CRM. Default: a stable hash of the whole row.",
)
@click.option(
    "--date-format",
    default="%Y-%m-%d",
    show_default=True,
    metavar="FMT",
    help="strptime format of the date column (%d-%m-%y for 31-12-17).",
)
@click.option(
    "--where",
    "wheres",
    multiple=True,
    metavar="FILTER",
    help="Keep only rows where COLUMN=VALUE, COLUMN!=VALUE, or COLUMN (non-empty). "
    "Repeatable: all must hold.",
)
@click.option(
    "--new-person",
    is_flag=True,
    help="Register reps named for the first time, even after 'people add'/"
    "'people import' made names strict.",
)
@pass_env
def import_(
    env: Env,
    file: BinaryIO,
    metric: str,
    rep_column: str,
    date_column: str,
    value_column: str | None,
    id_column: str | None,
    date_format: str,
    wheres: tuple[str, ...],
    new_person: bool,
) -> None:
    """Record the rows of FILE.csv ('-' reads stdin) as activity, in chunk events.

    The rows are stored in chunks, one event per 10,000 rows; each row is
    still recorded once by its (metric, id), whether it came in a chunk or
    as an activity event of its own ('activity record', older imports).

    All or nothing: a bad row (missing rep, a date or value that does not
    parse) aborts the import, lists the file's line numbers and reasons (the
    first 20), and writes nothing. Idempotent: a row whose (metric, id) is
    already stored is skipped, so re-importing a file, or an overlapping
    export, records nothing twice. The summary goes to stderr.

    \b
    Example, on the CRM sample (dates dd-mm-yy; Prospecting rows have no
    engage date, so the bare --where engage_date skips them):
      commitments activity import examples/crm/sales_pipeline.csv \\
          --metric engagements --rep-column sales_agent \\
          --date-column engage_date --where engage_date \\
          --id-column opportunity_id --date-format %d-%m-%y
      commitments activity import examples/crm/sales_pipeline.csv \\
          --metric won_value --rep-column sales_agent \\
          --date-column close_date --value-column close_value \\
          --where deal_stage=Won --date-format %d-%m-%y

    Without --id-column a row's id is a hash of the whole row: keep to one
    choice per metric, or the same rows get two ids and count twice. See
    docs/walkthrough-crm.md.
    """
    from ledger.activity_import import import_csv
    from ledger.formats.activity_csv import ImportOptions, ImportRejected, Where

    from .errors import warn
    from .safe import one_line

    options = ImportOptions(
        metric=metric,
        rep_column=rep_column,
        date_column=date_column,
        value_column=value_column,
        id_column=id_column,
        date_format=date_format,
        where=tuple(Where.parse(w) for w in wheres),
    )
    name = str(getattr(file, "name", "<stdin>"))
    if name in ("-", "<stdin>") or not isinstance(getattr(file, "name", None), str):
        name = "<stdin>"
    ledger = env.ledger()
    people: dict[str, Any] = {"people": env.people(), "new_person": new_person}
    try:
        size = _file_size(file) if _stderr_is_terminal() else None
        if size:  # a bar needs a length: none for a pipe
            summary = _with_progress(ledger, file, size, options, env.actor, **people)
        else:
            summary = import_csv(ledger, file, options, actor=env.actor, **people)
    except ImportRejected as exc:
        for error in exc.errors:
            click.echo(one_line(f"{name}:{error.line}: {error.reason}"), err=True)
        raise
    click.echo(f"{name}: {summary}", err=True)
    for warning in summary.warnings:
        warn(f"{name}: {warning}")


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _file_size(file: BinaryIO) -> int | None:
    """The size of a regular file; None for a pipe or a terminal."""
    try:
        info = os.fstat(file.fileno())
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) and info.st_size else None


def _with_progress(
    ledger: Ledger, file: BinaryIO, size: int, options: ImportOptions, actor: str, **people: Any
) -> ImportSummary:
    from ledger.activity_import import import_csv

    with click.progressbar(length=size, label="importing", file=sys.stderr) as bar:
        done = 0

        def progress(count: int) -> None:
            nonlocal done
            bar.update(count - done)
            done = count

        return import_csv(ledger, file, options, actor=actor, progress=progress, **people)
