"""Token-service behaviour over real HTTP, on SQLite, PostgreSQL and PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

import jwtkit
from jwtkit.errors import InvalidSignatureError, KeyNotFoundError
from jwtkit.revocation import Denylist, parse_event, redis_keys

Svc = Any


def claims_of(token: str) -> dict[str, Any]:
    return jwtkit.decode_unverified(token)


def verify(svc: Svc, token: str, audience: str | None = None) -> dict[str, Any]:
    keyset = jwtkit.KeySet.from_jwks(svc.jwks())
    return jwtkit.decode(
        token,
        keyset,
        algorithms=["ES256", "RS256", "PS256", "EdDSA"],
        audience=audience or svc.settings.effective_issuer,
        issuer=svc.settings.effective_issuer,
        typ="at+jwt",
        now=svc.clock(),
    )


def test_login_refresh_reuse_logout(svc: Svc) -> None:
    tokens = svc.login()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["scope"] == "read write"
    header = jwtkit.get_unverified_header(tokens["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["kid"] in {k["kid"] for k in svc.jwks()["keys"]}
    claims = verify(svc, tokens["access_token"])
    assert set(claims) >= {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope", "sid"}
    assert claims["client_id"] == "web"
    assert claims["exp"] - claims["iat"] == 900

    svc.clock.advance(5)
    r = svc.refresh(tokens["refresh_token"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    second = r.json()
    assert second["refresh_token"] != tokens["refresh_token"]
    assert claims_of(second["access_token"])["sid"] == claims["sid"]

    # The consumed refresh token is rejected ... and its replay kills the whole family.
    replay = svc.refresh(tokens["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    newest = svc.refresh(second["refresh_token"])
    assert newest.status_code == 400 and newest.json()["error"] == "invalid_grant"
    assert svc.introspect(second["access_token"]) == {"active": False}
    assert svc.introspect(tokens["access_token"]) == {"active": False}
    assert svc.introspect(second["refresh_token"]) == {"active": False}

    # A new login works; logout ends that session.
    third = svc.login()
    assert svc.introspect(third["access_token"])["active"] is True
    assert svc.http.post("/logout", data={"token": third["refresh_token"]}).status_code == 204
    assert svc.introspect(third["access_token"]) == {"active": False}
    assert svc.refresh(third["refresh_token"]).json()["error"] == "invalid_grant"

    metrics = svc.services.metrics.render().decode()
    assert 'jwtkit_tokens_issued_total{grant_type="password"} 2.0' in metrics
    assert "jwtkit_refresh_reuse_total 1.0" in metrics


def test_logout_with_bearer_access_token(svc: Svc) -> None:
    tokens = svc.login()
    r = svc.http.post("/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert r.status_code == 204
    assert svc.refresh(tokens["refresh_token"]).status_code == 400
    assert svc.introspect(tokens["access_token"]) == {"active": False}
    bad = svc.http.post("/logout", headers={"Authorization": "Bearer not.a.token"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_token"
    # An opaque value that is no refresh token of ours: 401 with the RFC 6750 §3 challenge.
    unknown = svc.http.post("/logout", data={"token": "x" * 43})
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in unknown.headers["www-authenticate"]


def test_introspection_fields_and_auth(svc: Svc) -> None:
    tokens = svc.login()
    info = svc.introspect(tokens["access_token"])
    assert info["active"] is True
    assert info["username"] == "alice"
    assert info["client_id"] == "web"
    assert info["scope"] == "read write"
    assert info["token_type"] == "access_token"  # RFC 7662 §2.1's hint values
    # a refresh token is only its own client's business (issue 13 item 10)
    assert svc.introspect(tokens["refresh_token"]) == {"active": False}
    # Public clients and bad secrets may not introspect.
    r = svc.http.post("/introspect", data={"token": tokens["access_token"], "client_id": "web"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = svc.http.post("/introspect", data={"token": "x"}, auth=("rs", "wrong"))
    assert r.status_code == 401 and "Basic" in r.headers["www-authenticate"]
    # Expiry by the injected clock.
    svc.clock.advance(901)
    assert svc.introspect(tokens["access_token"]) == {"active": False}
    assert svc.introspect("garbage") == {"active": False}
    assert svc.introspect("a.b.c") == {"active": False}


def test_client_credentials_and_access_token_revocation(svc: Svc) -> None:
    r = svc.token({"grant_type": "client_credentials", "scope": "read"}, auth=("rs", "rs-secret"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert "refresh_token" not in body
    claims = verify(svc, body["access_token"])
    assert claims["sub"] == "rs" and "sid" not in claims and claims["scope"] == "read"
    # client_secret_post works too.
    r2 = svc.token(
        {"grant_type": "client_credentials", "client_id": "rs", "client_secret": "rs-secret"}
    )
    assert r2.status_code == 200
    # Public clients cannot use it.
    r3 = svc.token({"grant_type": "client_credentials", "client_id": "web"})
    assert r3.status_code == 400 and r3.json()["error"] == "unauthorized_client"
    # RFC 7009 on an access token: revoked by jti; the other token stays active.
    rv = svc.http.post("/revoke", data={"token": body["access_token"]}, auth=("rs", "rs-secret"))
    assert rv.status_code == 200
    assert svc.introspect(body["access_token"]) == {"active": False}
    assert svc.introspect(r2.json()["access_token"])["active"] is True
    assert svc.store.revoked_grain(claims) == "jti"


def test_revoke_refresh_token_ends_session(svc: Svc) -> None:
    tokens = svc.login()
    other = svc.login()
    r = svc.http.post(
        "/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": "web",
        },
    )
    assert r.status_code == 200
    assert svc.introspect(tokens["access_token"]) == {"active": False}
    assert svc.refresh(tokens["refresh_token"]).status_code == 400
    assert svc.introspect(other["access_token"])["active"] is True
    # Unknown tokens are not an error (RFC 7009 §2.2); another client's token is refused.
    assert svc.http.post("/revoke", data={"token": "nope", "client_id": "web"}).status_code == 200
    r = svc.http.post("/revoke", data={"token": other["refresh_token"]}, auth=("rs", "rs-secret"))
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    r = svc.http.post("/revoke", data={"token": "x", "client_id": "web", "token_type_hint": "id"})
    assert r.json()["error"] == "unsupported_token_type"


def test_revoke_all_user_sessions_cutoff_same_second(svc: Svc) -> None:
    first = svc.login()
    second = svc.login()
    user = svc.store.get_user("alice")
    assert svc.service.revoke_user(user, reason="admin", actor="test") == 2
    for t in (first, second):
        assert svc.introspect(t["access_token"]) == {"active": False}
        assert svc.refresh(t["refresh_token"]).status_code == 400
    # A new login in the same second stays valid (cut-off is int(now), iat >= cut-off).
    fresh = svc.login()
    assert claims_of(fresh["access_token"])["iat"] == int(svc.clock())
    assert svc.introspect(fresh["access_token"])["active"] is True
    assert svc.refresh(fresh["refresh_token"]).status_code == 200


def test_sessions_endpoint(svc: Svc) -> None:
    a = svc.login()
    svc.clock.advance(1)
    b = svc.login()
    headers = {"Authorization": f"Bearer {a['access_token']}"}
    r = svc.http.get("/sessions", headers=headers)
    assert r.status_code == 200
    sessions = r.json()["sessions"]
    assert len(sessions) == 2
    assert [s["current"] for s in sessions] == [True, False]
    sid_b = claims_of(b["access_token"])["sid"]
    assert svc.http.delete(f"/sessions/{sid_b}", headers=headers).status_code == 204
    assert svc.introspect(b["access_token"]) == {"active": False}
    assert len(svc.http.get("/sessions", headers=headers).json()["sessions"]) == 1
    assert svc.http.delete("/sessions/unknown", headers=headers).status_code == 404
    r = svc.http.get("/sessions")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    cc = svc.token({"grant_type": "client_credentials"}, auth=("rs", "rs-secret")).json()
    r = svc.http.get("/sessions", headers={"Authorization": f"Bearer {cc['access_token']}"})
    assert r.status_code == 401


def test_session_cap_evicts_oldest(make_svc: Any) -> None:
    s: Svc = make_svc(session_cap=2)
    s.add_user()
    s.add_client()
    s.add_client("rs", secret="rs-secret", grants=("client_credentials",), resource_server=True)
    first = s.login()
    s.clock.advance(1)
    second = s.login()
    s.clock.advance(1)
    third = s.login()
    assert s.introspect(first["access_token"]) == {"active": False}
    assert s.introspect(second["access_token"])["active"] is True
    assert s.introspect(third["access_token"])["active"] is True
    assert len(s.store.list_sessions(s.store.get_user("alice").id, s.clock())) == 2


def test_session_cap_refuses(make_svc: Any) -> None:
    s: Svc = make_svc(session_cap=1, session_cap_policy="refuse")
    s.add_user()
    s.add_client()
    s.login()
    r = s.token(
        {"grant_type": "password", "username": "alice", "password": "pw-alice", "client_id": "web"}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert "session limit" in r.json()["error_description"]


def test_failed_login_rate_limit(svc: Svc) -> None:
    bad = {"grant_type": "password", "username": "alice", "password": "wrong", "client_id": "web"}
    for _ in range(5):
        r = svc.token(bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = svc.token({**bad, "password": "pw-alice"})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"] == "invalid_grant"
    svc.clock.advance(svc.settings.login_failure_window)
    assert svc.login()["access_token"]
    assert (
        'jwtkit_failed_logins_total{reason="rate_limited"} 1.0'
        in svc.services.metrics.render().decode()
    )


def test_scopes(svc: Svc) -> None:
    narrow = svc.login(scope="read")
    assert narrow["scope"] == "read"
    r = svc.token(
        {
            "grant_type": "password",
            "username": "alice",
            "password": "pw-alice",
            "client_id": "web",
            "scope": "admin",
        }
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = svc.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": narrow["refresh_token"],
            "client_id": "web",
            "scope": "write",
        }
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


def test_expired_refresh_token(make_svc: Any) -> None:
    s: Svc = make_svc(refresh_token_ttl=60)
    s.add_user()
    s.add_client()
    tokens = s.login()
    s.clock.advance(61)
    r = s.refresh(tokens["refresh_token"])
    assert r.status_code == 400 and "expired" in r.json()["error_description"]


def test_refresh_grace_window(make_svc: Any) -> None:
    s: Svc = make_svc(refresh_grace_seconds=10)
    s.add_user()
    s.add_client()
    tokens = s.login()
    assert s.refresh(tokens["refresh_token"]).status_code == 200
    s.clock.advance(2)
    again = s.refresh(tokens["refresh_token"])  # within the grace window: not theft
    assert again.status_code == 200
    s.clock.advance(20)
    late = s.refresh(tokens["refresh_token"])  # after it: reuse, the family dies
    assert late.status_code == 400
    assert s.refresh(again.json()["refresh_token"]).status_code == 400


def test_refresh_token_bound_to_client(svc: Svc) -> None:
    tokens = svc.login()
    r = svc.token(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("rs", "rs-secret"),
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert svc.refresh(tokens["refresh_token"]).status_code == 200


async def _concurrent_refresh(url: str, refresh_token: str, n: int) -> list[int]:
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "web"}
        responses = await asyncio.gather(*(client.post("/token", data=data) for _ in range(n)))
    return [r.status_code for r in responses]


def test_fifty_concurrent_refreshes_exactly_one_wins(svc: Svc) -> None:
    tokens = svc.login()
    statuses = asyncio.run(_concurrent_refresh(svc.url, tokens["refresh_token"], 50))
    assert statuses.count(200) == 1, statuses
    assert statuses.count(400) == 49, statuses
    # The losers were reuse: the family is dead.
    assert svc.introspect(tokens["access_token"]) == {"active": False}


def test_key_rotation(svc: Svc) -> None:
    old = svc.login()
    old_kid = jwtkit.get_unverified_header(old["access_token"])["kid"]
    record = svc.services.keys.rotate(delay=60)
    kids = [k["kid"] for k in svc.jwks()["keys"]]
    assert record.kid in kids and old_kid in kids
    # Not promoted yet: still signing with the old key.
    assert jwtkit.get_unverified_header(svc.login()["access_token"])["kid"] == old_kid
    svc.clock.advance(61)
    new = svc.login()
    assert jwtkit.get_unverified_header(new["access_token"])["kid"] == record.kid
    # The old token keeps verifying through the JWK Set until it expires.
    verify(svc, old["access_token"])
    verify(svc, new["access_token"])
    assert svc.introspect(old["access_token"])["active"] is True
    # After its last token's exp plus the margin the retired key is gone.
    svc.clock.advance(svc.settings.access_token_ttl + svc.settings.key_retire_margin + 1)
    kids = [k["kid"] for k in svc.jwks()["keys"] if k["alg"] == "ES256"]  # access-token keys
    assert kids == [record.kid]
    with pytest.raises((KeyNotFoundError, InvalidSignatureError)):
        jwtkit.decode(
            old["access_token"],
            jwtkit.KeySet.from_jwks(svc.jwks()),
            algorithms=["ES256"],
            audience=svc.settings.effective_issuer,
            now=svc.clock() - 2000,
        )


def test_jwks_and_discovery(svc: Svc) -> None:
    r = svc.http.get("/.well-known/jwks.json")
    assert r.headers["cache-control"] == "public, max-age=300"
    for key in r.json()["keys"]:
        # Access-token keys (ES256) and the ID-token family (RS256, OIDC Core §15.1).
        assert "d" not in key and key["use"] == "sig" and key["alg"] in ("ES256", "RS256")
    assert {k["alg"] for k in r.json()["keys"]} == {"ES256", "RS256"}
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        meta = svc.http.get(path).json()
        assert meta["issuer"] == svc.url
        assert meta["token_endpoint"] == f"{svc.url}/token"
        assert meta["jwks_uri"] == f"{svc.url}/.well-known/jwks.json"
        assert set(meta["grant_types_supported"]) == {
            "authorization_code",
            "password",
            "refresh_token",
            "client_credentials",
        }
    assert svc.http.get("/healthz").json() == {"status": "ok"}
    ready = svc.http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["redis"] == ("ok" if svc.redis else "not configured")
    assert svc.http.get("/docs").status_code == 200
    assert "/token" in svc.http.get("/openapi.json").json()["paths"]


def test_other_algorithms(make_svc: Any) -> None:
    for alg in ("EdDSA",):
        s: Svc = make_svc(signing_alg=alg)
        s.add_user()
        s.add_client()
        s.add_client("rs", secret="rs-secret", grants=("client_credentials",), resource_server=True)
        tokens = s.login()
        assert jwtkit.get_unverified_header(tokens["access_token"])["alg"] == alg
        assert s.introspect(tokens["access_token"])["active"] is True


@pytest.mark.parametrize("backend", ["sqlite+redis", "postgresql+redis"])
def test_redis_mirror_and_events(svc: Svc) -> None:
    assert svc.redis is not None
    keys = redis_keys(svc.settings.revocation_prefix)
    pubsub = svc.redis.pubsub()
    pubsub.subscribe(keys["channel"])
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    a = svc.login()
    b = svc.login()
    cc = svc.token({"grant_type": "client_credentials"}, auth=("rs", "rs-secret")).json()
    svc.http.post("/logout", data={"token": a["refresh_token"]})
    svc.http.post("/revoke", data={"token": cc["access_token"]}, auth=("rs", "rs-secret"))
    svc.service.revoke_user(svc.store.get_user("alice"), reason="admin", actor="test")
    events = []
    for _ in range(10):
        msg = pubsub.get_message(timeout=5)
        if msg is None:
            break
        events.append(parse_event(msg["data"]))
        if len(events) == 4:
            break
    pubsub.close()
    kinds = [e["kind"] for e in events]
    assert kinds == ["sid", "jti", "sid", "sub"], events
    sid_a = claims_of(a["access_token"])["sid"]
    assert svc.redis.zscore(keys["sid"], sid_a) is not None
    assert svc.redis.zscore(keys["jti"], claims_of(cc["access_token"])["jti"]) is not None
    cutoff = float(svc.redis.hget(keys["sub"], claims_of(b["access_token"])["sub"]))
    assert cutoff == float(int(svc.clock()))
    # A verifier's denylist built from these events rejects the tokens.
    deny = Denylist()
    for e in events:
        deny.apply(e)
    assert deny.is_revoked(claims_of(a["access_token"])) == "sid"
    assert deny.is_revoked(claims_of(b["access_token"])) in ("sid", "sub")
    # Redis keeps nothing: after a flush, a resync re-mirrors everything from the database.
    svc.redis.delete(keys["jti"], keys["sid"], keys["sub"], keys["sub_until"])
    assert svc.services.resync() == 4
    assert svc.redis.zscore(keys["sid"], sid_a) is not None
    assert svc.redis.hget(keys["sub"], claims_of(b["access_token"])["sub"]) is not None


def test_state_survives_a_new_app(make_svc: Any, fake_clock: Any) -> None:
    clock = fake_clock()
    s1: Svc = make_svc(clock=clock, issuer="https://issuer.test")
    s1.add_user()
    s1.add_client()
    s1.add_client("rs", secret="rs-secret", grants=("client_credentials",), resource_server=True)
    keep = s1.login()
    dead = s1.login()
    s1.http.post("/logout", data={"token": dead["refresh_token"]})
    s2: Svc = make_svc(clock=clock, issuer="https://issuer.test")
    assert s2.introspect(keep["access_token"])["active"] is True
    assert s2.introspect(dead["access_token"]) == {"active": False}
    assert s2.refresh(keep["refresh_token"]).status_code == 200
    if s2.redis is not None:
        keys = redis_keys(s2.settings.revocation_prefix)
        assert s2.redis.zscore(keys["sid"], claims_of(dead["access_token"])["sid"]) is not None


def test_audit_log_never_contains_secrets(svc: Svc, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="jwtkit.audit")
    tokens = svc.login()
    svc.token(
        {"grant_type": "password", "username": "alice", "password": "wrong-pw", "client_id": "web"}
    )
    svc.refresh(tokens["refresh_token"])
    svc.refresh(tokens["refresh_token"])
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "jwtkit.audit")
    events = [json.loads(line)["event"] for line in text.splitlines()]
    assert {"login_succeeded", "login_failed", "refresh_reuse", "revocation"} <= set(events)
    for secret in (
        "pw-alice",
        "wrong-pw",
        tokens["refresh_token"],
        tokens["access_token"],
        "rs-secret",
    ):
        assert secret not in text


@pytest.mark.parametrize("backend", ["postgresql+redis"])
def test_two_instances_share_state(make_svc: Any, fake_clock: Any) -> None:
    clock = fake_clock()
    a: Svc = make_svc(clock=clock, issuer="https://issuer.test")
    shared = {
        "redis_prefix": a.settings.redis_prefix,
        "revocation_prefix": a.settings.revocation_prefix,
    }
    b: Svc = make_svc(clock=clock, issuer="https://issuer.test", **shared)
    a.add_user()
    a.add_client()
    a.add_client("rs", secret="rs-secret", grants=("client_credentials",), resource_server=True)
    # Only one instance created a signing key.
    assert [k.state for k in a.store.list_keys("access")] == ["current"]
    assert [k.state for k in a.store.list_keys("id_token")] == ["current"]
    tokens = a.login()
    assert b.introspect(tokens["access_token"])["active"] is True
    second = b.refresh(tokens["refresh_token"]).json()  # rotate on B ...
    assert a.refresh(tokens["refresh_token"]).status_code == 400  # ... replay on A: reuse
    assert b.introspect(second["access_token"]) == {"active": False}
    # Failed logins are counted across instances (Redis).
    bad = {"grant_type": "password", "username": "alice", "password": "x", "client_id": "web"}
    for inst in (a, b, a, b, a):
        assert inst.token(bad).status_code == 400
    assert b.token(bad).status_code == 429
    assert a.token(bad).status_code == 429
    # A rotation made through A is used by B once promoted.
    record = a.services.keys.rotate(delay=0)
    clock.advance(1)
    c = b.token({"grant_type": "client_credentials"}, auth=("rs", "rs-secret")).json()
    assert jwtkit.get_unverified_header(c["access_token"])["kid"] == record.kid
    assert a.introspect(c["access_token"])["active"] is True


def test_prune_removes_long_expired_sessions_only(svc: Svc) -> None:
    from jwtkit.store.sql import SESSION_RETENTION

    old = svc.login()
    old_sid = jwtkit.decode_unverified(old["access_token"])["sid"]
    rotated = svc.refresh(old["refresh_token"])  # leaves a consumed refresh token behind
    assert rotated.status_code == 200
    svc.clock.advance(svc.settings.refresh_token_ttl + 1)
    fresh = svc.login()
    fresh_sid = jwtkit.decode_unverified(fresh["access_token"])["sid"]
    # Expired, but within the retention: kept for `sessions list --all`.
    svc.store.prune(svc.clock())
    assert svc.store.get_session(old_sid) is not None
    svc.clock.advance(SESSION_RETENTION)
    removed = svc.store.prune(svc.clock())
    assert removed >= 2  # the session and its refresh tokens
    assert svc.store.get_session(old_sid) is None
    assert svc.store.get_session(fresh_sid) is not None  # still within its lifetime + retention
    assert svc.refresh(fresh["refresh_token"]).status_code == 200
    assert svc.refresh(rotated.json()["refresh_token"]).json()["error"] == "invalid_grant"
