"""Output every command shares: table cells, plain and Markdown tables, CSV,
JSON, and writing the result to stdout or ``-o FILE``.

Text is made safe on the way out (:mod:`cli.safe`): a cell is one line, a
Markdown cell escaped, a CSV cell defused against spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import click


def cell(value: Any) -> str:
    """A value as table text: on one line, control characters shown as escapes
    (a newline, tab or ESC in free text never starts a line or column)."""
    from .safe import one_line

    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return one_line(";".join(str(v) for v in value)) or "-"
    return one_line(str(value))


def escaped(value: Any) -> Any:
    """``value`` with every string in it (and in its lists and dicts) on one line
    (:func:`cli.safe.one_line`): for text output assembled by hand."""
    from .safe import one_line

    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, list):
        return [escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: escaped(v) for k, v in value.items()}
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned table (numbers right-aligned)."""
    cells = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [
        all(_is_number(r[i]) or r[i] is None for r in rows) and bool(rows)
        for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        out = [
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return "  ".join(out).rstrip()

    parts = [line(headers), line(["-" * w for w in widths])]
    parts.extend(line(r) for r in cells)
    return "\n".join(parts)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table; every cell rendered as :func:`cell` and escaped."""
    from .safe import md_cell

    def esc(v: Any) -> str:
        return md_cell(v, cell)

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out.extend("| " + " | ".join(esc(v) for v in row) + " |" for row in rows)
    return "\n".join(out)


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV of ``columns`` with a header row, no final newline; text cells
    defused against spreadsheet formulas (cli.safe)."""
    from .safe import csv_row

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(csv_row(row[c] for c in columns))
    return buf.getvalue().rstrip("\n")


def json_text(obj: Any) -> str:
    """``--format json``: indented, non-ASCII text as itself."""
    return json.dumps(obj, ensure_ascii=False, indent=2)


def write_output(text: str, output: str | None) -> None:
    """To stdout, or to ``output`` (UTF-8; a new file is mode 0600) with its path on stderr."""
    if output is None:
        click.echo(text)
        return
    from .safe import write_private_text

    write_private_text(output, text if text.endswith("\n") else text + "\n")
    click.echo(f"wrote {output}", err=True)
