"""Schema evolution: an event stored by older code (class version 1) is read as version 2.

``Widget`` is a test-only aggregate. ``_WidgetV1`` is the same aggregate as an
older release defined it; what it stored is re-labelled with today's topics,
exactly what an old ledger holds after the code moved on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.application import Ledger
from ledger.audit import default_event_types, export_lines, import_lines
from ledger.replay import events
from ledger.schemas import event_schema


class _WidgetV1(Aggregate):
    """The widget as release 1 stored it."""

    class Made(Aggregate.Created):
        """A widget was made."""

        name: str

    class Renamed(Aggregate.Event):
        """A widget got a new name."""

        name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name

    def __init__(self, name: str) -> None:
        self.name = name


class Widget(Aggregate):
    """The widget today: it has a colour, and a rename says why."""

    class Made(Aggregate.Created):
        """A widget was made; since version 2 it has a colour."""

        class_version = 2
        name: str
        colour: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["colour"] = "unknown"

    class Renamed(Aggregate.Event):
        """A widget got a new name; version 2 renamed ``name`` and added ``reason``."""

        class_version = 2
        new_name: str
        reason: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["new_name"] = state.pop("name")
            state["reason"] = None

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.new_name

    def __init__(self, name: str, colour: str) -> None:
        self.name = name
        self.colour = colour


TYPES = {**default_event_types(), **{get_topic(c): c for c in (Widget.Made, Widget.Renamed)}}
RENAMED_TOPICS = {
    get_topic(_WidgetV1): get_topic(Widget),
    get_topic(_WidgetV1.Made): get_topic(Widget.Made),
    get_topic(_WidgetV1.Renamed): get_topic(Widget.Renamed),
}


def store_v1_widget(ledger: Ledger) -> Any:
    """Store what release 1 wrote for a widget made and then renamed."""
    old = _WidgetV1(name="sprocket")
    old.trigger_event(_WidgetV1.Renamed, name="cog")
    stored = []
    for event in old.collect_events():
        s = ledger.mapper.to_stored_event(event)
        state = json.loads(s.state)
        assert "class_version" not in state  # version 1 states carry none
        if "originator_topic" in state:
            state["originator_topic"] = RENAMED_TOPICS[state["originator_topic"]]
        stored.append(
            StoredEvent(
                originator_id=s.originator_id,
                originator_version=s.originator_version,
                topic=RENAMED_TOPICS[s.topic],
                state=json.dumps(state).encode(),
            )
        )
    ledger.recorder.insert_events(stored)
    return old.id


def test_a_version_1_event_loads_as_version_2_through_its_upcaster(db: str) -> None:
    ledger = Ledger.open(db)
    try:
        wid = store_v1_widget(ledger)
        widget: Widget = ledger.repository.get(wid)
        assert isinstance(widget, Widget)
        assert (widget.name, widget.colour) == ("cog", "unknown")
        # New events are written as version 2 and read back unchanged.
        widget.trigger_event(Widget.Renamed, new_name="gear", reason="clearer")
        ledger.save(widget)
        last = ledger.recorder.select_notifications(start=None, limit=10)[-1]
        assert json.loads(last.state)["class_version"] == 2
        assert ledger.repository.get(wid).name == "gear"
        fresh = Widget(name="bolt", colour="red")
        ledger.save(fresh)
        assert ledger.repository.get(fresh.id).colour == "red"
    finally:
        ledger.close()


def test_exports_keep_old_events_as_stored_and_replay_and_import_upcast_them(
    db: str, tmp_path: Path
) -> None:
    ledger = Ledger.open(db)
    try:
        wid = store_v1_widget(ledger)
        lines = list(export_lines(ledger))
    finally:
        ledger.close()
    first = json.loads(lines[0])
    assert first["data"] == {"originator_topic": get_topic(Widget), "name": "sprocket"}

    replayed = [e.event for e in events(iter(lines), event_types=TYPES)]
    assert isinstance(replayed[0], Widget.Made) and replayed[0].colour == "unknown"
    assert isinstance(replayed[1], Widget.Renamed)
    assert (replayed[1].new_name, replayed[1].reason) == ("cog", None)

    copy = Ledger.open(str(tmp_path / "copy.db"))
    try:
        summary = import_lines(copy, lines, event_types=TYPES)
        assert summary.imported == 2
        assert copy.repository.get(wid).colour == "unknown"
        copied = list(export_lines(copy))
        assert copied[:2] == lines  # same positions here, and same hashes
        # the ledger had no id (nor did the file): the import gave it one, after them
        assert json.loads(copied[2])["type"] == "ledger.domain:LedgerIdentity.LedgerCreated"
        assert copy.ledger_id() is not None
    finally:
        copy.close()


def test_the_published_schema_describes_the_current_version() -> None:
    schema = event_schema(Widget.Made)
    assert schema["properties"]["class_version"]["const"] == 2
    assert {"name", "colour", "class_version"} <= set(schema["required"])
    assert get_topic(Widget.Made) == "tests.test_upcasting:Widget.Made"
