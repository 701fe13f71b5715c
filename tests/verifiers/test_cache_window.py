"""Issue 12: the middleware's one-step cache hit (``BearerGuard.cached_principal``, the entry's
time window, the header index) never accepts what the full path refuses.

Each scenario runs the same request through two middlewares sharing one verifier, denylist and
clock: one whose guard caches verified tokens (warmed, so that it answers from the cache) and
one whose guard has no cache (a full verification each time), and requires the same response.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import pytest

import jwtkit
from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, DPoPPolicy, Principal, access_token_verifier
from jwtkit.middleware.asgi import BearerAuth, BearerAuthMiddleware
from jwtkit.revocation import Denylist

from .conftest import FakeClock, MiniIssuer

ISSUER = "https://issuer.test"
AUDIENCE = "https://api.test"
KEY = jwtkit.Key.generate("EC", crv="P-256", alg="ES256")
T0 = 1_700_000_000.0
LEEWAY = 5.0


def _token(**claims: Any) -> str:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "iat": int(T0),
        "exp": int(T0) + 300,
        "jti": "t-1",
        "sid": "s-1",
        "scope": "read write",
        "client_id": "app",
    }
    base.update(claims)
    base = {name: value for name, value in base.items() if value is not None}
    return jwtkit.encode(base, KEY, algorithm="ES256", headers={"typ": "at+jwt"})


class Pair:
    """A caching and a non-caching middleware over one policy, denylist and clock."""

    def __init__(
        self,
        key: Any = None,
        *,
        leeway: float = LEEWAY,
        clock: Any = None,
        scopes: tuple[str, ...] = (),
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        **guard_options: Any,
    ) -> None:
        self.clock = clock if clock is not None else FakeClock(T0)
        self.denylist = Denylist()
        verifier = access_token_verifier(
            KEY.public() if key is None else key,
            issuer=issuer,
            audience=audience,
            algorithms=["ES256"],
            leeway=leeway,
        )
        options: dict[str, Any] = {"denylist": self.denylist, "clock": self.clock}
        options.update(guard_options)
        self.cached = BearerGuard(verifier, **options)
        self.full = BearerGuard(verifier, **{**options, "cache_size": 0})
        self.fast = BearerAuthMiddleware(_inner, guard=self.cached, scopes=scopes)
        self.slow = BearerAuthMiddleware(_inner, guard=self.full, scopes=scopes)

    def same(self, *headers: tuple[bytes, bytes]) -> tuple[Any, ...]:
        """Both middlewares' answer to a request with ``headers``, required to be equal."""
        fast = _call(self.fast, headers)
        slow = _call(self.slow, headers)
        assert fast == slow
        return fast


async def _inner(scope: Any, receive: Any, send: Any) -> None:
    principal = scope["jwtkit"]
    assert isinstance(principal, Principal)
    assert scope["state"]["jwtkit"] is principal
    principal.claims["mutated"] = True  # a handler's change never reaches the cache
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send(
        {
            "type": "http.response.body",
            "body": repr(
                (principal.subject, sorted(principal.scopes), principal.client_id, principal.token)
            ).encode(),
        }
    )


def _call(app: Any, headers: tuple[tuple[bytes, bytes], ...]) -> tuple[Any, ...]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "https",
        "server": ("api.test", 443),
        "root_path": "",
        "path": "/orders",
        "query_string": b"",
        "headers": [(b"host", b"api.test"), *headers],
    }
    asyncio.run(app(scope, receive, send))
    start, body = sent
    return start["status"], sorted(start["headers"]), body["body"]


def _bearer(token: str, scheme: str = "Bearer") -> tuple[bytes, bytes]:
    return (b"authorization", f"{scheme} {token}".encode())


def _warm(pair: Pair, token: str) -> None:
    assert pair.same(_bearer(token))[0] == 200
    assert token in pair.cached._cache


def _hit(pair: Pair, token: str) -> bool:
    return pair.cached.cached_principal(f"Bearer {token}".encode()) is not None


def test_a_hit_answers_as_a_full_verification() -> None:
    pair = Pair()
    token = _token()
    _warm(pair, token)
    assert _hit(pair, token)
    status, _, body = pair.same(_bearer(token))
    assert status == 200 and b"alice" in body
    entry = pair.cached._cache[token]
    assert "mutated" not in entry.claims
    principal = pair.cached.cached_principal(_bearer(token)[1])
    assert principal is not None
    assert principal == pair.full.authenticate(f"Bearer {token}")


@pytest.mark.parametrize(
    "offset",
    [-1.0, -0.002, -0.001, -0.0005, -1e-6, 0.0, 1e-6, 0.5],
)
def test_expiry_at_the_boundary_with_the_leeway(offset: float) -> None:
    pair = Pair()
    token = _token(exp=int(T0) + 60)
    _warm(pair, token)
    pair.clock.now = T0 + 60 + LEEWAY + offset
    status = pair.same(_bearer(token))[0]
    assert status == (200 if offset < 0 else 401)
    pair.clock.now = math.nextafter(T0 + 60 + LEEWAY, -math.inf)  # the last accepted instant
    _warm(pair, token)
    pair.clock.now = T0 + 60 + LEEWAY
    assert pair.same(_bearer(token))[0] == 401
    assert not _hit(pair, token)


