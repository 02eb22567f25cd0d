"""``commitments serve``: answers are the CLI's JSON, the caller is the actor,
tokens (revoked, forged, altered), the trusted proxy header, the access log,
errors, and ``commitments access``."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner

from cli.main import cli as root
from tests.conftest import Cli
from tests.serve_support import START, Served, cli_json, is_error, served


@pytest.fixture
def s(db: str, tmp_path: Path) -> Iterator[Served]:
    with served(db, tmp_path) as server:
        yield server


AS_OF = {"as_of": "2099-01-01", "on": START}


# -- the answers are the CLI's -----------------------------------------------------------


def test_every_read_answers_exactly_the_cli_json(s: Served) -> None:
    cid = s.commitment("alice", "bob")
    session = s.session("alice", "bob", note="n")
    t = f"--as-of {AS_OF['as_of']} --on {AS_OF['on']}"
    at = {**AS_OF, "names": 1}  # hr asks for names: the CLI's own answers
    pairs = [
        (s.get(f"/commitments/{cid}", "hugo", **at), cli_json(s.db, s.views, f"show {cid} {t}")),
        (s.get("/commitments", "hugo", **at), cli_json(s.db, s.views, f"list {t}")),
        (
            s.get("/commitments", "hugo", rep="alice", status="open", **at),
            cli_json(s.db, s.views, f"list --rep alice --status open {t}"),
        ),
        (
            s.get("/history", "hugo", rep="alice", window_days=30, **at),
            cli_json(s.db, s.views, f"history alice --window-days 30 {t}"),
        ),
        (
            s.get("/team", "hugo", manager="bob", window_days=30, **at),
            cli_json(s.db, s.views, f"team --manager bob --window-days 30 {t}"),
        ),
        (
            s.get(
                "/sessions", "hugo", rep="alice", names=1, **{"from": START, "as_of": "2099-01-01"}
            ),
            cli_json(s.db, s.views, f"session list --rep alice --from {START} --as-of 2099-01-01"),
        ),
        (
            s.get(f"/sessions/{session}", "bob"),
            cli_json(s.db, s.views, f"session show {session}"),
        ),
        (
            s.get("/reports/coaching", "hugo", manager="bob", **at),
            cli_json(s.db, s.views, f"report coaching --manager bob {t}"),
        ),
    ]
    for response, expected in pairs:
        assert response.status_code == 200, response.json()
        assert response.json() == expected


def test_hr_reads_pseudonymised_unless_they_ask_for_names(s: Served) -> None:
    """SPEC §7.5: hr reads everything, pseudonymised (the CLI's --pseudonymise)
    unless they ask for names; admin keeps names; the choice is in the log."""
    cid = s.commitment("alice", "bob")
    s.post(f"/commitments/{cid}/check-ins", "bob", {"date": START, "actual": 2, "note": "tough"})
    t = f"--as-of {AS_OF['as_of']} --on {AS_OF['on']}"
    for path, params, command in (
        ("/history", {"rep": "alice"}, "history alice"),
        ("/commitments", {}, "list"),
        ("/team", {}, "team"),
        ("/reports/coaching", {}, "report coaching"),
        (f"/commitments/{cid}", {}, f"show {cid}"),
    ):
        hidden = s.get(path, "hugo", **params, **AS_OF)
        named = s.get(path, "hugo", **params, **AS_OF, names=1)
        admin = s.get(path, "ada", **params, **AS_OF)
        plain = cli_json(s.db, s.views, f"{command} {t}")
        assert named.json() == plain and admin.json() == plain
        if command.split()[0] in ("history", "list", "team"):  # the CLI's own pseudonyms
            assert hidden.json() == cli_json(s.db, s.views, f"{command} {t} --pseudonymise")
        text = json.dumps(hidden.json())
        assert "alice" not in text and "bob" not in text and "tough" not in text
    pseudonym = "p-" + s.subjects["alice"].replace("-", "")[:8]
    assert pseudonym in json.dumps(s.get("/history", "hugo", rep="alice").json())
    # what hr is shown, hr may ask by: the pseudonym names the same person
    by_pseudonym = s.get("/history", "hugo", rep=pseudonym, **AS_OF)
    assert by_pseudonym.json() == s.get("/history", "hugo", rep="alice", **AS_OF).json()
    log = [e for e in s.services.access.entries() if e.action == "read.history"]
    assert [(e.role, e.names) for e in log[-2:]] == [("hr", False), ("hr", False)]
    s.get("/history", "hugo", rep="alice", names=1)
    s.get("/history", "ada", rep="alice")
    log = [e for e in s.services.access.entries() if e.action == "read.history"]
    assert [(e.role, e.names, e.subjects) for e in log[-2:]] == [
        ("hr", True, (s.subjects["alice"], s.subjects["bob"])),
        ("admin", True, (s.subjects["alice"], s.subjects["bob"])),
    ]


def test_reads_catch_up_first(s: Served) -> None:
    before = s.get("/history", "alice", rep="alice").json()
    cid = s.commitment("alice", "bob")  # written behind the server's back
    after = s.get("/history", "alice", rep="alice").json()
    assert cid in {c["id"] for c in after["commitments"]}
    assert cid not in {c["id"] for c in before["commitments"]}


def test_collections_keep_only_what_the_caller_may_see(s: Served) -> None:
    s.session("carl", "bob")
    carl = s.commitment("carl", "mona")  # carl reports to bob (a session): all of carl shows
    reps = {
        who: {c["rep"] for c in s.get("/commitments", who, names=1).json()}
        for who in ("alice", "bob", "mona", "hugo", "ada")
    }
    assert reps == {
        "alice": {"alice"},
        "bob": {"alice", "carl"},
        "mona": {"rita", "carl"},
        "hugo": {"alice", "rita", "carl"},
        "ada": {"alice", "rita", "carl"},
    }
    assert s.get(f"/commitments/{carl}", "bob").status_code == 200
    # a filter naming someone out of scope is refused, not answered empty
    assert s.get("/commitments", "alice", manager="mona").status_code == 403
    assert s.get("/team", "bob", manager="mona").status_code == 403
    assert {r["rep"] for r in s.get("/team", "bob").json()["reps"]} == {"alice", "carl"}
    assert {x["rep"] for x in s.get("/sessions", "mona").json()} == {"rita", "carl"}
    assert {x["rep"] for x in s.get("/sessions", "alice").json()} == {"alice"}


def test_the_caller_is_the_actor_of_every_event_written(s: Served) -> None:
    cid = s.post(
        "/commitments",
        "bob",
        {
            "rep": "alice",
            "manager": "bob",
            "focus": "prospecting",
            "behavior": "calls",
            "target": 10,
            "start": START,
        },
    ).json()["id"]
    assert s.post(f"/commitments/{cid}/check-ins", "bob", {"date": START, "actual": 3}).status_code
    shown = s.get(f"/commitments/{cid}", "bob").json()
    assert [e["actor"] for e in shown["log"]] == ["bob", "bob"]
    refused = s.post(
        f"/commitments/{cid}/check-ins", "bob", {"date": START, "actual": 3, "actor": "mona"}
    )
    assert refused.status_code == 422 and is_error(refused, 2)
    assert "actor" in refused.json()["error"]["message"]


def test_a_manager_may_not_record_as_another_manager(s: Served) -> None:
    before = s.events()
    r = s.post("/sessions", "bob", {"rep": "alice", "manager": "mona", "date": START})
    assert r.status_code == 403 and is_error(r, 4)
    assert s.events() == before


def test_the_roster_says_who_reports_to_whom(s: Served) -> None:
    """SPEC §7.5: a manager's reps are the roster's (tess: no commitment, no
    session yet) plus those of commitments and sessions naming them; another
    manager's report is out of reach, even for a session; someone the roster
    gives no manager may be taken on (the session makes them theirs)."""
    nothing_yet = s.get("/history", "bob", rep="tess")  # in scope: nothing recorded yet
    assert nothing_yet.status_code == 404 and "no commitments or sessions" in str(
        nothing_yet.json()
    )
    assert s.get("/sessions", "bob", rep="tess").json() == []
    assert s.get("/history", "mona", rep="tess").status_code == 403
    assert s.get("/sessions", "mona", rep="tess").status_code == 403
    assert (
        s.post("/sessions", "bob", {"rep": "tess", "manager": "bob", "date": START}).status_code
        == 201
    )
    assert s.get("/history", "bob", rep="tess").status_code == 200
    before = s.events()
    r = s.post("/sessions", "bob", {"rep": "rita", "manager": "bob", "date": START})
    assert r.status_code == 403 and is_error(r, 4) and s.events() == before
    assert s.get("/history", "bob", rep="rita").status_code == 403
    s.sub("una")  # registered without a manager
    r = s.post("/sessions", "bob", {"rep": "una", "manager": "bob", "date": START})
    assert r.status_code == 201
    assert s.get("/history", "bob", rep="una").status_code == 200
    assert s.get("/history", "mona", rep="una").status_code == 403


def test_a_roster_change_moves_the_scope_at_once(s: Served) -> None:
    """Scope follows the roster as recorded now, whatever ?on= asks: tess
    moved to mona is mona's, and no longer bob's (she has nothing naming bob)."""
    from datetime import date

    from ledger.people import RosterChange

    assert s.get("/sessions", "bob", rep="tess").status_code == 200
    change = RosterChange(UUID(s.subjects["tess"]), s.subjects["mona"], None, None, date.today())
    s.ledger.register_people((), actor=s.subjects["ada"], changes=[change])
    assert s.get("/sessions", "mona", rep="tess").status_code == 200
    assert s.get("/sessions", "bob", rep="tess").status_code == 403
    assert s.get("/sessions", "bob", rep="tess", as_of="2020-01-01").status_code == 403
    # alice moved away keeps bob's commitment in bob's scope (it names him)
    move = RosterChange(UUID(s.subjects["alice"]), s.subjects["mona"], None, None, date.today())
    s.ledger.register_people((), actor=s.subjects["ada"], changes=[move])
    assert s.get("/history", "bob", rep="alice").status_code == 200


def test_references_to_hidden_ids_are_not_found(s: Served) -> None:
    hidden = s.commitment("rita", "mona")
    session = s.session("rita", "mona")
    before = s.events()
    for body in (
        {"owner": "manager", "supports": hidden, "target": 1, "period": "window"},
        {"session_id": str(session), "target": 3},
    ):
        r = s.post(
            "/commitments",
            "bob",
            {
                "rep": "alice",
                "manager": "bob",
                "focus": "prospecting",
                "behavior": "ride-alongs",
                "start": START,
                **body,
            },
        )
        assert r.status_code == 404 and is_error(r, 3), r.json()
    assert s.events() == before
    missing = "00000000-0000-4000-8000-000000000000"
    a = s.get(f"/commitments/{hidden}", "bob").json()["error"]["message"]
    b = s.get(f"/commitments/{missing}", "bob").json()["error"]["message"]
    assert a.replace(hidden, "X") == b.replace(missing, "X")  # no way to tell them apart


def test_errors_map_exit_codes_to_http(s: Served) -> None:
    cid = s.commitment("alice", "bob")
    closed = s.post(f"/commitments/{cid}/close", "bob", {"date": START, "result": "met"})
    assert closed.status_code == 201
    before = s.events()
    twice = s.post(f"/commitments/{cid}/close", "bob", {"date": START})
    assert twice.status_code == 409 and is_error(twice, 4) and "Retry-After" not in twice.headers
    bad = s.post(f"/commitments/{cid}/check-ins", "bob", {"date": "2026-13-01", "actual": 1})
    assert bad.status_code == 422 and is_error(bad, 2)
    prefix = s.get(f"/commitments/{cid[:8]}", "bob")
    assert prefix.status_code == 422 and is_error(prefix, 2)
    no_rep = s.get("/history", "hugo")
    assert no_rep.status_code == 422 and no_rep.json()["error"]["message"] == "rep: is required"
    unknown = s.get("/history", "hugo", rep="nobody-at-all")
    assert unknown.status_code == 404 and is_error(unknown, 3)
    assert s.events() == before


def test_a_conflict_is_409_with_retry_after(s: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledger.errors import Conflict

    cid = s.commitment("alice", "bob")

    def conflict(*args: object, **kwargs: object) -> None:
        raise Conflict("another writer changed it first; nothing was written, run it again")

    monkeypatch.setattr(type(s.ledger), "check_in", conflict)
    r = s.post(f"/commitments/{cid}/check-ins", "bob", {"date": START, "actual": 1})
    assert r.status_code == 409 and is_error(r, 5) and r.headers["Retry-After"] == "1"


def test_the_messages_are_the_clis(s: Served, tmp_path: Path) -> None:
    cid = s.commitment("alice", "bob")
    s.post(f"/commitments/{cid}/close", "bob", {"date": START})
    api = s.post(f"/commitments/{cid}/close", "bob", {"date": START}).json()["error"]["message"]
    c = Cli(db=s.db, views=s.views)
    result = c(f"close {cid} --on {START}")
    assert result.exit_code == 4
    assert result.stderr.strip() == f"error: {api}"


# -- identity -----------------------------------------------------------------------------


def test_revoked_forged_and_altered_tokens_are_401(s: Served) -> None:
    good = s.tokens["alice"]
    me = {"name": "alice", "subject": s.subjects["alice"], "role": "rep"}
    assert s.get("/me", "alice").json() == me
    altered = good[:-1] + ("A" if good[-1] != "A" else "B")
    forged = hashlib.sha256(b"alice").hexdigest()[:43]
    for header in (
        f"Bearer {altered}",
        f"Bearer {forged}",
        f"Bearer {good}x",
        f"Basic {good}",
        "Bearer",
        good,
        f"Bearer {hashlib.sha256(good.encode()).hexdigest()}",  # the stored hash is no token
    ):
        r = s.client.get("/api/v1/me", headers={"Authorization": header})
        assert r.status_code == 401 and is_error(r, 4), header
        assert r.headers["WWW-Authenticate"] == "Bearer"
    s.services.access.revoke(s.subjects["alice"], s.subjects["ada"])
    r = s.get("/history", "alice", rep="alice")
    assert r.status_code == 401 and is_error(r, 4)


def test_a_grant_follows_the_person_through_a_rename_and_ends_with_an_erasure(
    s: Served,
) -> None:
    from uuid import UUID as U

    bob = U(s.subjects["bob"])
    s.ledger.rename_person(bob, "Robert", actor=s.subjects["ada"])
    assert s.get("/me", "bob").json()["name"] == "Robert"
    assert s.get("/history", "bob", rep="alice").status_code == 200  # still alice's manager
    s.ledger.erase_person(U(s.subjects["tess"]), reason="request 1", actor=s.subjects["ada"])
    r = s.get("/me", "tess")
    assert r.status_code == 401 and is_error(r, 4)


def test_the_store_keeps_only_hashes(s: Served) -> None:
    token = s.tokens["bob"]
    if s.db.startswith("postgresql"):
        import psycopg

        schema = s.services.access.schema
        with psycopg.connect(s.db.split("?")[0]) as conn:
            rows = conn.execute(f'SELECT * FROM "{schema}".access_grants').fetchall()
    else:
        with sqlite3.connect(s.db.replace(".db", ".access.db")) as conn:
            rows = conn.execute("SELECT * FROM access_grants").fetchall()
    text = json.dumps([list(map(str, r)) for r in rows])
    assert token not in text
    assert hashlib.sha256(token.encode()).hexdigest() in text


def test_trusted_header_names_the_caller(db: str, tmp_path: Path) -> None:
    with served(db, tmp_path, trust_header="X-Forwarded-User") as s:
        me = s.client.get("/api/v1/me", headers={"X-Forwarded-User": "bob"})
        assert me.json() == {"name": "bob", "subject": s.subjects["bob"], "role": "manager"}
        stranger = s.client.get("/api/v1/me", headers={"X-Forwarded-User": "mallory"})
        assert stranger.status_code == 403 and is_error(stranger, 4)
        assert s.client.get("/api/v1/me").status_code == 401
        bearer = s.get("/me", "alice")  # tools behind the proxy may still use tokens
        assert bearer.json() == {"name": "alice", "subject": s.subjects["alice"], "role": "rep"}


def test_trust_header_beyond_loopback_exits_2(tmp_path: Path) -> None:
    db = str(tmp_path / "l.db")
    for host in ("0.0.0.0", "192.0.2.7", "example.com", "::"):
        result = CliRunner().invoke(
            root, ["--db", db, "serve", "--host", host, "--trust-header", "X-Forwarded-User"]
        )
        assert result.exit_code == 2, (host, result.output)
        assert result.stdout == ""
        assert "loopback" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not os.path.exists(db)  # refused before anything was created


# -- the access log -------------------------------------------------------------------------


def test_every_request_is_logged_with_person_ids_and_no_free_text(s: Served) -> None:
    cid = s.commitment("alice", "bob")
    secret_note = "alice cried in the meeting"
    s.post(
        f"/commitments/{cid}/check-ins", "bob", {"date": START, "actual": 2, "note": secret_note}
    )
    s.get("/history", "alice", rep="alice")
    s.get("/history", "alice", rep="rita")
    s.get(f"/commitments/{cid}", "mona")
    s.client.get("/api/v1/me")
    s.get("/history", "bob", rep="nobody-at-all")
    log = [e for e in s.get("/access/log", "hugo").json() if e["via"] == "api"]
    assert all(secret_note not in json.dumps(e) for e in log)
    # subject ids, never names (SPEC §7.5): not even a name nobody has
    assert not any(n in json.dumps(log) for n in ("alice", "bob", "rita", "mona", "nobody"))
    picked = [(e["who"], e["action"], e["subjects"], e["target"], e["status"]) for e in log[:6]]
    a, b, r, m = (s.subjects[n] for n in ("alice", "bob", "rita", "mona"))
    assert picked == [
        (b, "write.check_in", [a, b], cid, 201),
        (a, "read.history", [a, b], None, 200),
        (a, "read.history", [r], None, 403),
        (m, "read.show", [a, b], cid, 404),
        (None, "read.me", [], None, 401),
        (b, "read.history", ["unregistered"], None, 403),
    ]
    assert all(e["via"] == "api" and e["at"].endswith("Z") for e in log[:5])


def test_the_access_log_is_append_only(s: Served) -> None:
    s.get("/me", "alice")
    if s.db.startswith("postgresql"):
        import psycopg

        schema = s.services.access.schema
        for sql in (
            f'UPDATE "{schema}".access_log SET who = %s',
            f'DELETE FROM "{schema}".access_log WHERE who <> %s',
            f'TRUNCATE "{schema}".access_log',
            f'UPDATE "{schema}".access_grants SET role = %s',
            f'UPDATE "{schema}".access_grants SET token_hash = %s',
            f'DELETE FROM "{schema}".access_grants WHERE subject <> %s',
        ):
            with psycopg.connect(s.db.split("?")[0]) as conn, pytest.raises(psycopg.Error):
                conn.execute(sql, ("admin",) if "%s" in sql else ())
    else:
        with sqlite3.connect(s.db.replace(".db", ".access.db")) as conn:
            for sql in (
                "UPDATE access_log SET who = ?",
                "DELETE FROM access_log WHERE who <> ?",
                "UPDATE access_grants SET role = ?",
                "UPDATE access_grants SET token_hash = ?",
                "DELETE FROM access_grants WHERE subject <> ?",
            ):
                with pytest.raises(sqlite3.DatabaseError):
                    conn.execute(sql, ("admin",))
    log = s.get("/access/log", "ada").json()
    assert next(e["who"] for e in log if e["via"] == "api") == s.subjects["alice"]


def test_reading_never_changes_the_ledger(s: Served) -> None:
    before = s.events()
    for who in ("alice", "bob", "hugo", "ada"):
        s.get("/history", who, rep="alice")
        s.get("/commitments", who)
        s.get("/reports/coaching", who)
    assert s.events() == before


def test_the_security_headers(s: Served) -> None:
    r = s.get("/me", "alice")
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]


def test_a_body_over_the_limit_is_refused(s: Served) -> None:
    cid = s.commitment("alice", "bob")
    before = s.events()
    big = {"date": START, "actual": 1, "note": "x" * (1 << 20)}
    r = s.post(f"/commitments/{cid}/check-ins", "bob", big)
    assert r.status_code == 413 and is_error(r, 2)
    assert s.events() == before


def test_openapi_document(s: Served) -> None:
    doc = s.client.get("/api/openapi.json").json()
    paths = doc["paths"]
    assert "/api/v1/history" in paths and "/api/v1/commitments/{commitment}/check-ins" in paths
    body = paths["/api/v1/commitments/{commitment}/check-ins"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/CheckIn")
    assert "actor" not in doc["components"]["schemas"]["CheckIn"]["properties"]
    assert s.client.get("/docs").status_code == 404  # no pages loading scripts from elsewhere


# -- commitments access --------------------------------------------------------------------


def test_access_commands(db: str, tmp_path: Path) -> None:
    c = Cli(db=db, views=str(tmp_path / "v.db"), actor="root")
    token = c.ok("access grant 'Moses Frase' --role manager")  # registered on first use
    moses = json.loads(c.ok("people show 'Moses Frase' --format json"))["subject"]
    root_ = json.loads(c.ok("people show root --format json"))["subject"]
    assert len(token) == 43
    again = c("access grant 'Moses Frase' --role rep")
    assert again.exit_code == 4 and again.stdout == "" and "revoke it first" in again.stderr
    bad = c(["access", "grant", "x\ny", "--role", "rep"])
    assert bad.exit_code == 2 and bad.stdout == ""
    listed = json.loads(c.ok("access list --format json"))
    assert listed == [
        {
            "name": "Moses Frase",
            "subject": moses,
            "role": "manager",
            "granted_at": listed[0]["granted_at"],
            "granted_by": root_,
            "revoked_at": None,
            "revoked_by": None,
        }
    ]
    assert c("access revoke nobody").exit_code == 3
    c.ok("access revoke 'Moses Frase'")
    assert c("access revoke 'Moses Frase'").exit_code == 3
    log = json.loads(c.ok("access log --format json"))
    assert [(e["via"], e["who"], e["action"], e["subjects"]) for e in log] == [
        ("cli", root_, "access.grant", [moses]),
        ("cli", root_, "access.revoke", [moses]),
    ]
    assert "Moses" not in c.ok("access log")
    assert json.loads(c.ok("access log --since 2999-01-01 --format json")) == []
    assert c("access log --since yesterday").exit_code == 2
    assert "Moses Frase" in c.ok("access list")
    if not db.startswith("postgresql"):
        mode = stat.S_IMODE(os.stat(db.replace(".db", ".access.db")).st_mode)
        assert mode == 0o600
    # once the roster is strict, an unregistered name is refused with the closest names
    c.ok("people add 'Ann Lee'")
    before = json.loads(c.ok("access list --format json"))
    strict = c("access grant 'Ann Le' --role rep")
    assert strict.exit_code == 3 and strict.stdout == "" and "Ann Lee" in strict.stderr
    assert json.loads(c.ok("access list --format json")) == before
    c.ok("access grant 'Ann Lee' --role rep")


@pytest.mark.parametrize("path", ["/api/v1", "/api/v1/commitments/..", "/api/v1/no-such-thing"])
def test_a_request_for_no_endpoint_under_the_api_is_logged_too(s: Served, path: str) -> None:
    """Found by the endpoint fuzzer: ``/api/v1/commitments/..`` normalises to
    ``/api/v1``, which the guard took for a page and did not log."""
    logged = len(s.services.access.entries())
    r = s.client.get(path, headers=s.as_("hugo"))
    assert r.status_code == 404 and is_error(r, 3)
    assert len(s.services.access.entries()) == logged + 1


def test_an_answer_whose_log_entry_cannot_be_written_is_a_500(
    s: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(entries: object) -> None:
        raise OSError("disk full")

    logged = len(s.services.access.entries())
    monkeypatch.setattr(s.services.access, "append_many", refuse)
    r = s.get("/history", "alice", rep="alice")
    assert r.status_code == 500 and is_error(r, 1)
    assert "access log cannot be written" in r.json()["error"]["message"]
    monkeypatch.undo()
    assert s.get("/history", "alice", rep="alice").status_code == 200
    assert len(s.services.access.entries()) == logged + 1  # the answered one only


def test_requests_at_once_are_each_logged_once_in_the_batches(s: Served) -> None:
    from concurrent.futures import ThreadPoolExecutor

    logged = len(s.services.access.entries())
    who = ["alice", "bob", "rita", "mona", "hugo"] * 8
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda w: s.get("/me", w).status_code, who))
    assert statuses == [200] * len(who)
    entries = s.services.access.entries()[logged:]
    assert sorted(e.who for e in entries) == sorted(s.subjects[w] for w in who)
    assert {e.action for e in entries} == {"read.me"}


def test_a_views_file_put_in_place_of_the_open_one_is_read_from_then(s: Served) -> None:
    """The server keeps its read-model connections open between requests; a views
    file deleted under them (e.g. discarded as damaged by another process) is
    rebuilt and read, not the deleted one, and nothing written since is missed."""
    from projections.catchup import discard

    assert s.get("/history", "alice", rep="alice").status_code == 200
    discard(s.views)
    cid = s.commitment("alice", "bob")
    r = s.get("/history", "alice", rep="alice")
    assert r.status_code == 200
    assert cid in {c["id"] for c in r.json()["commitments"]}
    assert s.get(f"/commitments/{cid}", "bob").status_code == 200


def test_an_access_store_holding_grants_by_name_is_refused_clearly(tmp_path: Path) -> None:
    """A store from before grants held subject ids: one clear line, exit 4,
    nothing changed (not a crash on a missing column)."""
    db = str(tmp_path / "old.db")
    path = db.replace(".db", ".access.db")
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE access_grants (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE access_log (id INTEGER PRIMARY KEY, who TEXT)")

    def tables() -> list[str]:
        with sqlite3.connect(path) as conn:
            return [r[0] for r in conn.execute("SELECT sql FROM sqlite_master ORDER BY name")]

    before = tables()
    c = Cli(db=db, views=str(tmp_path / "v.db"))
    result = c("access log")
    assert result.exit_code == 4 and result.stdout == "", result.stderr
    assert "holds grants by name" in result.stderr and len(result.stderr.splitlines()) == 1
    assert tables() == before
