"""Import CRM activity from CSV: one activity event per accepted row (SPEC §3, §5).

The file is streamed once. Each row is filtered (``--where``), mapped to an
:class:`ActivityRow` (rep, date, value, source id) and validated; the valid
rows flow straight into :meth:`ledger.application.Ledger.record_activity_rows`,
which writes them in batches inside ONE transaction. The first bad row stops
the writing; the rest of the file is still read to collect the first
:data:`MAX_ERRORS` errors (with the file's line numbers) and count the others,
then :class:`ImportRejected` is raised, the transaction rolls back, and nothing
is written. Memory stays flat in the file's size: rows are never held beyond
one batch, and rows repeated in the file are found through the store itself
(it sees the import's own uncommitted rows).

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
import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, Protocol

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.utils import get_topic

from .domain import NAMESPACE, Activity, activity_id
from .errors import Conflict, InvalidInput, NotFound
from .persistence import event_state
from .store import is_locked
from .values import CONTROL, MAX_AMOUNT, MAX_DATE, MAX_NAME, MAX_TEXT, MIN_DATE

if TYPE_CHECKING:
    from .application import Ledger
    from .people import NewPerson

MAX_ERRORS = 20
PROGRESS_EVERY = 8192  # rows between progress callbacks
MAX_FIELD = 1 << 20  # 1 MiB per CSV field

_JSON_UNSAFE = re.compile(r'["\\\x00-\x1f]')


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
        metric = self.metric.strip()
        if not metric or len(metric) > MAX_NAME or CONTROL.search(metric):
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


@dataclass
class WriteCounts:
    """What :meth:`Ledger.record_activity_rows` did with the rows it was given."""

    recorded: int = 0
    already_present: int = 0
    repeated: int = 0


def activity_id_hex(metric: str, source_id: str) -> str:
    """``ledger.domain.activity_id(metric, source_id).hex``, without building UUIDs."""
    return _IdMaker(metric)(source_id)


class _IdMaker:
    """uuid5 hex digests of ``activity:{metric}\\x1f{source id}`` for one metric."""

    def __init__(self, metric: str) -> None:
        self.base = hashlib.sha1(NAMESPACE.bytes + f"activity:{metric}\x1f".encode())

    def __call__(self, source_id: str) -> str:
        h = self.base.copy()
        h.update(source_id.encode())
        b = bytearray(h.digest()[:16])
        b[6] = (b[6] & 0x0F) | 0x50
        b[8] = (b[8] & 0x3F) | 0x80
        return b.hex()


class ActivityEncoder:
    """The stored state of ``Activity.Recorded`` events, encoded directly.

    Produces the same bytes as :class:`ledger.persistence.PydanticMapper` (the
    ledger checks one row against it before using this, and tests compare
    them), at a fraction of the cost: a JSON template with cached pieces."""

    def __init__(self, timestamp: str) -> None:
        # canonical JSON: keys sorted (actor, class_version, date, metric,
        # originator_topic, rep, source_id, timestamp, value), no spaces
        self.topic = _json(get_topic(Activity))
        self.version = f'"class_version":{Activity.Recorded.class_version},'
        self.tail = f',"timestamp":{_json(timestamp)},"value":'
        self._prefixes: dict[tuple[str, str, str, date], str] = {}

    def state(self, row: ActivityRow) -> bytes:
        key = (row.actor, row.rep, row.metric, row.date)
        prefix = self._prefixes.get(key)
        if prefix is None:
            if len(self._prefixes) > 100_000:
                self._prefixes.clear()
            prefix = self._prefixes[key] = (
                f'{{"actor":{_json(row.actor)},{self.version}"date":"{row.date.isoformat()}",'
                f'"metric":{_json(row.metric)},"originator_topic":{self.topic},'
                f'"rep":{_json(row.rep)},"source_id":'
            )
        sid = row.source_id
        sid_json = _json(sid) if _JSON_UNSAFE.search(sid) else f'"{sid}"'
        return f"{prefix}{sid_json}{self.tail}{float(row.value)!r}}}".encode()


def _json(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


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


# -- reading -----------------------------------------------------------------


@dataclass
class _Reader:
    """Streams one CSV file into validated rows, counting as it goes."""

    options: ImportOptions
    actor: str
    people: PersonResolver | None = None
    summary: ImportSummary = field(default_factory=ImportSummary)
    errors: list[RowError] = field(default_factory=list)
    bad_rows: int = 0

    def error(self, line: int, reason: str) -> None:
        self.bad_rows += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(line, reason))

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
        make_id = None if id_at >= 0 else _RowHasher(header)
        summary = self.summary
        writing = True
        line = 1  # the header's last line
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except _NotUTF8 as exc:
                self.error(exc.line, exc.reason)
                break
            except csv.Error as exc:
                self.error(line + 1, f"unreadable CSV: {exc}")
                break
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
            day: date | None = dates.get(raw)
            if day is None:
                day, why = _date(raw, o.date_column, fmt)
                if why:
                    problems.append(why)
                elif day is not None and len(dates) < 100_000:
                    dates[raw] = day
            value = 1.0
            if value_at >= 0:
                try:
                    value = float(cells[value_at])
                    ok = 0 <= value <= MAX_AMOUNT  # also false for nan
                except ValueError:
                    ok = False
                if not ok:
                    value, why = _value(cells[value_at], o.value_column or "")
                    problems.append(why)
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
                assert day is not None
                yield ActivityRow(rep, metric, day, value, sid, actor)
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

    new_person: bool = False


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


def _person(raw: str, column: str) -> tuple[str, str]:
    rep = raw.strip()
    if not rep:
        return rep, f"missing rep: column {column!r} is empty"
    if len(rep) > MAX_NAME:
        return rep, f"rep in column {column!r} is longer than {MAX_NAME} characters"
    if CONTROL.search(rep):
        return rep, f"rep in column {column!r} has control characters"
    return rep, ""


def _date(raw: str, column: str, fmt: str) -> tuple[date | None, str]:
    text = raw.strip()
    if not text:
        return None, f"missing date: column {column!r} is empty"
    try:
        day = datetime.strptime(text, fmt).date()
    except ValueError:
        return None, f"date {_show(text)} in column {column!r} does not match --date-format {fmt}"
    if not MIN_DATE <= day <= MAX_DATE:
        return None, f"date {_show(text)} in column {column!r} is outside {MIN_DATE} to {MAX_DATE}"
    return day, ""


def _value(raw: str, column: str) -> tuple[float, str]:
    text = raw.strip()
    if not text:
        return 0.0, f"missing value: column {column!r} is empty"
    try:
        value = float(text)
    except ValueError:
        return 0.0, f"value {_show(text)} in column {column!r} is not a number"
    if not math.isfinite(value) or value < 0:
        return 0.0, f"value {_show(text)} in column {column!r} must be a finite number >= 0"
    if value > MAX_AMOUNT:
        return 0.0, f"value {_show(text)} in column {column!r} is above {MAX_AMOUNT:g}"
    return value, ""


# -- writing -----------------------------------------------------------------


def write_activity_rows(
    ledger: Ledger,
    rows: Iterable[ActivityRow],
    *,
    at: datetime,
    batch_size: int = 20_000,
    people: PersonResolver | None = None,
) -> WriteCounts:
    """Write validated rows as ``Activity.Recorded`` events, all recorded at ``at``.

    Streams ``rows`` in batches through the ledger's recorder inside ONE
    transaction (on PostgreSQL, with the events table locked the way the
    recorder locks it, so readers never pass over a gap), so memory stays
    flat and an exception raised by ``rows`` rolls everything back. A row
    whose (metric, source id) is already stored is skipped (already present);
    one repeated in ``rows`` is skipped too (repeated): the transaction sees
    its own rows, so no set of ids is kept in memory. Use
    :meth:`Ledger.record_activity_rows` rather than this.
    """
    recorder: Any = ledger.recorder
    writer = _ActivityWriter(ledger, at)
    counts = WriteCounts()
    rows = iter(rows)
    try:
        with recorder.datastore.transaction(commit=True) as curs:
            recorder.lock_for_insert(curs)
            before = recorder.max_position(curs)
            batch = list(islice(rows, batch_size))
            while batch:
                writer.register(curs, people, batch[0].actor)
                writer.write(curs, batch, before, counts)
                batch = list(islice(rows, batch_size))
            if counts.recorded:
                writer.ensure_ledger_id(curs)
    except IntegrityError:
        raise Conflict(
            "another writer recorded some of these activities at the same time; "
            "nothing was written, run the import again"
        ) from None
    except OperationalError as exc:
        if is_locked(exc):
            raise Conflict(
                "the ledger is locked by another writer; nothing was written, try again"
            ) from None
        raise
    return counts


class _ActivityWriter:
    """Turns batches of activity rows into stored events and inserts them
    through the recorder (:meth:`ledger.store.recorder.LedgerRecorder.insert_stored`),
    inside the caller's transaction.

    Stored states come from :class:`ActivityEncoder` and ids from
    :class:`_IdMaker` when both agree with the mapper and
    :func:`ledger.domain.activity_id` on the first row; otherwise every row
    goes through the aggregate and the mapper (same result, slower)."""

    def __init__(self, ledger: Ledger, at: datetime) -> None:
        self.ledger = ledger
        self.at = at
        self.recorder = ledger.recorder
        template = Activity.record(
            at=at, rep="r", metric="m", date=date(2000, 1, 1), value=1.0, source_id="s", actor="a"
        )
        self.encoder = ActivityEncoder(event_state(template.collect_events()[0])["timestamp"])
        self.fast: bool | None = None
        self.optimistic = True
        self.duplicate = self.recorder.DUPLICATE
        self.ids: dict[str, _IdMaker] = {}
        self.topic = get_topic(Activity.Recorded)
        self.actor = "activity-import"

    def register(self, curs: Any, people: PersonResolver | None, actor: str) -> None:
        """Insert ``Person.Registered`` for the reps the rows read so far named
        for the first time (before their rows, in this transaction)."""
        if people is None or len(people.pending) == self.registered:
            return
        new = people.pending[self.registered :]
        self.registered = len(people.pending)
        to_stored = self.ledger.mapper.to_stored_event
        stored = [
            to_stored(e)
            for agg in self.ledger._registered(new, self.at, actor)
            for e in agg.collect_events()
        ]
        self._insert(curs, stored)

    registered = 0

    def _slow_state(self, row: ActivityRow) -> bytes:
        activity = Activity.record(at=self.at, **row._asdict())
        state: bytes = self.ledger.mapper.to_stored_event(activity.collect_events()[0]).state
        return state

    def _id(self, row: ActivityRow) -> str:
        if not self.fast:
            return activity_id(row.metric, row.source_id).hex
        make = self.ids.get(row.metric)
        if make is None:
            make = self.ids[row.metric] = _IdMaker(row.metric)
        return make(row.source_id)

    def _decide(self, row: ActivityRow) -> None:
        self.fast = True
        self.fast = (
            self.encoder.state(row) == self._slow_state(row)
            and self._id(row) == activity_id(row.metric, row.source_id).hex
        )

    def write(self, curs: Any, batch: list[ActivityRow], before: int, counts: WriteCounts) -> None:
        """Insert the batch's new rows; count the ones already stored or repeated.

        Optimistic first: the batch is inserted under a savepoint without
        looking anything up, and the store's primary key refuses a duplicate.
        Only then is the batch rolled back to the savepoint and its ids looked
        up, and the lookups continue until a batch turns out to be all new
        (a re-import does not pay for a failed insert on every batch)."""
        if self.fast is None:
            self._decide(batch[0])
            self.actor = batch[0].actor
        fresh: dict[str, ActivityRow] = {}
        for row in batch:
            key = self._id(row)
            if key in fresh:
                counts.repeated += 1
            else:
                fresh[key] = row
        if self.optimistic:
            stored = self._stored(fresh)
            if self._try_insert(curs, stored):
                counts.recorded += len(stored)
                return
            self.optimistic = False
        found = 0
        for key, ours in self.recorder.created_among(curs, list(fresh), before):
            found += 1
            del fresh[key]
            if ours:
                counts.repeated += 1
            else:
                counts.already_present += 1
        self.optimistic = found == 0
        if fresh:
            stored = self._stored(fresh)
            self._insert(curs, stored)
            counts.recorded += len(stored)

    def _stored(self, fresh: dict[str, ActivityRow]) -> list[StoredEvent]:
        state = self.encoder.state if self.fast else self._slow_state
        topic, stream_key = self.topic, self.recorder.stream_key
        return [
            StoredEvent(
                originator_id=stream_key(key),
                originator_version=1,
                topic=topic,
                state=state(fresh[key]),
            )
            for key in sorted(fresh)  # in index order: each index page is visited once
        ]

    def ensure_ledger_id(self, curs: Any) -> None:
        """Give a ledger without an id its ``LedgerCreated`` (SPEC §7.2), in this transaction."""
        from .identity import created_stored, stored_ledger_id

        if stored_ledger_id(self.recorder, curs) is None:
            self._insert(curs, [created_stored(self.ledger.mapper, self.at, self.actor)])

    def _insert(self, curs: Any, stored: list[StoredEvent]) -> None:
        self.recorder.insert_stored(curs, stored)

    def _try_insert(self, curs: Any, stored: list[StoredEvent]) -> bool:
        """Insert under a savepoint; False (and nothing inserted) on a duplicate id."""
        curs.execute("SAVEPOINT activity_batch")
        try:
            self._insert(curs, stored)
        except self.duplicate:
            curs.execute("ROLLBACK TO SAVEPOINT activity_batch")
            curs.execute("RELEASE SAVEPOINT activity_batch")
            return False
        curs.execute("RELEASE SAVEPOINT activity_batch")
        return True


# -- the import ----------------------------------------------------------------


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


def import_csv(
    ledger: Ledger,
    source: BinaryIO,
    options: ImportOptions,
    *,
    actor: str,
    progress: Callable[[int], None] | None = None,
    batch_size: int = 20_000,
    people: PersonResolver | None = None,
    new_person: bool = False,
) -> ImportSummary:
    """Import one CSV stream (UTF-8, optional BOM) all-or-nothing.

    ``progress``, if given, is called now and then with the number of bytes
    read so far. Raises :class:`ImportRejected` (nothing written) when any
    row is bad, :class:`InvalidInput` when the header does not fit the
    options, :class:`ledger.errors.Conflict` when another writer got there
    first.
    """
    actor = actor.strip()
    if not actor or len(actor) > MAX_NAME or CONTROL.search(actor):
        raise InvalidInput(f"--actor {actor!r}: give a name of 1-{MAX_NAME} characters")
    if people is not None:  # the actor, as the rows carry them: a subject id
        actor = people.ref(actor, role="actor", new_person=True)
    counting = _CountingReader(source)
    buffered = io.BufferedReader(counting, buffer_size=1 << 16)
    notify = None if progress is None else (lambda: progress(counting.count))
    reader = _Reader(options, actor, people)
    reader.new_person = new_person
    old_limit = csv.field_size_limit(MAX_FIELD)
    try:
        rows = reader.rows(_utf8_lines(buffered), notify)
        counts = ledger.record_activity_rows(rows, batch_size=batch_size, people=people)
    finally:
        csv.field_size_limit(old_limit)
    summary = reader.summary
    summary.recorded = counts.recorded
    summary.already_present = counts.already_present
    summary.repeated = counts.repeated
    return summary


__all__ = [
    "MAX_ERRORS",
    "ActivityEncoder",
    "ActivityRow",
    "ImportOptions",
    "ImportRejected",
    "ImportSummary",
    "RowError",
    "Where",
    "WriteCounts",
    "activity_id_hex",
    "import_csv",
    "write_activity_rows",
]
