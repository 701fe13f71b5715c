"""PyJWT compatibility: PyJWT's documented usages run unchanged with ``import jwtkit as jwt``.

Every example of ``pyjwt_examples.py`` runs against PyJWT (installed as a test peer) and against
jwtkit, and both must give the same result. What jwtkit refuses on purpose (an HMAC secret shorter
than the hash, a naive datetime) must fail with a message that says why and what to do.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

import jwtkit
from jwtkit import Key

from ._helpers import forge, rsa_private, serve_json
from .pyjwt_examples import EXAMPLES, Env

_ENC = serialization.Encoding.PEM
_TRADITIONAL = serialization.PrivateFormat.TraditionalOpenSSL
_PKCS8 = serialization.PrivateFormat.PKCS8
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
_NONE = serialization.NoEncryption()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    rsa_key = rsa_private()
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_public_pem = rsa_key.public_key().public_bytes(_ENC, _SPKI)
    jwk = Key.from_cryptography(rsa_key.public_key(), kid="rsa-kid").to_jwk()
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "kid": "rsa-kid"}
    jwks_claims = {
        "iss": "https://issuer.example/",
        "sub": "client@clients",
        "aud": "https://expenses-api",
        "iat": now - 3600,
        "exp": now - 3590,
        "gty": "client-credentials",
    }
    access_token = "opaque-access-token-value"
    digest = hashlib.sha256(access_token.encode()).digest()
    id_claims = {
        "iss": "https://issuer.example/",
        "sub": "alice",
        "aud": "client-1",
        "iat": now,
        "exp": now + 600,
        "at_hash": _b64(digest[:16]),
    }
    with serve_json({"keys": [jwk]}) as jwks_url:
        yield Env(
            secret="s" * 32,
            rsa_private_pem=rsa_key.private_bytes(_ENC, _TRADITIONAL, _NONE),
            rsa_public_pem=rsa_public_pem,
            rsa_private_pem_str=rsa_key.private_bytes(_ENC, _TRADITIONAL, _NONE).decode(),
            rsa_public_pem_str=rsa_public_pem.decode(),
            rsa_encrypted_pem=rsa_key.private_bytes(
                _ENC, _TRADITIONAL, serialization.BestAvailableEncryption(b"abc123")
            ),
            ed25519_private_pem=ed_key.private_bytes(_ENC, _PKCS8, _NONE).decode(),
            ed25519_public_pem=ed_key.public_key().public_bytes(_ENC, _SPKI).decode(),
            ec_private_pem=ec_key.private_bytes(_ENC, _TRADITIONAL, _NONE),
            ec_public_pem=ec_key.public_key().public_bytes(_ENC, _SPKI),
            jwks_url=jwks_url,
            jwks_token=forge(header, jwks_claims, key=rsa_key),
            id_token=forge(header, id_claims, key=rsa_key),
            access_token=access_token,
        )


def outcome(module: ModuleType, name: str, env: Env) -> tuple[str, Any]:
    """Run one example: ("ok", its result) or ("raised", the exception's class name)."""
    try:
        return "ok", EXAMPLES[name](module, env)
    except Exception as exc:  # an example that fails is counted, not fatal
        return "raised", f"{type(exc).__name__}: {exc}"


def working(module: ModuleType, env: Env) -> list[str]:
    """The examples whose result with ``module`` equals PyJWT's."""
    return [name for name in EXAMPLES if outcome(module, name, env) == outcome(pyjwt, name, env)]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_pyjwt_example_runs_unchanged(name: str, env: Env) -> None:
    expected = outcome(pyjwt, name, env)
    assert expected[0] == "ok", expected  # the example is right for PyJWT itself
    assert outcome(jwtkit, name, env) == expected


def test_every_documented_example_works(env: Env) -> None:
    """The count for the closing note: before this change 18 of the 35 gave PyJWT's result."""
    assert working(jwtkit, env) == list(EXAMPLES)


# -- exceptions: PyJWT's names, in jwtkit's one hierarchy --------------------------------------

PYJWT_EXCEPTIONS = sorted(
    name
    for name in dir(pyjwt.exceptions)
    if isinstance(getattr(pyjwt.exceptions, name), type)
    and issubclass(getattr(pyjwt.exceptions, name), Exception)
)


def test_pyjwt_exception_names_exist_in_jwtkit() -> None:
    import jwtkit.exceptions

    assert jwtkit.exceptions.__all__ == PYJWT_EXCEPTIONS == sorted(jwtkit.exceptions.__all__)
    for name in PYJWT_EXCEPTIONS:
        cls = getattr(jwtkit.exceptions, name)
        assert issubclass(cls, jwtkit.JWTKitError), name
        if name in pyjwt.__all__:
            assert getattr(jwtkit, name) is cls, name


@pytest.mark.parametrize("child", PYJWT_EXCEPTIONS)
def test_pyjwt_exception_hierarchy_holds(child: str) -> None:
    """Whatever an ``except`` clause caught in PyJWT, the same clause catches in jwtkit."""
    import jwtkit.exceptions

    for parent in PYJWT_EXCEPTIONS:
        if issubclass(getattr(pyjwt.exceptions, child), getattr(pyjwt.exceptions, parent)):
            assert issubclass(
                getattr(jwtkit.exceptions, child), getattr(jwtkit.exceptions, parent)
            ), (child, parent)


def _raised(module: ModuleType, fn: Any) -> set[str]:
    """The PyJWT exception names whose ``except`` clause catches what ``fn`` raises."""
    try:
        fn(module)
    except Exception as exc:
        return {n for n in PYJWT_EXCEPTIONS if isinstance(exc, getattr(module.exceptions, n))}
    return set()


def _hs(module: ModuleType, claims: dict[str, Any], secret: str = "s" * 32) -> str:
    return module.encode(claims, secret, algorithm="HS256")  # type: ignore[no-any-return]


FAILURES: dict[str, Any] = {
    "expired": lambda m: m.decode(_hs(m, {"exp": 1}), "s" * 32, algorithms=["HS256"]),
    "nbf-future": lambda m: m.decode(_hs(m, {"nbf": 4102444800}), "s" * 32, algorithms=["HS256"]),
    "iat-future": lambda m: m.decode(_hs(m, {"iat": 4102444800}), "s" * 32, algorithms=["HS256"]),
    "iat-not-a-number": lambda m: m.decode(_hs(m, {"iat": "x"}), "s" * 32, algorithms=["HS256"]),
    "bad-audience": lambda m: m.decode(
        _hs(m, {"aud": "a"}), "s" * 32, algorithms=["HS256"], audience="b"
    ),
    "missing-audience": lambda m: m.decode(
        _hs(m, {}), "s" * 32, algorithms=["HS256"], audience="b"
    ),
    "bad-issuer": lambda m: m.decode(
        _hs(m, {"iss": "a"}), "s" * 32, algorithms=["HS256"], issuer="b"
    ),
    "missing-required": lambda m: m.decode(
        _hs(m, {}), "s" * 32, algorithms=["HS256"], options={"require": ["exp"]}
    ),
    "bad-signature": lambda m: m.decode(_hs(m, {}), "t" * 32, algorithms=["HS256"]),
    "alg-not-allowed": lambda m: m.decode(_hs(m, {}), "s" * 32, algorithms=["HS512"]),
    "garbage": lambda m: m.decode("a.b.c", "s" * 32, algorithms=["HS256"]),
    "two-segments": lambda m: m.decode("a.b", "s" * 32, algorithms=["HS256"]),
    "bad-subject": lambda m: m.decode(
        _hs(m, {"sub": "a"}), "s" * 32, algorithms=["HS256"], subject="b"
    ),
}


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_pyjwt_except_clauses_catch_the_same_failures(name: str) -> None:
    expected = _raised(pyjwt, FAILURES[name])
    assert expected, "the case must fail in PyJWT"
    assert _raised(jwtkit, FAILURES[name]) >= expected


# -- options: each disabling option explicit, documented, and as PyJWT reads it ----------------

NOW_S = int(time.time())
OPTION_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # option -> (claims that fail only that check, decode kwargs)
    "verify_exp": ({"exp": NOW_S - 100}, {}),
    "verify_nbf": ({"nbf": NOW_S + 1000}, {}),
    "verify_iat": ({"iat": NOW_S + 1000}, {}),
    "verify_aud": ({"aud": "other"}, {"audience": "mine"}),
    "verify_iss": ({"iss": "other"}, {"issuer": "mine"}),
    "verify_sub": ({"sub": "other"}, {"subject": "mine"}),
    "verify_jti": ({"jti": 5}, {}),
}


