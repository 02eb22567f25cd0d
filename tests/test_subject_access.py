"""``people export`` (issue 14, "Must show"): a subject-access export holds
every event about the person, decrypted, and nothing about anyone else.

A ledger is built through the command line (two reps sharing a manager,
sessions, commitments with notes, check-ins, closes, replies, a manager's
own commitment supporting a rep's, CRM activity, renames), on both
backends. The export of rep A is compared with the event store's own list
of the events that name A (found by searching each stored event for A's
subject id, not by the export's logic), A's texts must be in clear, and a
byte search of the file finds neither rep B (any name B had, any letter
case), nor B's texts, nor the manager's name or own texts.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest

from ledger import commands as cmd
from tests.conftest import Cli
from tests.test_erasure import found_in, name_variants

A, A_NEW = "Anna Snelling", "Anna Snellman"
B, B_NEW = "Björn Quist", "Björn Quistgaard"
MANAGER = "Mara Lind"
A_TEXTS = (
    "asks for help with discovery calls",
    "ten discovery calls a week",
    "pipeline grows by March",
    "ill for three days",
    "loop closed late",
    "the CRM lost my calls",
)
B_TEXTS = (
    "zebra-shadowing plan",
    "walrus demos",
    "walrus pipeline",
    "quokka slump",
    "heron loop",
    "yak reply",
)
MANAGER_TEXTS = ("two ride-alongs booked", "rode along twice", "my reply as manager")


def build(cli: Cli, tmp_path: Path) -> dict[str, str]:
    cli.ok(["people", "add", MANAGER])
    for rep in (A, B):
        cli.ok(["people", "add", rep, "--manager", MANAGER, "--team", "North", "--region", "West"])
    cli.ok(["session", "record", "--rep", A, "--manager", MANAGER, "--on", "2026-01-05",
           "--prepared", "--note", A_TEXTS[0]])  # fmt: skip
    cli.ok(["session", "record", "--rep", B, "--manager", MANAGER, "--on", "2026-01-05",
           "--note", B_TEXTS[0]])  # fmt: skip
    ids = {}
    for rep, behavior, expect, note, close, reply in (
        (A, A_TEXTS[1], A_TEXTS[2], A_TEXTS[3], A_TEXTS[4], A_TEXTS[5]),
        (B, *B_TEXTS[1:]),
    ):
        cid = cli.ok(
            ["agree", "--rep", rep, "--manager", MANAGER, "--focus", "prospecting",
            "--behavior", behavior, "--target", "10", "--per", "week",
            "--start", "2026-01-05", "--due", "2026-01-25", "--expect", expect],
        )  # fmt: skip
        cli.ok(["check-in", cid, "--on", "2026-01-12", "--actual", "8", "--note", note])
        cli.ok(["close", cid, "--on", "2026-01-26", "--result", "missed", "--note", close])
        cli.ok(["reply", cid, "--by", rep, "--text", reply, "--contest", "--on", "2026-01-27"])
        ids[rep] = cid
    mine = cli.ok(
        ["agree", "--rep", A, "--manager", MANAGER, "--owner", "manager",
        "--focus", "prospecting", "--behavior", MANAGER_TEXTS[0], "--target", "2",
        "--per", "window", "--start", "2026-01-05", "--due", "2026-01-25",
        "--supports", ids[A]],
    )  # fmt: skip
    cli.ok(["check-in", mine, "--on", "2026-01-20", "--actual", "2", "--note", MANAGER_TEXTS[1]])
    cli.ok(["close", mine, "--on", "2026-01-26", "--result", "met"])
    cli.ok(["reply", ids[A], "--by", MANAGER, "--text", MANAGER_TEXTS[2], "--on", "2026-01-27"])
    csv = tmp_path / "activity.csv"
    csv.write_text(
        f"id,agent,day,calls\nX1,{A},05-01-26,3\nX2,{B},05-01-26,5\nX3,{A},06-01-26,4\n",
        encoding="utf-8",
    )
    cli.ok(
        f"activity import {csv} --metric calls --rep-column agent --date-column day "
        "--value-column calls --id-column id --date-format %d-%m-%y",
    )
    csv.unlink()
    cli.ok(["people", "rename", A, "--to", A_NEW])
    cli.ok(["people", "rename", B, "--to", B_NEW])
    subjects = {p["name"]: p["subject"] for p in json.loads(cli.ok("people list --format json"))}
    tokens = {
        who: cli.ok(["access", "grant", name, "--role", role])
        for who, name, role in (("A", A_NEW, "rep"), ("B", B_NEW, "rep"), ("M", MANAGER, "manager"))
    }
    cli.ok(["access", "revoke", B_NEW])
    ids = {"A": subjects[A_NEW], "B": subjects[B_NEW], "M": subjects[MANAGER]}
    return ids | {f"token {who}": token for who, token in tokens.items()}


def stored(db: str) -> list[Any]:
    """Every stored event, as the export reads them."""
    from ledger.application import Ledger
    from ledger.audit import records

    ledger = Ledger.open(db)
    try:
        return list(records(ledger))
    finally:
        ledger.close()


def about(events: list[Any], subject: str) -> set[int]:
    """The event store's own list of the events about ``subject``: every event
    whose stored data or stream holds the subject id, and every event of a
    commitment or workload stream whose first event holds it."""
    direct = {r.position for r in events if subject in json.dumps(r.data) or r.stream == subject}
    streams = {
        r.stream
        for r in events
        if r.position in direct and r.type.endswith(("Commitment.Agreed", "RepWorkload.Started"))
    }
    return direct | {r.position for r in events if r.stream in streams}


@pytest.fixture
def ledger(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Cli, dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    return cli, build(cli, tmp_path)


def export_of(cli: Cli, name: str, path: Path) -> tuple[dict[str, Any], bytes]:
    result = cli(["people", "export", name, "-o", str(path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    raw = path.read_bytes()
    return json.loads(raw), raw


def forms_of(subject: str) -> list[bytes]:
    u = uuid.UUID(subject)
    return [str(u).encode(), u.hex.encode()]


def test_the_export_of_a_rep_holds_every_event_about_them_and_nothing_about_anyone_else(
    ledger: tuple[Cli, dict[str, str]], tmp_path: Path
) -> None:
    cli, ids = ledger
    found, raw = export_of(cli, A_NEW, tmp_path / "anna.json")
    events = stored(cli.db)
    expected = about(events, ids["A"])
    assert {e["position"] for e in found["events"]} == expected
    assert found["head"] == events[-1].position
    assert sum(found["counts"].values()) == len(expected)
    # the registry entry: both names, the roster, the manager as a pseudonym
    person = found["person"]
    assert person["subject"] == ids["A"] and person["name"] == A_NEW
    assert [n["name"] for n in person["names"]] == [A, A_NEW]
    assert person["manager"] == "p-" + uuid.UUID(ids["M"]).hex[:8]
    assert (person["team"], person["region"]) == ("North", "West")
    # A's texts in clear, wherever the store holds them sealed under A's key
    text = raw.decode("utf-8")
    for t in A_TEXTS:
        assert t in text, t
    from ledger.keys import is_sealed, open_keystore, sealed_subject

    by_position = {r.position: r for r in events}
    with open_keystore(cli.db, create=False) as store:
        for e in found["events"]:
            for k, v in by_position[e["position"]].data.items():
                if isinstance(v, str) and is_sealed(v):
                    if str(sealed_subject(v)) == ids["A"]:
                        assert e["data"][k] == store.open_text(v) != "[erased]"
                    else:
                        assert e["data"][k] != store.open_text(v) or k == "name"
    # the manager's own commitment and reply stand there, their texts withheld
    withheld = [e for e in found["events"] if e["withheld"]]
    assert {w for e in withheld for w in e["withheld"].values()} == {
        "p-" + uuid.UUID(ids["M"]).hex[:8]
    }
    assert any(e["data"].get("behavior") == "[withheld]" for e in found["events"])
    # nothing about anyone else: no name of B's or the manager's, no text of
    # theirs, not their subject ids, not the actor's name
    needles = name_variants(B) + name_variants(B_NEW) + name_variants(MANAGER)
    assert found_in(raw, needles) == []
    for t in (*B_TEXTS, *MANAGER_TEXTS):
        assert t.encode() not in raw, t
    for who in ("B", "M"):
        for form in forms_of(ids[who]):
            assert form not in raw, who
    assert b"tester" not in raw
    assert b"sealed:v1:" not in raw
    # the access store: A's grant and the log entry of it, no token, nobody else's
    assert [g["role"] for g in found["access"]["grants"]] == ["rep"]
    assert [(e["action"], e["subjects"]) for e in found["access"]["log"]] == [
        ("access.grant", [ids["A"]])
    ]
    for who in ("A", "B", "M"):
        assert ids[f"token {who}"].encode() not in raw
    # what the export holds of the activity: A's rows only (imported as one
    # chunk with B's row, which is left out: it is about B)
    (chunk,) = [e for e in found["events"] if e["type"].endswith("ActivityChunk.Recorded")]
    assert chunk["as"] == ["rep"]
    assert [(row[0], row[2], row[3]) for row in chunk["data"]["rows"]] == [
        (ids["A"], 3, "X1"),
        (ids["A"], 4, "X3"),
    ]


def test_the_export_of_the_manager_holds_the_managers_events(
    ledger: tuple[Cli, dict[str, str]], tmp_path: Path
) -> None:
    cli, ids = ledger
    found, raw = export_of(cli, MANAGER, tmp_path / "mara.json")
    events = stored(cli.db)
    assert {e["position"] for e in found["events"]} == about(events, ids["M"])
    text = raw.decode("utf-8")
    for t in MANAGER_TEXTS[:2] + MANAGER_TEXTS[2:]:
        assert t in text, t
    # the reps' sessions and commitments are there, as the manager's; their texts are not
    needles = name_variants(A) + name_variants(A_NEW) + name_variants(B) + name_variants(B_NEW)
    assert found_in(raw, needles) == []
    for t in (*A_TEXTS, *B_TEXTS):
        assert t.encode() not in raw, t
    for who in ("A", "B"):
        for form in forms_of(ids[who]):
            assert form not in raw, who
    sessions = [e for e in found["events"] if e["type"].endswith("CoachingSession.Held")]
    assert len(sessions) == 2 and {s["data"]["note"] for s in sessions} == {"[withheld]"}
    assert all(s["as"] == ["manager"] for s in sessions)
    # the reps' roster entries naming the manager are there, the reps as pseudonyms
    roster = [e for e in found["events"] if "manager" in e["as"] and "Person" in e["type"]]
    assert {e["stream"] for e in roster} == {"p-" + uuid.UUID(ids[r]).hex[:8] for r in ("A", "B")}
    assert found["person"]["names"][0]["name"] == MANAGER


def test_people_export_refusals_write_nothing(
    ledger: tuple[Cli, dict[str, str]], tmp_path: Path
) -> None:
    cli, ids = ledger
    out = tmp_path / "out.json"
    unknown = cli(["people", "export", "Ana Snellman", "-o", str(out)])
    assert unknown.exit_code == 3 and "Anna Snellman" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1
    old = cli(["people", "export", A, "-o", str(out)])  # a former name is not a person
    assert old.exit_code == 3
    guarded = cli(["people", "export", A_NEW, "-o", "views.db"])
    assert guarded.exit_code == 2
    cli.ok(["people", "erase", B_NEW, "--reason", "request 2026-17"])
    erased = "erased:" + uuid.UUID(ids["B"]).hex[:8]
    gone = cli(["people", "export", erased, "-o", str(out)])
    assert gone.exit_code == 4 and "nothing to export" in gone.stderr
    assert cli(["people", "export", B_NEW, "-o", str(out)]).exit_code == 3  # not confirmable
    assert not out.exists()
    # the others' exports still work after B's erasure, and hold none of B's text
    found, raw = export_of(cli, A_NEW, out)
    assert found_in(raw, name_variants(B_NEW)) == []
    assert {e["position"] for e in found["events"]} == about(stored(cli.db), ids["A"])


def test_stdout_and_the_json_schema(ledger: tuple[Cli, dict[str, str]]) -> None:
    import jsonschema

    cli, _ = ledger
    found = json.loads(cli.ok(["people", "export", A_NEW]))
    schema = json.loads(
        (Path(__file__).resolve().parents[1] / "docs/schemas/subject-access.json").read_text()
    )
    jsonschema.validate(found, schema)


def test_a_person_named_in_clear_by_an_older_store_is_exported_by_that_name(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written before the registry names people in clear (legacy
    names): their events are found by the name, before and after the person
    is registered by a new command, and the other legacy person is a pseudonym."""
    from ledger.application import Ledger
    from ledger.subject_access import legacy_pseudonym
    from tests.conftest import ticking_clock

    monkeypatch.chdir(tmp_path)
    ledger = Ledger.open(cli.db, clock=ticking_clock())
    try:
        ledger.agree(
            cmd.validate(
                cmd.Agree,
                rep="alice",
                manager="bobby",
                focus="prospecting",
                behavior="alice calls",
                target=5.0,
                start="2026-01-05",
                due="2026-02-01",
                actor="bobby",
            )
        )
        ledger.agree(
            cmd.validate(
                cmd.Agree,
                rep="carol",
                manager="bobby",
                focus="prospecting",
                behavior="carol calls",
                target=5.0,
                start="2026-01-05",
                due="2026-02-01",
                actor="bobby",
            )
        )
    finally:
        ledger.close()
    old = cli("people export alice -o alice.json")
    assert old.exit_code == 0, old.stderr
    found = json.loads((tmp_path / "alice.json").read_text("utf-8"))
    events = stored(cli.db)
    legacy = {
        r.position
        for r in events
        if "alice" in json.dumps(r.data)
        or r.stream in {e.stream for e in events if "alice" in json.dumps(e.data)}
    }
    assert {e["position"] for e in found["events"]} == legacy
    assert found["person"]["legacy"] is True and found["person"]["subject"] is None
    assert found["access"] is None
    raw = (tmp_path / "alice.json").read_bytes()
    assert b"alice calls" in raw
    assert b"bobby" not in raw and b"carol" not in raw
    assert legacy_pseudonym("bobby").encode() in raw
    # registered by a new command: the old events and the new ones
    cli.ok(
        "agree --rep alice --manager bobby --focus prospecting --behavior 'alice demos' "
        "--target 2 --start 2026-01-05",
    )
    found = json.loads(cli.ok("people export alice"))
    assert found["person"]["legacy"] is False
    positions = {e["position"] for e in found["events"]}
    assert legacy < positions
    text = json.dumps(found, ensure_ascii=False)
    assert "alice calls" in text and "alice demos" in text
    assert "bobby" not in text and "carol" not in text


