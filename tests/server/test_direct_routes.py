"""Direct dispatch of the hottest endpoints (issue 12, jwtkit.server.direct): the same endpoint
function, the same error handling and metrics labels as through the router."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response

from jwtkit.server.direct import DirectRoutes, direct
from jwtkit.server.errors import install_error_handlers
from jwtkit.server.oauth import InvalidGrant

from .support import ServerThread

calls: list[str] = []
seen_scopes: list[dict[str, Any]] = []


@contextmanager
def serving(app: FastAPI) -> Iterator[httpx.Client]:
    """``app`` under uvicorn on a free 127.0.0.1 port; yields a client for it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = ServerThread(app, sock)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        thread.stop()


def _app() -> tuple[FastAPI, list[Any]]:
    router = APIRouter()
    seen: list[Any] = []

    @router.post("/hot")
    @direct
    async def hot(request: Request) -> Response:
        calls.append("hot")
        seen.append(request.scope.get("route"))
        seen_scopes.append(request.scope)
        form = await request.body()
        if form == b"oauth":
            raise InvalidGrant("no such grant")
        if form == b"crash":
            raise RuntimeError("boom")
        return Response(b"ok:" + form, media_type="text/plain")

    @router.get("/cold")
    async def cold() -> Response:
        calls.append("cold")
        return Response(b"cold")

    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(DirectRoutes, routes=router.routes, handlers_of=app)
    app.include_router(router)
    return app, seen


def test_direct_route_calls_the_endpoint_with_the_route_set() -> None:
    app, seen = _app()
    with serving(app) as client:
        r = client.post("/hot", content=b"x")
        assert (r.status_code, r.text) == (200, "ok:x")
        # FastAPI's request handler never ran: no dependency resolution, no AsyncExitStack
        assert "fastapi_inner_astack" not in seen_scopes[-1]
        assert seen[-1] is not None and seen[-1].path == "/hot"  # the metrics' route template
        assert client.get("/cold").text == "cold"


def test_direct_route_errors_take_the_apps_handlers() -> None:
    app, _ = _app()
    with serving(app) as client:
        r = client.post("/hot", content=b"oauth")
        assert r.status_code == 400
        assert r.json()["error"] == "invalid_grant"
        assert r.headers["cache-control"] == "no-store"
        crash = client.post("/hot", content=b"crash")
        assert crash.status_code == 500
        assert crash.json() == {"error": "server_error", "error_description": "internal error"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_and_paths_go_through_the_router(method: str) -> None:
    app, _ = _app()
    with serving(app) as client:
        r = client.request(method, "/hot")
        assert r.status_code == 405
        assert r.json()["error"] == "invalid_request"
        assert "POST" in r.headers["allow"]
        calls.clear()
        assert client.post("/hot/x").status_code == 404  # exact paths only
        assert calls == []


def test_direct_routes_refuse_path_parameters() -> None:
    router = APIRouter()

    @router.get("/items/{item}")
    @direct
    async def item(request: Request) -> Response:
        return Response(b"")

    app = FastAPI()
    with pytest.raises(ValueError, match="path parameters"):
        DirectRoutes(app, routes=router.routes, handlers_of=app)
