"""Output safety: what user text may do once it leaves the ledger.

The ledger stores free text typed by managers and imported from CRM files.
HR opens the CSV in a spreadsheet, the Markdown in a renderer and the HTML in
a browser, so every writer of those formats passes user strings through here:

* **CSV** (:func:`csv_cell`): a text cell starting with ``=``, ``+``, ``-``,
  ``@``, a tab, a carriage return or a line feed is prefixed with a single
  quote, so Excel, LibreOffice and Google Sheets show it as text instead of
  running it as a formula (OWASP "CSV injection"). Decision: only *strings*
  are neutralised; values that are numbers in the data (``-3``, ``0.75``) are
  written bare, so spreadsheets still sum them. A string that merely looks
  numeric (a rep named ``-3``) is text in the data and is quoted like any
  other: the rule depends on the type, never on guessing. Readers that want
  the original text strip one leading ``'`` from cells that start with
  ``'`` followed by one of the trigger characters.
* **Markdown** (:func:`md_cell`, :func:`md_text`): table syntax (``|``) and
  inline syntax (backslash, backticks, ``*``, ``[``, ``]``, ``<``, ``>``,
  ``&``, ``~``) are backslash-escaped (CommonMark), so a note can neither
  break out of its cell nor become a link, an image or raw HTML; line breaks,
  tabs and other control characters are shown as escapes (``\\n``, ``\\t``,
  ``\\x1b``), as in table output, so a table row stays one line.
* **HTML**: jinja2 autoescape (see :mod:`cli.html`); nothing here.
* **Terminal** (:func:`one_line`): every error message is one line with
  control characters, lone surrogates and bidi overrides shown as escapes, so
  a CSV cell or an argument quoted in a message cannot drive the terminal.

:func:`write_private_text` writes ``-o FILE`` outputs readable by their owner
only when it creates them: a report holds judgements about people.
"""

from __future__ import annotations

import os
import re
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|&~])")
_UNSAFE_FOR_TERMINAL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def csv_cell(value: Any) -> Any:
    """One CSV cell: ``None`` as empty, lists joined with ``;``, strings defused."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = ";".join("" if v is None else str(v) for v in value)
    if isinstance(value, str):
        return defuse_formula(value)
    return value


def csv_row(values: Any) -> list[Any]:
    """A whole CSV row through :func:`csv_cell`."""
    return [csv_cell(v) for v in values]


def defuse_formula(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula."""
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def md_text(text: str) -> str:
    """Inline Markdown text: syntax characters escaped, on one line (control
    characters shown as escapes by :func:`one_line`)."""
    return one_line(_MD_SPECIAL.sub(r"\\\1", text))


def md_cell(value: Any, render: Any = str) -> str:
    """A Markdown table cell: ``render(value)`` escaped with :func:`md_text`."""
    return md_text(render(value))


def one_line(text: str) -> str:
    """A message for the terminal: one line, no control characters.

    Line breaks, control characters (an ESC could drive the terminal), lone
    surrogates and bidi overrides (which could make text read backwards) in a
    message that quotes user input are shown as escapes: ``\\n``, ``\\x1b``,
    ``\\u202e``."""
    return _UNSAFE_FOR_TERMINAL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch == "\n":
        return "\\n"
    if ch == "\r":
        return "\\r"
    if ch == "\t":
        return "\\t"
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def write_private_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path``; a new file is created mode 0600.

    An existing file keeps its mode (its owner chose it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def create_private_file(path: str) -> bool:
    """Create ``path`` empty, mode 0600, unless it exists (then its mode stays);
    True if it was created.

    For writers that open the file themselves (click's atomic ``open_file``
    copies the mode of the file it replaces)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return False
    return True


__all__ = [
    "FORMULA_TRIGGERS",
    "create_private_file",
    "csv_cell",
    "csv_row",
    "defuse_formula",
    "md_cell",
    "md_text",
    "one_line",
    "write_private_text",
]
