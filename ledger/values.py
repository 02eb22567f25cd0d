"""Validated values of the domain (SPEC §2), as pydantic types.

Every command's input passes through :func:`validate` with one of the models
in :mod:`ledger.commands`; a failure becomes :class:`~ledger.errors.InvalidInput`
with a one-line message naming the field.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from .calendar import MAX_AMOUNT as MAX_AMOUNT  # re-exported for the importers
from .calendar import MAX_DATE, MIN_DATE
from .text import CONTROL as CONTROL  # re-exported for the importers
from .text import TEXT_CONTROL as TEXT_CONTROL
from .text import name_problem, text_problem

Owner = Literal["rep", "manager"]
Period = Literal["day", "week", "month", "window"]
Result = Literal["met", "missed", "unknown"]

MAX_NAME = 100
"""Longest person id, label, metric or actor."""
MAX_TEXT = 2000


def _no_control(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _name(value: object) -> object:
    """A person id or label: trimmed, on one line, no control characters."""
    if isinstance(value, str):
        value = value.strip()
        problem = name_problem(value)
        if problem:
            raise ValueError(problem)
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _strict_date(value: object) -> object:
    """Accept only ISO ``YYYY-MM-DD`` strings (or real dates) from 1900 to 2999."""
    if isinstance(value, str):
        text = value
        try:
            value = date.fromisoformat(text) if len(text) == 10 else _bad_date(text)
        except ValueError:
            _bad_date(text)
    if isinstance(value, date) and not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"{value.isoformat()} is outside {MIN_DATE} to {MAX_DATE}")
    return value


def _bad_date(value: str) -> date:
    raise ValueError(f"{value!r} is not a date in YYYY-MM-DD form")


PersonId = Annotated[str, BeforeValidator(_name), Field(min_length=1, max_length=MAX_NAME)]
Label = Annotated[str, BeforeValidator(_name), Field(min_length=1, max_length=MAX_NAME)]
Text = Annotated[str, AfterValidator(_no_control), Field(max_length=MAX_TEXT)]
Reason = Annotated[str, AfterValidator(_no_control), Field(min_length=1, max_length=MAX_TEXT)]
Amount = Annotated[float, AfterValidator(_finite), Field(ge=0, le=MAX_AMOUNT)]
Fraction = Annotated[float, AfterValidator(_finite)]
"""A kept or partial threshold; their bounds are an input rule of ``Agree``."""
BusinessDate = Annotated[date, BeforeValidator(_strict_date)]
