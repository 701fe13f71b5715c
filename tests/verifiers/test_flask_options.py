"""FlaskBearerAuth with protect_all=False: only decorated views are checked."""

from __future__ import annotations

import httpx
from flask import Flask, g

from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.wsgi import FlaskBearerAuth

from .conftest import MiniIssuer, WerkzeugThread


def test_protect_all_false(issuer: MiniIssuer) -> None:
    verifier = access_token_verifier(
        JWKSClient(f"{issuer.issuer}/jwks"),
        issuer=issuer.issuer,
        audience=issuer.audience,
        algorithms=["ES256"],
    )
    app = Flask("opt-in")
    jwt = FlaskBearerAuth(guard=BearerGuard(verifier), protect_all=False)
    jwt.init_app(app)

    @app.get("/open")
    def open_view() -> dict[str, str]:
        return {"hello": "anyone"}

    @app.get("/me")
    @jwt.required
    def me() -> dict[str, str]:
        return {"sub": g.jwtkit.subject}

    server = WerkzeugThread(app).start()
    try:
        assert httpx.get(server.url + "/open").status_code == 200
        r = httpx.get(server.url + "/me")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="jwtkit"'
        auth = {"Authorization": f"Bearer {issuer.token()}"}
        assert httpx.get(server.url + "/me", headers=auth).json() == {"sub": "alice"}
        assert httpx.get(server.url + "/nope", headers=auth).status_code == 404
    finally:
        server.stop()
