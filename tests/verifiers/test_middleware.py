"""ASGI (FastAPI dependency, Starlette middleware) and Flask guards over real HTTP.

Each failure case gets the right status and the RFC 6750 §3 WWW-Authenticate challenge.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import jwtkit
from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import AuthError, BearerGuard, access_token_verifier
from jwtkit.revocation import Denylist

from .apps import fastapi_app, flask_app, starlette_app
from .conftest import MiniIssuer, UvicornThread, WerkzeugThread

CHALLENGE = re.compile(r'^Bearer (?:[a-z_]+="[\x20\x21\x23-\x5b\x5d-\x7e]*"(?:, |$))+$')


def _params(header: str) -> dict[str, str]:
    assert CHALLENGE.match(header), header
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', header))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Env:
    def __init__(self, issuer: MiniIssuer, urls: dict[str, str], denylist: Denylist) -> None:
        self.issuer = issuer
        self.urls = urls
        self.denylist = denylist


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with MiniIssuer() as issuer:
        denylist = Denylist()
        client = JWKSClient(f"{issuer.issuer}/jwks")
        verifier = access_token_verifier(
            client, issuer=issuer.issuer, audience=issuer.audience, algorithms=["ES256"]
        )
        guard = BearerGuard(verifier, denylist=denylist, realm="test")
        servers: dict[str, Any] = {
            "fastapi": UvicornThread(fastapi_app(guard)).start(),
            "starlette": UvicornThread(starlette_app(guard)).start(),
            "flask": WerkzeugThread(flask_app(guard)).start(),
        }
        try:
            yield Env(issuer, {k: s.url for k, s in servers.items()}, denylist)
        finally:
            for server in servers.values():
                server.stop()


SERVERS = ["fastapi", "starlette", "flask"]


def _alg_confusion(issuer: MiniIssuer) -> str:
    """HS256 signed with the issuer's public key bytes (PEM and JWK JSON): the classic attack."""
    key = issuer.keys[0]
    header = {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}
    claims = json.loads(base64.urlsafe_b64decode(issuer.token().split(".")[1] + "==").decode())
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    secret = key.public().to_pem()
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}"


CASES: list[tuple[str, Callable[[MiniIssuer], str], str]] = [
    ("expired", lambda i: i.token(iat=time.time() - 1000, lifetime=300), "expired"),
    ("wrong aud", lambda i: i.token(aud="https://other.test"), "audience"),
    ("wrong iss", lambda i: i.token(iss="https://evil.test"), "issuer"),
    ("wrong typ", lambda i: i.token(typ="JWT"), "typ"),
    ("id token typ", lambda i: i.token(typ="id_token+jwt"), "typ"),
    ("alg confusion", _alg_confusion, "alg"),
    ("garbage", lambda i: "garbage", "malformed"),
    ("garbage 3 parts", lambda i: "aaa.bbb.ccc", "malformed"),
    ("alg none", lambda i: ".".join(i.token().split(".")[:2]) + ".", ""),
    (
        "bad signature",
        lambda i: i.token()[:-6] + ("AAAAAA" if not i.token().endswith("AAAAAA") else "BBBBBB"),
        "signature",
    ),
    ("unknown kid", lambda i: i.token(key=jwtkit.Key.generate("EC", alg="ES256")), "kid"),
]


@pytest.mark.parametrize("server", SERVERS)
def test_valid_token(env: Env, server: str) -> None:
    token = env.issuer.token(scope="read write")
    r = httpx.get(env.urls[server] + "/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"sub": "alice", "scopes": ["read", "write"]}
    r = httpx.get(env.urls[server] + "/write", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert httpx.get(env.urls[server] + "/health").status_code == 200


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize(("name", "make", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_invalid_token_is_401_invalid_token(
    env: Env, server: str, name: str, make: Callable[[MiniIssuer], str], fragment: str
) -> None:
    token = make(env.issuer)
    r = httpx.get(env.urls[server] + "/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, (name, r.text)
    params = _params(r.headers["www-authenticate"])
    assert params["realm"] == "test"
    assert params["error"] == "invalid_token"
    assert fragment in params["error_description"]
    if server != "fastapi":  # FastAPI's dependency answers {"detail": description}
        assert r.json()["error"] == "invalid_token"


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("authorization", [None, "Basic YWxpY2U6cHc=", "Bearer"])
def test_missing_token_is_401_without_error_code(
    env: Env, server: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    r = httpx.get(env.urls[server] + "/me", headers=headers)
    if authorization == "Bearer":  # scheme but no credentials: malformed request
        assert r.status_code == 400
        assert _params(r.headers["www-authenticate"])["error"] == "invalid_request"
        return
    assert r.status_code == 401
    assert _params(r.headers["www-authenticate"]) == {"realm": "test"}


@pytest.mark.parametrize("server", SERVERS)
def test_missing_scope_is_403_insufficient_scope(env: Env, server: str) -> None:
    token = env.issuer.token(scope="read")
    r = httpx.get(env.urls[server] + "/write", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    params = _params(r.headers["www-authenticate"])
    assert params["error"] == "insufficient_scope"
    assert params["scope"] == "write"


@pytest.mark.parametrize("server", SERVERS)
def test_revoked_token_is_401(env: Env, server: str) -> None:
    token = env.issuer.token()
    claims = jwtkit.decode_unverified(token)
    url = env.urls[server] + "/me"
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    env.denylist.add_jti(claims["jti"], claims["exp"])
    r = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert _params(r.headers["www-authenticate"])["error_description"].endswith("revoked")


def test_header_injection_is_not_echoed(env: Env) -> None:
    # Nothing from the token reaches the header: descriptions are fixed strings.
    token = env.issuer.token(iss='x", error="none')
    r = httpx.get(env.urls["starlette"] + "/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].count("error=") == 1


def test_alg_confusion_refused_even_when_hs256_is_allowed(env: Env) -> None:
    client = JWKSClient(f"{env.issuer.issuer}/jwks")
    verifier = access_token_verifier(
        client,
        issuer=env.issuer.issuer,
        audience=env.issuer.audience,
        algorithms=["ES256", "HS256"],
    )
    guard = BearerGuard(verifier)
    with pytest.raises(AuthError) as info:
        guard.authenticate("Bearer " + _alg_confusion(env.issuer))
    assert info.value.status == 401
    assert info.value.code in ("key_not_found", "key_mismatch")


def test_issuer_unreachable_without_keys_is_503() -> None:
    issuer = MiniIssuer()  # never started
    client = JWKSClient(f"{issuer.issuer}/jwks", timeout=1)
    verifier = access_token_verifier(
        client, issuer=issuer.issuer, audience=issuer.audience, algorithms=["ES256"]
    )
    guard = BearerGuard(verifier)
    with pytest.raises(AuthError) as info:
        guard.authenticate("Bearer " + issuer.token())
    assert info.value.status == 503
    issuer.server.sock.close()
