"""The token service's FastAPI application: :func:`create_app` and its endpoints.

Endpoints (all JSON unless noted):

* ``POST /token`` (RFC 6749 §3.2): grants ``password``, ``refresh_token``, ``client_credentials``.
* ``POST /revoke`` (RFC 7009), ``POST /introspect`` (RFC 7662), ``POST /logout``.
* ``GET /sessions``, ``DELETE /sessions/{sid}``: the bearer's own sessions.
* ``GET /.well-known/jwks.json`` (RFC 7517 §5), ``GET /.well-known/oauth-authorization-server``
  and ``/.well-known/openid-configuration`` (RFC 8414).
* ``GET /healthz``, ``GET /readyz``, ``GET /metrics`` (Prometheus text), ``/docs`` (OpenAPI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwtkit.errors import JWTKitError
from jwtkit.server.metrics import Metrics
from jwtkit.server.oauth import OAuthError, client_credentials_from, parse_form
from jwtkit.server.runtime import Services, build_services
from jwtkit.server.service import GRANT_TYPES, session_view
from jwtkit.server.settings import SIGNING_ALGORITHMS, Settings
from jwtkit.store.sql import SQLStore

__all__ = ["Services", "build_services", "create_app"]

log = logging.getLogger("jwtkit.server")

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        },
    }
}


class _BodyLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` with 413 (JSON), before parsing."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
                    status = 413 if length > self.max_bytes else 400
                    error = OAuthError(
                        "invalid_request",
                        f"request body larger than {self.max_bytes} bytes"
                        if status == 413
                        else "invalid Content-Length",
                        status,
                    )
                    await _error_response(error)(scope, receive, send)
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise OAuthError(
                        "invalid_request", f"request body larger than {self.max_bytes} bytes", 413
                    )
            return message

        await self.app(scope, limited, send)


class _Latency:
    """ASGI middleware: observe request latency by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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


def _error_response(exc: OAuthError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers={**exc.headers, **NO_STORE})


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise OAuthError(
            "invalid_request",
            "a bearer access token is required (RFC 6750 §2.1)",
            401,
            {"WWW-Authenticate": 'Bearer realm="jwtkit"'},
        )
    return token.strip()


def _invalid_token(exc: JWTKitError) -> OAuthError:
    return OAuthError(
        "invalid_token",
        f"the access token is not valid ({exc.code})",
        401,
        {
            "WWW-Authenticate": f'Bearer realm="jwtkit", error="invalid_token", '
            f'error_description="{exc.code}"'
        },
    )


