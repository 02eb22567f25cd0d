"""JSON Schemas of the events and the event catalogue, generated from the event classes.

Each schema describes the ``data`` object of one export line (SPEC §5): the
event's stored state as pydantic dumps it in JSON mode, without the fields the
line carries itself (``stream`` = originator id, ``version``, ``recorded_at``
= timestamp). The catalogue (``docs/events.md``) is rendered from the classes'
docstrings and the same schemas, so code, schemas and docs cannot drift apart:
``docs/gen_events.py`` writes them and a test checks they are current.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from eventsourcing.domain import AggregateCreated
from eventsourcing.utils import get_topic

from ..domain import EVENT_CLASSES
from ..persistence import adapter

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_FIELDS = ("originator_id", "originator_version", "timestamp")


def type_name(cls: type) -> str:
    """The short name of an event type: ``Commitment.Agreed``."""
    return get_topic(cls).split(":", 1)[1]


def aggregate_topic(cls: type) -> str:
    """The topic of the aggregate an event class is nested on."""
    return f"{cls.__module__}:{cls.__qualname__.rsplit('.', 1)[0]}"


def business_date_field(cls: type) -> str | None:
    """The field holding the event's business date (SPEC §4), if it has one."""
    names = event_schema(cls)["properties"]
    for name in ("on", "date"):
        if name in names:
            return name
    return None


def docstring(cls: type) -> str:
    """The class's own docstring, on one line.

    eventsourcing re-creates event classes as dataclasses, and ``dataclass``
    gives a class without a docstring its signature instead; look past that.
    """
    for klass in cls.__mro__:
        doc = klass.__dict__.get("__doc__")
        if doc and not doc.startswith(f"{klass.__name__}("):
            return " ".join(inspect.cleandoc(doc).split())
    return ""


def event_schema(cls: type) -> dict[str, Any]:
    """The JSON Schema of an export line's ``data`` for one event class."""
    schema = adapter(cls).json_schema(mode="serialization")
    properties = schema["properties"]
    for name in ENVELOPE_FIELDS:
        properties.pop(name, None)
    required = [n for n in schema.get("required", []) if n not in ENVELOPE_FIELDS]
    if issubclass(cls, AggregateCreated):
        properties["originator_topic"] = {
            "const": aggregate_topic(cls),
            "description": "The aggregate this event creates.",
        }
    version = getattr(cls, "class_version", 1)
    if version > 1:
        properties["class_version"] = {
            "const": version,
            "description": "Version of the event class; absent means 1 (older data is upcast).",
        }
        required.append("class_version")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"{type_name(cls)}.json",
        "title": get_topic(cls),
        "description": docstring(cls),
        **{k: v for k, v in schema.items() if k not in ("properties", "required", "title")},
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def schemas(classes: tuple[type, ...] = EVENT_CLASSES) -> dict[str, dict[str, Any]]:
    """Every event type's schema, by short type name."""
    return {type_name(cls): event_schema(cls) for cls in classes}


def line_schema(classes: tuple[type, ...] = EVENT_CLASSES) -> dict[str, Any]:
    """The JSON Schema of one export line (SPEC §5); ``data`` has its own schema per type."""
    hex64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": "export-line.json",
        "title": "One line of `commitments export`",
        "description": (
            "hash = SHA-256 hex of the canonical JSON (keys sorted, separators ',' and ':', "
            "UTF-8, no ASCII escaping) of {stream, version, type, recorded_at, data, prev}; "
            "prev = the previous line's hash, 64 zeros on the first line. position is not hashed."
        ),
        "type": "object",
        "properties": {
            "position": {"type": "integer", "minimum": 1, "description": "Ledger order."},
            "stream": {
                "type": "string",
                "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                "description": "The aggregate's id.",
            },
            "version": {"type": "integer", "minimum": 1, "description": "Place in the stream."},
            "type": {
                "enum": [get_topic(cls) for cls in classes],
                "description": "The stored topic; data follows schemas/<Aggregate.Event>.json.",
            },
            "recorded_at": {
                "type": "string",
                "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$",
                "description": "When the ledger stored the event (UTC).",
            },
            "data": {"type": "object"},
            "prev": hex64,
            "hash": hex64,
        },
        "required": [
            "position",
            "stream",
            "version",
            "type",
            "recorded_at",
            "data",
            "prev",
            "hash",
        ],
        "additionalProperties": False,
    }


