"""The pages: the coaching cycle in the browser, server-rendered (SPEC §7.5).

Log in with a token (kept in an HttpOnly, SameSite=Strict cookie; the pages
never see it), then: the team overview, a rep's page (timeline, commitments,
sessions), a commitment's page (terms, verdict, every event with its actor),
the coaching report and the access log; and the forms of the cycle. Every page
takes ``?on=`` and ``?as_of=`` and shows them in its header.

Scopes come from :mod:`cli.serve.policy` and the writes from
:func:`cli.serve.api.perform_write`, so a page shows and does what the API
does for the same caller: an id the caller may not read about is "not found",
a person out of scope 403. Every form carries a CSRF token (an HMAC of the
session's token: nothing to store, valid in every worker); a post without it
is 403 and writes nothing. Every page and post is one line in the access log
(``via: web``). No script at all; the stylesheet is served from here, so the
Content-Security-Policy forbids inline script and inline style.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.errors import InvalidInput, LedgerError, NotFound, no_such

from ..errors import exit_code_for
from ..safe import one_line
from . import forms
from .access import Entry, now_text
from .api import full_id, perform_write
from .policy import Action, Caller, Forbidden, Role, Scope, Unauthenticated, scope_for

COOKIE = "commitments_session"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
MAX_FORM = 64 * 1024
ACCESS_LOG_LIMIT = 500
STATUS = {2: 422, 3: 404, 4: 409, 5: 409, 1: 500}


def csrf_for(token: str) -> str:
    """The CSRF token of a session: an HMAC keyed by its (secret, HttpOnly) token."""
    return hmac.new(token.encode(), b"commitments-csrf", hashlib.sha256).hexdigest()


def csrf_for_proxied(secret: str, name: str) -> str:
    """The CSRF token of a person a single-sign-on proxy names (``--trust-header``):
    an HMAC of their name keyed by the server's secret (one for every worker)."""
    return hmac.new(
        secret.encode(), b"commitments-sso\0" + name.encode(), hashlib.sha256
    ).hexdigest()


class _Page:
    """One request to a page: who asks, the moment asked for, the links."""

    def __init__(self, request: Request, services: Any, caller: Caller | None, csrf: str):
        self.request = request
        self.services = services
        self.caller = caller
        self.csrf = csrf  # what this caller's forms carry ("" if nobody)
        q = request.query_params
        self.on = (q.get("on") or "").strip() or None
        self.as_of = (q.get("as_of") or "").strip() or None
        self.names = q.get("names") == "1"  # hr: names asked for (recorded in the log)
        self.audit: dict[str, Any] = {"subjects": [], "target": None}
        if caller is not None and request.method == "GET":
            self.audit["names"] = not caller.pseudonymised(self.names)

    @property
    def pseudonymised(self) -> bool:
        """hr's pages show ``p-<8 hex>`` and ``[withheld]`` unless ``?names=1``."""
        return self.caller is not None and self.caller.pseudonymised(self.names)

    @property
    def when(self) -> dict[str, str]:
        pairs: tuple[tuple[str, str], ...] = (("on", self.on or ""), ("as_of", self.as_of or ""))
        if self.names and self.caller is not None and self.caller.role is Role.HR:
            pairs += (("names", "1"),)
        return {k: v for k, v in pairs if v}

    def link(self, path: str, **params: str) -> str:
        query = {**{k: v for k, v in params.items() if v}, **self.when}
        return path + ("?" + urlencode(query) if query else "")

    def moment(self) -> Any:
        from projections.query import moment

        return moment(self.as_of, self.on)

    def scope(self, rm: Any) -> Scope:
        assert self.caller is not None
        return scope_for(self.caller, rm)

    def hide(self, rm: Any, obj: Any) -> Any:
        """``obj`` pseudonymised when this page is (hr without ``?names=1``)."""
        if not self.pseudonymised:
            return obj
        from ..pseudonyms import Pseudonymiser

        return Pseudonymiser.of(rm.conn)(obj)

    def person(self, rm: Any, value: str) -> str:
        """A person in the path as the read model names them (a pseudonym: its person)."""
        from .api import person_named

        return person_named(rm, value.strip()).strip()

    def context(self, at: Any = None, **keep: str) -> dict[str, Any]:
        caller = self.caller
        allowed = Scope(caller, frozenset).may if caller else None
        path = self.request.url.path
        keep = {k: v for k, v in keep.items() if v}
        return {
            "layout": "web/layout.html.j2",
            "stylesheet": "/static/app.css",
            "caller": caller,
            "csrf": self.csrf,
            "proxied": bool(caller) and not self.request.cookies.get(COOKIE),
            "link": self.link,
            "path": path,
            "keep": keep,
            "now_link": path + ("?" + urlencode(keep) if keep else ""),
            "time_travel": bool(self.when),
            "at_on": at.d if at is not None else "",
            "at_as_of": at.as_of_text if at is not None else "",
            "query_on": self.on or "",
            "query_as_of": self.as_of or "",
            "may_report": bool(
                caller
                and (
                    (allowed and allowed(Action.REPORT))  # type: ignore[truthy-function]
                    or caller.role is Role.MANAGER
                )
            ),
            "may_log": bool(caller and allowed and allowed(Action.ACCESS_LOG)),
            "may_people": bool(caller and allowed and allowed(Action.PEOPLE)),
            "when": self.when,
            "pseudonymised": self.pseudonymised,
            "hr": bool(caller) and caller.role is Role.HR,  # type: ignore[union-attr]
            "names_link": self._names_link(not self.names),
        }

    def _names_link(self, names: bool) -> str:
        query = dict(self.request.query_params)
        query.pop("names", None)
        if names:
            query["names"] = "1"
        path = self.request.url.path
        return path + ("?" + urlencode(query) if query else "")


