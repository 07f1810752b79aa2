"""Connection timeouts under uvicorn (``uvicorn_config``): a silent connection, half a request line or headers,
half a body, and an idle keep-alive connection are all closed within the configured time (half headers with a
JSON 408); a whole request is still answered."""

import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI

from vistakit.serve import ServeSettings
from vistakit.serve.server import uvicorn_config

REQUEST = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n"


@pytest.fixture(scope="module")
def port():
    app = FastAPI()

    @app.post("/echo")
    async def echo(body: dict) -> dict:
        return body

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    settings = ServeSettings(request_timeout_s=0.4, keep_alive_s=0.4)
    server = uvicorn.Server(uvicorn_config(app, settings, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(10)


def until_closed(conn: socket.socket, limit: float = 5.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    conn.settimeout(limit)
    t, data = time.monotonic(), b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return data, time.monotonic() - t
        data += chunk


@pytest.mark.parametrize(
    "sent, answer",
    [
        (b"", b""),  # opened, never used
        (b"POST /echo HTTP/1.1\r\nHost: t\r\n", b"HTTP/1.1 408"),  # headers never finished
        (REQUEST[:-4] + b"\r\n\r\n" + b'{"a"', b""),  # body never finished (Content-Length 8, 4 sent)
    ],
    ids=["silent", "half-headers", "half-body"],
)
def test_incomplete_requests_are_cut_off(port, sent, answer):
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(sent)
    data, took = until_closed(conn)
    assert took < 3 and data.startswith(answer)
    if answer:
        assert b'"code": "request_timeout"' in data


def test_a_whole_request_is_answered_then_the_idle_connection_closes(port):
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(REQUEST + b'{"a": 1}')
    data, took = until_closed(conn)
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b'{"a":1}') and took < 3
    conn = socket.create_connection(("127.0.0.1", port))  # kept alive, then half of a second request
    conn.sendall(REQUEST + b'{"a": 2}')
    assert conn.recv(65536).startswith(b"HTTP/1.1 200")
    conn.sendall(b"POST /echo HTTP/1.1\r\n")
    data, took = until_closed(conn)
    assert b"HTTP/1.1 408" in data and took < 3  # (the first reply may arrive in two reads)
