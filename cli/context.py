"""What every command shares: where the ledger and its read model live, and who acts."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ledger.application import Ledger
    from projections.catchup import Progress
    from projections.people import People
    from projections.query import ReadModel


SUBJECT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Env:
    db: str
    views: str | None
    actor: str
    _ledger: Any = field(default=None, repr=False)
    _views_checked: bool = field(default=False, repr=False)
    _people: Any = field(default=None, repr=False)

    @property
    def ledger_file(self) -> str | None:
        """The file the ledger lives in (SQLite); None for a ledger on a server."""
        from ledger.store import local_file

        return local_file(self.db)

    @property
    def views_path(self) -> str:
        """The read model's SQLite file (refused, exit 2, if it is the ledger,
        another file of the ledger's, or an existing file that is not a read model)."""
        path = self._default_views()
        if not self._views_checked:
            from ledger.files import check_views, ledger_files

            check_views(path, ledger_files(self.db))
            self._views_checked = True
        return path

    def _default_views(self) -> str:
        if self.views:
            return self.views
        if self.ledger_file is None:
            return postgres_views_path(self.ledger().ledger_id())
        root, ext = os.path.splitext(self.db)
        return f"{root}.views{ext or '.db'}"

    def protected_files(self) -> dict[str, str]:
        """The files no output option may overwrite (see :mod:`ledger.files`).
        A PostgreSQL ledger's default views file is not named here (that would
        mean connecting): like every SQLite database, it is refused by content."""
        from ledger.files import ledger_files

        views = self.views if self.ledger_file is None else self._default_views()
        return ledger_files(self.db, views)

    def check_output(self, path: str, option: str = "-o") -> None:
        """Refuse (exit 2) an output path that would overwrite the ledger, its
        views, keys or access log, a signing key, or any SQLite database."""
        from ledger.files import check_output

        check_output(path, option, self.protected_files())

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from ledger.application import Ledger

            self._ledger = Ledger.open(self.db)  # CREATE_TABLE: read by the ledger alone
        return self._ledger

    def existing_ledger(self) -> Ledger:
        """The ledger to read; a SQLite path that does not exist is not found (not created)."""
        if self.ledger_file is not None and not os.path.exists(self.ledger_file):
            from ledger.errors import NotFound

            raise NotFound(f"no ledger at {self.db} (pass --db)")
        return self.ledger()

    def resolve(self, ref: str, kind: str = "commitment") -> Any:
        return self.ledger().resolve(ref, kind)

    def people(self) -> People:
        """Person resolution for this command (:class:`projections.people.People`),
        over the read model caught up first: names -> subject ids, and the
        people named for the first time (``people().pending``), which the
        command registers with its own events."""
        if self._people is None:
            from projections.catchup import connect, open_current
            from projections.people import People

            if self.ledger().ledger_id() is None:
                # nothing written since release 2 (a write gives the ledger its id, and
                # a registration is a write): nobody registered to find, and no views
                # file to make yet (a PostgreSQL ledger's is named after its id)
                self._people = People(connect(":memory:").conn)
                return self._people  # type: ignore[no-any-return]
            rm = open_current(self.db, self.views_path, ledger=self.ledger())
            ctx = click.get_current_context(silent=True)
            if ctx is not None:  # the root closes last: an error message may still need it
                ctx.find_root().call_on_close(rm.close)
            self._people = People(rm.conn)
        return self._people  # type: ignore[no-any-return]

    def names_for_subjects(self, message: str) -> str:
        """``message`` with each subject id of a person this command resolved
        replaced by the person's name (the domain's messages quote the person
        references its events hold)."""
        if self._people is None or not SUBJECT.search(message):
            return message
        people = self._people
        return SUBJECT.sub(lambda m: people.name_of(m.group(0)), message)

    def actor_ref(self) -> str:
        """The actor (``--actor``, the OS user by default) as events carry it:
        their subject id, registering them on first use."""
        return self.people().actor(self.actor)


pass_env = click.make_pass_decorator(Env)
"""A command's first parameter: the :class:`Env` the root group made."""


def open_read_model(env: Env) -> ReadModel:
    """Catch the read model up with the ledger, then open it for reading."""
    from projections.catchup import open_current

    return open_current(env.db, env.views_path, progress_for=_terminal_bar)


def _terminal_bar(total: int) -> AbstractContextManager[Progress | None]:
    """A progress bar on stderr when it is a terminal and there is real work."""
    if total < 5000:
        return nullcontext(None)
    return progress_bar("updating read model", lambda: total)


def postgres_views_path(ledger_id: Any) -> str:
    """The default read model of a PostgreSQL ledger, in the current directory:
    ``commitments-<first 8 hex of the ledger id>.views.db``, so ledgers run from
    one folder do not share one; ``commitments.views.db`` for a ledger without
    an id yet (nothing written since before release 2)."""
    if ledger_id is None:
        return "commitments.views.db"
    return f"commitments-{ledger_id.hex[:8]}.views.db"


def guard_output(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Callback of every option naming a file to write (``-o``...): refuses,
    before anything runs, a path :meth:`Env.check_output` refuses."""
    env = ctx.find_object(Env)
    if value is not None and env is not None:
        option = max(param.opts, key=len) if param.opts else (param.name or "-o")
        env.check_output(value, option)
    return value


def output_file_option(*decls: str, **kwargs: Any) -> Callable[[Any], Any]:
    """A click option naming a file to write, guarded by :func:`guard_output`."""
    return click.option(*decls, callback=guard_output, **kwargs)


@contextmanager
def progress_bar(label: str, length: Callable[[], int]) -> Iterator[Callable[[int], Any] | None]:
    """A click progress bar's ``update`` when stderr is a terminal, else None.

    ``length`` is asked for only when a bar is shown (it may cost a query)."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=length(), label=label, file=sys.stderr) as bar:
        yield bar.update
