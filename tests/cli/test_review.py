"""Hostile-review regressions for the ``jwtkit`` command line: one test per defect found.

The rule: a bad input gives ONE line on stderr and a documented exit code, never a traceback,
and never a silently changed meaning.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from jwtkit import decode_unverified

from .helpers import NOW, KeyFiles, Run, one_error_line

Invoke = Callable[..., Run]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned(header: bytes, payload: bytes) -> str:
    return f"{_b64(header)}.{_b64(payload)}.AAAA"


@pytest.mark.parametrize("command", ["decode", "encode", "verify"])
@pytest.mark.parametrize("now", ["nan", "inf", "-inf"])
def test_non_finite_now_is_a_usage_error(
    invoke: Invoke, ec: KeyFiles, command: str, now: str
) -> None:
    token = _unsigned(b'{"alg":"ES256"}', b'{"exp":1}')
    args = {
        "decode": ["decode", token],
        "encode": ["encode", "-k", str(ec.private_jwk)],
        "verify": ["verify", token, "-k", str(ec.public_jwk)],
    }[command]
    run = invoke(*args, f"--now={now}")
    assert run.exit_code == 2, run
    one_error_line(run, "usage")


def test_decode_shows_a_huge_integer_time_without_crashing(invoke: Invoke) -> None:
    token = _unsigned(b'{"alg":"ES256"}', b'{"exp":' + b"9" * 400 + b',"iat":1e308}')
    run = invoke("decode", token, "--now", str(NOW))
    assert run.exit_code == 0, run
    assert "9" * 50 in run.stdout
    run = invoke("decode", "--json", token, "--now", str(NOW))
    assert run.exit_code == 0, run
    assert "exp" not in json.loads(run.stdout)["times"]


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_decode_of_a_lone_surrogate_is_malformed(invoke: Invoke, json_flag: list[str]) -> None:
    for token in (
        _unsigned(b'{"alg":"ES256"}', b'{"sub":"\\ud800"}'),
        _unsigned(b'{"alg":"ES256","kid":"\\udfff"}', b"{}"),
        _unsigned(b'{"alg":"RSA-OAEP","enc":"A256GCM","kid":"\\ud800"}', b"x") + ".AA.AA",
    ):
        run = invoke("decode", *json_flag, token)
        assert run.exit_code == 10, run
        one_error_line(run, "malformed")


def test_claims_file_with_duplicate_members_is_refused(
    invoke: Invoke, ec: KeyFiles, tmp_path: Path
) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text('{"sub": "alice", "sub": "mallory"}')
    run = invoke("encode", "-k", str(ec.private_jwk), "--claims-file", str(claims))
    assert run.exit_code == 2, run
    one_error_line(run, "usage")
    assert "duplicate" in run.stderr


def test_deeply_nested_claims_file_is_refused(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    claims = tmp_path / "claims.json"
    claims.write_text('{"a":' + "[" * 100_000 + "]" * 100_000 + "}")
    run = invoke("encode", "-k", str(ec.private_jwk), "--claims-file", str(claims))
    assert run.exit_code == 2, run
    one_error_line(run, "usage")


@pytest.mark.parametrize("option", ["--claim", "--header"])
def test_claim_value_with_duplicate_members_is_refused(
    invoke: Invoke, ec: KeyFiles, option: str
) -> None:
    run = invoke("encode", "-k", str(ec.private_jwk), option, 'a={"x":1,"x":2}')
    assert run.exit_code == 2, run
    one_error_line(run, "usage")


def test_deeply_nested_claim_value_is_refused(invoke: Invoke, ec: KeyFiles) -> None:
    run = invoke("encode", "-k", str(ec.private_jwk), "-c", "a=" + "[" * 50_000 + "]" * 50_000)
    assert run.exit_code == 2, run
    one_error_line(run, "usage")


def test_plain_text_claim_values_still_work(invoke: Invoke, ec: KeyFiles) -> None:
    run = invoke(
        "encode", "-k", str(ec.private_jwk), "-c", "sub=alice", "-c", "n=5", "-c", "x={oops"
    )
    assert run.exit_code == 0, run
    claims = decode_unverified(run.stdout.strip())
    assert claims["sub"] == "alice" and claims["n"] == 5 and claims["x"] == "{oops"


def test_keys_convert_select_on_a_single_key_is_a_usage_error(invoke: Invoke, ec: KeyFiles) -> None:
    run = invoke("keys", "convert", str(ec.private_jwk), "--select", "no-such-kid")
    assert run.exit_code == 2, run
    one_error_line(run, "usage")


def test_encode_header_b64_is_refused(invoke: Invoke, ec: KeyFiles) -> None:
    run = invoke("encode", "-k", str(ec.private_jwk), "--header", "b64=false")
    assert run.exit_code == 10, run
    one_error_line(run, "malformed")


@pytest.mark.parametrize("option", ["--jwks", "--issuer"])
def test_unparseable_url_is_one_line(invoke: Invoke, option: str) -> None:
    token = _unsigned(b'{"alg":"ES256"}', b"{}")
    run = invoke("verify", token, option, "http://[::1")
    assert run.exit_code in (2, 34), run
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_unreachable_jwks_is_exactly_one_stderr_line(script: Callable[..., object]) -> None:
    token = _unsigned(b'{"alg":"ES256","kid":"k"}', b"{}")
    proc = script("verify", token, "--jwks", "http://127.0.0.1:1/jwks.json")
    assert proc.returncode == 34, proc  # type: ignore[attr-defined]
    lines = proc.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("jwtkit: jwks_fetch_failed: "), lines


@pytest.mark.parametrize(
    "args",
    [
        ["decode", "-"],
        ["encode", "-k", "{key}", "--claims-file", "-"],
        ["verify", "{token}", "-k", "-"],
        ["keys", "convert", "-"],
        ["verify", "{token}", "--secret-stdin"],
        ["encode", "-k", "{key}", "--claims-file", "/dev/zero"],
    ],
)
def test_endless_input_is_refused_with_bounded_reads(
    jwtkit_script: Path, ec: KeyFiles, tmp_path: Path, args: list[str]
) -> None:
    token = _unsigned(b'{"alg":"ES256"}', b"{}")
    argv = [a.format(key=ec.private_jwk, token=token) for a in args]
    env = {**os.environ, "NO_COLOR": "1"}
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run(
            [str(jwtkit_script), *argv],
            stdin=zero,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
            check=False,
        )
    # a token on stdin is "too large" (11); a key, claims file or secret is unreadable input (3)
    code, exit_code = ("token_too_large", 11) if argv == ["decode", "-"] else ("io_error", 3)
    assert proc.returncode == exit_code, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"jwtkit: {code}: "), lines


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_decode_escapes_terminal_control_characters(invoke: Invoke, json_flag: list[str]) -> None:
    claims = b'{"sub":"\\u009b2J\\u202eevil\\u2028x Jos\\u00e9"}'
    run = invoke("decode", *json_flag, _unsigned(b'{"alg":"ES256"}', claims))
    assert run.exit_code == 0, run
    for raw in ("\x9b", "\u202e", "\u2028"):
        assert raw not in run.stdout
    assert "\\u009b2J\\u202eevil\\u2028x José" in run.stdout
    if json_flag:
        assert json.loads(run.stdout)["claims"]["sub"] == "\x9b2J\u202eevil\u2028x José"
