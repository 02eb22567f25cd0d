"""An import replays the ledger's rules (SPEC §7.2, issue 12 finding 1).

A hash chain is easy to recompute, so these forgeries are correctly chained:
each is refused (exit 4, naming the line), nothing is written, and what
``history --as-of`` answers for every earlier instant stays the same. On both
backends.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.application import Ledger
from tests.conftest import Cli, event_count
from tests.test_audit import build_sample, export_of, rehash, write_jsonl

CHECKED_IN = "ledger.domain:Commitment.CheckInRecorded"
CLOSED = "ledger.domain:Commitment.Closed"
CORRECTED = "ledger.domain:Commitment.CheckInCorrected"
REVISED = "ledger.domain:Commitment.Revised"
AGREED = "ledger.domain:Commitment.Agreed"
TAKEN = "ledger.domain:RepWorkload.CommitmentTaken"
STARTED = "ledger.domain:RepWorkload.Started"


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> str:
    return stamp(datetime.now(UTC))


def template(lines: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(x for x in lines if x["type"] == kind))


def next_version(lines: list[dict[str, Any]], stream: str) -> int:
    return max(x["version"] for x in lines if x["stream"] == stream) + 1


def forged(
    lines: list[dict[str, Any]], kind: str, stream: str, data: dict[str, Any], at: str
) -> dict[str, Any]:
    line = template(lines, kind)
    line.update(stream=stream, version=next_version(lines, stream), recorded_at=at)
    line["data"].update(data)
    return line


def check_in(lines: list[dict[str, Any]], stream: str, day: str, actual: float, at: str) -> dict:
    """A check-in line for ``stream`` at its next version (no hash yet)."""
    return {
        "position": 0, "stream": stream, "version": next_version(lines, stream),
        "type": CHECKED_IN, "recorded_at": at,
        "data": {"actor": "tester", "actual": actual, "date": day, "done": None, "note": None},
        "prev": "", "hash": "",
    }  # fmt: skip


def as_of_answers(cli: Cli, lines: list[dict[str, Any]], rep: str = "alice") -> list[str]:
    """``history REP --as-of T`` for every instant an event was recorded at."""
    instants = sorted({x["recorded_at"] for x in lines})
    return [cli.ok(f"history {rep} --as-of {t} --format json") for t in instants]


def import_forgery(
    cli: Cli, tmp_path: Path, extra: list[dict[str, Any]], code: int, why: str
) -> None:
    """Append ``extra`` to the ledger's own export, re-chained, and import it: refused
    with ``code``, naming the first extra line, nothing written, --as-of unchanged."""
    lines = export_of(cli.db)
    before = as_of_answers(cli, lines)
    count = event_count(cli.db)
    path = write_jsonl(tmp_path / "forged.jsonl", rehash(lines + extra))
    result = cli(f"import {path}")
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message
    assert message.startswith(f"error: line {len(lines) + 1}: "), message
    assert why in message, message
    assert event_count(cli.db) == count
    assert as_of_answers(cli, lines) == before


@pytest.fixture
def sample(cli: Cli) -> dict[str, Any]:
    return build_sample(cli.db)


def test_a_check_in_on_a_closed_commitment_is_refused(
    cli: Cli, sample: dict[str, Any], tmp_path: Path
) -> None:
    lines = export_of(cli.db)
    calls = str(sample["calls"])
    checked = forged(lines, CHECKED_IN, calls, {"date": "2026-01-30", "actual": 50.0}, now())
    import_forgery(cli, tmp_path, [checked], 4, "cannot check in")


def test_a_second_close_is_refused(cli: Cli, sample: dict[str, Any], tmp_path: Path) -> None:
    lines = export_of(cli.db)
    close = forged(lines, CLOSED, str(sample["calls"]), {"result": "met"}, now())
    import_forgery(cli, tmp_path, [close], 4, "cannot close")


def test_the_issues_two_line_forgery_is_refused_and_the_past_unchanged(
    cli: Cli, sample: dict[str, Any], tmp_path: Path
) -> None:
    """Finding 1 as reported: a back-dated check-in and a second close 'met'."""
    lines = export_of(cli.db)
    calls = str(sample["calls"])
    latest = max(datetime.fromisoformat(x["recorded_at"].replace("Z", "+00:00")) for x in lines)
    month_ago = stamp(latest - timedelta(days=30))  # a month before the ledger's latest event
    checked = forged(lines, CHECKED_IN, calls, {"date": "2026-01-30", "actual": 50.0}, month_ago)
    close = forged([*lines, checked], CLOSED, calls, {"result": "met"}, now())
    import_forgery(cli, tmp_path, [checked, close], 4, "before the latest event")


def test_a_correction_of_a_missing_check_in_is_refused(
    cli: Cli, sample: dict[str, Any], tmp_path: Path
) -> None:
    lines = export_of(cli.db)
    fix = forged(
        lines, CORRECTED, str(sample["ride"]),
        {"check_in": 99, "actor": "CEO", "reason": "because"}, now(),
    )  # fmt: skip
    import_forgery(cli, tmp_path, [fix], 4, "check-in 99 does not exist")


def test_an_event_recorded_in_the_future_is_refused(
    cli: Cli, sample: dict[str, Any], tmp_path: Path
) -> None:
    lines = export_of(cli.db)
    fix = forged(lines, CORRECTED, str(sample["calls"]), {"check_in": 1}, "2030-01-01T00:00:00Z")
    import_forgery(cli, tmp_path, [fix], 4, "in the future")


def test_a_version_gap_is_refused(cli: Cli, sample: dict[str, Any], tmp_path: Path) -> None:
    lines = export_of(cli.db)
    fix = forged(lines, CORRECTED, str(sample["calls"]), {"check_in": 1}, now())
    fix["version"] += 1
    import_forgery(cli, tmp_path, [fix], 4, "follows no version")


def test_a_correction_must_carry_its_check_ins_date(
    cli: Cli, sample: dict[str, Any], tmp_path: Path
) -> None:
    lines = export_of(cli.db)
    fix = forged(lines, CORRECTED, str(sample["calls"]), {"check_in": 1, "date": "2026-03-01"},
                 now())  # fmt: skip
    import_forgery(cli, tmp_path, [fix], 4, "not what the command would record")


def _open_pair(cli: Cli) -> tuple[str, str]:
    """Two open rep commitments of alice in two focus areas."""
    ids = []
    for focus in ("prospecting", "discovery"):
        ids.append(
            cli.ok(
                ["agree", "--rep", "alice", "--manager", "bob", "--focus", focus,
                "--behavior", f"{focus} work", "--target", "5", "--start", "2026-01-05",
                "--days", "28"],
            )
        )  # fmt: skip
    return ids[0], ids[1]


def test_a_revision_after_the_due_date_is_refused(cli: Cli, tmp_path: Path) -> None:
    first, _ = _open_pair(cli)
    lines = export_of(cli.db)
    revise = template(lines, AGREED)  # shape only: replaced below
    revise = {
        **revise,
        "type": REVISED,
        "stream": first,
        "version": next_version(lines, first),
        "recorded_at": now(),
        "data": {
            "actor": "bob", "behavior": None, "date": "2026-03-01", "due": "2026-04-01",
            "period": None, "reason": "late", "target": 9.0,
        },
    }  # fmt: skip
    import_forgery(cli, tmp_path, [revise], 4, "cannot revise on 2026-03-01")


def test_a_third_focus_area_without_an_override_is_refused(cli: Cli, tmp_path: Path) -> None:
    _open_pair(cli)
    lines = export_of(cli.db)
    new_id = str(uuid.uuid4())
    agreed = template(lines, AGREED)
    agreed.update(stream=new_id, version=1, recorded_at=now())
    agreed["data"].update(focus="pipeline", focus_cap_override=None)
    workload = next(x["stream"] for x in lines if x["type"] == STARTED)
    take = forged(lines, TAKEN, workload, {"commitment_id": new_id, "focus": "pipeline"},
                  agreed["recorded_at"])  # fmt: skip
    lines_out = [agreed, take]
    lines_before = export_of(cli.db)
    before = as_of_answers(cli, lines_before)
    count = event_count(cli.db)
    result = cli(f"import {write_jsonl(tmp_path / 'f.jsonl', rehash(lines_before + lines_out))}")
    assert result.exit_code == 4
    assert result.stderr.startswith(f"error: line {len(lines_before) + 2}: ")
    assert "focus cap" in result.stderr
    assert event_count(cli.db) == count and as_of_answers(cli, lines_before) == before
    # with the override reason on the agreement, the same import is accepted
    agreed["data"]["focus_cap_override"] = "quarter-end push"
    result = cli(f"import {write_jsonl(tmp_path / 'g.jsonl', rehash(lines_before + lines_out))}")
    assert result.exit_code == 0, result.stderr
    assert event_count(cli.db) == count + 2


def test_a_stream_id_must_be_the_one_its_content_gives(cli: Cli, tmp_path: Path) -> None:
    _open_pair(cli)
    lines = export_of(cli.db)
    started = template(lines, "ledger.domain:RepWorkload.Started")
    started.update(stream=str(uuid.uuid4()), recorded_at=now())
    import_forgery(cli, tmp_path, [started], 4, "is not the id its content gives")


def test_a_valid_later_event_imports_and_leaves_every_earlier_as_of_unchanged(
    cli: Cli, tmp_path: Path
) -> None:
    first, _ = _open_pair(cli)
    lines = export_of(cli.db)
    before = as_of_answers(cli, lines)
    line = check_in(lines, first, "2026-01-12", 4.0, now())
    result = cli(f"import {write_jsonl(tmp_path / 'ok.jsonl', rehash([*lines, line]))}")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.strip().endswith("imported 1, already present " + str(len(lines)))
    assert as_of_answers(cli, lines) == before


def test_lines_of_one_file_may_come_in_any_recorded_at_order(
    cli: Cli, other_db: str, tmp_path: Path
) -> None:
    """Into a ledger that holds older events: each new line is checked against the
    ledger's latest before the import, not against the line before it."""
    first, second = _open_pair(cli)
    lines = export_of(cli.db)
    target = Cli(db=other_db, views=str(tmp_path / "v2.db"))
    target.ok(f"import {write_jsonl(tmp_path / 'base.jsonl', lines)}")
    later, earlier = datetime.now(UTC) + timedelta(seconds=2), datetime.now(UTC)
    a = check_in(lines, first, "2026-01-12", 4.0, stamp(later))
    b = check_in(lines, second, "2026-01-12", 2.0, stamp(earlier))
    result = target(f"import {write_jsonl(tmp_path / 'more.jsonl', rehash([*lines, a, b]))}")
    assert result.exit_code == 0, result.stderr
    assert event_count(other_db) == len(lines) + 2


