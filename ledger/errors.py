"""Named domain errors, each with the exit code SPEC §5 gives it.

The command line maps these to exit codes in one place (``cli.errors``); the
library raises them and never prints.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class: anything the ledger refuses or cannot do. Exit code 1."""

    exit_code = 1


class InvalidInput(LedgerError):
    """A value that can never be right (bad date, negative target...). Exit 2."""

    exit_code = 2


class NotFound(LedgerError):
    """An unknown id, person or check-in. Exit 3."""

    exit_code = 3


def no_such(what: str, ident: object) -> NotFound:
    """The error for an unknown id (``no commitment with id ...``): one wording for
    an id that does not exist and one the caller may not know exists."""
    return NotFound(f"no {what} with id {ident}")


class AmbiguousId(NotFound):
    """An id prefix that matches more than one commitment. Exit 3."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        self.prefix = prefix
        self.candidates = candidates
        shown = ", ".join(candidates[:10])
        more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
        super().__init__(f"id prefix {prefix!r} is ambiguous: {shown}{more}")


class RuleViolation(LedgerError):
    """Refused by a rule of the ledger's state. Exit 4."""

    exit_code = 4


class CommitmentNotOpen(RuleViolation):
    """The commitment is closed or released; it takes no more changes."""


class DateOutOfRange(RuleViolation):
    """The business date is outside what the commitment allows."""


class RevisionAfterDue(RuleViolation):
    """Revising after the due date: that is a broken or released commitment."""


class FocusCapExceeded(RuleViolation):
    """A third focus area for a rep without an override reason."""


class InvalidSupport(RuleViolation):
    """``supports`` names something that is not the same rep's rep-owned commitment."""


class SessionMismatch(RuleViolation):
    """``agree --session``: the session was not held by this rep and manager."""


class ReplyRefused(RuleViolation):
    """``reply``: not by the commitment's rep or manager, or on a commitment
    that is still open (neither closed, released nor overdue on the reply's date)."""


class UnknownMetric(RuleViolation):
    """``agree --metric`` / ``--expect-metric`` names a metric with no recorded activity."""


class PersonErased(RuleViolation):
    """The person was erased (their key destroyed): nothing more about them can be recorded."""


class DigestMismatch(RuleViolation):
    """``verify --digest``: the head of the chain is not the digest given."""


class Conflict(LedgerError):
    """A concurrent writer got there first, or an import conflicts. Exit 5."""

    exit_code = 5


class StorageUnavailable(LedgerError):
    """The event store cannot be reached or opened. Exit 1."""


class IntegrityFailure(LedgerError):
    """Stored events or an export fail their own checks (broken hash chain). Exit 4."""

    exit_code = 4
