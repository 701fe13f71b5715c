"""``jwtkit dpop proof`` (RFC 9449 §4.2): the printed proof verifies for the request it names."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from jwtkit import _b64, dpop

from .helpers import KeyFiles, Run, one_error_line

URL = "https://api.example/me"


def test_proof_verifies_with_ath_and_nonce(invoke: Callable[..., Run], ec: KeyFiles) -> None:
    token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
    run = invoke(
        "dpop",
        "proof",
        "--key",
        str(ec.private_jwk),
        "--htm",
        "get",
        "--htu",
        URL + "?q=1",
        "--ath-of",
        token,
        "--nonce",
        "n-1",
    )
    assert run.exit_code == 0, run.stderr
    result = dpop.verify_proof(run.stdout.strip(), htm="GET", htu=URL, access_token=token)
    assert result.jkt == ec.key.thumbprint()
    assert result.claims["nonce"] == "n-1"
    assert "d" not in result.header["jwk"]


def test_pem_key_without_ath(invoke: Callable[..., Run], rsa: KeyFiles) -> None:
    run = invoke(
        "dpop",
        "proof",
        "--key",
        str(rsa.private_pem),
        "--htm",
        "POST",
        "--htu",
        URL,
        "--alg",
        "PS256",
    )
    assert run.exit_code == 0, run.stderr
    result = dpop.verify_proof(run.stdout.strip(), htm="POST", htu=URL)
    assert result.header["alg"] == "PS256" and "ath" not in result.claims


def test_public_key_is_refused(invoke: Callable[..., Run], ec: KeyFiles) -> None:
    run = invoke("dpop", "proof", "--key", str(ec.public_jwk), "--htm", "GET", "--htu", URL)
    assert run.exit_code == 60
    one_error_line(run, "invalid_dpop_proof")


def test_symmetric_key_is_refused(invoke: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "k.jwk"
    path.write_text(json.dumps({"kty": "oct", "k": _b64.b64e_str(b"k" * 32)}))
    run = invoke("dpop", "proof", "--key", str(path), "--htm", "GET", "--htu", URL)
    assert run.exit_code == 60
    one_error_line(run, "invalid_dpop_proof")
