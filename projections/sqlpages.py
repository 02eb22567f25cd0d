"""Catch-up pages applied inside SQLite, for SQLite ledgers.

The ledger file is attached to the read-model connection and each page is a
handful of ``INSERT ... SELECT`` statements that read the stored JSON with
SQLite's own JSON functions: no row crosses into Python, which is what makes
a rebuild run at the speed of a raw scan. The result is exactly what the
Python applier (:class:`projections.catchup._Applier`, used for PostgreSQL
ledgers) writes; ``tests/test_projection_properties.py`` checks both against
each other on random histories.

Each page first copies its rows of interest from the ledger into an
in-memory ``temp.page`` (one pass over the ledger; the hyphenated stream id
computed once there), then fills every table from it. A row's rep comes from
its commitment's row (a join) and a check-in's number from the last number
already there plus its rank in the page, through the two unique indexes
these lookups use. A rebuild adds every index at the end instead, those two
as well: it joins each row to ``temp.reps`` (commitment id, position, rep:
an in-memory tree the pages fill from the commitments rows they write) and
counts the check-ins' numbers as it writes them (a count per commitment, in
an array indexed by the commitment's position, which that join gives).
"""

from __future__ import annotations

import sqlite3
from array import array
from collections.abc import Callable

from ledger.topics import (
    ACTIVITY,
    ACTIVITY_CHUNK,
    AGREED,
    CHECKED_IN,
    CLOSED,
    CORRECTED,
    HELD,
    RELEASED,
    REPLIED,
    REVISED,
)

from .people import REWRITING, apply_person_events
from .people import TOPICS as PERSON_TOPICS
from .stamps import normalize_timestamp
from .tables import BY_NAME

HYPHENATED = (
    "substr(e.originator_id, 1, 8) || '-' || substr(e.originator_id, 9, 4) || '-' || "
    "substr(e.originator_id, 13, 4) || '-' || substr(e.originator_id, 17, 4) || '-' || "
    "substr(e.originator_id, 21)"
)
STATE = "CAST(e.state AS TEXT)"
REP = "cm.rep"  # a LEFT JOIN of the row's commitment (NULL when there is none)
_JOIN_REP = " LEFT JOIN main.commitments cm ON cm.id = e.oid"
ACTOR = "person_name(e.s ->> '$.actor')"  # person fields: the name (projections.people)
STAMP = (
    "(CASE length(e.ts) WHEN 27 THEN e.ts WHEN 20 THEN substr(e.ts, 1, 19) || '.000000Z' "
    "ELSE normalize_timestamp(e.ts) END)"
)


def _f(name: str) -> str:
    return f"e.s ->> '$.{name}'"


def _person(name: str) -> str:
    """A person field as the name to show: :func:`page_applier`'s ``person_name``
    gives a subject id's name, a legacy name as it is."""
    return f"person_name({_f(name)})"


def _flag(name: str) -> str:
    # JSON true/false come back as 1/0, null as NULL: as the Python applier's _flag
    return _f(name)