@pytest.mark.parametrize("option", sorted(OPTION_CASES))
def test_each_disabling_option_is_explicit_and_as_pyjwt(option: str) -> None:
    claims, kwargs = OPTION_CASES[option]
    for module in (pyjwt, jwtkit):
        token = _hs(module, claims)
        with pytest.raises(module.InvalidTokenError):
            module.decode(token, "s" * 32, algorithms=["HS256"], **kwargs)
        with pytest.raises(module.InvalidTokenError):  # True is the default
            module.decode(token, "s" * 32, algorithms=["HS256"], options={option: True}, **kwargs)
        assert (
            module.decode(token, "s" * 32, algorithms=["HS256"], options={option: False}, **kwargs)
            == claims
        )
        # The other options do not turn this check off.
        others = {name: False for name in OPTION_CASES if name != option}
        with pytest.raises(module.InvalidTokenError):
            module.decode(token, "s" * 32, algorithms=["HS256"], options=others, **kwargs)


def test_verify_signature_false_returns_unverified_claims_as_pyjwt() -> None:
    claims = {"exp": 1, "aud": "x", "iss": "y", "sub": "z", "nbf": 4102444800}
    for module in (pyjwt, jwtkit):
        token = _hs(module, claims, "another secret of thirty-two bytes!")
        options = {"verify_signature": False}
        assert module.decode(token, options=options) == claims
        assert (
            module.decode(
                token,
                "s" * 32,
                algorithms=["HS256"],
                options=options,
                audience="nope",
                issuer="nope",
            )
            == claims
        )
        assert module.decode_complete(token, options=options)["payload"] == claims
        with pytest.raises(module.ExpiredSignatureError):  # asked for explicitly
            module.decode(token, options={"verify_signature": False, "verify_exp": True})
        with pytest.raises(module.MissingRequiredClaimError):  # require still applies
            module.decode(token, options={"verify_signature": False, "require": ["jti"]})


