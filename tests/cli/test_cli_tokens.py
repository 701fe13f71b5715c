"""``jwtkit decode``, ``jwtkit verify`` and ``jwtkit encode`` driven through typer's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jwtkit
from jwtkit import Key

from .helpers import NOW, JWKSServer, KeyFiles, Run, one_error_line

Invoke = Callable[..., Run]
SECRET = "correct horse battery staple, " * 3  # 87 bytes: enough for HS256/384/512


def _token(key: Key, **claims: Any) -> str:
    base: dict[str, Any] = {"sub": "alice", "iat": NOW - 10800, "exp": NOW + 720}
    base.update(claims)
    headers = claims.pop("_headers", None)
    base.pop("_headers", None)
    return jwtkit.encode({k: v for k, v in base.items() if v is not None}, key, headers=headers)


# --------------------------------------------------------------------------------------- decode


def test_decode_shows_header_claims_and_times(invoke: Invoke, ec: KeyFiles) -> None:
    token = _token(ec.key, nbf=NOW - 60)
    run = invoke("decode", token, "--now", str(NOW))
    assert run.exit_code == 0, run.stderr
    out = run.stdout
    assert "UNVERIFIED" in out
    assert '"alg": "ES256"' in out and '"kid": "ec-1"' in out
    assert '"sub": "alice"' in out
    assert "expires in 12 min" in out
    assert "issued 3 h ago" in out
    assert "valid since 60 s ago" in out
    assert "2027-01-15 08:12:00 UTC" in out  # exp as a UTC date
    assert run.stderr == ""


def test_decode_expired_and_not_yet_valid(invoke: Invoke, ec: KeyFiles) -> None:
    token = _token(ec.key, exp=NOW - 3 * 3600, nbf=NOW + 300)
    run = invoke("decode", token, "--now", str(NOW))
    assert run.exit_code == 0
    assert "expired 3 h ago" in run.stdout
    assert "becomes valid in 5 min" in run.stdout


def test_decode_json_for_scripts(invoke: Invoke, ec: KeyFiles) -> None:
    token = _token(ec.key, aud=["a", "b"])
    run = invoke("decode", "--json", token, "--now", str(NOW))
    assert run.exit_code == 0
    doc = json.loads(run.stdout)
    assert doc["verified"] is False
    assert doc["header"]["alg"] == "ES256" and doc["header"]["kid"] == "ec-1"
    assert doc["claims"] == {
        "sub": "alice",
        "iat": NOW - 10800,
        "exp": NOW + 720,
        "aud": ["a", "b"],
    }
    assert doc["times"]["exp"]["relative"] == "expires in 12 min"
    assert doc["times"]["exp"]["seconds_from_now"] == 720
    assert doc["times"]["iat"]["utc"] == "2027-01-15 05:00:00 UTC"


def test_decode_reads_stdin_and_strips_bearer(invoke: Invoke, ec: KeyFiles) -> None:
    token = _token(ec.key)
    run = invoke("decode", "--json", "-", input=f"Bearer {token}\n")
    assert run.exit_code == 0
    assert json.loads(run.stdout)["claims"]["sub"] == "alice"


def test_decode_colours_when_forced(app: Any, ec: KeyFiles) -> None:
    from typer.testing import CliRunner

    runner = CliRunner(env={"FORCE_COLOR": "1", "NO_COLOR": None, "TERM": "xterm-256color"})
    result = runner.invoke(app, ["decode", _token(ec.key)])
    assert result.exit_code == 0
    assert "\x1b[" in result.stdout  # ANSI colour codes


def test_decode_jwe_shows_its_header_only(invoke: Invoke) -> None:
    jwe = "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"
    run = invoke("decode", jwe)
    assert run.exit_code == 0
    assert '"enc": "A256GCM"' in run.stdout and "encrypted token (JWE)" in run.stdout
    doc = json.loads(invoke("decode", jwe, "--json").stdout)
    assert doc["header"] == {"alg": "RSA-OAEP", "enc": "A256GCM"} and doc["claims"] is None


@pytest.mark.parametrize(
    ("args", "stdin", "code", "exit_code"),
    [
        (["not-a-token"], None, "malformed", 10),
        (["a.b.c"], None, "malformed", 10),
        (["-"], "", "io_error", 3),
        (["-"], "   \n", "io_error", 3),
    ],
)
def test_decode_errors_are_one_line(
    invoke: Invoke, args: list[str], stdin: str | None, code: str, exit_code: int
) -> None:
    run = invoke("decode", *args, input=stdin)
    assert run.exit_code == exit_code
    one_error_line(run, code)
    assert run.stdout == ""


# --------------------------------------------------------------------------------------- verify


def test_verify_with_public_pem(invoke: Invoke, ec: KeyFiles) -> None:
    run = invoke("verify", _token(ec.key), "--key", str(ec.public_pem), "--now", str(NOW))
    assert run.exit_code == 0, run.stderr
    assert "VERIFIED" in run.stdout and "UNVERIFIED" not in run.stdout
    assert '"sub": "alice"' in run.stdout
    assert "expires in 12 min" in run.stdout


@pytest.mark.parametrize("form", ["public_jwk", "private_jwk", "private_pem", "jwks"])
def test_verify_key_file_formats(
    invoke: Invoke, ec: KeyFiles, rsa: KeyFiles, tmp_path: Path, form: str
) -> None:
    if form == "jwks":
        path = tmp_path / "set.json"
        path.write_text(json.dumps({"keys": [rsa.key.public().to_jwk(), ec.key.public().to_jwk()]}))
    else:
        path = getattr(ec, form)
    run = invoke("verify", _token(ec.key), "--key", str(path), "--now", str(NOW), "--json")
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["verified"] is True
    assert doc["claims"]["sub"] == "alice"
    assert doc["header"]["kid"] == "ec-1"


def test_verify_rsa_any_rsa_alg_by_default_but_not_other_families(
    invoke: Invoke, rsa: KeyFiles
) -> None:
    ps = jwtkit.encode({"sub": "x"}, rsa.key, algorithm="PS384")
    assert invoke("verify", ps, "--key", str(rsa.public_pem)).exit_code == 0
    run = invoke("verify", ps, "--key", str(rsa.public_pem), "--alg", "RS256")
    assert run.exit_code == 21
    one_error_line(run, "alg_not_allowed")
    assert "allowed here: RS256" in run.stderr


def test_verify_wrong_key_is_invalid_signature(
    invoke: Invoke, ec: KeyFiles, tmp_path: Path
) -> None:
    token = _token(ec.key)
    kid = jwtkit.get_unverified_header(token).get("kid")
    other = tmp_path / "other.jwk"
    # Another key under the token's kid (a key with another kid is key_not_found: issue 13.17).
    other.write_text(json.dumps({**Key.generate("EC").public().to_jwk(), "kid": kid}))
    run = invoke("verify", token, "--key", str(other), "--now", str(NOW))
    assert run.exit_code == 1
    one_error_line(run, "invalid_signature")
    assert run.stdout == ""


# one row per check: extra claims/headers for the token, options, expected code and exit code
CLAIM_CASES = [
    ({"exp": NOW - 10}, [], "expired", 40),
    ({"nbf": NOW + 600}, [], "not_yet_valid", 41),
    ({"iat": NOW + 600}, [], "iat_in_future", 42),
    ({"aud": "web"}, ["--aud", "api"], "invalid_audience", 43),
    ({"iss": "https://evil.example"}, ["--iss", "https://auth.example"], "invalid_issuer", 44),
    ({}, ["--require", "jti"], "missing_claim", 45),
    ({"exp": "tomorrow"}, [], "invalid_claim", 46),
    ({}, ["--typ", "at+jwt"], "invalid_typ", 22),
    ({}, ["--alg", "ES384"], "alg_not_allowed", 21),
]


@pytest.mark.parametrize(("claims", "options", "code", "exit_code"), CLAIM_CASES)
def test_verify_claim_failures_map_to_exit_codes(
    invoke: Invoke,
    ec: KeyFiles,
    claims: dict[str, Any],
    options: list[str],
    code: str,
    exit_code: int,
) -> None:
    token = _token(ec.key, **claims)
    run = invoke("verify", token, "--key", str(ec.public_jwk), "--now", str(NOW), *options)
    assert run.exit_code == exit_code, run.stderr
    one_error_line(run, code)
    assert run.stdout == ""


def test_markup_in_token_values_is_shown_literally(invoke: Invoke, ec: KeyFiles) -> None:
    key = ec.key.with_params(kid="[/][bold]x")
    jwk = ec.public_jwk.parent / "odd.jwk"
    jwk.write_text(json.dumps(key.public().to_jwk()))
    token = _token(key, sub="[red]alice[/]", exp="[/]")
    run = invoke("decode", token)
    assert run.exit_code == 0, run.stderr
    assert '"sub": "[red]alice[/]"' in run.stdout and '"kid": "[/][bold]x"' in run.stdout
    run = invoke("verify", _token(key, sub="[/]"), "--key", str(jwk), "--now", str(NOW))
    assert run.exit_code == 0, run.stderr
    assert "with key [/][bold]x" in run.stdout


def test_verify_checks_that_pass(invoke: Invoke, ec: KeyFiles) -> None:
    token = _token(
        ec.key,
        aud=["web", "api"],
        iss="https://auth.example",
        jti="j1",
        _headers={"typ": "at+jwt"},
    )
    run = invoke(
        "verify",
        token,
        "--key",
        str(ec.public_jwk),
        "--now",
        str(NOW),
        "--aud",
        "api",
        "--aud",
        "other",
        "--iss",
        "https://auth.example",
        "--typ",
        "at+jwt",
        "--require",
        "jti",
        "--sub",
        "alice",
        "--alg",
        "ES256",
    )
    assert run.exit_code == 0, run.stderr


def test_verify_leeway(invoke: Invoke, ec: KeyFiles) -> None:
    token = _token(ec.key, exp=NOW - 30)
    base = ["verify", token, "--key", str(ec.public_jwk), "--now", str(NOW)]
    assert invoke(*base).exit_code == 40
    assert invoke(*base, "--leeway", "60").exit_code == 0
    assert invoke(*base, "--leeway", "-1").exit_code == 2


def test_verify_json_failure_document(invoke: Invoke, ec: KeyFiles) -> None:
    token = _token(ec.key, exp=NOW - 10)
    run = invoke("verify", token, "--key", str(ec.public_jwk), "--now", str(NOW), "--json")
    assert run.exit_code == 40
    doc = json.loads(run.stdout)
    assert doc["verified"] is False and doc["error"] == "expired" and doc["exit_code"] == 40
    one_error_line(run, "expired")


def test_verify_secret_from_stdin_is_never_echoed(invoke: Invoke) -> None:
    token = jwtkit.encode({"sub": "bob"}, Key.from_secret(SECRET), algorithm="HS384")
    run = invoke("verify", token, "--secret-stdin", input=SECRET + "\n")
    assert run.exit_code == 0, run.stderr
    assert '"sub": "bob"' in run.stdout
    bad = invoke("verify", token, "--secret-stdin", input="wrong secret, " * 5 + "\n")
    assert bad.exit_code == 1
    one_error_line(bad, "invalid_signature")
    for r in (run, bad):
        assert SECRET not in r.stdout + r.stderr and "wrong secret" not in r.stdout + r.stderr


def test_verify_secret_never_verifies_asymmetric_token(invoke: Invoke, ec: KeyFiles) -> None:
    # an HMAC secret must not verify an ES256 token (algorithm confusion, RFC 8725 §2.1)
    run = invoke("verify", _token(ec.key), "--secret-stdin", "--now", str(NOW), input=SECRET)
    assert run.exit_code == 21
    one_error_line(run, "alg_not_allowed")
    assert "allowed here: HS256, HS384, HS512 (the key decides without --alg)" in run.stderr


def test_verify_weak_secret(invoke: Invoke) -> None:
    token = jwtkit.encode({"sub": "x"}, Key.from_secret(b"k" * 32), algorithm="HS256")
    run = invoke("verify", token, "--secret-stdin", input="short")
    assert run.exit_code == 31
    one_error_line(run, "weak_key")
    assert "--allow-weak-key" in run.stderr
    weak = invoke("verify", token, "--secret-stdin", "--allow-weak-key", input="short")
    assert weak.exit_code == 1


@pytest.mark.parametrize(
    ("options", "stdin"),
    [
        ([], None),
        (["--key", "a.pem", "--secret-stdin"], "s"),
        (["--jwks", "http://127.0.0.1:1/j", "--issuer", "http://127.0.0.1:1"], None),
    ],
)
def test_verify_usage_errors(invoke: Invoke, options: list[str], stdin: str | None) -> None:
    run = invoke("verify", "a.b.c", *options, input=stdin)
    assert run.exit_code == 2
    one_error_line(run, "usage")


def test_verify_token_and_secret_both_from_stdin_is_usage_error(invoke: Invoke) -> None:
    run = invoke("verify", "-", "--secret-stdin", input="x")
    assert run.exit_code == 2
    one_error_line(run, "usage")
    run = invoke("verify", "-", "--key", "-", input="x")
    assert run.exit_code == 2
    one_error_line(run, "usage")


def test_verify_click_usage_error_exit_code(invoke: Invoke) -> None:
    assert invoke("verify", "a.b.c", "--no-such-option").exit_code == 2
    assert invoke("verify").exit_code == 2


def test_verify_missing_key_file(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    run = invoke("verify", _token(ec.key), "--key", str(tmp_path / "missing.pem"))
    assert run.exit_code == 3
    one_error_line(run, "io_error")
    assert "missing.pem" in run.stderr


def test_verify_key_file_that_is_not_a_key(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello")
    run = invoke("verify", _token(ec.key), "--key", str(junk))
    assert run.exit_code == 30
    one_error_line(run, "invalid_key")


def test_verify_malformed_token(invoke: Invoke, ec: KeyFiles) -> None:
    run = invoke("verify", "eyJ.e30.xx", "--key", str(ec.public_jwk))
    assert run.exit_code == 10
    one_error_line(run, "malformed")


# ---------------------------------------------------------------------- verify: remote JWK Sets


def test_verify_with_jwks_url(
    invoke: Invoke, ec: KeyFiles, rsa: KeyFiles, jwks_server: JWKSServer
) -> None:
    jwks_server.routes["/jwks.json"] = {
        "keys": [rsa.key.public().to_jwk(), ec.key.public().to_jwk()]
    }
    run = invoke("verify", _token(ec.key), "--jwks", jwks_server.jwks_url, "--now", str(NOW))
    assert run.exit_code == 0, run.stderr
    assert '"sub": "alice"' in run.stdout


def test_verify_with_jwks_unknown_kid(
    invoke: Invoke, ec: KeyFiles, rsa: KeyFiles, jwks_server: JWKSServer
) -> None:
    jwks_server.routes["/jwks.json"] = {"keys": [rsa.key.public().to_jwk()]}
    run = invoke("verify", _token(ec.key), "--jwks", jwks_server.jwks_url, "--now", str(NOW))
    assert run.exit_code == 33
    one_error_line(run, "key_not_found")


def test_verify_with_jwks_fetch_failure(
    invoke: Invoke, ec: KeyFiles, jwks_server: JWKSServer
) -> None:
    run = invoke("verify", _token(ec.key), "--jwks", jwks_server.base + "/nothing-here")
    assert run.exit_code == 34
    one_error_line(run, "jwks_fetch_failed")


def test_verify_with_issuer_discovery(
    invoke: Invoke, ec: KeyFiles, jwks_server: JWKSServer
) -> None:
    issuer = jwks_server.base
    jwks_server.routes["/.well-known/openid-configuration"] = {
        "issuer": issuer,
        "jwks_uri": jwks_server.jwks_url,
    }
    jwks_server.routes["/jwks.json"] = {"keys": [ec.key.public().to_jwk()]}
    good = _token(ec.key, iss=issuer)
    run = invoke("verify", good, "--issuer", issuer, "--now", str(NOW), "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["claims"]["iss"] == issuer
    # the iss claim must be the issuer unless --iss says otherwise
    other = _token(ec.key, iss="https://elsewhere.example")
    run = invoke("verify", other, "--issuer", issuer, "--now", str(NOW))
    assert run.exit_code == 44
    one_error_line(run, "invalid_issuer")
    run = invoke(
        "verify", other, "--issuer", issuer, "--now", str(NOW), "--iss", "https://elsewhere.example"
    )
    assert run.exit_code == 0, run.stderr


# --------------------------------------------------------------------------------------- encode


def test_encode_claims_types_and_times(invoke: Invoke, ec: KeyFiles) -> None:
    run = invoke(
        "encode",
        "--key",
        str(ec.private_jwk),
        "--claim",
        "sub=alice",
        "--claim",
        "admin=true",
        "--claim",
        "n=5",
        "--claim",
        'aud=["a","b"]',
        "--claim",
        "id=007",
        "--claim",
        "x=NaN",
        "--claim",
        'q="42"',
        "--claim",
        "eq=a=b",
        "--exp",
        "15m",
        "--nbf",
        "90s",
        "--now",
        str(NOW),
    )
    assert run.exit_code == 0, run.stderr
    token = run.stdout.strip()
    assert run.stdout == token + "\n"
    header = jwtkit.get_unverified_header(token)
    assert header["alg"] == "ES256" and header["kid"] == "ec-1"
    claims = jwtkit.decode(
        token, ec.key.public(), algorithms=["ES256"], audience="a", now=NOW + 100
    )
    assert claims == {
        "sub": "alice",
        "admin": True,
        "n": 5,
        "aud": ["a", "b"],
        "id": "007",
        "x": "NaN",
        "q": "42",
        "eq": "a=b",
        "iat": NOW,
        "exp": NOW + 900,
        "nbf": NOW + 90,
    }


def test_encode_claims_file_and_stdin(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    f = tmp_path / "claims.json"
    f.write_text(json.dumps({"sub": "carol", "iat": 5, "scope": "read"}))
    run = invoke(
        "encode",
        "--key",
        str(ec.private_pem),
        "--claims-file",
        str(f),
        "--claim",
        "scope=write",
        "--alg",
        "ES256",
    )
    assert run.exit_code == 0, run.stderr
    claims = jwtkit.decode_unverified(run.stdout.strip())
    assert claims == {"sub": "carol", "iat": 5, "scope": "write"}
    run = invoke(
        "encode",
        "--key",
        str(ec.private_pem),
        "--claims-file",
        "-",
        "--no-iat",
        input='{"sub": "dave"}',
    )
    assert run.exit_code == 0, run.stderr
    assert jwtkit.decode_unverified(run.stdout.strip()) == {"sub": "dave"}


def test_encode_headers(invoke: Invoke, rsa: KeyFiles) -> None:
    run = invoke(
        "encode",
        "--key",
        str(rsa.private_pem),
        "--alg",
        "PS256",
        "--kid",
        "k9",
        "--typ",
        "at+jwt",
        "--header",
        "x5t=abc",
        "--claim",
        "sub=s",
    )
    assert run.exit_code == 0, run.stderr
    header = jwtkit.get_unverified_header(run.stdout.strip())
    assert header["alg"] == "PS256" and header["kid"] == "k9" and header["typ"] == "at+jwt"
    assert header["x5t"] == "abc"


def test_encode_with_secret_stdin_round_trips_through_verify(invoke: Invoke) -> None:
    run = invoke(
        "encode",
        "--secret-stdin",
        "--alg",
        "HS256",
        "--claim",
        "sub=bob",
        "--exp",
        "2h",
        "--now",
        str(NOW),
        input=SECRET + "\n",
    )
    assert run.exit_code == 0, run.stderr
    token = run.stdout.strip()
    assert SECRET not in run.stdout + run.stderr
    assert (
        jwtkit.decode(token, Key.from_secret(SECRET), algorithms=["HS256"], now=NOW)["exp"]
        == NOW + 7200
    )
    ok = invoke("verify", token, "--secret-stdin", "--now", str(NOW), "--json", input=SECRET)
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["claims"]["sub"] == "bob"


def test_encode_picks_key_from_jwks_file(
    invoke: Invoke, ec: KeyFiles, rsa: KeyFiles, tmp_path: Path
) -> None:
    f = tmp_path / "private-set.json"
    f.write_text(json.dumps({"keys": [ec.key.to_jwk(private=True), rsa.key.to_jwk(private=True)]}))
    run = invoke("encode", "--key", str(f), "--kid", "rsa-1", "--claim", "sub=s")
    assert run.exit_code == 0, run.stderr
    assert jwtkit.get_unverified_header(run.stdout.strip())["alg"] == "RS256"
    run = invoke("encode", "--key", str(f), "--claim", "sub=s")
    assert run.exit_code == 33
    one_error_line(run, "key_not_found")


@pytest.mark.parametrize(
    ("args", "code", "exit_code"),
    [
        (["--claim", "sub=x"], "usage", 2),  # no key source
        (["--key", "{ec}", "--secret-stdin"], "usage", 2),
        (["--key", "{ec}", "--exp", "soon"], "usage", 2),
        (["--key", "{ec}", "--claim", "novalue"], "usage", 2),
        (["--key", "{ec}", "--claim", "=v"], "usage", 2),
        (["--key", "{ec}", "--header", "alg=none"], "usage", 2),
        (["--key", "{ec}", "--claims-file", "{bad_json}"], "usage", 2),
        (["--key", "{ec}", "--claims-file", "{list_json}"], "usage", 2),
        (["--key", "{ec}", "--claims-file", "{missing}"], "io_error", 3),
        (["--key", "{ec_public}"], "key_mismatch", 32),
        (["--key", "{ec}", "--alg", "RS256"], "key_mismatch", 32),
        (["--key", "{ec}", "--alg", "none"], "unsupported_algorithm", 20),
        (["--key", "-", "--claims-file", "-"], "usage", 2),
        (["--secret-stdin", "--claims-file", "-"], "usage", 2),
        (["--secret-stdin", "--alg", "HS512"], "weak_key", 31),
    ],
)
def test_encode_errors(
    invoke: Invoke, ec: KeyFiles, tmp_path: Path, args: list[str], code: str, exit_code: int
) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    names = {
        "ec": str(ec.private_jwk),
        "ec_public": str(ec.public_pem),
        "bad_json": str(tmp_path / "bad.json"),
        "list_json": str(tmp_path / "list.json"),
        "missing": str(tmp_path / "missing.json"),
    }
    run = invoke("encode", *[a.format(**names) for a in args], input="s3cr3t" * 8)
    assert run.exit_code == exit_code, run.stderr
    one_error_line(run, code)
    assert run.stdout == ""


# ---------------------------------------------------------------------------- input edge cases


def test_secret_stdin_edge_cases(invoke: Invoke) -> None:
    token = jwtkit.encode({"sub": "x"}, Key.from_secret(SECRET), algorithm="HS256")
    # a CRLF line end is removed like a LF one
    assert invoke("verify", token, "--secret-stdin", input=SECRET + "\r\n").exit_code == 0
    run = invoke("verify", token, "--secret-stdin", input="\n")
    assert run.exit_code == 3
    one_error_line(run, "io_error")


def test_non_utf8_inputs(invoke: Invoke, ec: KeyFiles, tmp_path: Path) -> None:
    run = invoke("decode", "-", input=b"\xff\xfe\xfd")
    assert run.exit_code == 3
    one_error_line(run, "io_error")
    f = tmp_path / "claims.json"
    f.write_bytes(b'{"sub": "\xff"}')
    run = invoke("encode", "--key", str(ec.private_jwk), "--claims-file", str(f))
    assert run.exit_code == 2
    one_error_line(run, "usage")


def test_empty_token_argument(invoke: Invoke) -> None:
    run = invoke("decode", "  ")
    assert run.exit_code == 2
    one_error_line(run, "usage")


def test_verify_weak_key_json(invoke: Invoke) -> None:
    token = jwtkit.encode({"sub": "x"}, Key.from_secret(b"k" * 32), algorithm="HS256")
    run = invoke("verify", token, "--secret-stdin", "--json", input="short")
    assert run.exit_code == 31
    assert json.loads(run.stdout)["error"] == "weak_key"