# table -> (topic, {column: expression}); order of statements = order of tables here
_COLUMNS: dict[str, tuple[str, dict[str, str]]] = {
    "commitments": (
        AGREED,
        {
            "id": "e.oid",
            **{
                c: _person(c)
                for c in (
                    "rep",
                    "manager",
                )
            },
            **{
                c: _f(c)
                for c in (
                    "owner",
                    "focus",
                    "behavior",
                    "measure",
                    "target",
                    "period",
                    "unit",
                    "metric",
                    "baseline",
                    "start",
                    "due",
                    "hypothesis",
                    "expect_metric",
                    "expect_at_least",
                    "supports",
                    "session_id",
                    "kept_at",
                    "partial_at",
                    "focus_cap_override",
                )
            },
            "agreed_on": _f("on"),
            "proposed_by": f"coalesce({_f('proposed_by')}, 'manager')",  # class version 1
            "actor": ACTOR,
            "recorded_at": STAMP,
            "position": "e.rowid",
        },
    ),
    "supports": (
        AGREED,  # read from the page's new commitments rows (_FROM), not from the JSON again
        {
            "supporter_id": "c.id",
            "supported_id": "c.supports",
            "rep": "c.rep",
            "manager": "c.manager",
            "agreed_on": "c.agreed_on",
            "recorded_at": "c.recorded_at",
            "position": "c.position",
        },
    ),
    "sessions": (
        HELD,
        {
            "id": "e.oid",
            "rep": _person("rep"),
            "manager": _person("manager"),
            "date": _f("date"),
            "prepared": _flag("prepared"),
            "strengths": "e.s -> '$.strengths'",
            "focus_areas": "e.s -> '$.focus_areas'",
            "note": _f("note"),
            "actor": ACTOR,
            "recorded_at": STAMP,
            "position": "e.rowid",
        },
    ),
    "revisions": (
        REVISED,
        {
            "commitment_id": "e.oid",
            "version": "e.originator_version",
            "rep": REP,
            "date": _f("date"),
            "reason": _f("reason"),
            "target": _f("target"),
            "period": _f("period"),
            "due": _f("due"),
            "behavior": _f("behavior"),
            "actor": ACTOR,
            "recorded_at": STAMP,
            "position": "e.rowid",
        },
    ),
    "check_ins": (
        CHECKED_IN,
        {
            "commitment_id": "e.oid",
            "number": (
                # numbers run 1..n per commitment: the last one is the count (one index seek)
                "coalesce((SELECT max(c.number) FROM main.check_ins c "
                "WHERE c.commitment_id = e.oid), 0) "
                "+ row_number() OVER (PARTITION BY e.oid ORDER BY e.rowid)"
            ),
            "rep": REP,
            "date": _f("date"),
            "actual": _f("actual"),
            "done": _flag("done"),
            "note": _f("note"),
            "actor": ACTOR,
            "recorded_at": STAMP,
            "position": "e.rowid",
        },
    ),
    "corrections": (
        CORRECTED,
        {
            "commitment_id": "e.oid",
            "version": "e.originator_version",
            "rep": REP,
            "check_in": _f("check_in"),
            "date": _f("date"),
            "actual": _f("actual"),
            "done": _flag("done"),
            "reason": _f("reason"),
            "actor": ACTOR,
            "recorded_at": STAMP,
            "position": "e.rowid",
        },
    ),
    "closes": (
        CLOSED,
        {
            "commitment_id": "e.oid",
            "rep": REP,
            "date": _f("date"),
            "result": _f("result"),
            "value": _f("value"),
            "note": _f("note"),
            "actor": ACTOR,
            "recorded_at": STAMP,
            "position": "e.rowid",
        },
    ),
    "releases": (
        RELEASED,
        {
            "commitment_id": "e.oid",
            "rep": REP,
            "date": _f("date"),
            "reason": _f("reason"),
            "actor": ACTOR,
            "recorded_at": STAMP,
            "position": "e.rowid",
        },
    ),
    "replies": (
        REPLIED,
        {
            "commitment_id": "e.oid",
            "version": "e.originator_version",
            "rep": REP,
            "date": _f("date"),
            "by": _person("by"),
            "text": _f("text"),
            "contests": _flag("contests"),
            "actor": ACTOR,
            "recorded_at": STAMP,
            "position": "e.rowid",
        },
    ),
    "activity_daily": (
        ACTIVITY,
        {
            "rep": _person("rep"),
            "metric": _f("metric"),
            "date": _f("date"),
            "recorded_at": STAMP,
            "value": _f("value"),
            "rows": "1",
        },
    ),
}

# tables filled from rows this page wrote to another table (a commitment's
# position is its event's, so the page's rows are those from its first one)
_FROM = {
    "supports": "main.commitments c WHERE c.position >= (SELECT min(pos) FROM temp.page) "
    "AND c.supports IS NOT NULL ORDER BY c.position",
}


