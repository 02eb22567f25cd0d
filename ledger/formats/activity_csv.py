"""The CRM activity CSV (SPEC §3, §5): a file's rows as validated activity rows.

The file is read once, as a stream: each row is filtered (``--where``),
mapped to an :class:`ActivityRow` (rep, date, value, source id) and checked,
every cell with the value type the commands take (:mod:`ledger.values`:
``PersonId``, ``BusinessDate``, ``Amount``). The valid rows flow to the writer
(:mod:`ledger.activity_import`) until the first bad one; the rest of the
file is still read to collect the first :data:`MAX_ERRORS` errors (with the
file's line numbers) and count the others, then :class:`ImportRejected` is
raised and the writer's transaction rolls back.

The source id of a row is the ``--id-column`` value, else a stable hash of the
whole row (``sha256:`` + the SHA-256 of its columns as sorted JSON pairs), so
re-importing a file, or an overlapping one, records nothing twice. Without an
id column, two identical rows are one activity.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Protocol

from pydantic import TypeAdapter, ValidationError

from ..errors import InvalidInput, NotFound
from ..values import (
    CONTROL,
    MAX_AMOUNT,
    MAX_DATE,
    MAX_NAME,
    MAX_TEXT,
    MIN_DATE,
    Amount,
    BusinessDate,
    Label,
    PersonId,
)

if TYPE_CHECKING:
    from ..people import NewPerson

MAX_ERRORS = 20
PROGRESS_EVERY = 8192  # rows between progress callbacks
MAX_FIELD = 1 << 20  # 1 MiB per CSV field


class PersonResolver(Protocol):
    """Names -> person references (``projections.people.People``): the people
    named for the first time wait in ``pending`` to be registered with the import."""

    pending: list[NewPerson]

    def ref(self, name: str, *, role: str = ..., new_person: bool = ...) -> str: ...


class ActivityRow(NamedTuple):
    """One validated activity: what :class:`ledger.domain.Activity.Recorded` stores."""

    rep: str
    metric: str
    date: date
    value: float
    source_id: str
    actor: str


@dataclass(frozen=True)
class Where:
    """One ``--where`` filter: ``COLUMN=VALUE``, ``COLUMN!=VALUE`` or a bare
    ``COLUMN`` (the cell is non-empty). Cells are compared after trimming
    surrounding whitespace."""

    column: str
    op: str  # "=", "!=" or "nonempty"
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> Where:
        eq = text.find("=")
        if eq < 0:
            column, op, value = text, "nonempty", ""
        elif eq > 0 and text[eq - 1] == "!":
            column, op, value = text[: eq - 1], "!=", text[eq + 1 :]
        else:
            column, op, value = text[:eq], "=", text[eq + 1 :]
        column = column.strip()
        if not column:
            raise InvalidInput(
                f"--where {text!r}: name a column (COLUMN=VALUE, COLUMN!=VALUE or COLUMN)"
            )
        return cls(column, op, value.strip())

    def __str__(self) -> str:
        return self.column if self.op == "nonempty" else f"{self.column}{self.op}{self.value}"


@dataclass(frozen=True)
class ImportOptions:
    """How CSV columns map to activity rows."""

    metric: str
    rep_column: str
    date_column: str
    value_column: str | None = None
    id_column: str | None = None
    date_format: str = "%Y-%m-%d"
    where: tuple[Where, ...] = ()

    def __post_init__(self) -> None:
        metric, why = _checked(_LABEL, self.metric)
        if why:
            raise InvalidInput(
                f"--metric {self.metric!r}: give a name of 1-{MAX_NAME} characters, "
                "no control characters"
            )
        object.__setattr__(self, "metric", metric)
        check_date_format(self.date_format)


@dataclass(frozen=True)
class RowError:
    """A bad row: the file's line number (1 is the header) and the reason."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ImportRejected(InvalidInput):
    """The file has bad rows: nothing was written. Exit 2.

    ``errors`` holds the first :data:`MAX_ERRORS`; ``bad_rows`` counts all."""

    def __init__(
        self, errors: Sequence[RowError], bad_rows: int, rows_read: int, *, header: bool = False
    ) -> None:
        self.errors = list(errors)
        self.bad_rows = bad_rows
        self.rows_read = rows_read
        if header:
            super().__init__(
                "import aborted: the header lacks the columns named above; nothing was written"
            )
            return
        shown = (
            f"the first {len(self.errors)} are listed" if bad_rows > len(self.errors) else "listed"
        )
        what = "bad row" if bad_rows == 1 else "bad rows"
        super().__init__(
            f"import aborted: {bad_rows} {what} of {rows_read} ({shown}); nothing was written"
        )


