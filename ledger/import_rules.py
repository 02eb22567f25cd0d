"""The rules an import replays (SPEC §7.2): every new event through its aggregate.

A hash chain is easy to recompute, so an imported event is trusted no more
than a command: each event not already in the ledger is applied to its
aggregate the way the command that writes it would apply it, by calling that
command's own method on the aggregate (``Commitment.close``,
``RepWorkload.take``...), so the rules keep one home (:mod:`ledger.domain`).
The method must accept, and the event it would trigger must equal the
imported one; otherwise the line is refused (exit 4, naming the line): a
check-in on a closed commitment, a second close, a correction of a missing
check-in, a revision after the due date, a third focus area without an
override, a ``supports`` naming something else than the rep's own commitment,
a stream id that is not the one its content derives from.

The time rule goes with it: a new event's ``recorded_at`` must be at or after
the latest ``recorded_at`` in the ledger before the import began (so no import
changes what an earlier ``--as-of`` answered) and at most five minutes ahead
of the clock. The latest is looked up once, when the first new event comes.
The ``LedgerCreated`` event is left out of it: it answers no ``--as-of``.

Aggregates are loaded from the store inside the import's own transaction (it
sees the batches already inserted) and kept in a bounded cache, trimmed only
between batches (a batch's events are inserted at its end).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from .domain import (
    LEDGER_STREAM,
    Activity,
    ActivityChunk,
    Commitment,
    LedgerIdentity,
    Person,
    RepWorkload,
    activity_id,
    workload_id,
)
from .errors import IntegrityFailure, LedgerError, RuleViolation

#: How far ahead of the clock an imported ``recorded_at`` may be.
CLOCK_SKEW = timedelta(minutes=5)
CACHE = 20_000

Loader = Callable[[UUID], list[Any]]


class Replayer:
    """Checks each new event of an import against the ledger's rules, in order."""

    def __init__(self, load: Loader, now: datetime, latest: Callable[[], datetime | None]) -> None:
        self.load = load  # the stored domain events of a stream, in version order
        self.latest_of = latest
        self.latest: datetime | None = None
        self.latest_known = False
        self.horizon = now + CLOCK_SKEW
        self.cache: OrderedDict[UUID, Any] = OrderedDict()
        self.untaken: dict[UUID, int] = {}  # rep-owned agreements awaiting their CommitmentTaken
        self.number = 0

    # -- the aggregates ---------------------------------------------------

    def aggregate(self, stream: UUID) -> Any:
        """The aggregate of ``stream`` as the import has it so far (None if absent)."""
        if stream in self.cache:
            self.cache.move_to_end(stream)
            return self.cache[stream]
        agg = None
        for event in self.load(stream):
            agg = event.mutate(agg)
        self.cache[stream] = agg
        return agg

    def trim(self) -> None:
        """Forget the least recently used aggregates beyond the cache size (between batches)."""
        while len(self.cache) > CACHE:
            self.cache.popitem(last=False)

    # -- the check ----------------------------------------------------------

    def finish(self) -> None:
        """Refuse a rep-owned agreement that no ``CommitmentTaken`` counted on
        its rep's workload: the command writes both, and without it the focus
        cap would never see the commitment."""
        if self.untaken:
            commitment, number = min(self.untaken.items(), key=lambda item: item[1])
            raise IntegrityFailure(
                f"line {number}: refused by the ledger's rules: rep-owned commitment "
                f"{commitment} is not counted on its rep's workload (no CommitmentTaken "
                "for it follows), so the focus cap would not see it"
            )

    def check(self, number: int, event: Any) -> None:
        """Refuse (:class:`IntegrityFailure`, exit 4) an event the ledger's rules
        would not have written; otherwise apply it to its aggregate."""
        where = f"line {number}"
        self.number = number
        self._check_time(where, event)
        try:
            self._apply(where, event)
        except IntegrityFailure:
            raise
        except LedgerError as exc:
            raise IntegrityFailure(f"{where}: refused by the ledger's rules: {exc}") from None
        except Exception as exc:  # an apply() that cannot take the event (bad index...)
            raise IntegrityFailure(
                f"{where}: refused by the ledger's rules: {type(exc).__name__}: {exc}"
            ) from None

    def _check_time(self, where: str, event: Any) -> None:
        at: datetime = event.timestamp
        if at > self.horizon:
            raise IntegrityFailure(
                f"{where}: recorded_at {_iso(at)} is in the future (more than 5 minutes "
                "ahead of this ledger's clock)"
            )
        if isinstance(event, LedgerIdentity.LedgerCreated):
            return
        if not self.latest_known:
            self.latest, self.latest_known = self.latest_of(), True
        if self.latest is not None and at < self.latest:
            raise IntegrityFailure(
                f"{where}: recorded_at {_iso(at)} is before the latest event already in the "
                f"ledger ({_iso(self.latest)}): an import may not change what the ledger said "
                "at an earlier --as-of"
            )

    def _apply(self, where: str, event: Any) -> None:
        stream: UUID = event.originator_id
        if event.originator_version == 1:
            self._check_created(where, event)
            if isinstance(event, Commitment.Agreed) and event.owner == "rep":
                self.untaken[stream] = self.number
            if not isinstance(
                event, Activity.Recorded | ActivityChunk.Recorded
            ):  # never loaded again
                self.cache[stream] = event.mutate(None)
            return
        agg = self.aggregate(stream)
        if agg is None or agg.version != event.originator_version - 1:
            have = 0 if agg is None else agg.version
            raise IntegrityFailure(
                f"{where}: stream {stream} version {event.originator_version} does not "
                f"follow its version {have}"
            )
        kind = type(event).__qualname__.rsplit(".", 1)[0]
        if type(agg).__qualname__ != kind:
            raise IntegrityFailure(
                f"{where}: stream {stream} is a {type(agg).__qualname__}, not a {kind}"
            )
        replay = _COMMANDS.get(type(event))
        if replay is None:  # an event type with no command rules (a tool's own types)
            event.mutate(agg)
            return
        replay(self, agg, event)
        produced = agg.collect_events()
        if len(produced) != 1 or produced[0] != event:  # dataclass equality: every field
            raise IntegrityFailure(
                f"{where}: refused by the ledger's rules: {type(event).__qualname__} is not "
                "what the command would record here"
            )

    def _check_created(self, where: str, event: Any) -> None:
        stream = event.originator_id
        expected: UUID | None = None
        if isinstance(event, RepWorkload.Started):
            expected = workload_id(event.rep)
        elif isinstance(event, Activity.Recorded):
            expected = activity_id(event.metric, event.source_id)
        elif isinstance(event, LedgerIdentity.LedgerCreated):
            expected = LEDGER_STREAM
        elif isinstance(event, Commitment.Agreed):
            if event.due < event.start:
                raise IntegrityFailure(
                    f"{where}: refused by the ledger's rules: due {event.due} is before "
                    f"start {event.start}"
                )
            if event.supports is not None:
                supported = self.aggregate(event.supports)
                if not isinstance(supported, Commitment):
                    raise IntegrityFailure(
                        f"{where}: refused by the ledger's rules: supports: no commitment "
                        f"{event.supports}"
                    )
                supported.check_supportable_by(event.rep)
        if expected is not None and stream != expected:
            raise IntegrityFailure(
                f"{where}: stream {stream} is not the id its content gives ({expected})"
            )


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


