"""The rows ``report coaching`` counts (issue 19), one per commitment: read
from the tables at (T, D), or from the report's caches where (T, D) sees every
row they were read from, judged where a count needs a verdict, and written
back to the caches when they are the latest knowledge's.

* ``report_commitments``: each commitment's counted row (latest due, close,
  release, supported, contested, verdict after blocking), stamped with
  ``known_at`` and ``settled_on`` (docs/reports.md);
* ``report_verdicts``: each closed commitment's verdict before blocking;
* both filled by the report (:func:`remember`), forgotten by triggers
  (:data:`projections.tables.TRIGGERS`), checked by ``projections verify``
  (:func:`wrong_cached_rows`, :func:`wrong_cached_verdicts`).

:mod:`projections.coaching` counts these rows per manager.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ledger import rules

from .query import MetricSums, Moment, ReadModel, commitment_facts
from .tables import BY_NAME

# -- the fast path: counted rows, verdicts only where needed -----------------
#
# Each commitment is counted from one row (id, whom and when it is about, its
# latest due, close and release, its flags and, once closed, its verdict):
# from ``report_commitments`` (a cache of these rows as the latest knowledge
# has them) where (T, D) sees every row it was read from, else from
# ``temp.fresh``, read from the tables at (T, D) for the visible commitments
# the cache does not serve. Only fresh commitments closed in the window (and
# the closed manager commitments supporting them, for blocking) need a
# verdict. For those without a visible revision or correction, SQL totals
# their check-ins within [start, due] and their metrics' activity, and the
# rules judge them from those amounts (rules.Amounts); the others are read row
# by row and judged from their check-ins.

DUES = """
CREATE TEMP TABLE dues AS
SELECT commitment_id AS id, due FROM revisions v
WHERE due IS NOT NULL AND recorded_at <= :t AND date <= :d
  AND position = (SELECT max(w.position) FROM revisions w
                  WHERE w.commitment_id = v.commitment_id AND w.due IS NOT NULL
                    AND w.recorded_at <= :t AND w.date <= :d)
"""

# a cached row serves (T, D) when (T, D) sees every row it was read from, and
# it holds a verdict if one is counted (closed in the window)
SERVED = (  # (+: never a reason to pick the index of a stamp: each count picks its own)
    ":cache AND +known_at <= :t AND +settled_on <= :d "
    "AND (verdict IS NOT NULL OR closed_on IS NULL OR closed_on < :first)"
)
UNSERVED = f"""
CREATE TEMP TABLE want AS
SELECT c.id FROM commitments c WHERE c.recorded_at <= :t AND c.agreed_on <= :d
  AND NOT EXISTS (SELECT 1 FROM report_commitments r WHERE r.id = c.id AND {SERVED})
"""
_FRESH = """
CREATE TEMP TABLE fresh AS -- the visible commitments the cache does not serve, at (T, D)
SELECT c.id, c.rep, c.manager, c.owner, c.focus, c.agreed_on, c.supports,
  coalesce(n.due, c.due) AS due, x.date AS closed_on, r.date AS released_on,
  coalesce(x.date, r.date) AS ended_on,
  CASE WHEN c.owner = 'rep' THEN states_hypothesis(c.hypothesis, c.expect_metric) ELSE 0 END
    AS hypothesis,
  c.proposed_by,
  EXISTS (SELECT 1 FROM commitments m WHERE m.supports = c.id AND m.owner = 'manager'
          AND m.recorded_at <= :t AND m.agreed_on <= :d) AS two_sided,
  c.focus_cap_override AS override,
  EXISTS (SELECT 1 FROM replies y WHERE y.commitment_id = c.id AND y.contests = 1
          AND y.recorded_at <= :t AND y.date <= :d) AS contested,
  NULL AS verdict
