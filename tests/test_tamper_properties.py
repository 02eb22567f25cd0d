"""Every edit that changes what the ledger answers is caught (SPEC §7.2; SQLite).

Random valid command sequences (the histories of
``tests/test_projection_properties.py``), a read (so the views file exists),
the head digest kept, then ONE random edit: a single byte or a single field of
a stored event (its state, stream id, version or topic), or a single field or
row of the views file. Before any read, three checks run: ``projections
verify``, plain ``verify`` and ``verify --digest <the head before the edit>``.
Then ``history`` (every rep) and ``report coaching`` are read at two instants.
The property: if any of those outputs differs from before the edit, at least
one check refused it (exit 4).

Beyond that property, each check is held to what it promises. Plain
``verify`` refuses every edit that leaves an event's stored bytes
non-canonical (judged here independently: UTF-8, a JSON object without
duplicate keys, equal to its canonical dump; a stream id of 32 lower-case hex
digits). ``verify --digest`` refuses every edit of an event. An edit of the
views file leaves both ledger checks at exit 0. No check ever ends with
anything but 0 or 4.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
from pathlib import Path
from typing import Any
from uuid import UUID

from click.testing import CliRunner
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from ledger.application import Ledger
from tests.budget import examples
from tests.test_projection_properties import REPS, Clock, apply, ops

AS_OF = ("2026-01-05T12:00:00Z", "2026-03-31T00:00:00Z")
ON = "2026-03-01"
TOPICS = (
    "ledger.domain:Commitment.CheckInRecorded",
    "ledger.domain:Commitment.Closed",
    "ledger.domain:Commitment.Released",
)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("duplicate key")
    return dict(pairs)


def canonical_row(db: str, rowid: int) -> bool:
    """Are the stored bytes of event ``rowid`` canonical (SPEC §7.2)? Written
    out independently of the ledger's code."""
    conn = sqlite3.connect(db)
    try:
        sid, state = conn.execute(
            "SELECT CAST(originator_id AS BLOB), state FROM stored_events WHERE rowid = ?",
            (rowid,),
        ).fetchone()
    finally:
        conn.close()
    if not isinstance(state, bytes) or not re.fullmatch(rb"[0-9a-f]{32}", bytes(sid)):
        return False
    try:
        text = state.decode("utf-8")
        obj = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError:
        return False
    dump = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return isinstance(obj, dict) and dump == text


def run(db: str, views: str, *args: str) -> tuple[int, str]:
    from cli.main import cli

    result = CliRunner().invoke(cli, ["--db", db, "--views", views, "--actor", "t", *args])
    return result.exit_code, result.stdout


def outputs(db: str, views: str) -> list[tuple[int, str]]:
    out = []
    for as_of in AS_OF:
        for rep in REPS:
            out.append(
                run(db, views, "history", rep, "--format", "json", "--as-of", as_of, "--on", ON)
            )
        out.append(
            run(db, views, "report", "coaching", "--format", "json", "--as-of", as_of, "--on", ON)
        )
    return out


