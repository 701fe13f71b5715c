"""FlaskBearerAuth with protect_all=False: only decorated views are checked."""

from __future__ import annotations

import time

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


def test_cached_tokens_take_the_one_step_hit_and_keep_every_check(issuer: MiniIssuer) -> None:
    """A token the guard has verified is answered from its cache (one verification for many
    requests), and the hit still refuses what the full path refuses: a token revoked after it
    was cached, a token past exp, two Authorization headers."""
    from jwtkit.revocation import Denylist

    from .conftest import FakeClock

    verifier = access_token_verifier(
        JWKSClient(f"{issuer.issuer}/jwks"),
        issuer=issuer.issuer,
        audience=issuer.audience,
        algorithms=["ES256"],
    )
    wall = FakeClock(time.time() + 1)
    denylist = Denylist()
    guard = BearerGuard(verifier, denylist=denylist, clock=wall)
    hits: list[bool] = []
    one_step = guard.cached_principal

    def counting(authorization: str | bytes | None) -> object:
        principal = one_step(authorization)
        hits.append(principal is not None)
        return principal

    guard.cached_principal = counting  # type: ignore[method-assign,assignment]
    app = Flask("cached")
    FlaskBearerAuth(app, guard=guard)

    @app.get("/me")
    def me() -> dict[str, str]:
        return {"sub": g.jwtkit.subject, "jti": g.jwtkit_claims["jti"]}

    server = WerkzeugThread(app).start()
    try:
        token = issuer.token(lifetime=60)
        auth = {"Authorization": f"Bearer {token}"}
        for _ in range(3):
            assert httpx.get(server.url + "/me", headers=auth).json()["sub"] == "alice"
        assert hits == [False, True, True]  # verified once, then answered in one step
        two = httpx.get(server.url + "/me", headers=[*auth.items(), *auth.items()])
        assert two.status_code == 400
        jti = httpx.get(server.url + "/me", headers=auth).json()["jti"]
        denylist.add_jti(jti, time.time() + 600)
        revoked = httpx.get(server.url + "/me", headers=auth)
        assert revoked.status_code == 401 and "revoked" in revoked.text
        other = {"Authorization": f"Bearer {issuer.token(lifetime=60)}"}
        assert httpx.get(server.url + "/me", headers=other).status_code == 200
        wall.advance(120)  # past exp (no leeway)
        expired = httpx.get(server.url + "/me", headers=other)
        assert expired.status_code == 401 and "expired" in expired.text
    finally:
        server.stop()
