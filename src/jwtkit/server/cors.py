"""CORS for public browser clients (single-page apps) that call the token service directly.

Fetch Standard §3.2 (CORS protocol). Only the endpoints such a client calls get CORS: ``/token``
and ``/revoke`` (POST) and ``/userinfo`` (GET, POST). Each client may name its allowed origins
(``Settings.cors_origins``: client_id -> origins); nothing else is ever allowed:

* a preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is answered 204 with the
  CORS headers when the ``Origin`` is allowed for some client and the method fits the path,
  else 403 with no CORS header;
* an actual request gets ``Access-Control-Allow-Origin: <origin>`` only when its ``Origin`` is
  allowed for *its* client (``client_id`` of the form, or of HTTP Basic authentication); at
  ``/userinfo``, where the caller is known only by its access token, when the origin is allowed
  for some client. ``Access-Control-Allow-Credentials`` is never sent: these clients send no
  cookies.

Every response of these paths carries ``Vary: Origin``.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwtkit.middleware.csrf import origin_of

__all__ = ["CORS_PATHS", "ClientCORS", "check_origins"]

#: The CORS endpoints and their methods.
CORS_PATHS: Mapping[str, tuple[str, ...]] = {
    "/token": ("POST",),
    "/revoke": ("POST",),
    "/userinfo": ("GET", "POST"),
}
_ALLOW_HEADERS = "Authorization, Content-Type, DPoP"
_EXPOSE_HEADERS = "WWW-Authenticate, DPoP-Nonce"
_MAX_AGE = "600"
_MAX_FORM = 64 * 1024


def check_origins(origins: Mapping[str, Collection[str]]) -> dict[str, frozenset[str]]:
    """Validate ``client_id -> origins``: each origin must be a bare RFC 6454 origin
    (``https://spa.example`` or ``http://127.0.0.1:5173``; no path, no ``*``).

    Returns:
        the mapping with frozensets (dict).

    Raises:
        ValueError: an origin that is not one.
    """
    out: dict[str, frozenset[str]] = {}
    for client_id, values in origins.items():
        checked = set()
        for value in values:
            if not isinstance(value, str) or origin_of(value) != value:
                raise ValueError(f"not a bare origin for client {client_id!r}: {value!r}")
            checked.add(value)
        out[client_id] = frozenset(checked)
    return out


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _basic_client_id(authorization: str | None) -> str | None:
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except ValueError:
        return None
    client_id, sep, _ = raw.partition(":")
    return unquote(client_id) if sep else None  # RFC 6749 §2.3.1: form-urlencoded


class ClientCORS:
    """Pure ASGI middleware answering CORS for the client-facing endpoints (see the module).

    Args:
        app: the wrapped ASGI app.
        origins: client_id -> allowed origins (validated by :func:`check_origins`).
    """

    def __init__(self, app: ASGIApp, *, origins: Mapping[str, Collection[str]]) -> None:
        self.app = app
        self.origins = check_origins(origins)
        self.any_client = frozenset().union(*self.origins.values()) if self.origins else frozenset()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request (see the module)."""
        methods = CORS_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        origin = _header(scope, b"origin") if methods is not None else None
        if methods is None or origin is None or not self.origins:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await self._preflight(scope, send, origin, methods)
            return
        allowed, receive = await self._allowed(scope, receive, origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"vary"]
                headers.append((b"vary", b"Origin"))
                if allowed:
                    headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
                    headers.append((b"access-control-expose-headers", _EXPOSE_HEADERS.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(
        self, scope: Scope, send: Send, origin: str, methods: tuple[str, ...]
    ) -> None:
        wanted = (_header(scope, b"access-control-request-method") or "").upper()
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        if origin in self.any_client and wanted in methods:
            status = 204
            headers += [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", ", ".join(methods).encode()),
                (b"access-control-allow-headers", _ALLOW_HEADERS.encode()),
                (b"access-control-max-age", _MAX_AGE.encode()),
            ]
        else:
            status = 403  # nothing for an unknown origin
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _allowed(self, scope: Scope, receive: Receive, origin: str) -> tuple[bool, Receive]:
        """Whether ``origin`` may read this response, and the ``receive`` to pass on (the
        body is read here, to find the ``client_id``, then replayed)."""
        if origin not in self.any_client:
            return False, receive
        if scope["path"] == "/userinfo":
            return True, receive
        client_id = _basic_client_id(_header(scope, b"authorization"))
        messages: list[Message] = []
        failure: BaseException | None = None
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if client_id is None and content_type == "application/x-www-form-urlencoded":
            body = b""
            try:
                while True:
                    message = await receive()
                    messages.append(message)
                    body += message.get("body", b"")
                    if message["type"] != "http.request" or not message.get("more_body"):
                        break
                    if len(body) > _MAX_FORM:
                        break
            except Exception as exc:  # e.g. the body cap: the app answers it as before
                failure = exc
            if failure is None and len(body) <= _MAX_FORM:
                form = dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=50))
                client_id = form.get("client_id")
        allowed = client_id is not None and origin in self.origins.get(client_id, ())
        if not messages and failure is None:
            return allowed, receive
        pending = list(messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            if failure is not None:
                raise failure
            return await receive()

        return allowed, replay
