"""docs/read-model.md documents every read-model table and column as they are."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger.application import Ledger
from projections.catchup import catch_up
from projections.tables import TABLES, markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "read-model.md"


def test_read_model_doc_lists_the_tables_as_generated() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("<!-- tables:begin -->\n", 1)[1].split("<!-- tables:end -->", 1)[0]

    assert section == markdown(), "run: python -m projections.tables, paste into the doc"


def test_the_views_file_has_exactly_the_documented_columns(tmp_path: Path) -> None:
    ledger = Ledger.open(str(tmp_path / "ledger.db"))
    try:
        catch_up(ledger, str(tmp_path / "views.db"))
    finally:
        ledger.close()
    conn = sqlite3.connect(tmp_path / "views.db")
    try:
        for table in TABLES:
            columns = tuple(r[1] for r in conn.execute(f"PRAGMA table_info([{table.name}])"))
            assert columns == table.names, table.name
    finally:
        conn.close()
