"""The pages and forms (SPEC §7.5), through FastAPI's TestClient, on both backends:
login and its cookie, CSRF, scopes (the same answers as the API), refusals shown
in the form with nothing written, the headers of every page, time travel, the
access log. The real-browser run is tests/test_browser.py."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from cli.serve.policy import Action, Caller, Role, Scope
from ledger import commands as cmd
from tests.serve_support import START, Served, served

TODAY = date.today()
PAGES = ("/team", "/reps/alice", "/reps/alice/prep", "/reps/alice/plan", "/reports/coaching")


@pytest.fixture
def s(db: str, tmp_path: Path) -> Iterator[Served]:
    with served(db, tmp_path) as server:
        yield server


def login(s: Served, who: str) -> str:
    """Log ``who`` in on the shared client; their CSRF token."""
    s.client.cookies.clear()
    r = s.client.post("/login", data={"token": s.tokens[who]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = s.client.get("/team" if who != "alice" else "/reps/alice")
    m = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
    assert m, page.text
    return m[1]


def alert(r: Any) -> str:
    m = re.search(r'role="alert"[^>]*>(?:<strong>[^<]*</strong> )?([^<]*)<', r.text)
    assert m, r.text
    return html.unescape(m[1])


def bobs(s: Served) -> str:
    """bob's commitment with alice (seeded)."""
    rows = s.get("/commitments", "bob", rep="alice").json()
    return str(rows[0]["id"])


def monas(s: Served) -> str:
    return str(s.get("/commitments", "mona", rep="rita").json()[0]["id"])


def test_pages_need_a_login_and_a_valid_token(s: Served) -> None:
    for path in (*PAGES, "/access-log", "/"):
        r = s.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path
    r = s.client.post("/login", data={"token": "x" * 43}, follow_redirects=False)
    assert r.status_code == 401 and "not valid" in alert(r)
    assert "set-cookie" not in r.headers
    s.client.cookies.set("commitments_session", "forged")
    assert s.client.get("/team", follow_redirects=False).status_code == 303


