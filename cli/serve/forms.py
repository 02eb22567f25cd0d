"""The pages' forms: one per write of the cycle, each validated by the same
command model as the CLI and the API (:func:`cli.serve.api.request_type`).

A form is a list of fields of its command model (the rest keep the model's
defaults). What the browser sends is turned into the model's values here and
nothing else: an empty field is a value left out, a checkbox is ``True`` when
ticked, a list is comma-separated; the model then decides, with the one-line
message every front end shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ledger.commands import error_message
from ledger.errors import InvalidInput

from .api import WRITES, Write, request_type

Choices = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Field:
    label: str
    kind: str = "text"  # text, date, number, checkbox, select, textarea, list, yesno
    hint: str = ""
    choices: Choices = ()


YESNO: Choices = (("", "(not given)"), ("yes", "done"), ("no", "not done"))
FIELDS: dict[str, Field] = {
    "rep": Field("Rep (person id)"),
    "date": Field("Date", "date"),
    "prepared": Field("The rep came prepared", "checkbox"),
    "strengths": Field("Strengths", "list", "comma-separated"),
    "focus_areas": Field("Focus areas", "list", "comma-separated"),
    "note": Field("Note", "textarea"),
    "owner": Field("Owner", "select", "", (("rep", "the rep"), ("manager", "the manager"))),
    "focus": Field("Focus area"),
    "behavior": Field("Behaviour (what will be done)"),
    "target": Field("Target", "number", "how many per period"),
    "period": Field(
        "Period",
        "select",
        "",
        (("week", "per week"), ("day", "per day"), ("month", "per month"), ("window", "in all")),
    ),
    "unit": Field("Unit", "text", "calls, meetings, ..."),
    "start": Field("Start", "date"),
    "due": Field("Due", "date"),
    "days": Field("Or: days from start", "number"),
    "metric": Field("Activity metric", "text", "counts imported activity"),
    "done": Field("Measured as done / not done", "checkbox"),
    "baseline": Field("Baseline", "number"),
    "expect": Field("Hypothesis (what it should change)", "textarea"),
    "expect_metric": Field("Expected metric"),
    "expect_at_least": Field("Expected at least", "number"),
    "session_id": Field("Agreed in session", "select"),
    "supports": Field("Supports (a rep's commitment)", "select", "for a manager's commitment"),
    "kept_at": Field("Kept at (ratio)", "number", "default 0.9"),
    "partial_at": Field("Partial at (ratio)", "number", "default 0.5"),
    "override_focus_cap": Field(
        "Override the focus cap: why", "textarea", "only when the rep's focus areas are full"
    ),
    "on": Field("Agreed on (business date)", "date", "default: the start"),
    "actual": Field("Actual", "number", "how many were done"),
    "check_in": Field("Check-in number", "number", "1 is the first"),
    "reason": Field("Reason", "textarea"),
    "result": Field(
        "Result",
        "select",
        "",
        (("", "(not given)"), ("met", "met"), ("missed", "missed"), ("unknown", "unknown")),
    ),
    "value": Field("Value", "number"),
    "text": Field("Your reply", "textarea", "what the verdict leaves out, in your words"),
    "contest": Field("I contest the verdict", "checkbox"),
}
FIELDS["done_check_in"] = Field("Done?", "yesno", "", YESNO)


@dataclass(frozen=True)
class FormSpec:
    name: str  # the API write it runs (cli.serve.api.WRITES)
    title: str
    button: str
    fields: tuple[str, ...]
    more: tuple[str, ...] = ()

    @property
    def write(self) -> Write:
        return next(w for w in WRITES if w.name == self.name)


SPECS = {
    s.name: s
    for s in (
        FormSpec(
            "session",
            "Record a coaching session",
            "Record the session",
            ("date", "prepared", "strengths", "focus_areas", "note"),
        ),
        FormSpec(
            "agree",
            "Agree a commitment",
            "Agree",
            ("owner", "focus", "behavior", "target", "period", "unit", "start", "due"),
            (
                "session_id",
                "supports",
                "override_focus_cap",
                "days",
                "metric",
                "done",
                "baseline",
                "expect",
                "expect_metric",
                "expect_at_least",
                "kept_at",
                "partial_at",
                "on",
            ),
        ),
        FormSpec("check_in", "Check in", "Record the check-in", ("date", "actual", "done", "note")),
        FormSpec(
            "correct", "Correct a check-in", "Correct", ("check_in", "actual", "done", "reason")
        ),
        FormSpec(
            "revise",
            "Revise the terms",
            "Revise",
            ("date", "reason", "target", "period", "due", "behavior"),
        ),
        FormSpec("release", "Release", "Release the commitment", ("date", "reason")),
        FormSpec("close", "Close", "Close the commitment", ("date", "result", "value", "note")),
        FormSpec("reply", "Reply to the verdict", "Record the reply", ("text", "contest", "date")),
    )
}
PERIODS_OPTIONAL: Choices = (("", "(unchanged)"), *FIELDS["period"].choices)


def _field(spec: FormSpec, name: str) -> Field:
    if name == "done" and spec.name in ("check_in", "correct"):
        return FIELDS["done_check_in"]
    if name == "date" and spec.name == "reply":
        return Field("Date of the reply", "date", "default: today")
    if name == "period" and spec.name == "revise":
        return Field("Period", "select", "", PERIODS_OPTIONAL)
    return FIELDS[name]


@dataclass
class FormView:
    """A form as the template draws it."""

    name: str
    title: str
    button: str
    action: str
    fields: list[dict[str, Any]]
    more: list[dict[str, Any]]
    fixed: list[str] = field(default_factory=list)
    error: str | None = None


def view(
    spec: FormSpec,
    action: str,
    *,
    values: Mapping[str, str] | None = None,
    error: str | None = None,
    choices: Mapping[str, Choices] | None = None,
    fixed: Sequence[str] = (),
    extra_fields: Sequence[str] = (),
) -> FormView:
    """``values``: what the user sent (redrawn after a refusal); ``choices``: the
    options of a select known only at request time (sessions, commitments)."""
    values = values or {}
    choices = choices or {}

    def one(name: str) -> dict[str, Any]:
        f = _field(spec, name)
        return {
            "name": name,
            "label": f.label,
            "kind": {"list": "text", "yesno": "select"}.get(f.kind, f.kind),
            "hint": f.hint,
            "choices": choices.get(name, f.choices),
            "value": values.get(name, ""),
        }

    return FormView(
        spec.name,
        spec.title,
        spec.button,
        action,
        [one(n) for n in (*extra_fields, *spec.fields)],
        [one(n) for n in spec.more],
        list(fixed),
        error,
    )


def parse(
    spec: FormSpec, form: Mapping[str, str], fixed: Mapping[str, Any], extra_fields: Sequence[str]
) -> Any:
    """The form's values as the command's request body (the model's checks), or
    :class:`InvalidInput` with the model's one-line message."""
    values: dict[str, Any] = dict(fixed)
    for name in (*extra_fields, *spec.fields, *spec.more):
        kind = _field(spec, name).kind
        raw = form.get(name, "").strip()
        if kind == "checkbox":
            if raw:
                values[name] = True
        elif kind == "yesno":
            if raw:
                values[name] = {"yes": True, "no": False}.get(raw, raw)
        elif kind == "list":
            if raw:
                values[name] = tuple(p.strip() for p in raw.split(","))
        elif raw:
            values[name] = raw
    model = request_type(spec.write.model, spec.write.caller_fields)
    try:
        return model(**values)
    except ValidationError as exc:
        raise InvalidInput(error_message(exc.errors()[0])) from None


__all__ = ["FIELDS", "SPECS", "FormSpec", "FormView", "parse", "view"]
