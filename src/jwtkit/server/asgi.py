"""The service's ASGI middleware: a request-body cap and a latency histogram."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwtkit.server.errors import error_response
from jwtkit.server.metrics import Metrics
from jwtkit.server.oauth import InvalidRequest

__all__ = ["BodyLimit", "Latency"]


class BodyLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` (int) with 413 ``invalid_request``
    (JSON) before they are parsed; a malformed ``Content-Length`` gets 400."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app with the cap applied to ``receive``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
                if length < 0 or length > self.max_bytes:
                    if length > self.max_bytes:
                        error = self._too_large()
                    else:
                        error = InvalidRequest("invalid Content-Length")
                    await error_response(error)(scope, receive, send)
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, limited, send)

    def _too_large(self) -> InvalidRequest:
        return InvalidRequest(f"request body larger than {self.max_bytes} bytes", status=413)


class Latency:
    """ASGI middleware: observe request latency by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app and record its latency (seconds) in ``metrics.latency``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.latency.labels(scope.get("method", "?"), path, str(status)).observe(
                time.perf_counter() - start
            )
