"""Every refusal of SPEC §3 and every invalid input of §5, through the command line.

Each test asserts the exit code, a one-line message on stderr that names the
problem, nothing on stdout, and that the number of stored events did not change.
"""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Cli, event_count

START = "2026-01-05"


def refused(cli: Cli, code: int, needle: str, *args: str) -> str:
    """Run a command that must be refused; return its message."""
    before = event_count(cli.db)
    result = cli(args)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle.lower() in lines[0].lower(), lines[0]
    assert result.stdout == ""
    assert event_count(cli.db) == before
    return lines[0]


def usage_refused(cli: Cli, needle: str, *args: str) -> None:
    """A usage error found by click itself (unknown option, not a number): exit 2,
    one line in the form of every other error (SPEC §7.1), not click's three."""
    before = event_count(cli.db)
    result = cli(args)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "--help')" in lines[0], lines[0]
    assert needle.lower() in lines[0].lower()
    assert result.stdout == ""
    assert event_count(cli.db) == before


def agree(cli: Cli, *extra: str, rep: str = "alice", focus: str = "prospecting") -> str:
    args = ["agree", "--rep", rep, "--manager", "bob", "--focus", focus]
    if "--behavior" not in extra:
        args += ["--behavior", "outbound calls"]
    if "--done" not in extra and "--target" not in extra:
        args += ["--target", "10"]
    if "--start" not in extra:
        args += ["--start", START]
    return cli.ok([*args, *extra])


def agree_args(*extra: str) -> list[str]:
    """Arguments of a valid rep agreement, plus ``extra``."""
    agreement = "agree --rep alice --manager bob --focus prospecting --behavior 'outbound calls'"
    return [*shlex.split(f"{agreement} --start {START}"), *extra]


@pytest.fixture
def cid(cli: Cli) -> str:
    """An open count commitment of alice, 2026-01-05 to 2026-02-03, with one check-in."""
    commitment = agree(cli)
    cli.ok(f"check-in {commitment} --on 2026-01-11 --actual 9")
    return commitment


# -- the state of a commitment (exit 4) ----------------------------------------


def test_check_in_on_a_closed_commitment_is_refused(cli: Cli, cid: str) -> None:
    cli.ok(f"close {cid} --on 2026-02-04 --result met")
    refused(cli, 4, "closed", "check-in", cid, "--on", "2026-02-05", "--actual", "3")


def test_check_in_on_a_released_commitment_is_refused(cli: Cli, cid: str) -> None:
    cli.ok(f"release {cid} --on 2026-01-20 --reason 'account moved'")
    refused(cli, 4, "released", "check-in", cid, "--on", "2026-01-21", "--actual", "3")


def test_check_in_before_the_start_is_refused(cli: Cli, cid: str) -> None:
    refused(cli, 4, "before the start", "check-in", cid, "--on", "2026-01-04", "--actual", "3")


def test_closing_twice_is_refused(cli: Cli, cid: str) -> None:
    cli.ok(f"close {cid} --on 2026-02-04")
    refused(cli, 4, "closed", "close", cid, "--on", "2026-02-05")


def test_closing_before_the_start_is_refused(cli: Cli, cid: str) -> None:
    refused(cli, 4, "before the start", "close", cid, "--on", "2026-01-01")


def test_closing_a_released_commitment_is_refused(cli: Cli, cid: str) -> None:
    cli.ok(f"release {cid} --on 2026-01-20 --reason 'account moved'")
    refused(cli, 4, "released", "close", cid, "--on", "2026-02-04")


def test_revising_after_the_due_date_is_refused(cli: Cli, cid: str) -> None:
    message = refused(
        cli, 4, "due date", "revise", cid, "--on", "2026-02-04", "--target", "5", "--reason", "x"
    )
    assert "release" in message  # says what to do instead


def test_revising_a_closed_commitment_is_refused(cli: Cli, cid: str) -> None:
    cli.ok(f"close {cid} --on 2026-01-30")
    refused(cli, 4, "closed", "revise", cid, "--on", "2026-01-31", "--target", "5", "--reason", "x")


def test_revising_before_the_agreement_is_refused(cli: Cli, cid: str) -> None:
    refused(
        cli, 4, "before the agreement", "revise", cid, "--on", "2026-01-01", "--target", "5",
        "--reason", "x",
    )  # fmt: skip


def test_releasing_twice_is_refused(cli: Cli, cid: str) -> None:
    cli.ok(f"release {cid} --on 2026-01-20 --reason 'account moved'")
    refused(cli, 4, "released", "release", cid, "--on", "2026-01-21", "--reason", "again")


def test_releasing_a_closed_commitment_is_refused(cli: Cli, cid: str) -> None:
    cli.ok(f"close {cid} --on 2026-02-04")
    refused(cli, 4, "closed", "release", cid, "--on", "2026-02-05", "--reason", "late")


