"""parse_form: strict application/x-www-form-urlencoded bodies (RFC 6749 §3.2, Appendix B)."""

from __future__ import annotations

import pytest

from jwtkit.server.oauth import OAuthError, parse_form

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    "content_type",
    [FORM, f"{FORM}; charset=UTF-8", f'{FORM};charset="utf-8"', f"{FORM}; charset=us-ascii"],
)
def test_utf8_forms_are_read(content_type: str) -> None:
    assert parse_form(content_type, b"grant_type=password&username=j%C3%BCrgen") == {
        "grant_type": "password",
        "username": "jürgen",
    }


@pytest.mark.parametrize(
    "content_type",
    [f"{FORM}; charset=latin-1", f"{FORM}; charset=ISO-8859-1", f'{FORM}; charset="utf-16"'],
)
def test_other_charsets_are_refused(content_type: str) -> None:
    with pytest.raises(OAuthError) as exc:
        parse_form(content_type, b"grant_type=password")
    assert exc.value.code == "invalid_request"
    assert "UTF-8" in exc.value.message