FROM want w CROSS JOIN commitments c ON c.id = w.id
LEFT JOIN dues n ON n.id = c.id
LEFT JOIN closes x ON x.commitment_id = c.id AND x.recorded_at <= :t AND x.date <= :d
LEFT JOIN releases r ON r.commitment_id = c.id AND r.recorded_at <= :t AND r.date <= :d
"""
_COUNTED_COLUMNS = (
    "id, rep, manager, owner, focus, agreed_on, supports, due, closed_on, released_on, "
    "ended_on, hypothesis, proposed_by, two_sided, override, contested, verdict"
)


def counted_rows(where: str, columns: str, legs: tuple[bool, bool]) -> str:
    """SQL: the ``columns`` of the counted rows meeting ``where`` (a condition on
    the columns both have: each side uses its index): the cached rows that
    serve, the fresh ones, or both (``legs``: whether there are any of each;
    one alone is a plain subquery SQLite flattens, with no compound to step
    through)."""
    cached = f"SELECT {columns} FROM main.report_commitments WHERE {SERVED} AND ({where})"
    fresh = f"SELECT {columns} FROM temp.fresh WHERE {where}"
    return (
        "(" + " UNION ALL ".join(q for q, on in zip((cached, fresh), legs, strict=True) if on) + ")"
    )


_JUDGED_AMONG = """
CREATE TEMP TABLE judged AS
WITH closed(id) AS ({closed})
SELECT id FROM closed
UNION
SELECT m.id FROM commitments m
JOIN closes x ON x.commitment_id = m.id AND x.recorded_at <= :t AND x.date <= :d
WHERE m.owner = 'manager' AND m.recorded_at <= :t AND m.agreed_on <= :d
  AND m.supports IN (SELECT f.id FROM fresh f WHERE f.owner = 'rep'
                     AND f.id IN (SELECT id FROM closed))
"""
# the fresh commitments (T, D) judges: those closed in the window, and the
# closed manager commitments supporting them (for blocking)
_JUDGED = _JUDGED_AMONG.format(closed="SELECT id FROM fresh WHERE closed_on BETWEEN :first AND :d")

_COMPLEX = """
SELECT commitment_id AS id FROM revisions WHERE recorded_at <= :t AND date <= :d
  AND commitment_id IN (SELECT id FROM judged)
UNION
SELECT commitment_id FROM corrections WHERE recorded_at <= :t AND date <= :d
  AND commitment_id IN (SELECT id FROM judged)
"""

# the commitment's columns by name, and its close's as ``date``, ``result`` and
# ``value`` (names the commitments table does not use): the row is both
_COLUMNS = ", ".join(f"c.[{name}]" for name in BY_NAME["commitments"].names)
_CLOSE = "x.date AS date, x.result AS result, x.value AS value"
_METRIC_TOTAL = (
    "(SELECT total(a.value) FROM activity_daily a WHERE a.rep = c.rep AND a.metric = c.{m} "
    "AND a.date >= c.start AND a.date <= min(c.due, :d) AND a.recorded_at <= :t)"
)
_SIMPLE = f"""
SELECT {_COLUMNS}, {_CLOSE},
  total(CASE WHEN k.date >= c.start AND k.date <= c.due THEN k.actual END) AS checked_in,
  coalesce(max(k.done), 0) AS done,
  CASE WHEN c.metric IS NULL THEN 0 ELSE {_METRIC_TOTAL.format(m="metric")} END AS metric_total,
  CASE WHEN c.expect_metric IS NULL THEN 0
       ELSE {_METRIC_TOTAL.format(m="expect_metric")} END AS hypothesis_total
