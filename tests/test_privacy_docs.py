"""docs/privacy.md, executed: every command of its worked example runs (on
both backends), and each output it shows is what the command printed (ids,
timestamps, pseudonyms and erased names blanked: they differ from run to run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import Cli, ledger_location
from tests.test_cli_docs import Guide, guide_blocks, normalize

DOC = Path(__file__).resolve().parents[1] / "docs" / "privacy.md"
RANDOM = re.compile(r"\b(p-|erased:)[0-9a-f]{8}\b")


def same(text: str) -> str:
    return normalize(RANDOM.sub(lambda m: m[1] + "00000000", text))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_privacy_page_runs_and_shows_real_output(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = DOC.read_text("utf-8")
    monkeypatch.chdir(tmp_path)
    with ledger_location(backend, tmp_path) as db:
        pairs = Guide(Cli(db=db, views=str(tmp_path / "views.db"))).outputs(text)
    assert len(pairs) == 4
    for shown, printed in pairs:
        assert printed.strip(), "every text block shows the output of the block before it"
        assert same(shown) == same(printed)


def test_every_command_of_the_page_is_in_a_block_that_runs() -> None:
    text = DOC.read_text("utf-8")
    run = " ".join(body for kind, body in guide_blocks(text) if kind == "sh")
    for command in (
        "people erase",
        "people keys export",
        "export --pseudonymise",
        "--pseudonymise",
    ):
        assert command in run, command
