"""Each command once through the installed ``jwtkit`` console script, as a real subprocess."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import jwtkit
from jwtkit import Key

from .helpers import NOW, JWKSServer, KeyFiles

Script = Callable[..., subprocess.CompletedProcess[str]]


def test_script_decode(script: Script, ec: KeyFiles) -> None:
    token = jwtkit.encode({"sub": "alice", "exp": NOW + 720}, ec.key)
    proc = script("decode", "-", "--now", str(NOW), input=token + "\n")
    assert proc.returncode == 0, proc.stderr
    assert "UNVERIFIED" in proc.stdout and "expires in 12 min" in proc.stdout


def test_script_verify_with_jwks_server(
    script: Script, ec: KeyFiles, jwks_server: JWKSServer
) -> None:
    jwks_server.routes["/jwks.json"] = {"keys": [ec.key.public().to_jwk()]}
    token = jwtkit.encode({"sub": "alice", "exp": NOW + 720}, ec.key)
    proc = script("verify", token, "--jwks", jwks_server.jwks_url, "--now", str(NOW), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["claims"] == {"sub": "alice", "exp": NOW + 720}
    late = script("verify", token, "--jwks", jwks_server.jwks_url, "--now", str(NOW + 721))
    assert late.returncode == 40
    assert late.stderr.startswith("jwtkit: expired: ") and late.stderr.count("\n") == 1
    assert late.stdout == ""


def test_script_encode_with_secret_on_stdin(script: Script) -> None:
    secret = "a shared secret that is 32 bytes+"
    proc = script(
        "encode",
        "--secret-stdin",
        "--alg",
        "HS256",
        "--claim",
        "sub=bob",
        "--exp",
        "15m",
        input=secret + "\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert secret not in proc.stdout + proc.stderr
    claims = jwtkit.decode(proc.stdout.strip(), Key.from_secret(secret), algorithms=["HS256"])
    assert claims["sub"] == "bob" and claims["exp"] - claims["iat"] == 900


def test_script_keys_generate(script: Script, tmp_path: Path) -> None:
    out = tmp_path / "ed.jwk"
    proc = script("keys", "generate", "--kty", "OKP", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert Key.from_jwk(out.read_text()).crv == "Ed25519"


def test_script_keys_convert(script: Script, ec: KeyFiles) -> None:
    proc = script("keys", "convert", str(ec.private_jwk), "--public")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.encode() == ec.key.public().to_pem()


def test_script_keys_thumbprint(script: Script, ec: KeyFiles) -> None:
    proc = script("keys", "thumbprint", str(ec.public_pem), "--uri")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ec.key.thumbprint_uri()


def test_script_keys_jwks(script: Script, ec: KeyFiles, rsa: KeyFiles) -> None:
    proc = script("keys", "jwks", str(ec.private_jwk), str(rsa.private_jwk))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [k["kid"] for k in doc["keys"]] == ["ec-1", "rsa-1"]
    assert all("d" not in k for k in doc["keys"])


def test_script_usage_error_and_missing_file(script: Script, tmp_path: Path) -> None:
    proc = script("verify", "a.b.c")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("jwtkit: usage: ")
    proc = script("verify")  # click's own usage error, also one line
    assert proc.returncode == 2
    assert proc.stderr == "jwtkit: usage: Missing argument 'TOKEN'. (see 'jwtkit verify --help')\n"
    proc = script("keys", "thumbprint", str(tmp_path / "missing.pem"))
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