def test_the_demos_own_export_imports_into_an_empty_ledger(
    cli: Cli, other_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cli.ok("demo --reps 4 --weeks 6")
    path = tmp_path / "demo.jsonl"
    cli.ok(f"export -o {path}")
    target = Cli(db=other_db, views=str(tmp_path / "v2.db"))
    result = target(f"import {path}")
    assert result.exit_code == 0, result.stderr
    assert [x["hash"] for x in export_of(other_db)] == [x["hash"] for x in export_of(cli.db)]
    ledger = Ledger.open(other_db)
    try:
        assert ledger.ledger_id() is not None
    finally:
        ledger.close()


def test_an_event_on_a_stream_of_another_kind_is_refused(
    cli: Cli, sample: dict[str, Any], tmp_path: Path
) -> None:
    lines = export_of(cli.db)
    close = forged(lines, CLOSED, str(sample["session"]), {"result": "met"}, now())
    import_forgery(cli, tmp_path, [close], 4, "is a CoachingSession, not a Commitment")


def test_a_rep_commitment_the_focus_cap_never_counted_is_refused(cli: Cli, tmp_path: Path) -> None:
    """An agreement without its workload's CommitmentTaken would slip past the cap."""
    _open_pair(cli)
    lines = export_of(cli.db)
    agreed = template(lines, AGREED)
    agreed.update(stream=str(uuid.uuid4()), version=1, recorded_at=now())
    agreed["data"].update(focus="pipeline", focus_cap_override=None)
    import_forgery(cli, tmp_path, [agreed], 4, "is not counted on its rep's workload")
