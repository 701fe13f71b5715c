"""jwtkit.server.protocol (held writes) at its edges (issue 12): each scenario runs against
uvicorn's own protocol ("plain") and ours ("held") on a real uvicorn server on 127.0.0.1, and
requires ours to behave as uvicorn's: the same bytes, the same back-pressure, nothing lost or
delayed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from jwtkit.server.protocol import OneWriteH11Protocol, OneWriteHttpToolsProtocol

from .support import recv_until

PROTOCOLS = {
    ("plain", "httptools"): "httptools",
    ("plain", "h11"): "h11",
    ("held", "httptools"): OneWriteHttpToolsProtocol,
    ("held", "h11"): OneWriteH11Protocol,
}

CHUNK = 1 << 20  # 1 MiB
CHUNKS = 32
state: dict[str, Any] = {"sent": 0, "event": None, "loop": None, "disconnected": None}


async def _json(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def _tight(scope: Any, receive: Any, send: Any) -> None:
    """32 MiB in 1 MiB chunks, each send awaited, nothing else awaited (a body in memory)."""
    state["sent"] = 0
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(CHUNK * CHUNKS).encode())],
        }
    )
    chunk = b"x" * CHUNK
    for i in range(CHUNKS):
        await send({"type": "http.response.body", "body": chunk, "more_body": i < CHUNKS - 1})
        state["sent"] += 1


async def _gen() -> Any:
    chunk = b"y" * CHUNK
    for _ in range(CHUNKS):
        state["sent"] += 1
        yield chunk


async def _streaming(request: Request) -> Response:
    """Starlette's StreamingResponse over an async generator that awaits nothing."""
    state["sent"] = 0
    return StreamingResponse(_gen(), media_type="application/octet-stream")


async def _boom(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"10")]}
    )
    await send({"type": "http.response.body", "body": b"12345", "more_body": True})
    raise RuntimeError("boom after start")


async def _upload(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"n": len(body)})


async def _slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params.get("s", "0.5")))
    return Response(b"z" * 100_000, media_type="text/plain")


async def _longpoll(request: Request) -> Response:
    state["loop"] = asyncio.get_running_loop()
    state["event"] = event = asyncio.Event()
    await asyncio.wait_for(event.wait(), 10)
    return JSONResponse({"events": [1]})


async def _drip(scope: Any, receive: Any, send: Any) -> None:
    """A chunk every 50 ms until the client goes away (receive gives http.disconnect)."""
    state["disconnected"] = None
    await send({"type": "http.response.start", "status": 200, "headers": []})
    start = time.monotonic()
    for _ in range(200):
        await send({"type": "http.response.body", "body": b"d" * 1000, "more_body": True})
        await asyncio.sleep(0.05)
    state["disconnected"] = time.monotonic() - start


APP = Starlette(
    routes=[
        Route("/json", _json, methods=["GET", "HEAD"]),
        Route("/streaming", _streaming),
        Route("/upload", _upload, methods=["POST"]),
        Route("/slow", _slow),
        Route("/longpoll", _longpoll),
    ]
)
APP.mount("/tight", _tight)
APP.mount("/boom", _boom)
APP.mount("/drip", _drip)


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def serving(kind: str, impl: str, loop: str = "auto", **config: Any) -> Iterator[Any]:
    """APP under uvicorn (``kind``: plain or held, ``impl``: httptools or h11)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    cfg = uvicorn.Config(
        APP,
        log_config=None,
        lifespan="off",
        ws="none",
        access_log=False,
        http=PROTOCOLS[(kind, impl)],
        loop=loop,
        **config,
    )
    server = uvicorn.Server(cfg)
    errors = _Errors()
    for name in ("asyncio", "uvicorn.error"):
        logging.getLogger(name).addHandler(errors)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.01)
    try:
        yield port, server, thread, errors
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        for name in ("asyncio", "uvicorn.error"):
            logging.getLogger(name).removeHandler(errors)


def _read_all(conn: socket.socket, timeout: float = 10) -> bytes:
    conn.settimeout(timeout)
    data = b""
    while chunk := conn.recv(1 << 20):
        data += chunk
    return data


BOTH = pytest.mark.parametrize("kind", ["plain", "held"])
IMPLS = pytest.mark.parametrize("impl", ["httptools", "h11"])


# -- 1. a client that half-closes after its request ------------------------------------------


@BOTH
@IMPLS
@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_half_closed_client_still_gets_its_response(kind: str, impl: str, loop: str) -> None:
    """``printf 'GET ...' | nc -N``: the request, then FIN (shutdown(SHUT_WR)). uvicorn's own
    protocol answers (the response is written before the EOF is handled or before the
    connection-lost callback runs); the held write must not be dropped by the EOF's close."""
    with serving(kind, impl, loop) as (port, *_):
        answered = 0
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall(b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
                conn.shutdown(socket.SHUT_WR)
                data = _read_all(conn)
            answered += data.startswith(b"HTTP/1.1 200") and data.endswith(b'{"ok":true}')
        assert answered == 20, f"{kind}/{impl}/{loop}: {answered}/20 answered"


# -- 2. back-pressure ------------------------------------------------------------------------


@BOTH
@IMPLS
@pytest.mark.parametrize("path", ["/tight/", "/streaming"])
def test_a_reader_that_does_not_read_stops_the_writer(kind: str, impl: str, path: str) -> None:
    """uvicorn pauses an app whose writes outrun the client (pause_writing at the transport's
    high-water mark: the next send() awaits drain()). Held writes only reach the transport at
    the end of the step, so pause_writing cannot fire while an app sends without awaiting
    anything else: the whole body is buffered in the server (twice, with the join)."""
    with serving(kind, impl) as (port, *_):
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            time.sleep(1.0)  # not reading
            sent_while_stalled = state["sent"]
            conn.settimeout(10)
            total = 0
            head = recv_until(conn, lambda d: b"\r\n\r\n" in d)
            total = len(head.partition(b"\r\n\r\n")[2])
            deadline = time.monotonic() + 20
            expected = CHUNK * CHUNKS
            while total < expected and time.monotonic() < deadline:
                total += len(conn.recv(1 << 20))
        assert total >= expected  # chunked framing adds a little for /streaming
        assert sent_while_stalled < CHUNKS // 2, (
            f"{kind}/{impl}{path}: {sent_while_stalled} of {CHUNKS} MiB chunks taken by the "
            "server while the client read nothing"
        )


