"""``commitments init``: create the event store's tables, once."""

from __future__ import annotations

import click

from .context import Env, pass_env


@click.command()
@pass_env
def init(env: Env) -> None:
    """Create the ledger's tables if they do not exist yet (safe to run again).

    On PostgreSQL, run it once as the role that owns the tables; afterwards
    writers need only SELECT and INSERT on them (see docs/postgres.md) and
    every command may run with CREATE_TABLE=n. Many processes running it, or
    any command, at once against a fresh schema create the tables exactly
    once. On SQLite it creates the ledger file.

    \b
    Example:
      commitments --db 'postgresql://owner@db.example:5432/sales?schema=coaching' init
    """
    from ledger.application import Ledger
    from ledger.store import redact

    ledger = Ledger.open(env.db, create_table=True)
    try:
        created = ledger.created_tables
    finally:
        ledger.close()
    where = redact(env.db)
    if created:
        click.echo(f"created the ledger tables at {where}", err=True)
    else:
        click.echo(f"the ledger tables at {where} already exist; nothing to do", err=True)
