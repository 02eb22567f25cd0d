"""Replies in the browser pages (SPEC §7.4, §7.5), through FastAPI's TestClient on
both backends: the reply form on the commitment page (CSRF, the refusal shown
in the form, nothing written), the replier is the logged-in person, the reply
shows on the commitment and rep pages beside an unchanged verdict, and the
scopes are the API's (another manager: not found; hr: forbidden)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from ledger import commands as cmd
from tests.serve_support import Served, served
from tests.test_web import alert, login

TODAY = date.today().isoformat()
TEXT = 'the CRM lost two weeks of calls <i>"really"</i>'


@pytest.fixture
def s(db: str, tmp_path: Path) -> Iterator[Served]:
    with served(db, tmp_path) as server:
        yield server


def closed_commitment(s: Served, rep: str = "alice", manager: str = "bob") -> str:
    cid = s.commitment(rep, manager)
    s.ledger.close_commitment(
        UUID(cid), cmd.validate(cmd.Close, date=TODAY, actor=s.subjects["ada"])
    )
    return cid


def test_the_rep_contests_in_the_form_and_it_shows_beside_the_verdict(s: Served) -> None:
    cid = closed_commitment(s)
    verdict = s.get(f"/commitments/{cid}", "bob").json()["verdict"]
    csrf = login(s, "alice")
    page = s.client.get(f"/commitments/{cid}")
    assert 'id="form-reply"' in page.text and "Replying as alice (you)" in page.text
    assert 'id="form-close"' not in page.text  # a rep records nothing else here
    before = s.events()
    r = s.client.post(
        f"/commitments/{cid}/reply",
        data={"csrf": csrf, "text": TEXT, "contest": "yes", "by": "bob"},  # by: ignored
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/commitments/{cid}"
    assert s.events() == before + 1  # the reply (alice is registered already)
    shown = s.get(f"/commitments/{cid}", "bob").json()
    assert shown["verdict"] == verdict
    assert shown["replies"] == [{"on": TODAY, "by": "alice", "text": TEXT, "contests": True}]
    assert shown["log"][-1]["actor"] == "alice"  # the logged-in person, as actor and replier

    escaped = html.escape(TEXT, quote=True).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
    page = s.client.get(f"/commitments/{cid}").text
    assert "alice</strong> contests the verdict: " + escaped in page and "<i>" not in page
    rep_page = s.client.get("/reps/alice").text
    assert "contests the verdict" in rep_page and escaped in rep_page
    assert "contested</strong>" in rep_page
    # the manager sees it too, and may answer on the same commitment
    csrf = login(s, "bob")
    assert "contests the verdict" in s.client.get(f"/commitments/{cid}").text
    r = s.client.post(
        f"/commitments/{cid}/reply",
        data={"csrf": csrf, "text": "we will look at the CRM export"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and s.events() == before + 2


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"text": ""}, 422, "text: is required"),
        ({"text": "x\x1b[31m"}, 422, "text: must not contain control characters"),
        ({"text": "x", "date": "2020-01-01"}, 409, "before the agreement"),
        ({"text": "x", "date": "soon"}, 422, "date: "),
    ],
)
def test_a_refused_reply_shows_in_the_form_and_writes_nothing(
    s: Served, data: dict[str, str], status: int, message: str
) -> None:
    cid = closed_commitment(s)
    csrf = login(s, "alice")
    before = s.events()
    r = s.client.post(f"/commitments/{cid}/reply", data={**data, "csrf": csrf})
    assert r.status_code == status, r.text
    assert message in alert(r) and 'id="form-reply"' in r.text
    assert s.events() == before


def test_a_reply_on_an_open_commitment_is_refused_in_the_form(s: Served) -> None:
    cid = s.commitment("alice", "bob")  # open: no verdict to answer yet
    csrf = login(s, "alice")
    assert 'id="form-reply"' not in s.client.get(f"/commitments/{cid}").text
    before = s.events()
    r = s.client.post(f"/commitments/{cid}/reply", data={"csrf": csrf, "text": "early"})
    assert r.status_code == 409 and "is open" in alert(r)
    assert s.events() == before


def test_a_reply_without_csrf_or_out_of_scope_writes_nothing(s: Served) -> None:
    cid = closed_commitment(s)
    before = s.events()
    login(s, "alice")
    r = s.client.post(f"/commitments/{cid}/reply", data={"text": "no token"})
    assert r.status_code == 403 and "CSRF" in alert(r)
    csrf = login(s, "mona")  # another manager: the commitment is not hers to know
    r = s.client.post(f"/commitments/{cid}/reply", data={"csrf": csrf, "text": "hi"})
    assert r.status_code == 404
    csrf = login(s, "rita")  # another rep
    r = s.client.post(f"/commitments/{cid}/reply", data={"csrf": csrf, "text": "hi"})
    assert r.status_code == 404
    csrf = login(s, "hugo")  # hr reads everything and writes nothing
    assert 'id="form-reply"' not in s.client.get(f"/commitments/{cid}").text
    r = s.client.post(f"/commitments/{cid}/reply", data={"csrf": csrf, "text": "hi"})
    assert r.status_code == 403
    assert s.events() == before


def test_the_api_replies_in_the_callers_name(s: Served) -> None:
    cid = closed_commitment(s)
    before = s.events()
    r = s.post(f"/commitments/{cid}/replies", "alice", {"text": "late, not missing"})
    assert r.status_code == 201 and r.json() == {"id": cid}
    r = s.post(f"/commitments/{cid}/replies", "alice", {"text": "x", "by": "bob"})
    assert r.status_code == 422  # the replier is the caller, never sent
    assert s.events() == before + 1  # the reply (alice is registered already)
    replies = s.get("/history", "alice", rep="alice").json()["commitments"]
    assert [c["replies"] for c in replies if c["id"] == cid] == [
        [{"on": TODAY, "by": "alice", "text": "late, not missing", "contests": False}]
    ]
