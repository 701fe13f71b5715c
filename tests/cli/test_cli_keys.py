"""``jwtkit keys generate|convert|thumbprint|jwks`` driven through typer's CliRunner."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

import jwtkit
from jwtkit import Key, KeySet
from jwtkit.cli.keys import PRIVATE_JWK_MEMBERS

from .helpers import KeyFiles, Run, one_error_line

Invoke = Callable[..., Run]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ------------------------------------------------------------------------------------- generate


@pytest.mark.parametrize(
    ("args", "kty", "crv", "size", "alg"),
    [
        ([], "EC", "P-256", 256, None),
        (["--kty", "EC", "--crv", "P-384"], "EC", "P-384", 384, None),
        (["--kty", "ec", "--crv", "secp256k1"], "EC", "secp256k1", 256, None),
        (["--kty", "OKP"], "OKP", "Ed25519", 256, None),
        (["--kty", "OKP", "--crv", "Ed448", "--alg", "EdDSA"], "OKP", "Ed448", 456, "EdDSA"),
        (["--kty", "oct"], "oct", None, 256, None),
        (["--kty", "oct", "--alg", "HS512"], "oct", None, 512, "HS512"),
        (["--kty", "oct", "--bits", "384"], "oct", None, 384, None),
        (["--alg", "ES384"], "EC", "P-384", 384, "ES384"),
        (["--kty", "RSA", "--bits", "2048", "--alg", "PS256"], "RSA", None, 2048, "PS256"),
    ],
)
def test_generate_jwk(
    invoke: Invoke, args: list[str], kty: str, crv: str | None, size: int, alg: str | None
) -> None:
    run = invoke("keys", "generate", *args)
    assert run.exit_code == 0, run.stderr
    jwk = json.loads(run.stdout)
    key = Key.from_jwk(jwk)
    assert (key.kty, key.crv, key.size, key.alg) == (kty, crv, size, alg)
    assert key.is_private
    if kty != "oct":
        assert jwk["kid"] == key.thumbprint()  # default kid: the RFC 7638 thumbprint
        assert "d" in jwk
    else:
        assert "k" in jwk


def test_generate_to_file_is_0600_and_not_overwritten(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "k.jwk"
    run = invoke("keys", "generate", "--kty", "OKP", "--kid", "ed-1", "--out", str(out))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert "kid ed-1" in run.stderr
    assert _mode(out) == 0o600
    first = out.read_text()
    assert Key.from_jwk(first).kid == "ed-1"
    again = invoke("keys", "generate", "--out", str(out))
    assert again.exit_code == 3
    one_error_line(again, "io_error")
    assert out.read_text() == first
    out.chmod(0o644)
    forced = invoke("keys", "generate", "--out", str(out), "--force")
    assert forced.exit_code == 0
    assert out.read_text() != first
    assert _mode(out) == 0o600


def test_generate_pem(invoke: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "ec.pem"
    run = invoke(
        "keys", "generate", "--kty", "EC", "--crv", "P-521", "--format", "pem", "--out", str(out)
    )
    assert run.exit_code == 0, run.stderr
    assert out.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert _mode(out) == 0o600
    key = Key.from_pem(out.read_bytes())
    assert key.crv == "P-521" and key.is_private


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (["--kty", "oct", "--format", "pem"], "usage", 2),
        (["--kty", "RSA", "--crv", "P-256"], "usage", 2),
        (["--kty", "EC", "--bits", "384"], "usage", 2),
        (["--kty", "EC", "--crv", "P-999"], "invalid_key", 30),
        (["--kty", "oct", "--bits", "7"], "invalid_key", 30),
        (["--kty", "EC", "--alg", "RS256"], "key_mismatch", 32),
        (["--alg", "none"], "unsupported_algorithm", 20),
    ],
)
def test_generate_errors(invoke: Invoke, args: list[str], code: str, exit_code: int) -> None:
    run = invoke("keys", "generate", *args)
    assert run.exit_code == exit_code, run.stderr
    one_error_line(run, code)
    assert run.stdout == ""


def test_generate_bad_kty_is_click_usage_error(invoke: Invoke) -> None:
    run = invoke("keys", "generate", "--kty", "DSA")
    assert run.exit_code == 2


# -------------------------------------------------------------------------------------- convert


def test_convert_pem_to_jwk_and_back(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    run = invoke("keys", "convert", str(ec.private_pem))
    assert run.exit_code == 0, run.stderr
    jwk = json.loads(run.stdout)
    assert jwk["d"] == ec.key.to_jwk(private=True)["d"]
    assert jwk["kid"] == ec.key.thumbprint()  # PEM has no kid: the thumbprint is used
    jwk_file = tmp_path / "from-pem.jwk"
    jwk_file.write_text(run.stdout)
    back = invoke("keys", "convert", str(jwk_file))
    assert back.exit_code == 0, back.stderr
    assert back.stdout.encode() == ec.key.to_pem(private=True)


def test_convert_public(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    run = invoke("keys", "convert", str(ec.private_jwk), "--public", "--to", "jwk")
    assert run.exit_code == 0, run.stderr
    jwk = json.loads(run.stdout)
    assert not PRIVATE_JWK_MEMBERS & set(jwk)
    assert jwk == ec.key.public().to_jwk()
    out = tmp_path / "pub.pem"
    run = invoke("keys", "convert", str(ec.private_jwk), "--public", "--out", str(out))
    assert run.exit_code == 0
    assert out.read_bytes() == ec.key.public().to_pem()


def test_convert_private_to_file_is_0600(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    out = tmp_path / "priv.pem"
    run = invoke("keys", "convert", str(ec.private_jwk), "--out", str(out))
    assert run.exit_code == 0, run.stderr
    assert _mode(out) == 0o600


def test_convert_stdin_with_params(invoke: Invoke, rsa: KeyFiles) -> None:
    run = invoke(
        "keys", "convert", "-", "--kid", "mine", "--alg", "PS512", input=rsa.public_pem.read_text()
    )
    assert run.exit_code == 0, run.stderr
    key = Key.from_jwk(run.stdout)
    assert key.kid == "mine" and key.alg == "PS512" and not key.is_private


def test_convert_selects_from_jwk_set(
    invoke: Invoke, ec: KeyFiles, rsa: KeyFiles, tmp_path: Path
) -> None:
    f = tmp_path / "set.json"
    f.write_text(json.dumps({"keys": [ec.key.public().to_jwk(), rsa.key.public().to_jwk()]}))
    run = invoke("keys", "convert", str(f), "--select", "rsa-1")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.encode() == rsa.key.public().to_pem()
    run = invoke("keys", "convert", str(f))
    assert run.exit_code == 33
    one_error_line(run, "key_not_found")


@pytest.mark.parametrize(
    ("jwk", "args", "code", "exit_code"),
    [
        ({"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}, ["--public"], "key_mismatch", 32),
        ({"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}, ["--to", "pem"], "usage", 2),
        ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, [], "invalid_key", 30),
        (None, [], "invalid_key", 30),
    ],
)
def test_convert_errors(
    invoke: Invoke,
    tmp_path: Path,
    jwk: dict[str, str] | None,
    args: list[str],
    code: str,
    exit_code: int,
) -> None:
    f = tmp_path / "in.jwk"
    f.write_text(json.dumps(jwk) if jwk is not None else "not a key at all")
    run = invoke("keys", "convert", str(f), *args)
    assert run.exit_code == exit_code, run.stderr
    one_error_line(run, code)
    # a secret is never echoed in an error
    assert "c2VjcmV0" not in run.stderr and run.stdout == ""


# ----------------------------------------------------------------------------------- thumbprint


def test_thumbprint(invoke: Invoke, ec: KeyFiles) -> None:
    expected = ec.key.thumbprint()
    for path in (ec.private_jwk, ec.public_jwk, ec.private_pem, ec.public_pem):
        run = invoke("keys", "thumbprint", str(path))
        assert run.exit_code == 0, run.stderr
        assert run.stdout == expected + "\n"
    run = invoke("keys", "thumbprint", str(ec.public_pem), "--uri")
    assert run.stdout == f"urn:ietf:params:oauth:jwk-thumbprint:sha-256:{expected}\n"
    run = invoke(
        "keys", "thumbprint", "-", "--hash", "sha512", "--uri", input=ec.public_jwk.read_text()
    )
    assert run.exit_code == 0
    assert run.stdout == ec.key.thumbprint_uri("sha512") + "\n"


def test_thumbprint_rfc7638_example(invoke: Invoke, tmp_path: Path) -> None:
    # RFC 7638 §3.1: the example RSA key and its SHA-256 thumbprint
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
        "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
        "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    f = tmp_path / "rfc.jwk"
    jwk = {"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    f.write_text(json.dumps(jwk))
    run = invoke("keys", "thumbprint", str(f))
    assert run.stdout == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs\n"


def test_thumbprint_of_jwk_set_lists_each_key(
    invoke: Invoke, ec: KeyFiles, rsa: KeyFiles, tmp_path: Path
) -> None:
    f = tmp_path / "set.json"
    f.write_text(json.dumps({"keys": [ec.key.public().to_jwk(), rsa.key.public().to_jwk()]}))
    run = invoke("keys", "thumbprint", str(f))
    assert run.exit_code == 0
    assert run.stdout.splitlines() == [
        f"{ec.key.thumbprint()}\tec-1",
        f"{rsa.key.thumbprint()}\trsa-1",
    ]


def test_thumbprint_errors(invoke: Invoke, tmp_path: Path) -> None:
    run = invoke("keys", "thumbprint", str(tmp_path / "nope.jwk"))
    assert run.exit_code == 3
    one_error_line(run, "io_error")
    run = invoke("keys", "thumbprint", "-", input="")
    assert run.exit_code == 3
    assert invoke("keys", "thumbprint", "x", "--hash", "md5").exit_code == 2


# ----------------------------------------------------------------------------------------- jwks


def test_jwks_from_mixed_files(invoke: Invoke, ec: KeyFiles, rsa: KeyFiles, tmp_path: Path) -> None:
    ed = Key.generate("OKP")  # kid = thumbprint
    set_file = tmp_path / "set.json"
    set_file.write_text(json.dumps({"keys": [ed.to_jwk(private=True)]}))
    bare = Key.generate("EC", crv="P-384")
    bare_pem = tmp_path / "bare.pem"
    bare_pem.write_bytes(bare.to_pem(private=True))
    run = invoke(
        "keys", "jwks", str(ec.private_jwk), str(rsa.private_pem), str(set_file), str(bare_pem)
    )
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert list(doc) == ["keys"]
    for jwk in doc["keys"]:
        assert not PRIVATE_JWK_MEMBERS & set(jwk), jwk
    kids = [jwk["kid"] for jwk in doc["keys"]]
    assert kids == ["ec-1", rsa.key.thumbprint(), ed.kid, bare.thumbprint()]
    keyset = KeySet.from_jwks(run.stdout)
    assert len(keyset) == 4 and not any(k.is_private for k in keyset)
    token = jwtkit.encode({"sub": "x"}, ed)
    assert jwtkit.decode(token, keyset, algorithms=["EdDSA"]) == {"sub": "x"}


def test_jwks_out_file_and_stdin(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    out = tmp_path / "public" / "jwks.json"
    out.parent.mkdir()
    run = invoke("keys", "jwks", "-", "--out", str(out), input=ec.private_pem.read_text())
    assert run.exit_code == 0, run.stderr
    assert json.loads(out.read_text()) == {
        "keys": [ec.key.public().with_params(kid=ec.key.thumbprint()).to_jwk()]
    }
    assert "1 public key" in run.stderr


@pytest.mark.parametrize(
    ("content", "code", "exit_code"),
    [
        ('{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}', "key_mismatch", 32),
        ("dup", "usage", 2),
        ("garbage", "invalid_key", 30),
    ],
)
def test_jwks_errors(
    invoke: Invoke, ec: KeyFiles, tmp_path: Path, content: str, code: str, exit_code: int
) -> None:
    f = tmp_path / "second.jwk"
    f.write_text(ec.public_jwk.read_text() if content == "dup" else content)
    run = invoke("keys", "jwks", str(ec.private_jwk), str(f))
    assert run.exit_code == exit_code, run.stderr
    one_error_line(run, code)
    assert run.stdout == "" and "c2VjcmV0" not in run.stderr


def test_jwks_needs_a_file(invoke: Invoke) -> None:
    assert invoke("keys", "jwks").exit_code == 2
    run = invoke("keys", "jwks", "-", "-", input="x")
    assert run.exit_code == 2


# ---------------------------------------------------------------------------- input edge cases


def test_der_key_files(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    der = tmp_path / "ec.der"
    der.write_bytes(
        ec.key.public().raw.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    run = invoke("keys", "thumbprint", str(der))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == ec.key.thumbprint()
    run = invoke("keys", "convert", str(der))  # DER becomes JWK
    assert run.exit_code == 0
    assert Key.from_jwk(run.stdout).thumbprint() == ec.key.thumbprint()


@pytest.mark.parametrize(
    ("content", "code", "exit_code"),
    [
        (
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "invalid_key",
            30,
        ),
        (b"[1, 2]", "invalid_key", 30),
        (b"{not json", "invalid_key", 30),
        (b'{"keys": []}', "key_not_found", 33),
        (b"\xff\xfe{", "invalid_key", 30),
    ],
)
def test_bad_key_files(
    invoke: Invoke, tmp_path: Path, content: bytes, code: str, exit_code: int
) -> None:
    f = tmp_path / "bad.key"
    f.write_bytes(content)
    run = invoke("keys", "thumbprint", str(f))
    assert run.exit_code == exit_code, run.stderr
    one_error_line(run, code)


def test_convert_option_conflicts(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    run = invoke("keys", "convert", str(ec.private_jwk), "--to", "pem", "--kid", "x")
    assert run.exit_code == 2
    one_error_line(run, "usage")
    f = tmp_path / "set.json"
    f.write_text(json.dumps({"keys": [ec.key.public().to_jwk()]}))
    run = invoke("keys", "convert", str(f), "--select", "nope")
    assert run.exit_code == 33
    one_error_line(run, "key_not_found")
    run = invoke("keys", "convert", str(f), "--to", "jwk")  # the only key of a set
    assert run.exit_code == 0
    assert json.loads(run.stdout) == ec.key.public().to_jwk()
