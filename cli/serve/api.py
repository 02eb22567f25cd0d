"""The JSON API under ``/api/v1/``: one line per read and per write.

A read is the CLI's own ``--format json`` function (``(rm, at, **params) ->
object``: :func:`cli.read.show_object`, ...), its parameters becoming query
(or path) parameters, plus ``as_of`` and ``on``; and a *target* saying whose
data it is, which decides the scope check:

* :class:`ById`     a commitment id in the path: one the caller may not read
                    about is "not found", with the same message as a missing one;
* :class:`About`    a person named in a parameter: 403 when out of scope;
* :class:`Each`     a collection: entries the caller may not read about are left
                    out (a rep's own name fills in ``narrow`` when not given);
* :class:`Everyone` across everyone (reports): by role only.

A write is a command model of :mod:`ledger.commands` (the request type, without
``actor``: the authenticated caller is the actor) and the :class:`Ledger`
method the CLI calls; it answers 201 with ``{"id"}``.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Body, FastAPI, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.json_schema import SkipJsonSchema

from ledger import commands as cmd
from ledger.errors import InvalidInput, no_such
from ledger.values import PersonId

from .. import cycle, read, report, sessions, team
from .access import Entry
from .policy import Action, Caller, Role, Scope, scope_for

# -- targets ------------------------------------------------------------------------


@dataclass(frozen=True)
class ById:
    param: str
    kind: str = "commitment"  # or "session"


@dataclass(frozen=True)
class About:
    param: str


@dataclass(frozen=True)
class Each:
    key: str | None = None  # None: the answer is the array; else answer[key] is
    narrow: str | None = "rep"  # the parameter a rep's own name fills in
    people: tuple[str, ...] = ("rep", "manager")  # person filters: must be in scope


@dataclass(frozen=True)
class Everyone:
    action: Action = Action.REPORT


@dataclass(frozen=True)
class Read:
    path: str
    name: str
    run: Callable[..., Any]
    target: ById | About | Each | Everyone
    moment: tuple[str, ...] = ("as_of", "on")  # which of T and D the command takes
    render: Callable[[Any, Any], Response] | None = None  # (answer, moment): not JSON


def ics(d: Any, at: Any) -> Response:
    """``due --format ics``: the same calendar file, as ``text/calendar``."""
    return Response(cycle.calendar(d, at.as_of), media_type="text/calendar; charset=utf-8")


@dataclass(frozen=True)
class Write:
    path: str
    name: str
    model: type[cmd.Command]
    method: str  # the Ledger method the CLI calls
    on_commitment: bool  # the path names the commitment ({commitment})
    caller_fields: tuple[str, ...] = ("actor",)  # filled in with the caller, never sent
    action: Action = Action.RECORD  # what a write on a commitment asks of the policy


READS = (
    Read("/commitments/{commitment}", "show", read.show_object, ById("commitment")),
    Read("/commitments", "list", read.list_objects, Each()),
    Read("/history", "history", read.history_object, About("rep")),
    Read("/team", "team", team.team_object, Each("reps", None, ("manager",))),
    Read("/sessions", "session_list", sessions.session_list_objects, Each(), ("as_of",)),
    Read(
        "/sessions/{session}",
        "session_show",
        sessions.session_object,
        ById("session", "session"),
        (),
    ),
    Read("/reports/coaching", "report_coaching", report.coaching_object, Everyone()),
    # the coaching cycle (SPEC §7.6): a rep's own, their manager's, hr's and admin's
    Read("/prep", "prep", cycle.prep_object, About("rep")),
    Read("/plan", "plan", cycle.plan_object, About("rep")),
    Read("/model", "model", cycle.model_object, About("rep")),
    Read("/due", "due", cycle.due_object, Each("items")),
    Read("/due.ics", "due_ics", cycle.due_object, Each("items"), render=ics),
    Read("/reports/hypotheses", "report_hypotheses", report.hypotheses_object, Everyone()),
)

WRITES = (
    Write("/sessions", "session", cmd.RecordSession, "record_session", False),
    Write("/commitments", "agree", cmd.Agree, "agree", False),
    Write("/commitments/{commitment}/check-ins", "check_in", cmd.CheckIn, "check_in", True),
    Write("/commitments/{commitment}/corrections", "correct", cmd.Correct, "correct", True),
    Write("/commitments/{commitment}/revisions", "revise", cmd.Revise, "revise", True),
    Write("/commitments/{commitment}/release", "release", cmd.Release, "release", True),
    Write("/commitments/{commitment}/close", "close", cmd.Close, "close_commitment", True),
    Write(
        "/commitments/{commitment}/replies",
        "reply",
        cmd.Reply,
        "reply",
        True,
        ("actor", "by"),  # the authenticated caller replies, in their own name
        Action.REPLY,
    ),
)

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "model": None}
    for status, text in (
        (401, "No identity, or a token that is unknown, altered or revoked"),
        (403, "Known, but not allowed for the caller's role and scope"),
        (404, "Not found (also: an id the caller may not know exists)"),
        (409, "Refused by a rule of the ledger (exit 4), or a conflict (exit 5, Retry-After)"),
        (422, "Invalid input (exit 2)"),
    )
}
bearer = HTTPBearer(auto_error=False, description="A token from 'commitments access grant'")


def add_endpoints(app: FastAPI, services: Any) -> None:
    prefix = "/api/v1"
    security = [Security(bearer)]
    for r in READS:
        app.add_api_route(
            prefix + r.path,
            _read_endpoint(r, services),
            methods=["GET"],
            name=f"read.{r.name}",
            summary=_first_line(r.run),
            responses=ERRORS,
            dependencies=security,
            tags=["reads"],
        )
    for w in WRITES:
        app.add_api_route(
            prefix + w.path,
            _write_endpoint(w, services),
            methods=["POST"],
            name=f"write.{w.name}",
            summary=f"{w.model.__name__}: the caller is the actor",
            status_code=201,
            responses=ERRORS,
            dependencies=security,
            tags=["writes"],
        )
    _access_endpoints(app, services, prefix, security)


def _first_line(fn: Callable[..., Any]) -> str:
    return (fn.__doc__ or fn.__name__).strip().splitlines()[0]


def _audit(request: Request) -> dict[str, Any]:
    audit: dict[str, Any] = request.scope.setdefault(
        "commitments.audit", {"action": "unknown", "subjects": [], "target": None}
    )
    return audit


def _caller(request: Request) -> Caller:
    caller: Caller = request.scope["commitments.caller"]
    return caller


def full_id(ref: str) -> UUID:
    """The API takes full ids only (a prefix could match ids the caller may not see)."""
    text = ref.strip().lower().replace("-", "")
    if len(text) != 32 or any(ch not in "0123456789abcdef" for ch in text):
        raise InvalidInput(f"{ref!r} is not a full id (32 hex digits; the API takes no prefixes)")
    return UUID(text)


def people_in(obj: Any) -> list[str]:
    """Person ids an answer holds (values of ``rep``, ``manager``, ``managers`` of the
    answer and of the objects in its lists, two lists deep): the access log's subjects."""
    found: list[str] = []

    def walk(value: Any, depth: int) -> None:
        if isinstance(value, list):
            for v in value:
                if isinstance(v, dict):
                    walk(v, depth)
            return
        for key, v in value.items():
            if key in ("rep", "manager") and isinstance(v, str):
                found.append(v)
            elif key == "managers" and isinstance(v, list):
                found.extend(m for m in v if isinstance(m, str))
            if depth < 2 and isinstance(v, list):
                walk(v, depth + 1)

    if isinstance(obj, (dict, list)):
        walk(obj, 0)
    return list(dict.fromkeys(found))


