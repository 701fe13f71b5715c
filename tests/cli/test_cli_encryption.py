"""``jwtkit encrypt`` and ``jwtkit decrypt`` (JWE, RFC 7516) driven through typer's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from jwtkit import Key, jwe

from .helpers import KeyFiles, Run, one_error_line

Invoke = Callable[..., Run]


@pytest.fixture
def plaintext(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_bytes("the eagles are coming – ✓".encode())
    return path


@pytest.mark.parametrize(
    ("alg", "enc"),
    [("ECDH-ES+A256KW", "A256GCM"), ("ECDH-ES", "A128CBC-HS256")],
)
def test_encrypt_then_decrypt_with_ec_keys(
    invoke: Invoke, ec: KeyFiles, plaintext: Path, alg: str, enc: str
) -> None:
    run = invoke("encrypt", str(plaintext), "-k", str(ec.public_jwk), "-a", alg, "-e", enc)
    assert run.exit_code == 0, run.stderr
    token = run.stdout.strip()
    assert token.count(".") == 4
    # The library agrees with the command line.
    assert jwe.decrypt(token, ec.key, [alg], [enc]) == plaintext.read_bytes()
    run = invoke("decrypt", token, "-k", str(ec.private_pem), "-a", alg, "-e", enc)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.encode() == plaintext.read_bytes()


def test_rsa_json_zip_out_file_and_header(
    invoke: Invoke, rsa: KeyFiles, plaintext: Path, tmp_path: Path
) -> None:
    args = ("-a", "RSA-OAEP-256", "-e", "A256GCM")
    run = invoke("encrypt", str(plaintext), "-k", str(rsa.public_pem), *args, "--zip", "--json",
                 "--typ", "secret+jwe", "--cty", "text/plain")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert set(doc) == {"protected", "encrypted_key", "iv", "ciphertext", "tag"}
    out = tmp_path / "out.txt"
    run = invoke("decrypt", "-", "-k", str(rsa.private_jwk), *args, "--zip", "--out", str(out),
                 "--show-header", input=json.dumps(doc))  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert out.read_bytes() == plaintext.read_bytes()
    header = json.loads(run.stderr)
    assert (
        header["zip"] == "DEF" and header["typ"] == "secret+jwe" and header["cty"] == "text/plain"
    )
    assert (out.stat().st_mode & 0o777) == 0o600
    # zip is refused unless --zip
    run = invoke("decrypt", json.dumps(doc), "-k", str(rsa.private_jwk), *args)
    assert run.exit_code == 21
    one_error_line(run, "alg_not_allowed")


def test_password_from_stdin(invoke: Invoke, plaintext: Path) -> None:
    args = ("-a", "PBES2-HS512+A256KW", "-e", "A256GCM")
    run = invoke("encrypt", str(plaintext), "--password-stdin", *args, input="hunter2\n")
    assert run.exit_code == 0, run.stderr
    token = run.stdout.strip()
    assert (
        jwe.decrypt(token, "hunter2", ["PBES2-HS512+A256KW"], ["A256GCM"]) == plaintext.read_bytes()
    )
    run = invoke("decrypt", token, "--password-stdin", *args, input="hunter2")
    assert run.exit_code == 0 and run.stdout.encode() == plaintext.read_bytes()
    run = invoke("decrypt", token, "--password-stdin", *args, input="wrong")
    assert run.exit_code == 13
    one_error_line(run, "decryption_failed")


def test_p2c_over_the_cap_exits_14(invoke: Invoke) -> None:
    token = jwe.encrypt(b"x", "pw", "PBES2-HS256+A128KW", "A128GCM", headers={"p2c": 50000})
    run = invoke("decrypt", token, "--password-stdin", "-a", "PBES2-HS256+A128KW", "-e", "A128GCM",
                 input="pw")  # fmt: skip
    assert run.exit_code == 14
    one_error_line(run, "limit_exceeded")


def test_decrypt_needs_the_allow_lists_and_one_key_source(invoke: Invoke, ec: KeyFiles) -> None:
    token = jwe.encrypt(b"x", ec.key.public(), "ECDH-ES", "A128GCM")
    for args in (
        ("-k", str(ec.private_jwk)),
        ("-k", str(ec.private_jwk), "-a", "ECDH-ES"),
        ("-a", "ECDH-ES", "-e", "A128GCM"),
    ):
        run = invoke("decrypt", token, *args)
        assert run.exit_code == 2
        one_error_line(run, "usage")
    run = invoke("encrypt", "-", "-k", str(ec.public_jwk), input="x")
    assert run.exit_code == 2


def test_decrypt_errors_are_one_line_with_their_exit_code(
    invoke: Invoke, ec: KeyFiles, rsa: KeyFiles
) -> None:
    token = jwe.encrypt(b"x", ec.key.public(), "ECDH-ES", "A128GCM")
    run = invoke("decrypt", token, "-k", str(ec.private_jwk), "-a", "RSA-OAEP", "-e", "A128GCM")
    assert run.exit_code == 21
    one_error_line(run, "alg_not_allowed")
    run = invoke("decrypt", token, "-k", str(rsa.private_jwk), "-a", "ECDH-ES", "-e", "A128GCM")
    assert run.exit_code == 32
    one_error_line(run, "key_mismatch")
    other = Key.generate("EC", crv="P-256")
    tampered = jwe.encrypt(b"x", other.public(), "ECDH-ES", "A128GCM", headers={"kid": None})
    run = invoke("decrypt", tampered, "-k", str(ec.private_jwk), "-a", "ECDH-ES", "-e", "A128GCM")
    assert run.exit_code == 13
    one_error_line(run, "decryption_failed")
    jws = ".".join(token.split(".")[:3])
    run = invoke("decrypt", jws, "-k", str(ec.private_jwk), "-a", "ECDH-ES", "-e", "A128GCM")
    assert run.exit_code == 10
    one_error_line(run, "malformed")


def test_encrypt_to_a_dir_secret_with_the_wrong_size(invoke: Invoke, plaintext: Path) -> None:
    run = invoke("encrypt", str(plaintext), "--password-stdin", "-a", "dir", "-e", "A256GCM",
                 input="sixteen byte key")  # fmt: skip
    assert run.exit_code == 32
    one_error_line(run, "key_mismatch")
