"""ledger/topics.py names each event type as it is stored, so readers that do
not import the domain (the read model, the subject-access export) cannot drift
from the classes they name."""

from __future__ import annotations

from eventsourcing.utils import get_topic

from ledger import domain, topics


def test_every_topic_constant_is_the_stored_topic_of_its_event_class() -> None:
    expected = {
        "HELD": domain.CoachingSession.Held,
        "AGREED": domain.Commitment.Agreed,
        "CHECKED_IN": domain.Commitment.CheckInRecorded,
        "CORRECTED": domain.Commitment.CheckInCorrected,
        "REVISED": domain.Commitment.Revised,
        "RELEASED": domain.Commitment.Released,
        "CLOSED": domain.Commitment.Closed,
        "REPLIED": domain.Commitment.Replied,
        "ACTIVITY": domain.Activity.Recorded,
        "ACTIVITY_CHUNK": domain.ActivityChunk.Recorded,
        "WORKLOAD_STARTED": domain.RepWorkload.Started,
        "REGISTERED": domain.Person.Registered,
        "ROSTER_CHANGED": domain.Person.RosterChanged,
        "RENAMED": domain.Person.Renamed,
        "ERASED": domain.Person.Erased,
    }
    constants = {
        n
        for n in vars(topics)
        if n.isupper() and not n.startswith("_") and not n.endswith(("_PREFIX", "_TOPICS"))
    }
    assert constants == set(expected)
    for name, cls in expected.items():
        assert getattr(topics, name) == get_topic(cls), name


def test_the_prefixes_and_the_person_topics_match_the_domain() -> None:
    assert get_topic(domain.Commitment.Closed).startswith(topics.COMMITMENT_PREFIX)
    assert get_topic(domain.RepWorkload.CommitmentTaken).startswith(topics.WORKLOAD_PREFIX)
    person_events = {
        get_topic(c)
        for c in vars(domain.Person).values()
        if isinstance(c, type)
        and issubclass(c, domain.Person.Event)
        and c not in (domain.Person.Event, domain.Person.Created)  # the bases
    }
    assert set(topics.PERSON_TOPICS) == person_events
