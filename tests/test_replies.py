"""The judged person answers (SPEC §7.4, issue 14 item 4): ``reply``.

A reply by the commitment's rep or manager on a closed, released or overdue
commitment; anyone else, or an open commitment, is refused (exit 4) and
nothing is written. A reply never changes a verdict: it stands beside it in
``show``, ``history`` (JSON ``replies``), ``list`` (the ``reply`` marker) and
the HTML pages, and ``report coaching`` counts ``contested_share``. On both
backends.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, event_count
from tests.test_audit import copy_keys, export_of, rehash, write_jsonl

REPLIED = "ledger.domain:Commitment.Replied"


def agree(cli: Cli, rep: str, manager: str, start: str, days: int = 14, **more: str) -> str:
    args = ["agree", "--rep", rep, "--manager", manager, "--focus", "prospecting"]
    args += ["--behavior", "outbound calls", "--target", "10", "--per", "window"]
    args += ["--start", start, "--days", str(days)]
    for key, value in more.items():
        args += [f"--{key.replace('_', '-')}", value]
    return cli.ok(args)


def closed(cli: Cli, rep: str, manager: str, start: str, on: str, **more: Any) -> str:
    cid = agree(cli, rep, manager, start, **more)
    cli.ok(f"check-in {cid} --on {start} --actual 4")
    cli.ok(f"close {cid} --on {on}")
    return cid


def as_json(cli: Cli, *args: str) -> Any:
    return json.loads(cli.ok([*args, "--format", "json"]))


def refused(cli: Cli, code: int, why: str, command: str | Sequence[str]) -> None:
    """``command`` exits ``code`` with one line naming ``why`` and writes nothing."""
    before = event_count(cli.db)
    result = cli(command)
    assert result.exit_code == code, (result.exit_code, result.stderr)
    message = result.stderr.strip()
    assert "\n" not in message and why in message, message
    assert result.stdout == ""
    assert event_count(cli.db) == before


# -- refusals -------------------------------------------------------------------------


def test_refusals_write_nothing(cli: Cli) -> None:
    done = closed(cli, "alice", "bob", "2026-03-02", "2026-03-16")
    started = (date.today() - timedelta(days=3)).isoformat()
    running = agree(cli, "alice", "bob", started, days=30)  # open today: no verdict yet
    refused(cli, 4, "neither the rep", f"reply {done} --by carol --text 'I saw it'")
    refused(cli, 4, "neither the rep", f"reply {done} --by Alice --text 'case counts'")
    refused(cli, 4, "is open", f"reply {running} --by alice --text 'too early'")
    refused(cli, 3, "no commitment", "reply ffffffff --by alice --text x")
    refused(cli, 2, "text: must not be empty", ["reply", done, "--by", "alice", "--text", ""])
    refused(cli, 2, "control characters", ["reply", done, "--by", "alice", "--text", "a\x1bb"])
    refused(cli, 2, "at most 2000", f"reply {done} --by alice --text {'x' * 2001}")
    refused(cli, 2, "by: must not be empty", ["reply", done, "--by", " ", "--text", "x"])
    refused(cli, 2, "not valid text", ["reply", done, "--by", "al\udcffice", "--text", "x"])
    refused(cli, 2, "date: ", f"reply {done} --by alice --text x --on 2026-02-30")
    # the business date: before the close (and not overdue) the loop was still open
    refused(cli, 4, "is open", f"reply {done} --by alice --text x --on 2026-03-10")
    refused(cli, 4, "before the agreement", f"reply {done} --by bob --text x --on 2026-01-01")
    # a reply dated ahead of the ledger's clock could make a running loop look overdue
    refused(cli, 4, "after today", f"reply {running} --by alice --text x --on 2099-12-31")
    assert as_json(cli, "show", done)["replies"] == []


def test_rep_and_manager_reply_on_closed_released_and_overdue(cli: Cli) -> None:
    done = closed(cli, "alice", "bob", "2026-03-02", "2026-03-16")
    let_go = agree(cli, "alice", "bob", "2026-03-02")
    cli.ok(f"release {let_go} --on 2026-03-05 --reason 'territory moved'")
    late = agree(cli, "alice", "bob", "2026-03-02")  # due 2026-03-15, never closed: overdue
    before = event_count(cli.db)
    assert cli.ok(f"reply {done} --by alice --text fair --on 2026-03-16") == ""
    cli.ok(f"reply {done} --by bob --text agreed --on 2026-03-17")
    cli.ok(f"reply {let_go} --by alice --text thanks --on 2026-03-05")
    cli.ok(f"reply {late} --by ' alice ' --contest --text 'I was on leave' --on 2026-03-16")
    assert event_count(cli.db) == before + 4
    assert as_json(cli, "show", late)["replies"] == [
        {"on": "2026-03-16", "by": "alice", "text": "I was on leave", "contests": True}
    ]
    assert [r["by"] for r in as_json(cli, "show", done)["replies"]] == ["alice", "bob"]


# -- beside the verdict, everywhere ---------------------------------------------------


def test_a_contested_verdict_shows_everywhere_and_the_verdict_is_unchanged(
    cli: Cli, tmp_path: Path
) -> None:
    cid = closed(cli, "alice", "bob", "2026-03-02", "2026-03-16")
    other = closed(cli, "alice", "bob", "2026-03-02", "2026-03-16")
    on = ("--on", "2026-03-20")
    show_before = as_json(cli, "show", cid, *on)
    history_before = as_json(cli, "history", "alice", *on)
    assert show_before["verdict"] == "broken"
    text = 'the CRM lost two weeks of my calls <b>"really"</b>'
    cli.ok(["reply", cid, "--by", "alice", "--contest", "--text", text, "--on", "2026-03-18"])

    reply = {"on": "2026-03-18", "by": "alice", "text": text, "contests": True}
    show = as_json(cli, "show", cid, *on)
    assert show["replies"] == [reply]
    assert show["events"] == show_before["events"] + 1
    unchanged = ("verdict", "status", "follow_through", "result", "ratio", "actual", "expected")
    assert {k: show[k] for k in unchanged} == {k: show_before[k] for k in unchanged}
    assert show["log"][-1] == {
        **show["log"][-1],
        "type": "replied",
        "date": "2026-03-18",
        "by": "alice",
        "text": text,
        "contests": True,
    }

    history = as_json(cli, "history", "alice", *on)
    by_id = {c["id"]: c for c in history["commitments"]}
    assert by_id[cid]["replies"] == [reply] and by_id[other]["replies"] == []
    for key in ("signal", "reasons", "counts", "follow_through_rate"):
        assert history[key] == history_before[key]
    assert [c["verdict"] for c in history["commitments"]] == [
        c["verdict"] for c in history_before["commitments"]
    ]

    table = cli.ok(["list", "--rep", "alice", *on]).splitlines()
    assert table[0].split()[-2:] == ["verdict", "reply"]
    marks = {line.split()[0]: line.split()[-2:] for line in table[2:]}
    assert marks == {cid: ["broken", "contested"], other: ["broken", "-"]}
    rows = {
        r["id"]: r for r in csv.DictReader(io.StringIO(cli.ok(["list", *on, "--format", "csv"])))
    }
    assert (rows[cid]["reply"], rows[other]["reply"]) == ("contested", "")
    assert as_json(cli, "list", *on)[0]["replies"] in ([reply], [])

    shown = cli.ok(["show", cid, *on])
    assert "verdict: broken" in shown
    assert f"2026-03-18  alice contests the verdict: {text}" in shown

    page = tmp_path / "alice.html"
    cli.ok(["history", "alice", *on, "--format", "html", "-o", str(page)])
    html = page.read_text("utf-8")
    assert "contests the verdict" in html and "<b>" not in html
    assert "the CRM lost two weeks of my calls &lt;b&gt;&#34;really&#34;&lt;/b&gt;" in html
    assert "contested</strong>" in html


def test_a_reply_that_does_not_contest_is_marked_replied(cli: Cli) -> None:
    cid = closed(cli, "alice", "bob", "2026-03-02", "2026-03-16")
    cli.ok(f"reply {cid} --by bob --text 'we talked it through' --on 2026-03-17")
    line = cli.ok("list --on 2026-03-20").splitlines()[2]
    assert line.split()[-2:] == ["broken", "replied"]


def test_a_reply_is_not_seen_before_it_was_recorded_or_before_its_date(cli: Cli) -> None:
    cid = closed(cli, "alice", "bob", "2026-03-02", "2026-03-16")
    recorded = as_json(cli, "show", cid)["log"][-1]["recorded_at"]  # the close
    cli.ok(f"reply {cid} --by alice --contest --text no --on 2026-03-18")
    then = as_json(cli, "history", "alice", "--as-of", recorded, "--on", "2026-03-20")
    assert then["commitments"][0]["replies"] == []
    assert as_json(cli, "show", cid, "--as-of", recorded, "--on", "2026-03-20")["replies"] == []
    earlier = as_json(cli, "show", cid, "--on", "2026-03-17")  # its business date is later
    assert earlier["replies"] == [] and earlier["verdict"] == "broken"
    assert len(as_json(cli, "show", cid, "--on", "2026-03-18")["replies"]) == 1
    coaching = as_json(cli, "report", "coaching", "--as-of", recorded, "--on", "2026-03-20")
    assert coaching["managers"][0]["contested_share"] == 0
    now = as_json(cli, "report", "coaching", "--on", "2026-03-20")
    assert now["managers"][0]["contested_share"] == 1


# -- contested_share, by hand -----------------------------------------------------------


def _contested_scenario(cli: Cli) -> None:
    """bob: four rep-owned commitments closed in the window of D = 2026-04-30
    (90 days: 2026-01-31 .. 04-30): c1 contested by its rep, c2 answered without
    contesting, c3 not answered, c4 contested by bob himself. Outside the measure:
    c5 overdue (not closed) and contested, c6 closed 2026-01-15 (before the window)
    and contested, m1 bob's own commitment, closed and contested. dana: one
    closed, not answered. gina: only an open commitment."""
    c1 = closed(cli, "alice", "bob", "2026-03-01", "2026-03-20")
    c2 = closed(cli, "alice", "bob", "2026-03-01", "2026-03-20")
    closed(cli, "carol", "bob", "2026-03-01", "2026-03-20")
    c4 = closed(cli, "carol", "bob", "2026-03-01", "2026-03-25")
    c5 = agree(cli, "dave", "bob", "2026-04-01", days=10)
    c6 = closed(cli, "alice", "bob", "2026-01-01", "2026-01-15")
    m1 = closed(cli, "alice", "bob", "2026-03-01", "2026-03-20", owner="manager", supports=c2)
    closed(cli, "erin", "dana", "2026-03-01", "2026-03-20")
    agree(cli, "fred", "gina", "2026-04-25", days=30)
    for cid, by, day, contest in (
        (c1, "alice", "2026-03-21", True),
        (c2, "alice", "2026-03-21", False),
        (c4, "bob", "2026-03-26", True),
        (c5, "dave", "2026-04-20", True),
        (c6, "alice", "2026-01-16", True),
        (m1, "bob", "2026-03-21", True),
    ):
        cli.ok(
            ["reply", cid, "--by", by, "--text", "said", "--on", day, *(["--contest"] * contest)]
        )


def test_contested_share_against_hand_arithmetic(cli: Cli) -> None:
    _contested_scenario(cli)
    report = as_json(cli, "report", "coaching", "--on", "2026-04-30")
    share = {m["manager"]: m["contested_share"] for m in report["managers"]}
    assert share == {"bob": 2 / 4, "dana": 0 / 1, "gina": None}  # gina: 0/0
    assert report["team"]["contested_share"] == 2 / 5
    # on 2026-03-25 the window reaches back to 2025-12-26: c6 (contested on 01-16)
    # counts, c4 is closed but bob's reply on 03-26 is not there yet: (c1, c6) / 5
    earlier = as_json(cli, "report", "coaching", "--on", "2026-03-25", "--manager", "bob")
    assert earlier["managers"][0]["contested_share"] == 2 / 5
    rows = list(csv.DictReader(io.StringIO(cli.ok("report coaching --on 2026-04-30 --format csv"))))
    assert [r["contested_share"] for r in rows] == ["0.5", "0", "", "0.4"]


def test_contested_share_on_the_coaching_page(cli: Cli, tmp_path: Path) -> None:
    _contested_scenario(cli)
    page = tmp_path / "coaching.html"
    cli.ok(f"report coaching --on 2026-04-30 --format html -o {page}")
    html = page.read_text("utf-8")
    assert html.count("Verdicts the rep contested</dt><dd>50%</dd>") == 1  # bob
    assert "Verdicts the rep contested</dt><dd>40%</dd>" in html  # the team
    table = cli.ok("report coaching --on 2026-04-30").splitlines()
    assert "contested" in table[2].split()


def test_contested_share_fast_path_equals_judging_every_commitment(cli: Cli) -> None:
    from projections.catchup import ensure_current
    from projections.coaching import coaching_report
    from projections.query import ReadModel, moment

    _contested_scenario(cli)
    ensure_current(cli.db, cli.views)
    with ReadModel(cli.views) as rm:
        for on in ("2026-03-20", "2026-03-25", "2026-04-30"):
            at = moment(None, on)
            fast = coaching_report(rm, at).as_dict()
            reference = coaching_report(rm, at, judge_all=True).as_dict()
            assert fast == reference


# -- export and import ----------------------------------------------------------------------


def _replied_ledger(cli: Cli) -> tuple[str, list[dict[str, Any]]]:
    cid = closed(cli, "alice", "bob", "2026-03-02", "2026-03-16")
    cli.ok(f"reply {cid} --by alice --contest --text 'lost calls' --on 2026-03-17")
    return cid, export_of(cli.db)


def test_replies_round_trip_through_export_and_import(
    cli: Cli, other_db: str, tmp_path: Path
) -> None:
    cid, lines = _replied_ledger(cli)
    alice = as_json(cli, "people", "show", "alice")["subject"]
    tester = as_json(cli, "people", "show", "tester")["subject"]
    (data,) = [x["data"] for x in lines if x["type"] == REPLIED]
    # people by subject id; the text sealed under the replier's key (SPEC §7.4)
    assert {k: v for k, v in data.items() if k != "text"} == {
        "actor": tester,
        "by": alice,
        "contests": True,
        "date": "2026-03-17",
    }
    assert data["text"].startswith("sealed:v1:" + alice.replace("-", "") + ":")
    assert "lost calls" not in json.dumps(lines)
    path = write_jsonl(tmp_path / "export.jsonl", lines)
    other = Cli(db=other_db, views=str(tmp_path / "other.views.db"))
    copy_keys(cli.db, other_db)  # the names open with the key store, which travels apart
    other.ok(f"import {path}")
    assert as_json(other, "show", cid)["replies"] == as_json(cli, "show", cid)["replies"]

    from ledger.replay import events

    replied = [e for e in events(path) if e.name == "Commitment.Replied"]
    assert [(str(e.stream), e.event.by, e.event.contests) for e in replied] == [(cid, alice, True)]


@pytest.mark.parametrize(
    ("data", "code", "why"),
    [
        ({"by": "mallory"}, 4, "neither the rep"),
        ({"by": " alice"}, 4, "reply by: must not start or end with spaces"),
        ({"by": ""}, 4, "reply by: must not be empty"),
        ({"by": "x" * 101}, 4, "reply by: must have at most 100 characters"),
        ({"text": ""}, 4, "reply text: must not be empty"),
        ({"text": "a\x07b"}, 2, "control characters"),
        ({"date": "2026-03-10"}, 4, "is open"),
        ({"date": "2099-01-01"}, 4, "after today"),
        ({"contests": "yes"}, 2, "contests must be true or false"),
    ],
)
def test_an_import_checks_a_reply_as_strictly_as_the_command(
    cli: Cli, tmp_path: Path, data: dict[str, Any], code: int, why: str
) -> None:
    """A forged reply, correctly chained, appended to the ledger's own export."""
    cid, lines = _replied_ledger(cli)
    template = next(x for x in lines if x["type"] == REPLIED)
    forged = {
        **template,
        "version": template["version"] + 1,
        "data": {**template["data"], **data},
    }
    count = event_count(cli.db)
    path = write_jsonl(tmp_path / "forged.jsonl", rehash([*lines, forged]))
    result = cli(f"import {path}")
    assert result.exit_code == code, result.stderr
    message = result.stderr.strip()
    assert message.startswith(f"error: line {len(lines) + 1}: ") and why in message, message
    assert event_count(cli.db) == count
    assert len(as_json(cli, "show", cid)["replies"]) == 1