def html(text: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def _render(name: str, **ctx: Any) -> str:
    from ..html import environment

    return environment().get_template(name).render(**ctx)


def _status_of(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, Unauthenticated):
        return 401, str(exc)
    if isinstance(exc, Forbidden):
        return 403, str(exc)
    code, message = exit_code_for(exc)
    return STATUS.get(code, 500), message


def _message(page: _Page, status: int, message: str) -> HTMLResponse:
    headings = {401: "Not logged in", 403: "Not allowed", 404: "Not found", 422: "Invalid"}
    heading = headings.get(status, "Refused" if status == 409 else "Error")
    try:
        at = page.moment()
    except LedgerError:  # the refusal may be the moment itself
        at = None
    text = _render(
        "web/message.html.j2",
        **page.context(at),
        heading=heading,
        message=one_line(message),
    )
    return html(text, status)


def add_pages(app: FastAPI, services: Any) -> None:
    """The pages and forms, on ``app`` (outside ``/api/v1/``)."""

    def identify(request: Request) -> tuple[Caller | None, str]:
        """The caller and the CSRF token their forms carry: from the session cookie,
        else from the trusted proxy's header (as the API: a name without a grant
        is 403), else nobody."""
        token = request.cookies.get(COOKIE, "")
        if token:
            try:
                return services.caller_of(token), csrf_for(token)
            except Unauthenticated:
                pass
        header = services.config.trust_header
        if header is not None and request.headers.get(header) is not None:
            caller = services.identify({header.lower(): request.headers[header]})
            return caller, csrf_for_proxied(services.secret, caller.subject)
        return None, ""

    def log(page: _Page, action: str, status: int) -> None:
        caller = page.caller
        subjects = services.subjects_for(page.audit["subjects"])
        services.access.append(
            Entry(
                at=now_text(),
                via="web",
                who=caller.subject if caller else None,
                role=caller.role.value if caller else None,
                action=action,
                subjects=subjects,
                target=page.audit["target"],
                status=status,
                names=page.audit.get("names") if status < 300 else None,
            )
        )

    def guarded(request: Request, action: str, run: Callable[[_Page], Response]) -> Response:
        """Identify, run, log: a page (or form) that needs a logged-in caller."""
        response: Response
        try:
            caller, csrf = identify(request)
        except (Unauthenticated, Forbidden) as exc:  # a proxied name without a grant
            page = _Page(request, services, None, "")
            response = _message(page, *_status_of(exc))
            log(page, action, response.status_code)
            return response
        page = _Page(request, services, caller, csrf)
        if caller is None:
            response = RedirectResponse("/login", 303, headers=PAGE_HEADERS)
        else:
            try:
                response = run(page)
            except Exception as exc:  # every refusal is a page with its one line
                status, message = _status_of(exc)
                response = _message(page, status, message)
        try:
            log(page, action, response.status_code)
        except Exception as exc:
            return html(f"the access log cannot be written: {one_line(str(exc))}", 500)
        return response

    # -- static, login, logout -------------------------------------------------------

    @app.get("/static/app.css", include_in_schema=False)
    def stylesheet() -> Response:
        from ..html import environment

        css = environment().get_template("style.css.j2").render()
        css += environment().get_template("app.css.j2").render()
        headers = {**PAGE_HEADERS, "Cache-Control": "max-age=3600"}
        return Response(css, media_type="text/css", headers=headers)

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        try:
            caller, _ = identify(request)
        except (Unauthenticated, Forbidden) as exc:
            return _message(_Page(request, services, None, ""), *_status_of(exc))
        if caller is None:
            return RedirectResponse("/login", 303, headers=PAGE_HEADERS)
        target = f"/reps/{quote(caller.name, safe='')}" if caller.role is Role.REP else "/team"
        return RedirectResponse(target, 303, headers=PAGE_HEADERS)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request) -> Response:
        page = _Page(request, services, None, "")
        return html(_render("web/login.html.j2", **page.context(), error=None))

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        page = _Page(request, services, None, "")
        if form is None or not _same_origin(request):
            return html(_render("web/login.html.j2", **page.context(), error="refused"), 403)
        token = form.get("token", "").strip()

        def caller_of(token: str) -> Caller | None:
            try:
                caller: Caller = services.caller_of(token)
                return caller
            except Unauthenticated:
                return None

        caller = await anyio.to_thread.run_sync(caller_of, token)
        page.caller = caller
        await anyio.to_thread.run_sync(log, page, "web.login", 303 if caller else 401)
        if caller is None:
            error = "the token is not valid (unknown, altered or revoked)"
            return html(_render("web/login.html.j2", **page.context(), error=error), 401)
        response = RedirectResponse("/", 303, headers=PAGE_HEADERS)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await _form(request)

        def run(page: _Page) -> Response:
            _check_csrf(page, form)
            response = RedirectResponse("/login", 303, headers=PAGE_HEADERS)
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
            return response

        return await anyio.to_thread.run_sync(guarded, request, "web.logout", run)

    # -- pages -----------------------------------------------------------------------

    @app.get("/team", include_in_schema=False)
    def team(
        request: Request,
        manager: str | None = None,
        team: str | None = None,
        region: str | None = None,
    ) -> Response:
        return guarded(
            request,
            "web.team",
            lambda p: _team_page(p, manager or None, team=team or None, region=region or None),
        )

    @app.get("/reps/{rep}", include_in_schema=False)
    def rep(request: Request, rep: str) -> Response:
        return guarded(request, "web.rep", lambda p: _rep_page(p, rep))

    @app.get("/reps/{rep}/prep", include_in_schema=False)
    def rep_prep(request: Request, rep: str, manager: str | None = None) -> Response:
        return guarded(request, "web.prep", lambda p: _prep_page(p, rep, manager or None))

    @app.get("/reps/{rep}/plan", include_in_schema=False)
    def rep_plan(request: Request, rep: str) -> Response:
        return guarded(request, "web.plan", lambda p: _plan_page(p, rep))

    @app.get("/commitments/{commitment}", include_in_schema=False)
    def commitment(request: Request, commitment: str) -> Response:
        return guarded(request, "web.commitment", lambda p: _commitment_page(p, commitment))

    @app.get("/reports/coaching", include_in_schema=False)
    def coaching(request: Request, manager: str | None = None) -> Response:
        return guarded(request, "web.report_coaching", lambda p: _coaching_page(p, manager or None))

    @app.get("/access-log", include_in_schema=False)
    def access_log(request: Request) -> Response:
        return guarded(request, "web.access_log", _access_log_page)

    @app.get("/people", include_in_schema=False)
    def people_page(request: Request) -> Response:
        return guarded(request, "web.people", _people_page)

    @app.post("/people/{what}", include_in_schema=False)
    async def people_form(request: Request, what: str) -> Response:
        form = await _form(request)

        def run(page: _Page) -> Response:
            _check_csrf(page, form)
            if what not in ("rename", "erase"):
                raise NotFound(f"no such form: {what}")
            return _people_submit(page, what, form or {})

        action = f"web.people_{what}" if what in ("rename", "erase") else "web.unknown"
        return await anyio.to_thread.run_sync(guarded, request, action, run)

    # -- forms -----------------------------------------------------------------------

    @app.post("/team/sessions", include_in_schema=False)
    async def team_session(request: Request) -> Response:
        form = await _form(request)

        def run(page: _Page) -> Response:
            _check_csrf(page, form)
            return _submit(page, "session", form or {}, rep=None, commitment=None)

        return await anyio.to_thread.run_sync(guarded, request, "web.session", run)

    @app.post("/reps/{rep}/{what}", include_in_schema=False)
    async def rep_form(request: Request, rep: str, what: str) -> Response:
        form = await _form(request)
        name = {"sessions": "session", "commitments": "agree"}.get(what)

        def run(page: _Page) -> Response:
            _check_csrf(page, form)
            if name is None:
                raise NotFound(f"no such form: {what}")
            return _submit(page, name, form or {}, rep=rep, commitment=None)

        return await anyio.to_thread.run_sync(guarded, request, f"web.{name or 'unknown'}", run)

    @app.post("/commitments/{commitment}/{what}", include_in_schema=False)
    async def commitment_form(request: Request, commitment: str, what: str) -> Response:
        form = await _form(request)
        name = what.replace("-", "_") if what.replace("-", "_") in forms.SPECS else None
        if name in ("session", "agree"):
            name = None

        def run(page: _Page) -> Response:
            _check_csrf(page, form)
            if name is None:
                raise NotFound(f"no such form: {what}")
            return _submit(page, name, form or {}, rep=None, commitment=commitment)

        return await anyio.to_thread.run_sync(guarded, request, f"web.{name or 'unknown'}", run)

    app.state.web_identify = identify


