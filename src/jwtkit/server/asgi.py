"""The service's ASGI middleware: security headers, a latency histogram and a request-body
cap, in one layer."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwtkit.server.errors import error_response
from jwtkit.server.metrics import Metrics
from jwtkit.server.oauth import InvalidRequest

__all__ = ["ServiceMiddleware"]

_NOSNIFF = (b"x-content-type-options", b"nosniff")


class ServiceMiddleware:
    """The service's outer ASGI middleware, one layer for three duties on every HTTP request
    (one layer rather than three: each layer's coroutine and ``send`` wrapper cost the token
    endpoint measurably, issue 12):

    * **security headers**: ``X-Content-Type-Options: nosniff`` on every response, errors and
      404s included (issue 13 item 15), so no browser sniffs a JSON or text body into HTML;
    * **latency**: the request's latency (seconds) observed in ``metrics.latency`` by method,
      route template and status (closed label sets, :meth:`Metrics.observe_request`);
    * **body cap**: bodies over ``max_bytes`` (int) refused with 413 ``invalid_request`` (JSON)
      before they are parsed: an announced ``Content-Length`` over the cap is answered here; a
      streamed body that goes over it makes the app's ``receive`` raise
      :class:`~jwtkit.server.oauth.InvalidRequest` (413), which the app's error handlers
      answer; a malformed ``Content-Length`` gets 400.

    Args:
        app: the wrapped ASGI app.
        metrics: the service's :class:`~jwtkit.server.metrics.Metrics`.
        max_bytes: the largest request body accepted (int, bytes).

    Other scopes (lifespan, websocket) pass through untouched.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the wrapped app with the cap applied to ``receive``, the header added to its
        ``http.response.start`` and its latency recorded."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"x-content-type-options"
                ]
                headers.append(_NOSNIFF)
                message = {**message, "headers": headers}
            await send(message)

        try:
            error = self._announced_too_large(scope)
            if error is not None:
                await error_response(error)(scope, receive, send_with_headers)
                return
            received = 0
            max_bytes = self.max_bytes

            async def limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > max_bytes:
                        raise self._too_large()
                return message

            await self.app(scope, limited, send_with_headers)
        finally:
            # closed label sets only (issue 13 item 4): see Metrics.observe_request
            route = getattr(scope.get("route"), "path", None)
            self.metrics.observe_request(
                scope.get("method"), route, status, time.perf_counter() - start
            )

    def _announced_too_large(self, scope: Scope) -> InvalidRequest | None:
        """The error for a ``Content-Length`` over the cap (413) or malformed (400), else None."""
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = -1
                if length > self.max_bytes:
                    return self._too_large()
                if length < 0:
                    return InvalidRequest("invalid Content-Length")
        return None

    def _too_large(self) -> InvalidRequest:
        return InvalidRequest(f"request body larger than {self.max_bytes} bytes", status=413)