FROM judged j CROSS JOIN commitments c ON c.id = j.id
JOIN closes x ON x.commitment_id = c.id
LEFT JOIN check_ins k ON k.commitment_id = c.id AND k.recorded_at <= :t AND k.date <= :d
WHERE j.id NOT IN (SELECT cx.id FROM complex cx)
GROUP BY j.id
"""
_FULL = f"""
SELECT {_COLUMNS}, {_CLOSE} FROM complex j CROSS JOIN commitments c ON c.id = j.id
JOIN closes x ON x.commitment_id = c.id
"""


_CACHED = """
CREATE TEMP TABLE cached AS -- verdicts the latest knowledge settled, valid at (T, D)
SELECT r.id, r.verdict FROM judged j CROSS JOIN report_verdicts r ON r.id = j.id
WHERE r.known_at <= :t AND r.settled_on <= :d
"""


# the stamps of the commitments just judged, from every row the read model
# holds (not only those visible at T, D); a released one is never cached
_LATEST = "coalesce((SELECT max(v.{col}) FROM {table} v WHERE v.commitment_id = c.id), '')"
_LATEST_DUE = (
    "coalesce((SELECT w.due FROM revisions w WHERE w.commitment_id = c.id AND w.due IS NOT NULL "
    "ORDER BY w.position DESC LIMIT 1), c.due)"
)
_ACTIVITY_KNOWN = (
    "coalesce((SELECT max(a.recorded_at) FROM activity_daily a WHERE a.rep = c.rep "
    "AND a.metric IN (c.metric, c.expect_metric) AND a.date >= c.start AND a.date <= {due}), '')"
)
_STAMPS = f"""
SELECT c.id, c.rep, c.metric, c.expect_metric, c.start, s.due,
  max(c.recorded_at, x.recorded_at,
      {_LATEST.format(col="recorded_at", table="revisions")},
      {_LATEST.format(col="recorded_at", table="check_ins")},
      {_LATEST.format(col="recorded_at", table="corrections")},
      {_ACTIVITY_KNOWN.format(due="s.due")}) AS known_at,
  max(c.agreed_on, c.start, s.due, x.date,
      {_LATEST.format(col="date", table="revisions")},
      {_LATEST.format(col="date", table="check_ins")},
      {_LATEST.format(col="date", table="corrections")}) AS settled_on
FROM (SELECT j.id, coalesce((SELECT w.due FROM revisions w
                             WHERE w.commitment_id = j.id AND w.due IS NOT NULL
                             ORDER BY w.position DESC LIMIT 1),
                            (SELECT c.due FROM commitments c WHERE c.id = j.id)) AS due
      FROM judged j) s
CROSS JOIN commitments c ON c.id = s.id
JOIN closes x ON x.commitment_id = c.id
WHERE NOT EXISTS (SELECT 1 FROM releases r WHERE r.commitment_id = c.id)
"""


# the stamps of each fresh row (report_commitments' known_at, settled_on and
# what its activity trigger watches): the latest of its own rows' and those of
# the manager commitments supporting it, every row the read model holds
def _latest_of(table: str) -> str:
    """SQL: per commitment of ``ids``, the latest ``recorded_at`` and business
    date of its rows in ``table``."""
    return (
        f"SELECT v.commitment_id AS id, max(v.recorded_at) AS known, max(v.date) AS settled "
        f"FROM ids CROSS JOIN {table} v ON v.commitment_id = ids.id GROUP BY v.commitment_id"
    )


_OWN_STAMPS = f"""
WITH j(id, for_id) AS (
  SELECT id, id FROM temp.fresh WHERE verdict IS NOT NULL
  UNION ALL
  SELECT m.id, m.supports FROM temp.fresh f CROSS JOIN commitments m ON m.supports = f.id
  WHERE f.verdict IS NOT NULL AND m.owner = 'manager'
),
ids(id) AS (SELECT DISTINCT id FROM j),
rv AS ({_latest_of("revisions")}),
ci AS ({_latest_of("check_ins")}),
co AS ({_latest_of("corrections")}),
rp AS ({_latest_of("replies")}),
due(id, due) AS (
  SELECT v.commitment_id, v.due FROM ids CROSS JOIN revisions v ON v.commitment_id = ids.id
  WHERE v.due IS NOT NULL AND v.position = (SELECT max(w.position) FROM revisions w
                                            WHERE w.commitment_id = v.commitment_id
                                              AND w.due IS NOT NULL)
)
SELECT j.for_id, c.metric, c.expect_metric, c.start, coalesce(n.due, c.due) AS due,
  max(c.recorded_at, coalesce(x.recorded_at, ''), coalesce(r.recorded_at, ''),
      coalesce(rv.known, ''), coalesce(ci.known, ''), coalesce(co.known, ''),
      coalesce(rp.known, ''),
      {_ACTIVITY_KNOWN.format(due="coalesce(n.due, c.due)")}) AS known_at,
  max(c.agreed_on, c.start, coalesce(x.date, ''), coalesce(r.date, ''),
      CASE WHEN x.date IS NOT NULL THEN coalesce(n.due, c.due) ELSE '' END,
      coalesce(rv.settled, ''), coalesce(ci.settled, ''), coalesce(co.settled, ''),
      coalesce(rp.settled, '')) AS settled_on
