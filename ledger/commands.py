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

M = TypeVar("M", bound=BaseModel)


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def validate(model: type[M], **values: Any) -> M:
    """Build ``model`` from ``values`` or raise one-line :class:`InvalidInput`."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise InvalidInput(error_message(exc.errors()[0])) from None


def error_message(err: Mapping[str, Any]) -> str:
    """One pydantic error (an item of ``ValidationError.errors()``) as the one-line
    message every front end shows: ``field: what is wrong``."""
    where = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if (
        err["type"] in ("too_short", "string_too_short")
        and err.get("ctx", {}).get("min_length") == 1
    ):
        msg = "must not be empty"
    return f"{where}: {msg}" if where else msg


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
        if self.partial_at > self.kept_at:
            raise ValueError("partial_at must not be above kept_at")
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


class RecordActivity(Command):
    rep: PersonId
    metric: Label
    date: BusinessDate
    value: Amount = 1.0
    source_id: Reason
    actor: PersonId