# -- each event type, replayed through the method of the command that writes it


def _check_in(r: Replayer, agg: Any, e: Any) -> None:
    agg.record_check_in(
        at=e.timestamp, date=e.date, actual=e.actual, done=e.done, note=e.note, actor=e.actor
    )


def _correct(r: Replayer, agg: Any, e: Any) -> None:
    agg.correct_check_in(
        at=e.timestamp,
        number=e.check_in,
        actual=e.actual,
        done=e.done,
        reason=e.reason,
        actor=e.actor,
    )


def _revise(r: Replayer, agg: Any, e: Any) -> None:
    agg.revise(
        at=e.timestamp,
        date=e.date,
        reason=e.reason,
        target=e.target,
        period=e.period,
        due=e.due,
        behavior=e.behavior,
        actor=e.actor,
    )


def _release(r: Replayer, agg: Any, e: Any) -> None:
    agg.release(at=e.timestamp, date=e.date, reason=e.reason, actor=e.actor)


def _close(r: Replayer, agg: Any, e: Any) -> None:
    agg.close(
        at=e.timestamp, date=e.date, result=e.result, value=e.value, note=e.note, actor=e.actor
    )


def _reply(r: Replayer, agg: Any, e: Any) -> None:
    _require_text("by", e.by, name=True)
    _require_text("text", e.text, name=False)
    agg.reply(at=e.timestamp, date=e.date, by=e.by, text=e.text, contests=e.contests, actor=e.actor)


