"""The stored topic of every event type, as text.

Readers that must not import the domain (a read's start-up stays free of
eventsourcing, tests/test_read_startup.py) and the subject-access export
name events by these; ``tests/test_topics.py`` checks each against the
domain class it names, so a rename cannot leave one behind.
"""

from __future__ import annotations

_T = "ledger.domain:"

HELD = _T + "CoachingSession.Held"
AGREED = _T + "Commitment.Agreed"
CHECKED_IN = _T + "Commitment.CheckInRecorded"
CORRECTED = _T + "Commitment.CheckInCorrected"
REVISED = _T + "Commitment.Revised"
RELEASED = _T + "Commitment.Released"
CLOSED = _T + "Commitment.Closed"
REPLIED = _T + "Commitment.Replied"
ACTIVITY = _T + "Activity.Recorded"
ACTIVITY_CHUNK = _T + "ActivityChunk.Recorded"
WORKLOAD_STARTED = _T + "RepWorkload.Started"
REGISTERED = _T + "Person.Registered"
ROSTER_CHANGED = _T + "Person.RosterChanged"
RENAMED = _T + "Person.Renamed"
ERASED = _T + "Person.Erased"

PERSON_TOPICS = (REGISTERED, ROSTER_CHANGED, RENAMED, ERASED)
"""A person's own events, in the order a person's stream may hold them."""

COMMITMENT_PREFIX = _T + "Commitment."
WORKLOAD_PREFIX = _T + "RepWorkload."