@dataclass
class ImportSummary:
    """What an import did, row by row of the file (the header excluded)."""

    rows_read: int = 0
    recorded: int = 0
    already_present: int = 0
    repeated: int = 0
    filtered_out: int = 0

    def __str__(self) -> str:
        text = (
            f"{self.rows_read} rows read, {self.recorded} recorded, "
            f"{self.already_present} already present"
        )
        if self.repeated:
            text += f", {self.repeated} repeated in the file"
        return f"{text}, {self.filtered_out} filtered out"

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the caller should hear although nothing failed (SPEC §7.1): the
        filters left no row, or the file had none."""
        if self.rows_read and self.filtered_out == self.rows_read:
            return (
                f"the --where filters left 0 of {self.rows_read} rows: nothing was imported "
                "(check the column names and values, which are compared exactly)",
            )
        if not self.rows_read:
            return ("the file has no rows below its header: nothing was imported",)
        return ()


def check_date_format(fmt: str) -> None:
    """Refuse a ``--date-format`` that cannot read back a whole date (day, month, year)."""
    sample = date(2017, 12, 31)
    try:
        parsed = datetime.strptime(sample.strftime(fmt), fmt).date()
    except ValueError as exc:
        raise InvalidInput(f"--date-format {fmt!r}: {exc}") from None
    if parsed != sample:
        raise InvalidInput(
            f"--date-format {fmt!r} does not give a whole date (day, month and year; "
            "e.g. %d-%m-%y or %Y-%m-%d)"
        )


def actor_name(actor: str) -> str:
    """The ``--actor`` of an import, checked as the commands check a person."""
    name, why = _checked(_PERSON, actor)
    if why:
        raise InvalidInput(f"--actor {actor.strip()!r}: give a name of 1-{MAX_NAME} characters")
    return str(name)


# -- reading -----------------------------------------------------------------


@dataclass
class ActivityCsv:
    """Streams one CSV file into validated rows, counting as it goes.

    ``people``, if given, turns each rep's name into their subject id;
    ``new_person``: a name nobody has yet is registered (else refused)."""

    options: ImportOptions
    actor: str
    people: PersonResolver | None = None
    new_person: bool = False
    summary: ImportSummary = field(default_factory=ImportSummary)
    errors: list[RowError] = field(default_factory=list)
    bad_rows: int = 0

    def error(self, line: int, reason: str) -> None:
        self.bad_rows += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, reason))

    @contextmanager
    def reading(
        self, source: BinaryIO, progress: Callable[[int], None] | None = None
    ) -> Iterator[Iterator[ActivityRow]]:
        """The valid rows of ``source`` (UTF-8, an optional BOM), read as they
        are consumed; ``progress``, if given, hears the number of bytes read so
        far now and then. csv's field size limit is :data:`MAX_FIELD` inside."""
        counting = _CountingReader(source)
        buffered = io.BufferedReader(counting, buffer_size=1 << 16)
        notify = None if progress is None else (lambda: progress(counting.count))
        old_limit = csv.field_size_limit(MAX_FIELD)
        try:
            yield self.rows(_utf8_lines(buffered), notify)
        finally:
            csv.field_size_limit(old_limit)

    def rows(
        self, lines: Iterable[str], progress: Callable[[], None] | None = None
    ) -> Iterator[ActivityRow]:
        """Valid rows until the first bad one; then only counts and errors."""
        o = self.options
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
        except _NotUTF8 as exc:
            raise InvalidInput(str(exc)) from None
        except csv.Error as exc:
            raise InvalidInput(f"line 1: cannot read the header: {exc}") from None
        if not header or not any(h.strip() for h in header):
            raise InvalidInput("line 1: the file is empty: expected a header row")
        header = [h.strip() for h in header]
        column = _Columns(header)
        rep_at = column.index(o.rep_column, "--rep-column")
        date_at = column.index(o.date_column, "--date-column")
        value_at = column.index(o.value_column, "--value-column") if o.value_column else -1
        id_at = column.index(o.id_column, "--id-column") if o.id_column else -1
        wheres = [(column.index(w.column, f"--where {w}"), w.op, w.value) for w in o.where]
        needed = max([rep_at, date_at, value_at, id_at, *(i for i, _, _ in wheres)]) + 1
        if column.problems:
            for reason in column.problems:
                self.error(1, reason)
            raise ImportRejected(self.errors, self.bad_rows, 0, header=True)

        metric, actor, fmt = o.metric, self.actor, o.date_format
        reps: dict[str, str] = {}
        dates: dict[str, date] = {}
        amounts: dict[str, float] = {}
        make_id = None if id_at >= 0 else _RowHasher(header)
        new_row = partial(tuple.__new__, ActivityRow)  # ActivityRow(*fields), without its __new__
        summary = self.summary
        writing = True
        line = 1  # the header's last line
        try:
            for cells in reader:
                start, line = line + 1, reader.line_num
                if not cells:
                    continue  # a blank line
                summary.rows_read += 1
                if progress is not None and summary.rows_read % PROGRESS_EVERY == 0:
                    progress()
                if len(cells) < needed:
                    self.error(start, f"has {len(cells)} fields, the header has {len(header)}")
                    writing = False
                    continue
                keep = True
                for at, op, wanted in wheres:
                    cell = cells[at].strip()
                    if (op == "=" and cell != wanted) or (
                        (op == "!=" and cell == wanted) or (op == "nonempty" and not cell)
                    ):
                        keep = False
                        break
                if not keep:
                    summary.filtered_out += 1
                    continue

                # Every cell seen before and taken then, and the id plainly fine:
                # the row as it would be checked below, with no step to spare.
                rep = reps.get(cells[rep_at])
                day = dates.get(cells[date_at])
                value = 1.0 if value_at < 0 else amounts.get(cells[value_at])
                if rep is not None and day is not None and value is not None:
                    if id_at < 0:
                        assert make_id is not None
                        sid = make_id(cells if self.people is None else _with(cells, rep_at, rep))
                        if writing:
                            yield new_row((rep, metric, day, value, sid, actor))
                        continue
                    sid = cells[id_at].strip()
                    if sid and len(sid) <= MAX_TEXT and sid.isascii() and sid.isprintable():
                        if writing:  # printable ASCII: no control characters
                            yield new_row((rep, metric, day, value, sid, actor))
                        continue

                problems: list[str] = []
                raw = cells[rep_at]
                rep = reps.get(raw)
                if rep is None:
                    rep, why = _person(raw, o.rep_column)
                    if why:
                        problems.append(why)
                    else:
                        if self.people is not None:  # the rep's subject id (SPEC §7.4)
                            rep = self._subject(rep, start)
                        if len(reps) < 100_000:
                            reps[raw] = rep
                raw = cells[date_at]
                day = dates.get(raw)
                if day is None:
                    day, why = _date(raw, o.date_column, fmt)
                    if why:
                        problems.append(why)
                    elif day is not None and len(dates) < 100_000:
                        dates[raw] = day
                value = 1.0
                if value_at >= 0:
                    raw = cells[value_at]
                    value = amounts.get(raw)
                    if value is None:
                        value, why = _value(raw, o.value_column or "")
                        if why:
                            problems.append(why)
                        elif value is not None and len(amounts) < 100_000:
                            amounts[raw] = value
                if id_at >= 0:
                    sid = cells[id_at].strip()
                    if not sid:
                        problems.append(f"missing id: column {o.id_column!r} is empty")
                    elif len(sid) > MAX_TEXT or CONTROL.search(sid):
                        problems.append(
                            f"id in column {o.id_column!r} is longer than {MAX_TEXT} characters "
                            "or has control characters"
                        )
                else:
                    assert make_id is not None
                    # the row's hash covers the rep's subject id, not their name (SPEC §7.4)
                    sid = make_id(cells if self.people is None else _with(cells, rep_at, rep))
                if problems:
                    self.error(start, "; ".join(problems))
                    writing = False
                    continue
                if writing:
                    assert day is not None and value is not None
                    yield new_row((rep, metric, day, value, sid, actor))
        except _NotUTF8 as exc:
            self.error(exc.line, exc.reason)
        except csv.Error as exc:
            self.error(line + 1, f"unreadable CSV: {exc}")
        if progress is not None:
            progress()
        if self.bad_rows:
            raise ImportRejected(self.errors, self.bad_rows, summary.rows_read)

    def _subject(self, name: str, line: int) -> str:
        """The subject id of the rep called ``name`` (a new person is registered
        with the import, in its transaction); an unknown name under strict
        names stops the import (exit 3, nothing written)."""
        assert self.people is not None
        try:
            return self.people.ref(name, role="rep", new_person=self.new_person)
        except NotFound as exc:
            raise NotFound(f"line {line}: {exc}") from None


