"""Calendar facts of the domain, free of pydantic so the read path stays light.

:mod:`ledger.values` re-exports these for the validators.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class Period(StrEnum):
    """A count target's period (SPEC §2): per day, week or month, or the
    whole ``window``. Each member is its text (the stored JSON's)."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    WINDOW = "window"


PERIOD_DAYS: dict[str, int] = {Period.DAY: 1, Period.WEEK: 7, Period.MONTH: 30}
MAX_AMOUNT = 1e12
"""Largest target, actual, baseline or value: far above any real count or sum,
far enough below float's range that expected amounts and ratios stay finite."""
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)
"""Business dates the ledger accepts (MIN_DATE to MAX_DATE): wide enough for any
real history, narrow enough that windows, due dates and charts never leave the
calendar."""


def period_days(period: str, window_days: int) -> int:
    """Days in one measuring period (SPEC §4); ``window`` is the whole window."""
    return window_days if period == Period.WINDOW else PERIOD_DAYS[period]
