"""BearerGuard's verified-token cache never accepts what a full verification would refuse."""

from __future__ import annotations

import time

import pytest

from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import AuthError, BearerGuard, access_token_verifier
from jwtkit.revocation import Denylist

from .conftest import FakeClock, MiniIssuer


def _guard(issuer: MiniIssuer, jwks_clock: FakeClock, wall: FakeClock) -> BearerGuard:
    client = JWKSClient(f"{issuer.issuer}/jwks", min_ttl=60, clock=jwks_clock)
    verifier = access_token_verifier(
        client, issuer=issuer.issuer, audience=issuer.audience, algorithms=["ES256"]
    )
    return BearerGuard(verifier, denylist=Denylist(), clock=wall)


def test_cache_hit_rechecks_expiry(issuer: MiniIssuer, clock: FakeClock) -> None:
    wall = FakeClock(time.time())
    guard = _guard(issuer, clock, wall)
    token = issuer.token(lifetime=300, iat=wall.now)
    assert guard.authenticate(f"Bearer {token}").subject == "alice"
    assert guard.authenticate(f"Bearer {token}").subject == "alice"  # from the cache
    assert len(guard._cache) == 1
    wall.advance(301)
    with pytest.raises(AuthError) as info:
        guard.authenticate(f"Bearer {token}")
    assert info.value.code == "expired"


def test_cache_hit_still_checks_the_denylist(issuer: MiniIssuer, clock: FakeClock) -> None:
    guard = _guard(issuer, clock, FakeClock(time.time()))
    token = issuer.token()
    principal = guard.authenticate(f"Bearer {token}")
    assert guard.denylist is not None
    guard.denylist.add_sid(principal.claims["sid"], principal.claims["exp"])
    with pytest.raises(AuthError) as info:
        guard.authenticate(f"Bearer {token}")
    assert info.value.code == "revoked"


def test_withdrawn_key_stops_verifying_at_the_next_jwks_refresh(
    issuer: MiniIssuer, clock: FakeClock
) -> None:
    issuer.max_age = 60
    guard = _guard(issuer, clock, FakeClock(time.time()))
    token = issuer.token()
    guard.authenticate(f"Bearer {token}")
    issuer.keys = [issuer._new_key()]  # the issuer withdraws the old key
    clock.advance(30)
    guard.authenticate(f"Bearer {token}")  # JWK Set still fresh: accepted, as without cache
    clock.advance(31)
    with pytest.raises(AuthError) as info:
        guard.authenticate(f"Bearer {token}")
    assert info.value.code == "key_not_found"


def test_cache_is_bounded(issuer: MiniIssuer, clock: FakeClock) -> None:
    client = JWKSClient(f"{issuer.issuer}/jwks", clock=clock)
    verifier = access_token_verifier(
        client, issuer=issuer.issuer, audience=issuer.audience, algorithms=["ES256"]
    )
    guard = BearerGuard(verifier, cache_size=3)
    for _ in range(5):
        guard.authenticate(f"Bearer {issuer.token()}")
    assert len(guard._cache) == 3
    off = BearerGuard(verifier, cache_size=0)
    off.authenticate(f"Bearer {issuer.token()}")
    assert not off._cache
