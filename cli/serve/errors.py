"""The API's error answers: ``{"error": {"exit_code", "message"}}`` with the
CLI's exit code (:mod:`cli.errors`) and one-line message, under the HTTP status
of that exit code: 2 -> 422, 3 -> 404, 4 -> 409, 5 -> 409 with ``Retry-After``,
1 -> 500; 401 and 403 carry exit code 4."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from ..errors import exit_code_for
from ..safe import one_line
from .policy import Forbidden, Unauthenticated

HTTP_STATUS = {2: 422, 3: 404, 4: 409, 5: 409, 1: 500}


def error_response(exc: BaseException) -> JSONResponse:
    """An exception as the API's error body, with the CLI's exit code and message."""
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthenticated):
        code, message, status = 4, str(exc), 401
        headers["WWW-Authenticate"] = "Bearer"
    elif isinstance(exc, Forbidden):
        code, message, status = 4, str(exc), 403
    else:
        code, message = exit_code_for(exc)
        status = HTTP_STATUS.get(code, 500)
        if code == 5:
            headers["Retry-After"] = "1"
    return error_json(status, code, message, headers)


def error_json(
    status: int, code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"exit_code": code, "message": one_line(message)}}
    return JSONResponse(body, status_code=status, headers=headers)
