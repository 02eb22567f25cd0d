"""docs/coaching-cycle.md, executed: one full coaching cycle on the CRM sample
(prep, model, agree with the suggested hypothesis, plan, due, check-ins,
close, report hypotheses), every output compared with the page, on both
backends (ids and timestamps blanked, as for docs/guide.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import CRM, Cli, ledger_location
from tests.test_cli_docs import Guide, guide_blocks, normalize

DOC = Path(__file__).resolve().parents[1] / "docs" / "coaching-cycle.md"
DTSTAMP = re.compile(r"DTSTAMP:\d{8}T\d{6}Z")


class CycleGuide(Guide):
    """The page's relative CRM paths point at the repository's sample."""

    def expand(self, word: str) -> str:
        return super().expand(word).replace("examples/crm", str(CRM))


def same(text: str) -> str:
    return normalize(DTSTAMP.sub("DTSTAMP:<T>", text))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_coaching_cycle_page_runs_and_shows_real_output(backend: str, tmp_path: Path) -> None:
    text = DOC.read_text("utf-8")
    with ledger_location(backend, tmp_path) as db:
        pairs = CycleGuide(Cli(db=db, views=str(tmp_path / "views.db"))).outputs(text)
    assert len(pairs) == 8
    for shown, printed in pairs:
        assert printed.strip(), "every text block shows the output of the block before it"
        assert same(shown) == same(printed)


def test_the_suggested_hypothesis_is_the_one_agreed() -> None:
    text = DOC.read_text("utf-8")
    blocks = guide_blocks(text)
    suggested = re.search(r"suggested: (.*)", text)
    assert suggested is not None
    agreed = " ".join(body for kind, body in blocks if kind == "sh" and "MOSES=$(" in body)
    assert suggested[1] in re.sub(r"\s*\\\n\s*", " ", agreed)