def test_a_float_exp_at_the_boundary() -> None:
    pair = Pair(leeway=0.3)
    token = _token(exp=T0 + 60.7)
    _warm(pair, token)
    for now in (T0 + 61.0 - 1e-6, T0 + 61.0, math.nextafter(T0 + 61.0, -math.inf)):
        pair.clock.now = now
        assert pair.same(_bearer(token))[0] == (200 if now - 0.3 < T0 + 60.7 else 401)


def test_nbf_and_iat_in_the_future_when_the_clock_goes_back() -> None:
    cases = (({"nbf": int(T0) + 100}, b"not valid yet"), ({"iat": int(T0) + 100}, b"in the future"))
    for claims, description in cases:
        pair = Pair()
        token = _token(**claims)
        pair.clock.now = T0 + 100 - LEEWAY  # the first instant it is accepted
        _warm(pair, token)
        assert _hit(pair, token)
        pair.clock.now = T0 + 100 - LEEWAY - 0.001  # the clock steps back
        status, headers, _ = pair.same(_bearer(token))
        assert status == 401
        assert description in dict(headers)[b"www-authenticate"]
        pair.clock.now = T0 + 100 - LEEWAY
        assert pair.same(_bearer(token))[0] == 200


@pytest.mark.parametrize("grain", ["jti", "sid", "sub", "sub-later"])
def test_a_revocation_after_caching_takes_effect_at_once(grain: str) -> None:
    pair = Pair()
    token = _token()
    _warm(pair, token)
    if grain == "jti":
        pair.denylist.add_jti("t-1", T0 + 300)
    elif grain == "sid":
        pair.denylist.add_sid("s-1", T0 + 300)
    elif grain == "sub":
        pair.denylist.add_sub("alice", T0 + 1, T0 + 300)  # tokens issued before T0 + 1
    else:
        pair.denylist.add_sub("alice", T0, T0 + 300)  # iat == cutoff: not revoked
    status, headers, _ = pair.same(_bearer(token))
    if grain == "sub-later":
        assert status == 200 and _hit(pair, token)
    else:
        assert status == 401 and b"revoked" in dict(headers)[b"www-authenticate"]
        assert not _hit(pair, token)
        assert token in pair.cached._cache  # refused from the cache, not forgotten


def test_a_denylist_that_cannot_vouch_refuses_hits() -> None:
    pair = Pair()
    token = _token()
    _warm(pair, token)
    pair.denylist.set_deadline("listener", time.monotonic() - 1)
    assert not _hit(pair, token)
    assert pair.same(_bearer(token))[0] == 503
    pair.denylist.set_deadline("listener", math.inf)
    assert _hit(pair, token)


def test_a_denylist_subclass_is_asked_through_its_own_check() -> None:
    class Strict(Denylist):
        def check(self, claims: Any) -> None:
            from jwtkit.errors import RevokedError

            if claims.get("sub") == "alice":
                raise RevokedError("token revoked (policy)")

    pair = Pair()
    token = _token()
    _warm(pair, token)
    pair.cached.denylist = pair.full.denylist = Strict()
    assert not _hit(pair, token)
    assert pair.same(_bearer(token))[0] == 401


def test_a_dpop_bound_token_is_never_accepted_under_bearer() -> None:
    pair = Pair()
    token = _token(cnf={"jkt": KEY.thumbprint()})
    assert pair.same(_bearer(token))[0] == 401  # never cached by a Bearer-only guard
    assert token not in pair.cached._cache
    # Cached by a guard with a DPoP policy (as a DPoP request would), then asked under Bearer.
    pair.cached.dpop = DPoPPolicy()
    principal = pair.cached._finish(jwtkit.decode_unverified(token), token, dpop=True)
    pair.cached._remember(token, principal, KEY.public(), pair.cached._keyset_marker(), T0)
    assert token in pair.cached._cache
    assert pair.cached.cached_principal(_bearer(token)[1]) is None  # a DPoP policy: full path
    pair.cached.dpop = None
    assert pair.cached.cached_principal(_bearer(token)[1]) is None
    status, headers, _ = pair.same(_bearer(token))
    assert status == 401 and b"DPoP-bound" in dict(headers)[b"www-authenticate"]


def test_the_cache_ttl_ends_hits() -> None:
    pair = Pair(cache_ttl=10)
    token = _token()
    _warm(pair, token)
    entry = pair.cached._cache[token]
    pair.clock.now = T0 + 10 - 0.01
    assert _hit(pair, token)
    pair.clock.now = T0 + 10
    assert not _hit(pair, token)
    assert pair.same(_bearer(token))[0] == 200  # verified again, and cached anew
    assert pair.cached._cache[token] is not entry


