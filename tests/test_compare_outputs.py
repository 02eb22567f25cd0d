"""bench/compare_outputs.py: the before/after comparison of two checkouts.

Run on this checkout against itself it must find every output identical; run
against a copy whose ``verify`` prints one more line it must print that diff
and exit 1. Both build a tiny demo ledger and run every command as a process
on each side, so they are marked slow.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "compare_outputs.py"
TINY_DEMO = ["--ledgers", "demo", "--demo-reps", "2", "--demo-weeks", "2"]


def _compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_outputs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_outputs"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def compare(old: Path, new: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(SCRIPT), "--old", str(old), "--new", str(new)]
    command += ["--python", sys.executable, *TINY_DEMO, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def table_row(out: str, what: str) -> list[str]:
    """The cells after the ``what`` column of the summary table's row starting ``what``."""
    line = next(line for line in out.splitlines() if line.startswith(what))
    return line[len(what) :].split()


def test_the_walkthrough_commands_are_read_from_the_document() -> None:
    commands = _compare().walkthrough_commands((ROOT / "docs" / "walkthrough-crm.md").read_text())
    assert commands[0] == "export COMMITMENTS_DB=crm-walkthrough.db COMMITMENTS_ACTOR=enablement"
    assert all(re.match(r"([A-Z]+=\$\()?commitments ", c) for c in commands[1:])
    # continuation lines are joined into one command; the refused import keeps its exit code
    assert " ".join(commands[1].split()) == (
        "commitments activity import examples/crm/sales_pipeline.csv "
        "--metric engagements --rep-column sales_agent --date-column engage_date "
        "--id-column opportunity_id --date-format %d-%m-%y # exits 2"
    )
    assert (
        'commitments close $WILBURN --on 2017-03-31 --note "pipeline review cancelled twice"'
        in (commands)
    )


@pytest.mark.slow
def test_a_checkout_compared_with_itself_is_identical_everywhere() -> None:
    done = compare(ROOT, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "IDENTICAL: all" in done.stdout
    history = re.search(
        r"^demo: history NAME --format json \((\d+) people\) +(\d+) +(\d+) +(\S+)",
        done.stdout,
        flags=re.M,
    )
    assert history is not None, done.stdout
    people, outputs, failed = (int(n) for n in history.group(1, 2, 3))
    # every person's history was compared, and the reps' succeeded (only managers' fail)
    assert outputs == people and failed < people and history.group(4) == "yes"
    for what in ("demo: report coaching --format json", "demo: export", "demo: verify"):
        assert table_row(done.stdout, what)[:3] == ["1", "0", "yes"], what
    assert table_row(done.stdout, "--help of every command")[-3] == "yes"  # (N) N 0 yes


@pytest.mark.slow
def test_a_copy_whose_verify_prints_one_more_line_differs_and_exits_1(tmp_path: Path) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    meta = tomllib.loads(pyproject)
    tampered = tmp_path / "tampered"
    for package in meta["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
        shutil.copytree(ROOT / package, tampered / package)
    module, attr = meta["project"]["scripts"]["commitments"].split(":")
    (tampered / "tampered_entry.py").write_text(
        "import sys\n"
        f"from {module} import {attr} as real\n\n"
        "def main():\n"
        "    if 'verify' in sys.argv and '--help' not in sys.argv:\n"
        "        print('one line the old code does not print')\n"
        "    real()\n"
    )
    entry = f'commitments = "{module}:{attr}"'
    assert entry in pyproject
    (tampered / "pyproject.toml").write_text(
        pyproject.replace(entry, 'commitments = "tampered_entry:main"')
    )

    done = compare(ROOT, tampered, "--no-help")

    assert done.returncode == 1, done.stdout + done.stderr
    assert "=== [demo] commitments verify: differs" in done.stdout
    assert "\n+one line the old code does not print\n" in done.stdout
    assert "DIFFERENT: 1 of" in done.stdout
    assert table_row(done.stdout, "demo: verify")[:3] == ["1", "0", "NO"]
    assert table_row(done.stdout, "demo: export")[:3] == ["1", "0", "yes"]
