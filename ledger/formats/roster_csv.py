"""The roster CSV of ``people import`` (SPEC §7.4): who, reporting to whom,
in which team and region; every cell checked as the commands check a name or
label, all or nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import InvalidInput
from ..text import name_problem
from ..values import MAX_NAME
from .activity_csv import MAX_ERRORS, ImportRejected, RowError


@dataclass(frozen=True)
class RosterRow:
    """One row of a roster file: who, reporting to whom, in which team and region."""

    line: int
    name: str
    manager: str | None
    team: str | None
    region: str | None


MAX_ROSTER_ROWS = 100_000
#: The largest roster file read (bytes): 100,000 rows of four 100-character
#: cells fit; a larger file is refused before it is held in memory.
MAX_ROSTER_BYTES = 64 * 1024 * 1024


def read_roster(
    source: BinaryIO,
    *,
    name_column: str,
    manager_column: str | None = None,
    team_column: str | None = None,
    region_column: str | None = None,
) -> list[RosterRow]:
    """The rows of a roster CSV (UTF-8, an optional BOM), every cell checked
    as the commands check a name or label: all or nothing. A bad file raises
    :class:`~ledger.formats.activity_csv.ImportRejected` (exit 2) listing the first
    bad rows by line; nothing is returned from it. An empty manager, team or
    region cell means none; the same name twice is one person if both rows
    agree, and an error if they do not. Nobody manages themselves."""
    raw = source.read(MAX_ROSTER_BYTES + 1)
    if len(raw) > MAX_ROSTER_BYTES:
        raise InvalidInput(
            f"the file is over {MAX_ROSTER_BYTES} bytes (a roster holds at most "
            f"{MAX_ROSTER_ROWS} rows); nothing was read"
        )
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0  # a BOM is fine
    raw = raw[bom:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, byte = raw[: exc.start].count(b"\n") + 1, raw[exc.start]
        raise InvalidInput(
            f"line {line}: not UTF-8 text (byte 0x{byte:02x} at offset {bom + exc.start}): "
            "save the file as UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        raise InvalidInput(f"line 1: cannot read the header: {exc}") from None
    if not any(header):
        raise InvalidInput("line 1: the file is empty: expected a header row")
    errors: list[RowError] = []
    columns: dict[str, int] = {}
    for option, column in (
        ("--name-column", name_column),
        ("--manager-column", manager_column),
        ("--team-column", team_column),
        ("--region-column", region_column),
    ):
        if column is None:
            continue
        at = [i for i, h in enumerate(header) if h == column.strip()]
        if len(at) != 1:
            why = "appears more than once in" if at else "is not in"
            errors.append(
                RowError(1, f"{option}: column {column!r} {why} the header "
                         f"(columns: {', '.join(header)})")
            )  # fmt: skip
        else:
            columns[option] = at[0]
    if errors:
        raise ImportRejected(errors, len(errors), 0, header=True)

    def cell(cells: list[str], option: str, what: str, problems: list[str]) -> str | None:
        if option not in columns:
            return None
        value = cells[columns[option]].strip()
        if not value:
            if option == "--name-column":
                problems.append(f"missing {what}: column {header[columns[option]]!r} is empty")
            return None
        if len(value) > MAX_NAME:
            problems.append(f"{what} is longer than {MAX_NAME} characters")
        elif name_problem(value):
            problems.append(f"{what} {name_problem(value)}")
        return value

    rows: dict[str, RosterRow] = {}
    bad = read = 0
    needed = max(columns.values()) + 1
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            bad += 1
            errors.append(RowError(line + 1, f"unreadable CSV: {exc}"))
            break
        start, line = line + 1, reader.line_num
        if not cells:
            continue
        read += 1
        if read > MAX_ROSTER_ROWS:
            raise InvalidInput(f"a roster holds at most {MAX_ROSTER_ROWS} rows")
        problems: list[str] = []
        if len(cells) < needed:
            problems.append(f"has {len(cells)} fields, the header has {len(header)}")
        else:
            name = cell(cells, "--name-column", "name", problems)
            manager = cell(cells, "--manager-column", "manager", problems)
            team = cell(cells, "--team-column", "team", problems)
            region = cell(cells, "--region-column", "region", problems)
            if name is not None and manager == name:
                problems.append(f"{name!r} cannot be their own manager")
            if not problems and name is not None:
                row = RosterRow(start, name, manager, team, region)
                seen = rows.get(name)
                if seen is None:
                    rows[name] = row
                elif (seen.manager, seen.team, seen.region) != (manager, team, region):
                    problems.append(
                        f"{name!r} is on line {seen.line} too, with another roster entry"
                    )
        if problems:
            bad += 1
            if len(errors) < MAX_ERRORS:
                errors.append(RowError(start, "; ".join(problems)))
    if errors:
        raise ImportRejected(errors, bad, read)
    return list(rows.values())
