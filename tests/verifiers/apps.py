"""Small resource servers used by the verifier tests, the demo and the benchmark."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from flask import Flask, g
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwtkit.middleware import BearerGuard, Principal
from jwtkit.middleware.asgi import BearerAuth, BearerAuthMiddleware
from jwtkit.middleware.wsgi import FlaskBearerAuth


def _me(principal: Principal) -> dict[str, Any]:
    return {"sub": principal.subject, "scopes": sorted(principal.scopes)}


def fastapi_app(guard: BearerGuard) -> FastAPI:
    """FastAPI with dependencies only (no middleware)."""
    app = FastAPI()
    auth = BearerAuth(guard)

    @app.get("/me")
    async def me(principal: Principal = Depends(auth)) -> dict[str, Any]:
        return _me(principal)

    @app.get("/write")
    async def write(
        principal: Principal = Depends(auth.requires_scopes("write")),
    ) -> dict[str, Any]:
        return _me(principal)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def starlette_app(guard: BearerGuard) -> Starlette:
    """Starlette with the middleware on every path except /health."""
    need_write = BearerAuth(guard).requires_scopes("write")

    async def me(request: Request) -> JSONResponse:
        return JSONResponse(_me(request.state.jwtkit))

    async def write(request: Request) -> JSONResponse:
        return JSONResponse(_me(await need_write(request)))

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/me", me), Route("/write", write), Route("/health", health)])
    app.add_middleware(BearerAuthMiddleware, guard=guard, public_paths={"/health"})
    return app


def flask_app(guard: BearerGuard) -> Flask:
    """Flask with the extension protecting every view except /health."""
    app = Flask("jwtkit-test-flask")
    jwt = FlaskBearerAuth(app, guard=guard)

    @app.get("/me")
    def me() -> dict[str, Any]:
        return _me(g.jwtkit)

    @app.get("/write")
    @jwt.requires_scopes("write")
    def write() -> dict[str, Any]:
        return {"sub": g.jwtkit_claims["sub"], "scopes": sorted(g.jwtkit.scopes)}

    @app.get("/health")
    @jwt.public
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