# -- reads -----------------------------------------------------------------------------


def _read_endpoint(spec: Read, services: Any) -> Callable[..., Any]:
    from .errors import error_response

    fn_params = list(inspect.signature(spec.run).parameters.values())[2:]  # after rm, at
    in_path = {p for p in fn_params if "{" + p.name + "}" in spec.path}
    params = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    ]
    for p in fn_params:
        annotation = _resolve(spec.run, p.annotation)
        if p in in_path:
            params.append(p.replace(annotation=annotation, kind=inspect.Parameter.KEYWORD_ONLY))
        else:
            alias = p.name.rstrip("_")  # from_: ?from=
            params.append(
                inspect.Parameter(
                    p.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=Annotated[annotation, Query(alias=alias)],  # keeps constraints
                    default=p.default,  # inspect.Parameter.empty: required
                )
            )
    params.append(
        inspect.Parameter(
            "names",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=bool,
            default=Query(
                False,
                description="hr: show names and free text (default for hr: pseudonymised, "
                "people as p-<8 hex>, text [withheld]); the choice is in the access log",
            ),
        )
    )
    for name, help_text in (
        ("as_of", "What the ledger knew at T: a date (end of that day, UTC) or a date-time"),
        ("on", "Business date D (YYYY-MM-DD); default: the date of as_of"),
    ):
        if name not in spec.moment:
            continue
        params.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=str | None,
                default=Query(None, description=help_text),
            )
        )

    def endpoint(request: Request, **kwargs: Any) -> Any:
        try:
            obj, at = _run_read(spec, services, request, kwargs)
            return JSONResponse(obj) if spec.render is None else spec.render(obj, at)
        except Exception as exc:
            return error_response(exc)

    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = f"read_{spec.name}"
    endpoint.__doc__ = spec.run.__doc__
    return endpoint


