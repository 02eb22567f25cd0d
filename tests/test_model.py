"""``model`` (SPEC §7.6) on the real CRM sample, checked against an independent
reading of the spec written here with the csv module over the CSV (no project
code): engagements (engage_date) -> won value (close_value of Won rows, dated
by close_date), history = the 180 days ending on D in 7-day weeks ending on D,
rate = Σ won ÷ Σ engagements, expected = rate × N × days ÷ 7, p10/p90 over
1,000 resamples of the weeks drawn by ``random.Random(seed).choices``, the
percentiles of ``statistics.quantiles(n=10, method="inclusive")``.
"""

from __future__ import annotations

import csv
import json
import math
import random
import statistics
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import rules
from tests.conftest import CRM, Cli, event_count, ledger_location

ON = "2017-06-30"
AGENTS = ("Moses Frase", "Darcel Schlecht", "Versie Hillebrand")


def _day(text: str) -> date:
    return datetime.strptime(text, "%d-%m-%y").date()


def crm_weeks(agent: str | None, on: date, history_days: int = 180) -> list[tuple[float, float]]:
    """(engagements, won value) per 7-day week ending on D, oldest first; None: every agent."""
    n = history_days // 7
    first = on - timedelta(days=7 * n - 1)
    weeks = [[0.0, 0.0] for _ in range(n)]
    with open(CRM / "sales_pipeline.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if agent is not None and row["sales_agent"] != agent:
                continue
            if row["engage_date"]:
                d = _day(row["engage_date"])
                if first <= d <= on:
                    weeks[(d - first).days // 7][0] += 1
            if row["deal_stage"] == "Won":
                d = _day(row["close_date"])
                if first <= d <= on:
                    weeks[(d - first).days // 7][1] += float(row["close_value"])
    return [(a, o) for a, o in weeks]


def hand_model(agent: str, on: date, to: float, days: int, seed: int = 0) -> dict[str, Any]:
    weeks = crm_weeks(agent, on)
    act = sum(a for a, _ in weeks)
    won = sum(o for _, o in weeks)
    rate = won / act
    planned = to * days / 7
    rng = random.Random(seed)
    rates = []
    for _ in range(1000):
        draw = rng.choices(weeks, k=len(weeks))
        a = sum(w[0] for w in draw)
        rates.append(sum(w[1] for w in draw) / a if a else 0.0)
    cuts = statistics.quantiles([r * planned for r in rates], n=10, method="inclusive")
    current = act / len(weeks) * days / 7
    ccuts = statistics.quantiles([r * current for r in rates], n=10, method="inclusive")
    team = crm_weeks(None, on)
    return {
        "weeks": len(weeks),
        "active": sum(1 for a, _ in weeks if a),
        "rate": rate,
        "planned": (planned, rate * planned, cuts[0], cuts[-1]),
        "current": (current, rate * current, ccuts[0], ccuts[-1]),
        "team_rate": sum(o for _, o in team) / sum(a for a, _ in team),
    }


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def crm(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    tmp = tmp_path_factory.mktemp("model")
    with ledger_location(request.param, tmp) as db:
        cli = Cli(db=db, views=str(tmp / "views.db"))
        path = str(CRM / "sales_pipeline.csv")
        common = ("--rep-column", "sales_agent", "--date-format", "%d-%m-%y")
        cli.ok(["activity", "import", path, "--metric", "engagements", "--date-column",
               "engage_date", "--where", "engage_date", "--id-column", "opportunity_id",
               *common])  # fmt: skip
        cli.ok(["activity", "import", path, "--metric", "won_value", "--date-column",
               "close_date", "--value-column", "close_value", "--where", "deal_stage=Won",
               *common])  # fmt: skip
        yield cli


MODEL = ("--activity", "engagements", "--outcome", "won_value", "--format", "json")


def model(cli: Cli, agent: str, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(cli.ok(["model", agent, *MODEL, *args]))
    return out


def r2(x: float) -> float:
    return round(x, 2)


@pytest.mark.parametrize("agent", AGENTS)
def test_rate_expected_and_bootstrap_match_the_csv(crm: Cli, agent: str) -> None:
    m = model(crm, agent, "--to", "10", "--on", ON)
    hand = hand_model(agent, date.fromisoformat(ON), 10, 30)
    assert hand["active"] >= 8
    assert (m["rep"], m["activity"], m["outcome"]) == (agent, "engagements", "won_value")
    assert (m["history_days"], m["weeks"]) == (180, 25)
    assert m["rate"] == round(hand["rate"], 4)
    keys = ("activity", "expected", "p10", "p90")
    assert m["planned"] == dict(zip(keys, map(r2, hand["planned"]), strict=True))
    assert m["current"] == dict(zip(keys, map(r2, hand["current"]), strict=True))
    assert m["team"] == {"rate": round(hand["team_rate"], 4)}
    assert m["insufficient_history"] is False
    floor = math.floor(hand["planned"][1])
    assert m["suggested"] == f"--expect-metric won_value --expect-at-least {floor}"
    assert m["planned"]["p10"] < m["planned"]["expected"] < m["planned"]["p90"]


def test_the_same_seed_gives_the_same_answer_and_another_seed_another_spread(crm: Cli) -> None:
    args = ("--to", "8", "--per", "week", "--days", "28", "--on", ON)
    first = model(crm, "Moses Frase", *args, "--seed", "7")
    assert model(crm, "Moses Frase", *args, "--seed", "7") == first
    other = model(crm, "Moses Frase", *args, "--seed", "8")
    assert (other["rate"], other["planned"]["expected"]) == (
        first["rate"],
        first["planned"]["expected"],
    )
    assert (other["planned"]["p10"], other["planned"]["p90"]) != (
        first["planned"]["p10"],
        first["planned"]["p90"],
    )
    hand = hand_model("Moses Frase", date.fromisoformat(ON), 8, 28, seed=8)
    assert (other["planned"]["p10"], other["planned"]["p90"]) == (
        r2(hand["planned"][2]),
        r2(hand["planned"][3]),
    )
    # the default seed is 0
    assert model(crm, "Moses Frase", *args) == model(crm, "Moses Frase", *args, "--seed", "0")


def test_per_day_and_month_scale_the_planned_activity(crm: Cli) -> None:
    week = model(crm, "Moses Frase", "--to", "7", "--per", "week", "--on", ON)
    day = model(crm, "Moses Frase", "--to", "1", "--per", "day", "--on", ON)
    month = model(crm, "Moses Frase", "--to", "30", "--per", "month", "--on", ON)
    assert week["planned"] == day["planned"] == month["planned"]  # 30 engagements each
    assert week["planned"]["activity"] == 30


def test_insufficient_history_gives_null_projections(crm: Cli) -> None:
    # the sample starts 20 October 2016: by 1 December only 7 weeks can have activity
    on = date(2016, 12, 1)
    assert sum(1 for a, _ in crm_weeks("Moses Frase", on) if a) < 8
    m = model(crm, "Moses Frase", "--to", "10", "--on", on.isoformat())
    assert m["insufficient_history"] is True
    assert m["planned"] == {"activity": 42.86, "expected": None, "p10": None, "p90": None}
    assert (m["current"]["expected"], m["suggested"]) == (None, None)
    table = crm.ok(
        "model 'Moses Frase' --activity engagements --outcome won_value --to 10 "
        f"--on {on.isoformat()}",
    )
    assert "insufficient history" in table and "8 needed" in table


def test_doubling_the_plan_doubles_the_projection_on_the_crm(crm: Cli) -> None:
    one = model(crm, "Darcel Schlecht", "--to", "6", "--on", ON)
    two = model(crm, "Darcel Schlecht", "--to", "12", "--on", ON)
    for key in ("expected", "p10", "p90"):
        assert abs(two["planned"][key] - 2 * one["planned"][key]) <= 0.01


@settings(max_examples=40, deadline=None)
@given(
    weeks=st.lists(
        st.tuples(
            st.integers(0, 40).map(float), st.floats(0, 1e5, allow_nan=False, allow_infinity=False)
        ),
        min_size=8,
        max_size=30,
    ).filter(lambda ws: sum(1 for a, _ in ws if a) >= 8),
    to=st.floats(0.5, 500, allow_nan=False),
    days=st.integers(1, 120),
    seed=st.integers(0, 2**32),
)
def test_doubling_the_planned_activity_doubles_expected_p10_and_p90(
    weeks: list[tuple[float, float]], to: float, days: int, seed: int
) -> None:
    one = rules.scenario(weeks, to, "week", days, seed)
    two = rules.scenario(weeks, 2 * to, "week", days, seed)
    assert two.planned.activity == 2 * one.planned.activity
    for a, b in (
        (one.planned.expected, two.planned.expected),
        (one.planned.p10, two.planned.p10),
        (one.planned.p90, two.planned.p90),
    ):
        assert a is not None and b is not None
        assert b == pytest.approx(2 * a, rel=1e-12, abs=1e-9)
    assert two.current == one.current  # the rep's own level does not move


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("Moses Frasee", "--to", "10"), 3, "did you mean 'Moses Frase'"),
        (("Moses Frase", "--to", "0"), 2, "--to must be greater than 0"),
        (("Moses Frase\udcff", "--to", "10"), 2, "not valid text"),
        (("Moses Frase", "--to", "-3"), 2, "--to must be greater than 0"),
        (("Moses Frase", "--to", "10", "--per", "window"), 2, "'window' is not one of"),
        (("Moses Frase", "--to", "10", "--history-days", "3"), 2, "--history-days"),
        (("Moses Frase", "--to", "10", "--seed", "-1"), 2, "--seed"),
    ],
)
def test_refusals_write_nothing(crm: Cli, args: tuple[str, ...], code: int, words: str) -> None:
    before = event_count(crm.db)
    result = crm(["model", args[0], "--activity", "engagements", "--outcome", "won_value",
                 "--on", ON, *args[1:]])  # fmt: skip
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    assert words in result.stderr
    assert event_count(crm.db) == before


def test_an_unknown_metric_is_not_found_and_lists_the_known(crm: Cli) -> None:
    result = crm(f"model 'Moses Frase' --activity calls --outcome won_value --to 10 --on {ON}")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "known: engagements, won_value" in result.stderr
