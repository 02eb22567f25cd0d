"""``commitments serve`` and ``commitments access grant|revoke|list|log``."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

import click

from ..context import Env, pass_env

_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port."
)
@click.option(
    "--trust-header",
    metavar="NAME",
    help="Take the caller's person id from this request header, set by a single-sign-on "
    "proxy in front (X-Forwarded-User). Only when listening on loopback.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes (each with its own connections; one views file, one access store).",
)
@pass_env
def serve(env: Env, host: str, port: int, trust_header: str | None, workers: int) -> None:
    """Serve the pages (/) and the JSON API (/api/v1/) with tokens and roles.

    Every request needs an identity: 'Authorization: Bearer TOKEN' (a token from
    'commitments access grant'), or with --trust-header the person id a
    single-sign-on proxy in front sets. In a browser, open / and log in with
    the token: the pages show the team, reps, commitments and reports, with the
    forms of the coaching cycle (docs/guide.md, section 11). What each role may see and do: see
    docs/serve.md. Every request is appended to the access log
    ('commitments access log'); events written through the server carry the
    caller as their actor.

    \b
    Example:
      commitments access grant bob --role manager
      commitments serve --port 8000
      commitments serve --trust-header X-Forwarded-User
    """
    import uvicorn

    from .access import open_access
    from .app import CONFIG_ENV, Config

    if trust_header is not None and not _HEADER_NAME.fullmatch(trust_header):
        raise click.BadParameter(
            f"{trust_header!r} is not a header name", param_hint="'--trust-header'"
        )
    db = env.db if env.ledger_file is None else os.path.abspath(env.ledger_file)
    import secrets

    config = Config(
        db=db,
        views=os.path.abspath(env.views_path),
        host=host,
        trust_header=trust_header,
        secret=secrets.token_urlsafe(32),
    )
    config.check()
    env.ledger()  # create the ledger (its tables) once, before any worker starts
    store = open_access(db)
    try:
        granted = [g for g in store.grants() if g.revoked_at is None]
    finally:
        store.close()
    if not granted:
        click.echo(
            "warning: nobody has access yet: 'commitments access grant NAME --role admin'",
            err=True,
        )
    where = f"[{host}]" if ":" in host else host
    click.echo(
        f"serving the pages on http://{where}:{port}/ and the API on /api/v1/ "
        f"(OpenAPI: /api/openapi.json; {workers} worker{'s' if workers > 1 else ''})",
        err=True,
    )
    os.environ[CONFIG_ENV] = config.to_env()
    uvicorn.run(
        "cli.serve.app:factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # the access log is ours: person ids, no query strings
        server_header=False,
        log_level="warning",
    )


@click.group()
def access() -> None:
    """Who may use the server: grants (tokens stored only as hashes) and the access log."""


def _store(env: Env) -> Any:
    from .access import open_access

    return open_access(env.db)


@access.command("grant")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["rep", "manager", "hr", "admin"]),
    help="rep: own data; manager: their reps, writes the cycle; hr: reads all; "
    "admin: reads all, access.",
)
@pass_env
def grant(env: Env, name: str, role: str) -> None:
    """Grant a role to a person; prints their token, once (only its hash is kept).

    The person is found by name through the people registry; the grant holds
    their subject id, so a rename keeps their access and an erasure ends it.
    Once names are strict ('people add'/'people import'), an unregistered name
    is refused (exit 3) with the closest names; before, it is registered.

    \b
    Example:
      commitments access grant bob --role manager
      commitments access grant 'Moses Frase' --role rep
    """
    from .access import person_for_grant

    subject, by = person_for_grant(env.ledger(), env.views_path, name, env.actor)
    store = _store(env)
    try:
        token = store.grant(subject, role, by)
    finally:
        store.close()
    click.echo(token)
    click.echo(
        f"granted {role} to {name.strip()!r}: the token above is shown only this once", err=True
    )


@access.command("revoke")
@click.argument("name")
@pass_env
def revoke(env: Env, name: str) -> None:
    """Revoke a person's access: their token stops working at once.

    \b
    Example:
      commitments access revoke bob
    """
    from .access import person_known

    subject, by = person_known(env.ledger(), env.views_path, name, env.actor)
    store = _store(env)
    try:
        store.revoke(subject, by)
    finally:
        store.close()
    click.echo(f"revoked the access of {name.strip()!r}", err=True)


@access.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_env
def list_(env: Env, fmt: str) -> None:
    """Every grant, active and revoked (never a token or its hash): the
    person's current name beside the subject ids the store holds.

    \b
    Example:
      commitments access list --format json
    """
    from ..context import open_read_model
    from .api import grants_with_names

    with open_read_model(env):  # caught up: the names are current
        pass
    store = _store(env)
    try:
        grants = grants_with_names(store.grants(), env.views_path)
    finally:
        store.close()
    columns = ("name", "subject", "role", "granted_at", "granted_by", "revoked_at", "revoked_by")
    _render(grants, columns, fmt, "(no grants)")


@access.command("log")
@click.option("--since", metavar="T", help="From T: a date (its start, UTC) or an ISO date-time.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_env
def log(env: Env, since: str | None, fmt: str) -> None:
    """The access log: every request through the server (who, when, what, about whom).

    People are subject ids (never names: 'people show' says who is who);
    'names' says whether a read showed names (false: pseudonymised, as hr
    reads are unless they ask for names).

    \b
    Example:
      commitments access log --since 2026-03-01
      commitments access log --format json
    """
    from .access import parse_since

    start = parse_since(since) if since is not None else None
    store = _store(env)
    try:
        entries = [e.as_dict() for e in store.entries(start)]
    finally:
        store.close()
    columns = ("at", "via", "who", "role", "action", "subjects", "target", "status", "names")
    _render(entries, columns, fmt, "(no entries)")


def _render(rows: list[dict[str, Any]], columns: tuple[str, ...], fmt: str, empty: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(empty)
        return
    from ..render import text_table
    from ..safe import one_line

    table = [
        [one_line(str(v)) if isinstance(v, str) else v for v in (r[c] for c in columns)]
        for r in rows
    ]
    click.echo(text_table(columns, table))
    sys.stdout.flush()
