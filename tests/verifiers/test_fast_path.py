"""Issue 12: the per-request fast paths (the ASGI adapter reading only ``Authorization`` for a
header-only guard, the verified-token cache's hit path) answer exactly as the full path does,
DPoP included: a cached token's proof is checked on every request, and a DPoP-bound token
stays refused under ``Bearer`` whether or not it is cached (RFC 9449 §7.1, §7.2)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import jwtkit
from jwtkit.dpop import make_proof
from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import (
    AuthError,
    BearerGuard,
    DPoPPolicy,
    Principal,
    RequestFacts,
    access_token_verifier,
)
from jwtkit.middleware.asgi import _authenticate, request_facts
from jwtkit.revocation import Denylist

from .conftest import MiniIssuer

URL = "https://api.test/orders"
KEY = jwtkit.Key.generate("EC", crv="P-256")
OTHER = jwtkit.Key.generate("EC", crv="P-256")


def _guard(issuer: MiniIssuer, **kwargs: Any) -> BearerGuard:
    verifier = access_token_verifier(
        JWKSClient(f"{issuer.issuer}/jwks"),
        issuer=issuer.issuer,
        audience=issuer.audience,
        algorithms=["ES256"],
    )
    return BearerGuard(verifier, denylist=Denylist(), **kwargs)


def _scope(*headers: tuple[bytes, bytes], path: str = "/orders") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "server": ("api.test", 443),
        "root_path": "",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"api.test"), *headers],
    }


def _outcome(run: Any) -> tuple[Any, ...]:
    try:
        principal = asyncio.run(run)
    except AuthError as err:
        return ("error", err.status, err.error, err.code, err.headers)
    assert isinstance(principal, Principal)
    return ("ok", principal.subject, principal.scopes, dict(principal.claims), principal.token)


@pytest.mark.parametrize("cache_size", [0, 1024])
def test_the_header_only_adapter_answers_as_the_full_request_path(
    issuer: MiniIssuer, cache_size: int
) -> None:
    guard = _guard(issuer, cache_size=cache_size)
    token = issuer.token(scope="read write")
    other = issuer.token(aud="https://elsewhere.test")
    cases = [
        (),
        ((b"authorization", f"Bearer {token}".encode()),),
        ((b"authorization", f"bearer  {token} ".encode()),),
        ((b"authorization", f"Bearer {token}".encode()), (b"authorization", b"Bearer x")),
        ((b"authorization", f"Basic {token}".encode()),),
        ((b"authorization", b"Bearer a,b"),),
        ((b"authorization", f"Bearer {other}".encode()),),
        ((b"authorization", f"DPoP {token}".encode()),),
        ((b"authorization", f"Bearer {token}".encode()), (b"cookie", b"__Host-jwtkit-session=s")),
    ]
    seen = set()
    for headers in cases:
        for _ in range(2):  # the second time from the cache, if any
            scope = _scope(*headers)
            fast = _outcome(_authenticate(guard, scope))
            full = _outcome(guard.aauthenticate_request(request_facts(scope)))
            assert fast == full
            seen.add(fast[:3] if fast[0] == "error" else fast[:2])
    assert ("ok", "alice") in seen
    assert {("error", 400, "invalid_request"), ("error", 401, "invalid_token")} <= seen
    assert ("error", 401, None) in seen  # no credential: a bare challenge


def _dpop_facts(token: str, *proofs: str, scheme: str = "DPoP") -> RequestFacts:
    return RequestFacts(
        method="GET", authorization=f"{scheme} {token}", dpop=proofs, url=URL, path="/orders"
    )


def test_a_cached_dpop_token_needs_a_fresh_proof_every_time(issuer: MiniIssuer) -> None:
    guard = _guard(issuer, dpop=DPoPPolicy())
    token = issuer.token(cnf={"jkt": KEY.thumbprint()})
    proof = make_proof(KEY, "GET", URL, access_token=token)
    assert guard.authenticate_request(_dpop_facts(token, proof)).subject == "alice"
    assert len(guard._cache) == 1
    fresh = make_proof(KEY, "GET", URL, access_token=token)
    assert guard.authenticate_request(_dpop_facts(token, fresh)).subject == "alice"  # a hit
    refused = {
        "replayed": _dpop_facts(token, proof),
        "missing": _dpop_facts(token),
        "two proofs": _dpop_facts(
            token,
            make_proof(KEY, "GET", URL, access_token=token),
            make_proof(KEY, "GET", URL, access_token=token),
        ),
        "other key": _dpop_facts(
            token,
            make_proof(jwtkit.Key.generate("EC", crv="P-256"), "GET", URL, access_token=token),
        ),
        "other url": _dpop_facts(token, make_proof(KEY, "GET", URL + "/x", access_token=token)),
        "under Bearer": _dpop_facts(token, scheme="Bearer"),
    }
    for name, facts in refused.items():
        with pytest.raises(AuthError) as info:
            guard.authenticate_request(facts)
        assert info.value.status in (400, 401), name
        assert len(guard._cache) == 1, name  # a cache hit each time, refused all the same
    with pytest.raises(AuthError) as info:  # the guard without a DPoP policy: still refused
        guard.authenticate(f"Bearer {token}")
    assert info.value.code == "dpop_bound_token"


def test_a_dpop_bound_token_is_refused_under_bearer_from_the_cache_too(
    issuer: MiniIssuer,
) -> None:
    guard = _guard(issuer, dpop=DPoPPolicy())
    token = issuer.token(cnf={"jkt": KEY.thumbprint()})
    proof = make_proof(KEY, "GET", URL, access_token=token)
    asyncio.run(guard.aauthenticate_request(_dpop_facts(token, proof)))
    assert token in guard._cache
    for run in (
        lambda: guard.authenticate("Bearer " + token),
        lambda: asyncio.run(guard.aauthenticate("Bearer " + token)),
        lambda: asyncio.run(guard.aauthenticate_request(_dpop_facts(token, scheme="Bearer"))),
    ):
        with pytest.raises(AuthError) as info:
            run()
        assert info.value.code == "dpop_bound_token"
