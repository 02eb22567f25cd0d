"""The ASGI application: FastAPI, served by uvicorn (``commitments serve``).

Every request under ``/api/v1/`` passes :class:`Guard` first: the body size
limit, then the caller's identity (a bearer token, or the name a single-sign-on
proxy in front puts in ``--trust-header``), else 401; then the endpoint (see
:mod:`cli.serve.api`), whose scope checks come from :mod:`cli.serve.policy`;
then one line in the access log, written before the answer leaves (if it
cannot be written, the answer is a 500 instead). Errors are
``{"error": {"exit_code", "message"}}`` with the CLI's exit code and one-line
message: 2 -> 422, 3 -> 404, 4 -> 409, 5 -> 409 with ``Retry-After``, 1 -> 500;
401 and 403 carry exit code 4.

Several worker processes may serve one ledger: each has its own ledger
connections, catches the shared views file up as the CLI does (safe across
processes), and appends to the shared access store.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.routing import Match

from ledger.commands import error_message
from ledger.errors import InvalidInput, LedgerError

from ..pseudonyms import subject_row
from .access import AccessStore, Entry, access_class, now_text, open_access
from .errors import error_json, error_response
from .policy import Caller, Forbidden, Unauthenticated

CONFIG_ENV = "COMMITMENTS_SERVE_CONFIG"
MAX_BODY = 1 << 20
"""Largest request body (1 MiB): every command's input is far smaller."""
SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Config:
    db: str
    views: str
    host: str = "127.0.0.1"
    trust_header: str | None = None
    secret: str = ""
    """Keys the CSRF tokens of proxied callers; the same in every worker
    (``commitments serve`` draws one; empty: one drawn per process)."""

    def check(self) -> None:
        """``--trust-header`` only on loopback: else anyone could claim any name."""
        if self.trust_header is not None and not is_loopback(self.host):
            raise InvalidInput(
                f"--trust-header is accepted only when listening on loopback "
                f"(127.0.0.1, ::1), not on {self.host!r}: put the proxy on the same host"
            )

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Config:
        text = os.environ.get(CONFIG_ENV)
        if not text:
            raise InvalidInput(
                f"{CONFIG_ENV} is not set: start the server with 'commitments serve'"
            )
        return cls(**json.loads(text))


class Services:
    """What one worker process holds: its ledger connections and the access store,
    opened on first use and closed at shutdown."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.secret = config.secret or secrets.token_urlsafe(32)
        self._lock = threading.Lock()
        self._ledger: Any = None
        self._reader: Any = None
        self.log = LogWriter(self)
        self.identify_inline = access_class(config.db).IDENTIFY_INLINE
        """On SQLite the token is looked up on the event loop itself: one indexed
        read of a WAL file, which never waits for its writers, costs less than
        handing it to a thread and back. PostgreSQL's round trip goes to a thread."""
        self._access: AccessStore | None = None

    @property
    def ledger(self) -> Any:
        if self._ledger is None:
            with self._lock:
                if self._ledger is None:
                    from ledger.application import Ledger

                    self._ledger = Ledger.open(self.config.db)
        return self._ledger

    @property
    def access(self) -> AccessStore:
        if self._access is None:
            with self._lock:
                if self._access is None:
                    self._access = open_access(self.config.db)
        return self._access

    @property
    def reader(self) -> Any:
        if self._reader is None:
            ledger = self.ledger
            with self._lock:
                if self._reader is None:
                    from projections.catchup import Reader

                    self._reader = Reader(self.config.db, self.config.views, ledger)
        return self._reader

    def read_model(self) -> Any:
        """What every read does first, as the CLI does: a read model holding every
        event committed before this call, in one read transaction (a context
        manager). Each thread keeps its connections open between requests, and a
        catch-up is one thread of this process at a time (see
        :class:`projections.catchup.Reader`)."""
        return self.reader.current()

    def catch_up(self) -> None:
        """Bring the views up to every event committed before this call, for a
        read that then opens them on its own (the access grants' names)."""
        with self.read_model():
            pass

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        if self._access is not None:
            self._access.close()
            self._access = None

    # -- identity --------------------------------------------------------------

    def identify(self, headers: dict[str, str]) -> Caller:
        """The caller, from the trusted proxy's header or a bearer token; else 401.

        A grant names a subject id; the caller's name is the one the people
        registry gives it now. A grant of a person since erased identifies nobody."""
        header = self.config.trust_header
        if header is not None and header.lower() in headers:
            name = headers[header.lower()].strip()
            if not name or len(name) > 100 or not name.isprintable():
                raise Unauthenticated(f"the {header} header holds no person id")
            subject = self.subject_of(name)
            role = self.access.role_of(subject) if subject is not None else None
            if subject is None or role is None:
                raise Forbidden(f"{name!r} has no access: ask an admin to grant it")
            return Caller(name, role, subject)
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("no identity: send 'Authorization: Bearer <token>'")
        token = token.strip()
        return self.caller_of(token)

    def caller_of(self, token: str) -> Caller:
        """The caller a bearer token (or a session cookie's token) stands for; else 401."""
        found = self.access.identify(token) if _TOKEN.fullmatch(token) else None
        # the name from a current read model: a rename or an erasure a moment ago
        # counts at once
        name = self.name_of(found[0]) if found is not None else None
        if found is None or name is None:
            raise Unauthenticated("the token is not valid (unknown, altered or revoked)")
        return Caller(name, found[1], found[0])

    # -- people, by the registry (the read model's ``people`` table) -------------

    def _person_row(self, sql: str, value: str) -> Any:
        """A row of the ``people`` table of a read model holding every event
        committed before this call: a person registered, renamed or erased a
        moment ago counts at once (the read costs a few indexed reads when the
        views are current; see :class:`projections.catchup.Reader`)."""
        with self.read_model() as rm:
            return rm.conn.execute(sql, (value,)).fetchone()

    def name_of(self, subject: str) -> str | None:
        """The current name of a person not erased, by subject id; else None."""
        row = self._person_row("SELECT name FROM people WHERE subject = ? AND erased = 0", subject)
        return None if row is None else str(row[0])

    def subjects_for(self, refs: Any) -> tuple[str, ...]:
        """What the access log holds for the people a request concerned: subject
        ids, in order, once each. A name (an answer's, a parameter's) becomes the
        registered person's subject id, a pseudonym ``p-<8 hex>`` the subject it
        stands for; anything the registry does not know: ``unregistered``."""
        from projections.people import is_subject_text

        from .access import UNREGISTERED

        refs = [r for r in refs if isinstance(r, str)]
        out: list[str] = []
        todo = [r for r in refs if not is_subject_text(r)]
        found: dict[str, str] = {}
        if todo:
            try:
                with self.read_model() as rm:  # the thread's kept connection, not a new one
                    for ref in dict.fromkeys(todo):
                        row = subject_row(rm.conn, ref)
                        if row is not None:
                            found[ref] = str(row[0])
            except sqlite3.Error:
                pass
        for ref in refs:
            out.append(ref if is_subject_text(ref) else found.get(ref, UNREGISTERED))
        return tuple(dict.fromkeys(out))

    def subject_of(self, name: str) -> str | None:
        """The subject id of the registered person (not erased) called ``name``."""
        row = self._person_row(
            "SELECT subject FROM people WHERE name = ? AND erased = 0 ORDER BY position", name
        )
        return None if row is None else str(row[0])


