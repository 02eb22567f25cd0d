"""``commitments projections``: where the read model stands, and rebuilding it."""

from __future__ import annotations

import json
import time

import click

from .context import Env, pass_env, progress_bar
from .params import format_option


@click.group()
def projections() -> None:
    """The read model (SQLite tables rebuilt from the ledger's events).

    \b
    Example:
      commitments projections status
      commitments projections rebuild
      commitments projections verify
    """


@projections.command()
@format_option("table", "json")
@pass_env
def status(env: Env, fmt: str) -> None:
    """Position, lag behind the ledger, and the size of every table (does not catch up).

    \b
    Example:
      commitments projections status --format json
    """
    from projections.catchup import status as read_status

    st = read_status(env.ledger(), env.views_path)
    if fmt == "json":
        obj = {
            "views": st.views_path,
            "position": st.position,
            "head": st.head,
            "lag": st.lag,
            "tables": st.tables,
        }
        click.echo(json.dumps(obj, indent=2))
        return
    click.echo(f"views:    {st.views_path}")
    click.echo(f"position: {st.position}")
    click.echo(f"head:     {st.head}")
    click.echo(f"lag:      {st.lag}")
    width = max(len(n) for n in st.tables)
    for name, count in st.tables.items():
        click.echo(f"  {name.ljust(width)}  {count:>10}")


@projections.command()
@click.option(
    "--page-size",
    type=click.IntRange(1, 100_000),
    default=10000,
    show_default=True,
    help="Notifications per transaction.",
)
@pass_env
def rebuild(env: Env, page_size: int) -> None:
    """Drop every read-model table and replay the whole ledger.

    \b
    Example:
      commitments projections rebuild
    """
    from projections.catchup import max_position
    from projections.catchup import rebuild as do_rebuild

    ledger = env.ledger()
    started = time.perf_counter()
    with progress_bar("rebuilding", lambda: max_position(ledger)) as progress:
        count = do_rebuild(ledger, env.views_path, page_size=page_size, progress=progress)
    elapsed = time.perf_counter() - started
    rate = count / elapsed if elapsed > 0 else 0.0
    click.echo(
        f"rebuilt {env.views_path} from {count} events in {elapsed:.2f}s ({rate:,.0f} events/s)",
        err=True,
    )


@projections.command("verify")
@pass_env
def verify(env: Env) -> None:
    """Rebuild the read model into a temporary file and compare every table.

    The views file is compared, row for row, with a rebuild from the ledger up
    to the position the views file has applied (it is opened read-only and not
    caught up first). Any difference (a row deleted or edited in the views
    file, a views file of another ledger or of a replaced one) exits 4 naming
    the tables; the next read does not repair an edited row, `projections
    rebuild` does.

    \b
    Example:
      commitments projections verify
    """
    import os

    from ledger.errors import IntegrityFailure, NotFound
    from projections.catchup import max_position
    from projections.verify import verify as do_verify

    if env.ledger_file is not None and not os.path.exists(env.ledger_file):
        raise NotFound(f"no ledger at {env.db} (pass --db)")
    views = env.views_path
    ledger = env.ledger()
    started = time.perf_counter()
    with progress_bar("rebuilding to compare", lambda: max_position(ledger)) as progress:
        result = do_verify(ledger, views, progress=progress)
    elapsed = time.perf_counter() - started
    if not result.ok:
        raise IntegrityFailure(
            f"projections verify: {views} differs from the ledger: {result.summary()}"
        )
    click.echo(
        f"{views}: {result.rows} rows in {len(result.tables)} tables match a rebuild from "
        f"the ledger at position {result.position} (ledger head {result.head})"
    )
    click.echo(f"verified in {elapsed:.2f}s", err=True)


# ``follow`` lives in its own module (long-running, signal handling).
from .follow import follow  # noqa: E402

projections.add_command(follow)