def _with(cells: list[str], at: int, value: str) -> list[str]:
    out = list(cells)
    out[at] = value
    return out


class _Columns:
    """Header lookup that reports unknown and ambiguous column names."""

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.problems: list[str] = []

    def index(self, name: str, option: str) -> int:
        name = name.strip()
        at = [i for i, h in enumerate(self.header) if h == name]
        if len(at) == 1:
            return at[0]
        if at:
            self.problems.append(f"{option}: column {name!r} appears {len(at)} times in the header")
        else:
            self.problems.append(
                f"{option}: no column {name!r} in the header (columns: {', '.join(self.header)})"
            )
        return 0


class _RowHasher:
    """A stable source id for a row without an id column: SHA-256 of its
    (column, value) pairs as sorted compact JSON."""

    def __init__(self, header: list[str]) -> None:
        self.header = header

    def __call__(self, cells: list[str]) -> str:
        pairs = sorted(zip(self.header, cells, strict=False))
        text = json.dumps(pairs, ensure_ascii=False, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _show(text: str, limit: int = 60) -> str:
    """A cell for a message: quoted, escaped, and cut short."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


# The commands' value types (ledger.values), for the cells: what a command
# refuses, the import refuses, in the import's words (column and cell named).
_PERSON: TypeAdapter[str] = TypeAdapter(PersonId)
_LABEL: TypeAdapter[str] = TypeAdapter(Label)
_DATE: TypeAdapter[date] = TypeAdapter(BusinessDate)
_AMOUNT: TypeAdapter[float] = TypeAdapter(Amount)


def _checked(adapter: TypeAdapter[Any], value: object) -> tuple[Any, str]:
    """``value`` as its value type takes it, and ``""``; or None and the
    pydantic error type of the first thing wrong with it."""
    try:
        return adapter.validate_python(value), ""
    except ValidationError as exc:
        return None, str(exc.errors()[0]["type"])


def _person(raw: str, column: str) -> tuple[str, str]:
    rep, why = _checked(_PERSON, raw)
    if not why:
        return str(rep), ""
    if why.endswith("too_short"):
        return "", f"missing rep: column {column!r} is empty"
    if why.endswith("too_long"):
        return "", f"rep in column {column!r} is longer than {MAX_NAME} characters"
    return "", f"rep in column {column!r} has control characters"


def _date(raw: str, column: str, fmt: str) -> tuple[date | None, str]:
    text = raw.strip()
    if not text:
        return None, f"missing date: column {column!r} is empty"
    try:
        day = datetime.strptime(text, fmt).date()
    except ValueError:
        return None, f"date {_show(text)} in column {column!r} does not match --date-format {fmt}"
    if _checked(_DATE, day)[1]:
        return None, f"date {_show(text)} in column {column!r} is outside {MIN_DATE} to {MAX_DATE}"
    return day, ""


def _value(raw: str, column: str) -> tuple[float | None, str]:
    text = raw.strip()
    if not text:
        return None, f"missing value: column {column!r} is empty"
    try:
        value = float(text)
    except ValueError:
        return None, f"value {_show(text)} in column {column!r} is not a number"
    why = _checked(_AMOUNT, value)[1]
    if why == "less_than_equal":
        return None, f"value {_show(text)} in column {column!r} is above {MAX_AMOUNT:g}"
    if why:  # not finite, or below 0
        return None, f"value {_show(text)} in column {column!r} must be a finite number >= 0"
    return value, ""


class _NotUTF8(Exception):
    """A line of the file that does not decode as UTF-8."""

    def __init__(self, line: int, exc: UnicodeDecodeError) -> None:
        self.line = line
        self.reason = (
            f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at byte {exc.start + 1} "
            "of the line): save the file as UTF-8"
        )
        super().__init__(f"line {line}: {self.reason}")


def _utf8_lines(binary: Iterable[bytes]) -> Iterator[str]:
    """Decode line by line, so a bad byte is reported on its own line; drop a BOM."""
    first = True
    for number, raw in enumerate(binary, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _NotUTF8(number, exc) from None
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        yield text


class _CountingReader(io.RawIOBase):
    """A raw binary reader that counts the bytes it hands out (for progress)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


__all__ = [
    "MAX_ERRORS",
    "ActivityCsv",
    "ActivityRow",
    "ImportOptions",
    "ImportRejected",
    "ImportSummary",
    "PersonResolver",
    "RowError",
    "Where",
    "actor_name",
    "check_date_format",
]