def test_releasing_before_the_agreement_is_refused(cli: Cli, cid: str) -> None:
    refused(cli, 4, "before the agreement", "release", cid, "--on", "2026-01-01", "--reason", "x")


def test_correcting_a_check_in_that_does_not_exist_is_refused(cli: Cli, cid: str) -> None:
    refused(
        cli, 3, "check-in 2 does not exist", "correct", cid, "--check-in", "2", "--actual", "5",
        "--reason", "typo",
    )  # fmt: skip


def test_correcting_check_in_zero_is_invalid(cli: Cli, cid: str) -> None:
    refused(
        cli, 2, "start at 1", "correct", cid, "--check-in", "0", "--actual", "5", "--reason", "x"
    )


def test_a_session_of_another_rep_is_refused(cli: Cli) -> None:
    sid = cli.ok(f"session record --rep carol --manager bob --on {START}")
    refused(cli, 4, "carol", *agree_args("--target", "10", "--session", sid))


# -- supports (exit 4, or 3 when unknown) ----------------------------------------


def _manager_support_args(supports: str, rep: str = "alice") -> list[str]:
    return [
        "agree", "--rep", rep, "--manager", "bob", "--owner", "manager", "--focus", "prospecting",
        "--behavior", "two ride-alongs", "--target", "2", "--per", "window", "--start", START,
        "--supports", supports,
    ]  # fmt: skip


def test_supports_naming_a_manager_commitment_is_refused(cli: Cli, cid: str) -> None:
    support = cli.ok(_manager_support_args(cid))
    refused(cli, 4, "manager-owned", *_manager_support_args(support))


def test_supports_naming_another_reps_commitment_is_refused(cli: Cli, cid: str) -> None:
    refused(cli, 4, "not a rep-owned commitment of 'dave'", *_manager_support_args(cid, "dave"))


def test_supports_naming_an_unknown_commitment_is_not_found(cli: Cli, cid: str) -> None:
    refused(cli, 3, "no commitment", *_manager_support_args(str(uuid.uuid4())))


def test_supports_on_a_rep_commitment_is_invalid(cli: Cli, cid: str) -> None:
    refused(cli, 2, "manager-owned", *agree_args("--target", "5", "--supports", cid))


def test_a_manager_commitment_supporting_the_same_reps_commitment_is_accepted(
    cli: Cli, cid: str
) -> None:
    assert len(cli.ok(_manager_support_args(cid[:8]))) == 36


# -- unknown and ambiguous ids (exit 3), malformed ids (exit 2) -----------------


@pytest.mark.parametrize(
    "command",
    [
        ["check-in", "{id}", "--on", "2026-01-12", "--actual", "3"],
        ["close", "{id}", "--on", "2026-02-04"],
        ["release", "{id}", "--on", "2026-01-20", "--reason", "x"],
        ["revise", "{id}", "--on", "2026-01-20", "--target", "3", "--reason", "x"],
        ["correct", "{id}", "--check-in", "1", "--actual", "3", "--reason", "x"],
    ],
    ids=["check-in", "close", "release", "revise", "correct"],
)
def test_an_unknown_commitment_id_is_not_found(cli: Cli, cid: str, command: list[str]) -> None:
    unknown = str(uuid.uuid4())
    refused(cli, 3, "no commitment", *[unknown if a == "{id}" else a for a in command])


def test_an_unknown_id_prefix_is_not_found(cli: Cli, cid: str) -> None:
    prefix = "0123ab" if not cid.startswith("0123ab") else "fedcba"
    refused(cli, 3, prefix, "check-in", prefix, "--on", "2026-01-12", "--actual", "3")


def test_an_unknown_session_is_not_found(cli: Cli) -> None:
    refused(cli, 3, "no session", *agree_args("--target", "5", "--session", "abcdef12"))


def test_a_session_id_is_not_a_commitment_id(cli: Cli) -> None:
    sid = cli.ok(f"session record --rep alice --manager bob --on {START}")
    refused(cli, 3, "commitment", "close", sid, "--on", "2026-02-04")


@pytest.mark.parametrize("ref", ["abc12", "xyzxyzxyz", "", "0123456789abcdef0123456789abcdef00"])
def test_a_malformed_or_too_short_id_is_invalid(cli: Cli, cid: str, ref: str) -> None:
    refused(cli, 2, "id", "close", ref, "--on", "2026-02-04")


