"""The read-model tables: names, columns, keys, indexes and what each column means.

Tables of events are keyed by ``position`` (the event's notification id,
an integer primary key, so rows are appended in order) with their natural key
as a unique index. One definition serves three purposes: :mod:`projections.catchup` creates the
tables from it with sqlite-utils, ``docs/read-model.md`` is generated from it
(``python -m projections.tables``, checked by a test), and the writers take
their column order from it. Every row keeps both time axes: ``recorded_at``
(transaction time, ISO 8601 UTC, always with 6 fractional digits so that text
order is time order) and its business date.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    """One column: its name, SQLite type and meaning."""

    name: str
    type: str  # "TEXT", "INTEGER", "REAL" or "BLOB"
    doc: str


@dataclass(frozen=True)
class Table:
    """One read-model table."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    pk: tuple[str, ...]
    unique: tuple[str, ...] = ()
    indexes: tuple[tuple[str, ...], ...] = field(default=())
    looked_up: bool = False  # catch-up looks rows up by the unique key: kept in a rebuild
    # (not by an in-SQLite rebuild, which numbers and looks up otherwise: catchup.rebuild)
    on_conflict: str = ""  # how a row meeting an existing primary key merges into it

    @property
    def all_indexes(self) -> tuple[tuple[tuple[str, ...], bool], ...]:
        """Every secondary index as (columns, unique): the natural key first."""
        natural = ((self.unique, True),) if self.unique else ()
        return natural + tuple((cols, False) for cols in self.indexes)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def insert_sql(self) -> str:
        """``INSERT`` of one row in column order (with the table's ``on_conflict``)."""
        marks = ", ".join("?" for _ in self.columns)
        cols = ", ".join(f"[{n}]" for n in self.names)
        return f"INSERT INTO [{self.name}] ({cols}) VALUES ({marks}) {self.on_conflict}".rstrip()


def _c(name: str, type_: str, doc: str) -> Column:
    return Column(name, type_, doc)


RECORDED = _c("recorded_at", "TEXT", "When the ledger stored the event (UTC, ISO 8601).")
POSITION = _c("position", "INTEGER", "The event's notification id (its place in the ledger).")
ACTOR = _c("actor", "TEXT", "Who recorded the event.")
CID = _c("commitment_id", "TEXT", "The commitment (uuid, hyphenated).")
REP = _c("rep", "TEXT", "The rep of the commitment (copied here for per-rep reads).")

