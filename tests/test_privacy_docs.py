"""docs/privacy.md, executed: every command of its worked example runs (on
both backends), and each output it shows is what the command printed (ids,
timestamps, pseudonyms and erased names blanked: they differ from run to run)."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

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
    assert len(pairs) == 5
    for shown, printed in pairs:
        assert printed.strip(), "every text block shows the output of the block before it"
        assert same(shown) == same(printed)
    # the subject-access export the page shows (abridged) is the one its command wrote
    shown_export = json.loads(re.findall(r"```json\n(.*?)```", text, flags=re.S)[0])
    written = json.loads((tmp_path / "otto-berg.json").read_text("utf-8"))
    assert stat.S_IMODE((tmp_path / "otto-berg.json").stat().st_mode) == 0o600
    assert blank({k: v for k, v in shown_export.items() if k != "events"}) == blank(
        {k: v for k, v in written.items() if k != "events"}
    )
    assert len(shown_export["events"]) == 1
    assert blank(shown_export["events"][0]) in blank(written["events"])


HASH = re.compile(r"\b[0-9a-f]{64}\b")


def blank(obj: object) -> Any:
    """``obj`` with ids, timestamps, pseudonyms and hashes blanked (they differ per run)."""
    return json.loads(same(HASH.sub("<hash>", json.dumps(obj, indent=0, ensure_ascii=False))))


def test_every_command_of_the_page_is_in_a_block_that_runs() -> None:
    text = DOC.read_text("utf-8")
    run = " ".join(body for kind, body in guide_blocks(text) if kind == "sh")
    for command in (
        "people erase",
        "people export",
        "people keys export",
        "export --pseudonymise",
        "--pseudonymise",
    ):
        assert command in run, command
