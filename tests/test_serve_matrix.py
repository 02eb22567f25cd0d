"""The authorization matrix (SPEC §7.5): every role × every endpoint × own/other
person, on both backends: the status code, the shape of the answer, and an
unchanged event count on every refusal.

"own" is alice's data (alice is the rep; bob her manager), "other" is rita's
(reported to mona). The expected codes are written out here, not derived from
the policy module, so a change of the policy shows up as a failing row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from tests.serve_support import START, TODAY, Served, is_error, served

OWN = ("alice", "bob")
OTHER = ("rita", "mona")
CALLERS = {"rep": "alice", "manager": "bob", "hr": "hugo", "admin": "ada"}

# endpoint -> role -> (status for own, status for other)
EXPECTED: dict[str, dict[str, tuple[int, int]]] = {
    "show": {"rep": (200, 404), "manager": (200, 404), "hr": (200, 200), "admin": (200, 200)},
    "list": {"rep": (200, 403), "manager": (200, 403), "hr": (200, 200), "admin": (200, 200)},
    "history": {"rep": (200, 403), "manager": (200, 403), "hr": (200, 200), "admin": (200, 200)},
    "team": {"rep": (403, 403), "manager": (200, 403), "hr": (200, 200), "admin": (200, 200)},
    "session_list": {
        "rep": (200, 403),
        "manager": (200, 403),
        "hr": (200, 200),
        "admin": (200, 200),
    },
    "session_show": {
        "rep": (200, 404),
        "manager": (200, 404),
        "hr": (200, 200),
        "admin": (200, 200),
    },
    "report": {"rep": (403, 403), "manager": (403, 403), "hr": (200, 200), "admin": (200, 200)},
    # the coaching cycle (SPEC §7.6): about one rep, like history
    **{
        read: {"rep": (200, 403), "manager": (200, 403), "hr": (200, 200), "admin": (200, 200)}
        for read in ("prep", "plan", "model", "due_ics")
    },
    # due filtered by manager: a rep may not ask about a manager, even their own
    "due": {"rep": (403, 403), "manager": (200, 403), "hr": (200, 200), "admin": (200, 200)},
    "report_hypotheses": {
        "rep": (403, 403),
        "manager": (403, 403),
        "hr": (200, 200),
        "admin": (200, 200),
    },
    "session": {"rep": (403, 403), "manager": (201, 403), "hr": (403, 403), "admin": (403, 403)},
    "agree": {"rep": (403, 403), "manager": (201, 403), "hr": (403, 403), "admin": (403, 403)},
    **{
        write: {"rep": (403, 404), "manager": (201, 404), "hr": (403, 403), "admin": (403, 403)}
        for write in ("check_in", "correct", "revise", "release", "close")
    },
    # a reply (SPEC §7.4): the rep on their own, the manager on the ones naming them;
    # hr and admin write nothing. On an open commitment the ledger refuses (409).
    "reply": {"rep": (201, 404), "manager": (201, 404), "hr": (403, 403), "admin": (403, 403)},
    "reply_open": {
        "rep": (409, 404),
        "manager": (409, 404),
        "hr": (403, 403),
        "admin": (403, 403),
    },
    "me": {role: (200, 200) for role in CALLERS},
    "access_list": {
        "rep": (403, 403),
        "manager": (403, 403),
        "hr": (403, 403),
        "admin": (200, 200),
    },
    "access_grant": {
        "rep": (403, 403),
        "manager": (403, 403),
        "hr": (403, 403),
        "admin": (201, 201),
    },
    "access_revoke": {
        "rep": (403, 403),
        "manager": (403, 403),
        "hr": (403, 403),
        "admin": (200, 200),
    },
    "access_log": {"rep": (403, 403), "manager": (403, 403), "hr": (200, 200), "admin": (200, 200)},
}

Ask = Callable[[Served, Any, tuple[str, str], str, int], Any]
"""(server, who, people, target made by the set-up, n) -> the response."""


def _fresh(s: Served, people: tuple[str, str]) -> str:
    return s.commitment(*people)


def _closed(s: Served, people: tuple[str, str]) -> str:
    cid = s.commitment(*people)
    s.ledger.close_commitment(UUID(cid), date=TODAY.isoformat(), actor="seed")
    return cid


def _none(s: Served, people: tuple[str, str]) -> str:
    return ""


def _write_on(suffix: str, body: dict[str, Any]) -> tuple[Callable[..., str], Ask]:
    return _fresh, lambda s, who, p, cid, n: s.post(f"/commitments/{cid}/{suffix}", who, body)


def _session(s: Served, people: tuple[str, str]) -> str:
    sid = s.ledger.record_session(rep=people[0], manager=people[1], date=START, actor="seed")
    return str(sid)


def _granted(s: Served, people: tuple[str, str]) -> str:
    name = f"gone-{people[0]}-{len(s.services.access.grants())}"
    s.services.access.grant(name, "rep", "setup")
    return name


def _activity(s: Served, people: tuple[str, str]) -> str:
    """A few days of calls and won value for the rep (idempotent: same source ids)."""
    rows = [
        {
            "rep": people[0],
            "metric": metric,
            "date": START,
            "value": value,
            "source_id": f"{metric}-{people[0]}",
            "actor": "seed",
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
        _none,
        lambda s, who, p, t, n: s.post("/access", who, {"name": f"new-{p[0]}-{n}", "role": "rep"}),
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
        "session_list": lambda b: isinstance(b, list) and all("prepared" in i for i in b) and b,
        "session_show": lambda b: {"id", "rep", "manager", "on", "commitments"} <= set(b),
        "session": lambda b: set(b) == {"id"},
        "agree": lambda b: set(b) == {"id"},
        "check_in": lambda b: (
            set(b) == {"id", "check_in", "warnings"} and b["check_in"] == 2 and b["warnings"] == []
        ),
        "me": lambda b: set(b) == {"name", "role"},
        "prep": lambda b: {"rep", "on", "signal", "conversation", "wins", "metrics"} <= set(b),
        "plan": lambda b: {"rep", "on", "commitments"} <= set(b) and len(b["commitments"]) > 0,
        "model": lambda b: {"rep", "activity", "outcome", "rate", "insufficient_history"} <= set(b),
        "due": lambda b: {"on", "within", "items"} <= set(b) and len(b["items"]) > 0,
        "due_ics": lambda b: b.startswith("BEGIN:VCALENDAR\r\n") and "BEGIN:VEVENT" in b,
        "report_hypotheses": lambda b: {"as_of", "on", "window_days", "managers"} <= set(b),
        "access_list": lambda b: isinstance(b, list) and all("token_hash" not in g for g in b),
        "access_grant": lambda b: set(b) == {"name", "role", "token"} and len(b["token"]) == 43,
        "access_revoke": lambda b: set(b) == {"name"},
        "access_log": lambda b: isinstance(b, list) and all("subjects" in e for e in b),
    }
    return checks.get(endpoint, lambda b: set(b) == {"id"})(body)


def _matrix(db: str, folder: Path) -> list[str]:
    wrong: list[str] = []
    n = 0
    with served(db, folder) as s:
        cases = [
            (endpoint, role, who, which, people, statuses[role][i])
            for endpoint, statuses in EXPECTED.items()
            for role, who in CALLERS.items()
            for i, (which, people) in enumerate((("own", OWN), ("other", OTHER)))
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