def test_login_sets_an_httponly_strict_cookie_and_logout_ends_it(s: Served) -> None:
    r = s.client.post("/login", data={"token": s.tokens["bob"]}, follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    csrf = re.search(r'name="csrf" value="(\w+)"', s.client.get("/team").text)
    assert csrf
    assert s.client.post("/logout", data={}).status_code == 403  # no CSRF token
    assert s.client.get("/team", follow_redirects=False).status_code == 200
    r = s.client.post("/logout", data={"csrf": csrf[1]}, follow_redirects=False)
    assert r.status_code == 303 and 'commitments_session=""' in r.headers["set-cookie"]
    s.client.cookies.clear()
    assert s.client.get("/team", follow_redirects=False).status_code == 303


def test_a_revoked_token_logs_the_browser_out_at_once(s: Served) -> None:
    login(s, "bob")
    s.services.access.revoke(s.subjects["bob"], s.subjects["ada"])
    assert s.client.get("/team", follow_redirects=False).status_code == 303


def test_every_page_sends_the_security_headers(s: Served) -> None:
    login(s, "ada")
    cid = bobs(s)
    for path in (*PAGES, f"/commitments/{cid}", "/access-log", "/login", "/reps/nobody"):
        r = s.client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp, path
        assert "style-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in r.text and " style=" not in r.text and "<style" not in r.text
    css = s.client.get("/static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_on_and_as_of_are_taken_and_shown_on_every_page(s: Served) -> None:
    login(s, "ada")
    cid = bobs(s)
    on = (TODAY - timedelta(days=1)).isoformat()
    for path in (*PAGES, f"/commitments/{cid}"):
        r = s.client.get(path, params={"on": on, "as_of": TODAY.isoformat()})
        assert r.status_code == 200, (path, r.text)
        assert f"on <strong>{on}</strong> as of <strong>{TODAY.isoformat()}T23:59:59" in r.text
        assert f'href="/team?on={on}&amp;as_of={TODAY.isoformat()}"' in r.text  # links keep it
    r = s.client.get("/team", params={"on": "yesterday"})
    assert r.status_code == 422 and "yesterday" in alert(r)
    before = (date.fromisoformat(START) - timedelta(days=1)).isoformat()
    r = s.client.get(f"/commitments/{cid}", params={"as_of": before})
    assert r.status_code == 404  # the ledger did not know it then


def test_a_form_without_its_csrf_token_is_403_and_writes_nothing(s: Served) -> None:
    csrf = login(s, "bob")
    cid = bobs(s)
    before = s.events()
    check_in = {"date": TODAY.isoformat(), "actual": "2"}
    for data in (check_in, {**check_in, "csrf": "0" * 64}, {**check_in, "csrf": ""}):
        r = s.client.post(f"/commitments/{cid}/check-in", data=data)
        assert r.status_code == 403 and "CSRF" in alert(r)
    r = s.client.post(f"/commitments/{cid}/check-in", json={**check_in, "csrf": csrf})
    assert r.status_code == 403  # not a form
    r = s.client.post(
        f"/commitments/{cid}/check-in",
        data={**check_in, "csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    r = s.client.post(
        "/reps/alice/sessions",
        data={"date": TODAY.isoformat(), "csrf": csrf},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert r.status_code == 403
    assert s.events() == before
    # the CSRF token of another session does not do either
    other = login(s, "mona")
    csrf = login(s, "bob")
    assert other != csrf
    r = s.client.post(f"/commitments/{cid}/check-in", data={**check_in, "csrf": other})
    assert r.status_code == 403 and s.events() == before
    r = s.client.post(
        f"/commitments/{cid}/check-in", data={**check_in, "csrf": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and s.events() == before + 1  # bob is registered already


@pytest.mark.parametrize(
    ("form", "data", "status", "message"),
    [
        ("check-in", {"date": "2020-01-01", "actual": "2"}, 409, "before the start"),
        ("check-in", {"date": "soon", "actual": "2"}, 422, "date: "),
        ("check-in", {"date": TODAY.isoformat(), "actual": "-1"}, 422, "actual: "),
        ("check-in", {"date": TODAY.isoformat(), "actual": "2", "done": "yes"}, 422, "done"),
        ("correct", {"check_in": "9", "actual": "1", "reason": "typo"}, 404, "check-in 9"),
        ("correct", {"check_in": "1", "actual": "1"}, 422, "reason: "),
        ("revise", {"date": TODAY.isoformat(), "reason": ""}, 422, "reason: "),
        ("release", {"date": TODAY.isoformat()}, 422, "reason: "),
        ("close", {"date": TODAY.isoformat(), "result": "maybe"}, 422, "result: "),
    ],
)
def test_a_refused_form_shows_the_one_line_message_and_writes_nothing(
    s: Served, form: str, data: dict[str, str], status: int, message: str
) -> None:
    csrf = login(s, "bob")
    cid = bobs(s)
    before = s.events()
    r = s.client.post(f"/commitments/{cid}/{form}", data={**data, "csrf": csrf})
    assert r.status_code == status, r.text
    text = alert(r)
    assert message in text and "\n" not in text
    assert s.events() == before
    # the form comes back with what was typed
    for name, value in data.items():
        if name not in ("done", "result"):  # a select shows only its own options
            assert f'value="{value}"' in r.text or f">{value}</textarea>" in r.text


def test_the_forms_give_the_cli_messages(s: Served, tmp_path: Path) -> None:
    """The one-line refusal is the command model's, as the CLI prints it."""
    csrf = login(s, "bob")
    r = s.client.post(
        "/reps/alice/commitments",
        data={"csrf": csrf, "focus": "x" * 101, "behavior": "y", "start": START, "target": "1"},
    )
    assert r.status_code == 422
    assert alert(r).startswith("focus: ")
    from click.testing import CliRunner

    from cli.main import cli

    cli_run = CliRunner().invoke(
        cli,
        [
            *("--db", s.db, "--views", s.views, "--actor", "bob", "agree", "--rep", "alice"),
            *("--manager", "bob", "--focus", "x" * 101, "--behavior", "y", "--start", START),
            *("--target", "1"),
        ],
    )
    assert cli_run.exit_code == 2
    assert cli_run.stderr.strip() == f"error: {alert(r)}"


def test_the_whole_cycle_through_the_forms(s: Served) -> None:
    s.sub("zoe")  # in the roster, without a manager yet: bob may take her on
    csrf = login(s, "bob")
    before = s.events()
    r = s.client.post(
        "/team/sessions",
        data={"csrf": csrf, "rep": "zoe", "date": START, "strengths": "calm, curious"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/reps/zoe"
    page = s.client.get("/reps/zoe")
    assert "calm, curious" in page.text
    session_id = re.search(r'<option value="([0-9a-f-]{36})">' + START, page.text)
    assert session_id
    r = s.client.post(
        "/reps/zoe/commitments",
        data={
            "csrf": csrf,
            "focus": "prospecting",
            "behavior": "call <b>ten</b> prospects",
            "target": "10",
            "period": "week",
            "start": START,
            "due": TODAY.isoformat(),
            "session_id": session_id[1],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    cid = r.headers["location"].rsplit("/", 1)[1]
    r = s.client.post(
        "/reps/zoe/commitments",
        data={
            "csrf": csrf,
            "owner": "manager",
            "focus": "prospecting",
            "behavior": "listen to two calls",
            "target": "2",
            "start": START,
            "due": TODAY.isoformat(),
            "supports": cid,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    for form, data in (
        ("check-in", {"date": START, "actual": "4", "note": "good start"}),
        ("check-in", {"date": TODAY.isoformat(), "actual": "3"}),
        ("correct", {"check_in": "2", "actual": "5", "reason": "miscounted"}),
        ("revise", {"date": TODAY.isoformat(), "reason": "shorter week", "target": "8"}),
        ("close", {"date": TODAY.isoformat(), "result": "met", "note": "done"}),
    ):
        r = s.client.post(
            f"/commitments/{cid}/{form}", data={**data, "csrf": csrf}, follow_redirects=False
        )
        assert r.status_code == 303, (form, r.text)
    page = s.client.get(f"/commitments/{cid}")
    assert "call &lt;b&gt;ten&lt;/b&gt; prospects" in page.text  # escaped
    shown = s.get(f"/commitments/{cid}", "bob").json()
    assert [e["actor"] for e in shown["log"]] == ["bob"] * len(shown["log"])
    for e in shown["log"]:
        assert f"<td>{e['type']}</td>" in page.text
    assert shown["verdict"].replace("_", " ") in page.text
    assert 'id="form-check_in"' not in page.text  # closed: nothing left to record
    assert s.events() > before


def test_release_and_the_focus_cap_override(s: Served) -> None:
    csrf = login(s, "bob")
    cid = bobs(s)
    r = s.client.post(
        f"/commitments/{cid}/release",
        data={"csrf": csrf, "date": TODAY.isoformat(), "reason": "moved territory"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert s.get(f"/commitments/{cid}", "bob").json()["status"] == "released"
    # fill alice's focus areas to the cap, then the override's reason lets one more in
    refused = None
    for n in range(8):
        r = s.client.post(
            "/reps/alice/commitments",
            data={
                "csrf": csrf,
                "focus": f"area {n}",
                "behavior": "b",
                "start": START,
                "days": "30",
                "target": "1",
            },
            follow_redirects=False,
        )
        if r.status_code != 303:
            refused = r
            break
    assert refused is not None, "the focus cap never refused"
    assert refused.status_code == 409, alert(refused)
    assert "override" in alert(refused)
    before = s.events()
    r = s.client.post(
        "/reps/alice/commitments",
        data={
            "csrf": csrf,
            "focus": "area 9",
            "behavior": "b",
            "start": START,
            "days": "30",
            "target": "1",
            "override_focus_cap": "quarter-end push agreed with the rep",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, alert(r)
    assert s.events() > before


def test_scopes_are_the_apis(s: Served) -> None:
    """A manager cannot see or write another manager's reps; a rep writes nothing."""
    csrf = login(s, "bob")
    rita = monas(s)
    before = s.events()
    r = s.client.get("/reps/rita")
    assert r.status_code == 403 == s.get("/history", "bob", rep="rita").status_code
    assert alert(r) == s.get("/history", "bob", rep="rita").json()["error"]["message"]
    r = s.client.get(f"/commitments/{rita}")
    api = s.get(f"/commitments/{rita}", "bob")
    assert r.status_code == 404 == api.status_code
    assert alert(r) == api.json()["error"]["message"]
    r = s.client.post(
        f"/commitments/{rita}/check-in",
        data={"csrf": csrf, "date": TODAY.isoformat(), "actual": "1"},
    )
    assert r.status_code == 404
    assert "rita" not in s.client.get("/team").text
    r = s.client.post("/reps/rita/commitments", data={"csrf": csrf, "focus": "f"})
    assert r.status_code in (403, 422)  # either refused: never written
    assert s.events() == before
    # hr reads everything, writes nothing
    csrf = login(s, "hugo")
    assert s.client.get("/reps/rita").status_code == 200
    assert 'id="form-check_in"' not in s.client.get(f"/commitments/{rita}").text
    r = s.client.post(
        f"/commitments/{rita}/check-in",
        data={"csrf": csrf, "date": TODAY.isoformat(), "actual": "1"},
    )
    assert r.status_code == 403 and s.events() == before
    # a rep: their own page only, no forms
    csrf = login(s, "alice")
    assert s.client.get("/reps/alice").status_code == 200
    assert s.client.get("/reps/rita").status_code == 403
    assert s.client.get(f"/commitments/{rita}").status_code == 404
    assert '<form method="post" action="/reps' not in s.client.get("/reps/alice").text
    r = s.client.post(
        f"/commitments/{bobs(s)}/check-in",
        data={"csrf": csrf, "date": TODAY.isoformat(), "actual": "1"},
    )
    assert r.status_code == 403 and s.events() == before
    assert s.client.get("/reports/coaching").status_code == 403


def test_prep_and_plan_pages_render_escape_link_and_are_scoped(s: Served) -> None:
    """The printable agenda and plan inside the server's layout: the CLI's own
    templates, escaped, linked from the rep page with the moment kept, and
    scoped as the API's /prep and /plan (the rep's data)."""
    hostile = "<b>call</b> & demo"
    s.ledger.agree(
        cmd.validate(
            cmd.Agree,
            rep="alice",
            manager="bob",
            focus="prospecting",
            behavior=hostile,
            target=5,
            period="week",
            start=START,
            days=30,
            actor="seed",
        )
    )
    login(s, "bob")
    escaped = "&lt;b&gt;call&lt;/b&gt; &amp; demo"
    prep = s.client.get("/reps/alice/prep")
    assert prep.status_code == 200, prep.text
    assert "<h1>Session prep: alice</h1>" in prep.text and "Since the last session" in prep.text
    assert escaped in prep.text and hostile not in prep.text
    assert 'href="/static/app.css"' in prep.text and 'href="/team"' in prep.text  # the layout
    plan = s.client.get("/reps/alice/plan")
    assert plan.status_code == 200, plan.text
    assert "<h1>30-day plan: alice</h1>" in plan.text
    assert escaped in plan.text and hostile not in plan.text
    api = s.get("/plan", "bob", rep="alice").json()
    assert all(c["id"] in plan.text for c in api["commitments"])  # what the API answers
    # linked from the rep page, keeping ?on= and ?as_of=
    on = TODAY.isoformat()
    rep = s.client.get("/reps/alice", params={"on": on, "as_of": on}).text
    for what in ("prep", "plan"):
        assert f'href="/reps/alice/{what}?on={on}&amp;as_of={on}"' in rep
    assert 'href="/reps/alice/prep"' in s.client.get("/reps/alice").text
    # ?manager= narrows the agenda and is kept by the moment form
    r = s.client.get("/reps/alice/prep", params={"manager": "bob"})
    assert r.status_code == 200 and '<input type="hidden" name="manager" value="bob">' in r.text
    # another manager's rep: what the API says, with its message
    for what in ("prep", "plan"):
        r = s.client.get(f"/reps/rita/{what}")
        api_r = s.get(f"/{what}", "bob", rep="rita")
        assert r.status_code == 403 == api_r.status_code
        assert alert(r) == api_r.json()["error"]["message"]
    # a rep: their own only; hr: anyone's
    login(s, "alice")
    assert s.client.get("/reps/alice/prep").status_code == 200
    assert s.client.get("/reps/rita/plan").status_code == 403
    login(s, "hugo")
    assert s.client.get("/reps/rita/prep").status_code == 200
    assert s.client.get("/reps/nobody/prep").status_code == 404


def test_the_coaching_report_and_the_access_log_by_role(s: Served) -> None:
    login(s, "bob")
    r = s.client.get("/reports/coaching")
    assert r.status_code == 200 and "Manager: bob" in r.text
    assert "Team total" not in r.text and "mona" not in r.text
    assert s.client.get("/access-log").status_code == 403
    assert s.get("/reports/coaching", "bob").status_code == 403  # the API's is across everyone
    login(s, "hugo")
    names = {"names": "1"}
    r = s.client.get("/reports/coaching", params=names)
    assert "Team total" in r.text and "Manager: mona" in r.text
    r = s.client.get("/reports/coaching", params={"manager": "mona", **names})
    assert "Manager: mona" in r.text and "Manager: bob" not in r.text
    r = s.client.get("/team", params={"manager": "bob", **names})
    assert "alice" in r.text and "rita" not in r.text
    r = s.client.get("/access-log")
    assert r.status_code == 200
    entries = s.services.access.entries()
    web = [e for e in entries if e.via == "web"]
    bob, alice = s.subjects["bob"], s.subjects["alice"]
    assert any(e.who == bob and e.action == "web.report_coaching" for e in web)
    assert any(e.who == bob and e.action == "web.access_log" and e.status == 403 for e in web)
    assert any(e.action == "web.team" and alice in e.subjects for e in web)
    assert ">web.team<" in s.client.get("/access-log").text
    # the log holds subject ids, never names
    assert not any(n in str(e) for e in entries for n in ("alice", "bob", "rita", "mona"))


def pseudonym(s: Served, name: str) -> str:
    return "p-" + s.subjects[name].replace("-", "")[:8]


def test_hr_pages_are_pseudonymised_unless_they_ask_for_names(s: Served) -> None:
    """SPEC §7.5: hr's pages show p-<8 hex> and [withheld] by default; the
    link "Show names" asks for names, and the access log records the choice."""
    cid = bobs(s)
    s.post(f"/commitments/{cid}/check-ins", "bob", {"date": START, "actual": 2, "note": "tough"})
    login(s, "hugo")
    alice = pseudonym(s, "alice")
    for path in ("/team", "/reports/coaching", f"/reps/{alice}", f"/commitments/{cid}"):
        r = s.client.get(path)
        assert r.status_code == 200, (path, r.text)
        for name in ("alice", "bob", "rita", "mona", "tough"):
            assert name not in r.text.replace("hugo", ""), (path, name)
        assert "Pseudonymised" in r.text and "names=1" in r.text
    team = s.client.get("/team").text
    assert f'href="/reps/{alice}"' in team  # hr follows the pseudonym to the rep's page
    assert "[withheld]" in s.client.get(f"/commitments/{cid}").text
    named = s.client.get(f"/reps/{alice}", params={"names": "1"})
    assert named.status_code == 200 and "alice" in named.text and "bob" in named.text
    assert 'href="/commitments/' + cid + '?names=1"' in named.text  # the choice is kept
    log = [e for e in s.services.access.entries() if e.via == "web" and e.action == "web.rep"]
    assert [(e.role, e.names, e.subjects) for e in log[-2:]] == [
        ("hr", False, (s.subjects["alice"],)),
        ("hr", True, (s.subjects["alice"],)),
    ]
    # admin keeps names
    login(s, "ada")
    assert (
        "alice" in s.client.get("/team").text and "Pseudonymised" not in s.client.get("/team").text
    )


def test_another_manager_is_refused_even_for_a_rostered_rep_with_nothing_yet(s: Served) -> None:
    csrf = login(s, "mona")
    assert s.client.get("/reps/tess").status_code == 403
    before = s.events()
    r = s.client.post(
        "/team/sessions", data={"csrf": csrf, "rep": "tess", "date": START}, follow_redirects=False
    )
    assert r.status_code == 403 and s.events() == before
    csrf = login(s, "bob")
    r = s.client.post(
        "/team/sessions", data={"csrf": csrf, "rep": "tess", "date": START}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/reps/tess"
    assert s.events() == before + 1


def test_the_team_overview_filters_by_team_and_region(s: Served) -> None:
    from ledger.people import RosterChange

    changes = [
        RosterChange(UUID(s.subjects[n]), s.subjects[m], team, region, TODAY)
        for n, m, team, region in (
            ("alice", "bob", "Hunters", "Central"),
            ("rita", "mona", "Farmers", "East"),
        )
    ]
    s.ledger.register_people((), actor=s.subjects["ada"], changes=changes)
    login(s, "ada")
    page = s.client.get("/team").text
    assert 'id="team-team"' in page and 'id="team-region"' in page
    assert ">Central<" in page and ">Farmers<" in page
    central = s.client.get("/team", params={"region": "Central"}).text
    assert "/reps/alice" in central and "/reps/rita" not in central
    farmers = s.client.get("/team", params={"team": "Farmers"}).text
    assert "/reps/rita" in farmers and "/reps/alice" not in farmers
    both = s.client.get("/team", params={"team": "Farmers", "region": "Central"}).text
    assert "/reps/rita" not in both and "/reps/alice" not in both
    # a manager's filter never widens their scope
    login(s, "bob")
    east = s.client.get("/team", params={"region": "East"}).text
    assert "/reps/rita" not in east


def test_the_people_page_renames_and_erases_for_admin_only(s: Served) -> None:
    for who in ("alice", "bob", "hugo"):
        login(s, who)
        assert s.client.get("/people").status_code == 403
    csrf = login(s, "ada")
    page = s.client.get("/people")
    assert page.status_code == 200 and s.subjects["tess"] in page.text
    assert 'id="form-rename"' in page.text and 'id="form-erase"' in page.text
    before = s.events()
    # no CSRF token: 403, nothing written
    r = s.client.post("/people/rename", data={"name": "tess", "to": "Tessa"})
    assert r.status_code == 403 and s.events() == before
    # refusals show in the form, nothing written
    for what, data, status, message in (
        ("rename", {"name": "tes", "to": "Tessa"}, 404, "tess"),
        ("rename", {"name": "tess", "to": "rita"}, 409, "already names someone"),
        ("rename", {"name": "tess", "to": "a\nb"}, 422, "new name"),
        ("erase", {"name": "tess", "reason": "tess asked"}, 422, "must not name"),
        ("erase", {"name": "ada", "reason": "leaving"}, 409, "may not erase themselves"),
        ("erase", {"name": "tess"}, 422, "reason"),
    ):
        r = s.client.post(f"/people/{what}", data={"csrf": csrf, **data})
        assert r.status_code == status, (what, data, r.text)
        assert message in alert(r) and s.events() == before
    r = s.client.post(
        "/people/rename",
        data={"csrf": csrf, "name": "tess", "to": "Tessa <b>"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and s.events() == before + 1
    page = s.client.get("/people").text
    assert "Tessa &lt;b&gt;" in page and "<b>" not in page
    assert s.get("/me", "tess").json()["name"] == "Tessa <b>"  # the grant follows the person
    r = s.client.post(
        "/people/erase",
        data={"csrf": csrf, "name": "Tessa <b>", "reason": "request 2026-17"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = s.client.get("/people").text
    erased = "erased:" + s.subjects["tess"].replace("-", "")[:8]
    assert erased in page and "Tessa" not in page
    assert s.get("/me", "tess").status_code == 401  # an erased person's grant is void
    log = [e for e in s.services.access.entries() if e.action.startswith("web.people_")]
    assert [(e.action, e.status, e.subjects) for e in log][-2:] == [
        ("web.people_rename", 303, (s.subjects["tess"],)),
        ("web.people_erase", 303, (s.subjects["tess"],)),
    ]


def test_the_policy_lets_a_manager_read_only_their_own_patterns() -> None:
    bob = Scope(Caller("bob", Role.MANAGER), frozenset)
    assert bob.may(Action.REPORT, "bob")
    assert not bob.may(Action.REPORT, "mona") and not bob.may(Action.REPORT)
    rep = Scope(Caller("alice", Role.REP), frozenset)
    assert not rep.may(Action.REPORT, "alice")


def test_hostile_paths_queries_and_forms_never_break_a_page(db: str, tmp_path: Path) -> None:
    """Whatever reaches a page or a form: an answer among the expected ones (never
    500), the security headers, nothing hostile unescaped, and nothing written
    unless the form was accepted."""
    from urllib.parse import quote

    from hypothesis import given
    from hypothesis import strategies as st

    from tests.test_serve_fuzz import FUZZ, HOSTILE

    with served(db, tmp_path) as s:
        tokens = {who: login(s, who) for who in ("ada", "bob")}
        own = bobs(s)
        ids = st.sampled_from([own, monas(s), own.upper(), own[:8], *HOSTILE])
        text = st.one_of(st.sampled_from([*HOSTILE, START, "alice", "rita", "1"]), st.text())
        fields = st.sampled_from(
            [
                *("date", "actual", "done", "note", "reason", "result", "rep", "focus"),
                *("behavior", "target", "start", "due", "supports", "session_id", "check_in"),
                *("strengths", "name", "to"),
            ]
        )
        paths = st.one_of(
            st.builds(lambda r: f"/reps/{quote(r, safe='')}", text),
            st.builds(lambda c: f"/commitments/{quote(c, safe='')}", ids),
            st.builds(
                lambda r, w: f"/reps/{quote(r, safe='')}/{w}",
                text,
                st.sampled_from(["prep", "plan"]),
            ),
            st.sampled_from(["/team", "/reports/coaching", "/access-log", "/people"]),
        )
        forms = st.one_of(
            st.builds(
                lambda c, f: f"/commitments/{quote(c, safe='')}/{f}",
                ids,
                st.sampled_from(["check-in", "correct", "revise", "release", "close", "nope"]),
            ),
            st.builds(
                lambda r, f: f"/reps/{quote(r, safe='')}/{f}",
                text,
                st.sampled_from(["sessions", "commitments"]),
            ),
            st.just("/team/sessions"),
            st.builds(lambda w: f"/people/{w}", st.sampled_from(["rename", "erase", "nope"])),
        )

        def safe(r: Any) -> None:
            json = r.headers.get("content-type", "").startswith("application/json")
            # 405 or a JSON 404: a path no page has (an encoded "/" made it another one)
            assert r.status_code in (200, 303, 401, 403, 404, 409, 422) or json, r.text
            assert r.headers.get("x-content-type-options") == "nosniff"
            if r.status_code != 303 and r.headers["content-type"].startswith("text/html"):
                assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
                assert "<script" not in r.text.lower()

        keys = st.sampled_from(["on", "as_of", "manager", "team", "region", "names"])

        @FUZZ
        @given(paths, st.dictionaries(keys, text), st.sampled_from(["bob", "hugo", "ada"]))
        def read(path: str, query: dict[str, str], who: str) -> None:
            s.client.cookies.clear()
            s.client.cookies.set("commitments_session", s.tokens[who])
            safe(s.client.get(path, params=query))

        @FUZZ
        @given(
            forms,
            st.dictionaries(fields, text, max_size=6),
            st.booleans(),
            st.sampled_from(["bob", "ada"]),
        )
        def write(path: str, data: dict[str, str], with_csrf: bool, who: str) -> None:
            before = s.events()
            s.client.cookies.clear()
            s.client.cookies.set("commitments_session", s.tokens[who])
            if with_csrf:
                data = {**data, "csrf": tokens[who]}
            r = s.client.post(path, data=data, follow_redirects=False)
            safe(r)
            if r.status_code != 303:
                assert s.events() == before, (path, data, r.status_code)
            if not with_csrf:
                assert r.status_code in (403, 404)  # 404: no such page at all

        read()
        write()


def test_behind_a_single_sign_on_proxy_the_header_names_the_caller(
    sqlite_db: str, tmp_path: Path
) -> None:
    with served(sqlite_db, tmp_path, trust_header="X-Forwarded-User") as s:
        as_bob = {"X-Forwarded-User": "bob"}
        page = s.client.get("/team", headers=as_bob)
        assert page.status_code == 200 and "bob (manager)" in page.text
        assert "Log out" not in page.text  # the proxy's session, not ours
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text)
        assert csrf
        cid = bobs(s)
        before = s.events()
        check_in = {"date": TODAY.isoformat(), "actual": "1"}
        r = s.client.post(f"/commitments/{cid}/check-in", data=check_in, headers=as_bob)
        assert r.status_code == 403 and s.events() == before
        as_mona = {"X-Forwarded-User": "mona"}
        mona_page = s.client.get("/team", headers=as_mona).text
        mona_csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', mona_page)
        assert mona_csrf and mona_csrf[1] != csrf[1]
        r = s.client.post(
            f"/commitments/{cid}/check-in", data={**check_in, "csrf": mona_csrf[1]}, headers=as_bob
        )
        assert r.status_code == 403 and s.events() == before
        r = s.client.post(
            f"/commitments/{cid}/check-in",
            data={**check_in, "csrf": csrf[1]},
            headers=as_bob,
            follow_redirects=False,
        )
        assert r.status_code == 303 and s.events() == before + 1
        r = s.client.get("/team", headers={"X-Forwarded-User": "stranger"})
        assert r.status_code == 403 and "has no access" in alert(r)
        assert s.client.get("/team", follow_redirects=False).status_code == 303  # no header