def _mutate(value: Any, how: int) -> Any:
    """A different value of a JSON field (or of a column)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + (1 if how % 2 else -0.5)
    if isinstance(value, str):
        if not value:
            return "x"
        i = how % len(value)
        ch = value[i]
        new = ch.upper() if ch.islower() else ch.lower() if ch.isupper() else chr(ord(ch) ^ 1)
        return value[:i] + new + value[i + 1 :]
    if isinstance(value, list):
        return [*value, "x"]
    if value is None:
        return 1
    return value


N = st.integers(0, 10**6)  # an index, taken modulo the size of what it picks from
EDITS = st.one_of(
    st.tuples(st.just("event byte"), N, st.sampled_from(["state", "originator_id", "topic"]), N,
              st.integers(0, 255)),
    st.tuples(st.just("event field"), N, N, N),
    st.tuples(st.just("event column"), N, st.sampled_from(["version", "topic", "stream case"]), N),
    st.tuples(st.just("views field"), N, N, N, N),
    st.tuples(st.just("views row"), N, N),
)  # fmt: skip


def edit(db: str, views: str, change: tuple[Any, ...]) -> tuple[str, int | None]:
    """Apply one edit; return what it did (hypothesis prints it on failure) and
    the position of the edited event (None for an edit of the views file)."""
    kind = change[0]
    target = views if kind.startswith("views") else db
    conn = sqlite3.connect(target)
    try:
        if kind.startswith("event"):
            rows = conn.execute("SELECT rowid FROM stored_events ORDER BY rowid").fetchall()
            assume(rows)
            rowid = rows[change[1] % len(rows)][0]
            stream, version, topic, state = conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM stored_events "
                "WHERE rowid = ?",
                (rowid,),
            ).fetchone()
        if kind == "event byte":
            _, _, column, at, byte = change
            old = {
                "state": bytes(state),
                "originator_id": stream.encode(),
                "topic": topic.encode(),
            }[column]
            i = at % len(old)
            assume(old[i] != byte)
            new = old[:i] + bytes([byte]) + old[i + 1 :]
            value: Any = new
            if column != "state":
                try:
                    value = new.decode()
                except UnicodeDecodeError:
                    value = new
            conn.execute(f"UPDATE stored_events SET {column} = ? WHERE rowid = ?", (value, rowid))
            done = f"event {rowid}: byte {i} of {column} {old[i]:#x} -> {byte:#x}"
        elif kind == "event field":
            data = json.loads(state)
            keys = sorted(data)
            key = keys[change[2] % len(keys)]
            data[key] = _mutate(data[key], change[3])
            assume(data[key] != json.loads(state)[key])
            blob = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
            conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (blob, rowid))
            done = f"event {rowid}: field {key} -> {data[key]!r}"
        elif kind == "event column":
            what = change[2]
            if what == "version":
                sql, value = "originator_version = ?", version + (1 if change[3] % 2 else -1)
            elif what == "topic":
                others = [t for t in TOPICS if t != topic]
                sql, value = "topic = ?", others[change[3] % len(others)]
            else:
                assume(stream != stream.upper())
                sql, value = "originator_id = ?", stream.upper()
            try:
                conn.execute(f"UPDATE stored_events SET {sql} WHERE rowid = ?", (value, rowid))
            except sqlite3.IntegrityError:
                assume(False)
            done = f"event {rowid}: {what} -> {value!r}"
        else:
            tables = [
                r[0]
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if conn.execute(f"SELECT count(*) FROM [{r[0]}]").fetchone()[0]
            ]
            assume(tables)
            table = tables[change[1] % len(tables)]
            rowids = [r[0] for r in conn.execute(f"SELECT rowid FROM [{table}] ORDER BY rowid")]
            rowid = rowids[change[2] % len(rowids)]
            if kind == "views row":
                conn.execute(f"DELETE FROM [{table}] WHERE rowid = ?", (rowid,))
                done = f"views: deleted row {rowid} of {table}"
            else:
                cols = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])")]
                col = cols[change[3] % len(cols)]
                old_value = conn.execute(
                    f"SELECT [{col}] FROM [{table}] WHERE rowid = ?", (rowid,)
                ).fetchone()[0]
                new_value = _mutate(old_value, change[4])
                assume(new_value != old_value)
                if isinstance(new_value, list):
                    new_value = json.dumps(new_value)
                try:
                    conn.execute(
                        f"UPDATE [{table}] SET [{col}] = ? WHERE rowid = ?", (new_value, rowid)
                    )
                except sqlite3.IntegrityError:
                    assume(False)
                done = f"views: {table} row {rowid} {col} {old_value!r} -> {new_value!r}"
        conn.commit()
    finally:
        conn.close()
    return done, rowid if kind.startswith("event") else None


@settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=st.lists(ops, min_size=8, max_size=30), change=EDITS)
def test_every_edit_that_changes_an_answer_is_caught(
    history: list[tuple[Any, ...]], change: tuple[Any, ...]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db, views = str(Path(tmp) / "ledger.db"), str(Path(tmp) / "ledger.views.db")
        clock = Clock()
        ledger = Ledger.open(db, clock=clock)
        try:
            made: list[UUID] = []
            for op in history:
                apply(ledger, clock, op, made)
        finally:
            ledger.close()
        before = outputs(db, views)
        code, out = run(db, views, "verify")
        assert code == 0
        digest = out.split()[1]

        done, edited = edit(db, views, change)
        canonical = edited is None or canonical_row(db, edited)

        checks = {
            "projections verify": run(db, views, "projections", "verify")[0],
            "verify": run(db, views, "verify")[0],
            "verify --digest": run(db, views, "verify", "--digest", digest)[0],
        }
        after = outputs(db, views)
        changed = after != before
        caught = [name for name, code in checks.items() if code == 4]
        event(
            f"{change[0]}{'' if canonical else ' (not canonical)'}: answers "
            f"{'changed' if changed else 'same'}, refused by {caught}"
        )
        assert not changed or caught, f"{done}: answers changed, checks {checks}"
        assert set(checks.values()) <= {0, 4}, f"{done}: {checks}"
        if edited is None:
            assert checks["verify"] == checks["verify --digest"] == 0, f"{done}: {checks}"
        else:
            assert checks["verify --digest"] == 4, f"{done}: {checks}"
            assert canonical or checks["verify"] == 4, f"{done}: not canonical, {checks}"
