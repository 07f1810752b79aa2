"""Refuse request bodies over ``max_body_bytes`` with a JSON 413, before they are read into memory.

A pure ASGI middleware: a ``Content-Length`` above the limit is answered at once without reading the body; a body
sent without one (chunked) is counted as it arrives and cut off with the same 413 once it passes the limit.
(FastAPI's own ``max_body_size`` answers the first case in plain text, which would break the JSON error shape.)
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app, self.limit = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            response = error_response(BodyTooLarge(self.limit).detail, 413, None, "body_too_large")
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)  # FastAPI re-raises HTTPExceptions met while reading the body
            return message

        await self.app(scope, counted, send)