TABLES: tuple[Table, ...] = (
    Table(
        "tracking",
        "How far the read model has applied the ledger. Written in the same "
        "transaction as the rows of every page, so each event is applied exactly once.",
        (
            _c("name", "TEXT", "Always `ledger`."),
            _c("position", "INTEGER", "Notification id of the last event applied (0: none)."),
            _c("source", "TEXT", "The ledger these tables were built from (path or URL)."),
            _c(
                "ledger_id",
                "TEXT",
                "The id of that ledger (its `LedgerCreated` event; null for a ledger "
                "not written since before release 2). A read of another ledger is "
                "refused (exit 4).",
            ),
            _c(
                "event_hash",
                "TEXT",
                "SHA-256 of the stored event at `position` (stream, version, type and "
                "stored bytes; null at 0). Every read checks it against the ledger: "
                "a ledger whose event there changed or vanished (a restored backup) "
                "is rebuilt before answering.",
            ),
        ),
        pk=("name",),
    ),
    Table(
        "sessions",
        "Coaching sessions held (one row per session).",
        (
            _c("id", "TEXT", "Session id."),
            _c("rep", "TEXT", "The rep coached."),
            _c("manager", "TEXT", "The manager coaching."),
            _c("date", "TEXT", "Business date of the session (YYYY-MM-DD)."),
            _c("prepared", "INTEGER", "1 if the rep came prepared, else 0."),
            _c("strengths", "TEXT", "What is going well (JSON list)."),
            _c("focus_areas", "TEXT", "Focus areas chosen (JSON list)."),
            _c("note", "TEXT", "Free text."),
            ACTOR,
            RECORDED,
            POSITION,
        ),
        pk=("position",),
        unique=("id",),
        indexes=(
            ("rep",),
            ("manager",),
            # the coaching report's reads (issue 19): a window's sessions, and
            # the managers known at (T, D), each answered from the index alone
            ("date", "manager", "rep", "recorded_at", "prepared"),
            ("manager", "recorded_at", "date"),
        ),
    ),
    Table(
        "commitments",
        "Commitments as agreed (the original terms; revisions are in `revisions`).",
        (
            _c("id", "TEXT", "Commitment id."),
            _c("rep", "TEXT", "The rep the commitment is about."),
            _c("manager", "TEXT", "The manager who agreed it."),
            _c("owner", "TEXT", "Who promises: `rep` or `manager`."),
            _c("focus", "TEXT", "Focus area."),
            _c("behavior", "TEXT", "The behaviour, as agreed."),
            _c("measure", "TEXT", "`count` or `done`."),
            _c("target", "REAL", "Count measure: amount per period, as agreed."),
            _c("period", "TEXT", "`day`, `week`, `month` or `window`, as agreed."),
            _c("unit", "TEXT", "Unit of the target."),
            _c("metric", "TEXT", "Activity metric that measures the behaviour, if any."),
            _c("baseline", "REAL", "Where the rep was, per period."),
            _c("start", "TEXT", "First day of the window."),
            _c("due", "TEXT", "Last day of the window, as agreed."),
            _c("hypothesis", "TEXT", "What the behaviour is expected to do to results."),
            _c("expect_metric", "TEXT", "Outcome metric that tests the hypothesis."),
            _c("expect_at_least", "REAL", "Threshold of the outcome metric."),
            _c("supports", "TEXT", "Manager commitments: the rep commitment supported."),
            _c("session_id", "TEXT", "The session it came from."),
            _c("kept_at", "REAL", "Follow-through ratio from which it is kept."),
            _c("partial_at", "REAL", "Follow-through ratio from which it is partial."),
            _c("focus_cap_override", "TEXT", "Reason given to exceed the focus cap."),
            _c("agreed_on", "TEXT", "Business date of the agreement."),
            _c(
                "proposed_by",
                "TEXT",
                "Who proposed it: `rep` or `manager` (older agreements: `manager`).",
            ),
            ACTOR,
            RECORDED,
            POSITION,
        ),
        pk=("position",),
        unique=("id",),
        indexes=(
            ("rep",),
            ("manager",),
            ("supports",),
            ("session_id",),
            ("manager", "recorded_at", "agreed_on"),  # managers known at (T, D)
        ),
        looked_up=True,
    ),
    Table(
        "revisions",
        "Renegotiated terms; a NULL column leaves that term unchanged.",
        (
            CID,
            _c("version", "INTEGER", "The event's version within the commitment."),
            REP,
            _c("date", "TEXT", "Business date of the revision."),
            _c("reason", "TEXT", "Why the terms changed."),
            _c("target", "REAL", "New target."),
            _c("period", "TEXT", "New period."),
            _c("due", "TEXT", "New due date."),
            _c("behavior", "TEXT", "New behaviour text."),
            ACTOR,
            RECORDED,
            POSITION,
        ),
        pk=("position",),
        unique=("commitment_id", "version"),
        indexes=(("rep",),),
    ),
    Table(
        "check_ins",
        "Check-ins as first recorded (corrections are in `corrections`).",
        (
            CID,
            _c("number", "INTEGER", "1-based number of the check-in in the commitment."),
            REP,
            _c("date", "TEXT", "Business date of the check-in."),
            _c("actual", "REAL", "Amount reported (count measure)."),
            _c("done", "INTEGER", "1/0 (done measure)."),
            _c("note", "TEXT", "Free text."),
            ACTOR,
            RECORDED,
            POSITION,
        ),
        pk=("position",),
        unique=("commitment_id", "number"),
        indexes=(("rep",),),
        looked_up=True,
    ),
    Table(
        "corrections",
        "Corrections of check-ins; the latest one visible wins.",
        (
            CID,
            _c("version", "INTEGER", "The event's version within the commitment."),
            REP,
            _c("check_in", "INTEGER", "Number of the check-in corrected."),
            _c("date", "TEXT", "Business date: the corrected check-in's date."),
            _c("actual", "REAL", "Corrected amount."),
            _c("done", "INTEGER", "Corrected done flag (1/0)."),
            _c("reason", "TEXT", "Why it was corrected."),
            ACTOR,
            RECORDED,
            POSITION,
        ),
        pk=("position",),
        unique=("commitment_id", "version"),
        indexes=(("rep",),),
    ),
    Table(
        "closes",
        "Closed loops (at most one per commitment).",
        (
            CID,
            REP,
            _c("date", "TEXT", "Business date of the close."),
            _c("result", "TEXT", "`met`, `missed`, `unknown` or NULL (not given)."),
            _c("value", "REAL", "The result value."),
            _c("note", "TEXT", "Free text."),
            ACTOR,
            RECORDED,
            POSITION,
        ),
        pk=("position",),
        unique=("commitment_id",),
        indexes=(("rep",),),
    ),
    Table(
        "releases",
        "Released commitments (at most one per commitment).",
        (
            CID,
            REP,
            _c("date", "TEXT", "Business date of the release."),
            _c("reason", "TEXT", "What changed."),
            ACTOR,
            RECORDED,
            POSITION,
        ),
        pk=("position",),
        unique=("commitment_id",),
        indexes=(("rep",),),
    ),
    Table(
        "replies",
        "Replies of the judged person (SPEC §7.4): the commitment's rep or manager "
        "answering its verdict. They stand beside the verdict and never change it.",
        (
            CID,
            _c("version", "INTEGER", "The event's version within the commitment."),
            REP,
            _c("date", "TEXT", "Business date of the reply."),
            _c("by", "TEXT", "Who replied: the commitment's rep or manager."),
            _c("text", "TEXT", "The reply."),
            _c("contests", "INTEGER", "1 if the reply contests the verdict, else 0."),
            ACTOR,
            RECORDED,
            POSITION,
        ),
        pk=("position",),
        unique=("commitment_id", "version"),
        indexes=(("rep",),),
    ),
    Table(
        "supports",
        "Links from a manager commitment to the rep commitment it supports.",
        (
            _c("supporter_id", "TEXT", "The manager-owned commitment."),
            _c("supported_id", "TEXT", "The rep-owned commitment it supports."),
            REP,
            _c("manager", "TEXT", "The manager of the supporting commitment."),
            _c("agreed_on", "TEXT", "Business date of the supporting agreement."),
            RECORDED,
            POSITION,
        ),
        pk=("position",),
        unique=("supporter_id",),
        indexes=(("supported_id",), ("rep",)),
    ),
    Table(
        "activity_daily",
        "CRM activity summed per rep, metric, day and recording instant (one import "
        "shares one recorded_at, so this stays small and keeps both time axes).",
        (
            _c("rep", "TEXT", "The rep."),
            _c("metric", "TEXT", "Activity metric (`calls`, `won_value`...)."),
            _c("date", "TEXT", "Business date of the activity."),
            RECORDED,
            _c("value", "REAL", "Sum of the activity values."),
            _c("rows", "INTEGER", "Number of activity events summed."),
        ),
        pk=("rep", "metric", "date", "recorded_at"),
        indexes=(("metric", "date"),),
        on_conflict="ON CONFLICT (rep, metric, date, recorded_at) DO UPDATE SET "
        "value = value + excluded.value, rows = rows + excluded.rows",
    ),
    Table(
        "report_verdicts",
        "A cache of `report coaching` (issue 19): the verdict (before blocking) of a "
        "closed commitment as the latest knowledge judges it, written by the report "
        "itself the first time it judges the commitment at a (T, D) that sees all of "
        "its events, and read by later reports whose T ≥ `known_at` and D ≥ "
        "`settled_on`. Catch-up writes nothing here: triggers (`TRIGGERS`) delete a "
        "commitment's row when a row that could change its verdict is written "
        "(its revisions, check-ins, corrections, close or release, or activity of "
        "its rep and metrics dated in its window). A rebuild starts it empty.",
        (
            _c("id", "TEXT", "Commitment id."),
            REP,
            _c("metric", "TEXT", "Its activity metric, if any."),
            _c("expect_metric", "TEXT", "Its hypothesis' outcome metric, if any."),
            _c("start", "TEXT", "First day of its window."),
            _c("due", "TEXT", "Last day of its window, latest terms."),
            _c("verdict", "TEXT", "Its verdict before blocking (SPEC §4)."),
            _c(
                "known_at",
                "TEXT",
                "The latest `recorded_at` of the rows it was judged from (its own, "
                "its revisions, check-ins, corrections, close, and the activity of "
                "its rep and metrics in its window).",
            ),
            _c(
                "settled_on",
                "TEXT",
                "The latest business date of those rows (agreement, start, latest "
                "due, check-ins, corrections, revisions, close).",
            ),
        ),
        pk=("id",),
        indexes=(("rep",),),
    ),
    Table(
        "report_commitments",
        "A cache of `report coaching` (issue 19): each commitment as the report counts "
        "it, as the latest knowledge has it (its latest due, its close or release, "
        "whether a manager commitment supports it, whether a reply contests it, its "
        "verdict after blocking). Written by the report itself for the commitments it "
        "read whose every row (and every row of the manager commitments supporting "
        "them) it saw, and read by later reports whose T ≥ `known_at` and D ≥ "
        "`settled_on`: every other commitment is read from the tables above. Catch-up "
        "writes nothing here: triggers (`TRIGGERS`) delete a commitment's row when a "
        "row that could change it is written. A rebuild starts it empty.",
        (
            _c("id", "TEXT", "Commitment id."),
            REP,
            _c("manager", "TEXT", "The manager named on it."),
            _c("owner", "TEXT", "`rep` or `manager`."),
            _c("focus", "TEXT", "Focus area."),
            _c("agreed_on", "TEXT", "Business date of the agreement."),
            _c("supports", "TEXT", "Manager commitments: the rep commitment supported."),
            _c("due", "TEXT", "Last day of its window, latest terms."),
            _c("closed_on", "TEXT", "Business date of its close, if closed."),
            _c("released_on", "TEXT", "Business date of its release, if released."),
            _c("ended_on", "TEXT", "`closed_on` or `released_on`; null while open."),
            _c("hypothesis", "INTEGER", "Rep-owned: 1 if it states a hypothesis (SPEC §4)."),
            _c("proposed_by", "TEXT", "Who proposed it: `rep` or `manager`."),
            _c("two_sided", "INTEGER", "1 if a manager commitment supports it."),
            _c("override", "TEXT", "Reason given to exceed the focus cap, if any."),
            _c("contested", "INTEGER", "1 if a reply contests it."),
            _c(
                "verdict",
                "TEXT",
                "Closed: its verdict after blocking (SPEC §4), or null if no report needed it yet.",
            ),
            _c(
                "metrics",
                "TEXT",
                "`,`-separated activity metrics it and its supporters are judged by "
                "(with a leading and trailing `,`).",
            ),
            _c("watch_start", "TEXT", "Earliest first day of those windows."),
            _c("watch_due", "TEXT", "Latest last day of those windows."),
            _c(
                "known_at",
                "TEXT",
                "The latest `recorded_at` of the rows it was read from: its own, its "
                "revisions, close, release and replies, the manager commitments "
                "supporting it; with a verdict also its check-ins, corrections and "
                "activity in its window, and all of its supporters' rows.",
            ),
            _c(
                "settled_on",
                "TEXT",
                "The latest business date of those rows (agreements, start, revisions, "
                "close, release, replies; with a verdict also check-ins, corrections "
                "and, once closed, the latest due).",
            ),
        ),
        pk=("id",),
        # each count of the report reads one range of one index holding every
        # column it needs (and those that say whether the row serves)
        indexes=(
            (
                "agreed_on",
                "manager",
                "owner",
                "hypothesis",
                "proposed_by",
                "two_sided",
                "known_at",
                "settled_on",
                "verdict",
                "closed_on",
            ),
            ("due", "manager", "ended_on", "known_at", "settled_on", "verdict", "closed_on"),
            (
                "ended_on",
                "manager",
                "owner",
                "released_on",
                "closed_on",
                "verdict",
                "contested",
                "known_at",
                "settled_on",
                "rep",
                "focus",
                "due",
            ),
            ("override", "agreed_on"),
            ("known_at",),
            ("settled_on",),
            ("verdict", "closed_on"),
            ("rep",),
        ),
    ),
    Table(
        "people",
        "Every registered person (SPEC §7.4), as the roster stands now: derived from "
        "the `Person` events, the name opened with the person's key. Finding a person "
        "by name goes through here; a person erased has their row purged of the name "
        "(`erased`). People of a store written before release 3 (names in the events, "
        "not registered) are not rows here: they are read from the tables below as "
        "*legacy persons* (see docs/events.md).",
        (
            _c("subject", "TEXT", "The person's subject id (uuid, hyphenated)."),
            _c("name", "TEXT", "The current name (every table below shows this name)."),
            _c(
                "manager",
                "TEXT",
                "The manager's subject id (or a legacy manager's name); null: none.",
            ),
            _c("team", "TEXT", "The team as registered; null: the manager's team (their name)."),
            _c("region", "TEXT", "The region; null: none."),
            _c("effective", "TEXT", "Since when the roster entry holds (YYYY-MM-DD), if given."),
            _c(
                "listed",
                "INTEGER",
                "1: registered by `people add`/`people import`; 0: on first use.",
            ),
            _c("erased", "INTEGER", "1 once the person was erased (the name is then gone)."),
            RECORDED,
            POSITION,
        ),
        pk=("subject",),
        indexes=(("name",),),
    ),
    Table(
        "merkle_leaves",
        "One row per event of the ledger, in ledger order: the leaves of the RFC 6962 "
        "Merkle tree that checkpoints sign and proofs prove (SPEC §7.3, docs/audit.md). "
        "Every event, of every type, has a leaf. Only `prove` extends it, up to the "
        "position the tables have applied (reads and rebuilds write the tables only), "
        "so it may stop short of the tables, or be empty, until the next proof.",
        (
            _c("rank", "INTEGER", "The leaf index: the event's 0-based rank in ledger order."),
            POSITION,
            _c("hash", "BLOB", "The export line's `hash` of the event (32 bytes)."),
            _c("leaf", "BLOB", "The leaf hash: SHA-256(0x00 ‖ the event's canonical bytes)."),
        ),
        pk=("rank",),
        unique=("position",),
    ),
    Table(
        "key_state",
        "What the key store held when the read model last opened sealed text "
        "(SPEC §7.4): a read whose key store has since changed (a key destroyed "
        "by an erasure, keys restored, the store lost) rebuilds the read model "
        "first, so no clear text of an erased person outlives the erasure.",
        (
            _c("name", "TEXT", "Always `keys`."),
            _c("live", "INTEGER", "Keys present in the key store."),
            _c("destroyed", "INTEGER", "Keys destroyed (people erased)."),
            _c(
                "missing",
                "INTEGER",
                "1 once a value read `[erased]` because its key was absent without "
                "having been destroyed (a lost store): keys added later rebuild too.",
            ),
        ),
        pk=("name",),
    ),
    Table(
        "merkle_nodes",
        "The hash of every complete subtree of the Merkle tree above the leaves: "
        "what an inclusion or consistency proof needs, so no proof rebuilds the tree.",
        (
            _c("level", "INTEGER", "Height of the subtree: it holds 2^level leaves (level ≥ 1)."),
            _c("number", "INTEGER", "Which subtree: its first leaf is number × 2^level."),
            _c("hash", "BLOB", "SHA-256(0x01 ‖ left child ‖ right child) (32 bytes)."),
        ),
        pk=("level", "number"),
    ),
)