def test_another_persons_name_in_a_team_or_in_the_persons_own_text_is_their_pseudonym(
    cli: Cli, tmp_path: Path
) -> None:
    manager = cli.ok(["people", "add", MANAGER])
    cli.ok(["people", "add", A, "--manager", MANAGER, "--team", MANAGER.upper()])
    cli.ok("people add Anna")  # part of A's name: A's own name stays whole
    cli.ok(["session", "record", "--rep", A, "--manager", MANAGER, "--on", "2026-01-05",
           "--note", "agreed with mara lind, not Anna, to call more"])  # fmt: skip
    found, raw = export_of(cli, A, tmp_path / "a.json")
    assert found_in(raw, name_variants(MANAGER)) == []
    mine = "p-" + uuid.UUID(manager).hex[:8]
    assert found["person"]["team"] == mine == found["person"]["manager"]
    assert found["events"][0]["data"]["team"] == mine
    assert found["person"]["name"] == A == found["events"][0]["data"]["name"]
    (session,) = [e for e in found["events"] if e["type"].endswith("CoachingSession.Held")]
    anna = next(p for p in json.loads(cli.ok("people list --format json"))
                if p["name"] == "Anna")  # fmt: skip
    other = "p-" + uuid.UUID(anna["subject"]).hex[:8]
    assert session["data"]["note"] == f"agreed with {mine}, not {other}, to call more"
