"""Command inputs, validated with pydantic before anything touches the store.

A model here checks what can be checked without the ledger's state (types,
ranges, due after start); the aggregates check the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import InvalidInput
from .values import (
    MAX_DATE,
    Amount,
    BusinessDate,
    Fraction,
    Label,
    Owner,
    Period,
    PersonId,
    Reason,
    Result,
    Text,
)


class Command(BaseModel):
    """A command's input, what each :class:`~ledger.application.Ledger` command
    method takes: built directly (``Agree(rep=..., ...)``, which mypy checks) or
    from untyped input with :func:`validate`. A refusal is one-line
    :class:`InvalidInput` in the product's words (:func:`error_message`). A body
    FastAPI validates (``model_validate``) does not come through ``__init__``:
    it raises pydantic's own error, which the server words the same way."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise InvalidInput(error_message(exc.errors()[0])) from None


C = TypeVar("C", bound=Command)


def validate(model: type[C], **values: Any) -> C:
    """Build ``model`` from untyped input (CLI options, form fields, CSV cells):
    mypy checks nothing here, the model checks everything, and a refusal is
    one-line :class:`InvalidInput` as when it is built directly."""
    return model(**values)


def error_message(err: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as the one-line
    message every front end shows: ``field: what is wrong``, in our words."""
    where = ".".join(str(p) for p in err["loc"])
    msg = in_our_words(err)
    return f"{where}: {msg}" if where else msg


def in_our_words(err: Any) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) said the
    way the ledger says it: never pydantic's own wording ("Value should have
    at most 100 items after validation")."""
    kind = err["type"]
    ctx = {
        k: int(v) if isinstance(v, float) and v.is_integer() else v
        for k, v in (err.get("ctx") or {}).items()
    }
    if kind == "value_error":  # our own validators: already our words
        return str(ctx.get("error") or err["msg"]).removeprefix("Value error, ")
    if kind in ("too_short", "string_too_short"):
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must have at least {least} characters"
    if kind in ("too_long", "string_too_long"):
        most = ctx.get("max_length")
        unit = "characters" if isinstance(err.get("input"), str) else "values"
        return f"must have at most {most} {unit}"
    words = {
        "greater_than_equal": "must be {ge} or more",
        "greater_than": "must be more than {gt}",
        "less_than_equal": "must be {le} or less",
        "less_than": "must be less than {lt}",
        "finite_number": "must be a finite number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_parsing": "must be yes or no",
        "bool_type": "must be yes or no",
        "string_type": "must be text",
        "literal_error": "must be one of {expected}",
        "uuid_parsing": "is not an id",
        "uuid_type": "is not an id",
        "missing": "is required",
        "extra_forbidden": "is not something this command takes",
    }
    template = words.get(kind)
    if template is None and kind.startswith(("date", "datetime")):
        return "is not a date in YYYY-MM-DD form"
    if template is None:
        return "is not a valid value"
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return template.split(" {")[0]


MAX_KEPT_AT = 2.0
"""*Input rule* (SPEC §7.1): 0 < partial_at <= kept_at <= 2. Above 2 a rep
would have to do more than twice what was agreed to keep it."""


def positive_target(target: float) -> None:
    """*Input rule* (SPEC §7.1): a count target is more than 0. A target of 0
    asks for nothing, so the commitment could only ever be kept."""
    if target <= 0:
        raise ValueError(f"target must be more than 0 (got {target:g}): a target of 0 asks nothing")


class RecordSession(Command):
    rep: PersonId
    manager: PersonId
    date: BusinessDate
    prepared: bool = False
    strengths: tuple[Label, ...] = ()
    focus_areas: tuple[Label, ...] = ()
    note: Text | None = None
    actor: PersonId


class Agree(Command):
    rep: PersonId
    manager: PersonId
    owner: Owner = "rep"
    focus: Label
    behavior: Reason
    target: Amount | None = None
    period: Period = "week"
    unit: Label | None = None
    metric: Label | None = None
    done: bool = False
    baseline: Amount | None = None
    start: BusinessDate
    due: BusinessDate | None = None
    days: int | None = None
    expect: Text | None = None
    expect_metric: Label | None = None
    expect_at_least: Amount | None = None
    session_id: UUID | None = None
    supports: UUID | None = None
    kept_at: Fraction = 0.9
    partial_at: Fraction = 0.5
    override_focus_cap: Reason | None = None
    on: BusinessDate | None = None
    new_metric: bool = False
    proposed_by: Owner = "manager"
    actor: PersonId

    @model_validator(mode="after")
    def _consistent(self) -> Agree:
        if self.done == (self.target is not None):
            raise ValueError("give exactly one of a target (count measure) or done")
        if self.done and (self.metric or self.unit):
            raise ValueError("a done measure takes no metric or unit")
        if self.due is not None and self.days is not None:
            raise ValueError("give --due or --days, not both")
        if self.days is not None and not 1 <= self.days <= 3660:
            raise ValueError("days must be between 1 and 3660")
        if self.due_date > MAX_DATE:
            raise ValueError(f"due {self.due_date} is after {MAX_DATE}")
        if self.due is not None and self.due < self.start:
            raise ValueError(f"due {self.due} is before start {self.start}")
        if (self.expect_metric is None) != (self.expect_at_least is None):
            raise ValueError("--expect-metric and --expect-at-least go together")
        if self.target is not None:
            positive_target(self.target)
        if not 0 < self.partial_at <= self.kept_at <= MAX_KEPT_AT:
            raise ValueError(
                f"thresholds must satisfy 0 < partial_at <= kept_at <= {MAX_KEPT_AT:g} "
                f"(got partial_at {self.partial_at:g}, kept_at {self.kept_at:g})"
            )
        if self.owner == "rep" and self.supports is not None:
            raise ValueError("only a manager-owned commitment can support another")
        return self

    @property
    def due_date(self) -> date:
        if self.due is not None:
            return self.due
        return self.start + timedelta(days=(self.days or 30) - 1)


class CheckIn(Command):
    date: BusinessDate
    actual: Amount | None = None
    done: bool | None = None
    note: Text | None = None
    actor: PersonId

    @model_validator(mode="after")
    def _one(self) -> CheckIn:
        if (self.actual is None) == (self.done is None):
            raise ValueError("give exactly one of --actual N or --done")
        return self


class Correct(Command):
    check_in: int
    actual: Amount | None = None
    done: bool | None = None
    reason: Reason
    actor: PersonId

    @model_validator(mode="after")
    def _one(self) -> Correct:
        if (self.actual is None) == (self.done is None):
            raise ValueError("give exactly one of --actual N, --done or --not-done")
        if self.check_in < 1:
            raise ValueError("check-in numbers start at 1")
        return self


class Revise(Command):
    date: BusinessDate
    reason: Reason
    target: Amount | None = None
    period: Period | None = None
    due: BusinessDate | None = None
    behavior: Reason | None = None
    actor: PersonId

    @model_validator(mode="after")
    def _some(self) -> Revise:
        if self.target is None and self.period is None and self.due is None and not self.behavior:
            raise ValueError("a revision needs at least one new term (target, per, due, behavior)")
        if self.target is not None:
            positive_target(self.target)
        return self


class Release(Command):
    date: BusinessDate
    reason: Reason
    actor: PersonId


class Close(Command):
    date: BusinessDate
    result: Result | None = None
    value: Amount | None = None
    note: Text | None = None
    actor: PersonId


class RegisterPerson(Command):
    name: PersonId
    team: Label | None = None
    region: Label | None = None
    effective: BusinessDate | None = None


class ErasePerson(Command):
    reason: Reason


class Reply(Command):
    """``reply``: the commitment's rep or manager answers its verdict (SPEC §7.4)."""

    by: PersonId
    text: Reason
    contest: bool = False
    date: BusinessDate | None = None  # default: the ledger's clock date (UTC)
    actor: PersonId


class RecordActivity(Command):
    rep: PersonId
    metric: Label
    date: BusinessDate
    value: Amount = 1.0
    source_id: Reason
    actor: PersonId