@pytest.fixture
def twins(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Two commitments whose ids share their first 8 hex digits (uuid4 patched)."""
    fixed = iter(
        [
            uuid.UUID("abcdef12-0000-4000-8000-000000000001"),
            uuid.UUID("abcdef12-1111-4000-8000-000000000002"),
        ]
    )
    monkeypatch.setattr("ledger.domain.uuid4", lambda: next(fixed))
    ids = [agree(cli), agree(cli)]
    monkeypatch.undo()
    yield ids


@pytest.mark.parametrize("prefix", ["abcdef", "abcdef12", "ABCDEF12-"])
def test_an_ambiguous_prefix_is_refused_listing_the_candidates(
    cli: Cli, twins: list[str], prefix: str
) -> None:
    message = refused(
        cli, 3, "ambiguous", "check-in", prefix, "--on", "2026-01-12", "--actual", "3"
    )
    for candidate in twins:
        assert candidate in message


def test_a_longer_prefix_that_is_unique_is_accepted(cli: Cli, twins: list[str]) -> None:
    assert cli.ok("check-in abcdef121 --on 2026-01-12 --actual 3") == "1"


# -- the focus cap (exit 4; override accepted and stored) -------------------------


def test_a_third_focus_area_is_refused(cli: Cli) -> None:
    agree(cli, focus="prospecting")
    agree(cli, focus="discovery")
    agree(cli, focus="discovery")  # an area already held is fine
    args = agree_args("--target", "5")
    args[args.index("prospecting")] = "pipeline"
    message = refused(cli, 4, "focus cap", *args)
    assert "--override-focus-cap" in message


def test_the_focus_cap_override_is_accepted_and_its_reason_stored(cli: Cli) -> None:
    agree(cli, focus="prospecting")
    agree(cli, focus="discovery")
    reason = "quarter-end push asked by the VP"
    cid = agree(cli, "--override-focus-cap", reason, focus="pipeline")
    shown = json.loads(cli.ok(f"show {cid} --format json"))
    assert reason in json.dumps(shown)
    from ledger.application import Ledger

    ledger = Ledger.open(cli.db)
    try:
        stored = ledger.commitment(uuid.UUID(cid)).focus_cap_override
        assert stored is not None
        assert stored.startswith("sealed:v1:")  # the rep's text, sealed (SPEC 7.4)
        assert ledger.keys.open_text(stored) == reason
    finally:
        ledger.close()


def test_the_focus_cap_frees_up_when_a_commitment_is_closed(cli: Cli) -> None:
    first = agree(cli, focus="prospecting")
    agree(cli, focus="discovery")
    cli.ok(f"close {first} --on 2026-02-04")
    assert len(agree(cli, focus="pipeline")) == 36


def test_a_manager_commitment_does_not_count_towards_the_cap(cli: Cli) -> None:
    agree(cli, focus="prospecting")
    agree(cli, focus="discovery")
    args = agree_args("--owner", "manager", "--target", "2", "--per", "window")
    args[args.index("prospecting")] = "closing"
    assert len(cli.ok(args)) == 36


# -- invalid input (exit 2) --------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--target", "10", "--due", "2026-01-04"], "before start"),
        (["--target", "-5"], "target"),
        (["--target", "nan"], "finite"),
        (["--target", "inf"], "finite"),
        (["--target", "10", "--baseline", "-1"], "baseline"),
        (["--target", "10", "--done"], "exactly one"),
        ([], "exactly one"),
        (["--done", "--metric", "calls"], "done measure"),
        (["--target", "10", "--days", "0"], "days"),
        (["--target", "10", "--days", "7", "--due", "2026-01-20"], "not both"),
        (["--target", "10", "--expect-metric", "won_value"], "go together"),
        (["--target", "10", "--kept-at", "0"], "kept_at"),
        (["--target", "10", "--kept-at", "0.5", "--partial-at", "0.8"], "partial_at"),
        (["--target", "10", "--on", "2026-13-01"], "2026-13-01"),
        (["--target", "10", "--override-focus-cap", ""], "empty"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(v) or "nothing",
)
def test_an_impossible_agreement_is_invalid(cli: Cli, extra: list[str], needle: str) -> None:
    refused(cli, 2, needle, *agree_args(*extra))


@pytest.mark.parametrize(
    "start", ["2026-02-30", "2026/01/05", "05-01-2026", "yesterday", "2026-1-5", "", " "]
)
def test_a_bad_date_is_invalid(cli: Cli, start: str) -> None:
    args = agree_args("--target", "10")
    args[args.index(START)] = start
    refused(cli, 2, "date", *args)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--rep", "al\x00ice"),
        ("--rep", "al\x1bice"),
        ("--rep", "alice\nbob"),
        ("--manager", "bob\x07"),
        ("--rep", ""),
        ("--rep", "   "),
        ("--manager", ""),
        ("--rep", "x" * 101),
        ("--focus", ""),
        ("--focus", "pro\x01specting"),
        ("--behavior", ""),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_a_bad_person_id_or_label_is_invalid(cli: Cli, option: str, value: str) -> None:
    args = agree_args("--target", "10")
    if option in args:
        args[args.index(option) + 1] = value
    refused(cli, 2, option.removeprefix("--"), *args)


def test_a_session_with_a_control_character_in_the_rep_is_invalid(cli: Cli) -> None:
    refused(
        cli, 2, "control", "session", "record", "--rep", "ali\x7fce", "--manager", "bob",
        "--on", START,
    )  # fmt: skip


def test_a_session_with_an_empty_focus_area_is_invalid(cli: Cli) -> None:
    refused(
        cli, 2, "empty", "session", "record", "--rep", "alice", "--manager", "bob", "--on",
        START, "--focus", "",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--on", "2026-01-12"], "exactly one"),
        (["--on", "2026-01-12", "--actual", "3", "--done"], "exactly one"),
        (["--on", "2026-01-12", "--done"], "--actual"),
        (["--on", "2026-01-12", "--actual", "-3"], "actual"),
        (["--on", "12/01/2026", "--actual", "3"], "date"),
        (["--on", "2026-01-12", "--actual", "3", "--note", "bad\x00note"], "control"),
    ],
    ids=["neither", "both", "done-on-count", "negative", "bad-date", "control-note"],
)
def test_an_impossible_check_in_is_invalid(
    cli: Cli, cid: str, args: list[str], needle: str
) -> None:
    refused(cli, 2, needle, "check-in", cid, *args)


def test_actual_on_a_done_commitment_is_invalid(cli: Cli) -> None:
    done = agree(cli, "--done", "--behavior", "shadow a top rep")
    refused(cli, 2, "--done", "check-in", done, "--on", "2026-01-12", "--actual", "3")


def test_a_revision_without_new_terms_is_invalid(cli: Cli, cid: str) -> None:
    refused(cli, 2, "new term", "revise", cid, "--on", "2026-01-20", "--reason", "nothing")


def test_a_revision_with_the_due_before_start_is_invalid(cli: Cli, cid: str) -> None:
    refused(
        cli, 2, "before start", "revise", cid, "--on", "2026-01-20", "--due", "2026-01-01",
        "--reason", "x",
    )  # fmt: skip


def test_a_target_revision_of_a_done_commitment_is_invalid(cli: Cli) -> None:
    done = agree(cli, "--done", "--behavior", "shadow a top rep")
    refused(cli, 2, "done", "revise", done, "--on", "2026-01-20", "--target", "3", "--reason", "x")


def test_an_empty_reason_is_invalid(cli: Cli, cid: str) -> None:
    refused(cli, 2, "reason", "release", cid, "--on", "2026-01-20", "--reason", "")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["agree", "--rep", "alice", "--frobnicate"], "no such option"),
        (["check-in", "abcdef", "--on", "2026-01-12", "--actual", "many"], "not a valid float"),
        (["agree", "--rep", "alice", "--owner", "coach"], "'coach' is not one of"),
        (["close", "abcdef", "--on", "2026-02-04", "--result", "won"], "'won' is not one of"),
        (["check-in", "abcdef", "--actual", "3"], "missing option '--on'"),
        (["frobnicate"], "no such command"),
    ],
    ids=["unknown-option", "not-a-number", "bad-owner", "bad-result", "missing-on", "command"],
)
def test_usage_errors_exit_2(cli: Cli, cid: str, args: list[str], needle: str) -> None:
    usage_refused(cli, needle, *args)


# -- the boundaries are allowed (no over-refusal) -----------------------------------


def test_the_boundaries_of_each_rule_are_accepted(cli: Cli, cid: str) -> None:
    """Start date for a check-in, an overdue commitment for a check-in and a
    close: all allowed by SPEC §3."""
    before = event_count(cli.db)
    assert cli.ok(f"check-in {cid} --on {START} --actual 1") == "2"
    assert cli.ok(f"check-in {cid} --on 2026-02-10 --actual 2") == "3"  # overdue
    cli.ok(f"close {cid} --on 2026-02-11 --result unknown")
    assert event_count(cli.db) == before + 4  # 2 check-ins, the close and the workload entry


def test_a_revision_on_the_due_date_that_is_today_is_accepted(cli: Cli) -> None:
    """SPEC §3: revising on the due date itself is allowed; §7.1: so is revising
    on the day the ledger's clock reaches the due date (dates relative to today)."""
    today = datetime.now(UTC).date()
    cid = agree(cli, "--start", str(today - timedelta(days=29)), "--days", "30")
    before = event_count(cli.db)
    cli.ok(f"revise {cid} --on {today} --target 9 --reason 'on the due date'")
    assert event_count(cli.db) == before + 1
