"""``commitments demo``: a realistic, deterministic team, written fast."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.demo import demo_end, write_demo
from tests.conftest import Cli, event_count

UUID_RE = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


@pytest.fixture(autouse=True)
def _run_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo writes its HTML pages beside a SQLite ledger, or into the
    working directory for PostgreSQL: keep them out of the checkout."""
    monkeypatch.chdir(tmp_path)


SEALED_RE = re.compile(r"sealed:v1:[0-9a-f]{32}:[A-Za-z0-9_=-]+")


def _stream(db: str) -> list[tuple[str, str]]:
    """(topic, state) of every stored event, ids renamed in order of appearance,
    sealed names opened (each seal has a fresh random nonce)."""
    ledger = Ledger.open(db)
    try:
        records = ledger.recorder.select_notifications(start=None, limit=10**6)
        opened = [
            SEALED_RE.sub(
                lambda m: "sealed(" + ledger.keys.open_text(m.group(0)) + ")",
                r.state.decode() if isinstance(r.state, bytes) else r.state,
            )
            for r in records
        ]
    finally:
        ledger.close()
    names: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        key = m.group(0).replace("-", "")
        return names.setdefault(key, f"id{len(names)}")

    out = []
    for r, state in zip(records, opened, strict=True):
        out.append((r.topic, UUID_RE.sub(rename, f"{r.originator_id} {state}")))
    return out


def _write(db: str, seed: int, today: date) -> None:
    ledger = Ledger.open(db)
    try:
        now = datetime(today.year, today.month, today.day, 22, 0, tzinfo=UTC)
        write_demo(ledger, reps=12, weeks=12, seed=seed, today=today, now=now)
    finally:
        ledger.close()


def test_the_same_seed_writes_the_same_team_numbers_and_dates(tmp_path: Path) -> None:
    a, b, c = (str(tmp_path / f"{n}.db") for n in "abc")
    _write(a, 1, date(2026, 11, 28))
    _write(b, 1, date(2026, 11, 28))
    _write(c, 2, date(2026, 11, 28))
    assert _stream(a) == _stream(b)
    assert _stream(a) != _stream(c)


def test_the_demo_ends_at_the_latest_monday_on_or_before_today() -> None:
    assert demo_end(date(2026, 11, 23)) == date(2026, 11, 23)  # a Monday
    assert demo_end(date(2026, 11, 29)) == date(2026, 11, 23)  # the Sunday after
    assert demo_end(date(2026, 11, 30)) == date(2026, 11, 30)


def test_any_weekday_of_one_week_writes_the_same_events(tmp_path: Path) -> None:
    monday, sunday = str(tmp_path / "mon.db"), str(tmp_path / "sun.db")
    _write(monday, 3, date(2026, 11, 23))
    ledger = Ledger.open(sunday)
    try:
        write_demo(
            ledger,
            reps=12,
            weeks=12,
            seed=3,
            today=date(2026, 11, 29),
            now=datetime(2026, 11, 23, 22, 0, tzinfo=UTC),
        )
    finally:
        ledger.close()
    assert _stream(monday) == _stream(sunday)


def test_default_demo_shows_every_verdict_and_the_team_signals(cli: Cli) -> None:
    result = cli("demo")
    assert result.exit_code == 0, result.stderr
    summary = re.search(r"demo: wrote (\d+) events \(12 reps, 3 managers", result.stderr)
    assert summary, result.stderr
    assert int(summary.group(1)) == event_count(cli.db)
    assert "signal" in result.stdout and "habit (demo)" in result.stdout
    for signal in ("will_concern", "first_warning", "skill_gap", "on_track", "insufficient_data"):
        assert signal in result.stdout
    items = json.loads(cli.ok("list --format json"))
    verdicts = {i["verdict"] for i in items}
    assert verdicts >= {
        "open",
        "overdue",
        "released",
        "succeeded",
        "honest_miss",
        "kept",
        "partial",
        "broken",
        "blocked",
    }
    assert {i["owner"] for i in items} == {"rep", "manager"}
    assert any(i["metric"] == "calls" for i in items)
    managers = {i["manager"] for i in items}
    assert len(managers) == 3