# -- request helpers ----------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str] | None:
    """The posted form (urlencoded, at most 64 KiB), or None."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    length = request.headers.get("content-length", "0").strip() or "0"
    if kind != "application/x-www-form-urlencoded" or not length.isdigit():
        return None
    if int(length) > MAX_FORM:
        return None
    body = await request.body()
    if len(body) > MAX_FORM:
        return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(pairs)


def _same_origin(request: Request) -> bool:
    """A post another site's page made is refused: the browser says so in
    ``Sec-Fetch-Site``, or in an ``Origin`` naming another host. (Under
    ``Referrer-Policy: no-referrer`` a same-site post may carry ``Origin: null``.)"""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def _check_csrf(page: _Page, form: dict[str, str] | None) -> None:
    if form is None:
        raise Forbidden("refused: not a form of this site (urlencoded, at most 64 KiB)")
    sent = form.get("csrf", "")
    if (
        not page.csrf
        or not _same_origin(page.request)
        or not hmac.compare_digest(sent.encode(), page.csrf.encode())
    ):
        raise Forbidden("refused: the form's CSRF token is missing or wrong; reload the page")


# -- the pages ----------------------------------------------------------------------------


def _team_page(
    page: _Page,
    manager: str | None,
    *,
    team: str | None = None,
    region: str | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    from ..html import team_page
    from ..team import team_json

    at = page.moment()
    caller = page.caller
    assert caller is not None
    from projections.people import names_in, roster

    with page.services.read_model() as rm:
        scope = page.scope(rm)
        if manager is not None:
            manager = page.person(rm, manager)
        histories = rm.team(at, manager=manager)
        visible = [h for h in histories if scope.may(Action.READ, h.rep)]
        if team is not None or region is not None:  # the roster as it stands now
            members = names_in(rm.conn, team=team, region=region)
            visible = [h for h in visible if h.rep in members]
        everyone = sorted(rm.people("manager"))
        people = roster(rm.conn)
        obj = team_json(visible, at, 30)
        from ledger import rules

        obj["window_days"] = rules.DEFAULT_WINDOW_DAYS
        page.audit["subjects"] = [r["rep"] for r in obj["reps"]]
        if page.pseudonymised:
            from ..pseudonyms import Pseudonymiser

            hide = Pseudonymiser.of(rm.conn)
            obj = hide(obj)
            everyone = [hide.person(m) for m in everyone]
            manager = None if manager is None else hide.person(manager)
    managers = everyone if Scope(caller, frozenset).may(Action.REPORT) else []
    teams = sorted({p.team for p in people if p.team and not p.erased})
    regions = sorted({p.region for p in people if p.region and not p.erased})
    if page.pseudonymised:  # a team named after its manager would name them
        teams = []
    forms_ = []
    if scope.may(Action.AGREE_AS, caller.name):
        forms_.append(
            forms.view(
                forms.SPECS["session"],
                "/team/sessions",
                values=values,
                error=error,
                fixed=[f"Manager: {caller.name} (you)"],
                extra_fields=("rep",),
            )
        )
    text = team_page(
        obj,
        manager,
        template="web/team.html.j2",
        **page.context(at, manager=manager or "", team=team or "", region=region or ""),
        managers=managers,
        teams=teams,
        regions=regions,
        team_filter=team or "",
        region_filter=region or "",
        forms=forms_,
    )
    return html(text, status)


def _rep_page(
    page: _Page,
    rep: str,
    *,
    failed: str | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    from ..html import rep_page

    at = page.moment()
    caller = page.caller
    assert caller is not None
    with page.services.read_model() as rm:
        rep = page.person(rm, rep)
        page.audit["subjects"] = [rep]
        scope = page.scope(rm)
        scope.require(Action.READ, rep)
        h = rm.history(rep, at)
        sessions = rm.session_objects(at.t, on=at.d, rep=rep)
        items = [i.as_dict() for i in rm.commitments(at, rep=rep)]
        items = [i for i in items if scope.may(Action.READ, i["rep"], manager=i["manager"])]
        sessions = [s for s in sessions if scope.may(Action.READ, s["rep"], manager=s["manager"])]
        if page.pseudonymised:  # hr: the timeline's texts would name and quote; a table
            from ..read import history_object

            obj = page.hide(rm, history_object(rm, at, rep))
            hidden = page.hide(rm, {"sessions": sessions, "items": items})
            text = _render(
                "web/rep_pseudonymised.html.j2",
                **page.context(at),
                h=obj,
                sessions=hidden["sessions"],
                all_items=hidden["items"],
            )
            return html(text, status)
    forms_ = []
    if scope.may(Action.AGREE_AS, caller.name) and scope.may(Action.AGREE_WITH, rep):
        mine = [s for s in sessions if s["manager"] == caller.name]
        choices = {
            "session_id": (
                ("", "(none)"),
                *((s["id"], f"{s['on']} with {s['manager']}") for s in mine),
            ),
            "supports": (
                ("", "(none)"),
                *(
                    (i["id"], f"{i['behavior']} ({i['id'][:8]}, {i['verdict']})")
                    for i in items
                    if i["owner"] == "rep"
                ),
            ),
        }
        fixed = [f"Rep: {rep}; manager: {caller.name} (you)"]
        for name, action in (("agree", "commitments"), ("session", "sessions")):
            forms_.append(
                forms.view(
                    forms.SPECS[name],
                    f"/reps/{rep}/{action}",
                    values=values if failed == name else None,
                    error=error if failed == name else None,
                    choices=choices,
                    fixed=fixed,
                )
            )
    text = rep_page(
        h,
        template="web/rep.html.j2",
        **page.context(at),
        sessions=sessions,
        all_items=items,
        forms=forms_,
    )
    return html(text, status)


def _prep_page(page: _Page, rep: str, manager: str | None) -> Response:
    """``prep REP``'s printable agenda inside the server's layout; scoped as the
    API's ``/prep`` (the rep's data: READ on the rep)."""
    from ..cycle import prep_object
    from ..html import prep_page

    at = page.moment()
    with page.services.read_model() as rm:
        rep = page.person(rm, rep)
        page.audit["subjects"] = [rep]
        page.scope(rm).require(Action.READ, rep)
        agenda = page.hide(rm, prep_object(rm, at, rep, manager))
    keep = {"manager": manager} if manager else {}
    return html(prep_page(agenda, at.as_of_text, **page.context(at, **keep)))


def _plan_page(page: _Page, rep: str) -> Response:
    """``plan REP``'s printable 30-day plan inside the server's layout."""
    from ..cycle import plan_object
    from ..html import plan_page

    at = page.moment()
    with page.services.read_model() as rm:
        rep = page.person(rm, rep)
        page.audit["subjects"] = [rep]
        page.scope(rm).require(Action.READ, rep)
        p = page.hide(rm, plan_object(rm, at, rep))
    return html(plan_page(p, at.as_of_text, **page.context(at)))


def _commitment_page(
    page: _Page,
    ref: str,
    *,
    failed: str | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    from projections.query import unknown_id

    from ..read import show_object

    at = page.moment()
    assert page.caller is not None
    caller_name = page.caller.name
    with page.services.read_model() as rm:
        scope = page.scope(rm)
        cid = str(full_id(ref))
        page.audit["target"] = cid
        people = rm.people_of("commitment", cid)
        if people is not None:
            page.audit["subjects"] = list(people)
        if people is None or not scope.may(Action.READ, people[0], manager=people[1]):
            raise unknown_id(ref)
        obj = page.hide(rm, show_object(rm, at, cid))
        may_record = scope.may(Action.RECORD, people[0], manager=people[1])
        may_reply = scope.may(Action.REPLY, people[0], manager=people[1])
    shown: list[str] = []
    if may_record and obj["status"] not in ("closed", "released"):
        shown += ["check_in", "close", "revise", "correct", "release"]
    # a reply answers a verdict: closed, released or overdue (an open one: the
    # ledger refuses, and the refusal shows in this form if it was sent anyway)
    if may_reply and (obj["status"] != "open" or failed == "reply"):
        shown.append("reply")
    if failed is not None and failed not in shown and (may_record or may_reply):
        shown.append(failed)
    forms_ = [
        forms.view(
            forms.SPECS[name],
            f"/commitments/{cid}/{name.replace('_', '-')}",
            values=values if failed == name else None,
            error=error if failed == name else None,
            fixed=[f"Replying as {caller_name} (you)"] if name == "reply" else (),
        )
        for name in shown
    ]
    text = _render("web/commitment.html.j2", **page.context(at), c=obj, forms=forms_)
    return html(text, status)


def _coaching_page(page: _Page, manager: str | None) -> Response:
    from ..html import coaching_page
    from ..report import coaching_object

    at = page.moment()
    caller = page.caller
    assert caller is not None
    with page.services.read_model() as rm:
        scope = page.scope(rm)
        if scope.may(Action.REPORT):
            managers = sorted(rm.people("manager"))
            own = False
        else:  # a manager: their own patterns, without the team total (policy: SELF)
            scope.require(Action.REPORT, caller.name)
            manager, managers, own = caller.name, [], True
        if manager is not None and not own:
            manager = page.person(rm, manager)
            rm.require_person(manager, "manager")
        page.audit["subjects"] = [manager] if manager else []
        obj = coaching_object(rm, at, manager)
        if page.pseudonymised:
            from ..pseudonyms import Pseudonymiser

            hide = Pseudonymiser.of(rm.conn)
            obj = hide(obj)
            managers = [hide.person(m) for m in managers]
            manager = None if manager is None else hide.person(manager)
    text = coaching_page(
        obj,
        template="web/coaching.html.j2",
        with_team=not own,
        **page.context(at, manager=manager or "" if not own else ""),
        managers=managers,
        manager=manager,
    )
    return html(text)


def _access_log_page(page: _Page) -> Response:
    assert page.caller is not None
    Scope(page.caller, frozenset).require(Action.ACCESS_LOG)
    at = page.moment()
    entries = [e.as_dict() for e in page.services.access.entries()]
    entries = entries[::-1][:ACCESS_LOG_LIMIT]
    text = _render(
        "web/access_log.html.j2", **page.context(at), entries=entries, limit=ACCESS_LOG_LIMIT
    )
    return html(text)


# -- the forms ----------------------------------------------------------------------------


def _visible(page: _Page, ref: str) -> bool:
    with page.services.read_model() as rm:
        people = rm.people_of("commitment", str(full_id(ref)))
        return people is not None and page.scope(rm).may(Action.READ, people[0], manager=people[1])


def _submit(
    page: _Page, name: str, form: dict[str, str], *, rep: str | None, commitment: str | None
) -> Response:
    """Validate with the command's model, write through the API's own path, then
    show the page again: the refusal in the form (nothing written), or the result."""
    spec = forms.SPECS[name]
    caller = page.caller
    assert caller is not None
    values = {k: v for k, v in form.items() if k != "csrf"}
    extra = ("rep",) if rep is None and commitment is None else ()
    if rep is not None:
        page.audit["subjects"] = [rep.strip()]
    if commitment is not None:
        page.audit["target"] = str(full_id(commitment))
    fixed: dict[str, Any] = {}
    if commitment is None:
        fixed = {"manager": caller.name}
        if rep is not None:
            fixed["rep"] = rep.strip()
    error: str | None = None
    status = 303
    try:
        body = forms.parse(spec, values, fixed, extra)
        audit: dict[str, Any] = {"subjects": [], "target": None}
        try:
            answer = perform_write(spec.write, page.services, caller, audit, body, commitment)
        finally:
            page.audit["subjects"] = audit["subjects"] or page.audit["subjects"]
            page.audit["target"] = audit["target"] or page.audit["target"]
    except Forbidden:
        raise  # out of scope: the same answer as the API
    except NotFound as exc:
        if commitment is not None and not _visible(page, commitment):
            raise  # a commitment the caller may not know exists: the API's 404
        status, error = 404, one_line(str(exc))  # a check-in, session or supported one
    except (LedgerError, ValueError) as exc:
        status, error = _status_of(exc)
        if isinstance(exc, InvalidInput):
            status = 422
    except Exception as exc:
        status, error = _status_of(exc)
    if error is None:
        if commitment is not None or name == "agree":
            target = f"/commitments/{answer['id']}"
        else:
            target = f"/reps/{fixed.get('rep') or body.rep}"
        return RedirectResponse(page.link(target), 303, headers=PAGE_HEADERS)
    if commitment is not None:
        return _commitment_page(
            page, commitment, failed=name, values=values, error=error, status=status
        )
    if rep is not None:
        return _rep_page(page, rep, failed=name, values=values, error=error, status=status)
    return _team_page(page, None, values=values, error=error, status=status)


# -- the people registry (admin) ------------------------------------------------------------


def _people_page(
    page: _Page,
    *,
    failed: str | None = None,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The roster (admin): each person's subject id, manager, team, region, and
    whether erased; the rename and erase forms (``people rename``/``people erase``)."""
    from projections.people import roster

    assert page.caller is not None
    Scope(page.caller, frozenset).require(Action.PEOPLE)
    at = page.moment()
    with page.services.read_model() as rm:
        people = [p for p in roster(rm.conn) if not p.legacy]
    page.audit["subjects"] = [p.subject for p in people]
    living = [("", "(choose)"), *((p.name, p.name) for p in people if not p.erased)]
    values = values or {}

    def fields(*spec: tuple[str, str, str]) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "label": label,
                "kind": kind,
                "value": values.get(name, ""),
                "choices": living if kind == "select" else (),
                "hint": "",
            }
            for name, label, kind in spec
        ]

    forms_ = [
        forms.FormView(
            "rename",
            "Rename a person (GDPR Art. 16)",
            "Rename",
            "/people/rename",
            fields(("name", "Person", "select"), ("to", "New name", "text")),
            [],
            ["A new event with the new name, sealed under their key; every page shows it."],
            error if failed == "rename" else None,
        ),
        forms.FormView(
            "erase",
            "Erase a person (GDPR Art. 17)",
            "Erase for good",
            "/people/erase",
            fields(("name", "Person", "select"), ("reason", "Reason (must not name them)", "text")),
            [],
            ["Destroys their key: their name and texts can no longer be read by anyone."],
            error if failed == "erase" else None,
        ),
    ]
    text = _render("web/people.html.j2", **page.context(at), people=people, forms=forms_)
    return html(text, status)


