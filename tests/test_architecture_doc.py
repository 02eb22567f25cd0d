"""docs/architecture.md cannot go stale silently: its module tables name every
module of ledger/, projections/ and cli/ exactly once, and every file or folder
of ours the page names exists (issue 13, item 7)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("ledger", "projections", "cli")

# a table row whose first cell is one module path: | `ledger/rules.py` | ... |
ROW = re.compile(r"^\|\s*`((?:ledger|projections|cli)/[\w/]+\.py)`\s*\|", re.MULTILINE)
# any path of ours the page names in backticks: `ledger/store/`, `cli/render.py`
NAMED = re.compile(r"`((?:ledger|projections|cli)/[\w/.]*)`")


def modules_on_disk() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }


def table_rows(text: str) -> list[str]:
    return ROW.findall(text)


def test_every_module_has_one_row_and_every_row_is_a_module() -> None:
    rows = table_rows(DOC.read_text(encoding="utf-8"))
    twice = sorted({m for m in rows if rows.count(m) > 1})
    assert twice == [], f"modules with more than one row in docs/architecture.md: {twice}"
    on_disk = modules_on_disk()
    missing = sorted(on_disk - set(rows))
    gone = sorted(set(rows) - on_disk)
    assert missing == [], f"modules without a row in docs/architecture.md: {missing}"
    assert gone == [], f"rows of docs/architecture.md for modules that do not exist: {gone}"


def test_every_path_the_page_names_exists() -> None:
    named = set(NAMED.findall(DOC.read_text(encoding="utf-8")))
    assert len(named) > 50  # the pattern finds the module tables' paths, at least
    absent = sorted(p for p in named if not (ROOT / p).exists())
    assert absent == [], f"docs/architecture.md names paths that do not exist: {absent}"


def test_the_row_pattern_finds_modules_only_in_the_first_cell() -> None:
    text = (
        "| `ledger/rules.py` | rules, see `cli/read.py` |\n"
        "| module | `projections/query.py` |\n"
        "| `cli/serve/api.py` | endpoints |\n"
    )
    assert table_rows(text) == ["ledger/rules.py", "cli/serve/api.py"]
