"""Verdicts, statuses, signals, roles and periods are ``StrEnum``s: each member
is its text, so JSON, tables, SQL parameters and click choices see the same
words as before they were enums."""

from __future__ import annotations

import json
import sqlite3

from ledger import rules
from ledger.calendar import PERIOD_DAYS, Period, period_days


def test_members_are_their_words_in_json_text_and_sql() -> None:
    assert json.dumps({rules.Verdict.HONEST_MISS: rules.SignalKind.ON_TRACK}) == (
        '{"honest_miss": "on_track"}'
    )
    assert f"{rules.Verdict.KEPT:>6}|{rules.Role.MANAGER}" == "  kept|manager"
    row = sqlite3.connect(":memory:").execute("SELECT ?", (rules.Status.OVERDUE,)).fetchone()
    assert row == ("overdue",) and type(row[0]) is str


def test_the_spec_orders_and_plain_text_choices() -> None:
    assert rules.VERDICTS == (
        "open", "overdue", "released", "succeeded", "honest_miss",
        "kept", "partial", "broken", "blocked",
    )  # fmt: skip
    assert rules.SIGNALS == (
        "will_concern", "first_warning", "skill_gap", "on_track", "insufficient_data",
    )  # fmt: skip
    assert all(type(v) is str for v in (*rules.VERDICTS, *rules.SIGNALS, *rules.STATUSES))


def test_periods_are_looked_up_by_their_stored_text() -> None:
    assert [period_days(p, 28) for p in ("day", "week", "month", "window")] == [1, 7, 30, 28]
    assert PERIOD_DAYS["week"] == PERIOD_DAYS[Period.WEEK] == 7
