"""Verifier.time_window (issue 12): a window of times in which check_times certainly passes,
so a verified-token cache may compare instead of re-checking; never a time it would refuse."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jwtkit
from jwtkit.errors import JWTKitError

NOW = 1_700_000_000.0
KEY = jwtkit.Key.generate("EC", crv="P-256", alg="ES256")


def _verifier(**kwargs: Any) -> jwtkit.Verifier:
    return jwtkit.Verifier(
        KEY.public(), algorithms=["ES256"], issuer="https://i", audience="https://a", **kwargs
    )


def _passes(verifier: jwtkit.Verifier, claims: dict[str, Any], now: float) -> bool:
    try:
        verifier.check_times(claims, now)
    except JWTKitError:
        return False
    return True


def test_the_window_ends_a_millisecond_inside_exp_plus_leeway_and_at_until() -> None:
    verifier = _verifier(leeway=5)
    claims = {"exp": int(NOW) + 60, "nbf": int(NOW) - 1, "iat": int(NOW)}
    assert verifier.time_window(claims, NOW, NOW + 600) == (NOW, NOW + 65 - 0.001)
    assert verifier.time_window(claims, NOW, NOW + 10) == (NOW, NOW + 10)
    assert verifier.time_window({}, NOW) == (NOW, 2.0**52)  # nothing but the limit bounds it


def test_a_refused_time_raises_as_check_times() -> None:
    with pytest.raises(jwtkit.ExpiredSignatureError):
        _verifier().time_window({"exp": NOW}, NOW)
    with pytest.raises(ValueError):
        _verifier().time_window({"exp": NOW + 1}, math.nan)


def test_skipped_claims_do_not_bound_the_window() -> None:
    verifier = _verifier(options={"verify_exp": False})
    assert verifier.time_window({"exp": NOW - 100}, NOW, NOW + 60) == (NOW, NOW + 60)


def test_odd_values_give_a_safe_window() -> None:
    verifier = _verifier()
    assert verifier.time_window({"exp": 10**400}, NOW, NOW + 60) == (NOW, NOW + 60)
    lo, hi = verifier.time_window({"exp": NOW + 0.0005}, NOW, NOW + 60)
    assert lo == hi  # inside the margin: empty, the exact checks answer
    lo, hi = verifier.time_window({}, -(2.0**53), 0)
    assert lo == hi


@settings(max_examples=400, deadline=None)
@given(
    exp=st.one_of(st.none(), st.integers(-5, 5), st.floats(-5, 5)),
    nbf=st.one_of(st.none(), st.integers(-5, 5), st.floats(-5, 5)),
    iat=st.one_of(st.none(), st.integers(-5, 5), st.floats(-5, 5)),
    leeway=st.sampled_from([0.0, 0.3, 1.0, 5.0]),
    now=st.floats(-3, 3),
    ttl=st.floats(0, 10),
    base=st.sampled_from([0.0, NOW, 4.0e12]),
    probes=st.lists(st.floats(0, 1), max_size=5),
)
def test_every_time_in_the_window_passes_check_times(
    exp: float | None,
    nbf: float | None,
    iat: float | None,
    leeway: float,
    now: float,
    ttl: float,
    base: float,
    probes: list[float],
) -> None:
    verifier = _verifier(leeway=leeway)
    claims = {
        name: (base + value if isinstance(value, float) else int(base) + value)
        for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat))
        if value is not None
    }
    now += base
    if not _passes(verifier, claims, now):
        with pytest.raises(JWTKitError):
            verifier.time_window(claims, now, now + ttl)
        return
    lo, hi = verifier.time_window(claims, now, now + ttl)
    assert lo == now and hi <= now + ttl
    if lo >= hi:
        return
    last = math.nextafter(hi, -math.inf)
    for t in [lo, last, *(lo + p * (hi - lo) for p in probes)]:
        if lo <= t < hi:
            assert _passes(verifier, claims, t), (claims, t)
    for t in range(math.ceil(lo), min(math.ceil(hi), math.ceil(lo) + 3)):  # int times too
        assert _passes(verifier, claims, t), (claims, t)