FROM j CROSS JOIN commitments c ON c.id = j.id
LEFT JOIN due n ON n.id = c.id
LEFT JOIN closes x ON x.commitment_id = c.id
LEFT JOIN releases r ON r.commitment_id = c.id
LEFT JOIN rv ON rv.id = c.id
LEFT JOIN ci ON ci.id = c.id
LEFT JOIN co ON co.id = c.id
LEFT JOIN rp ON rp.id = c.id
"""
_ROW_STAMPS = f"""
SELECT o.for_id,
  ',' || group_concat(coalesce(o.metric, '') || ',' || coalesce(o.expect_metric, ''), ',') || ','
    AS metrics,
  min(o.start) AS watch_start, max(o.due) AS watch_due, max(o.known_at) AS known_at,
  max(o.settled_on) AS settled_on
FROM ({_OWN_STAMPS}) o GROUP BY o.for_id
"""
# the stamps of every fresh row, from what its columns but the verdict are read
# from: its own row, revisions, close, release and replies, and the rows of the
# manager commitments supporting it (a row with a verdict: _ROW_STAMPS too)
_BASE_STAMPS = """
WITH rv AS (SELECT v.commitment_id AS id, max(v.recorded_at) AS known, max(v.date) AS settled
            FROM revisions v WHERE v.commitment_id IN (SELECT id FROM temp.fresh)
            GROUP BY v.commitment_id),
rp AS (SELECT v.commitment_id AS id, max(v.recorded_at) AS known, max(v.date) AS settled
       FROM replies v WHERE v.commitment_id IN (SELECT id FROM temp.fresh)
       GROUP BY v.commitment_id),
sp AS (SELECT m.supports AS id, max(m.recorded_at) AS known, max(m.agreed_on) AS settled
       FROM commitments m WHERE m.owner = 'manager'
         AND m.supports IN (SELECT id FROM temp.fresh) GROUP BY m.supports)
SELECT f.id,
  max(c.recorded_at, coalesce(x.recorded_at, ''), coalesce(r.recorded_at, ''),
      coalesce(rv.known, ''), coalesce(rp.known, ''), coalesce(sp.known, '')) AS known_at,
  max(c.agreed_on, c.start, coalesce(x.date, ''), coalesce(r.date, ''),
      coalesce(rv.settled, ''), coalesce(rp.settled, ''), coalesce(sp.settled, '')) AS settled_on
