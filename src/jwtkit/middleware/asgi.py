"""Bearer-token protection for ASGI apps: Starlette/FastAPI middleware and FastAPI dependencies.

RFC 6750 (bearer tokens: ``Authorization: Bearer`` §2.1, ``WWW-Authenticate`` errors §3),
RFC 9068 (JWT access tokens: ``typ: at+jwt``, ``scope``).

Usage with FastAPI::

    from jwtkit.jwks_client import JWKSClient
    from jwtkit.middleware import BearerGuard, access_token_verifier
    from jwtkit.middleware.asgi import BearerAuth, BearerAuthMiddleware

    jwks = JWKSClient.from_issuer("https://issuer.example")
    guard = BearerGuard(access_token_verifier(jwks, issuer="https://issuer.example",
                                              audience="https://api.example",
                                              algorithms=["ES256"]), denylist=denylist)
    app = FastAPI()
    app.add_middleware(BearerAuthMiddleware, guard=guard, public_paths={"/health"})
    auth = BearerAuth(guard)

    @app.get("/orders")
    async def orders(principal: Principal = Depends(auth.requires_scopes("orders:read"))): ...

The middleware answers failed requests itself (401/400/503 with the RFC 6750 challenge) and puts
the :class:`~jwtkit.middleware.Principal` in ``scope["jwtkit"]`` and ``request.state.jwtkit``.
The dependency can also be used without the middleware: it then verifies the token itself.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from jwtkit.middleware._core import AuthError, BearerGuard, Principal, PublicPaths, RequestFacts

__all__ = [
    "AuthHTTPException",
    "BearerAuth",
    "BearerAuthMiddleware",
    "auth_error_handler",
    "get_principal",
    "request_facts",
]

SCOPE_KEY = "jwtkit"


def _authorization_bytes(scope: Scope) -> bytes | None:
    """The request's ``Authorization`` header as ASGI gives it (bytes) or None; two of them
    are refused (RFC 6750 §2), as a value answered with 400 ``invalid_request`` (and never a
    cached token's)."""
    value: bytes | None = None
    for name, raw in scope.get("headers", ()):
        if name == b"authorization":
            if value is not None:  # two Authorization headers: refuse (RFC 6750 §2)
                return b"Bearer !"
            value = raw
    return value


def _authorization(scope: Scope) -> str | None:
    """:func:`_authorization_bytes` as str (latin-1, as ASGI headers are read)."""
    raw = _authorization_bytes(scope)
    return None if raw is None else raw.decode("latin-1")


async def _authenticate(guard: BearerGuard, scope: Scope) -> Principal:
    """The principal of an ASGI request, by ``guard``.

    A guard that reads only ``Authorization: Bearer`` (header credentials, no DPoP policy)
    needs nothing else from the request: that one header is read, without building the
    :class:`~jwtkit.middleware.RequestFacts` (URL, cookies, CSRF headers) the other modes
    use. Either way :meth:`BearerGuard.aauthenticate_request` gives the same answer.

    Raises:
        AuthError: as :meth:`BearerGuard.aauthenticate_request`.
    """
    if guard.credentials == "header" and guard.dpop is None:
        return await guard.aauthenticate(_authorization(scope))
    return await guard.aauthenticate_request(request_facts(scope, guard.csrf_header))


def request_facts(scope: Scope, csrf_header: str = "X-CSRF-Token") -> RequestFacts:
    """Return the :class:`~jwtkit.middleware.RequestFacts` of an ASGI HTTP/WebSocket scope
    (``csrf_header``: the header that carries the CSRF token)."""
    conn = HTTPConnection(scope)
    headers = conn.headers
    return RequestFacts(
        method=scope.get("method", "GET"),
        authorization=_authorization(scope),
        cookies=conn.cookies,
        origin=headers.get("origin"),
        sec_fetch_site=headers.get("sec-fetch-site"),
        csrf_token=headers.get(csrf_header),
        websocket=scope["type"] == "websocket",
        dpop=tuple(
            raw.decode("latin-1") for name, raw in scope.get("headers", ()) if name == b"dpop"
        ),
        url=_request_url(conn),
        path=str(scope.get("root_path", "")) + str(scope.get("path", "/")),
    )


def _request_url(conn: HTTPConnection) -> str | None:
    """The request's URL without query (RFC 9449 ``htu``), or None when it cannot be built."""
    try:
        url = conn.url
    except (KeyError, ValueError):  # pragma: no cover - a scope without a server or host
        return None
    scheme = {"ws": "http", "wss": "https"}.get(url.scheme, url.scheme)
    return f"{scheme}://{url.netloc}{url.path}"


async def _send_error(send: Send, err: AuthError) -> None:
    body = json.dumps(err.body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _attach(scope: Scope, principal: Principal) -> None:
    scope[SCOPE_KEY] = principal
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    state[SCOPE_KEY] = principal


class BearerAuthMiddleware:
    """Pure ASGI middleware that requires a valid bearer access token on every HTTP request.

    Args:
        app: the wrapped ASGI app.
        guard: the :class:`~jwtkit.middleware.BearerGuard` (verifier policy and denylist).
        public_paths: paths served without a token: exact (``"/health"``), prefixes
            (``"/static/"``) and globs (``"/docs*"``, ``"/files/**"``); see
            :class:`~jwtkit.middleware.PublicPaths`.
        scopes: scopes every request must carry (403 ``insufficient_scope`` otherwise).

    On success the :class:`~jwtkit.middleware.Principal` is in ``scope["jwtkit"]`` and
    ``request.state.jwtkit``. On failure it answers itself: 401 with
    ``WWW-Authenticate: Bearer realm=..., error="invalid_token", error_description=...``, 401
    with only ``realm`` when no token was sent, 400 ``invalid_request`` for a malformed header,
    403 ``insufficient_scope``, 503 when the issuer's keys cannot be had; WebSocket connections
    are closed with code 1008. Lifespan and other scopes pass through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: BearerGuard,
        public_paths: Collection[str] = (),
        scopes: Collection[str] = (),
    ) -> None:
        self.app = app
        self.guard = guard
        self.public_paths = PublicPaths(public_paths)
        self.scopes = frozenset(scopes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or (
            self.public_paths.entries and self.public_paths(str(scope.get("path", "")))
        ):
            await self.app(scope, receive, send)
            return
        # A cached token's hit, in one step; anything else (and every refusal, two
        # Authorization headers included) is answered by the full path below.
        principal = self.guard.cached_principal(_authorization_bytes(scope))
        if principal is not None and (not self.scopes or self.scopes <= principal.scopes):
            _attach(scope, principal)
            await self.app(scope, receive, send)
            return
        try:
            principal = await _authenticate(self.guard, scope)
            if self.scopes:
                self.guard.require(principal, self.scopes)
        except AuthError as err:
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": err.error or ""})
            else:
                await _send_error(send, err)
            return
        _attach(scope, principal)
        await self.app(scope, receive, send)


def get_principal(conn: HTTPConnection) -> Principal | None:
    """Return the :class:`Principal` the middleware attached to this request, or None."""
    principal = conn.scope.get(SCOPE_KEY)
    return principal if isinstance(principal, Principal) else None


class AuthHTTPException(HTTPException):
    """The :class:`HTTPException` the dependencies raise; ``error`` is the
    :class:`~jwtkit.middleware.AuthError` behind it. Register :func:`auth_error_handler` for
    it to answer with the middleware's JSON body (``{"error": code, ...}``)."""

    def __init__(self, err: AuthError) -> None:
        # detail is a str so that Starlette's default handler (plain text) and FastAPI's (JSON
        # {"detail": ...}) both render it; the OAuth error code is in WWW-Authenticate.
        detail = err.description or err.error or "authentication required"
        headers = {**err.headers, "Cache-Control": "no-store"}  # as the middleware sends
        super().__init__(status_code=err.status, detail=detail, headers=headers)
        self.error = err


def auth_error_handler(request: Request, exc: Exception) -> Response:
    """Exception handler for :class:`AuthHTTPException`: the JSON body and headers the
    middleware sends (e.g. 403 ``{"error": "csrf_token_missing", ...}``).

    Usage: ``app.add_exception_handler(AuthHTTPException, auth_error_handler)``.
    """
    err = exc.error if isinstance(exc, AuthHTTPException) else AuthError(401, None, None, realm="")
    return JSONResponse(
        err.body(), status_code=err.status, headers={**err.headers, "Cache-Control": "no-store"}
    )


def _http_exception(err: AuthError) -> HTTPException:
    return AuthHTTPException(err)


def _security_base() -> type:
    """FastAPI's ``SecurityBase`` when FastAPI is installed (so the dependencies declare their
    scheme in the app's OpenAPI document), else ``object`` (plain Starlette)."""
    try:
        from fastapi.security.base import SecurityBase
    except ImportError:  # pragma: no cover - FastAPI is optional
        return object
    return SecurityBase


_SecurityBase: Any = _security_base()
SCHEME_NAME = "BearerAuth"
"""The name of the security scheme the dependencies declare in a FastAPI app's OpenAPI."""


def _declare_scheme(dependency: Any) -> None:
    """Give ``dependency`` FastAPI's security-scheme attributes: an HTTP ``bearer`` scheme with
    ``bearerFormat: JWT`` (OpenAPI 3.1 §4.8.27, RFC 6750), so the app's ``/docs`` shows an
    Authorize button and sends ``Authorization: Bearer``."""
    if _SecurityBase is object:  # pragma: no cover - FastAPI is optional
        return
    from fastapi.openapi.models import HTTPBearer as HTTPBearerModel

    dependency.model = HTTPBearerModel(
        bearerFormat="JWT",
        description="An RFC 9068 JWT access token: Authorization: Bearer <token> (RFC 6750).",
    )
    dependency.scheme_name = SCHEME_NAME


class BearerAuth(_SecurityBase):  # type: ignore[misc]
    """FastAPI/Starlette dependency that returns the request's :class:`Principal`.

    ``Depends(auth)`` returns the principal (reusing the middleware's work when it ran, else
    verifying the token itself); ``Depends(auth.requires_scopes("a", "b"))`` also requires the
    scopes. Failures raise :class:`starlette.exceptions.HTTPException` with the RFC 6750
    ``WWW-Authenticate`` header (401 ``invalid_token``, 403 ``insufficient_scope``).
    In a plain Starlette endpoint, ``principal = await auth(request)`` does the same.

    In a FastAPI app it declares an HTTP ``bearer`` security scheme (``BearerAuth``,
    ``bearerFormat: JWT``) in the OpenAPI document, so ``/docs`` shows an Authorize button.

    Args:
        guard: the :class:`~jwtkit.middleware.BearerGuard`.
    """

    def __init__(self, guard: BearerGuard) -> None:
        self.guard = guard
        _declare_scheme(self)

    async def __call__(self, request: HTTPConnection) -> Principal:
        """Return the verified principal of ``request``; raises HTTPException on failure."""
        principal = get_principal(request)
        if principal is not None:
            return principal
        principal = self.guard.cached_principal(_authorization(request.scope))
        if principal is not None:
            _attach(request.scope, principal)
            return principal
        try:
            principal = await _authenticate(self.guard, request.scope)
        except AuthError as err:
            raise _http_exception(err) from None
        _attach(request.scope, principal)
        return principal

    def requires_scopes(self, *scopes: str) -> _ScopeDependency:
        """Return a dependency that returns the principal if it holds all of ``scopes``.

        Raises (when called): HTTPException 401 ``invalid_token`` or 403 ``insufficient_scope``.
        """
        return _ScopeDependency(self, frozenset(scopes))


class _ScopeDependency(_SecurityBase):  # type: ignore[misc]
    def __init__(self, auth: BearerAuth, scopes: frozenset[str]) -> None:
        self.auth = auth
        self.scopes = scopes
        _declare_scheme(self)

    async def __call__(self, request: HTTPConnection) -> Principal:
        principal = await self.auth(request)
        try:
            return self.auth.guard.require(principal, self.scopes)
        except AuthError as err:
            raise _http_exception(err) from None
