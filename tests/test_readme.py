"""The README's sample outputs are real: the demo table it shows is what
``demo --until`` prints today, whatever today is."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import Cli

README = Path(__file__).resolve().parents[1] / "README.md"


def demo_sample() -> tuple[list[str], str]:
    """The README's demo command (its arguments after ``commitments``) and the output shown."""
    text = README.read_text("utf-8")
    m = re.search(r"```sh\n(commitments [^\n]* demo [^\n]*)\n```\n\n```text\n(.*?)```", text, re.S)
    assert m is not None, "the README shows a demo command and its output"
    words = shlex.split(m[1])[1:]
    return words, m[2]


def test_the_readme_demo_sample_comes_from_a_fixed_date() -> None:
    words, _ = demo_sample()
    assert "--until" in words  # else the sample drifts with the date


def test_the_readme_demo_sample_is_what_the_demo_prints(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo's HTML pages: beside the ledger, or here
    words, shown = demo_sample()
    i = words.index("--db")
    del words[i : i + 2]  # the fixture's own ledger, on each backend
    assert cli.ok(words) == shown.strip()