class LogWriter:
    """The access log's appends of one worker process, in batches.

    A request's entry is written before its answer leaves, as ever: ``append``
    returns once the transaction holding it has committed, and raises if it
    could not. Entries arriving while a batch is being written wait and go
    together in the next one (in their order of arrival), so a busy worker
    takes the store's write lock once per batch instead of once per request,
    with one thread instead of one per request waiting for it."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._pending: list[tuple[Entry, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def append(self, entry: Entry) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((entry, done))
        if self._writing is None or self._writing.done():
            self._writing = loop.create_task(self._write())
        await done  # cancelled (the client went away): the entry is written all the same

    async def _write(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await anyio.to_thread.run_sync(
                    self.services.access.append_many, [entry for entry, _ in batch]
                )
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)


# -- errors -------------------------------------------------------------------------


def _validation_message(exc: RequestValidationError) -> str:
    errors = list(exc.errors())
    if not errors:
        return "invalid request"
    err = dict(errors[0])
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    if loc == ("body",) and err.get("type") == "missing":
        return "the request body is missing: send a JSON object"
    if loc == ("body",) and err.get("type") in ("model_attributes_type", "dict_type"):
        return "the request body must be a JSON object"
    err["loc"] = loc[1:] if loc and loc[0] in ("body", "query", "path") else loc
    return error_message(err)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_json(422, 2, _validation_message(exc))


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_json(404, 3, f"no such endpoint: {request.method} {request.url.path}")
    if exc.status_code == 400:  # FastAPI: a body it cannot even decode
        return error_json(422, 2, "the request body is not valid JSON in UTF-8")
    if exc.status_code == 405:
        return error_json(405, 2, f"{request.method} is not allowed on {request.url.path}")
    return error_json(exc.status_code, 2, str(exc.detail))


# -- the guard: body limit, identity, access log, headers -------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _TooLarge(Exception):
    pass


class Guard:
    """Pure ASGI middleware around the whole application."""

    def __init__(self, app: Any, services: Services) -> None:
        self.app = app
        self.services = services
        self.routes: list[Any] = []  # filled in by create_app (to name the action)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path != "/api/v1" and not path.startswith("/api/v1/"):  # a page: logged by its own code
            await self.app(scope, receive, _with_headers(send))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        audit: dict[str, Any] = {"action": self._action(scope), "subjects": [], "target": None}
        scope["commitments.audit"] = audit
        caller: Caller | None = None
        length = headers.get("content-length", "0").strip() or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            response: Any = error_json(413, 2, f"the request body is over {MAX_BODY} bytes")
        else:
            try:
                if self.services.identify_inline:
                    caller = self.services.identify(headers)
                else:
                    caller = await anyio.to_thread.run_sync(self.services.identify, headers)
                response = None
            except (Unauthenticated, Forbidden) as exc:
                response = error_response(exc)
                if isinstance(exc, Forbidden):
                    name = headers.get((self.services.config.trust_header or "").lower(), "")
                    audit["who"] = name.strip()
            except Exception as exc:  # the access store is unreachable: nobody gets in
                response = error_response(exc)
        if response is not None:
            await self._log_then(
                response.status_code, caller, audit, scope, receive, send, response
            )
            return
        scope["commitments.caller"] = caller
        await self._run(scope, receive, send, caller, audit)

    def _action(self, scope: Scope) -> str:
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                path_params = child.get("path_params", {})
                target = path_params.get("commitment") or path_params.get("session")
                if isinstance(target, str) and _UUID.fullmatch(target):
                    scope["commitments.target"] = target.lower()
                return str(route.name)
        return "unknown"

    async def _run(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        caller: Caller | None,
        audit: dict[str, Any],
    ) -> None:
        received = 0

        async def limited_receive() -> MutableMapping[str, Any]:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY:
                raise _TooLarge
            return message

        started = False
        blocked = False

        async def logging_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started, blocked
            if blocked:
                return
            if message["type"] == "http.response.start":
                started = True
                try:
                    await self._log(message["status"], caller, audit, scope)
                except Exception as exc:
                    blocked = True
                    failed = error_json(500, 1, f"the access log cannot be written: {exc}")
                    await failed(scope, receive, _with_headers(send))
                    return
            await _with_headers(send)(message)

        try:
            await self.app(scope, limited_receive, logging_send)
        except _TooLarge:
            if started:
                raise
            response = error_json(413, 2, f"the request body is over {MAX_BODY} bytes")
            await self._log_then(413, caller, audit, scope, receive, send, response)

    async def _log_then(
        self,
        status: int,
        caller: Caller | None,
        audit: dict[str, Any],
        scope: Scope,
        receive: Receive,
        send: Send,
        response: Any,
    ) -> None:
        try:
            await self._log(status, caller, audit, scope)
        except Exception as exc:
            response = error_json(500, 1, f"the access log cannot be written: {exc}")
        await response(scope, receive, _with_headers(send))

    async def _log(
        self, status: int, caller: Caller | None, audit: dict[str, Any], scope: Scope
    ) -> None:
        who = caller.subject if caller is not None else None
        if who is None and audit.get("who"):  # a proxied name without a grant
            who = self.services.subjects_for([audit["who"]])[0]
        subjects = await anyio.to_thread.run_sync(self.services.subjects_for, audit["subjects"])
        entry = Entry(
            at=now_text(),
            via="api",
            who=who,
            role=caller.role.value if caller is not None else None,
            action=audit["action"],
            subjects=subjects,
            target=audit.get("target") or scope.get("commitments.target"),
            status=status,
            names=audit.get("names") if status < 300 else None,  # a refusal showed nothing
        )
        await self.services.log.append(entry)


def _with_headers(send: Send) -> Send:
    async def wrapped(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            message["headers"] = [
                *message.get("headers", []),
                *((k, v) for k, v in SECURITY_HEADERS if k not in names),
            ]
        await send(message)

    return wrapped


# -- the application ------------------------------------------------------------------


def create_app(config: Config) -> Any:
    """The ASGI application for ``config`` (the Guard around FastAPI)."""
    from contextlib import asynccontextmanager

    from .api import add_endpoints

    config.check()
    services = Services(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        with suppress(Exception):  # opened here, off the event loop; else on first use
            await anyio.to_thread.run_sync(lambda: services.access)
        yield
        services.close()

    api = FastAPI(
        title="commitment-ledger",
        summary="The ledger of coaching commitments: every read and every write of "
        "the cycle, scoped by role (see docs/serve.md).",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive pages load scripts from another host
        redoc_url=None,
        lifespan=lifespan,
        redirect_slashes=False,  # one URL per resource; no redirect to follow
    )
    api.add_exception_handler(RequestValidationError, _on_validation)
    api.add_exception_handler(StarletteHTTPException, _on_http)
    add_endpoints(api, services)
    from .web import add_pages

    add_pages(api, services)
    guard = Guard(api, services)
    guard.routes = list(api.routes)
    guard.services = services
    api.state.services = services
    return guard


def factory() -> Any:
    """For uvicorn's workers (``commitments serve`` puts the config in the environment)."""
    return create_app(Config.from_env())


__all__ = ["Config", "LedgerError", "create_app", "factory", "is_loopback"]