def _chunk_statement(table: str) -> str:
    """``activity_daily`` from one ``ActivityChunk.Recorded`` (issue 19),
    bound by its position: each of its rows as one ``Activity.Recorded``
    gives it (``_COLUMNS``), recorded at the chunk's timestamp, in the
    chunk's order. The state is read from the ledger and parsed once
    (``MATERIALIZED``), its rows expanded by ``json_each``; one chunk at a
    time, so memory holds one chunk, never a page of them."""
    t = BY_NAME["activity_daily"]
    cols = ", ".join(f"[{c}]" for c in t.names)
    parsed = (
        "SELECT s ->> '$.metric' AS metric, s ->> '$.timestamp' AS ts, s -> '$.rows' AS rows "
        f"FROM (SELECT CAST(state AS TEXT) AS s FROM ledger.{table} WHERE rowid = ?)"
    )
    exprs = {
        "rep": "person_name(r.value ->> '$[0]')",
        "metric": "e.metric",
        "date": "r.value ->> '$[1]'",
        "recorded_at": STAMP,
        "value": "r.value ->> '$[2]'",
        "rows": "1",
    }
    assert tuple(exprs) == t.names
    return (
        f"WITH e AS MATERIALIZED ({parsed}) INSERT INTO [activity_daily] ({cols}) "
        f"SELECT {', '.join(exprs.values())} FROM e, json_each(e.rows) r "
        f"WHERE true ORDER BY r.key {t.on_conflict}"
    )


# a check-in's number counted as it is written (:func:`page_applier`), by the
# position of its commitment's row (the rep's join; NULL without one)
NUMBER = "check_in_number(e.rowid, cm.position, e.oid)"


def _statements(table: str, *, numbered: bool = False) -> list[str]:
    """One ``INSERT ... SELECT`` per table, reading the page from ``temp.page``
    (``numbered``: the check-ins' numbers from ``check_in_number``)."""
    out = []
    for name, (topic, columns) in _COLUMNS.items():
        t = BY_NAME[name]
        assert tuple(columns) == t.names, name
        if numbered and name == "check_ins":
            assert REP in columns.values()  # NUMBER reads the commitment's row
            columns = {**columns, "number": NUMBER}
        exprs = ", ".join(columns[c] for c in t.names).replace("{table}", table)
        cols = ", ".join(f"[{c}]" for c in t.names)
        if name in _FROM:
            out.append(f"INSERT INTO [{name}] ({cols}) SELECT {exprs} FROM {_FROM[name]}")
            continue
        source = (
            "SELECT pos AS rowid, originator_id, originator_version, s, "
            f"s ->> '$.timestamp' AS ts, oid FROM temp.page e WHERE topic = '{topic}'"
        )
        join = _JOIN_REP if REP in exprs or NUMBER in exprs else ""
        if numbered:  # the rep from the rebuild's own (id, position, rep) tree
            join = join.replace("main.commitments cm", "temp.reps cm")
        out.append(
            f"INSERT INTO [{name}] ({cols}) SELECT {exprs} FROM ({source}) e{join} "
            f"WHERE true ORDER BY e.rowid {t.on_conflict}".rstrip()  # (WHERE: upsert syntax)
        )
        if numbered and name == "commitments":
            out.append(_REPS_OF_PAGE)
    return out


# A rebuild looks each row's commitment up here, not in the commitments table:
# that table's unique index on id, written in random order, then waits for the
# end with the other indexes (the rows of this tree are in memory: no WAL)
_REPS = "CREATE TEMP TABLE IF NOT EXISTS reps (id TEXT PRIMARY KEY, position, rep) WITHOUT ROWID"
_REPS_OF_PAGE = (
    "INSERT INTO temp.reps (id, position, rep) SELECT id, position, rep FROM main.commitments "
    "WHERE position >= (SELECT min(pos) FROM temp.page) ORDER BY position"
)


PageApplier = Callable[[int, int, int], int]


class _Names(dict[str | None, str | None]):
    """Subject id -> name, as the SQL function ``person_name``: a subject's
    name, anything else (NULL, a legacy name) as it is. Its ``__getitem__``
    is the function, so a name (a million a rebuild) costs no Python frame."""

    def __missing__(self, ref: str | None) -> str | None:
        return ref


