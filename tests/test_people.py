"""The people registry (SPEC §7.4): subject ids in the events, names sealed in
the person's own events and found through the read model; the roster, strict
names, renames, and stores written before it (legacy names)."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any
from uuid import uuid5

from ledger import commands as cmd
from ledger.application import Ledger
from ledger.streams import NAMESPACE
from tests.conftest import CRM, Cli, event_count, subject_of
from tests.test_audit import export_of

TEAMS = CRM / "sales_teams.csv"
ROSTER = (
    "people", "import", str(TEAMS), "--name-column", "sales_agent",
    "--manager-column", "manager", "--region-column", "regional_office",
)  # fmt: skip
START = "2026-01-05"


def crm_roster() -> list[dict[str, str]]:
    with TEAMS.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def agree(cli: Cli, rep: str, manager: str, *extra: str) -> Any:
    return cli(
        ["agree", "--rep", rep, "--manager", manager, "--focus", "prospecting",
        "--behavior", "calls", "--target", "5", "--start", START, *extra],
    )  # fmt: skip


def people(cli: Cli, *args: str) -> list[dict[str, Any]]:
    return json.loads(cli.ok(["people", "list", *args, "--format", "json"]))  # type: ignore[no-any-return]


def refused(result: Any, code: int, *words: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# -- the roster -------------------------------------------------------------------


def test_the_crm_roster_registers_35_agents_each_reporting_to_their_manager(cli: Cli) -> None:
    rows = crm_roster()
    assert len(rows) == 35
    result = cli(ROSTER)
    assert result.exit_code == 0, result.stderr
    managers = {r["manager"] for r in rows}
    assert f"35 people read, {35 + len(managers)} registered" in result.stderr

    listed = {p["name"]: p for p in people(cli)}
    for r in rows:
        p = listed[r["sales_agent"]]
        assert (p["manager"], p["team"], p["region"], p["erased"]) == (
            r["manager"], r["manager"], r["regional_office"], False,
        )  # fmt: skip
        assert p["subject"] == subject_of(cli.db, r["sales_agent"])
    for m in managers:
        assert listed[m]["manager"] is None
    assert set(listed) >= {r["sales_agent"] for r in rows} | managers
    subjects = [p["subject"] for p in listed.values()]
    assert len(set(subjects)) == len(subjects)
    # the same roster again changes nothing; one move is one dated roster change
    before = event_count(cli.db)
    again = cli(ROSTER)
    assert "0 registered, 0 roster changes, 35 unchanged" in again.stderr
    assert event_count(cli.db) == before


def test_a_roster_change_is_a_new_dated_event_and_history_keeps_the_manager(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok(ROSTER)
    cid = agree(cli, "Anna Snelling", "Dustin Brinkmann")
    assert cid.exit_code == 0, cid.stderr
    moved = tmp_path / "moved.csv"
    moved.write_text("agent,boss,office\nAnna Snelling,Melvin Marxen,West\n", encoding="utf-8")
    before = len(export_of(cli.db))
    result = cli(
        f"people import {moved} --name-column agent --manager-column boss --region-column office "
        "--effective 2026-03-01",
    )
    assert result.exit_code == 0, result.stderr
    assert "0 registered, 1 roster changes, 0 unchanged" in result.stderr
    lines = export_of(cli.db)
    assert len(lines) == before + 1
    change = lines[-1]
    assert change["type"] == "ledger.domain:Person.RosterChanged"
    assert change["data"]["effective"] == "2026-03-01"
    assert change["data"]["manager"] == subject_of(cli.db, "Melvin Marxen")
    shown = json.loads(cli.ok("people show 'Anna Snelling' --format json"))
    assert (shown["manager"], shown["region"]) == ("Melvin Marxen", "West")
    history = json.loads(cli.ok("history 'Anna Snelling' --format json"))
    assert [c["manager"] for c in history["commitments"]] == ["Dustin Brinkmann"]


def test_team_region_lists_exactly_the_regions_agents_with_commitments(cli: Cli) -> None:
    rows = crm_roster()
    cli.ok(ROSTER)
    # every third agent gets a commitment, and one rep outside the roster too
    with_commitments = rows[::3]
    for r in with_commitments:
        result = agree(cli, r["sales_agent"], r["manager"])
        assert result.exit_code == 0, result.stderr
    assert agree(cli, "Outside Rep", "Dustin Brinkmann", "--new-person").exit_code == 0
    for region in sorted({r["regional_office"] for r in rows}):
        expected = {r["sales_agent"] for r in with_commitments if r["regional_office"] == region}
        assert expected
        team = json.loads(cli.ok(["team", "--region", region, "--format", "json"]))
        assert {x["rep"] for x in team["reps"]} == expected
    central = {r["sales_agent"] for r in with_commitments if r["regional_office"] == "Central"}
    by_team = json.loads(cli.ok("team --team 'Dustin Brinkmann' --format json"))
    assert {x["rep"] for x in by_team["reps"]} == {
        r["sales_agent"] for r in with_commitments if r["manager"] == "Dustin Brinkmann"
    }
    both = json.loads(cli.ok("team --region Central --team Nobody --format json"))
    assert both["reps"] == [] and central
    everyone = json.loads(cli.ok("team --format json"))
    assert "Outside Rep" in {x["rep"] for x in everyone["reps"]}


# -- strict names -------------------------------------------------------------------


def test_before_the_registry_is_used_people_are_registered_on_first_use(cli: Cli) -> None:
    assert agree(cli, "alice", "bob").exit_code == 0
    assert {"alice", "bob", "tester"} <= {p["name"] for p in people(cli)}


def test_after_people_import_an_unregistered_name_is_refused_with_the_closest(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok(ROSTER)
    before = event_count(cli.db)
    line = refused(agree(cli, "Ana Snelling", "Dustin Brinkmann"), 3, "'Ana Snelling'")
    assert "did you mean 'Anna Snelling'" in line and "--new-person" in line
    refused(agree(cli, "Anna Snelling", "Dustin Brinkman"), 3, "'Dustin Brinkmann'")
    refused(
        cli(f"session record --rep 'Ana Snelling' --manager 'Dustin Brinkmann' --on {START}"),
        3, "did you mean 'Anna Snelling'",
    )  # fmt: skip
    rows = tmp_path / "calls.csv"
    rows.write_text("rep,day\nAnna Snelling,2026-01-05\nAna Snelling,2026-01-06\n", "utf-8")
    imported = ("activity", "import", str(rows), "--metric", "calls", "--rep-column", "rep",
                "--date-column", "day")  # fmt: skip
    refused(cli(imported), 3, "line 3", "did you mean 'Anna Snelling'")
    assert event_count(cli.db) == before
    # --new-person registers the new name with the command
    assert agree(cli, "Ana Snelling", "Dustin Brinkmann", "--new-person").exit_code == 0
    assert cli(imported).exit_code == 0
    assert "Ana Snelling" in {p["name"] for p in people(cli)}


def test_people_add_registers_once_and_checks_every_name(cli: Cli) -> None:
    subject = cli.ok("people add 'Dana Lee' --manager 'Omar Reyes' --region West")
    assert subject == subject_of(cli.db, "Dana Lee")
    before = event_count(cli.db)
    refused(cli("people add 'Dana Lee'"), 4, "registered already")
    refused(cli("people add '  '"), 2, "name")
    refused(cli(["people", "add", "x" * 101]), 2, "at most 100")
    refused(cli("people add Eve --manager 'Omar Reyess'"), 3, "'Omar Reyes'")
    refused(cli("people add Eve --manager Eve"), 2, "own manager")
    refused(cli("people add Eve --effective 2026-13-01"), 2, "--effective")
    assert event_count(cli.db) == before
    refused(cli("people show 'Dana Le'"), 3, "did you mean 'Dana Lee'")


def test_a_roster_file_with_a_bad_cell_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "name,boss\nAnna,Bob\n,Bob\nCarl,Carl\nDora,x\x07y\n" + "Eve," + "z" * 101 + "\n",
        encoding="utf-8",
    )
    result = cli(["people", "import", str(bad), "--name-column", "name",
                 "--manager-column", "boss"])  # fmt: skip
    assert result.exit_code == 2, result.stderr
    errors = result.stderr.strip().splitlines()
    assert [e.split(": ", 1)[0] for e in errors[:-1]] == [f"{bad}:{n}" for n in (3, 4, 5, 6)]
    assert "4 bad rows of 5" in errors[-1]
    assert event_count(cli.db) == 0
    header = cli(["people", "import", str(bad), "--name-column", "nom"])
    assert header.exit_code == 2 and "column 'nom' is not in the header" in header.stderr


# -- rename ---------------------------------------------------------------------


def test_a_rename_shows_the_new_name_everywhere_and_keeps_history(cli: Cli) -> None:
    cid = agree(cli, "alice", "bob").stdout.strip()
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    at = ("--as-of", "2099-12-31", "--format", "json")
    before = json.loads(cli.ok(["history", "alice", *at]))
    lines_before = export_of(cli.db)
    cli.ok("people rename alice --to Alicia")
    lines = export_of(cli.db)
    assert lines[:-1] == lines_before  # nothing edited: one new event
    assert lines[-1]["type"] == "ledger.domain:Person.Renamed"
    assert "Alicia" not in json.dumps(lines)  # sealed
    after = json.loads(cli.ok(["history", "Alicia", *at]))
    assert after == json.loads(json.dumps(before).replace('"alice"', '"Alicia"'))
    refused(cli("history alice"), 3, "'alice'")
    assert {c["rep"] for c in json.loads(cli.ok("list --format json"))} == {"Alicia"}
    shown = json.loads(cli.ok(f"show {cid} --format json"))
    assert shown["rep"] == "Alicia"
    # the read model is derived: a rebuild gives the same
    cli.ok("projections rebuild")
    assert json.loads(cli.ok(["history", "Alicia", *at])) == after
    assert "match a rebuild" in cli.ok("projections verify")
    # the new name is not free for someone else, the old one is not known any more
    refused(cli("people rename bob --to Alicia"), 4, "already names")
    refused(cli("people rename alice --to Al"), 3, "'alice'")


# -- no name in a stream id or a hash -------------------------------------------


def test_no_name_is_in_any_stream_id_stored_event_or_row_hash(cli: Cli, tmp_path: Path) -> None:
    names = ["Anna Snelling", "Dustin Brinkmann", "tester"]
    sid = cli.ok(["session", "record", "--rep", names[0], "--manager", names[1], "--on", START])
    cid = agree(cli, names[0], names[1], "--session", sid).stdout.strip()
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    cli.ok(f"close {cid} --on 2026-02-04 --result met")
    rows = tmp_path / "calls.csv"
    rows.write_text(f"rep,day\n{names[0]},2026-01-05\n", "utf-8")
    cli.ok(["activity", "import", str(rows), "--metric", "calls", "--rep-column", "rep",
           "--date-column", "day"])  # fmt: skip
    lines = export_of(cli.db)
    text = json.dumps(lines, ensure_ascii=False).casefold()
    for name in names:
        assert name.casefold() not in text
        assert json.dumps(name).casefold() not in text
    streams = {x["stream"] for x in lines}
    for name in names:
        assert str(uuid5(NAMESPACE, "rep-workload:" + name)) not in streams
    # the row's derived source id hashes the rep's subject id, not the name
    (chunk,) = [x for x in lines if x["type"] == "ledger.domain:ActivityChunk.Recorded"]
    ((rep, _day, _value, source_id),) = chunk["data"]["rows"]
    subject = subject_of(cli.db, names[0])
    assert rep == subject

    def row_hash(rep: str) -> str:
        pairs = sorted(zip(["rep", "day"], [rep, "2026-01-05"], strict=True))
        data = json.dumps(pairs, ensure_ascii=False, separators=(",", ":")).encode()
        return "sha256:" + hashlib.sha256(data).hexdigest()

    assert source_id == row_hash(subject) != row_hash(names[0])
    # every read still prints the names
    assert json.loads(cli.ok(f"show {cid} --format json"))["rep"] == names[0]
    assert {e["actor"] for e in json.loads(cli.ok(f"show {cid} --format json"))["log"]} == {
        "tester"
    }


# -- stores written before the registry -------------------------------------------


def test_a_store_with_names_in_clear_keeps_reading_and_its_people_are_registered_on_use(
    cli: Cli,
) -> None:
    """Events written by release 2 (names in the person fields, workloads keyed
    by name): reads show them as before; a new command naming them registers
    them, and the focus cap still counts their open commitments."""
    from tests.conftest import ticking_clock

    ledger = Ledger.open(cli.db, clock=ticking_clock())
    try:
        for focus in ("prospecting", "pipeline"):
            ledger.agree(
                cmd.validate(
                    cmd.Agree,
                    rep="alice",
                    manager="bob",
                    focus=focus,
                    behavior="calls",
                    target=5.0,
                    start=START,
                    due="2026-02-01",
                    actor="bob",
                )
            )
    finally:
        ledger.close()
    old = json.loads(cli.ok("history alice --format json"))
    assert len(old["commitments"]) == 2
    legacy = {p["name"]: p for p in people(cli)}
    assert legacy["alice"]["subject"] == str(uuid5(NAMESPACE, "legacy-person:alice"))
    # a third focus area is refused: the legacy workload's two count
    result = cli(
        "agree --rep alice --manager bob --focus discovery --behavior demos --target 2 "
        f"--start {START}",
    )
    refused(result, 4, "focus cap")
    cid = agree(cli, "alice", "bob").stdout.strip()  # prospecting: within the cap
    assert len(cid) == 36
    history = json.loads(cli.ok("history alice --format json"))
    assert len(history["commitments"]) == 3
    assert subject_of(cli.db, "alice") in {x["data"].get("rep") for x in export_of(cli.db)}


def test_an_export_with_names_in_clear_imports_upgraded_with_its_verdicts(
    db: str, other_db: str, tmp_path: Path
) -> None:
    """A release-2 store's export (names in clear, name-keyed workloads, row
    hashes over names) imports as registered people with sealed names: the
    same reads, no name in the new events, a new hash chain that verifies."""
    from tests.test_audit import build_sample, write_jsonl

    build_sample(db)  # the library writes what it is given: names, as release 2 did
    old = Cli(db=db, views=str(tmp_path / "old.views.db"))
    rows = tmp_path / "calls.csv"
    rows.write_text("rep,day\nalice,2026-01-05\n", "utf-8")
    ledger = Ledger.open(db)
    try:  # an activity row without an id column, as release 2 hashed it (name included)
        from ledger.activity_import import import_csv
        from ledger.formats.activity_csv import ImportOptions

        with rows.open("rb") as f:
            import_csv(ledger, f, ImportOptions("calls", "rep", "day"), actor="crm")
    finally:
        ledger.close()
    lines = export_of(db)
    assert any(x["data"].get("rep") == "alice" for x in lines)
    path = write_jsonl(tmp_path / "old.jsonl", lines)
    new = Cli(db=other_db, views=str(tmp_path / "new.views.db"))
    result = new(f"import --upgrade {path}")
    assert result.exit_code == 0, result.stderr
    at = ("--as-of", "2099-12-31", "--format", "json")
    for rep in ("alice",):
        assert new.ok(["history", rep, *at]) == old.ok(["history", rep, *at])
    assert new.ok(["report", "coaching", *at]) == old.ok(["report", "coaching", *at])
    upgraded = export_of(other_db)
    text = json.dumps(upgraded).casefold()
    for name in ("alice", "bob", "tester", "crm"):
        assert f'"{name}"' not in text
    assert {p["name"] for p in people(new)} >= {"alice", "bob", "tester", "crm"}
    new.ok("verify")  # the new chain verifies (exit 0)
    # the upgraded file imports again as it is, --upgrade or not: nothing new
    for args in ((), ("--upgrade",)):
        again = new(["import", *args, write_jsonl(tmp_path / "new.jsonl", upgraded)])
        assert again.exit_code == 0 and "imported 0" in again.stderr, again.stderr


# -- reports by team and region ----------------------------------------------------


def test_report_coaching_groups_by_region_and_team_of_the_reps(cli: Cli) -> None:
    rows = crm_roster()
    cli.ok(ROSTER)
    chosen = rows[::4]
    for r in chosen:
        assert agree(cli, r["sales_agent"], r["manager"]).exit_code == 0
    at = ("--as-of", "2099-12-31", "--on", "2026-01-31", "--format", "json")
    by_manager = json.loads(cli.ok(["report", "coaching", *at]))
    for by, column in (("region", "regional_office"), ("team", "manager")):
        report = json.loads(cli.ok(["report", "coaching", "--group-by", by, *at]))
        assert report["group_by"] == by and "managers" not in report
        expected: dict[str, int] = {}
        for r in chosen:
            expected[r[column]] = expected.get(r[column], 0) + 1
        got = {g["group"]: g["rep_commitments_agreed"] for g in report["groups"]}
        assert {k: v for k, v in got.items() if v} == expected
        assert report["team"] == by_manager["team"]  # the total is everyone's either way
    # the fast path and the reference (every commitment judged) agree, grouped too
    from projections.coaching import coaching_report
    from projections.query import ReadModel, moment

    rm = ReadModel(cli.views)
    try:
        when = moment("2099-12-31", "2026-01-31")
        for by in ("team", "region"):
            fast = coaching_report(rm, when, group_by=by).as_dict()
            assert fast == coaching_report(rm, when, group_by=by, judge_all=True).as_dict()
    finally:
        rm.close()
    refused(cli("report coaching --group-by region --manager 'Cara Losch'"),
            2, "--group-by manager")  # fmt: skip
    table = cli.ok("report coaching --group-by region")
    assert "by region" in table and "Central" in table


def test_both_catch_up_paths_and_any_page_size_give_the_same_people_and_names(
    sqlite_db: str, tmp_path: Path
) -> None:
    """Registrations, roster changes and renames, applied inside SQLite (a SQLite
    ledger) or row by row in Python (PostgreSQL's way), in pages of any size,
    give the same tables as one rebuild."""
    from unittest import mock

    from projections import catchup
    from projections.catchup import catch_up, rebuild, table_dump

    cli = Cli(sqlite_db, str(tmp_path / "v.db"))
    cli.ok(ROSTER)
    cid = agree(cli, "Anna Snelling", "Dustin Brinkmann").stdout.strip()
    cli.ok(f"check-in {cid} --on 2026-01-09 --actual 4")
    cli.ok("people rename 'Dustin Brinkmann' --to 'Dustin B.'")
    agree(cli, "alice", "Dustin B.", "--new-person")
    cli.ok("people rename 'Anna Snelling' --to 'Anna S.'")
    dumps = []
    ledger = Ledger.open(sqlite_db)
    try:
        for n, (in_sqlite, page) in enumerate(
            [(True, 10000), (False, 10000), (True, 3), (False, 2)]
        ):
            views = str(tmp_path / f"views{n}.db")
            with mock.patch.object(catchup, "USE_SQL", in_sqlite):
                if page == 10000:
                    rebuild(ledger, views)
                else:
                    while catch_up(ledger, views, page_size=page, max_pages=1):
                        pass
            dumps.append(table_dump(views))
    finally:
        ledger.close()
    assert all(d == dumps[0] for d in dumps[1:])
    names = {row[1] for row in dumps[0]["people"]}
    assert {"Anna S.", "Dustin B.", "alice"} <= names and "Anna Snelling" not in names
    assert {row[1] for row in dumps[0]["commitments"]} == {"Anna S.", "alice"}
    assert {row[2] for row in dumps[0]["commitments"]} == {"Dustin B."}


def test_renaming_a_legacy_name_rewrites_its_old_rows_in_any_page_size(
    sqlite_db: str, tmp_path: Path
) -> None:
    """A name written in clear by an older release is renamed by registering it
    and renaming it: its old rows show the new name, and a rebuild in one page
    (the rename inside it) gives what catch-ups page by page give."""
    from unittest import mock

    from projections import catchup
    from projections.catchup import catch_up, rebuild, table_dump
    from tests.test_audit import build_sample

    build_sample(sqlite_db)  # names in clear, as release 2 wrote them
    cli = Cli(sqlite_db, str(tmp_path / "v.db"))
    cli.ok("people rename alice --to Alicia")
    assert {c["rep"] for c in json.loads(cli.ok("list --format json"))} == {"Alicia"}
    refused(cli("history alice"), 3, "'alice'")
    assert "match a rebuild" in cli.ok("projections verify")
    dumps = []
    ledger = Ledger.open(sqlite_db)
    try:
        for n, (in_sqlite, page) in enumerate([(True, 0), (False, 0), (True, 4), (False, 3)]):
            views = str(tmp_path / f"views{n}.db")
            with mock.patch.object(catchup, "USE_SQL", in_sqlite):
                if not page:
                    rebuild(ledger, views)
                else:
                    while catch_up(ledger, views, page_size=page, max_pages=1):
                        pass
            dumps.append(table_dump(views))
    finally:
        ledger.close()
    assert all(d == dumps[0] for d in dumps[1:])
    assert "alice" not in {row[1] for row in dumps[0]["commitments"]}
