"""The one-step cache hit (issue 12): more inputs through the Pair harness of
test_cache_window (a caching and a non-caching middleware must answer alike)."""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest

from jwtkit.middleware import BearerGuard, access_token_verifier

from .test_cache_window import AUDIENCE, ISSUER, KEY, LEEWAY, T0, Pair, _bearer, _hit, _token, _warm


@pytest.mark.parametrize(
    "raw",
    [
        b"Bearer {t}\xa0",  # NBSP: str.strip() in parse_bearer removes it (full path accepts)
        b"Bearer {t}\x85",  # NEL: likewise
        b"Bearer \xa0{t}",
        b"\xa0Bearer {t}",
        b"Bearer {t}\x00",
        b"Bearer {t}\r",
        b"Bearer\x0b{t}",
        b"bearer {t}",
        b"BeArEr {t}",
        b"Bearer {t}\xff",
        b"B\xe9arer {t}",
    ],
)
def test_odd_bytes_in_the_header(raw: bytes) -> None:
    pair = Pair()
    token = _token()
    _warm(pair, token)
    header = raw.replace(b"{t}", token.encode())
    pair.same((b"authorization", header))
    pair.same((b"authorization", header))


@pytest.mark.parametrize(
    "headers",
    [
        [(b"Authorization", b"Basic x")],  # not lower case (a non-conforming ASGI server)
        [(b"AUTHORIZATION", b"Bearer x")],
        [(b"authorization", b"")],
        [(b"authorization ", b"Basic x")],
        [(b"authorization", b"Basic x"), (b"authorization", b"Basic y")],
        [(b"x-authorization", b"Basic x")],
    ],
)
def test_other_authorization_headers_next_to_the_token(headers: list[tuple[bytes, bytes]]) -> None:
    pair = Pair()
    token = _token()
    _warm(pair, token)
    pair.same(_bearer(token), *headers)
    pair.same(*headers, _bearer(token))


@pytest.mark.parametrize(
    ("claims", "cutoff"),
    [
        ({"iat": T0 + 0.5}, T0 + 0.5),  # float iat == cutoff: not revoked
        ({"iat": T0 + 0.25}, T0 + 0.5),  # float iat < cutoff: revoked
        ({"iat": None}, T0),  # no iat: a sub revocation voids it
        ({"jti": None, "sid": None}, T0 + 1),
    ],
)
def test_sub_revocations_with_odd_iat(claims: dict[str, Any], cutoff: float) -> None:
    pair = Pair()
    token = _token(**claims)
    pair.clock.now = T0 + 1
    pair.same(_bearer(token))  # (a token without iat is refused: iat is required)
    pair.denylist.add_sub("alice", cutoff, T0 + 300)
    pair.same(_bearer(token))


def test_skipped_time_claims_and_a_huge_leeway() -> None:
    for options in ({"verify_exp": False}, {"verify_iat": False, "verify_nbf": False}):
        verifier = access_token_verifier(
            KEY.public(),
            issuer=ISSUER,
            audience=AUDIENCE,
            algorithms=["ES256"],
            leeway=LEEWAY,
            options=options,
        )
        pair = Pair()
        pair.cached = BearerGuard(verifier, denylist=pair.denylist, clock=pair.clock)
        pair.full = BearerGuard(verifier, denylist=pair.denylist, clock=pair.clock, cache_size=0)
        pair.fast.guard, pair.slow.guard = pair.cached, pair.full
        token = _token(exp=int(T0) + 10, nbf=int(T0) + 5, iat=int(T0) + 3)
        for now in (T0 - 10, T0, T0 + 5, T0 + 15, T0 + 16, T0 + 1e6, T0 - 1):
            pair.clock.now = now
            pair.same(_bearer(token))
            pair.same(_bearer(token))
    pair = Pair(leeway=1e9)
    token = _token(exp=int(T0) + 10)
    for now in (T0, T0 + 1e9, T0 + 1e9 + 10, T0 + 2e9):
        pair.clock.now = now
        pair.same(_bearer(token))
        pair.same(_bearer(token))


@pytest.mark.parametrize(
    "exp", [2**52 - 1, 2**52 + 1, 2**53 + 1, 10**20, 1e300, float(2**52) + 0.5]
)
def test_exp_beyond_float_precision(exp: Any) -> None:
    pair = Pair()
    token = _token(exp=exp)
    for now in (T0, float(2**52) - 10, float(2**52), float(2**53), T0):
        pair.clock.now = now
        pair.same(_bearer(token))
        pair.same(_bearer(token))


def test_eviction_churn_keeps_the_header_index_in_step() -> None:
    pair = Pair(cache_size=2)
    tokens = [_token(jti=f"t-{i}") for i in range(5)]
    for _ in range(3):
        for token in tokens:
            pair.same(_bearer(token))
            assert set(pair.cached._headers) == {e.header for e in pair.cached._cache.values()}
            assert all(pair.cached._headers[e.header] is e for e in pair.cached._cache.values())
    pair.denylist.add_jti("t-4", T0 + 300)
    assert pair.same(_bearer(tokens[4]))[0] == 401


def test_concurrent_misses_of_one_token_and_eviction() -> None:
    """Threads verifying the same tokens at once (double misses, _remember twice) with a tiny
    cache: the header index never keeps an entry the token index has dropped."""
    pair = Pair(cache_size=2)
    tokens = [_token(jti=f"t-{i}") for i in range(4)]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(200):
                pair.cached.authenticate(f"Bearer {tokens[i % 4]}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    cache, headers = pair.cached._cache, pair.cached._headers
    assert {e.header for e in cache.values()} == set(headers)
    assert all(headers[e.header] is e for e in cache.values())
    pair.denylist.add_jti("t-0", T0 + 300)
    assert not _hit(pair, tokens[0])


def test_clock_back_before_the_entry_was_made_and_forward_again() -> None:
    pair = Pair()
    token = _token(iat=int(T0) - 100, nbf=int(T0) - 50)
    _warm(pair, token)
    for now in (T0 - 50 - LEEWAY, T0 - 50 - LEEWAY - 1, T0 - 1e6, T0, math.nextafter(T0, 0)):
        pair.clock.now = now
        pair.same(_bearer(token))