# -- 3. exchanges that must be unchanged -----------------------------------------------------


@BOTH
@IMPLS
def test_expect_100_continue(kind: str, impl: str) -> None:
    with serving(kind, impl) as (port, *_), socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(5)
        conn.sendall(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = conn.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(b"hello")
        data = recv_until(conn, lambda d: d.endswith(b'{"n":5}'))
        assert data.startswith(b"HTTP/1.1 200")


@BOTH
@IMPLS
def test_head_then_get_on_one_connection(kind: str, impl: str) -> None:
    with serving(kind, impl) as (port, *_), socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(5)
        conn.sendall(
            b"HEAD /json HTTP/1.1\r\nHost: t\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n"
            b"Connection: close\r\n\r\n"
        )
        data = _read_all(conn)
        assert data.count(b"HTTP/1.1 200") == 2
        assert data.endswith(b'{"ok":true}') and data.count(b'{"ok":true}') == 1


@BOTH
@IMPLS
def test_an_exception_after_the_response_started(kind: str, impl: str) -> None:
    with serving(kind, impl) as (port, *_), socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET /boom/ HTTP/1.1\r\nHost: t\r\n\r\n")
        data = _read_all(conn)
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"\r\n\r\n12345")


@BOTH
@IMPLS
def test_the_long_poll_answer_is_not_delayed(kind: str, impl: str) -> None:
    with serving(kind, impl) as (port, *_), socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(5)
        state["event"] = None
        conn.sendall(b"GET /longpoll HTTP/1.1\r\nHost: t\r\n\r\n")
        deadline = time.monotonic() + 5
        while state["event"] is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.2)
        start = time.monotonic()
        state["loop"].call_soon_threadsafe(state["event"].set)
        recv_until(conn, lambda d: d.endswith(b'{"events":[1]}'))
        assert time.monotonic() - start < 0.2


@BOTH
@IMPLS
def test_a_client_that_leaves_mid_stream(kind: str, impl: str) -> None:
    with serving(kind, impl, timeout_graceful_shutdown=1) as (port, _, _, errors):
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"GET /drip/ HTTP/1.1\r\nHost: t\r\n\r\n")
            conn.recv(65536)
            time.sleep(0.3)
        time.sleep(0.5)
        assert not [r for r in errors.records if r.name == "asyncio"], errors.records


@BOTH
@IMPLS
def test_shutdown_with_a_request_in_flight(kind: str, impl: str) -> None:
    with serving(kind, impl, timeout_graceful_shutdown=5) as (port, server, thread, _):
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"GET /slow?s=0.5 HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.1)
            server.should_exit = True
            data = _read_all(conn)
        assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"z" * 100_000)


@BOTH
@IMPLS
def test_keep_alive_timeout_after_a_large_response(kind: str, impl: str) -> None:
    with serving(kind, impl, timeout_keep_alive=1) as (port, *_):
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"GET /slow?s=0 HTTP/1.1\r\nHost: t\r\n\r\n")
            start = time.monotonic()
            data = _read_all(conn, timeout=5)
        assert data.endswith(b"z" * 100_000)
        assert 0.8 < time.monotonic() - start < 3
