"""One socket write per response (issue 12, jwtkit.server.protocol): uvicorn's protocols with
held writes send a small response's headers and body in one TCP segment, and change nothing
else: bytes and order, streamed responses, Connection: close, pipelined keep-alive requests."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jwtkit.server.protocol import OneWriteH11Protocol, OneWriteHttpToolsProtocol, protocol_class

from .support import ServerThread, recv_until

# struct tcp_info (linux/tcp.h): tcpi_data_segs_in, the segments received that carried data.
_TCP_INFO_DATA_SEGS_IN = 152


async def _json(request: Request) -> Response:
    return JSONResponse({"n": int(request.query_params.get("n", "0"))})


async def _stream(scope: Any, receive: Any, send: Any) -> None:
    """Headers, then a pause, then the body: held headers must not wait for the body."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await asyncio.sleep(1.5)
    await send({"type": "http.response.body", "body": b"late"})


async def _close(request: Request) -> Response:
    return Response("bye" * 1000, headers={"connection": "close"})


APP = Starlette(routes=[Route("/json", _json), Route("/close", _close)])
APP.mount("/stream", _stream)


@contextmanager
def serving(http: Any) -> Iterator[int]:
    """APP under uvicorn with protocol ``http`` on a free 127.0.0.1 port; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    thread = ServerThread(APP, sock, http)
    thread.start()
    try:
        yield port
    finally:
        thread.stop()


class _Reader:
    """Whole responses with a Content-Length from a socket, one at a time (a buffer keeps
    what arrived of the next ones: pipelined answers come in one recv)."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""

    def _more(self, deadline: float) -> None:
        assert time.monotonic() < deadline
        chunk = self.conn.recv(65536)
        assert chunk, "connection closed early"
        self.buffer += chunk

    def response(self) -> bytes:
        """The next response (headers + body), as bytes."""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in self.buffer:
            self._more(deadline)
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(rest) < length:
            self._more(deadline)
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]


def _data_segments_in(conn: socket.socket) -> int:
    info = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("I", info, _TCP_INFO_DATA_SEGS_IN)[0])


def _segments_per_response(port: int, n: int = 20) -> list[int]:
    """TCP data segments the client received for each of ``n`` keep-alive requests."""
    counts = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        reader = _Reader(conn)
        for i in range(n):
            before = _data_segments_in(conn)
            conn.sendall(f"GET /json?n={i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            response = reader.response()
            assert reader.buffer == b""
            assert response.endswith(b'{"n":%d}' % i)
            time.sleep(0.01)  # nothing else in flight
            counts.append(_data_segments_in(conn) - before)
    return counts


def test_protocol_class_is_httptools_with_held_writes() -> None:
    assert OneWriteHttpToolsProtocol is not None and OneWriteH11Protocol is not None
    assert protocol_class() is OneWriteHttpToolsProtocol
    assert protocol_class().__module__ == "jwtkit.server.protocol"  # picklable for --workers


@pytest.mark.parametrize("name", ["httptools", "h11"])
def test_headers_and_body_leave_in_one_segment(name: str) -> None:
    """The measurement tells the two apart: uvicorn's own protocol sends two segments."""
    ours = OneWriteHttpToolsProtocol if name == "httptools" else OneWriteH11Protocol
    with serving(ours) as port:
        assert _segments_per_response(port) == [1] * 20
    with serving(name) as port:  # uvicorn's own protocol: headers, then body
        assert min(_segments_per_response(port)) >= 2


def test_streamed_headers_are_not_held_for_the_body() -> None:
    with serving(protocol_class()) as port, socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(10)
        conn.sendall(b"GET /stream/ HTTP/1.1\r\nHost: t\r\n\r\n")
        start = time.monotonic()
        head = recv_until(conn, lambda d: b"\r\n\r\n" in d)
        assert time.monotonic() - start < 1.0  # the body comes 1.5 s later
        assert head.startswith(b"HTTP/1.1 200") and b"x-a: 1" in head
        rest = recv_until(conn, lambda d: b"0\r\n\r\n" in d, head.partition(b"\r\n\r\n")[2])
        assert time.monotonic() - start >= 1.4
        assert rest == b"4\r\nlate\r\n0\r\n\r\n"


def test_connection_close_sends_everything_first() -> None:
    with serving(protocol_class()) as port, socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(10)
        conn.sendall(b"GET /close HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"connection: close" in head.lower()
        assert body == b"bye" * 1000  # then EOF: nothing held was lost at the close


def test_pipelined_requests_answered_in_order() -> None:
    with serving(protocol_class()) as port, socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(10)
        conn.sendall(b"".join(b"GET /json?n=%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(50)))
        reader = _Reader(conn)
        for i in range(50):
            assert reader.response().endswith(b'{"n":%d}' % i)
        assert reader.buffer == b""
