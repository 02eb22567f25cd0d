"""The authorization matrix (SPEC §7.5): every role × every endpoint × own/other
person, on both backends: the status code, the shape of the answer, and an
unchanged event count on every refusal.

"own" is alice's data (alice is the rep; bob her manager), "other" is rita's
(reported to mona), "roster" is tess's: she reports to bob in the roster (the
people registry) only, her commitments and sessions were agreed with mona
(her manager before), so bob reaches them through the roster alone; requests
filtering by a manager name bob. The expected codes are written out here, not
derived from the policy module, so a change of the policy shows up as a
failing row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from tests.serve_support import START, TODAY, Served, is_error, served

OWN = ("alice", "bob", "bob")
OTHER = ("rita", "mona", "mona")
ROSTER = ("tess", "bob", "mona")
"""(the rep, the manager a request names, the manager the ledger's data names)"""
CALLERS = {"rep": "alice", "manager": "bob", "hr": "hugo", "admin": "ada"}

# endpoint -> role -> (status for own, status for other)
EXPECTED: dict[str, dict[str, tuple[int, int, int]]] = {
    "show": {
        "rep": (200, 404, 404),
        "manager": (200, 404, 200),
        "hr": (200, 200, 200),
        "admin": (200, 200, 200),
    },
    **{
        read: {
            "rep": (200, 403, 403),
            "manager": (200, 403, 200),
            "hr": (200, 200, 200),
            "admin": (200, 200, 200),
        }
        for read in ("list", "history", "session_list")
    },
    "team": {
        "rep": (403, 403, 403),
        "manager": (200, 403, 200),
        "hr": (200, 200, 200),
        "admin": (200, 200, 200),
    },
    "session_show": {
        "rep": (200, 404, 404),
        "manager": (200, 404, 200),
        "hr": (200, 200, 200),
        "admin": (200, 200, 200),
    },
    "report": {
        "rep": (403, 403, 403),
        "manager": (403, 403, 403),
        "hr": (200, 200, 200),
        "admin": (200, 200, 200),
    },
    # the coaching cycle (SPEC §7.6): about one rep, like history
    **{
        read: {
            "rep": (200, 403, 403),
            "manager": (200, 403, 200),
            "hr": (200, 200, 200),
            "admin": (200, 200, 200),
        }
        for read in ("prep", "plan", "model", "due_ics")
    },
    # due filtered by manager: a rep may not ask about a manager, even their own
    "due": {
        "rep": (403, 403, 403),
        "manager": (200, 403, 200),
        "hr": (200, 200, 200),
        "admin": (200, 200, 200),
    },
    "report_hypotheses": {
        "rep": (403, 403, 403),
        "manager": (403, 403, 403),
        "hr": (200, 200, 200),
        "admin": (200, 200, 200),
    },
    # a session or agreement: with the manager's own report (roster or not);
    # never with another manager's (the roster says whose rita is)
    **{
        write: {
            "rep": (403, 403, 403),
            "manager": (201, 403, 201),
            "hr": (403, 403, 403),
            "admin": (403, 403, 403),
        }
        for write in ("session", "agree")
    },
    **{
        write: {
            "rep": (403, 404, 404),
            "manager": (201, 404, 201),
            "hr": (403, 403, 403),
            "admin": (403, 403, 403),
        }
        for write in ("check_in", "correct", "revise", "release", "close")
    },
    # a reply (SPEC §7.4): the rep on their own, the manager on the ones naming them;
    # hr and admin write nothing. On an open commitment the ledger refuses (409);
    # so it does a reply by a manager the commitment does not name (tess's: mona's).
    "reply": {
        "rep": (201, 404, 404),
        "manager": (201, 404, 409),
        "hr": (403, 403, 403),
        "admin": (403, 403, 403),
    },
    "reply_open": {
        "rep": (409, 404, 404),
        "manager": (409, 404, 409),
        "hr": (403, 403, 403),
        "admin": (403, 403, 403),
    },
    "me": {role: (200, 200, 200) for role in CALLERS},
    **{
        admin_only: {
            "rep": (403, 403, 403),
            "manager": (403, 403, 403),
            "hr": (403, 403, 403),
            "admin": (ok, ok, ok),
        }
        for admin_only, ok in (("access_list", 200), ("access_grant", 201), ("access_revoke", 200))
    },
    "access_log": {
        "rep": (403, 403, 403),
        "manager": (403, 403, 403),
        "hr": (200, 200, 200),
        "admin": (200, 200, 200),
    },
}

Ask = Callable[[Served, Any, tuple[str, str, str], str, int], Any]
"""(server, who, people, target made by the set-up, n) -> the response."""


People = tuple[str, str, str]


def _fresh(s: Served, people: People) -> str:
    return s.commitment(people[0], people[2])


def _closed(s: Served, people: People) -> str:
    cid = s.commitment(people[0], people[2])
    s.ledger.close_commitment(UUID(cid), date=TODAY.isoformat(), actor=s.subjects["ada"])
    return cid


def _none(s: Served, people: People) -> str:
    return ""


def _write_on(suffix: str, body: dict[str, Any]) -> tuple[Callable[..., str], Ask]:
    return _fresh, lambda s, who, p, cid, n: s.post(f"/commitments/{cid}/{suffix}", who, body)


def _session(s: Served, people: People) -> str:
    return s.session(people[0], people[2])


def _registered(s: Served, people: People) -> str:
    """Someone new in the roster (names are strict: a grant names a registered person)."""
    name = f"new-{people[0]}-{len(s.subjects)}"
    s.sub(name)
    return name


def _granted(s: Served, people: People) -> str:
    name = _registered(s, people)
    s.services.access.grant(s.subjects[name], "rep", s.subjects["ada"])
    return name


def _activity(s: Served, people: People) -> str:
    """A few days of calls and won value for the rep (idempotent: same source ids)."""
    rows = [
        {
            "rep": s.sub(people[0]),
            "metric": metric,
            "date": START,
            "value": value,
            "source_id": f"{metric}-{people[0]}",
            "actor": s.subjects["ada"],
        }
        for metric, value in (("calls", 10), ("won_value", 500))
    ]
    s.ledger.record_activities(rows)
    return ""


MODEL = {"activity": "calls", "outcome": "won_value", "to": 20}
AGREE = {"focus": "prospecting", "behavior": "ten calls", "target": 10, "start": START}
# endpoint -> (set-up, ask)
REQUESTS: dict[str, tuple[Callable[..., str], Ask]] = {
    "show": (_fresh, lambda s, who, p, cid, n: s.get(f"/commitments/{cid}", who)),
    "list": (_none, lambda s, who, p, t, n: s.get("/commitments", who, rep=p[0])),
    "history": (_none, lambda s, who, p, t, n: s.get("/history", who, rep=p[0])),
    "team": (_none, lambda s, who, p, t, n: s.get("/team", who, manager=p[1])),
    "session_list": (_none, lambda s, who, p, t, n: s.get("/sessions", who, rep=p[0])),
    "session_show": (_session, lambda s, who, p, sid, n: s.get(f"/sessions/{sid}", who)),
    "report": (_none, lambda s, who, p, t, n: s.get("/reports/coaching", who, manager=p[1])),
    "prep": (_none, lambda s, who, p, t, n: s.get("/prep", who, rep=p[0])),
    "plan": (_none, lambda s, who, p, t, n: s.get("/plan", who, rep=p[0])),
    "model": (_activity, lambda s, who, p, t, n: s.get("/model", who, rep=p[0], **MODEL)),
    "due": (_none, lambda s, who, p, t, n: s.get("/due", who, manager=p[1])),
    "due_ics": (_none, lambda s, who, p, t, n: s.get("/due.ics", who, rep=p[0])),
    "report_hypotheses": (
        _none,
        lambda s, who, p, t, n: s.get("/reports/hypotheses", who, manager=p[1]),
    ),
    "session": (
        _none,
        lambda s, who, p, t, n: s.post(
            "/sessions", who, {"rep": p[0], "manager": p[1], "date": START, "prepared": True}
        ),
    ),
    "agree": (
        _none,
        lambda s, who, p, t, n: s.post(
            "/commitments", who, {"rep": p[0], "manager": p[1], **AGREE}
        ),
    ),
    "check_in": _write_on("check-ins", {"date": START, "actual": 9}),
    "correct": _write_on("corrections", {"check_in": 1, "actual": 5, "reason": "typo"}),
    "revise": _write_on("revisions", {"date": START, "reason": "split", "target": 8}),
    "release": _write_on("release", {"date": TODAY.isoformat(), "reason": "moved"}),
    "close": _write_on("close", {"date": TODAY.isoformat(), "result": "met"}),
    "reply": (
        _closed,
        lambda s, who, p, cid, n: s.post(
            f"/commitments/{cid}/replies", who, {"text": "the CRM lost calls", "contest": True}
        ),
    ),
    "reply_open": _write_on("replies", {"text": "too early", "contest": True}),
    "me": (_none, lambda s, who, p, t, n: s.get("/me", who)),
    "access_list": (_none, lambda s, who, p, t, n: s.get("/access", who)),
    "access_grant": (
        _registered,
        lambda s, who, p, name, n: s.post("/access", who, {"name": name, "role": "rep"}),
    ),
    "access_revoke": (
        _granted,
        lambda s, who, p, name, n: s.post("/access/revoke", who, {"name": name}),
    ),
    "access_log": (_none, lambda s, who, p, t, n: s.get("/access/log", who)),
}


def _shape_ok(endpoint: str, status: int, body: Any) -> bool:
    if status >= 400:
        return True  # checked by is_error
    checks: dict[str, Callable[[Any], bool]] = {
        "show": lambda b: {"id", "verdict", "terms", "log", "as_of", "on"} <= set(b),
        "list": lambda b: isinstance(b, list) and all("verdict" in i for i in b) and len(b) > 0,
        "history": lambda b: {"rep", "signal", "reasons", "counts", "commitments"} <= set(b),
        "report": lambda b: {"as_of", "on", "window_days", "managers", "team"} <= set(b),
        "team": lambda b: {"as_of", "on", "window_days", "reps"} <= set(b) and len(b["reps"]) > 0,
        "session_list": lambda b: (
            isinstance(b, list) and all("prepared" in i for i in b) and len(b) > 0
        ),
        "session_show": lambda b: {"id", "rep", "manager", "on", "commitments"} <= set(b),
        "session": lambda b: set(b) == {"id"},
        "agree": lambda b: set(b) == {"id"},
        "check_in": lambda b: (
            set(b) == {"id", "check_in", "warnings"} and b["check_in"] == 2 and b["warnings"] == []
        ),
        "me": lambda b: set(b) == {"name", "subject", "role"},
        "prep": lambda b: {"rep", "on", "signal", "conversation", "wins", "metrics"} <= set(b),
        "plan": lambda b: {"rep", "on", "commitments"} <= set(b) and len(b["commitments"]) > 0,
        "model": lambda b: {"rep", "activity", "outcome", "rate", "insufficient_history"} <= set(b),
        "due": lambda b: {"on", "within", "items"} <= set(b) and len(b["items"]) > 0,
        "due_ics": lambda b: b.startswith("BEGIN:VCALENDAR\r\n") and "BEGIN:VEVENT" in b,
        "report_hypotheses": lambda b: {"as_of", "on", "window_days", "managers"} <= set(b),
        "access_list": lambda b: isinstance(b, list) and all("token_hash" not in g for g in b),
        "access_grant": lambda b: (
            set(b) == {"name", "subject", "role", "token"} and len(b["token"]) == 43
        ),
        "access_revoke": lambda b: set(b) == {"name", "subject"},
        "access_log": lambda b: isinstance(b, list) and all("subjects" in e for e in b),
    }
    return checks.get(endpoint, lambda b: set(b) == {"id"})(body)


def _matrix(db: str, folder: Path) -> list[str]:
    wrong: list[str] = []
    n = 0
    with served(db, folder) as s:
        s.session("tess", "mona")  # tess's data names mona; the roster names bob
        relations = (("own", OWN), ("other", OTHER), ("roster", ROSTER))
        cases: list[tuple[str, str, str | None, str, tuple[str, str, str], int]] = [
            (endpoint, role, who, which, people, statuses[role][i])
            for endpoint, statuses in EXPECTED.items()
            for role, who in CALLERS.items()
            for i, (which, people) in enumerate(relations)
        ]
        # and without any identity: 401 everywhere
        cases += [(endpoint, "nobody", None, "own", OWN, 401) for endpoint in EXPECTED]
        for endpoint, role, who, which, people, want in cases:
            n += 1
            set_up, ask = REQUESTS[endpoint]
            target = set_up(s, people)
            before = s.events()
            response = ask(s, who, people, target, n)
            got = response.status_code
            calendar = response.headers["content-type"].startswith("text/calendar")
            if calendar != (endpoint == "due_ics" and got == 200):
                wrong.append(f"{endpoint} as {role} on {which}: content-type {calendar=}")
                continue
            body = response.text if calendar else response.json()
            row = f"{endpoint} as {role} on {which}: want {want}, got {got} {body}"
            if got != want:
                wrong.append(row)
                continue
            if got >= 400 and not is_error(response, 3 if got == 404 else 4):
                wrong.append(f"{row}: not the error shape")
            if not _shape_ok(endpoint, got, body):
                wrong.append(f"{row}: wrong shape")
            written = s.events() - before
            if got >= 400 and written:
                wrong.append(f"{row}: {written} events written on a refusal")
            if got == 201 and endpoint not in ("access_grant",) and not written:
                wrong.append(f"{row}: nothing written")
    return wrong


def test_authorization_matrix(db: str, tmp_path: Path) -> None:
    wrong = _matrix(db, tmp_path)
    assert not wrong, "\n".join(wrong)


# a report in the roster with nothing recorded yet: in the manager's scope at once
NEW_REPORT: dict[str, dict[str, int]] = {
    # endpoint -> role -> status (alice: rep, bob: nell's manager in the roster,
    # mona: another manager, hugo: hr, ada: admin)
    "history": {"alice": 403, "bob": 404, "mona": 403, "hugo": 404, "ada": 404},
    "sessions": {"alice": 403, "bob": 200, "mona": 403, "hugo": 200, "ada": 200},
    "list": {"alice": 403, "bob": 200, "mona": 403, "hugo": 200, "ada": 200},
    "session": {"alice": 403, "bob": 201, "mona": 403, "hugo": 403, "ada": 403},
}


def test_a_rostered_report_with_nothing_yet(db: str, tmp_path: Path) -> None:
    """nell reports to bob in the roster and has no session or commitment: bob
    (and hr, admin) may read about her (404: nothing yet, not 403), mona and
    alice may not (403), and bob may record her first session; nothing is
    written on a refusal."""
    with served(db, tmp_path) as s:
        s.sub("nell", manager="bob")
        for endpoint, by_role in NEW_REPORT.items():
            for who, want in by_role.items():
                before = s.events()
                if endpoint == "history":
                    r = s.get("/history", who, rep="nell")
                elif endpoint == "sessions":
                    r = s.get("/sessions", who, rep="nell")
                elif endpoint == "list":
                    r = s.get("/commitments", who, rep="nell")
                else:
                    manager = who if who in ("bob", "mona") else "bob"
                    body = {"rep": "nell", "manager": manager, "date": START}
                    r = s.post("/sessions", who, body)
                assert r.status_code == want, (endpoint, who, r.json())
                if want >= 400:
                    assert is_error(r, 3 if want == 404 else 4) and s.events() == before
                elif endpoint in ("sessions", "list"):
                    assert r.json() == []