def test_demo_records_a_focus_cap_override_with_its_reason(cli: Cli) -> None:
    cli.ok("demo")
    items = json.loads(cli.ok("list --format json"))
    per_rep: dict[str, set[str]] = {}
    for i in items:
        if i["owner"] == "rep":
            per_rep.setdefault(i["rep"], set())
    ledger = Ledger.open(cli.db)
    try:
        records = ledger.recorder.select_notifications(start=None, limit=10**6)
        overrides = [
            json.loads(r.state)["focus_cap_override"]
            for r in records
            if r.topic.endswith("Commitment.Agreed") and json.loads(r.state)["focus_cap_override"]
        ]
        # stored sealed under the rep's key (SPEC 7.4), like every free text
        assert overrides and overrides[0].startswith("sealed:v1:")
        assert "quarter-end" in ledger.keys.open_text(overrides[0])
    finally:
        ledger.close()


def test_demo_refuses_a_ledger_that_already_holds_events(cli: Cli) -> None:
    cli.ok("session record --rep alice --manager bob --on 2026-01-05")
    before = event_count(cli.db)
    result = cli("demo")
    assert result.exit_code == 4
    assert "empty ledger" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert event_count(cli.db) == before


@pytest.mark.parametrize("args", [["--reps", "0"], ["--weeks", "0"], ["--reps", "x"]])
def test_demo_rejects_impossible_sizes(cli: Cli, args: list[str]) -> None:
    result = cli(["demo", *args])
    assert result.exit_code == 2


def test_demo_until_ends_business_dates_on_that_monday_and_judges_on_that_date(cli: Cli) -> None:
    result = cli("demo --until 2026-11-26")  # a Thursday
    assert result.exit_code == 0, result.stderr
    assert "business dates 2026-08-31 to 2026-11-23)" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Signals on 2026-11-26 (trailing 90 days):"
    items = json.loads(cli.ok("list --as-of 2999-12-31 --format json"))
    assert max(i["start"] for i in items) <= "2026-11-23"
    # each printed signal is the rep's signal on 2026-11-26, as team and history say
    team = json.loads(cli.ok("team --on 2026-11-26 --format json"))
    printed = {
        row.split("  ")[0]: row.split()
        for row in lines[3:]
        if row.strip() and not row.startswith("Next:")
    }
    assert len(printed) == len(team["reps"]) == 12
    for entry in team["reps"]:
        assert entry["signal"] in printed[entry["rep"]]
    page = re.search(r"demo: wrote (\S*history-\S+\.html)", result.stderr)
    assert page is not None, result.stderr
    html = Path(page[1]).read_text("utf-8")  # the rep page is judged on that date too
    assert "Evaluated on 2026-11-26" in html


@pytest.mark.parametrize("until", ["2026-02-30", "next monday", "26-11-2026"])
def test_demo_until_refuses_a_bad_date_and_writes_nothing(cli: Cli, until: str) -> None:
    result = cli(["demo", "--until", until])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --on:") or "--until" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert event_count(cli.db) == 0


def test_an_interrupted_demo_leaves_nothing_and_can_run_again(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """demo is all-or-nothing (SPEC §7.2, finding 9 of issue 12): a failure after
    several batches were written leaves an empty ledger that demo then fills."""
    from ledger import demo

    real_flush = demo._Writer.flush
    calls = {"n": 0}

    def failing_flush(self: demo._Writer, force: bool = False) -> None:
        real_flush(self, force)
        if self.written:
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt  # as a Ctrl-C between two batches

    ledger = Ledger.open(db)
    try:
        with monkeypatch.context() as m:
            m.setattr(demo._Writer, "flush", failing_flush)
            with pytest.raises(KeyboardInterrupt):
                write_demo(ledger, reps=6, weeks=8, batch=50)
        assert calls["n"] == 3
        assert ledger.event_count() == 0
        result = write_demo(ledger, reps=6, weeks=8, batch=50)
        assert ledger.event_count() == result.events > 150
    finally:
        ledger.close()
