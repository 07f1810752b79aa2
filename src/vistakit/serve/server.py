"""Running the app under uvicorn with connection timeouts: a request must arrive whole within
``request_timeout_s`` of its first byte, a connection that never sends one closes after the same time, and an
idle keep-alive connection closes after ``keep_alive_s``.

uvicorn bounds only the idle time *after* a response (``timeout_keep_alive``): a client that opens a socket and
sends nothing, or half a request, holds it forever. :class:`TimedH11Protocol` (uvicorn's h11 protocol, its
documented ``http=`` extension point) arms one timer while a request is being received and answers 408 when it
fires before the headers are complete (after them the app is already reading the body, so the connection is just
closed and the app sees a disconnect).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import ServeSettings


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on receiving each request (``request_timeout`` seconds)."""

    def __init__(self, *args: Any, request_timeout: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = request_timeout
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._deadline is None:
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm()  # the whole request is in (or the connection is done)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            self._send_408()  # part of a request line or headers arrived, never the rest
        else:
            self.transport.close()  # nothing sent (just close), or mid-body (the app sees a disconnect)

    def _send_408(self) -> None:
        body = (b'{"error": {"message": "the request did not arrive whole within the server\'s request timeout", '
                b'"type": "invalid_request_error", "param": null, "code": "request_timeout"}}')  # fmt: skip
        head = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n\r\n")  # fmt: skip
        self.transport.write(head + body)  # written raw: h11 holds a half-parsed request it cannot answer
        self.transport.close()


def uvicorn_config(app: Any, settings: ServeSettings, **kwargs: Any) -> Any:
    """A ``uvicorn.Config`` for ``app`` with the timeouts of ``settings`` (``kwargs``: host, port, log_level…)."""
    import uvicorn

    protocol = functools.partial(TimedH11Protocol, request_timeout=settings.request_timeout_s)
    return uvicorn.Config(app, http=protocol, timeout_keep_alive=settings.keep_alive_s, **kwargs)  # type: ignore[arg-type]