def _resolve(fn: Callable[..., Any], annotation: Any) -> Any:
    """A string annotation (``from __future__ import annotations``) as its type."""
    if isinstance(annotation, str):
        return eval(annotation, fn.__globals__)  # the CLI's own source, not user input
    return annotation


def _run_read(
    spec: Read, services: Any, request: Request, kwargs: dict[str, Any]
) -> tuple[Any, Any]:
    """The answer, scope-checked, and the moment it was asked at."""
    from projections.query import moment, unknown_id

    caller, audit = _caller(request), _audit(request)
    names = bool(kwargs.pop("names", False))
    at = moment(kwargs.pop("as_of", None), kwargs.pop("on", None))
    target = spec.target
    pseudonymised = caller.pseudonymised(names)
    audit["names"] = not pseudonymised
    with services.read_model() as rm:
        scope = scope_for(caller, rm)
        for param in _person_params(target):  # a pseudonym an hr reader was shown
            if isinstance(kwargs.get(param), str):
                kwargs[param] = person_named(rm, kwargs[param])
        if isinstance(target, ById):
            ref = kwargs[target.param]
            ident = str(full_id(ref))
            audit["target"] = ident
            people = rm.people_of(target.kind, ident)
            if people is not None:
                audit["subjects"] = list(people)
            if people is None or not scope.may(Action.READ, people[0], manager=people[1]):
                raise unknown_id(ref, target.kind)
        elif isinstance(target, About):
            person = str(kwargs[target.param]).strip()
            audit["subjects"] = [person]
            scope.require(Action.READ, person)
        elif isinstance(target, Each):
            named = [str(kwargs[p]).strip() for p in target.people if kwargs.get(p) is not None]
            audit["subjects"] = named
            for person in named:
                scope.require(Action.READ, person)
            if target.narrow and kwargs.get(target.narrow) is None and caller.role is Role.REP:
                kwargs[target.narrow] = caller.name
        else:
            scope.require(target.action)
        obj = spec.run(rm, at, **kwargs)
        if isinstance(target, Each):
            obj = _keep_visible(obj, target, scope)
        audit["subjects"] = list(dict.fromkeys([*audit["subjects"], *people_in(obj)]))
        if pseudonymised:
            from ..pseudonyms import Pseudonymiser

            obj = Pseudonymiser.of(rm.conn)(obj)
    return obj, at


def _person_params(target: Any) -> tuple[str, ...]:
    if isinstance(target, About):
        return (target.param,)
    if isinstance(target, Each):
        return target.people
    return ()


def person_named(rm: Any, value: str) -> str:
    """A person parameter as the read model names them: a pseudonym
    ``p-<8 hex>`` (what hr is shown) becomes the person's name; else unchanged."""
    from ..pseudonyms import subject_row

    text = value.strip()
    if not text.startswith("p-"):
        return value
    try:
        row = subject_row(rm.conn, text)
        if row is None:
            return value
        found = rm.conn.execute("SELECT name FROM people WHERE subject = ?", (row[0],)).fetchone()
    except Exception:  # no people table: nothing is pseudonymised
        return value
    return value if found is None else str(found[0])


def _keep_visible(obj: Any, target: Each, scope: Scope) -> Any:
    def visible(entry: Any) -> bool:
        return scope.may(Action.READ, entry.get("rep"), manager=entry.get("manager"))

    if target.key is None:
        return [e for e in obj if visible(e)]
    return {**obj, target.key: [e for e in obj[target.key] if visible(e)]}