def _people_submit(page: _Page, what: str, form: dict[str, str]) -> Response:
    """``people rename``/``people erase`` from the people page: the same checks
    as the commands; a refusal redraws the page with it in the form."""
    from uuid import UUID

    from ledger.errors import RuleViolation
    from projections.catchup import catch_up
    from projections.names import unknown_person_message
    from projections.people import People, check_name, find, known_names

    caller = page.caller
    assert caller is not None
    Scope(caller, frozenset).require(Action.PEOPLE)
    values = {k: v for k, v in form.items() if k != "csrf"}
    services = page.services
    try:
        name = check_name(values.get("name", ""), "person")
        with services.read_model() as rm:
            subject = find(rm.conn, name)
            if subject is None:
                raise NotFound(unknown_person_message("person", name, known_names(rm.conn)))
            page.audit["subjects"] = [subject]
            people = People(rm.conn)
            actor = caller.subject or people.actor(caller.name)
            known = known_names(rm.conn)
        ledger = services.ledger
        if what == "rename":
            new_name = check_name(values.get("to", ""), "new name")
            if new_name in known:
                raise RuleViolation(f"{new_name!r} already names someone; nothing was written")
            ledger.rename_person(UUID(subject), new_name, actor=actor, register=people.pending)
        else:
            reason = values.get("reason", "")
            if subject == caller.subject:
                raise RuleViolation("an admin may not erase themselves: ask another admin")
            if name.casefold() in reason.casefold():
                raise InvalidInput("the reason must not name the person: it is kept in clear")
            ledger.erase_person(UUID(subject), reason=reason, actor=actor, register=people.pending)
            catch_up(ledger, services.config.views)  # rebuilt without the clear text
    except (LedgerError, ValueError) as exc:
        status, message = _status_of(exc)
        if isinstance(exc, InvalidInput):
            status = 422
        return _people_page(
            page, failed=what, values=values, error=one_line(message), status=status
        )
    return RedirectResponse(page.link("/people"), 303, headers=PAGE_HEADERS)


__all__ = ["COOKIE", "CSP", "add_pages", "csrf_for", "no_such"]
