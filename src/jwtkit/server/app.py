"""The token service's FastAPI application: :func:`create_app` wires routers, middleware and
lifespan; the endpoints live in :mod:`jwtkit.server.routes`, one module per concern:

* :mod:`~jwtkit.server.routes.token`: ``POST /token`` (RFC 6749 §3.2).
* :mod:`~jwtkit.server.routes.revocation`: ``POST /revoke`` (RFC 7009), ``POST /introspect``
  (RFC 7662).
* :mod:`~jwtkit.server.routes.authorize`: ``GET|POST /authorize`` (RFC 6749 §4.1, OIDC Core
  §3.1.2), the login and consent forms, ``POST /par`` (RFC 9126).
* :mod:`~jwtkit.server.routes.oidc`: ``/userinfo`` (OIDC Core §5.3), ``/end_session`` (OIDC
  RP-Initiated Logout 1.0).
* :mod:`~jwtkit.server.routes.sessions`: ``POST /logout``, ``GET /sessions``,
  ``DELETE /sessions/{sid}``.
* :mod:`~jwtkit.server.routes.metadata`: ``GET /.well-known/jwks.json`` (RFC 7517 §5),
  ``/.well-known/oauth-authorization-server`` and ``/.well-known/openid-configuration``
  (RFC 8414).
* :mod:`~jwtkit.server.routes.operations`: ``GET /healthz``, ``/readyz``, ``/metrics``.
* :mod:`~jwtkit.server.routes.revocations_feed`: ``GET /revocations/events`` (long poll),
  ``/revocations/snapshot``: the revocation feed for verifiers.
* :mod:`~jwtkit.server.routes.docs`: ``GET /docs`` (Swagger UI, local assets).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from jwtkit.server.asgi import ServiceMiddleware
from jwtkit.server.cors import ClientCORS
from jwtkit.server.direct import DirectRoutes
from jwtkit.server.errors import install_error_handlers
from jwtkit.server.routes import (
    authorize,
    metadata,
    oidc,
    operations,
    revocation,
    revocations_feed,
    sessions,
    token,
)
from jwtkit.server.routes.docs import install_docs
from jwtkit.server.runtime import Services, build_services
from jwtkit.server.settings import Settings
from jwtkit.store.sql import SQLStore

__all__ = ["Services", "build_services", "create_app"]

ROUTERS = (token, revocation, authorize, oidc, sessions, metadata, operations, revocations_feed)


# FastAPI's native OpenTelemetry, all three signals off (FastAPI(telemetry=...), 0.165+).
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


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
    app = FastAPI(
        title="jwtkit token service",
        version="0.1.0",
        description="OAuth 2.0 token service issuing RFC 9068 JWT access tokens and rotating "
        "refresh tokens, with revocation, introspection, sessions and a JWK Set.",
        lifespan=services.lifespan,
        docs_url=None,  # FastAPI's pages load Swagger UI / ReDoc from a CDN: ours are local
        redoc_url=None,
        # Off unless asked for: FastAPI looks for OpenTelemetry providers on every request.
        telemetry=None if services.settings.opentelemetry else _NO_TELEMETRY,
    )
    app.state.services = services
    # Innermost: the hottest endpoints are called directly (issue 12), inside CORS, the body
    # cap, the metrics and the security headers.
    direct = [route for module in ROUTERS for route in module.router.routes]
    app.add_middleware(DirectRoutes, routes=direct, handlers_of=app)
    if services.settings.cors_origins:  # the body cap applies to what it reads
        app.add_middleware(ClientCORS, origins=services.settings.cors_origins)
    app.add_middleware(
        ServiceMiddleware, metrics=services.metrics, max_bytes=services.settings.max_body_bytes
    )
    install_error_handlers(app)
    for module in ROUTERS:
        app.include_router(module.router)
    install_docs(app)
    services.metrics.routes = frozenset(
        path for route in app.routes if isinstance(path := getattr(route, "path", None), str)
    )
    return app
