"""``commitments projections follow``: keep the read model current until stopped."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from .context import Env, pass_env


@click.command()
@click.option(
    "--page-size",
    type=click.IntRange(1, 100_000),
    default=2000,
    show_default=True,
    help="Notifications per read-model transaction.",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between polls (SQLite; on PostgreSQL a safety net behind LISTEN/NOTIFY).",
)
@pass_env
def follow(env: Env, page_size: int, poll_interval: float) -> None:
    """Catch up, then keep the read model current as events arrive, until Ctrl-C or SIGTERM.

    On PostgreSQL it wakes on the events table's notifications (LISTEN/NOTIFY);
    on SQLite it polls. Every page of events and the new position commit in one
    transaction, so a follower that is stopped, or killed, resumes exactly
    where it stopped. Run one per read-model file (each reporting machine keeps
    its own); read commands on that machine then find it current.

    \b
    Example:
      COMMITMENTS_DB=postgresql://reader@db:5432/sales?schema=coaching \\
      COMMITMENTS_VIEWS=/var/lib/commitments/views.db commitments projections follow
    """
    from ledger.store import redact
    from projections.follow import Follower

    follower = Follower(
        env.ledger(), env.views_path, page_size=page_size, poll_interval=poll_interval
    )
    click.echo(
        f"following {redact(env.db)} into {env.views_path} from position "
        f"{follower.position()}; Ctrl-C or SIGTERM stops",
        err=True,
    )
    with _stop_on_signals(follower.stop):
        follower.run()
    click.echo(
        f"stopped at position {follower.position()} ({follower.mode}); "
        f"applied {follower.applied} events",
        err=True,
    )


@contextmanager
def _stop_on_signals(stop: Any) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``stop`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda _signum, _frame: stop())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
