"""jwtkit.ANY_AUDIENCE: an issuer checking its own tokens whatever their audience."""

from __future__ import annotations

import pytest

import jwtkit
from jwtkit.errors import InvalidAudienceError, InvalidClaimError

KEY = jwtkit.Key.generate("EC")
NOW = 1_800_000_000


def _token(**claims: object) -> str:
    return jwtkit.encode({"sub": "u", "exp": NOW + 60, **claims}, KEY)


@pytest.mark.parametrize("aud", ["api", ["a", "b"], []])
def test_any_audience_accepts_any_well_typed_aud(aud: object) -> None:
    claims = jwtkit.decode(_token(aud=aud), KEY, ["ES256"], audience=jwtkit.ANY_AUDIENCE, now=NOW)
    assert claims["aud"] == aud


def test_any_audience_accepts_a_token_without_aud_unless_required() -> None:
    assert jwtkit.decode(_token(), KEY, ["ES256"], audience=jwtkit.ANY_AUDIENCE, now=NOW)
    with pytest.raises(jwtkit.errors.MissingClaimError):
        jwtkit.decode(
            _token(), KEY, ["ES256"], audience=jwtkit.ANY_AUDIENCE, required=["aud"], now=NOW
        )


@pytest.mark.parametrize("aud", [1, ["a", 2], {"a": 1}, None, True])
def test_any_audience_still_checks_the_type(aud: object) -> None:
    with pytest.raises(InvalidClaimError) as exc:
        jwtkit.decode(_token(aud=aud), KEY, ["ES256"], audience=jwtkit.ANY_AUDIENCE, now=NOW)
    assert exc.value.code == "invalid_claim"


def test_without_any_audience_an_unexpected_aud_is_rejected() -> None:
    with pytest.raises(InvalidAudienceError):
        jwtkit.decode(_token(aud="api"), KEY, ["ES256"], now=NOW)
    with pytest.raises(InvalidAudienceError):
        jwtkit.decode(_token(aud=["x", "y"]), KEY, ["ES256"], audience="api", now=NOW)
    assert repr(jwtkit.ANY_AUDIENCE) == "jwtkit.ANY_AUDIENCE"
