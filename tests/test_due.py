"""``due`` and ``plan`` (SPEC §7.6): check-in dates at the end of each whole
period from start and at due, closes at due, overdue loops; ``--format ics``
parsed back with icalendar and compared with ``--format json``; stable UIDs.

Evaluated on D = 2026-03-02, within 7 days (to 03-09):

a1  alice/bob   02-23..03-22 10/week: check-ins 03-01, 03-08, 03-15, 03-22
a2  alice/bob   02-25..03-06 done: check-in and close at due 03-06
a3  alice/bob   01-05..02-01 done, never closed: overdue close 02-01
m1  bob for alice, supports a1, 02-23..03-22 2/window: check-in at due 03-22 only
b1  carol/gina  03-02..03-04 1/day: check-ins 03-02, 03-03, 03-04, close 03-04
x1  alice/bob   02-23..03-05 done, closed 03-01: nothing due
d1  dave/bob    01-01..03-31 4/month: check-ins 01-30, 03-01, 03-31 (months of 30 days)
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from ledger.application import Ledger
from tests.conftest import Cli, event_count, ledger_location

ON = "2026-03-02"


def _build(db: str) -> dict[str, str]:
    ledger = Ledger.open(db)
    a: dict[str, Any] = {"actor": "tester"}
    ids: dict[str, str] = {}

    def agree(name: str, rep: str, manager: str, start: str, days: int, **kw: Any) -> uuid.UUID:
        kw.setdefault("behavior", f"{name} behaviour")
        if "target" not in kw:
            kw["done"] = True
        cid = ledger.agree(rep=rep, manager=manager, focus="f", start=start, days=days, **kw, **a)
        ids[name] = str(cid)
        return cid

    a1 = agree("a1", "alice", "bob", "2026-02-23", 28, target=10, period="week",
               expect="pipeline <doubles> & more")  # fmt: skip
    agree("a2", "alice", "bob", "2026-02-25", 10)
    agree("a3", "alice", "bob", "2026-01-05", 28)
    agree("m1", "alice", "bob", "2026-02-23", 28, owner="manager", supports=a1, target=2,
          period="window")  # fmt: skip
    agree("b1", "carol", "gina", "2026-03-02", 3, target=1, period="day")
    x1 = agree("x1", "alice", "bob", "2026-02-23", 11)
    ledger.check_in(x1, date="2026-02-28", done=True, **a)
    ledger.close_commitment(x1, date="2026-03-01", **a)
    agree("d1", "dave", "bob", "2026-01-01", 90, target=4, period="month")
    ledger.close()
    return ids


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cli, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("due")
    with ledger_location(request.param, tmp) as db:
        yield Cli(db=db, views=str(tmp / "views.db")), _build(db)


def due(cli: Cli, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(cli.ok(["due", "--on", ON, "--format", "json", *args]))
    return out


def rows(ids: dict[str, str], d: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    back = {v: k for k, v in ids.items()}
    return [(i["due_on"], i["kind"], back[i["id"]], i["overdue"]) for i in d["items"]]


def test_due_lists_check_ins_closes_and_overdue_loops(scenario: tuple[Cli, dict[str, str]]) -> None:
    cli, ids = scenario
    d = due(cli)
    assert (d["on"], d["within"]) == (ON, 7)
    assert rows(ids, d) == [
        ("2026-02-01", "close", "a3", True),
        ("2026-03-02", "check-in", "b1", False),
        ("2026-03-03", "check-in", "b1", False),
        ("2026-03-04", "check-in", "b1", False),
        ("2026-03-04", "close", "b1", False),
        ("2026-03-06", "check-in", "a2", False),
        ("2026-03-06", "close", "a2", False),
        ("2026-03-08", "check-in", "a1", False),
    ]
    first = d["items"][0]
    assert first == {
        "kind": "close",
        "id": ids["a3"],
        "rep": "alice",
        "manager": "bob",
        "behavior": "a3 behaviour",
        "due_on": "2026-02-01",
        "overdue": True,
    }
    assert [r[2] for r in rows(ids, due(cli, "--rep", "carol"))] == ["b1"] * 4
    assert {r[2] for r in rows(ids, due(cli, "--manager", "bob"))} == {"a1", "a2", "a3"}
    assert rows(ids, due(cli, "--within", "0")) == [
        ("2026-02-01", "close", "a3", True),
        ("2026-03-02", "check-in", "b1", False),
    ]
    # a month is 30 days: d1's check-ins fall on 01-30, 03-01 and 03-31
    assert rows(ids, due(cli, "--rep", "dave", "--within", "30")) == [
        ("2026-03-31", "check-in", "d1", False),
        ("2026-03-31", "close", "d1", False),
    ]


def test_ics_is_the_same_items_with_stable_uids(
    scenario: tuple[Cli, dict[str, str]], tmp_path: Path
) -> None:
    cli = scenario[0]
    d = due(cli)
    text = cli.ok(f"due --on {ON} --format ics")
    cal = Calendar.from_ical(text)
    events = [c for c in cal.walk() if c.name == "VEVENT"]
    got = sorted(
        (str(e["UID"]), e.decoded("DTSTART"), e.decoded("DTEND"), str(e["SUMMARY"])) for e in events
    )
    want = sorted(
        (
            f"{i['id']}-{i['kind']}-{i['due_on']}@commitments",
            date.fromisoformat(i["due_on"]),
            date.fromordinal(date.fromisoformat(i["due_on"]).toordinal() + 1),
            ("Check-in" if i["kind"] == "check-in" else "Close the loop")
            + (" (overdue)" if i["overdue"] else "")
            + f": {i['rep']}: {i['behavior']}",
        )
        for i in d["items"]
    )
    assert got == want
    assert str(cal["VERSION"]) == "2.0" and "PRODID" in cal
    assert all("DTSTAMP" in e for e in events)
    # a second run (a later T) keeps every UID; with the same --as-of the file is identical
    again = Calendar.from_ical(cli.ok(f"due --on {ON} --format ics"))
    assert sorted(str(e["UID"]) for e in again.walk("VEVENT")) == [g[0] for g in got]
    pinned = ("due", "--on", ON, "--as-of", "2030-01-01", "--format", "ics")
    assert cli.ok(pinned) == cli.ok(pinned)
    out = tmp_path / "bob.ics"
    result = cli(f"due --on {ON} --manager bob --format ics -o {out}")
    assert result.exit_code == 0 and result.stdout == ""
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert len(Calendar.from_ical(out.read_bytes()).walk("VEVENT")) == 4  # a3, a2 twice, a1


def test_plan_lists_open_commitments_with_check_in_dates(
    scenario: tuple[Cli, dict[str, str]], tmp_path: Path
) -> None:
    cli, ids = scenario
    p = json.loads(cli.ok(f"plan alice --on {ON} --format json"))
    assert list(p) == ["rep", "on", "commitments"]
    back = {v: k for k, v in ids.items()}
    got = {back[c["id"]]: c for c in p["commitments"]}
    assert sorted(got) == ["a1", "a2", "m1"]  # a3 overdue, x1 closed: not in the plan
    assert got["a1"]["check_ins_due"] == ["2026-03-01", "2026-03-08", "2026-03-15", "2026-03-22"]
    assert got["a2"]["check_ins_due"] == ["2026-03-06"]
    assert got["m1"]["check_ins_due"] == ["2026-03-22"]
    assert got["a1"]["supported_by"] == [ids["m1"]] and got["m1"]["supports"] == ids["a1"]
    assert got["a1"]["hypothesis"] == "pipeline <doubles> & more"
    shown = json.loads(cli.ok(f"show {ids['a1']} --on {ON} --format json"))
    assert {k: got["a1"][k] for k in shown if k in got["a1"]} == {
        k: shown[k] for k in shown if k in got["a1"]
    }
    d1 = json.loads(cli.ok(f"plan dave --on {ON} --format json"))["commitments"]
    assert d1[0]["check_ins_due"] == ["2026-01-30", "2026-03-01", "2026-03-31"]
    page = tmp_path / "plan.html"
    cli.ok(f"plan alice --on {ON} --format html -o {page}")
    assert os.stat(page).st_mode & 0o777 == 0o600
    html = page.read_text("utf-8")
    assert "@media print" in html and "2026-03-15" in html
    assert "pipeline &lt;doubles&gt; &amp; more" in html and "<doubles>" not in html
    assert "30-day plan for alice on 2026-03-02" in cli.ok(f"plan alice --on {ON}")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("due", "--rep", "alicee"), 3, "did you mean 'alice'"),
        (("due", "--manager", "nobody"), 3, "no manager 'nobody'"),
        (("due", "--rep", "\udcff"), 2, "not valid text"),
        (("due", "--within", "-1"), 2, "--within"),
        (("due", "--format", "pdf"), 2, "'pdf' is not one of"),
        (("plan", "alice", "--format", "csv"), 2, "'csv' is not one of"),
    ],
)
def test_refusals_write_nothing(
    scenario: tuple[Cli, dict[str, str]], args: tuple[str, ...], code: int, words: str
) -> None:
    cli, _ = scenario
    before = event_count(cli.db)
    result = cli(args)
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    assert words in result.stderr
    assert event_count(cli.db) == before
