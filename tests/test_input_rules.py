"""SPEC §7.1 write side: the input rules of new commands, the warnings that
accept but say why something will not count, and the result fallback of
``close --result unknown``, through the command line on both backends.

A refusal asserts the exit code, one line on stderr, nothing on stdout and an
unchanged event count (``tests.test_refusals.refused``).
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ledger import commands as cmd
from tests.conftest import Cli, activity_count, event_count
from tests.test_refusals import refused

START = "2026-01-05"


def activity(cli: Cli, tmp_path: Path, metric: str, rows: list[tuple[str, str, float]]) -> None:
    """Import ``rows`` (rep, date, value) as activity of ``metric``."""
    path = tmp_path / f"{metric}.csv"
    lines = ["rep,day,n"] + [f"{rep},{day},{value}" for rep, day, value in rows]
    path.write_text("\n".join(lines) + "\n")
    result = cli(
        f"activity import {path} --metric {metric} --rep-column rep --date-column day "
        "--value-column n",
    )
    assert result.exit_code == 0, result.stderr


def agree_args(
    *extra: str, rep: str = "alice", manager: str = "bob", options: str = ""
) -> list[str]:
    """A valid agreement's arguments, then ``options`` split as a shell would, then ``extra``
    (values awkward to quote: empty, hostile or huge)."""
    return [
        "agree", "--rep", rep, "--manager", manager, "--focus", "prospecting",
        "--behavior", "outbound calls", "--start", START, *shlex.split(options), *extra,
    ]  # fmt: skip


# -- close --result unknown falls back to the outcome metric (SPEC §4) ------------


def test_explicit_unknown_result_is_judged_by_the_outcome_metric(cli: Cli, tmp_path: Path) -> None:
    activity(cli, tmp_path, "won_value", [("alice", "2026-01-20", 25000.0)])
    ids = {}
    for result in ("none", "unknown", "missed"):
        cid = cli.ok(
            agree_args(
                options="--target 2 --per window --expect-metric won_value --expect-at-least 20000"
            )
        )
        cli.ok(f"check-in {cid} --on 2026-01-12 --actual 2")
        close = ["close", cid, "--on", "2026-02-04"]
        cli.ok([*close, *([] if result == "none" else ["--result", result])])
        ids[result] = cid
    on = ["--as-of", "2026-12-31", "--on", "2026-02-10"]
    shown = {
        k: json.loads(cli.ok(["show", cid, "--format", "json", *on])) for k, cid in ids.items()
    }
    assert shown["none"]["result"] == shown["unknown"]["result"] == "met"
    assert shown["none"]["verdict"] == shown["unknown"]["verdict"] == "succeeded"
    assert shown["missed"]["verdict"] == "honest_miss"  # an explicit judgement beats the metric
    history = json.loads(cli.ok(["history", "alice", "--format", "json", *on]))
    assert history["counts"]["succeeded"] == 2 and history["counts"]["kept"] == 0
    report = json.loads(cli.ok(["report", "coaching", "--format", "json", *on]))
    (bob,) = report["managers"]
    assert bob["follow_through_mix"]["succeeded"] == 2
    assert bob["follow_through_mix"]["kept"] == 0


# -- count targets and thresholds (exit 2) ----------------------------------------


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--target", "0"], "target must be more than 0"),
        (["--target", "0", "--per", "window"], "target must be more than 0"),
        (["--target", "1", "--kept-at", "5"], "kept_at <= 2"),
        (["--target", "1", "--kept-at", "2.01"], "kept_at <= 2"),
        (["--target", "1", "--partial-at", "0"], "0 < partial_at"),
        (["--target", "1", "--partial-at", "-0.5"], "0 < partial_at"),
        (["--target", "1", "--kept-at", "0.4"], "partial_at <= kept_at"),
        (["--done", "--kept-at", "3"], "kept_at <= 2"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v),
)
def test_an_agreement_that_asks_nothing_or_has_impossible_thresholds_is_invalid(
    cli: Cli, extra: list[str], needle: str
) -> None:
    refused(cli, 2, needle, *agree_args(*extra))


def test_the_threshold_and_target_boundaries_are_accepted(cli: Cli) -> None:
    before = activity_count(cli.db)
    cli.ok(agree_args("--target", "0.5", "--kept-at", "2", "--partial-at", "2"))
    cli.ok(agree_args("--target", "1", "--kept-at", "0.01", "--partial-at", "0.01"))
    assert activity_count(cli.db) == before + 5  # 2 agreements, the workload start, 2 takes


def test_a_revision_to_a_zero_target_is_invalid(cli: Cli) -> None:
    today = datetime.now(UTC).date()
    cid = cli.ok(agree_args("--target", "5"))
    refused(
        cli, 2, "target must be more than 0", "revise", cid, "--on", str(today),
        "--target", "0", "--reason", "x",
    )  # fmt: skip


# -- metrics with no recorded activity (exit 4 unless --new-metric) ----------------


@pytest.mark.parametrize("option", ["--metric", "--expect-metric"])
def test_a_metric_with_no_activity_is_refused_listing_the_known_ones(
    cli: Cli, tmp_path: Path, option: str
) -> None:
    activity(cli, tmp_path, "engagements", [("alice", "2026-01-06", 1.0)])
    activity(cli, tmp_path, "won_value", [("alice", "2026-01-20", 5000.0)])
    extra = ["--target", "30", "--per", "month", option, "engagments"]
    if option == "--expect-metric":
        extra += ["--expect-at-least", "3"]
    message = refused(cli, 4, "'engagments'", *agree_args(*extra))
    assert "known metrics: 'engagements', 'won_value'" in message
    assert "--new-metric" in message


def test_a_metric_on_an_empty_ledger_says_none_is_known(cli: Cli) -> None:
    message = refused(cli, 4, "calls", *agree_args("--target", "3", "--metric", "calls"))
    assert "known metrics: none yet" in message


def test_new_metric_accepts_a_metric_whose_rows_come_later(cli: Cli, tmp_path: Path) -> None:
    cid = cli.ok(
        agree_args("--target", "1", "--per", "window", "--metric", "demos", "--new-metric")
    )
    activity(cli, tmp_path, "demos", [("alice", "2026-01-07", 1.0)])
    shown = json.loads(cli.ok(f"show {cid} --format json --as-of 2099-01-01"))
    assert shown["metric"] == "demos" and shown["actual"] == 1


def test_known_metrics_are_accepted(cli: Cli, tmp_path: Path) -> None:
    activity(cli, tmp_path, "calls", [("zoe", "2026-01-06", 3.0)])
    activity(cli, tmp_path, "won_value", [("zoe", "2026-01-06", 3.0)])
    cli.ok(
        agree_args(
            options="--target 5 --metric calls --expect-metric won_value --expect-at-least 100"
        )
    )


def test_import_still_accepts_what_the_input_rules_refuse(cli: Cli, tmp_path: Path) -> None:
    """SPEC §7: the input rules bind new commands only; an export with a metric
    nobody recorded, a 0 target and kept_at 5 imports as it was written."""
    from ledger.application import Ledger

    source = str(tmp_path / "source.db")
    ledger = Ledger.open(source)
    try:
        from ledger.domain import Commitment

        agg = Commitment.agree(
            at=datetime(2026, 1, 5, 9, tzinfo=UTC), rep="alice", manager="bob", owner="manager",
            focus="prospecting", behavior="calls", measure="count", target=0.0, period="week",
            unit=None, metric="nobody-records-this", baseline=None, start=date(2026, 1, 5),
            due=date(2026, 1, 30), hypothesis=None, expect_metric=None, expect_at_least=None,
            session_id=None, supports=None, kept_at=5.0, partial_at=3.0,
            focus_cap_override=None, on=date(2026, 1, 5), actor="bob", proposed_by="manager",
        )  # fmt: skip
        ledger.save(agg)
    finally:
        ledger.close()
    export = tmp_path / "export.jsonl"
    Cli(db=source, views=str(tmp_path / "s.views.db")).ok(f"export -o {export}")
    result = cli(f"import {export}")
    assert result.exit_code == 0, result.stderr
    assert activity_count(cli.db) == 1


# -- revise after the due date, by the ledger's clock (exit 4) ----------------------


def today() -> date:
    return datetime.now(UTC).date()


def test_a_back_dated_revision_of_a_loop_past_its_due_is_refused(cli: Cli) -> None:
    start = today() - timedelta(days=30)
    cid = cli.ok(
        "agree --rep dan --manager bob --focus prospecting --behavior calls --target 5 "
        f"--start {start} --days 29",
    )  # fmt: skip  (due yesterday)
    message = refused(
        cli, 4, "whatever --on says", "revise", cid, "--on", str(start + timedelta(days=3)),
        "--due", str(today() + timedelta(days=20)), "--reason", "renegotiated after the fact",
    )  # fmt: skip
    assert "release" in message and str(today()) in message


def test_a_revision_while_the_due_date_is_ahead_is_accepted(cli: Cli) -> None:
    cid = cli.ok(
        "agree --rep dan --manager bob --focus prospecting --behavior calls --target 5 "
        f"--start {today() - timedelta(days=10)} --days 30",
    )
    before = event_count(cli.db)
    cli.ok(f"revise {cid} --on {today()} --target 4 --reason 'holiday week'")
    assert event_count(cli.db) == before + 1


def test_the_library_judges_revisions_by_its_injected_clock(db: str) -> None:
    from ledger.application import Ledger
    from ledger.errors import RevisionAfterDue

    now = datetime(2026, 2, 3, 23, 59, tzinfo=UTC)  # the due date's last minute
    ledger = Ledger.open(db, clock=lambda: now)
    try:
        cid = ledger.agree(
            cmd.validate(
                cmd.Agree,
                rep="alice",
                manager="bob",
                focus="prospecting",
                behavior="calls",
                target=5,
                start="2026-01-05",
                due="2026-02-03",
                actor="bob",
            )
        )
        ledger.revise(
            cid, cmd.validate(cmd.Revise, date="2026-01-20", reason="x", target=4, actor="bob")
        )
        now = datetime(2026, 2, 4, 0, 0, tzinfo=UTC)
        count = ledger.event_count()
        with pytest.raises(RevisionAfterDue, match="whatever --on says"):
            ledger.revise(
                cid,
                cmd.validate(
                    cmd.Revise, date="2026-01-21", reason="too late", target=3, actor="bob"
                ),
            )
        assert ledger.event_count() == count
    finally:
        ledger.close()


# -- agree --session: the session's rep and manager (exit 4) ------------------------


@pytest.mark.parametrize(
    ("rep", "manager"), [("carol", "bob"), ("alice", "someone else"), ("carol", "dave")]
)
def test_a_session_of_another_rep_or_manager_is_refused(cli: Cli, rep: str, manager: str) -> None:
    sid = cli.ok(f"session record --rep alice --manager bob --on {START}")
    message = refused(
        cli, 4, f"not by {manager!r} with {rep!r}",
        *agree_args("--target", "3", "--session", sid, rep=rep, manager=manager),
    )  # fmt: skip
    assert "held by 'bob' with 'alice'" in message


def test_a_session_of_the_same_rep_and_manager_is_accepted(cli: Cli) -> None:
    sid = cli.ok(f"session record --rep alice --manager bob --on {START}")
    cid = cli.ok(agree_args("--target", "3", "--session", sid[:8]))
    assert len(cid) == 36


# -- accepted with a warning (exit 0) -----------------------------------------------


def test_a_check_in_after_the_due_date_is_recorded_with_a_warning(cli: Cli) -> None:
    cid = cli.ok(agree_args("--target", "5", "--days", "28"))  # due 2026-02-01
    before = event_count(cli.db)
    result = cli(f"check-in {cid} --on 2026-02-02 --actual 7")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "1"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: "), lines
    assert "does not count: outside the window 2026-01-05 to 2026-02-01" in lines[0]
    assert event_count(cli.db) == before + 1
    inside = cli(f"check-in {cid} --on 2026-02-01 --actual 7")
    assert inside.exit_code == 0 and inside.stderr == "" and inside.stdout.strip() == "2"
    shown = json.loads(cli.ok(f"show {cid} --format json --as-of 2099-01-01"))
    assert shown["actual"] == 7


def test_an_import_whose_filters_leave_no_row_warns(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text("rep,day,stage\nalice,2026-01-06,Won\nbob,2026-01-07,Lost\n")
    before = event_count(cli.db)
    result = cli(
        f"activity import {path} --metric won --rep-column rep --date-column day --where stage=won"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "filters left 0 of 2 rows" in warnings[0], result.stderr
    assert event_count(cli.db) == before
    kept = cli(
        f"activity import {path} --metric won --rep-column rep --date-column day --where stage=Won"
    )
    assert kept.exit_code == 0 and "warning" not in kept.stderr
    assert activity_count(cli.db) == before + 1  # and the ledger's LedgerCreated


# -- every error in the product's words, on one line ---------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (agree_args("--target", "1", rep="x" * 101), "rep: must have at most 100 characters"),
        (agree_args("--target", "1", "--behavior", "b" * 2001), "at most 2000 characters"),
        (agree_args("--target", "-5"), "target: must be 0 or more"),
        (
            agree_args("--target", "1", "--baseline", "2e12"),
            "baseline: must be 1000000000000 or less",
        ),
        (agree_args("--target", "1", "--days", "0"), "days must be between 1 and 3660"),
        (agree_args("--target", "1", "--focus", ""), "focus: must not be empty"),
    ],
    ids=["long-name", "long-text", "negative", "huge", "days", "empty"],
)
def test_invalid_input_is_worded_by_the_ledger_not_by_pydantic(
    cli: Cli, args: list[str], needle: str
) -> None:
    message = refused(cli, 2, needle, *args)
    for library in ("Value should", "Input should", "after validation", "pydantic", "type="):
        assert library not in message, message


def test_a_file_that_cannot_be_opened_is_one_line(cli: Cli, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.csv")
    message = refused(
        cli, 2, "No such file", "activity", "import", missing, "--metric", "m",
        "--rep-column", "r", "--date-column", "d",
    )  # fmt: skip
    assert message.startswith("error: ")
