"""The code in docs/audit.md runs as written, on real exports (so the docs stay true)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli
from tests.test_audit import build_sample

AUDIT_MD = Path(__file__).resolve().parents[1] / "docs" / "audit.md"


def snippet(name: str) -> str:
    """The python block that follows ``<!-- snippet: NAME ... -->`` in docs/audit.md."""
    text = AUDIT_MD.read_text("utf-8")
    found = re.search(rf"<!-- snippet: {name}\b.*?-->\s*```python\n(.*?)```", text, re.S)
    assert found, f"docs/audit.md has no '{name}' snippet"
    return found.group(1)


@pytest.fixture
def exported(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A sample ledger exported to ledger.jsonl in the working directory."""
    build_sample(cli.db)
    monkeypatch.chdir(tmp_path)
    cli.ok("export -o ledger.jsonl")
    return tmp_path / "ledger.jsonl"


def test_the_verification_snippet_is_a_dozen_lines_of_hashlib_and_json() -> None:
    code = snippet("verify")
    assert code.splitlines()[0] == "import hashlib, json, sys"
    assert "ledger" not in code.replace("line", "")
    assert len([x for x in code.splitlines() if x.strip()]) <= 15


def test_the_verification_snippet_prints_what_verify_prints(cli: Cli, exported: Path) -> None:
    script = exported.parent / "check.py"
    script.write_text(snippet("verify"), "utf-8")
    run = subprocess.run(
        [sys.executable, str(script), str(exported)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == cli.ok("verify")


def test_the_verification_snippet_names_the_first_edited_line(exported: Path) -> None:
    lines = exported.read_text("utf-8").splitlines()
    edited = json.loads(lines[4])
    edited["data"]["actor"] = "someone else"
    lines[4] = json.dumps(edited, ensure_ascii=False)
    exported.write_text("\n".join(lines) + "\n", "utf-8")
    script = exported.parent / "check.py"
    script.write_text(snippet("verify"), "utf-8")
    run = subprocess.run(
        [sys.executable, str(script), str(exported)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 1
    assert run.stderr.strip() == "line 5: the hash chain is broken"


def _run(code: str, capsys: pytest.CaptureFixture[str]) -> str:
    namespace: dict[str, Any] = {"__name__": "__snippet__"}
    exec(compile(code, str(AUDIT_MD), "exec"), namespace)
    return capsys.readouterr().out


def test_the_replay_snippet_counts_results_of_closed_commitments(
    exported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    out = _run(snippet("replay"), capsys)
    assert out.strip() == str({"missed": 1, None: 1})


def test_the_verdicts_snippet_gives_what_history_gives_on_the_original_ledger(
    cli: Cli, exported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = json.loads(cli.ok("history alice --as-of 2099-12-31 --on 2026-03-01 --format json"))
    capsys.readouterr()
    replayed = json.loads(_run(snippet("verdicts"), capsys))
    assert replayed == expected
    verdicts = {c["behavior"]: c["verdict"] for c in replayed["commitments"]}
    assert verdicts == {
        "outbound calls": "honest_miss",
        "two ride-alongs": "partial",
        "run a demo": "released",
    }
