"""The service's ASGI middleware: a request-body cap, a latency histogram and security
headers."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwtkit.server.errors import error_response
from jwtkit.server.metrics import Metrics
from jwtkit.server.oauth import InvalidRequest

__all__ = ["BodyLimit", "Latency", "SecurityHeaders"]


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
            # closed label sets only (issue 13 item 4): see Metrics.observe_request
            route = getattr(scope.get("route"), "path", None)
            self.metrics.observe_request(
                scope.get("method"), route, status, time.perf_counter() - start
            )


class SecurityHeaders:
    """ASGI middleware: ``X-Content-Type-Options: nosniff`` on every response, errors and
    404s included (issue 13 item 15), so no browser sniffs a JSON or text body into HTML."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app, adding the header to its ``http.response.start``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"x-content-type-options"
                ]
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