class _Numbers:
    """The check-ins' numbers of a rebuild, counted as its pages write them: a
    check-in's number is one more than the check-ins of its commitment before
    it. The count of each commitment is kept by the position of its row (an
    array of 4 bytes an event, not a dict of 150,000 ids); a check-in
    without a commitment's row (none in a ledger the domain wrote) is counted
    by its stream id. Counts hold only while the pages follow each other: a
    page that does not start where the last one ended (another process
    applied pages in between) first reads them again from ``check_ins``."""

    def __init__(self, conn: sqlite3.Connection, upto: int) -> None:
        self.conn = conn
        self.counts = array("I", bytes(4 * (upto + 1)))
        self.orphans: dict[str, int] = {}
        self.end = 0  # where the counted pages end (0: check_ins is empty)
        self.last = 0  # the last check-in counted

    def number(self, pos: int, at: int | None, stream: str) -> int:
        if pos <= self.last:  # the statement must number in ledger order
            raise ValueError(f"check-in {pos} numbered after {self.last}")
        self.last = pos
        if at is None:
            n = self.orphans[stream] = self.orphans.get(stream, 0) + 1
            return n
        n = self.counts[at] + 1
        self.counts[at] = n
        return n

    def start(self, start: int) -> None:
        """Before a page that starts after ``start``."""
        if start == self.end:
            return
        self.counts = array("I", bytes(len(self.counts) * 4))
        self.orphans.clear()
        self.conn.execute("DELETE FROM temp.reps")
        self.conn.execute(
            "INSERT INTO temp.reps (id, position, rep) SELECT id, position, rep "
            "FROM main.commitments"
        )
        for at, stream, n in self.conn.execute(
            "SELECT cm.position, c.commitment_id, max(c.number) FROM main.check_ins c "
            "LEFT JOIN temp.reps cm ON cm.id = c.commitment_id GROUP BY c.commitment_id"
        ):
            if at is None:
                self.orphans[stream] = n
            elif at < len(self.counts):  # (past the rebuild's head: no check-in of it here)
                self.counts[at] = n
        self.end = self.last = start


def _sealed_columns() -> None:
    """Free-text columns are opened as they are written (``open_sealed``, the
    read model's :class:`projections.sealed.Opener`): no row is written twice."""
    from .sealed import SEALED_COLUMNS, SEALED_PREFIX

    for table, cols in SEALED_COLUMNS.items():
        if table in _COLUMNS:
            exprs = _COLUMNS[table][1]
            for col in cols:
                x = exprs.get(col)
                if x is not None and "open_sealed(" not in x:
                    # only a sealed value costs a call into Python (most are NULL or clear)
                    exprs[col] = (
                        f"CASE WHEN substr({x}, 1, {len(SEALED_PREFIX)}) = '{SEALED_PREFIX}' "
                        f"THEN open_sealed({x}) ELSE {x} END"
                    )


_sealed_columns()


