"""The coaching cycle in a real browser: headless Chromium (Debian's
/usr/bin/chromium, driven by Playwright) against a real server on loopback.

A manager logs in, records a session, agrees a commitment and a supporting one,
checks in twice, closes it, and reads the verdict on the rep page and in the
coaching report; an invalid form shows its refusal and writes nothing; the rep
logs in, reads their history and contests the verdict (the reply shows on the
commitment and rep pages, the verdict unchanged); another manager is refused;
hr reads pseudonyms until they ask for names; admin reads the roster. Every page passes
axe-core (vendored, tests/vendor/axe.min.js) with no serious or critical
violation, raises no Content-Security-Policy report, and fits a 375 px screen.

Screenshots go to the test's tmp dir; with COMMITMENTS_DOCS_IMG=DIR the few the
guide shows are written there too (``COMMITMENTS_DOCS_IMG=docs/img``).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger import commands as cmd

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
TODAY = date.today()
START = TODAY - timedelta(days=20)

# A whole coaching cycle in a real browser (~35 s): a slow system test, run by
# `make test-all` and CI; the fast run keeps test_html's and test_web's page checks.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)",
    ),
]


@dataclass
class Server:
    url: str
    ledger: Any
    tokens: dict[str, str]
    subjects: dict[str, str]

    def events(self) -> int:
        return int(self.ledger.event_count())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    import uvicorn

    from cli.serve.app import Config, create_app

    app = create_app(Config(db=str(tmp_path / "ledger.db"), views=str(tmp_path / "views.db")))
    services = app.services
    from dataclasses import replace

    from ledger.people import NewPerson

    # the roster (people add): alice reports to bob, rita to mona
    people = {n: NewPerson.named(n, listed=True) for n in ("bob", "mona", "hugo", "ada")}
    people["alice"] = replace(NewPerson.named("alice", listed=True), manager=people["bob"].ref)
    people["rita"] = replace(NewPerson.named("rita", listed=True), manager=people["mona"].ref)
    services.ledger.register_people(list(people.values()), actor=people["ada"].ref)
    subjects = {n: p.ref for n, p in people.items()}
    tokens = {
        name: services.access.grant(subjects[name], role, subjects["ada"])
        for name, role in (
            ("bob", "manager"),
            ("mona", "manager"),
            ("alice", "rep"),
            ("hugo", "hr"),
            ("ada", "admin"),
        )
    }
    services.ledger.record_session(
        cmd.RecordSession(
            rep=subjects["rita"], manager=subjects["mona"], date=START, actor=subjects["ada"]
        )
    )
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", services.ledger, tokens, subjects)
    finally:
        uv.should_exit = True
        thread.join(10)


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Visitor:
    """One person's browser context: pages they open are checked as they come."""

    def __init__(self, browser: Any, server: Server, shots: Path, width: int = 1000) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.server = server
        self.shots = shots
        self.csp_reports: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.csp_reports.append(message.text)

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.server.url + path)
        return response

    def login(self, who: str) -> None:
        self.goto("/login")
        self.page.get_by_label("Token", exact=True).fill(self.server.tokens[who])
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Log in").click()

    def check_page(self, label: str) -> None:
        """axe-core over the page as it is: no serious or critical violation."""
        self.page.evaluate(AXE.read_text(encoding="utf-8"))  # not a <script>: the CSP stays on
        result = self.page.evaluate(
            "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
            " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)})); }"
        )
        bad = [v for v in result if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{label}: {bad}"
        assert self.csp_reports == [], f"{label}: {self.csp_reports}"

    def shot(self, name: str, full_page: bool = False) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def alert(self) -> str:
        return str(self.page.locator("[role=alert]").first.inner_text())

    def close(self) -> None:
        self.context.close()


def _form(page: Any, form: str) -> Any:
    return page.locator(f"#form-{form}")


def test_the_coaching_cycle_in_chromium(server: Server, browser: Any, tmp_path: Path) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    docs: dict[str, Path] = {}

    # -- a manager: session, agreement with a supporting one, two check-ins, close ----
    bob = Visitor(browser, server, shots)
    bob.goto("/team")
    assert bob.page.url.endswith("/login")  # no session cookie: the login page
    bob.check_page("login")
    bob.login("bob")
    assert bob.page.url.endswith("/team")
    cookie = next(c for c in bob.context.cookies() if c["name"] == "commitments_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert bob.page.evaluate("document.cookie") == ""  # the page's script cannot read it
    bob.check_page("team (empty)")

    session = _form(bob.page, "session")
    session.get_by_label("Rep (person id)", exact=True).fill("alice")
    session.get_by_label("Date", exact=True).fill(START.isoformat())
    session.get_by_label("The rep came prepared", exact=True).check()
    session.get_by_label("Strengths", exact=True).fill("discovery, follow-up")
    session.get_by_label("Focus areas", exact=True).fill("prospecting")
    before = server.events()
    with bob.page.expect_navigation():
        session.get_by_role("button", name="Record the session").click()
    assert bob.page.url.endswith("/reps/alice")
    assert server.events() == before + 1  # the session (the roster registered alice and bob)
    assert (
        "discovery, follow-up"
        in bob.page.locator("table", has_text="Coaching sessions").inner_text()
    )

    agree = _form(bob.page, "agree")
    agree.get_by_label("Focus area", exact=True).fill("prospecting")
    agree.get_by_label("Behaviour (what will be done)", exact=True).fill("outbound calls")
    agree.get_by_label("Target", exact=True).fill("5")
    agree.get_by_label("Period", exact=True).select_option("week")
    agree.get_by_label("Unit", exact=True).fill("calls")
    agree.get_by_label("Start", exact=True).fill(START.isoformat())
    agree.get_by_label("Due", exact=True).fill((TODAY - timedelta(days=1)).isoformat())
    agree.locator("summary").click()
    agree.get_by_label("Agreed in session", exact=True).select_option(index=1)
    with bob.page.expect_navigation():
        agree.get_by_role("button", name="Agree").click()
    assert "/commitments/" in bob.page.url
    cid = bob.page.url.rsplit("/", 1)[1].split("?")[0]
    assert server.ledger.commitment(UUID(cid)).rep == server.subjects["alice"]

    # the manager's own commitment, supporting the rep's
    bob.goto("/reps/alice")
    agree = _form(bob.page, "agree")
    agree.get_by_label("Owner", exact=True).select_option("manager")
    agree.get_by_label("Focus area", exact=True).fill("prospecting")
    agree.get_by_label("Behaviour (what will be done)", exact=True).fill("join two calls a week")
    agree.get_by_label("Target", exact=True).fill("2")
    agree.get_by_label("Start", exact=True).fill(START.isoformat())
    agree.get_by_label("Due", exact=True).fill((TODAY + timedelta(days=10)).isoformat())
    agree.locator("summary").click()
    agree.get_by_label("Supports (a rep's commitment)", exact=True).select_option(cid)
    with bob.page.expect_navigation():
        agree.get_by_role("button", name="Agree").click()
    support = bob.page.url.rsplit("/", 1)[1].split("?")[0]
    assert str(server.ledger.commitment(UUID(support)).supports) == cid

    # an invalid form: the refusal in the form, nothing written
    bob.goto(f"/commitments/{cid}")
    before = server.events()
    check_in = _form(bob.page, "check_in")
    check_in.get_by_label("Date", exact=True).fill((START - timedelta(days=5)).isoformat())
    check_in.get_by_label("Actual", exact=True).fill("3")
    with bob.page.expect_navigation():
        check_in.get_by_role("button", name="Record the check-in").click()
    assert "before the start" in bob.alert()
    assert server.events() == before
    assert (
        _form(bob.page, "check_in").get_by_label("Actual", exact=True).input_value() == "3"
    )  # kept
    bob.check_page("commitment with a refused form")
    refused = shots / "refused-check-in.png"
    _form(bob.page, "check_in").screenshot(path=str(refused))
    docs["browser-refused"] = refused
    bad = _form(bob.page, "check_in")
    bad.get_by_label("Date", exact=True).fill(TODAY.isoformat())
    bad.get_by_label("Actual", exact=True).fill("-4")
    with bob.page.expect_navigation():
        bad.get_by_role("button", name="Record the check-in").click()
    assert "actual" in bob.alert() and server.events() == before

    for days, actual in ((13, "7"), (6, "8")):
        form = _form(bob.page, "check_in")
        form.get_by_label("Date", exact=True).fill((TODAY - timedelta(days=days)).isoformat())
        form.get_by_label("Actual", exact=True).fill(actual)
        with bob.page.expect_navigation():
            form.get_by_role("button", name="Record the check-in").click()
    assert server.events() == before + 2
    close = _form(bob.page, "close")
    close.get_by_label("Date", exact=True).fill(TODAY.isoformat())
    close.get_by_label("Result", exact=True).select_option("met")
    with bob.page.expect_navigation():
        close.get_by_role("button", name="Close the commitment").click()
    assert server.events() == before + 4  # the close, and the end of its focus load

    verdict = _api_verdict(server, cid)
    label = verdict.replace("_", " ")
    events = bob.page.locator("table", has_text="Every event").inner_text()
    assert events.count("bob") >= 4  # agreed, 2 check-ins, closed: bob is the actor
    assert label in bob.page.locator("main, body").first.inner_text()
    bob.check_page("commitment closed")
    docs["browser-commitment"] = bob.shot("commitment", full_page=True)

    bob.goto("/reps/alice")
    rep_text = bob.page.locator("table", has_text="Every commitment of alice").inner_text()
    assert "outbound calls" in rep_text and label in rep_text
    bob.check_page("rep page")
    docs["browser-rep"] = bob.shot("rep-page")

    bob.goto("/reports/coaching")
    report = bob.page.inner_text("body")
    assert "Manager: bob" in report and "Team total" not in report
    bob.check_page("coaching report")
    bob.goto("/team")
    assert "alice" in bob.page.inner_text("table")
    bob.check_page("team")
    docs["browser-team"] = bob.shot("team")
    bob.goto(f"/reps/alice?on={(START + timedelta(days=1)).isoformat()}")
    assert f"on {(START + timedelta(days=1)).isoformat()}" in bob.page.inner_text("form.when")
    assert "outbound calls" in bob.page.inner_text("body")  # agreed at START: visible
    bob.close()

    # -- the rep: their history --------------------------------------------------------
    alice = Visitor(browser, server, shots)
    alice.goto("/login")  # by keyboard alone: Tab to the token, type it, Enter
    alice.page.keyboard.press("Tab")
    assert alice.page.evaluate("document.activeElement.id") == "login-token"
    alice.page.keyboard.type(server.tokens["alice"])
    with alice.page.expect_navigation():
        alice.page.keyboard.press("Enter")
    assert alice.page.url.endswith("/reps/alice")
    text = alice.page.inner_text("body")
    assert "outbound calls" in text and label in text and "join two calls a week" in text
    assert alice.page.locator("form#form-agree").count() == 0  # a rep writes nothing here
    alice.check_page("rep's own page")
    alice.goto(f"/commitments/{cid}")
    assert alice.page.locator("form#form-check_in").count() == 0

    # ... and contests the verdict: a reply beside it, the verdict unchanged
    reply = _form(alice.page, "reply")
    reply.get_by_label("Your reply", exact=True).fill("two of the calls were on leave days")
    reply.get_by_label("I contest the verdict", exact=True).check()
    before = server.events()
    with alice.page.expect_navigation():
        reply.get_by_role("button", name="Record the reply").click()
    assert alice.page.url.endswith(f"/commitments/{cid}")
    assert server.events() == before + 1
    replies = alice.page.locator("ul.replies").inner_text()
    assert "alice contests the verdict: two of the calls were on leave days" in replies
    assert _api_verdict(server, cid) == verdict  # a reply never changes a verdict
    assert label in alice.page.locator("main, body").first.inner_text()
    alice.check_page("commitment with a contesting reply")
    docs["browser-reply"] = alice.shot("reply", full_page=True)
    alice.goto("/reps/alice")
    mine = alice.page.locator("table", has_text="Every commitment of alice").inner_text()
    assert "contested" in mine
    assert "two of the calls were on leave days" in alice.page.inner_text("body")
    alice.check_page("rep page with a reply")
    alice.close()

    # -- another manager: refused --------------------------------------------------------
    mona = Visitor(browser, server, shots)
    mona.login("mona")
    response = mona.goto("/reps/alice")
    assert response.status == 403 and "may not read about 'alice'" in mona.alert()
    response = mona.goto(f"/commitments/{cid}")
    assert response.status == 404 and "no commitment" in mona.alert()
    mona.check_page("refused page")
    assert "alice" not in mona.page.inner_text("body").replace("'alice'", "")
    mona.goto("/team")
    assert "alice" not in mona.page.inner_text("body")
    mona.close()

    # the manager reads the rep's contest on the rep page
    bob = Visitor(browser, server, shots)
    bob.login("bob")
    bob.goto("/reps/alice")
    assert "contests the verdict" in bob.page.locator("table", has_text="Replies").inner_text()
    bob.close()

    # -- hr: pseudonymised until they ask for names; the access log ----------------------
    hugo = Visitor(browser, server, shots)
    hugo.login("hugo")
    alice_p = "p-" + server.subjects["alice"].replace("-", "")[:8]
    hugo.goto("/team")
    body = hugo.page.inner_text("body")
    assert alice_p in body and "alice" not in body and "Pseudonymised" in body
    hugo.check_page("team (hr, pseudonymised)")
    docs["browser-hr"] = hugo.shot("team-hr")
    with hugo.page.expect_navigation():
        hugo.page.get_by_role("link", name=alice_p).click()
    assert hugo.page.url.endswith(f"/reps/{alice_p}")
    body = hugo.page.inner_text("body")
    assert "alice" not in body and "outbound calls" not in body and "verdict" in body
    hugo.check_page("rep page (hr, pseudonymised)")
    with hugo.page.expect_navigation():
        hugo.page.get_by_role("link", name="Show names").click()
    assert "names=1" in hugo.page.url and "outbound calls" in hugo.page.inner_text("body")
    hugo.goto("/reports/coaching")
    assert "Team total" in hugo.page.inner_text("body")
    assert "bob" not in hugo.page.inner_text("body")
    hugo.check_page("coaching report (hr)")
    hugo.goto("/access-log")
    log = hugo.page.inner_text("table")
    # subject ids, never names
    assert "web.session" in log and server.subjects["bob"][:8] in log and "bob" not in log
    hugo.check_page("access log")
    hugo.close()

    # -- admin: the roster -------------------------------------------------------------
    ada = Visitor(browser, server, shots)
    ada.login("ada")
    ada.goto("/people")
    roster = ada.page.locator("table", has_text="people").inner_text()
    assert "alice" in roster and server.subjects["alice"] in roster
    ada.check_page("people (admin)")
    ada.close()

    # -- a small screen: 375 px wide, nothing wider than the screen --------------------
    small = Visitor(browser, server, shots, width=375)
    small.login("bob")
    for path in ("/team", "/reps/alice", f"/commitments/{cid}", "/reports/coaching"):
        small.goto(path)
        width = small.page.evaluate("document.documentElement.scrollWidth")
        wide = small.page.evaluate(
            "[...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > 376)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className)"
        )
        assert width <= 375, f"{path} is {width} px wide: {wide}"
        small.check_page(f"{path} at 375 px")
        if path == "/reps/alice":
            docs["browser-375"] = small.shot("rep-375")
    small.close()

    target = os.environ.get("COMMITMENTS_DOCS_IMG")
    if target:
        for name, shot in docs.items():
            shutil.copyfile(shot, Path(target) / f"{name}.png")


def _api_verdict(server: Server, cid: str) -> str:
    """The verdict the JSON API gives bob for the same commitment."""
    import httpx

    r = httpx.get(
        f"{server.url}/api/v1/commitments/{cid}",
        headers={"Authorization": f"Bearer {server.tokens['bob']}"},
    )
    assert r.status_code == 200, r.text
    return str(r.json()["verdict"])