BY_NAME = {t.name: t for t in TABLES}

CACHES = ("report_verdicts", "report_commitments")
"""The tables the report fills (issue 19): not built by catch-up or a rebuild
(which leaves them empty), so never compared with a rebuild row for row."""

_FORGET_COMMITMENT = "DELETE FROM report_verdicts WHERE id = NEW.commitment_id;"
_FORGET_ACTIVITY = (
    "DELETE FROM report_verdicts WHERE rep = NEW.rep "
    "AND (metric = NEW.metric OR expect_metric = NEW.metric) "
    "AND NEW.date >= start AND NEW.date <= due;"
)
# report_commitments: a row of a commitment, or of a manager commitment
# supporting it, deletes the row of both
_FORGET_COUNTED = (
    "DELETE FROM report_commitments WHERE id = NEW.commitment_id "
    "OR id = (SELECT c.supports FROM commitments c WHERE c.id = NEW.commitment_id);"
)
_FORGET_COUNTED_ACTIVITY = (
    "DELETE FROM report_commitments WHERE rep = NEW.rep "
    "AND instr(metrics, ',' || NEW.metric || ',') > 0 "
    "AND NEW.date >= watch_start AND NEW.date <= watch_due;"
)
TRIGGERS: tuple[tuple[str, str, str, str], ...] = tuple(
    (f"{cache}_{table}_{when.lower()}", when, table, body)
    for cache, table, body in (
        ("report_verdicts", "revisions", _FORGET_COMMITMENT),
        ("report_verdicts", "check_ins", _FORGET_COMMITMENT),
        ("report_verdicts", "corrections", _FORGET_COMMITMENT),
        ("report_verdicts", "closes", _FORGET_COMMITMENT),
        ("report_verdicts", "releases", _FORGET_COMMITMENT),
        ("report_verdicts", "commitments", "DELETE FROM report_verdicts WHERE id = NEW.id;"),
        ("report_verdicts", "activity_daily", _FORGET_ACTIVITY),
        ("report_commitments", "revisions", _FORGET_COUNTED),
        ("report_commitments", "check_ins", _FORGET_COUNTED),
        ("report_commitments", "corrections", _FORGET_COUNTED),
        ("report_commitments", "closes", _FORGET_COUNTED),
        ("report_commitments", "releases", _FORGET_COUNTED),
        ("report_commitments", "replies", _FORGET_COUNTED),
        (
            "report_commitments",
            "commitments",
            "DELETE FROM report_commitments WHERE id = NEW.id OR id = NEW.supports;",
        ),
        ("report_commitments", "activity_daily", _FORGET_COUNTED_ACTIVITY),
    )
    for when in ("INSERT", "UPDATE")
)
"""``(name, INSERT or UPDATE, table, body)``: what keeps ``report_verdicts``
and ``report_commitments`` true whichever writer applies the ledger (the SQL pages or the Python
applier) and however activity arrives: a row written (or merged into, as
``activity_daily``'s upsert does) that could change a cached verdict or
counted row deletes it. Created with the secondary indexes (after a rebuild's replay, when the
cache is empty)."""


def trigger_sql(name: str, when: str, table: str, body: str) -> str:
    return f"CREATE TRIGGER IF NOT EXISTS [{name}] AFTER {when} ON [{table}] BEGIN {body} END"


def markdown() -> str:
    """The table reference of ``docs/read-model.md`` (generated from :data:`TABLES`)."""
    out: list[str] = []
    for t in TABLES:
        out.append(f"### `{t.name}`\n\n{t.doc}\n")
        out.append(f"Primary key: ({', '.join(t.pk)})" + ".")
        if t.unique:
            out.append(f" Unique: ({', '.join(t.unique)}).")
        if t.indexes:
            idx = "; ".join("(" + ", ".join(i) + ")" for i in t.indexes)
            out.append(f" Indexes: {idx}.")
        out.append("\n\n| column | type | meaning |\n|---|---|---|\n")
        for c in t.columns:
            out.append(f"| `{c.name}` | {c.type} | {c.doc} |\n")
        out.append("\n")
    return "".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