def _require_text(field: str, value: str, *, name: bool) -> None:
    """An imported reply's person and text pass the checks the command's model
    makes (:mod:`ledger.values`): a person id trimmed, 1 to 100 characters; a
    text 1 to 2000; neither with control characters."""
    from .keys import is_sealed
    from .text import name_problem, text_problem
    from .values import MAX_NAME, MAX_TEXT

    if not name and is_sealed(value):  # sealed under the replier's key (SPEC §7.4)
        return
    most = MAX_NAME if name else MAX_TEXT
    problem = name_problem(value) if name else text_problem(value)
    if name and value != value.strip():
        problem = "must not start or end with spaces"
    if not value:
        problem = "must not be empty"
    elif len(value) > most:
        problem = f"must have at most {most} characters"
    if problem:
        raise RuleViolation(f"reply {field}: {problem}")


def _rep_commitment(r: Replayer, workload: Any, commitment_id: UUID) -> Commitment:
    commitment = r.aggregate(commitment_id)
    if not isinstance(commitment, Commitment) or commitment.owner != "rep":
        raise RuleViolation(f"{commitment_id} is not a rep-owned commitment in the ledger")
    if commitment.rep != workload.rep:
        raise RuleViolation(f"commitment {commitment_id} is not {workload.rep!r}'s")
    return commitment


def _take(r: Replayer, agg: Any, e: Any) -> None:
    commitment = _rep_commitment(r, agg, e.commitment_id)
    if commitment.focus != e.focus or not commitment.is_active:
        raise RuleViolation(
            f"commitment {e.commitment_id} is not an open commitment in focus {e.focus!r}"
        )
    if e.commitment_id in agg.active:
        raise RuleViolation(f"commitment {e.commitment_id} is already counted")
    r.untaken.pop(e.commitment_id, None)
    agg.take(
        at=e.timestamp,
        commitment_id=e.commitment_id,
        focus=e.focus,
        override=commitment.focus_cap_override,
        actor=e.actor,
    )


def _end(r: Replayer, agg: Any, e: Any) -> None:
    commitment = _rep_commitment(r, agg, e.commitment_id)
    if commitment.is_active:
        raise RuleViolation(f"commitment {e.commitment_id} is neither closed nor released")
    agg.end(at=e.timestamp, commitment_id=e.commitment_id, actor=e.actor)


def _erase(r: Replayer, agg: Any, e: Any) -> None:
    agg.erase(at=e.timestamp, reason=e.reason, actor=e.actor)  # an erased person: refused


_COMMANDS: dict[type, Callable[[Replayer, Any, Any], None]] = {
    Person.Erased: _erase,
    Commitment.CheckInRecorded: _check_in,
    Commitment.CheckInCorrected: _correct,
    Commitment.Revised: _revise,
    Commitment.Released: _release,
    Commitment.Closed: _close,
    Commitment.Replied: _reply,
    RepWorkload.CommitmentTaken: _take,
    RepWorkload.CommitmentEnded: _end,
}
