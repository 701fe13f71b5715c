"""`jwtkit demo` measures each service's propagation time on its own: it polls every service at
once, so a slow or late service does not add its time to the others' (real loopback servers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jwtkit.cli.demo import _refused_everywhere


class _Peers:
    """Three loopback services; the first refuses the token only once the last one has been
    asked (so polling them one after another never sees the first refuse)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.lock = threading.Lock()
        self.servers: list[ThreadingHTTPServer] = []

    def handler(self, index: int) -> type[BaseHTTPRequestHandler]:
        peers = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with peers.lock:
                    peers.seen.add(index)
                    refuse = index != 0 or 2 in peers.seen
                self.send_response(401 if refuse else 200)
                if refuse:
                    self.send_header("WWW-Authenticate", 'Bearer error="invalid_token"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def targets() -> Iterator[tuple[tuple[str, str], ...]]:
    peers = _Peers()
    threads = []
    for i in range(3):
        server = ThreadingHTTPServer(("127.0.0.1", 0), peers.handler(i))
        peers.servers.append(server)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        threads.append(thread)
    yield tuple(
        (f"service {i}", f"http://127.0.0.1:{s.server_address[1]}/")
        for i, s in enumerate(peers.servers)
    )
    for server, thread in zip(peers.servers, threads, strict=True):
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_every_service_is_polled_at_once(targets: tuple[tuple[str, str], ...]) -> None:
    lines: list[str] = []
    ok = _refused_everywhere(targets, "token", time.monotonic(), lines.append)
    assert len(lines) == 3, lines
    assert not any("still accepted" in line for line in lines), lines
    for line, (name, _) in zip(lines, targets, strict=True):
        assert line.startswith(f"   {name}: refused after ") and 'error="invalid_token"' in line
    assert ok, lines
