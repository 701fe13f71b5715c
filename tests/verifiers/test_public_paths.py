"""Issue 15.6: ``public_paths`` takes exact paths, prefixes and globs; the ASGI middleware and the
Flask extension answer every path alike (one matcher, ``PublicPaths``); the FastAPI dependency
declares an HTTP bearer security scheme, so the app's ``/docs`` has an Authorize button."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from flask import Flask
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, Principal, PublicPaths, access_token_verifier
from jwtkit.middleware.asgi import SCHEME_NAME, BearerAuth, BearerAuthMiddleware
from jwtkit.middleware.wsgi import FlaskBearerAuth

from .conftest import MiniIssuer, UvicornThread, WerkzeugThread

ENTRIES = ["/health", "/static/", "/docs*", "/files/*/public", "/api/**/openapi.json", "/v?/ping"]


@dataclass(frozen=True)
class Row:
    path: str
    public: bool


ROWS = [
    Row("/health", True),
    Row("/health/", True),  # one trailing slash
    Row("/healthz", False),
    Row("/health/x", False),
    Row("/Health", False),  # case-sensitive
    Row("/static/", True),
    Row("/static/app.js", True),
    Row("/static/css/site.css", True),
    Row("/static", False),
    Row("/staticx/a", False),
    Row("/static/../admin", False),  # dot segments never public
    Row("/static/./admin", False),
    Row("/static//admin", False),
    Row("/docs", True),
    Row("/docs/oauth2-redirect", False),  # * stays within one segment
    Row("/docsearch", True),
    Row("/files/a/public", True),
    Row("/files/a/b/public", False),
    Row("/files/a/private", False),
    Row("/api/openapi.json", False),  # ** needs the surrounding slashes: /api/<...>/openapi.json
    Row("/api/v1/openapi.json", True),
    Row("/api/v1/x/openapi.json", True),
    Row("/v1/ping", True),
    Row("/v12/ping", False),
    Row("/orders", False),
    Row("", False),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.path or "empty")
def test_matcher(row: Row) -> None:
    assert PublicPaths(ENTRIES)(row.path) is row.public


def test_matcher_refuses_relative_entries() -> None:
    with pytest.raises(ValueError, match="must be a str starting with '/'"):
        PublicPaths(["health"])
    assert not PublicPaths()("/health")


def _guard(issuer: MiniIssuer) -> BearerGuard:
    return BearerGuard(
        access_token_verifier(
            JWKSClient(f"{issuer.issuer}/jwks"),
            issuer=issuer.issuer,
            audience=issuer.audience,
            algorithms=["ES256"],
        )
    )


@pytest.fixture
def servers(issuer: MiniIssuer) -> Iterator[tuple[str, str]]:
    async def anything(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    from starlette.applications import Starlette
    from starlette.routing import Route

    asgi = Starlette(routes=[Route("/{path:path}", anything)])
    asgi.add_middleware(BearerAuthMiddleware, guard=_guard(issuer), public_paths=ENTRIES)
    flask = Flask("public-paths", static_folder=None)  # its own /static route would answer
    FlaskBearerAuth(flask, guard=_guard(issuer), public_paths=ENTRIES)

    @flask.route("/", defaults={"path": ""})
    @flask.route("/<path:path>")
    def any_path(path: str) -> str:
        return "ok"

    a, f = UvicornThread(asgi).start(), WerkzeugThread(flask).start()
    try:
        yield a.url, f.url
    finally:
        a.stop()
        f.stop()


def test_asgi_and_flask_answer_alike(servers: tuple[str, str]) -> None:
    asgi, flask = servers
    with httpx.Client(timeout=10) as http:
        for row in ROWS:
            if not row.path or "//" in row.path or "/." in row.path:
                continue  # clients and servers rewrite these before routing
            expected = 200 if row.public else 401
            got = [http.get(base + row.path).status_code for base in (asgi, flask)]
            assert got == [expected, expected], row


def test_fastapi_dependency_declares_a_bearer_scheme(issuer: MiniIssuer) -> None:
    auth = BearerAuth(_guard(issuer))
    app = FastAPI()

    @app.get("/me")
    async def me(principal: Principal = Depends(auth)) -> dict[str, Any]:
        return {"sub": principal.subject}

    @app.get("/orders")
    async def orders(principal: Principal = Depends(auth.requires_scopes("read"))) -> list[str]:
        return []

    @app.get("/open")
    async def open_view() -> str:
        return "hi"

    server = UvicornThread(app).start()
    try:
        doc = httpx.get(server.url + "/openapi.json", timeout=10).json()
        docs_page = httpx.get(server.url + "/docs", timeout=10)
        me_ok = httpx.get(
            server.url + "/me", headers={"Authorization": f"Bearer {issuer.token()}"}, timeout=10
        )
    finally:
        server.stop()
    scheme = doc["components"]["securitySchemes"][SCHEME_NAME]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": scheme["description"],
    }
    assert doc["paths"]["/me"]["get"]["security"] == [{SCHEME_NAME: []}]
    assert doc["paths"]["/orders"]["get"]["security"] == [{SCHEME_NAME: []}]
    assert "security" not in doc["paths"]["/open"]["get"]
    assert docs_page.status_code == 200
    assert me_ok.json() == {"sub": "alice"}
