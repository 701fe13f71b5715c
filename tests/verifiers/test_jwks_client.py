"""JWKSClient against a real local HTTP server whose JWK Set we control."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import jwtkit
from jwtkit.errors import JWKSFetchError, KeyNotFoundError
from jwtkit.jwk import Key
from jwtkit.jwks_client import JWKSClient, metadata_urls, parse_max_age

from .conftest import FakeClock, MiniIssuer, UvicornThread


def _header(token: str) -> dict[str, object]:
    return jwtkit.get_unverified_header(token)


def test_import_jwtkit_does_not_load_httpx() -> None:
    code = (
        "import sys, jwtkit, jwtkit.jwks_client, jwtkit.middleware; "
        "bad = [m for m in ('httpx', 'starlette', 'flask', 'redis') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_parse_max_age() -> None:
    assert parse_max_age("public, max-age=120") == 120
    assert parse_max_age("max-age=120", "20") == 100
    assert parse_max_age("no-store") == 0
    assert parse_max_age("private") is None
    assert parse_max_age(None) is None


def test_metadata_urls_follow_rfc8414_and_oidc() -> None:
    assert metadata_urls("https://a.example/tenant/1") == [
        "https://a.example/.well-known/oauth-authorization-server/tenant/1",
        "https://a.example/tenant/1/.well-known/openid-configuration",
    ]


def test_refuses_non_https_urls() -> None:
    with pytest.raises(JWKSFetchError):
        JWKSClient("http://issuer.example/jwks")
    with pytest.raises(JWKSFetchError):
        JWKSClient("file:///etc/passwd")
    JWKSClient("http://127.0.0.1:1/jwks")  # loopback is fine
    JWKSClient("http://issuer.example/jwks", allow_http=True)


def test_caches_for_max_age(issuer: MiniIssuer, clock: FakeClock) -> None:
    issuer.max_age = 120
    client = JWKSClient(f"{issuer.issuer}/jwks", min_ttl=10, max_ttl=1000, clock=clock)
    header = _header(issuer.token())
    key = client.resolve_key(header)
    assert key.kid == issuer.keys[0].kid
    assert issuer.jwks_hits == 1
    clock.advance(119)
    client.resolve_key(header)
    assert issuer.jwks_hits == 1
    clock.advance(2)
    client.resolve_key(header)
    assert issuer.jwks_hits == 2


@pytest.mark.parametrize(
    ("max_age", "fresh_for", "refetch_after"),
    [(100_000, 590, 601), (0, 25, 31), (None, 40, 51)],
)
def test_max_age_is_clamped(
    issuer: MiniIssuer,
    clock: FakeClock,
    max_age: int | None,
    fresh_for: float,
    refetch_after: float,
) -> None:
    issuer.max_age = max_age
    client = JWKSClient(
        f"{issuer.issuer}/jwks", min_ttl=30, max_ttl=600, default_ttl=50, clock=clock
    )
    client.get_keyset()
    clock.advance(fresh_for)
    client.get_keyset()
    assert issuer.jwks_hits == 1
    clock.advance(refetch_after - fresh_for)
    client.get_keyset()
    assert issuer.jwks_hits == 2


def test_unknown_kid_refetches_with_cooldown(issuer: MiniIssuer, clock: FakeClock) -> None:
    client = JWKSClient(f"{issuer.issuer}/jwks", refetch_cooldown=10, clock=clock)
    client.resolve_key(_header(issuer.token()))
    assert issuer.jwks_hits == 1
    clock.advance(11)
    new = issuer.rotate()
    # A token signed with the rotated-in key: unknown kid -> one refetch -> found.
    token = issuer.token()
    assert client.resolve_key(_header(token)).kid == new.kid
    assert issuer.jwks_hits == 2
    # Forged kids right after: one refetch at most per cooldown.
    forged = {"alg": "ES256", "kid": "no-such-kid"}
    with pytest.raises(KeyNotFoundError):
        client.resolve_key(forged)
    with pytest.raises(KeyNotFoundError):
        client.resolve_key({"alg": "ES256", "kid": "another"})
    assert issuer.jwks_hits == 2
    clock.advance(10.5)
    with pytest.raises(KeyNotFoundError):
        client.resolve_key(forged)
    assert issuer.jwks_hits == 3


def test_single_flight_threads(issuer: MiniIssuer) -> None:
    issuer.jwks_delay = 0.3
    client = JWKSClient(f"{issuer.issuer}/jwks")
    header = _header(issuer.token())
    results: list[str | None] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait(5)
        results.append(client.resolve_key(header).kid)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == [issuer.keys[0].kid] * 8
    assert issuer.jwks_hits == 1


def test_single_flight_async(issuer: MiniIssuer) -> None:
    issuer.jwks_delay = 0.3
    client = JWKSClient(f"{issuer.issuer}/jwks")
    header = _header(issuer.token())

    async def main() -> list[str | None]:
        keys = await asyncio.gather(*(client.aresolve_key(header) for _ in range(10)))
        return [k.kid for k in keys]

    assert asyncio.run(main()) == [issuer.keys[0].kid] * 10
    assert issuer.jwks_hits == 1
    # A second event loop works with the same client (per-loop locks).
    assert asyncio.run(main()) == [issuer.keys[0].kid] * 10


def test_serves_stale_keys_while_issuer_is_down(clock: FakeClock) -> None:
    issuer = MiniIssuer(max_age=60)
    with issuer:
        client = JWKSClient(
            f"{issuer.issuer}/jwks",
            min_ttl=60,
            max_stale=600,
            refetch_cooldown=5,
            clock=clock,
            timeout=2,
        )
        token = issuer.token()
        verifier = jwtkit.Verifier(
            client,
            algorithms=["ES256"],
            issuer=issuer.issuer,
            audience=issuer.audience,
            typ="at+jwt",
        )
        assert verifier.verify(token)["sub"] == "alice"
    # The issuer is stopped now.
    clock.advance(61)
    assert verifier.verify(token)["sub"] == "alice"  # stale but within max_stale
    assert client.fetch_count == 2  # it did try once
    clock.advance(2)
    assert verifier.verify(token)["sub"] == "alice"
    assert client.fetch_count == 2  # cooldown: no retry on every request
    clock.advance(600)
    with pytest.raises(JWKSFetchError):
        verifier.verify(token)


def test_no_keys_and_issuer_down_fails_closed() -> None:
    sock_issuer = MiniIssuer()
    url = f"{sock_issuer.issuer}/jwks"  # never started: connection refused
    client = JWKSClient(url, timeout=1)
    with pytest.raises(JWKSFetchError):
        client.resolve_key({"alg": "ES256", "kid": "x"})
    sock_issuer.server.sock.close()


def test_timeout(issuer: MiniIssuer) -> None:
    issuer.jwks_delay = 1.0
    client = JWKSClient(f"{issuer.issuer}/jwks", timeout=0.2)
    with pytest.raises(JWKSFetchError):
        client.get_keyset()


def test_http_error_status_is_a_fetch_error(issuer: MiniIssuer) -> None:
    issuer.fail_jwks = True
    with pytest.raises(JWKSFetchError):
        JWKSClient(f"{issuer.issuer}/jwks").get_keyset()


def _static_server(routes: dict[str, tuple[int, object]]) -> UvicornThread:
    async def handler(request: Request) -> Response:
        status, body = routes.get(request.url.path, (404, {"error": "not found"}))
        if isinstance(body, bytes):
            return Response(body, status_code=status)
        return JSONResponse(body, status_code=status)

    app = Starlette(routes=[Route("/{path:path}", handler)])
    return UvicornThread(app)


def test_bad_documents_are_fetch_errors() -> None:
    good = Key.generate("EC").public().to_jwk()
    server_routes = {
        "/notjson": (200, b"<html>"),
        "/nokeys": (200, {"foo": []}),
        "/mixed": (200, {"keys": [{"kty": "weird"}, {"kty": "EC", "use": "enc", **good}, good]}),
    }
    server = _static_server(server_routes)
    base = server.url
    server.start()
    try:
        for path in ("/notjson", "/nokeys"):
            with pytest.raises(JWKSFetchError):
                JWKSClient(base + path).get_keyset()
        keyset = JWKSClient(base + "/mixed").get_keyset()
        assert [k.kid for k in keyset] == [good["kid"]]  # unknown kty and enc key skipped
    finally:
        server.stop()


def test_discovery_rfc8414_and_issuer_check(issuer: MiniIssuer) -> None:
    client = JWKSClient.from_issuer(issuer.issuer)
    verifier = jwtkit.Verifier(
        client, algorithms=["ES256"], issuer=issuer.issuer, audience=issuer.audience
    )
    assert verifier.verify(issuer.token())["sub"] == "alice"
    assert client.jwks_uri == f"{issuer.issuer}/jwks"
    # The metadata says another issuer: refused (RFC 8414 §3.3).
    bad = JWKSClient.from_issuer(issuer.issuer + "/other")
    with pytest.raises(JWKSFetchError):
        bad.get_keyset()


def test_discovery_falls_back_to_openid_configuration(issuer: MiniIssuer) -> None:
    routes: dict[str, tuple[int, object]] = {}
    server = _static_server(routes)
    routes["/t/.well-known/openid-configuration"] = (
        200,
        {"issuer": server.url + "/t", "jwks_uri": f"{issuer.issuer}/jwks"},
    )
    server.start()
    try:
        client = JWKSClient.from_issuer(server.url + "/t")

        async def main() -> str | None:
            return (await client.aresolve_key(_header(issuer.token()))).kid

        assert asyncio.run(main()) == issuer.keys[0].kid
    finally:
        server.stop()


def test_never_fetches_jku_or_x5u(issuer: MiniIssuer) -> None:
    attacker_key = Key.generate("EC", alg="ES256", kid="attacker")
    routes = {"/jwks": (200, {"keys": [attacker_key.public().to_jwk()]})}
    attacker = _static_server(routes)
    attacker.start()
    hits_before = issuer.jwks_hits
    try:
        token = jwtkit.encode(
            {"iss": issuer.issuer, "sub": "mallory", "aud": issuer.audience, "exp": 2**31},
            attacker_key,
            algorithm="ES256",
            headers={"jku": attacker.url + "/jwks", "x5u": attacker.url + "/jwks"},
        )
        client = JWKSClient(f"{issuer.issuer}/jwks")
        verifier = jwtkit.Verifier(
            client, algorithms=["ES256"], issuer=issuer.issuer, audience=issuer.audience
        )
        with pytest.raises(KeyNotFoundError):
            verifier.verify(token)
        assert issuer.jwks_hits > hits_before  # asked our issuer, never the token's URL
    finally:
        attacker.stop()


@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_accepts_rfc9864_ed25519_name(alg: str) -> None:
    with MiniIssuer(alg) as iss:
        assert iss.jwks()["keys"][0]["alg"] == alg
        client = JWKSClient(f"{iss.issuer}/jwks")
        verifier = jwtkit.Verifier(
            client, algorithms=[alg], issuer=iss.issuer, audience=iss.audience, typ="at+jwt"
        )
        assert verifier.verify(iss.token())["sub"] == "alice"
        assert asyncio.run(verifier.averify(iss.token()))["sub"] == "alice"


def test_response_size_is_capped() -> None:
    big = {"keys": [Key.generate("EC").public().to_jwk() for _ in range(50)]}
    server = _static_server({"/big": (200, big)})
    server.start()
    try:
        with pytest.raises(JWKSFetchError):
            JWKSClient(server.url + "/big", max_response_bytes=1000).get_keyset()

        async def main() -> None:
            await JWKSClient(server.url + "/big", max_response_bytes=1000).aget_keyset()

        with pytest.raises(JWKSFetchError):
            asyncio.run(main())
        assert len(JWKSClient(server.url + "/big").get_keyset()) == 50
    finally:
        server.stop()


def test_user_supplied_http_clients(issuer: MiniIssuer) -> None:
    import httpx

    header = _header(issuer.token())
    with httpx.Client(timeout=5) as http:
        client = JWKSClient(f"{issuer.issuer}/jwks", http_client=http)
        assert client.resolve_key(header).kid == issuer.keys[0].kid

    async def main() -> str | None:
        async with httpx.AsyncClient(timeout=5) as http:
            client = JWKSClient(f"{issuer.issuer}/jwks", async_http_client=http)
            return (await client.aresolve_key(header)).kid

    assert asyncio.run(main()) == issuer.keys[0].kid


@pytest.mark.parametrize(("key_alg", "token_alg"), [("EdDSA", "Ed25519"), ("Ed25519", "EdDSA")])
def test_ed25519_and_eddsa_names_interchange(key_alg: str, token_alg: str) -> None:
    with MiniIssuer(key_alg) as iss:
        client = JWKSClient(f"{iss.issuer}/jwks")
        claims = {"iss": iss.issuer, "aud": iss.audience, "sub": "x", "exp": 2**31}
        token = jwtkit.encode(claims, iss.keys[0], algorithm=token_alg)
        verifier = jwtkit.Verifier(
            client, algorithms=[token_alg], issuer=iss.issuer, audience=iss.audience
        )
        assert verifier.verify(token)["sub"] == "x"