@pytest.mark.parametrize(
    "value",
    [
        "bearer {t}",
        "BEARER {t}",
        "Bearer  {t}",
        " Bearer {t}",
        "Bearer {t} ",
        "Bearer\t{t}",
        "Bearer {t}x",
        "Bearer {t}=",
        "Bearer",
        "Bearer ",
        "Basic {t}",
        "DPoP {t}",
        "",
    ],
)
def test_every_form_of_the_header_answers_as_the_full_path(value: str) -> None:
    pair = Pair()
    token = _token()
    _warm(pair, token)
    header = value.format(t=token)
    pair.same((b"authorization", header.encode()))
    pair.same((b"authorization", header.encode()))  # warm for this form too
    if header.lower() == f"bearer {token}":
        assert pair.cached.cached_principal(header.encode()) is not None
        assert pair.cached.cached_principal(header) is not None


def test_two_authorization_headers_are_refused() -> None:
    pair = Pair()
    token = _token()
    _warm(pair, token)
    for second in (_bearer(token), (b"authorization", b"Basic x")):
        status, headers, _ = pair.same(_bearer(token), second)
        assert status == 400 and b"invalid_request" in dict(headers)[b"www-authenticate"]


def test_a_missing_scope_is_refused_from_the_cache_too() -> None:
    pair = Pair(scopes=("admin",))
    token = _token()
    assert pair.same(_bearer(token))[0] == 403
    assert token in pair.cached._cache
    status, headers, _ = pair.same(_bearer(token))
    assert status == 403 and b"insufficient_scope" in dict(headers)[b"www-authenticate"]


def test_an_int_or_odd_clock_falls_back_to_the_exact_checks() -> None:
    ticks = iter([int(T0), int(T0) + 1, int(T0) + 2, int(T0) + 400, int(T0) + 400])
    pair = Pair(clock=lambda: next(ticks), cache_size=1024)
    token = _token()
    assert pair.cached.authenticate(f"Bearer {token}").subject == "alice"
    assert pair.cached.cached_principal(f"Bearer {token}") is not None  # int: in the window
    assert pair.cached.authenticate(f"Bearer {token}").subject == "alice"
    assert pair.cached.cached_principal(f"Bearer {token}") is None  # expired
    guard = BearerGuard(pair.cached.verifier, clock=lambda: True)  # type: ignore[arg-type, return-value]
    guard._cache = pair.cached._cache
    assert guard.cached_principal(f"Bearer {token}") is None


def test_cookie_credentials_and_no_cache_skip_the_one_step_hit() -> None:
    pair = Pair()
    token = _token()
    _warm(pair, token)
    pair.cached.cache_size = 0
    assert pair.cached.cached_principal(f"Bearer {token}") is None
    pair.cached.cache_size = 1024
    pair.cached.credentials = "cookie"
    assert pair.cached.cached_principal(f"Bearer {token}") is None
    pair.cached.credentials = "both"
    assert pair.cached.cached_principal(f"Bearer {token}") is not None
    assert pair.cached.cached_principal(None) is None


def test_the_header_index_follows_the_cache() -> None:
    pair = Pair(cache_size=2)
    tokens = [_token(jti=f"t-{i}") for i in range(3)]
    for token in tokens:
        _warm(pair, token)
    assert len(pair.cached._cache) == len(pair.cached._headers) == 2
    assert tokens[0] not in pair.cached._cache and not _hit(pair, tokens[0])
    pair.clock.now = T0 + 400  # both expire: the full path forgets them
    for token in tokens[1:]:
        assert pair.same(_bearer(token))[0] == 401
    assert not pair.cached._cache and not pair.cached._headers


def test_the_dependency_takes_the_one_step_hit_too() -> None:
    from starlette.requests import Request

    pair = Pair()
    token = _token()
    _warm(pair, token)
    auth = BearerAuth(pair.cached)
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [_bearer(token)]}
    principal = asyncio.run(auth(Request(scope)))
    assert principal.subject == "alice" and scope["jwtkit"] is principal
    pair.denylist.add_jti("t-1", T0 + 300)
    from starlette.exceptions import HTTPException

    with pytest.raises(HTTPException) as info:
        asyncio.run(auth(Request({"type": "http", "path": "/", "headers": [_bearer(token)]})))
    assert info.value.status_code == 401


def test_a_replaced_jwk_set_ends_hits(issuer: MiniIssuer, clock: FakeClock) -> None:
    issuer.max_age = 60
    client = JWKSClient(f"{issuer.issuer}/jwks", min_ttl=60, clock=clock)
    wall = FakeClock(time.time())
    pair = Pair(client, clock=wall, issuer=issuer.issuer, audience=issuer.audience)
    token = issuer.token(iat=wall.now)
    _warm(pair, token)
    assert _hit(pair, token)
    issuer.keys = [issuer._new_key()]  # the issuer withdraws the key
    clock.advance(30)
    assert _hit(pair, token)  # its JWK Set is still fresh: accepted, as without the cache
    assert pair.same(_bearer(token))[0] == 200
    clock.advance(31)  # no longer fresh
    assert not _hit(pair, token)
    assert pair.same(_bearer(token))[0] == 401
    assert token not in pair.cached._cache and not pair.cached._headers