# -- writes -----------------------------------------------------------------------------


def request_type(
    model: type[cmd.Command], caller_fields: tuple[str, ...] = ("actor",)
) -> type[BaseModel]:
    """The command model as a request body: the same fields and checks, without
    ``caller_fields`` (``actor``, and ``by`` of a reply: the authenticated
    caller fills them in)."""

    def not_sent(cls: Any, value: Any) -> None:
        if value is not None:
            raise ValueError("leave it out: the authenticated caller is the one who acts")
        return None

    def body(ns: dict[str, Any]) -> None:
        ns["__module__"] = __name__
        ns["__annotations__"] = {name: SkipJsonSchema[None] for name in caller_fields}  # type: ignore[misc]
        for name in caller_fields:
            ns[name] = None
        ns["model_config"] = ConfigDict(defer_build=False)  # FastAPI builds it now
        ns["_not_sent"] = field_validator(*caller_fields, mode="before")(classmethod(not_sent))

    return types.new_class(model.__name__, (model,), {}, body)


def _write_endpoint(spec: Write, services: Any) -> Callable[..., Any]:
    from .errors import error_response

    body_type = request_type(spec.model, spec.caller_fields)
    params = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter(
            "body", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[body_type, Body()]
        ),
    ]
    if spec.on_commitment:
        params.append(
            inspect.Parameter("commitment", inspect.Parameter.KEYWORD_ONLY, annotation=str)
        )

    def endpoint(request: Request, body: Any, commitment: str | None = None) -> Any:
        try:
            answer = _run_write(spec, services, request, body, commitment)
            return JSONResponse(answer, status_code=201)
        except Exception as exc:
            return error_response(exc)

    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = f"write_{spec.name}"
    return endpoint


def _run_write(
    spec: Write, services: Any, request: Request, body: Any, commitment: str | None
) -> dict[str, Any]:
    return perform_write(spec, services, _caller(request), _audit(request), body, commitment)


def perform_write(
    spec: Write,
    services: Any,
    caller: Caller,
    audit: dict[str, Any],
    body: Any,
    commitment: str | None,
) -> dict[str, Any]:
    """One write of the cycle by ``caller``, scope-checked: what the API's write
    endpoints and the pages' forms both run (``body``: :func:`request_type`)."""
    ledger = services.ledger
    values = body.model_dump(exclude=set(spec.caller_fields), exclude_unset=True)
    with services.read_model() as rm:
        # people by name through the read model (SPEC §7.4): the events carry
        # subject ids, the access log too; the scope still speaks in names
        from projections.people import People

        people = People(rm.conn)
        scope = scope_for(caller, rm)
        return _write_as(spec, ledger, people, scope, audit, body, values, commitment)


def _write_as(
    spec: Write,
    ledger: Any,
    people: Any,
    scope: Scope,
    audit: dict[str, Any],
    body: Any,
    values: dict[str, Any],
    commitment: str | None,
) -> dict[str, Any]:
    name_of = people.name_of
    caller = scope.caller
    # the caller's subject id (their grant's), else their name through the registry
    actor = caller.subject or people.actor(caller.name)
    if spec.on_commitment:
        assert commitment is not None
        cid = full_id(commitment)
        audit["target"] = str(cid)
        c = ledger.commitment(cid)
        audit["subjects"] = [c.rep, c.manager]
        scope.require(
            spec.action, name_of(c.rep), manager=name_of(c.manager),
            hidden=no_such("commitment", cid),
        )  # fmt: skip
        # the caller acts, and replies in their own name (``by``)
        values.update({name: actor for name in spec.caller_fields})
        result = getattr(ledger, spec.method)(cid, register=people.pending, **values)
        if spec.name == "check_in":  # recorded; a date outside the window is said, as the CLI does
            return {"id": str(cid), "check_in": result.number, "warnings": list(result.warnings)}
        return {"id": str(cid)}
    scope.require(Action.AGREE_AS, body.manager)
    scope.require(Action.AGREE_WITH, body.rep)
    session_id = getattr(body, "session_id", None)
    if session_id is not None:
        s = ledger.session(session_id)
        hidden = no_such("coaching session", session_id)
        scope.require(Action.READ, name_of(s.rep), manager=name_of(s.manager), hidden=hidden)
    supports = getattr(body, "supports", None)
    if supports is not None:
        c = ledger.commitment(supports)
        scope.require(
            Action.READ, name_of(c.rep), manager=name_of(c.manager),
            hidden=no_such("commitment", supports),
        )  # fmt: skip
    values["rep"] = people.ref(body.rep, role="rep")
    values["manager"] = people.ref(body.manager, role="manager")
    audit["subjects"] = [values["rep"], values["manager"]]
    new_id = getattr(ledger, spec.method)(actor=actor, register=people.pending, **values)
    audit["target"] = str(new_id)
    return {"id": str(new_id)}


