"""Event schemas and the catalogue: generated, published, current, and true of real exports."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from ledger.domain import EVENT_CLASSES
from ledger.formats.schemas import docstring, line_schema, schemas, type_name
from tests.test_audit import build_sample, export_of

DOCS = Path(__file__).resolve().parents[1] / "docs"


def gen_events() -> Any:
    spec = importlib.util.spec_from_file_location("gen_events", DOCS / "gen_events.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def validators() -> dict[str, Draft202012Validator]:
    return {
        f"ledger.domain:{name}": Draft202012Validator(schema, format_checker=FormatChecker())
        for name, schema in schemas().items()
    }


def test_published_schemas_and_catalogue_are_current() -> None:
    stale = gen_events().stale()
    assert stale == [], "run: python docs/gen_events.py"


def test_every_event_type_has_a_schema_file_and_a_catalogue_entry_with_its_docstring() -> None:
    catalogue = (DOCS / "events.md").read_text("utf-8")
    for cls in EVENT_CLASSES:
        name = type_name(cls)
        assert (DOCS / "schemas" / f"{name}.json").is_file()
        assert f"### {name}\n" in catalogue
        doc = docstring(cls)
        assert doc and not doc.startswith(cls.__name__ + "(")  # the author's words, not a signature
        assert doc in catalogue


def test_every_data_object_of_a_real_export_validates_against_its_schema(db: str) -> None:
    build_sample(db)
    checks = validators()
    lines = export_of(db)
    assert {x["type"] for x in lines} >= {
        "ledger.domain:CoachingSession.Held",
        "ledger.domain:Commitment.Agreed",
        "ledger.domain:Commitment.CheckInRecorded",
        "ledger.domain:Commitment.CheckInCorrected",
        "ledger.domain:Commitment.Revised",
        "ledger.domain:Commitment.Released",
        "ledger.domain:Commitment.Closed",
        "ledger.domain:RepWorkload.Started",
        "ledger.domain:RepWorkload.CommitmentTaken",
        "ledger.domain:RepWorkload.CommitmentEnded",
        "ledger.domain:Activity.Recorded",
    }
    envelope = Draft202012Validator(line_schema(), format_checker=FormatChecker())
    for line in lines:
        assert list(envelope.iter_errors(line)) == []
        errors = list(checks[line["type"]].iter_errors(line["data"]))
        assert errors == [], (line["type"], [e.message for e in errors])


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"sneaky": 1}, "Additional properties"),
        ({"date": "2026-13-45"}, "is not a 'date'"),
        ({"actual": "nine"}, "is not valid under any of the given schemas"),
        ({"originator_id": "x"}, "Additional properties"),
    ],
)
def test_a_schema_rejects_data_the_event_class_would_not_store(
    sqlite_db: str, change: dict[str, Any], why: str
) -> None:
    build_sample(sqlite_db)
    line = next(x for x in export_of(sqlite_db) if x["type"].endswith("CheckInRecorded"))
    check = validators()[line["type"]]
    assert check.is_valid(line["data"])
    messages = [e.message for e in check.iter_errors({**line["data"], **change})]
    assert any(why in m for m in messages), messages
