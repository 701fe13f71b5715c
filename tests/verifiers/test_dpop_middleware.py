"""DPoP at the verifier middleware over real HTTP (RFC 9449 §7): FastAPI dependency, Starlette
middleware and Flask extension; one test per bad input; server nonces; a configured external URL;
replay across two instances sharing Redis."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

import jwtkit
from jwtkit import _b64, dpop
from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.dpop import DPoPPolicy
from jwtkit.store.redis import RedisReplayCache, connect

from .apps import fastapi_app, flask_app, starlette_app
from .conftest import REDIS_URL, MiniIssuer, UvicornThread, WerkzeugThread

KEY = jwtkit.Key.generate("EC", crv="P-256")
OTHER = jwtkit.Key.generate("EC", crv="P-256")
SERVERS = ["fastapi", "starlette", "flask"]
ALGS = ["ES256", "EdDSA", "PS256"]


def _seg(obj: Any) -> str:
    return _b64.b64e_str(json.dumps(obj).encode())


def _pub(key: jwtkit.Key = KEY) -> dict[str, Any]:
    jwk = key.public().to_jwk()
    jwk.pop("kid", None)
    return jwk


class Env:
    def __init__(self, issuer: MiniIssuer, urls: dict[str, str]) -> None:
        self.issuer = issuer
        self.urls = urls

    def bound_token(self, key: jwtkit.Key = KEY) -> str:
        return self.issuer.token(cnf={"jkt": key.thumbprint()})


def _guard(issuer: MiniIssuer, policy: DPoPPolicy) -> BearerGuard:
    verifier = access_token_verifier(
        JWKSClient(f"{issuer.issuer}/jwks"),
        issuer=issuer.issuer,
        audience=issuer.audience,
        algorithms=["ES256"],
    )
    return BearerGuard(verifier, realm="test", dpop=policy)


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with MiniIssuer() as issuer:
        guard = _guard(issuer, DPoPPolicy(algorithms=ALGS))
        servers: dict[str, Any] = {
            "fastapi": UvicornThread(fastapi_app(guard)).start(),
            "starlette": UvicornThread(starlette_app(guard)).start(),
            "flask": WerkzeugThread(flask_app(guard)).start(),
        }
        try:
            yield Env(issuer, {k: s.url for k, s in servers.items()})
        finally:
            for server in servers.values():
                server.stop()


def _get(
    url: str, token: str, proofs: list[str] | None = None, scheme: str = "DPoP"
) -> httpx.Response:
    headers = [("Authorization", f"{scheme} {token}")]
    headers += [("DPoP", p) for p in proofs or []]
    return httpx.get(url, headers=headers, timeout=10)


def _challenge(response: httpx.Response) -> dict[str, str]:
    header = response.headers["www-authenticate"]
    assert header.startswith("DPoP "), header
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', header))


def _refused(response: httpx.Response, error: str, status: int = 401) -> dict[str, str]:
    assert response.status_code == status, (response.status_code, response.text)
    params = _challenge(response)
    assert params["error"] == error, params
    assert params["algs"] == " ".join(ALGS)
    body = response.json()
    assert body.get("error", error) == error and ("error" in body or "detail" in body)
    return params


@pytest.mark.parametrize("server", SERVERS)
def test_dpop_request_accepted_and_a_cached_token_needs_a_fresh_proof(
    env: Env, server: str
) -> None:
    url = env.urls[server] + "/me"
    token = env.bound_token()
    proof = dpop.make_proof(KEY, "GET", url, access_token=token)
    ok = _get(url, token, [proof])
    assert ok.status_code == 200, ok.text
    assert ok.json()["sub"] == "alice"
    # the token is now in the verified-token cache: the same proof again is a replay
    _refused(_get(url, token, [proof]), "invalid_dpop_proof")
    # no proof at all with the cached token: refused too
    _refused(_get(url, token), "invalid_dpop_proof")
    again = _get(url, token, [dpop.make_proof(KEY, "GET", url, access_token=token)])
    assert again.status_code == 200


def _forge(header: dict[str, Any], claims: dict[str, Any], key: jwtkit.Key = KEY) -> str:
    return jwtkit.jws.sign(json.dumps(claims), key, "ES256", encoded_header=_seg(header))


def _claims(url: str, token: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "jti": uuid.uuid4().hex,
        "htm": "GET",
        "htu": url,
        "iat": int(time.time()),
        "ath": dpop.access_token_hash(token),
    }
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


HS_KEY = jwtkit.Key.from_jwk({"kty": "oct", "k": _b64.b64e_str(b"k" * 32)})
BAD_PROOFS: dict[str, Callable[[str, str], list[str]]] = {
    "wrong-htm": lambda u, t: [dpop.make_proof(KEY, "POST", u, access_token=t)],
    "wrong-htu": lambda u, t: [dpop.make_proof(KEY, "GET", u + "/other", access_token=t)],
    "other-host-htu": lambda u, t: [
        dpop.make_proof(KEY, "GET", "https://evil.example/me", access_token=t)
    ],
    "missing-ath": lambda u, t: [dpop.make_proof(KEY, "GET", u)],
    "ath-of-another-token": lambda u, t: [dpop.make_proof(KEY, "GET", u, access_token=t + "x")],
    "stale-iat": lambda u, t: [
        dpop.make_proof(KEY, "GET", u, access_token=t, iat=time.time() - 400)
    ],
    "future-iat": lambda u, t: [
        dpop.make_proof(KEY, "GET", u, access_token=t, iat=time.time() + 60)
    ],
    "another-key": lambda u, t: [dpop.make_proof(OTHER, "GET", u, access_token=t)],
    "alg-none": lambda u, t: [
        f"{_seg({'typ': 'dpop+jwt', 'alg': 'none', 'jwk': _pub()})}.{_seg(_claims(u, t))}."
    ],
    "alg-hs256": lambda u, t: [
        jwtkit.jws.sign(
            json.dumps(_claims(u, t)),
            HS_KEY,
            "HS256",
            encoded_header=_seg({"typ": "dpop+jwt", "alg": "HS256", "jwk": _pub()}),
        )
    ],
    "private-key-in-jwk": lambda u, t: [
        _forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.to_jwk(private=True)}, _claims(u, t))
    ],
    "typ-jwt": lambda u, t: [_forge({"typ": "JWT", "alg": "ES256", "jwk": _pub()}, _claims(u, t))],
    "two-dpop-headers": lambda u, t: [
        dpop.make_proof(KEY, "GET", u, access_token=t),
        dpop.make_proof(KEY, "GET", u, access_token=t),
    ],
    "no-proof": lambda u, t: [],
    "not-a-jws": lambda u, t: ["not-a-proof"],
}


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("case", sorted(BAD_PROOFS))
def test_bad_proof_is_refused(env: Env, server: str, case: str) -> None:
    url = env.urls[server] + "/me"
    token = env.bound_token()
    params = _refused(_get(url, token, BAD_PROOFS[case](url, token)), "invalid_dpop_proof")
    assert "DPoP-Nonce".lower() not in params


@pytest.mark.parametrize("server", SERVERS)
def test_100kb_proof_is_refused_without_a_crash(env: Env, server: str) -> None:
    url = env.urls[server] + "/me"
    token = env.bound_token()
    response = _get(url, token, ["a" * 50_000 + "." + "b" * 50_000 + ".c"])
    assert response.status_code in (400, 401, 431), response.status_code
    if response.status_code == 401:
        _refused(response, "invalid_dpop_proof")


@pytest.mark.parametrize("server", SERVERS)
def test_dpop_bound_token_under_bearer_is_refused(env: Env, server: str) -> None:
    url = env.urls[server] + "/me"
    response = _get(url, env.bound_token(), scheme="Bearer")
    _refused(response, "invalid_token")


@pytest.mark.parametrize("server", SERVERS)
def test_bearer_with_a_proof_is_refused(env: Env, server: str) -> None:
    url = env.urls[server] + "/me"
    token = env.issuer.token()
    proof = dpop.make_proof(KEY, "GET", url, access_token=token)
    response = _get(url, token, [proof], scheme="Bearer")
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("server", SERVERS)
def test_unbound_token_under_dpop_is_refused_and_plain_bearer_still_works(
    env: Env, server: str
) -> None:
    url = env.urls[server] + "/me"
    token = env.issuer.token()
    proof = dpop.make_proof(KEY, "GET", url, access_token=token)
    _refused(_get(url, token, [proof]), "invalid_dpop_proof")
    assert _get(url, token, scheme="Bearer").status_code == 200


@pytest.mark.parametrize("server", SERVERS)
def test_invalid_token_under_dpop_gets_a_dpop_challenge(env: Env, server: str) -> None:
    url = env.urls[server] + "/me"
    token = env.issuer.token(cnf={"jkt": KEY.thumbprint()}, lifetime=-100)
    proof = dpop.make_proof(KEY, "GET", url, access_token=token)
    _refused(_get(url, token, [proof]), "invalid_token")


@pytest.mark.parametrize("server", SERVERS)
def test_no_credentials_offers_both_schemes(env: Env, server: str) -> None:
    response = httpx.get(env.urls[server] + "/me", timeout=10)
    assert response.status_code == 401
    header = response.headers["www-authenticate"]
    assert header.startswith('Bearer realm="test"'), header
    assert f'DPoP realm="test", algs="{" ".join(ALGS)}"' in header


def test_nonce_required_then_retry_succeeds() -> None:
    nonces = dpop.DPoPNonces(b"s" * 32, lifetime=60)
    with MiniIssuer() as issuer:
        guard = _guard(issuer, DPoPPolicy(algorithms=ALGS, nonces=nonces))
        servers = [
            UvicornThread(starlette_app(guard)).start(),
            WerkzeugThread(flask_app(guard)).start(),
        ]
        try:
            for server in servers:
                url = server.url + "/me"
                token = issuer.token(cnf={"jkt": KEY.thumbprint()})
                first = _get(url, token, [dpop.make_proof(KEY, "GET", url, access_token=token)])
                assert _refused(first, "use_dpop_nonce")
                nonce = first.headers["dpop-nonce"]
                assert nonces.check(nonce)
                wrong = dpop.make_proof(KEY, "GET", url, access_token=token, nonce="x" * 32)
                assert _get(url, token, [wrong]).headers.get("dpop-nonce")
                retry = dpop.make_proof(KEY, "GET", url, access_token=token, nonce=nonce)
                assert _get(url, token, [retry]).status_code == 200
        finally:
            for s in servers:
                s.stop()


def test_external_url_behind_a_proxy() -> None:
    with MiniIssuer() as issuer:
        policy = DPoPPolicy(algorithms=ALGS, external_url="https://api.example.com/")
        guard = _guard(issuer, policy)
        servers = [
            UvicornThread(fastapi_app(guard)).start(),
            WerkzeugThread(flask_app(guard)).start(),
        ]
        try:
            for server in servers:
                url = server.url + "/me"
                token = issuer.token(cnf={"jkt": KEY.thumbprint()})
                public = dpop.make_proof(
                    KEY, "GET", "https://API.example.com:443/me?x=1", access_token=token
                )
                assert _get(url, token, [public]).status_code == 200
                local = dpop.make_proof(KEY, "GET", url, access_token=token)
                _refused(_get(url, token, [local]), "invalid_dpop_proof")
        finally:
            for s in servers:
                s.stop()
    with pytest.raises(ValueError):
        DPoPPolicy(external_url="api.example.com")


def test_replay_across_two_instances_sharing_redis() -> None:
    prefix = f"jwtkit-test:{uuid.uuid4().hex}"
    with MiniIssuer() as issuer:
        guards = [
            _guard(
                issuer,
                DPoPPolicy(
                    algorithms=ALGS,
                    replay=RedisReplayCache(connect(REDIS_URL, 0.5), prefix),
                    external_url="https://api.example.com",
                ),
            )
            for _ in range(2)
        ]
        servers = [
            UvicornThread(starlette_app(guards[0])).start(),
            WerkzeugThread(flask_app(guards[1])).start(),
        ]
        try:
            token = issuer.token(cnf={"jkt": KEY.thumbprint()})
            proof = dpop.make_proof(KEY, "GET", "https://api.example.com/me", access_token=token)
            assert _get(servers[0].url + "/me", token, [proof]).status_code == 200
            params = _refused(_get(servers[1].url + "/me", token, [proof]), "invalid_dpop_proof")
            assert "replay" in params["error_description"]
            fresh = dpop.make_proof(KEY, "GET", "https://api.example.com/me", access_token=token)
            assert _get(servers[1].url + "/me", token, [fresh]).status_code == 200
        finally:
            for s in servers:
                s.stop()
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
