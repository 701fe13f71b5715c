"""Issue 15.4: token arguments that look like options, and opaque tokens.

A base64url string may start with ``-`` (a refresh token from ``secrets.token_urlsafe`` does one
time in 64): ``decode``/``verify`` take it as the token, with or without ``--``. A string with no
``.`` at all is no JWS/JWE compact serialization: it gets "this is not a JWT (an opaque
token?)" and exit 10, never a usage error or a base64 parse error.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

import jwtkit

from .helpers import KeyFiles, Run, one_error_line

Invoke = Callable[..., Run]
OPAQUE = "-" + secrets.token_urlsafe(32)[1:]


@pytest.mark.parametrize(
    "args",
    [
        ("decode", OPAQUE),
        ("decode", "--", OPAQUE),
        ("decode", "--json", OPAQUE),
        ("decode", "usWwzNa4ySbr_y_E7FpuKXUFvqZ-rDWaJmdqHoBxkWI"),
        ("decode", "Bearer usWwzNa4ySbr_y_E7FpuKXUFvqZ"),
        ("verify", OPAQUE, "--key", "KEY"),
        ("verify", "--key", "KEY", "--", OPAQUE),
    ],
)
def test_opaque_tokens_are_named_as_such(
    invoke: Invoke, ec: KeyFiles, args: tuple[str, ...]
) -> None:
    run = invoke(*(str(ec.public_jwk) if a == "KEY" else a for a in args))
    assert run.exit_code == 10, run.stderr
    one_error_line(run, "malformed")
    assert "this is not a JWT (an opaque token?)" in run.stderr


@pytest.mark.parametrize("sep", [(), ("--",)])
def test_dash_tokens_are_tokens_not_options(invoke: Invoke, sep: tuple[str, ...]) -> None:
    run = invoke("decode", *sep, "-abc.def.ghi")
    assert run.exit_code == 10, run.stderr  # a malformed JWS, not "No such option: -a"
    one_error_line(run, "malformed")


def test_a_real_token_after_the_separator(invoke: Invoke, ec: KeyFiles) -> None:
    token = jwtkit.encode({"sub": "alice"}, ec.key)
    run = invoke("decode", "--json", "--", token)
    assert run.exit_code == 0, run.stderr
    assert '"sub": "alice"' in run.stdout
    verified = invoke("verify", "--key", str(ec.public_jwk), "--", token)
    assert verified.exit_code == 0, verified.stderr


def test_unknown_options_are_still_usage_errors(invoke: Invoke) -> None:
    run = invoke("decode", "--bogus", "x.y.z")
    assert run.exit_code == 2