def page_applier(
    conn: sqlite3.Connection,
    ledger_path: str,
    table: str,
    topics: list[str],
    open_text: Callable[[str], str],
    *,
    numbered_upto: int = 0,
) -> PageApplier:
    """Attach the ledger and return ``apply(start, head, limit) -> new position``.

    ``numbered_upto`` (a rebuild): pages up to that position count the
    check-ins' numbers as they write them (:class:`_Numbers`) instead of
    looking up their commitments' last numbers in the ``(commitment_id,
    number)`` index, which a rebuild then builds at the end.

    Must be called outside a transaction (``ATTACH`` cannot run inside one).
    """
    attached = {row[1] for row in conn.execute("PRAGMA database_list")}
    if "ledger" not in attached:
        conn.execute("ATTACH DATABASE ? AS ledger", (ledger_path,))
        conn.execute("PRAGMA ledger.cache_size = -2048")  # read once, in order: little to cache
    conn.create_function("normalize_timestamp", 1, normalize_timestamp, deterministic=True)
    names = _Names()  # subject id -> name, read again for every page
    conn.create_function("person_name", 1, names.__getitem__)  # a name: no Python frame
    # free text: opened as written (projections.sealed.Opener registers its own,
    # which also notes that the key store was used)
    conn.create_function("open_sealed", 1, lambda v: open_text(v) if isinstance(v, str) else v)
    conn.execute("PRAGMA temp_store = MEMORY")
    # temp.page holds ledger rows as stored, in memory only: zeroing them as each
    # page is cleared (secure_delete, which the read model's file needs) kept a
    # copy of the whole page in the temp journal: 20 MB more at the peak
    conn.execute("PRAGMA temp.secure_delete = OFF")
    statements = numbered = _statements(table)
    numbers = _Numbers(conn, numbered_upto) if numbered_upto > 0 else None
    if numbers is not None:
        conn.execute(_REPS)
        conn.execute("DELETE FROM temp.reps")
        conn.create_function("check_in_number", 3, numbers.number)
        numbered = _statements(table, numbered=True)
    chunk_sql = _chunk_statement(table)
    chunks_sql = f"SELECT pos FROM temp.page WHERE topic = '{ACTIVITY_CHUNK}' ORDER BY pos"
    marks = ",".join("?" * len(topics))
    # one pass over the ledger per page: the page's rows of interest, as text
    # a chunk's state is read by its statement (_chunk_statement), not copied here
    state = f"CASE topic WHEN '{ACTIVITY_CHUNK}' THEN NULL ELSE {STATE.replace('e.', '')} END"
    # the hyphenated stream id only for the rows whose statement reads it
    # (activity rows and people are keyed otherwise: 12% of a demo's events)
    unkeyed = ",".join(f"'{t}'" for t in sorted({ACTIVITY, ACTIVITY_CHUNK, *PERSON_TOPICS}))
    oid = f"CASE WHEN topic IN ({unkeyed}) THEN NULL ELSE {HYPHENATED.replace('e.', '')} END"
    fill = (
        "INSERT INTO temp.page SELECT rowid, originator_id, originator_version, topic, "
        f"{state}, {oid} FROM ledger.{table} "
        f"WHERE rowid > ? AND rowid <= ? AND topic IN ({marks}) ORDER BY rowid LIMIT ?"
    )
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS page (pos INTEGER PRIMARY KEY, originator_id, "
        "originator_version, topic, s, oid)"
    )
    # each statement reads its topic's rows only: ten full scans of the page
    # (25 MB at 50,000 events) cost more than keeping this index
    conn.execute("CREATE INDEX IF NOT EXISTS temp.page_topic ON page (topic)")

    marks_people = ",".join(f"'{t}'" for t in PERSON_TOPICS)
    rewriting = ",".join(f"'{t}'" for t in sorted(REWRITING))
    last_sql = "SELECT max(pos) FROM temp.page"
    cut_sql = (
        f"SELECT min(pos) FROM temp.page WHERE topic IN ({rewriting}) "
        "AND pos > (SELECT min(pos) FROM temp.page)"
    )
    people_sql = (
        f"SELECT pos, originator_id, topic, s FROM temp.page WHERE topic IN ({marks_people}) "
        "ORDER BY pos"
    )

    def apply(start: int, head: int, limit: int) -> int:
        conn.execute("DELETE FROM temp.page")
        count = conn.execute(fill, (start, head, *topics, limit)).rowcount
        # a short page means nothing of interest is left up to the head
        end = int(conn.execute(last_sql).fetchone()[0]) if count == limit else head
        cut = conn.execute(cut_sql).fetchone()  # a rename: the rows before it come first
        if cut[0] is not None:
            conn.execute("DELETE FROM temp.page WHERE pos >= ?", (cut[0],))
            end = int(cut[0]) - 1
        people = conn.execute(people_sql).fetchall()
        if people:  # first (names are opened in Python), so the rows below show them
            apply_person_events(conn, people, open_text)
        names.clear()
        names.update(conn.execute("SELECT subject, name FROM main.people"))
        if numbers is not None and head <= numbered_upto:
            numbers.start(start)
            for sql in numbered:
                conn.execute(sql)
            numbers.end = end
        else:
            for sql in statements:
                conn.execute(sql)
        for (pos,) in conn.execute(chunks_sql).fetchall():  # after the per-row activity
            conn.execute(chunk_sql, (pos,))
        return end

    return apply
