"""Follow the ledger: keep the read model current as events arrive.

A :class:`Follower` is a loop around :func:`projections.catchup.catch_up`,
one page per call, so everything catch-up guarantees holds here too: each
page's rows and the new position commit in one SQLite transaction, each
event is applied exactly once, a killed follower loses at most the page in
flight (nothing of it is half-written) and resumes where the tracked
position says. Between pages it checks whether it was asked to stop, so
Ctrl-C / SIGTERM end it within a page.

What wakes it up:

* PostgreSQL: the recorder's subscription (``recorder.subscribe(gt=...)``,
  eventsourcing's LISTEN/NOTIFY on the events table's channel). A watcher
  thread drains it and only raises a flag; the pages themselves are read by
  catch-up, so there is one code path that writes the read model. A slow
  poll (``poll_interval``) runs as well, as a safety net.
* SQLite (no notifications): polling every ``poll_interval`` seconds; an idle
  poll costs one ``max(rowid)`` query.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .catchup import DEFAULT_PAGE_SIZE, catch_up, connect, tracked_position

if TYPE_CHECKING:
    from ledger.application import Ledger

OnPage = Callable[[int], None]
"""Called after each committed page with the number of events in it."""

_TICK = 0.2
"""Longest time between two checks of the stop flag while idle (seconds)."""


class Follower:
    """Keeps one read-model file current with one ledger until :meth:`stop` is called."""

    def __init__(
        self,
        ledger: Ledger,
        views_path: str,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        poll_interval: float = 1.0,
        on_page: OnPage | None = None,
    ) -> None:
        self.ledger = ledger
        self.views_path = views_path
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.on_page = on_page
        self.applied = 0
        self.mode = "polling"
        # A plain attribute, not a threading.Event: stop() is called from
        # signal handlers, which must not take locks the main thread may hold.
        self._stopping = False
        self._woken = threading.Event()
        self._watch_error: BaseException | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Ask the loop to finish after the page in flight (async-signal safe)."""
        self._stopping = True

    def position(self) -> int:
        db = connect(self.views_path)
        try:
            return tracked_position(db.conn)[0]
        finally:
            db.close()

    def drain(self) -> int:
        """Apply pages until the read model reaches the ledger's head (or a stop)."""
        done = 0
        while not self._stopping:
            n = catch_up(self.ledger, self.views_path, page_size=self.page_size, max_pages=1)
            if n == 0:
                break
            done += n
            self.applied += n
            if self.on_page is not None:
                self.on_page(n)
        return done

    def run(self) -> int:
        """Catch up, then follow until stopped; return the number of events applied."""
        self.drain()
        if self._stopping:
            return self.applied
        subscription = self._subscribe()
        if subscription is None:
            self._poll_loop(lambda: False)
            return self.applied
        self.mode = "listen/notify"
        with subscription as sub:
            watcher = threading.Thread(
                target=self._watch, args=(sub,), name="ledger-subscription", daemon=True
            )
            watcher.start()
            try:
                self._poll_loop(self._woken.is_set)
            finally:
                sub.stop()
        watcher.join(timeout=5)
        if self._watch_error is not None:
            raise self._watch_error
        return self.applied

    def _subscribe(self) -> Any:
        recorder: Any = self.ledger.recorder
        try:
            return recorder.subscribe(gt=self.position())
        except NotImplementedError:
            return None

    def _watch(self, sub: Any) -> None:
        try:
            for _ in sub:
                self._woken.set()
        except BaseException as exc:  # the listening connection failed
            self._watch_error = exc
        finally:
            self._stopping = self._stopping or self._watch_error is not None
            self._woken.set()

    def _poll_loop(self, woken: Callable[[], bool]) -> None:
        next_poll = time.monotonic() + self.poll_interval
        while not self._stopping:
            self._woken.wait(_TICK)
            if self._stopping:
                break
            if woken() or time.monotonic() >= next_poll:
                self._woken.clear()
                self.drain()
                next_poll = time.monotonic() + self.poll_interval