def test_strict_aud_as_pyjwt() -> None:
    for module in (pyjwt, jwtkit):
        listed = _hs(module, {"aud": ["mine"]})
        single = _hs(module, {"aud": "mine"})
        strict = {"strict_aud": True}
        assert module.decode(
            single, "s" * 32, algorithms=["HS256"], audience="mine", options=strict
        ) == {"aud": "mine"}
        with pytest.raises(module.InvalidAudienceError):
            module.decode(listed, "s" * 32, algorithms=["HS256"], audience="mine", options=strict)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"verify_expiration": False}, "unknown decode options"),
        ({"verify_exp": "no"}, "True or False"),
        ({"require": "exp"}, "list of claim names"),
        ([("verify_exp", False)], "must be a dict"),
    ],
)
def test_bad_options_are_refused(options: Any, match: str) -> None:
    token = _hs(jwtkit, {})
    with pytest.raises(TypeError, match=match):
        jwtkit.decode(token, "s" * 32, algorithms=["HS256"], options=options)


# -- what jwtkit refuses on purpose says why and what to do ------------------------------------


def test_short_hmac_secret_is_refused_with_the_reason() -> None:
    with pytest.raises(jwtkit.InvalidKeyError) as info:
        jwtkit.encode({"some": "payload"}, "secret", algorithm="HS256")  # the docs' key
    message = str(info.value)
    assert info.value.code == "weak_key"
    assert "RFC 7518 §3.2" in message and "secrets.token_bytes(32)" in message
    assert "allow_weak_keys=True" in message
    token = pyjwt.encode({"some": "payload"}, "s" * 32, algorithm="HS256")
    with pytest.raises(jwtkit.InvalidKeyError, match="token_bytes"):
        jwtkit.decode(token, "secret", algorithms=["HS256"])