def create_app(
    settings: Settings | None = None,
    *,
    store: SQLStore | None = None,
    clock: Callable[[], float] | None = None,
    services: Services | None = None,
) -> FastAPI:
    """Build the token service's ASGI app (FastAPI).

    Everything it needs is passed in, so tests build one per test: settings, a store, a clock,
    or a complete :class:`Services`. Migrations run and the first signing key is created here.

    Args:
        settings: :class:`Settings` (default: from the environment).
        store: an existing :class:`SQLStore` (its pool is then not closed at shutdown).
        clock: returns now, seconds since the epoch (float).
        services: a prebuilt :class:`Services` (overrides the other arguments).

    Returns:
        The FastAPI app; ``app.state.services`` holds the :class:`Services`.
    """
    if services is None:
        services = build_services(settings or Settings(), store=store, clock=clock)
    svc = services.service
    cfg = services.settings
    issuer = cfg.effective_issuer

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async def housekeeping() -> None:
            while True:
                await asyncio.sleep(cfg.redis_resync_seconds)
                try:
                    await run_in_threadpool(services.resync)
                except Exception as exc:
                    log.error("periodic resync failed: %s", exc)

        try:
            mirrored = await run_in_threadpool(services.resync)
            if services.publisher.mirror is not None:
                log.info("mirrored %d live revocation(s) to Redis", mirrored)
        except Exception as exc:
            log.error("startup resync failed: %s", exc)
        task = asyncio.create_task(housekeeping())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            services.close()

    app = FastAPI(
        title="jwtkit token service",
        version="0.1.0",
        description="OAuth 2.0 token service issuing RFC 9068 JWT access tokens and rotating "
        "refresh tokens, with revocation, introspection, sessions and a JWK Set.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(_BodyLimit, max_bytes=cfg.max_body_bytes)
    app.add_middleware(_Latency, metrics=services.metrics)

    @app.exception_handler(OAuthError)
    async def _oauth_error(_request: Request, exc: OAuthError) -> Response:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        return _error_response(OAuthError("invalid_request", "invalid request parameters"))

    @app.exception_handler(OperationalError)
    async def _db_down(_request: Request, exc: OperationalError) -> Response:
        log.error("database unavailable: %s", exc.__class__.__name__)
        return _error_response(
            OAuthError("temporarily_unavailable", "the database is unavailable", 503)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": "server_error", "error_description": "internal error"},
            status_code=500,
            headers=NO_STORE,
        )

    async def form(request: Request) -> dict[str, str]:
        return parse_form(request.headers.get("content-type"), await request.body())

    # ---- token endpoint ----------------------------------------------------------------------

    @app.post("/token", tags=["oauth"], openapi_extra=_FORM_BODY)
    async def token(request: Request) -> Response:
        """Token endpoint (RFC 6749 §3.2, form-encoded). ``grant_type`` is ``password``
        (username, password, scope), ``refresh_token`` (refresh_token, scope) or
        ``client_credentials`` (scope). Client authentication: ``client_secret_basic``,
        ``client_secret_post``, or ``client_id`` alone for public clients.

        Returns 200 ``{access_token, token_type: "Bearer", expires_in, refresh_token?, scope}``
        with ``Cache-Control: no-store``; errors are RFC 6749 §5.2 JSON (400, 401
        ``invalid_client``, 429 when failed logins are rate-limited).
        """
        params = await form(request)
        creds = client_credentials_from(request.headers.get("authorization"), params)
        grant = params.get("grant_type")
        if grant is None:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant not in GRANT_TYPES:
            raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported")
        address = request.client.host if request.client else None

        def work() -> dict[str, Any]:
            client = svc.authenticate_client(creds)
            if grant == "password":
                return svc.password_grant(
                    client,
                    params.get("username"),
                    params.get("password"),
                    params.get("scope"),
                    address,
                )
            if grant == "refresh_token":
                return svc.refresh_grant(client, params.get("refresh_token"), params.get("scope"))
            return svc.client_credentials_grant(client, params.get("scope"))

        return JSONResponse(await run_in_threadpool(work), headers=NO_STORE)

    @app.post("/revoke", tags=["oauth"], openapi_extra=_FORM_BODY)
    async def revoke(request: Request) -> Response:
        """Token revocation (RFC 7009): ``token`` (refresh or access token), optional
        ``token_type_hint``; client-authenticated (public clients by ``client_id``). A refresh
        token ends its whole session; an access token is revoked by ``jti``. Returns 200 with
        an empty body, also for unknown tokens (§2.2)."""
        params = await form(request)
        creds = client_credentials_from(request.headers.get("authorization"), params)

        def work() -> None:
            client = svc.authenticate_client(creds)
            svc.revoke(client, params.get("token"), params.get("token_type_hint"))

        await run_in_threadpool(work)
        return Response(status_code=200, headers=NO_STORE)

    @app.post("/introspect", tags=["oauth"], openapi_extra=_FORM_BODY)
    async def introspect(request: Request) -> Response:
        """Token introspection (RFC 7662 §2): ``token``, optional ``token_type_hint``;
        confidential-client authentication required. Returns ``{"active": false}`` or
        ``{"active": true, scope, client_id, username, token_type, exp, iat, sub, aud, iss, jti,
        sid}``, knowing about revocations by jti, sid and sub."""
        params = await form(request)
        creds = client_credentials_from(request.headers.get("authorization"), params)

        def work() -> dict[str, Any]:
            svc.authenticate_client(creds, allow_public=False)
            return svc.introspect(params.get("token"), params.get("token_type_hint"))

        return JSONResponse(await run_in_threadpool(work), headers=NO_STORE)

    @app.post("/logout", tags=["sessions"], openapi_extra=_FORM_BODY)
    async def logout(request: Request) -> Response:
        """End the session of the presented token: form ``token`` (a refresh or access token)
        or ``Authorization: Bearer`` (an access token). Returns 204; 401 ``invalid_token`` when
        the token is not one of this service's."""
        token_value: str | None = None
        if request.headers.get("content-type"):
            token_value = (await form(request)).get("token")
        if token_value is None:
            token_value = _bearer(request)

        def work() -> bool:
            try:
                return svc.logout(token_value)
            except JWTKitError as exc:
                raise _invalid_token(exc) from None

        if not await run_in_threadpool(work):
            raise OAuthError(
                "invalid_token",
                "unknown token",
                401,
                {"WWW-Authenticate": 'Bearer realm="jwtkit", error="invalid_token"'},
            )
        return Response(status_code=204, headers=NO_STORE)

    # ---- sessions ----------------------------------------------------------------------------

    def bearer_claims(request: Request) -> dict[str, Any]:
        token_value = _bearer(request)
        try:
            claims = svc.verify_access_token(token_value)
        except JWTKitError as exc:
            raise _invalid_token(exc) from None
        if not isinstance(claims.get("sid"), str):
            raise OAuthError("invalid_token", "this token has no user session", 401)
        return claims

    @app.get("/sessions", tags=["sessions"])
    async def list_sessions(request: Request) -> Response:
        """The bearer's own active sessions: ``{"sessions": [{sid, client_id, scope,
        created_at, last_used_at, expires_at, revoked_at, revoked_reason, current}]}`` (times in
        seconds since the epoch). Needs ``Authorization: Bearer <access token>`` (RFC 6750
        §2.1); 401 ``invalid_request`` without one, 401 ``invalid_token`` (RFC 6750 §3.1) when
        it does not verify, is revoked or has no ``sid`` (a client_credentials token)."""

        def work() -> dict[str, Any]:
            claims = bearer_claims(request)
            rows = svc.store.list_sessions(str(claims["sub"]), svc.clock())
            return {"sessions": [session_view(s, claims["sid"]) for s in rows]}

        return JSONResponse(await run_in_threadpool(work), headers=NO_STORE)

    @app.delete("/sessions/{sid}", tags=["sessions"], status_code=204)
    async def delete_session(sid: str, request: Request) -> Response:
        """End one of the bearer's own sessions (``sid``: str, from ``GET /sessions``); its
        refresh tokens die and its ``sid`` is revoked. Returns 204; 404 ``invalid_request`` when
        the session is not the bearer's; 401 as for ``GET /sessions`` (RFC 6750 §3.1)."""

        def work() -> bool:
            claims = bearer_claims(request)
            if len(sid) > 64 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in sid):
                return False  # no session has such a sid (and PostgreSQL refuses NUL)
            session = svc.store.get_session(sid)
            if session is None or session.user_id != claims["sub"]:
                return False
            svc.revoke_session(sid, reason="user", actor=f"user:{claims['sub']}")
            return True

        if not await run_in_threadpool(work):
            raise OAuthError("invalid_request", "no such session", 404)
        return Response(status_code=204, headers=NO_STORE)

    # ---- keys and metadata -------------------------------------------------------------------

    @app.get("/.well-known/jwks.json", tags=["metadata"])
    async def jwks() -> Response:
        """The public JWK Set (RFC 7517 §5): next, current and still-published retired keys,
        with ``Cache-Control: public, max-age=<jwks_max_age>``."""
        body = await run_in_threadpool(services.keys.jwks)
        return JSONResponse(
            body,
            headers={"Cache-Control": f"public, max-age={cfg.jwks_max_age}"},
            media_type="application/jwk-set+json",
        )

    metadata_doc = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "access_token_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "service_documentation": f"{issuer}/docs",
    }

    @app.get("/.well-known/oauth-authorization-server", tags=["metadata"])
    async def oauth_metadata() -> Response:
        """Authorization server metadata (RFC 8414 §2, §3)."""
        return JSONResponse(metadata_doc, headers={"Cache-Control": "public, max-age=300"})

    @app.get("/.well-known/openid-configuration", tags=["metadata"])
    async def openid_configuration() -> Response:
        """The same metadata at the OpenID Connect discovery path (RFC 8414 §5)."""
        return JSONResponse(metadata_doc, headers={"Cache-Control": "public, max-age=300"})

    # ---- operations --------------------------------------------------------------------------

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """Liveness: 200 ``{"status": "ok"}`` while the process serves requests."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> Response:
        """Readiness: 200 when the database (and Redis, when configured) answer, else 503;
        body ``{"status", "database", "redis"}``."""

        def check() -> dict[str, str]:
            out = {"database": "ok", "redis": "not configured"}
            try:
                services.store.ping()
            except SQLAlchemyError as exc:
                out["database"] = f"error: {exc.__class__.__name__}"
            if services.publisher.mirror is not None:
                try:
                    services.publisher.mirror.ping()
                    out["redis"] = "ok"
                    if services.publisher.dirty:
                        services.resync()
                except Exception as exc:
                    out["redis"] = f"error: {exc.__class__.__name__}"
            return out

        result = await run_in_threadpool(check)
        ready = result["database"] == "ok" and result["redis"] in ("ok", "not configured")
        return JSONResponse(
            {"status": "ready" if ready else "not ready", **result},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["operations"])
    async def metrics() -> Response:
        """Prometheus text exposition of the service's metrics."""
        return Response(
            services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return app
