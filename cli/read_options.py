"""The options the read commands share (``--as-of``/``--on``, ``--window-days``,
``-o``) and the parsing of their values.

Kept apart from :mod:`cli.params` (which the write commands import too): these
load :mod:`ledger.rules` and ``annotated_types``, which a write does not need.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import annotated_types
import click

from ledger import rules

from .context import output_file_option

if TYPE_CHECKING:
    from projections.query import Moment

MAX_WINDOW_DAYS = 36600  # 100 years: any real window; keeps D - N inside the calendar
WindowDays = Annotated[int, annotated_types.Interval(ge=1, le=MAX_WINDOW_DAYS)]
"""``--window-days`` as a type (the server's query parameter checks it too)."""


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
"""``-o/--output FILE``: the ``output`` parameter of :func:`cli.render.write_output`."""


def as_of_options(f: Any) -> Any:
    """``--as-of T`` and ``--on DATE``: the moment a read judges at (:func:`moment`)."""
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


def moment(as_of: str | None, on: str | None) -> Moment:
    """The values of ``--as-of`` and ``--on`` as the moment to judge at (a bad one: exit 2)."""
    from projections import query

    return query.moment(as_of, on)


def date_option(name: str, text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` option value, or exit 2 naming the option."""
    if text is None:
        return None
    from projections.query import parse_on

    return parse_on(text, name)