def test_naive_datetime_is_refused_with_the_reason() -> None:
    naive = datetime.datetime(2030, 1, 1)  # noqa: DTZ001 (the case under test)
    with pytest.raises(jwtkit.DecodeError) as info:
        jwtkit.encode({"exp": naive}, "s" * 32)
    message = str(info.value)
    assert "'exp' is a naive datetime" in message
    assert "datetime.now(timezone.utc)" in message


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: jwtkit.decode(t, "s" * 32), "algorithms is required"),
        (lambda t: jwtkit.decode(t, algorithms=["HS256"]), "needs the key"),
        (lambda t: jwtkit.decode(t, "s" * 32, ["HS256"], verify=False), "verify_signature"),
        (
            lambda t: jwtkit.Verifier(
                "s" * 32, algorithms=["HS256"], options={"verify_signature": False}
            ),
            "decode_unverified",
        ),
    ],
)
def test_argument_refusals_say_what_to_do(call: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        call(_hs(jwtkit, {}))


# -- claim errors name the expected value, escaped ---------------------------------------------


@pytest.mark.parametrize(
    ("claims", "kwargs", "expected"),
    [
        ({"aud": "other"}, {"audience": "api"}, "'api'"),
        ({}, {"audience": "api"}, "'api'"),
        ({"aud": "x"}, {"audience": ["b", "a"]}, "['a', 'b']"),
        ({"iss": "other"}, {"issuer": "https://issuer.example"}, "'https://issuer.example'"),
        ({}, {"issuer": "https://issuer.example"}, "'https://issuer.example'"),
        ({"sub": "x"}, {"subject": "alice"}, "'alice'"),
    ],
)
def test_claim_errors_name_the_expected_value(
    claims: dict[str, Any], kwargs: dict[str, Any], expected: str
) -> None:
    with pytest.raises(jwtkit.JWTKitError) as info:
        jwtkit.decode(_hs(jwtkit, claims), "s" * 32, algorithms=["HS256"], **kwargs)
    assert expected in str(info.value)


@pytest.mark.parametrize(
    "hostile", ["\x1b[2J\x1b[31mpwned", "evil\u202egnp.exe", "a\r\nInjected: header", "x" * 2000]
)
def test_untrusted_values_in_errors_are_escaped(hostile: str) -> None:
    token = _hs(jwtkit, {"aud": hostile, "iss": hostile})
    typed = pyjwt.encode({}, "s" * 32, algorithm="HS256", headers={"typ": hostile})
    for call in (
        lambda: jwtkit.decode(token, "s" * 32, algorithms=["HS256"], audience="api"),
        lambda: jwtkit.decode(
            token, "s" * 32, algorithms=["HS256"], issuer="me", options={"verify_aud": False}
        ),
        lambda: jwtkit.decode(typed, "s" * 32, algorithms=["HS256"], typ="at+jwt"),
    ):
        with pytest.raises(jwtkit.JWTKitError) as info:
            call()
        message = str(info.value)
        assert message.isprintable() and len(message) < 600, message
        assert "'at+jwt'" in message or "'api'" in message or "'me'" in message


# -- PyJWKClient over JWKSClient ---------------------------------------------------------------


def test_pyjwkclient_is_lazy_about_httpx() -> None:
    code = (
        "import sys, jwtkit\n"
        "client = jwtkit.PyJWKClient('https://issuer.example/jwks.json')\n"
        "assert 'httpx' not in sys.modules, 'httpx imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "ok"


def test_pyjwkclient_api(env: Env) -> None:
    client = jwtkit.PyJWKClient(env.jwks_url)
    assert [k.key_id for k in client.get_signing_keys()] == ["rsa-kid"]
    assert client.get_jwk_set()["rsa-kid"].key_type == "RSA"
    assert client.fetch_data()["keys"][0]["kid"] == "rsa-kid"
    key = client.get_signing_key("rsa-kid")
    assert key.algorithm_name == "RS256" and key.public_key_use is None
    for kid in ("unknown", None):
        with pytest.raises(jwtkit.PyJWKClientError) as info:
            client.get_signing_key(kid)  # type: ignore[arg-type]
        assert info.value.code == "key_not_found"
    with pytest.raises(KeyError):
        client.get_jwk_set()["unknown"]


def test_pyjwk_objects() -> None:
    private = Key.generate("EC", kid="ec-1")
    jwk = jwtkit.PyJWK(private.to_jwk(private=True))
    assert jwk.key_id == "ec-1" and jwk.algorithm_name == "ES256"
    assert isinstance(jwk.key, ec.EllipticCurvePublicKey)
    assert jwtkit.PyJWK.from_json(json.dumps(private.public().to_jwk()), "ES256").key_id == "ec-1"
    token = jwtkit.encode({"a": 1}, private)
    assert jwtkit.decode(token, jwk, algorithms=["ES256"]) == {"a": 1}
    keyset = jwtkit.PyJWKSet.from_json(json.dumps({"keys": [private.public().to_jwk()]}))
    assert keyset["ec-1"].key_type == "EC"
    with pytest.raises(jwtkit.PyJWKSetError):
        jwtkit.PyJWKSet([])
    with pytest.raises(jwtkit.PyJWKError):
        jwtkit.PyJWK({"kty": "nope"})
    with pytest.raises(NotImplementedError):
        jwtkit.get_algorithm_by_name("EdDSA").compute_hash_digest(b"x")
    with pytest.raises(jwtkit.InvalidAlgorithmError):
        jwtkit.get_algorithm_by_name("none")


def test_encode_takes_pyjwt_argument_shapes() -> None:
    import uuid

    class UUIDEncoder(json.JSONEncoder):
        def default(self, o: Any) -> Any:
            return str(o) if isinstance(o, uuid.UUID) else super().default(o)

    ident = uuid.uuid4()
    for module in (pyjwt, jwtkit):
        token = module.encode({"jti": ident}, b"s" * 32, "HS256", {"kid": "k"}, UUIDEncoder, True)
        assert module.get_unverified_header(token) == {"alg": "HS256", "kid": "k", "typ": "JWT"}
        assert list(module.get_unverified_header(token)) == ["alg", "kid", "typ"]
        assert module.decode(token, b"s" * 32, algorithms=["HS256"]) == {"jti": str(ident)}


def test_docs_table_maps_every_pyjwt_name() -> None:
    from pathlib import Path

    table = (Path(__file__).resolve().parents[2] / "docs" / "pyjwt.md").read_text("utf-8")
    for name in {*pyjwt.__all__, *PYJWT_EXCEPTIONS}:
        assert f"| `{name}`" in table, name
    mkdocs = (Path(__file__).resolve().parents[2] / "mkdocs.yml").read_text("utf-8")
    assert "pyjwt.md" in mkdocs
