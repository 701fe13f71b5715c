"""BearerGuard's verified-token cache never accepts what a full verification would refuse."""

from __future__ import annotations

import asyncio
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
    guard = _guard(issuer, clock, FakeClock(time.time() + 1))  # iat never ahead of it
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
    guard = _guard(issuer, clock, FakeClock(time.time() + 1))  # iat never ahead of it
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


# -- issue 12: the fast hit path keeps every check ---------------------------------------------


def test_keys_served_stale_are_never_cached(issuer: MiniIssuer, clock: FakeClock) -> None:
    """A token verified with a JWK Set that is no longer fresh (the issuer is down, the stale
    copy is served within max_stale) is not remembered: once max_stale passes, the request gets
    the 503 a full verification gives, not a cache hit."""
    client = JWKSClient(f"{issuer.issuer}/jwks", min_ttl=60, max_stale=100, clock=clock)
    verifier = access_token_verifier(
        client, issuer=issuer.issuer, audience=issuer.audience, algorithms=["ES256"]
    )
    guard = BearerGuard(verifier, denylist=Denylist())
    token = issuer.token()
    client.get_keyset()
    issuer.fail_jwks = True
    clock.advance(issuer.max_age + 1)  # stale; the refresh fails
    assert guard.authenticate(f"Bearer {token}").subject == "alice"  # served stale
    assert not guard._cache
    clock.advance(100)  # beyond max_stale
    with pytest.raises(AuthError) as info:
        guard.authenticate(f"Bearer {token}")
    assert info.value.status == 503


def test_a_cache_hit_gives_each_request_its_own_claims(
    issuer: MiniIssuer, clock: FakeClock
) -> None:
    guard = _guard(issuer, clock, FakeClock(time.time() + 1))  # iat never ahead of it
    token = issuer.token(scope="read")
    first = guard.authenticate(f"Bearer {token}")
    first.claims["scope"] = "read admin"  # type: ignore[index]
    first.claims["sub"] = "mallory"  # type: ignore[index]
    second = guard.authenticate(f"Bearer {token}")
    assert len(guard._cache) == 1
    assert second.claims["scope"] == "read" and second.scopes == frozenset({"read"})
    assert second.subject == "alice" and second.claims["sub"] == "alice"
    assert second.claims is not first.claims and second.token == token
    assert second == guard.authenticate(f"Bearer {token}")


@pytest.mark.parametrize("grain", ["jti", "sid", "sub"])
def test_async_cache_hit_checks_every_denylist_grain(
    issuer: MiniIssuer, clock: FakeClock, grain: str
) -> None:
    asyncio.run(_denylist_grain(issuer, clock, grain))


async def _denylist_grain(issuer: MiniIssuer, clock: FakeClock, grain: str) -> None:
    guard = _guard(issuer, clock, FakeClock(time.time() + 1))  # iat never ahead of it
    token = issuer.token()
    principal = await guard.aauthenticate(f"Bearer {token}")
    assert (await guard.aauthenticate(f"Bearer {token}")).subject == "alice"  # a hit
    assert len(guard._cache) == 1
    assert guard.denylist is not None
    claims = principal.claims
    if grain == "jti":
        guard.denylist.add_jti(claims["jti"], claims["exp"])
    elif grain == "sid":
        guard.denylist.add_sid(claims["sid"], claims["exp"])
    else:
        guard.denylist.add_sub(claims["sub"], claims["iat"] + 1, claims["exp"])
    with pytest.raises(AuthError) as info:
        await guard.aauthenticate(f"Bearer {token}")
    assert info.value.code == "revoked"


def test_async_cache_hit_rechecks_expiry_with_the_leeway(
    issuer: MiniIssuer, clock: FakeClock
) -> None:
    asyncio.run(_expiry_with_leeway(issuer, clock))


async def _expiry_with_leeway(issuer: MiniIssuer, clock: FakeClock) -> None:
    wall = FakeClock(time.time())
    client = JWKSClient(f"{issuer.issuer}/jwks", min_ttl=60, clock=clock)
    verifier = access_token_verifier(
        client, issuer=issuer.issuer, audience=issuer.audience, algorithms=["ES256"], leeway=10
    )
    guard = BearerGuard(verifier, denylist=Denylist(), clock=wall, cache_ttl=3600)
    token = issuer.token(lifetime=30, iat=wall.now)
    await guard.aauthenticate(f"Bearer {token}")
    wall.advance(35)  # past exp, within the leeway: still accepted, from the cache
    assert (await guard.aauthenticate(f"Bearer {token}")).subject == "alice"
    assert len(guard._cache) == 1
    wall.advance(10)  # past exp + leeway
    with pytest.raises(AuthError) as info:
        await guard.aauthenticate(f"Bearer {token}")
    assert info.value.code == "expired"
    assert not guard._cache


def test_tokens_a_guard_check_refuses_are_not_cached(issuer: MiniIssuer, clock: FakeClock) -> None:
    """Only tokens the guard accepted are cached: a malformed scope, a non-string sid or a
    revoked token are refused the same way every time."""
    wall = FakeClock(time.time())
    guard = _guard(issuer, clock, wall)
    assert guard.denylist is not None
    # issued at the guard's time: a token issued in the next second would be iat_in_future
    revoked = issuer.token(iat=wall.now)
    guard.denylist.add_jti(guard.verifier.verify(revoked)["jti"], time.time() + 600)
    cases = {
        issuer.token(scope="read\twrite", iat=wall.now): "invalid_claim",
        issuer.token(sid=7, iat=wall.now): "invalid_claim",
        revoked: "revoked",
    }
    for token, code in cases.items():
        for _ in range(2):
            with pytest.raises(AuthError) as info:
                guard.authenticate(f"Bearer {token}")
            assert info.value.code == code
    assert not guard._cache


def test_a_cached_token_is_still_syntax_checked_when_new(
    issuer: MiniIssuer, clock: FakeClock
) -> None:
    guard = _guard(issuer, clock, FakeClock(time.time() + 1))  # iat never ahead of it
    token = issuer.token()
    guard.authenticate(f"Bearer {token}")
    for bad in (
        f"Bearer {token}!",
        f"Bearer {token} x",
        "Bearer  ",
        f"Bearer {token}=="[:-1] + "$",
    ):
        with pytest.raises(AuthError) as info:
            guard.authenticate(bad)
        assert info.value.status == 400
    assert guard.authenticate(f"bearer   {token}  ").subject == "alice"  # as without the cache
