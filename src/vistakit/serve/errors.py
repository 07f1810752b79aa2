"""Every refusal as OpenAI's error shape, ``{"error": {"message", "type", "param", "code"}}``, with a 4xx status
that names the problem; only a fault of the server itself is a 500.

``RequestError`` is raised by the request decoders; :func:`install_error_handlers` maps it, FastAPI's
validation errors (broken JSON, wrong schema), routing errors (404 / 405), the body-size limit (413) and any
unexpected exception onto that shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

_TYPES = {400: "invalid_request_error", 404: "not_found_error", 413: "request_too_large", 422: "invalid_request_error",
          503: "server_overloaded"}  # fmt: skip


class RequestError(Exception):
    """A request the server refuses: HTTP ``status``, a ``message`` naming what was wrong and what was expected,
    the offending ``param`` (a dotted path into the body, when known) and a short machine-readable ``code``."""

    def __init__(
        self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.message, self.status, self.param, self.code = message, status, param, code
        self.headers = headers or {}


def error_body(message: str, status: int, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    kind = _TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
    # A message may quote the request (an unknown task name); a lone surrogate in it would fail the UTF-8 encoding
    message, param = (t.encode("utf-8", "backslashreplace").decode("utf-8") if t else t for t in (message, param))
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(message: str, status: int, param: str | None = None, code: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, status, param, code), status_code=status)


def _loc(loc: tuple | list) -> str:
    """FastAPI's error location ('body', 'messages', 0, 'content') → 'messages.0.content'."""
    parts = [str(p) for p in loc]
    return ".".join(parts[1:] if parts and parts[0] == "body" else parts)


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None, str]:
    """FastAPI validation errors → (message, param, code); broken JSON is told apart from a wrong schema."""
    first = errors[0] if errors else {"msg": "invalid request", "loc": ()}
    if first.get("type") == "json_invalid":
        pos = first["loc"][-1] if first.get("loc") else "?"
        why = (first.get("ctx") or {}).get("error", "JSON decode error")
        return f"the request body is not valid JSON: {why} at character {pos}", None, "invalid_json"
    shown = []
    for e in errors[:5]:
        where = _loc(e.get("loc", ())) or "body"
        msg = e.get("msg", "invalid")
        shown.append(f"{where}: {msg}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(shown) + more, _loc(first.get("loc", ())) or None, "invalid_schema"


def body_parse_message(cause: BaseException) -> str:
    """Why a request body could not be parsed, for the failures FastAPI reports only as "an error parsing the
    body": bytes that are not UTF-8, nesting deeper than the parser's recursion limit, an integer literal longer
    than Python converts (4,300 digits)."""
    if isinstance(cause, UnicodeDecodeError):
        return (f"the request body is not valid UTF-8 (byte 0x{cause.object[cause.start]:02x} at position "
                f"{cause.start}); send JSON encoded as UTF-8")  # fmt: skip
    if isinstance(cause, RecursionError):
        return "the request body is nested too deeply to parse; expected a JSON object a few levels deep"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "the request body has an integer literal with too many digits; expected numbers of ordinary size"
    return f"the request body could not be parsed as JSON ({type(cause).__name__})"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def _refused(request: Request, exc: RequestError) -> JSONResponse:
        response = error_response(exc.message, exc.status, exc.param, exc.code)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param, code = validation_message(list(exc.errors()))
        return error_response(message, 400 if code == "invalid_json" else 422, param, code)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = None
        if exc.status_code == 413:
            message, code = str(exc.detail), "body_too_large"
        elif exc.status_code == 400 and exc.__cause__ is not None:  # FastAPI's JSON parse failed outside JSONDecodeError
            message, code = body_parse_message(exc.__cause__), "invalid_json"
        elif exc.status_code == 404:
            message, code = f"no route {request.url.path[:200]}; see /docs for the endpoints", "not_found"
        elif exc.status_code == 405:
            message, code = f"{request.method} is not allowed on {request.url.path[:200]}", "method_not_allowed"
        else:
            message, code = str(exc.detail), f"http_{exc.status_code}"
        return JSONResponse(
            error_body(message, exc.status_code, None, code), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _crashed(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises the exception after this response, so the server's log gets its traceback.
        return error_response(f"internal server error ({type(exc).__name__}); the server keeps serving", 500)