FROM temp.fresh f CROSS JOIN commitments c ON c.id = f.id
LEFT JOIN closes x ON x.commitment_id = c.id
LEFT JOIN releases r ON r.commitment_id = c.id
LEFT JOIN rv ON rv.id = c.id
LEFT JOIN rp ON rp.id = c.id
LEFT JOIN sp ON sp.id = c.id
"""

# each fresh row with its stamps: :data:`_BASE_STAMPS` and, with a verdict,
# :data:`_ROW_STAMPS` too (what the verdict was judged from, and what the
# activity trigger watches); those (T, D) sees every row of
_STAMPED = (
    "SELECT {columns}, j.metrics, j.watch_start, j.watch_due, "
    "max(b.known_at, coalesce(j.known_at, '')) AS known_at, "
    "max(b.settled_on, coalesce(j.settled_on, '')) AS settled_on "
    "FROM temp.fresh f JOIN ({base}) b ON b.id = f.id "
    "LEFT JOIN ({judged}) j ON j.for_id = f.id"
)
_LATEST_ROWS = (
    "SELECT * FROM ("
    + _STAMPED.format(
        columns=", ".join(f"f.{c}" for c in _COUNTED_COLUMNS.split(", ")),
        base=_BASE_STAMPS,
        judged=_ROW_STAMPS,
    )
    + ") WHERE known_at <= :t AND settled_on <= :d ORDER BY id"
)


def read_fresh(
    rm: ReadModel, at: Moment, p: dict[str, Any], judged: str = _JUDGED
) -> dict[str, str]:
    """Read the commitments of ``temp.want`` at (T, D) into ``temp.fresh``, with
    the verdicts (after blocking) of those closed in the window (``:first`` to
    ``:d``; or those ``judged`` selects): read from ``report_verdicts`` where it
    serves, else judged. Return the verdicts judged (before blocking)."""
    conn = rm.conn
    conn.execute(_FRESH, p)
    conn.execute("CREATE UNIQUE INDEX temp.fresh_id ON fresh (id)")
    for column in ("agreed_on", "due", "ended_on", "closed_on"):
        conn.execute(f"CREATE INDEX temp.fresh_{column} ON fresh ({column})")
    conn.execute(judged, p)
    conn.execute(_CACHED, p)
    verdicts: dict[str, str] = dict(conn.execute("SELECT id, verdict FROM temp.cached"))
    conn.execute("DELETE FROM temp.judged WHERE id IN (SELECT id FROM temp.cached)")
    conn.execute("CREATE TEMP TABLE complex AS " + _COMPLEX, p)
    evaluated = {cid: e.verdict for cid, e in evaluate(rm, at).items()}
    verdicts.update(evaluated)
    owners, supports = {}, {}
    for cid, owner, supported in conn.execute(
        "SELECT c.id, c.owner, c.supports FROM commitments c WHERE c.id IN "
        "(SELECT id FROM temp.cached UNION ALL SELECT id FROM temp.judged)"
    ):
        owners[cid], supports[cid] = owner, supported
    blocked = rules.blocked_by(verdicts, owners, supports)
    conn.executemany(
        "UPDATE temp.fresh SET verdict = ? WHERE id = ?",
        ((rules.BLOCKED if cid in blocked else v, cid) for cid, v in verdicts.items()),
    )
    return evaluated


def drop_temporary(conn: sqlite3.Connection) -> None:
    for name in ("dues", "want", "with_verdict", "fresh", "judged", "cached", "complex"):
        conn.execute(f"DROP TABLE IF EXISTS temp.{name}")


def all_served(conn: sqlite3.Connection, p: dict[str, Any]) -> bool:
    """Whether the cache serves every commitment visible at (T, D): as many rows
    serve as commitments are visible (a row that serves is visible). The rows
    that do not serve are found through three indexes: at the latest
    knowledge, none or a few."""
    rows = conn.execute("SELECT count(*) FROM report_commitments").fetchone()[0]
    unserved = conn.execute(
        "SELECT count(*) FROM (SELECT id FROM report_commitments WHERE known_at > :t "
        "UNION SELECT id FROM report_commitments WHERE settled_on > :d "
        "UNION SELECT id FROM report_commitments WHERE verdict IS NULL AND closed_on >= :first)",
        p,
    ).fetchone()[0]
    visible = conn.execute(
        "SELECT count(*) FROM commitments WHERE recorded_at <= :t AND agreed_on <= :d", p
    ).fetchone()[0]
    return bool(rows - unserved == visible)


def remember(rm: ReadModel, at: Moment, verdicts: dict[str, str]) -> int:
    """Keep what this report read at the latest knowledge: in ``report_verdicts``
    the verdicts (before blocking) just judged for the commitments of
    ``temp.judged`` whose every row ``at`` sees, and in ``report_commitments``
    the rows of ``temp.fresh`` whose every row (and every row of their
    supporters) ``at`` sees. Return how many rows were written.

    The rows come from the read transaction the report reads in (``rm.pin``),
    at the tracking row it saw; another connection writes them, in one
    transaction that first checks that the file still stands at that row and
    has every trigger that keeps the caches true (a rebuild midway has not):
    else nothing is written. Nothing is written either outside a read
    transaction, or when the file cannot be written now (read-only, locked by
    a catch-up): it is a cache, and the next report fills it."""
    conn = rm.conn
    if not conn.in_transaction:
        return 0
    tracking = conn.execute(
        "SELECT position, event_hash FROM tracking WHERE name = 'ledger'"
    ).fetchone()
    path = next((r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "main"), "")
    if tracking is None or not path:
        return 0
    judged = [
        (*r[:6], verdicts[r[0]], r[6], r[7])
        for r in (conn.execute(_STAMPS) if verdicts else ())
        if r[0] in verdicts and r[6] <= at.t and r[7] <= at.d
    ]
    fresh = conn.execute("SELECT count(*) FROM temp.fresh").fetchone()[0]
    if not judged and not fresh:
        return 0
    from .tables import TRIGGERS

    try:
        writer = sqlite3.connect(path, timeout=0.5, isolation_level=None)
    except sqlite3.Error:
        return 0
    try:
        writer.execute("PRAGMA secure_delete=ON")  # as catch-up writes (projections.catchup)
        writer.execute("PRAGMA synchronous=OFF")  # derived data: never fsynced
        writer.execute("BEGIN IMMEDIATE")
        now = writer.execute(
            "SELECT position, event_hash FROM tracking WHERE name = 'ledger'"
        ).fetchone()
        names = {
            r[0] for r in writer.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        if now is None or tuple(now) != tuple(tracking) or any(t[0] not in names for t in TRIGGERS):
            writer.execute("ROLLBACK")
            return 0
        before = writer.total_changes
        for table, rows, many in (
            ("report_verdicts", judged, len(judged)),
            ("report_commitments", map(tuple, _latest_rows(conn, at)), fresh),
        ):
            with _indexes_after(writer, table, many):
                writer.executemany(
                    BY_NAME[table].insert_sql().replace("INSERT", "INSERT OR REPLACE", 1), rows
                )
        writer.execute("COMMIT")
        return writer.total_changes - before
    except sqlite3.Error:
        if writer.in_transaction:
            writer.execute("ROLLBACK")
        return 0
    finally:
        writer.close()


@contextmanager
def _indexes_after(conn: sqlite3.Connection, table: str, rows: int) -> Iterator[None]:
    """Inside: up to ``rows`` rows go into ``table``. Many of them (a report after a
    rebuild fills the caches): its secondary indexes are dropped first and
    built again after, in the same transaction (sorting once is much faster
    than keeping random-order B-trees up to date row by row)."""
    if rows < _MANY_ROWS:
        yield
        return
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL",
        (table,),
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX [{name}]")
    yield
    for _, sql in indexes:
        conn.execute(sql)


_MANY_ROWS = 20_000
"""From how many rows :func:`_indexes_after` builds the indexes after the rows."""


def _latest_rows(conn: sqlite3.Connection, at: Moment) -> sqlite3.Cursor:
    """The rows of ``temp.fresh`` (after blocking) that ``at`` reads as the latest
    knowledge has them, as ``report_commitments`` holds them, in the order of
    its primary key (fewer pages written), one at a time (a report after a
    rebuild writes every commitment's)."""
    return conn.execute(_LATEST_ROWS, {"t": at.t, "d": at.d})


def wrong_cached_verdicts(rm: ReadModel, cached: Sequence[Sequence[Any]]) -> int:
    """How many of ``cached`` (rows of ``report_verdicts``, in column order) are
    not what ``rm`` (a read model rebuilt from the ledger) gives: the stamps and
    window :data:`_STAMPS` takes, and the verdict before blocking at the latest
    knowledge, judged as the report judges (``projections verify``)."""
    if not cached:
        return 0
    from .query import moment

    conn = rm.conn
    conn.execute("PRAGMA temp_store = MEMORY")  # as the report sets it, before temp is used
    drop_temporary(conn)
    conn.execute("CREATE TEMP TABLE judged (id TEXT PRIMARY KEY)")
    conn.executemany("INSERT OR IGNORE INTO temp.judged VALUES (?)", ((r[0],) for r in cached))
    stamps = {r[0]: tuple(r) for r in conn.execute(_STAMPS)}
    on = max((str(r[8]) for r in cached if r[8]), default="")
    verdicts: dict[str, str] = {}
    if on:
        at = moment(None, on)
        conn.execute("CREATE TEMP TABLE complex AS " + _COMPLEX, {"t": at.t, "d": at.d})
        verdicts = {cid: e.verdict for cid, e in evaluate(rm, at).items()}
    return sum(
        stamps.get(row[0]) != (*row[:6], row[7], row[8]) or verdicts.get(row[0]) != row[6]
        for row in cached
    )


_WITH_VERDICT = (
    "SELECT id FROM fresh WHERE closed_on IS NOT NULL AND id IN (SELECT id FROM temp.with_verdict)"
)


def wrong_cached_rows(rm: ReadModel, cached: Sequence[Sequence[Any]]) -> int:
    """How many of ``cached`` (rows of ``report_commitments``, in column order)
    are not what ``rm`` (a read model rebuilt from the ledger) reads at the
    latest knowledge: every column, but a verdict not filled yet (null)
    (``projections verify``)."""
    if not cached:
        return 0
    from .query import moment

    conn = rm.conn
    names = BY_NAME["report_commitments"].names
    settled, verdict = names.index("settled_on"), names.index("verdict")
    at = moment(None, max(str(r[settled]) for r in cached))
    conn.execute("PRAGMA temp_store = MEMORY")  # as the report sets it, before temp is used
    conn.create_function("states_hypothesis", 2, rules.states_hypothesis, deterministic=True)
    p = {"t": at.t, "d": at.d, "cache": 0}
    drop_temporary(conn)
    conn.execute(DUES, p)
    conn.execute("CREATE TEMP TABLE want (id TEXT PRIMARY KEY)")
    conn.executemany("INSERT OR IGNORE INTO temp.want VALUES (?)", ((r[0],) for r in cached))
    conn.execute("CREATE TEMP TABLE with_verdict (id TEXT PRIMARY KEY)")
    conn.executemany(
        "INSERT OR IGNORE INTO temp.with_verdict VALUES (?)",
        ((r[0],) for r in cached if r[verdict] is not None),
    )
    read_fresh(rm, at, p, _JUDGED_AMONG.format(closed=_WITH_VERDICT))
    conn.executemany(  # as the report left them: no verdict, stamped without one
        "UPDATE temp.fresh SET verdict = NULL WHERE id = ?",
        ((r[0],) for r in cached if r[verdict] is None),
    )
    latest = {r[0]: tuple(r) for r in _latest_rows(conn, at)}
    wrong = 0
    for row in cached:
        wrong += latest.get(row[0]) != tuple(row)
    return wrong


def evaluate(rm: ReadModel, at: Moment) -> dict[str, rules.Evaluation]:
    """Judge the commitments of the temporary table ``judged`` (before blocking)."""
    return _facts_and_evaluations(rm, at)[1]


def _facts_and_evaluations(
    rm: ReadModel, at: Moment
) -> tuple[dict[str, rules.CommitmentFacts], dict[str, rules.Evaluation]]:
    conn = rm.conn
    p = {"t": at.t, "d": at.d}
    facts: dict[str, rules.CommitmentFacts] = {}
    evaluations: dict[str, rules.Evaluation] = {}
    for row in conn.execute(_SIMPLE, p):
        # facts without check-ins: the rules judge from the totals SQL took of them
        f = facts[row["id"]] = commitment_facts(row, close=row)
        amounts = rules.Amounts(
            checked_in=row["checked_in"],
            done=bool(row["done"]),
            metric=float(row["metric_total"]),
            hypothesis_metric=float(row["hypothesis_total"]),
        )
        evaluations[f.id] = rules.judge(f, at.on, amounts)
    full = {row["id"]: row for row in conn.execute(_FULL)}
    if full:
        visible: dict[str, dict[str, list[Any]]] = {}
        for table, columns in (
            ("revisions", "v.target, v.period, v.due, v.behavior"),
            ("check_ins", "v.number, v.date, v.actual, v.done"),
            ("corrections", "v.check_in, v.actual, v.done"),
        ):
            for row in conn.execute(
                f"SELECT v.commitment_id, {columns} FROM complex j "
                f"CROSS JOIN {table} v ON v.commitment_id = j.id "
                "WHERE v.recorded_at <= :t AND v.date <= :d ORDER BY v.position",
                p,
            ):
                visible.setdefault(row["commitment_id"], {}).setdefault(table, []).append(row)
        sums = MetricSums(conn, at)
        for cid, row in full.items():
            rows = visible.get(cid, {})
            f = facts[cid] = commitment_facts(
                row,
                revisions=rows.get("revisions", ()),
                check_ins=rows.get("check_ins", ()),
                corrections=rows.get("corrections", ()),
                close=row,
            )
            evaluations[cid] = rules.evaluate(f, at.on, sums.for_rep(f.rep))
    return facts, evaluations
