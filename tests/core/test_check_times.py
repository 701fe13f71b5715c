"""Verifier.check_times (issue 12): the time claims only, exactly as check_claims judges them."""

from __future__ import annotations

from typing import Any

import pytest

import jwtkit
from jwtkit.errors import JWTKitError

NOW = 1_700_000_000.0
KEY = jwtkit.Key.generate("EC", crv="P-256", alg="ES256")


def _verifier(**kwargs: Any) -> jwtkit.Verifier:
    return jwtkit.Verifier(
        KEY.public(), algorithms=["ES256"], issuer="https://i", audience="https://a", **kwargs
    )


def _code(verifier: jwtkit.Verifier, claims: dict[str, Any], now: float) -> str | None:
    try:
        verifier.check_times(claims, now)
    except JWTKitError as exc:
        return exc.code
    return None


@pytest.mark.parametrize(
    ("claims", "now", "code"),
    [
        ({"exp": NOW + 1}, NOW, None),
        ({"exp": NOW}, NOW, "expired"),
        ({"exp": NOW + 1}, NOW + 5, "expired"),
        ({"exp": NOW + 1}, NOW + 5 - 4.5, None),
        ({"nbf": NOW + 1}, NOW, "not_yet_valid"),
        ({"iat": NOW + 1}, NOW, "iat_in_future"),
        ({"exp": "soon"}, NOW, "invalid_claim"),
        ({"exp": None}, NOW, "invalid_claim"),
        ({"iss": "https://elsewhere", "aud": "x", "sub": 7}, NOW, None),  # not its business
        ({}, NOW, None),
    ],
)
def test_check_times_judges_the_time_claims_as_check_claims_does(
    claims: dict[str, Any], now: float, code: str | None
) -> None:
    verifier = _verifier()
    assert _code(verifier, claims, now) == code
    full = {"iss": "https://i", "aud": "https://a", "iat": NOW - 10, **claims}
    if "iss" not in claims:
        try:
            verifier.check_claims(full, now)
            expected = None
        except JWTKitError as exc:
            expected = exc.code
        assert expected == code


def test_check_times_applies_the_leeway_and_the_skip_options() -> None:
    assert _code(_verifier(leeway=10), {"exp": NOW}, NOW + 9) is None
    assert _code(_verifier(leeway=10), {"exp": NOW}, NOW + 10) == "expired"
    assert _code(_verifier(leeway=10), {"nbf": NOW + 10}, NOW) is None
    assert _code(_verifier(options={"verify_exp": False}), {"exp": NOW}, NOW + 99) is None
    assert _code(_verifier(options={"verify_iat": False}), {"iat": NOW + 99}, NOW) is None
    with pytest.raises(ValueError):
        _verifier().check_times({"exp": NOW}, float("nan"))
