"""``report hypotheses`` (SPEC §7.6) against hand arithmetic.

D = 2026-03-31, window 90 days: commitments closed in (2026-01-01, 2026-03-31].

manager bob, rep-owned, with a hypothesis, closed in the window:
  h1 text, 10 of 10, closed met                  -> met, succeeded
  h2 text, 10 of 10, closed missed               -> missed, honest_miss
  h3 text, 0 of 10, closed missed                -> missed, broken
  h4 text, 10 of 10, closed without a result     -> unknown, kept
  h5 metric calls >= 10 (12 calls), done, closed -> met, succeeded
  h6 metric calls >= 100 (12 calls), done, closed-> missed, honest_miss
not counted: n1 (no hypothesis), old (closed 2025-12-01, before the window),
  op (still open), mg (manager-owned, with a hypothesis)
manager gina: g1 with a hypothesis, still open -> nothing made, shares null

bob: made 6, met 2, missed 3, unknown 1, hit_rate 2/5 = 0.4,
     honest_miss_share 2 / (2 + 2) = 0.5
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.application import Ledger
from tests.conftest import Cli, event_count, ledger_location

ON = "2026-03-31"


def _build(db: str) -> None:
    ledger = Ledger.open(db)
    a: dict[str, Any] = {"actor": "tester"}
    ledger.record_activities(
        [{"rep": "alice", "metric": "calls", "date": "2026-02-10", "value": 12,
          "source_id": "c1", **a}]
    )  # fmt: skip

    def run(start: str, actual: float | None, close: str | None, result: str | None = None,
            **kw: Any) -> None:  # fmt: skip
        kw.setdefault("rep", "alice")
        kw.setdefault("manager", "bob")
        if "done" not in kw:
            kw.update(target=10, period="window")
        cid = ledger.agree(focus="f", behavior="b", start=start, days=14, **kw, **a)
        if actual is not None:
            ledger.check_in(cid, date=start, actual=actual, **a)
        if kw.get("done"):
            ledger.check_in(cid, date=start, done=True, **a)
        if close:
            ledger.close_commitment(uuid.UUID(str(cid)), date=close, result=result, **a)

    run("2026-01-05", 10, "2026-01-20", "met", expect="h1")
    run("2026-01-05", 10, "2026-01-20", "missed", expect="h2")
    run("2026-01-05", 0, "2026-01-20", "missed", expect="h3")
    run("2026-01-05", 10, "2026-01-20", None, expect="h4")
    run("2026-02-02", None, "2026-02-20", done=True, expect_metric="calls", expect_at_least=10)
    run("2026-02-02", None, "2026-02-20", done=True, expect_metric="calls", expect_at_least=100)
    run("2026-01-05", 10, "2026-01-20", "met")  # n1
    run("2025-11-01", 10, "2025-12-01", "met", expect="old")
    run("2026-03-20", 10, None, expect="op")
    run("2026-01-05", 10, "2026-01-20", "met", expect="mg", owner="manager")
    run("2026-03-20", 1, None, expect="g1", manager="gina")
    ledger.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    tmp = tmp_path_factory.mktemp("hyp")
    with ledger_location(request.param, tmp) as db:
        _build(db)
        yield Cli(db=db, views=str(tmp / "views.db"))


def test_hit_rate_and_honest_miss_share_by_hand(cli: Cli) -> None:
    obj = json.loads(cli.ok(f"report hypotheses --on {ON} --format json"))
    assert list(obj) == ["as_of", "on", "window_days", "managers"]
    assert (obj["on"], obj["window_days"]) == (ON, 90)
    assert obj["managers"] == [
        {"manager": "bob", "made": 6, "met": 2, "missed": 3, "unknown": 1, "hit_rate": 0.4,
         "honest_miss_share": 0.5},
        {"manager": "gina", "made": 0, "met": 0, "missed": 0, "unknown": 0, "hit_rate": None,
         "honest_miss_share": None},
    ]  # fmt: skip


def test_window_and_manager_options(cli: Cli) -> None:
    # a 60-day window (2026-01-30, 03-31] keeps only h5 and h6
    obj = json.loads(
        cli.ok(f"report hypotheses --on {ON} --window-days 60 --manager bob --format json")
    )
    assert obj["managers"] == [
        {"manager": "bob", "made": 2, "met": 1, "missed": 1, "unknown": 0, "hit_rate": 0.5,
         "honest_miss_share": 0.5}
    ]  # fmt: skip


def test_csv_md_and_table(cli: Cli) -> None:
    rows = list(csv.DictReader(io.StringIO(cli.ok(f"report hypotheses --on {ON} --format csv"))))
    assert rows[0] == {"manager": "bob", "made": "6", "met": "2", "missed": "3", "unknown": "1",
                       "hit_rate": "0.4", "honest_miss_share": "0.5"}  # fmt: skip
    assert rows[1]["hit_rate"] == ""
    assert "| bob | 6 | 2 | 3 | 1 | 0.4 | 0.5 |" in cli.ok(
        f"report hypotheses --on {ON} --format md"
    )
    assert "Hypotheses as of" in cli.ok(f"report hypotheses --on {ON}")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("--manager", "bobb"), 3, "did you mean 'bob'"),
        (("--manager", "\udcff"), 2, "not valid text"),
        (("--window-days", "0"), 2, "--window-days"),
        (("--format", "html"), 2, "'html' is not one of"),
    ],
)
def test_refusals_write_nothing(cli: Cli, args: tuple[str, ...], code: int, words: str) -> None:
    before = event_count(cli.db)
    result = cli(["report", "hypotheses", "--on", ON, *args])
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    assert words in result.stderr
    assert event_count(cli.db) == before
