"""SPEC §7.1 write side: the input rules of new commands, the warnings that
accept but say why something will not count, and the result fallback of
``close --result unknown``, through the command line on both backends.

A refusal asserts the exit code, one line on stderr, nothing on stdout and an
unchanged event count (``tests.test_refusals.refused``).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Cli

START = "2026-01-05"


def activity(cli: Cli, tmp_path: Path, metric: str, rows: list[tuple[str, str, float]]) -> None:
    """Import ``rows`` (rep, date, value) as activity of ``metric``."""
    path = tmp_path / f"{metric}.csv"
    lines = ["rep,day,n"] + [f"{rep},{day},{value}" for rep, day, value in rows]
    path.write_text("\n".join(lines) + "\n")
    result = cli(
        "activity", "import", str(path), "--metric", metric, "--rep-column", "rep",
        "--date-column", "day", "--value-column", "n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr


def agree_args(*extra: str, rep: str = "alice", manager: str = "bob") -> list[str]:
    return [
        "agree", "--rep", rep, "--manager", manager, "--focus", "prospecting",
        "--behavior", "outbound calls", "--start", START, *extra,
    ]  # fmt: skip


# -- close --result unknown falls back to the outcome metric (SPEC §4) ------------


def test_explicit_unknown_result_is_judged_by_the_outcome_metric(cli: Cli, tmp_path: Path) -> None:
    activity(cli, tmp_path, "won_value", [("alice", "2026-01-20", 25000.0)])
    ids = {}
    for result in ("none", "unknown", "missed"):
        cid = cli.ok(
            *agree_args(
                "--target", "2", "--per", "window", "--expect-metric", "won_value",
                "--expect-at-least", "20000",
            )
        )  # fmt: skip
        cli.ok("check-in", cid, "--on", "2026-01-12", "--actual", "2")
        close = ["close", cid, "--on", "2026-02-04"]
        cli.ok(*close, *([] if result == "none" else ["--result", result]))
        ids[result] = cid
    on = ["--as-of", "2026-12-31", "--on", "2026-02-10"]
    shown = {k: json.loads(cli.ok("show", cid, "--format", "json", *on)) for k, cid in ids.items()}
    assert shown["none"]["result"] == shown["unknown"]["result"] == "met"
    assert shown["none"]["verdict"] == shown["unknown"]["verdict"] == "succeeded"
    assert shown["missed"]["verdict"] == "honest_miss"  # an explicit judgement beats the metric
    history = json.loads(cli.ok("history", "alice", "--format", "json", *on))
    assert history["counts"]["succeeded"] == 2 and history["counts"]["kept"] == 0
    report = json.loads(cli.ok("report", "coaching", "--format", "json", *on))
    (bob,) = report["managers"]
    assert bob["follow_through_mix"]["succeeded"] == 2
    assert bob["follow_through_mix"]["kept"] == 0