# -- identity and access -------------------------------------------------------------------


def grants_with_names(grants: Any, views: str) -> list[dict[str, Any]]:
    """Grants as ``access list`` shows them: each person's current name beside
    the subject ids the store holds (an erased person: ``erased:<8 hex>``)."""
    from .access import names_by_subject

    names = names_by_subject(views)
    out = []
    for g in grants:
        d = g.as_dict()
        out.append({"name": names.get(g.subject, "unregistered"), **d})
    return out


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: PersonId
    role: Role


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: PersonId


def _access_endpoints(app: FastAPI, services: Any, prefix: str, security: list[Any]) -> None:
    from .access import parse_since, person_for_grant, person_known
    from .errors import error_response

    def guarded(request: Request, action: Action | None, run: Callable[[Caller], Any]) -> Any:
        try:
            caller = _caller(request)
            if action is not None:
                Scope(caller, frozenset).require(action)
            return run(caller)
        except Exception as exc:
            return error_response(exc)

    @app.get(
        prefix + "/me", name="read.me", dependencies=security, responses=ERRORS, tags=["access"]
    )
    def me(request: Request) -> Any:
        """Who the server takes the caller to be, and their role."""
        return guarded(
            request,
            None,
            lambda c: {"name": c.name, "subject": c.subject, "role": c.role.value},
        )

    @app.get(
        prefix + "/access",
        name="access.list",
        dependencies=security,
        responses=ERRORS,
        tags=["access"],
    )
    def access_list(request: Request) -> Any:
        """Every grant, active and revoked (admin), with each person's current name."""

        def run(caller: Caller) -> Any:
            services.catch_up()
            return grants_with_names(services.access.grants(), services.config.views)

        return guarded(request, Action.ACCESS, run)

    @app.post(
        prefix + "/access",
        name="access.grant",
        status_code=201,
        dependencies=security,
        responses=ERRORS,
        tags=["access"],
    )
    def access_grant(request: Request, body: GrantRequest) -> Any:
        """Grant a role to a person (admin), found by name through the people
        registry; the answer holds the token, shown this once."""

        def run(caller: Caller) -> Any:
            subject, by = person_for_grant(
                services.ledger, services.config.views, body.name, caller.subject or caller.name
            )
            _audit(request)["subjects"] = [subject]
            token = services.access.grant(subject, body.role.value, by, log=False)
            return JSONResponse(
                {"name": body.name, "subject": subject, "role": body.role.value, "token": token},
                status_code=201,
            )

        return guarded(request, Action.ACCESS, run)

    @app.post(
        prefix + "/access/revoke",
        name="access.revoke",
        dependencies=security,
        responses=ERRORS,
        tags=["access"],
    )
    def access_revoke(request: Request, body: RevokeRequest) -> Any:
        """Revoke a person's access (admin): their token stops working at once."""

        def run(caller: Caller) -> Any:
            subject, by = person_known(
                services.ledger, services.config.views, body.name, caller.subject or caller.name
            )
            _audit(request)["subjects"] = [subject]
            services.access.revoke(subject, by, log=False)
            return {"name": body.name, "subject": subject}

        return guarded(request, Action.ACCESS, run)

    @app.get(
        prefix + "/access/log",
        name="access.log",
        dependencies=security,
        responses=ERRORS,
        tags=["access"],
    )
    def access_log(request: Request, since: str | None = None) -> Any:
        """The access log (admin, hr), oldest first."""

        def run(caller: Caller) -> Any:
            start = parse_since(since) if since else None
            return [e.as_dict() for e in services.access.entries(start)]

        return guarded(request, Action.ACCESS_LOG, run)


__all__ = [
    "READS",
    "WRITES",
    "Entry",
    "add_endpoints",
    "full_id",
    "people_in",
    "perform_write",
    "request_type",
]
