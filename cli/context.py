"""What every command shares: where the ledger and its read model live, and who acts."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ledger.application import Ledger


@dataclass
class Env:
    db: str
    views: str | None
    actor: str
    _ledger: Any = field(default=None, repr=False)

    @property
    def is_postgres(self) -> bool:
        return self.db.startswith(("postgresql://", "postgres://"))

    @property
    def views_path(self) -> str:
        """The read model's SQLite file."""
        if self.views:
            return self.views
        if self.is_postgres:
            return "commitments.views.db"
        root, ext = os.path.splitext(self.db)
        return f"{root}.views{ext or '.db'}"

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from ledger.application import Ledger

            self._ledger = Ledger.open(self.db)  # CREATE_TABLE: read by the ledger alone
        return self._ledger

    def resolve(self, ref: str, kind: str = "commitment") -> Any:
        return self.ledger().resolve(ref, kind)


@contextmanager
def progress_bar(label: str, length: Callable[[], int]) -> Iterator[Callable[[int], Any] | None]:
    """A click progress bar's ``update`` when stderr is a terminal, else None.

    ``length`` is asked for only when a bar is shown (it may cost a query)."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=length(), label=label, file=sys.stderr) as bar:
        yield bar.update
