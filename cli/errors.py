"""Exit codes, mapped in one place (SPEC §5).

0 ok; 2 usage or invalid input; 3 not found or ambiguous prefix; 4 refused
by a rule of the ledger's state; 5 conflict; 1 anything else. Every error is
one line on stderr; set ``COMMITMENTS_DEBUG=1`` to see tracebacks.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from typing import Any, NoReturn

import click


def fail(message: str, code: int) -> NoReturn:
    from .safe import one_line

    click.echo(f"error: {one_line(message)}", err=True)
    sys.exit(code)


def warn(message: str) -> None:
    """A one-line warning on stderr: the command did its work (exit 0)."""
    from .safe import one_line

    click.echo(f"warning: {one_line(message)}", err=True)


def exit_code_for(exc: BaseException) -> tuple[int, str]:
    """The exit code and one-line message for an exception."""
    from ledger.errors import LedgerError

    if isinstance(exc, LedgerError):
        return exc.exit_code, _line(exc)
    module = type(exc).__module__
    if module == "ledger.keys":  # KeyDestroyed (an erased person), SealError (tampered text)
        return 4, _line(exc)
    if module.startswith("eventsourcing"):
        from eventsourcing.persistence import OperationalError, RecordConflictError

        from ledger.store import is_locked

        if isinstance(exc, RecordConflictError):
            return 5, "another writer changed it first; nothing was written, run the command again"
        if isinstance(exc, OperationalError) and is_locked(exc):
            return 5, "the ledger is locked by another writer; nothing was written, try again"
        return 1, f"storage error: {_line(exc)}{_storage_hint(exc)}"
    if isinstance(exc, ValueError) and "embedded null byte" in str(exc):
        return 2, "a file name or value holds a NUL byte"  # only possible in-process
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return 5, "the database is locked by another writer; nothing was written, try again"
    if isinstance(exc, (sqlite3.Error, OSError)):
        return 1, f"{type(exc).__name__}: {_line(exc)}{_storage_hint(exc)}"
    return 1, f"unexpected {type(exc).__name__}: {_line(exc)}"


_STORAGE_FAULTS = ("disk I/O error", "disk is full", "readonly database", "unable to open")


def _storage_hint(exc: BaseException) -> str:
    """What a SQLite file fault usually means (the write was rolled back)."""
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno in (28, 30):  # ENOSPC, EROFS
        return "; nothing was written"
    if any(fault in text for fault in _STORAGE_FAULTS):
        return " (a full disk, or a read-only file or file system?); nothing was written"
    return ""


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def click_failure(exc: click.ClickException) -> NoReturn:
    """A click error (usage or file) as one line, like every other error:
    click's own three lines ("Usage: ...", "Try ...", "Error: ...") become
    ``error: <message> (see 'commitments agree --help')``."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        raise exc  # a bare group ("commitments session"): click shows its help
    message = exc.format_message()  # it may quote an argument verbatim: fail() defuses it
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    fail(message, exc.exit_code)


class ErrorMappingGroup(click.Group):
    """A click group that turns every exception into a one-line message and exit code."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as exc:  # e.g. "No such option: <what was typed>"
            click_failure(exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            click_failure(exc)
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            fail("interrupted", 1)
        except Exception as exc:
            if os.environ.get("COMMITMENTS_DEBUG"):
                raise
            code, message = exit_code_for(exc)
            env = ctx.obj
            if hasattr(env, "names_for_subjects"):
                with contextlib.suppress(Exception):  # a message is never lost to this
                    message = env.names_for_subjects(message)
            fail(message, code)