def schema_text(schema: dict[str, Any]) -> str:
    """A schema as the published file holds it."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _type_of(prop: dict[str, Any]) -> str:
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "anyOf" in prop:
        return " or ".join(_type_of(p) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(prop.get('items', {}))}"
    if "format" in prop:
        return f"{kind} ({prop['format']})"
    return str(kind)


def catalogue(classes: tuple[type, ...] = EVENT_CLASSES) -> str:
    """``docs/events.md``: every event type, its meaning and its fields."""
    out = [
        "# Event catalogue",
        "",
        "<!-- Generated by docs/gen_events.py from ledger/domain.py; do not edit. -->",
        "",
        "Every fact the ledger stores is one of these events. Events are never edited or",
        "deleted; a correction, revision or release is a new event. In an export",
        "(see [audit.md](audit.md)) each line carries the event's `type` (its topic below),",
        "`stream` (the aggregate's id), `version` (1 for the event that creates the",
        "stream), `recorded_at` (when the ledger stored it, UTC), and `data`, the fields",
        "listed here. The JSON Schema of each `data` is in [schemas/](schemas/), and of a",
        "whole line in [schemas/export-line.json](schemas/export-line.json).",
        "",
        "Business date: the field that dates the event for `--on` (SPEC §4).",
        "",
        "**People** (SPEC §7.4). A field naming a person (`rep`, `manager`, `actor`, a",
        "roster's `manager`) holds the person's *subject id*: the id of their `Person`",
        "stream, a random UUID. A person's name is held only in their own `Person` events,",
        "sealed under their key (`sealed:v1:...`, see `ledger/keys.py`); the read model opens",
        "it, and every read prints names. No stream id is derived from a name (a workload's",
        "comes from the rep's subject id) and no hash in an event covers one (a CSV row's",
        "derived source id hashes the rep's subject id).",
        "",
        "*Legacy names.* Events written before the registry (`CoachingSession.Held` and",
        "every other event below class version 2, `Commitment.Agreed` below 3) hold names",
        "in clear in those fields, and a rep's workload stream id was derived from the name.",
        "Their upcast keeps the name: readers show it as it is (a *legacy person*, whose id",
        "in `people list` is derived from the name for display only), and the first new",
        "command naming them registers them, so their new events carry a subject id while",
        "their old ones keep reading; the focus cap also counts the open commitments of the",
        "name-keyed workload. `import --upgrade` imports such an export in today's shape",
        "(people registered, names sealed, ids derived again, a new hash chain: the old",
        "file's hashes and digests do not apply). Names written in clear into an old store,",
        "or into copies of its exports, cannot be shredded there.",
        "",
    ]
    aggregates: dict[str, list[type]] = {}
    for cls in classes:
        aggregates.setdefault(aggregate_topic(cls), []).append(cls)
    for agg_topic, members in aggregates.items():
        module_name, qualname = agg_topic.split(":")
        agg = getattr(__import__(module_name, fromlist=[qualname]), qualname)
        out += [f"## {qualname}", "", docstring(agg), ""]
        for cls in members:
            schema = event_schema(cls)
            name = type_name(cls)
            out += [
                f"### {name}",
                "",
                f"Type `{get_topic(cls)}` · schema [schemas/{name}.json](schemas/{name}.json)"
                f" · business date: {_code(business_date_field(cls))}"
                f" · {'creates the stream' if issubclass(cls, AggregateCreated) else 'appends'}",
                "",
                schema["description"],
                "",
                "| field | type | required |",
                "|---|---|---|",
            ]
            for field, prop in schema["properties"].items():
                required = "yes" if field in schema["required"] else "no"
                out.append(f"| `{field}` | {_type_of(prop)} | {required} |")
            out.append("")
    return "\n".join(out)


def _code(name: str | None) -> str:
    return f"`{name}`" if name else "none"


def subject_access_schema(classes: tuple[type, ...] = EVENT_CLASSES) -> dict[str, Any]:
    """The JSON Schema of ``people export`` (a subject-access export, SPEC §7.4;
    built by :mod:`ledger.subject_access`)."""
    hex64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
    pseudonym = {"type": "string", "pattern": "^p-[0-9a-f]{8}$"}
    maybe_text = {"type": ["string", "null"]}
    stamp = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$"}
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": "subject-access.json",
        "title": "`commitments people export NAME` (GDPR Art. 15)",
        "description": (
            "Everything the ledger holds about one person: their registry entry and every "
            "event naming them, their own text opened with their key. Other people appear "
            "as p-<first 8 hex of their subject id>; text that is someone else's (SPEC 7.4) "
            "as [withheld], its owner in the event's withheld. See docs/privacy.md."
        ),
        "type": "object",
        "properties": {
            "format": {"const": "commitments-subject-access/1"},
            "note": {"type": "string"},
            "ledger_id": maybe_text,
            "head": {
                "type": "integer",
                "minimum": 0,
                "description": "The ledger's last position when the export was made.",
            },
            "person": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Their name now."},
                    "subject": {"type": ["string", "null"], "description": "Their subject id."},
                    "pseudonym": pseudonym,
                    "legacy": {
                        "type": "boolean",
                        "description": "Named in clear by a store from before the registry.",
                    },
                    "listed": {"type": "boolean"},
                    "manager": {"anyOf": [pseudonym, {"type": "null"}]},
                    "team": maybe_text,
                    "region": maybe_text,
                    "names": {
                        "type": "array",
                        "description": "Every name they had, oldest first.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "recorded_at": stamp,
                                "position": {"type": "integer"},
                            },
                            "required": ["name", "recorded_at", "position"],
                            "additionalProperties": False,
                        },
                    },
                    "roster": {
                        "type": "array",
                        "description": "Their roster entries, oldest first.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "effective": maybe_text,
                                "manager": {"anyOf": [pseudonym, {"type": "null"}]},
                                "team": maybe_text,
                                "region": maybe_text,
                                "recorded_at": stamp,
                                "position": {"type": "integer"},
                            },
                            "required": [
                                "effective",
                                "manager",
                                "team",
                                "region",
                                "recorded_at",
                                "position",
                            ],
                            "additionalProperties": False,
                        },
                    },
                },
                "required": [
                    "name",
                    "subject",
                    "pseudonym",
                    "legacy",
                    "listed",
                    "manager",
                    "team",
                    "region",
                    "names",
                    "roster",
                ],
                "additionalProperties": False,
            },
            "counts": {
                "type": "object",
                "additionalProperties": {"type": "integer", "minimum": 1},
                "description": "Events in the export by type (Aggregate.Event).",
            },
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "position": {"type": "integer", "minimum": 1},
                        "stream": {
                            "type": "string",
                            "description": "The aggregate's id; another person's own "
                            "Person stream as their pseudonym.",
                        },
                        "version": {"type": "integer", "minimum": 1},
                        "type": {"enum": [get_topic(cls) for cls in classes]},
                        "recorded_at": stamp,
                        "as": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"enum": ["subject", "rep", "manager", "actor", "by"]},
                            "description": "How the event is about the person.",
                        },
                        "data": {
                            "type": "object",
                            "description": "The event's data (schemas/<Aggregate.Event>.json) "
                            "with the person's own text opened, other people as pseudonyms "
                            "and other people's text [withheld].",
                        },
                        "withheld": {
                            "type": "object",
                            "additionalProperties": {"anyOf": [pseudonym, {"type": "null"}]},
                            "description": "Each withheld field and whose text it is.",
                        },
                        "hash": {
                            **hex64,
                            "description": "The stored event's hash, as in the export.",
                        },
                    },
                    "required": [
                        "position",
                        "stream",
                        "version",
                        "type",
                        "recorded_at",
                        "as",
                        "data",
                        "withheld",
                        "hash",
                    ],
                    "additionalProperties": False,
                },
            },
            "access": {
                "description": "What the server's access store holds about them: their "
                "grants (never a token or its hash) and the access-log entries that are "
                "theirs or about them (who read or wrote their data). null for a person "
                "named only in clear by a store from before the registry.",
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "properties": {
                            "grants": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "role": {"type": "string"},
                                        "granted_at": stamp,
                                        "granted_by": {"type": "string"},
                                        "revoked_at": {"anyOf": [stamp, {"type": "null"}]},
                                        "revoked_by": maybe_text,
                                    },
                                    "required": [
                                        "role",
                                        "granted_at",
                                        "granted_by",
                                        "revoked_at",
                                        "revoked_by",
                                    ],
                                    "additionalProperties": False,
                                },
                            },
                            "log": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "at": stamp,
                                        "via": {"type": "string"},
                                        "who": maybe_text,
                                        "role": maybe_text,
                                        "action": {"type": "string"},
                                        "subjects": {"type": "array", "items": {"type": "string"}},
                                        "target": maybe_text,
                                        "status": {"type": "integer"},
                                        "names": {"type": ["boolean", "null"]},
                                    },
                                    "required": [
                                        "at",
                                        "via",
                                        "who",
                                        "role",
                                        "action",
                                        "subjects",
                                        "target",
                                        "status",
                                        "names",
                                    ],
                                    "additionalProperties": False,
                                },
                            },
                        },
                        "required": ["grants", "log"],
                        "additionalProperties": False,
                    },
                ],
            },
        },
        "required": [
            "format",
            "note",
            "ledger_id",
            "head",
            "person",
            "counts",
            "events",
            "access",
        ],
        "additionalProperties": False,
    }
