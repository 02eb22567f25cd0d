"""Hypothesis over every endpoint of the API, with hostile paths, query strings,
bodies and identities, on both backends. Invariants, on every request:

* never a 5xx: every failure is one the code names, in the error shape of
  SPEC §7.5 with the exit code its status says;
* on any refusal nothing is written (the event count is unchanged), and a 201
  of a ledger write wrote something;
* every request is in the access log (exactly one more entry).

The endpoints are read from the application itself, so a new endpoint is
fuzzed without touching this file. Budget: ``COMMITMENTS_FUZZ_EXAMPLES``
(default 150) per backend.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.serve_support import ROLES, START, Served, is_error, served

EXAMPLES = examples(150, fuzz=True)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
STATUS_OF_EXIT = {2: {413, 422, 405}, 3: {404}, 4: {401, 403, 409}, 5: {409}}

HOSTILE = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "line\nbreak",
    "\u202e",
    "%ED%A0%80",  # a lone surrogate, percent-encoded
    "%ff%fe",
    "../../etc/passwd",
    "..",
    "%00",
    "%2e%2e%2f",
    "'; DROP TABLE stored_events; --",
    "<script>alert(1)</script>",
    "=1+1",
    "x" * 101,
    "y" * 5000,
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "000000",
    "-1",
    "1e309",
    "NaN",
    "2026-02-30",
    "9999-12-31",
    "0001-01-01",
    "alice",
    "bob",
    "rita",
    START,
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(HOSTILE),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


TODAY = date.today().isoformat()
VALID_BODIES: dict[str, dict[str, Any]] = {
    "write.session": {"rep": "alice", "manager": "bob", "date": START},
    "write.agree": {
        "rep": "alice",
        "manager": "bob",
        "focus": "prospecting",
        "behavior": "calls",
        "target": 3,
        "start": START,
    },
    "write.check_in": {"date": START, "actual": 2},
    "write.correct": {"check_in": 1, "actual": 2, "reason": "typo"},
    "write.revise": {"date": START, "reason": "split", "target": 4},
    "write.release": {"date": TODAY, "reason": "moved"},
    "write.close": {"date": TODAY},
    "write.reply": {"text": "the CRM lost two weeks of calls", "contest": True},
    "access.grant": {"name": "tess", "role": "manager"},
    "access.revoke": {"name": "tess"},
}
"""Valid bodies to start from, so that the mutations reach the rules (not only
the validation); an endpoint missing here is fuzzed with random bodies alone."""


def _mutated(draw: Any, valid: dict[str, Any] | None, fields: list[str]) -> Any:
    """``valid`` with a few keys replaced by hostile values, dropped, or added."""
    if valid is None:
        return st.just({})
    body = dict(valid)
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from([*valid, *fields]))
        if draw(st.booleans()):
            body[key] = draw(st.one_of(st.sampled_from(HOSTILE), json_scalars))
        else:
            body.pop(key, None)
    return st.just(body)


def _fields(route: Any) -> list[str]:
    body = getattr(route, "body_field", None)
    if body is None:
        return []
    model = getattr(body, "type_", None) or getattr(body.field_info, "annotation", None)
    return list(getattr(model, "model_fields", {}))


def _params(route: Any) -> list[str]:
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    return [p.name for p in dependant.query_params]


def test_fuzz_every_endpoint(db: str, tmp_path: Path) -> None:
    with served(db, tmp_path) as s:
        own = s.commitment("alice", "bob")
        hidden = s.commitment("rita", "mona")
        closed = s.commitment("alice", "bob")  # a verdict to reply to
        s.ledger.close_commitment(UUID(closed), date=TODAY, actor=s.subjects["ada"])
        routes = [
            (method, r)
            for r in s.app.routes
            if getattr(r, "path", "").startswith("/api/v1/")
            for method in sorted(r.methods or ())
        ]
        assert len(routes) >= 15
        ids = st.sampled_from(
            [own, hidden, closed, own.upper(), own.replace("-", ""), own[:8], closed.upper()]
        )
        path_values = st.one_of(ids, ids, ids, st.sampled_from(HOSTILE), st.text(max_size=40))
        valid = st.sampled_from(
            [
                *(START, "alice", "bob", "rita", "mona", "tess", own, hidden, 1, 3.5, True),
                *("met", "week", "p-" + s.subjects["alice"].replace("-", "")[:8], "p-00000000"),
            ]
        )

        @st.composite
        def requests(draw: Any) -> tuple[str, str, dict[str, Any], Any, dict[str, str]]:
            method, route = draw(st.sampled_from(routes))
            path = route.path
            if "{commitment}" in path:
                value = draw(path_values)
                raw = draw(st.booleans()) and all(c.isalnum() or c in "-." for c in value)
                path = path.replace("{commitment}", value if raw else quote(value, safe=""))
            names = [*_params(route), "as_of", "on", "window_days", "rep", "names", "bogus"]
            query = draw(
                st.dictionaries(
                    st.sampled_from(names),
                    st.one_of(valid, st.sampled_from(HOSTILE), st.text(max_size=20)),
                    max_size=4,
                )
            )
            fields = [*_fields(route), "actor", "extra"]
            body = draw(
                st.one_of(
                    st.dictionaries(
                        st.sampled_from(fields), st.one_of(valid, json_values), max_size=8
                    ),
                    _mutated(draw, VALID_BODIES.get(route.name), fields),
                    json_values,
                    st.binary(max_size=40),
                )
            )
            who = draw(st.sampled_from([*ROLES, None, "forged", "bob", "bob", "ada"]))
            headers = {}
            if who == "forged":
                headers["Authorization"] = "Bearer " + draw(st.text(min_size=1, max_size=60))
            elif who is not None:
                headers["Authorization"] = f"Bearer {s.tokens[who]}"
            return method, path, query, body, headers

        @FUZZ
        @given(requests())
        def check(request: tuple[str, str, dict[str, Any], Any, dict[str, str]]) -> None:
            method, path, query, body, headers = request
            before, logged = s.events(), len(s.services.access.entries())
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers = {**headers, "content-type": "application/json"}
            try:
                headers["Authorization"].encode("ascii")
            except (KeyError, UnicodeEncodeError):
                headers.pop("Authorization", None)
            r = s.client.request(
                method,
                path,
                params={k: str(v) for k, v in query.items()},
                content=content,
                headers=headers,
            )
            event(f"{method} {r.status_code}")  # --hypothesis-show-statistics
            where = f"{method} {path} {query} {body!r} -> {r.status_code} {r.text[:300]}"
            assert r.status_code < 500, where
            written = s.events() - before
            if r.status_code >= 400:
                assert is_error(r), where
                assert r.status_code in STATUS_OF_EXIT[r.json()["error"]["exit_code"]], where
                assert written == 0, where
            elif r.status_code == 201 and "/access" not in path:
                assert written > 0, where
            assert len(s.services.access.entries()) == logged + 1, where

        check()
        _ = _shape_sanity(s)


def _shape_sanity(s: Served) -> bool:
    """After the storm the server still answers ordinary requests."""
    assert s.get("/history", "alice", rep="alice").status_code == 200
    return True
