"""Activity ids: :func:`ledger.domain.activity_ids` computes RFC 4122's uuid5
itself (the importer's per-row ids), so it must equal :func:`uuid.uuid5`
for every metric and source id, and :func:`ledger.domain.activity_id`
(what ``Activity.record`` and the import rules use) must be the same id."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain import NAMESPACE, Activity, activity_id, activity_ids
from tests.budget import examples

# what UTF-8 can encode (a source id or metric with a lone surrogate is
# refused by both, as uuid5 refuses it)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)


@settings(max_examples=examples(500), deadline=None)
@given(metric=TEXT, source_id=TEXT)
def test_activity_ids_are_rfc_4122_uuid5_of_metric_and_source_id(
    metric: str, source_id: str
) -> None:
    expected = uuid.uuid5(NAMESPACE, f"activity:{metric}\x1f{source_id}")
    assert activity_ids(metric)(source_id) == expected.hex
    assert activity_id(metric, source_id) == expected
    assert expected.version == 5 and expected.variant == uuid.RFC_4122


def test_one_metric_s_id_maker_gives_each_source_id_its_own_id() -> None:
    hex_id = activity_ids("calls")
    ids = [hex_id(f"row-{i}") for i in range(1000)]
    assert len(set(ids)) == 1000
    assert hex_id("row-7") == ids[7]  # the maker keeps no state between rows
    assert activity_ids("emails")("row-7") != ids[7]


def test_a_recorded_activity_s_stream_is_its_activity_id() -> None:
    from datetime import UTC, date, datetime

    activity = Activity.record(
        at=datetime(2026, 1, 5, tzinfo=UTC), rep="ann", metric="calls",
        date=date(2026, 1, 5), value=3.0, source_id="crm-1", actor="me",
    )  # fmt: skip
    assert activity.id == uuid.uuid5(NAMESPACE, "activity:calls\x1fcrm-1")
