"""Issue 15.3: audience, issuer and ``typ`` errors name the expected value and what the token
has, and never put the token's (untrusted) characters on the terminal unescaped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import jwtkit

from .helpers import NOW, KeyFiles, Run, one_error_line

Invoke = Callable[..., Run]
EVIL = "\x1b[2J\x9b31m\u202eevil\u2028"


@pytest.mark.parametrize(
    ("claims", "headers", "options", "code", "expected", "has"),
    [
        (
            {"aud": "http://127.0.0.1:8000"},
            {},
            ["--aud", "api"],
            "invalid_audience",
            "api",
            '"http://127.0.0.1:8000"',
        ),
        (
            {"aud": ["a", "b"]},
            {},
            ["--aud", "c", "--aud", "d"],
            "invalid_audience",
            "c or d",
            '["a", "b"]',
        ),
        ({"aud": EVIL}, {}, ["--aud", "api"], "invalid_audience", "api", None),
        (
            {"iss": "https://a.example"},
            {},
            ["--iss", "https://b.example"],
            "invalid_issuer",
            "https://b.example",
            '"https://a.example"',
        ),
        ({"iss": EVIL}, {}, ["--iss", "x"], "invalid_issuer", "x", None),
        ({}, {"typ": "JWT"}, ["--typ", "at+jwt"], "invalid_typ", "at+jwt", '"JWT"'),
        ({}, {"typ": EVIL}, ["--typ", "at+jwt"], "invalid_typ", "at+jwt", None),
    ],
)
def test_mismatch_names_expected_and_found(
    invoke: Invoke,
    ec: KeyFiles,
    claims: dict[str, Any],
    headers: dict[str, Any],
    options: list[str],
    code: str,
    expected: str,
    has: str | None,
) -> None:
    token = jwtkit.encode({"sub": "a", "iat": NOW, **claims}, ec.key, headers=headers)
    run = invoke("verify", token, "--key", str(ec.public_jwk), "--now", str(NOW), *options)
    one_error_line(run, code)
    assert f"expected {expected}, the token has " in run.stderr
    assert run.stderr.count("expected") == 1, run.stderr  # said once, not the core's and ours
    if has is not None:
        assert run.stderr.rstrip("\n").endswith(has), run.stderr
    else:  # escaped: no control, C1, bidi or line-separator character reaches the terminal
        assert not any(c in run.stderr.rstrip("\n") for c in "\x1b\x9b\u202e\u2028")
        assert "\\u001b" in run.stderr


@pytest.mark.parametrize("option", ["--issuer", "--jwks"])
def test_plain_http_off_loopback_says_allow_http(invoke: Invoke, ec: KeyFiles, option: str) -> None:
    token = jwtkit.encode({"sub": "a", "iat": NOW}, ec.key)
    run = invoke("verify", token, option, "http://issuer.example/x", "--now", str(NOW))
    one_error_line(run, "usage")
    assert "--allow-http" in run.stderr and option in run.stderr, run.stderr
