"""ServiceMiddleware (issue 12): the one layer must answer exactly as the three layers
it replaced (SecurityHeaders(Latency(BodyLimit(app))), taken from the parent commit), in the
messages sent, the exception raised and the latency sample recorded."""

from __future__ import annotations

import asyncio
import subprocess
import types
from pathlib import Path
from typing import Any

import pytest

from jwtkit.server.asgi import ServiceMiddleware
from jwtkit.server.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
_OLD_SRC = subprocess.run(
    ["git", "-C", str(ROOT), "show", "ad5f80e^:src/jwtkit/server/asgi.py"],
    check=True,
    capture_output=True,
    text=True,
).stdout
old = types.ModuleType("old_asgi")
exec(compile(_OLD_SRC, "old_asgi.py", "exec"), old.__dict__)  # noqa: S102

CAP = 10


class Route:
    path = "/things/{id}"


def _app(behaviour: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": "lifespan.startup.complete", "seen": message["type"]})
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept", "headers": [(b"x-content-type-options", b"x")]})
            return
        scope["route"] = Route()
        if behaviour == "raise-before":
            raise ValueError("before start")
        if behaviour == "read":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
        headers = [(b"content-type", b"text/plain")]
        if behaviour == "own-header":
            headers += [(b"X-Content-Type-Options", b"sniff"), (b"x-content-type-options", b"a")]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        if behaviour == "raise-after":
            raise ValueError("after start")
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _run(stack: Any, metrics: Metrics, scope: Any, chunks: list[bytes]) -> Any:
    sent: list[Any] = []
    queue = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ] or [{"type": "lifespan.startup"}]

    async def receive() -> Any:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    error = None
    try:
        asyncio.run(stack(dict(scope), receive, send))
    except Exception as exc:  # noqa: BLE001
        error = (type(exc).__name__, str(exc), getattr(exc, "status", None))
    samples = sorted(
        (s.labels.get("method"), s.labels.get("route"), s.labels.get("status"), s.value)
        for fam in metrics.registry.collect()
        if fam.name == "jwtkit_request_duration_seconds"
        for s in fam.samples
        if s.name.endswith("_count")
    )
    return sent, error, samples


def _both(behaviour: str, scope: Any, chunks: list[bytes]) -> tuple[Any, Any]:
    m_old, m_new = Metrics(), Metrics()
    old_stack = old.SecurityHeaders(
        old.Latency(old.BodyLimit(_app(behaviour), max_bytes=CAP), metrics=m_old)
    )
    new_stack = ServiceMiddleware(_app(behaviour), metrics=m_new, max_bytes=CAP)
    return _run(old_stack, m_old, scope, chunks), _run(new_stack, m_new, scope, chunks)


def _http(headers: list[tuple[bytes, bytes]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {"type": "http", "method": "POST", "path": "/things/1", "headers": list(headers)}


CASES = [
    ("plain", _http(), [b"abc"]),
    ("read", _http([(b"content-length", b"10")]), [b"0123456789"]),
    ("read", _http([(b"content-length", b"11")]), [b"01234567890"]),
    ("read", _http([(b"content-length", b"-1")]), [b""]),
    ("read", _http([(b"content-length", b"x")]), [b""]),
    ("read", _http([(b"content-length", b" 5 ")]), [b"01234"]),
    ("read", _http([(b"content-length", b"1_0")]), [b"0123456789"]),
    ("read", _http([(b"content-length", b"5"), (b"content-length", b"50")]), [b"01234"]),
    ("read", _http([(b"content-length", b"5"), (b"content-length", b"x")]), [b"01234"]),
    ("read", _http(), [b"01234", b"56789", b"a"]),  # streamed over the cap
    ("read", _http(), [b"01234", b"56789"]),  # streamed at the cap
    ("own-header", _http(), [b""]),
    ("raise-before", _http(), [b""]),
    ("raise-after", _http(), [b""]),
    ("plain", {"type": "websocket", "path": "/ws", "headers": []}, [b""]),
    ("plain", {"type": "lifespan"}, []),
]


@pytest.mark.parametrize(("behaviour", "scope", "chunks"), CASES)
def test_one_layer_answers_as_the_three(behaviour: str, scope: Any, chunks: list[bytes]) -> None:
    (sent_old, err_old, samples_old), (sent_new, err_new, samples_new) = _both(
        behaviour, scope, chunks
    )
    assert sent_new == sent_old
    assert err_new == err_old
    assert samples_new == samples_old
