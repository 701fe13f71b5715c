"""JWE (RFC 7516) API: every alg x enc pair round-trips, JSON serializations, key selection,
and JWT integration (encrypted and nested JWTs, RFC 7519 §5.2, §11.2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import jwtkit
from jwtkit import Key, KeySet, jwe
from jwtkit.errors import JWTKitError
from jwtkit.jwa import CONTENT_ENCRYPTION, KEY_MANAGEMENT

from ._helpers import AUD, CLAIMS, ISS, NOW, b64u, unb64u
from ._jwe_helpers import JWEKeys, make_keys

ENCS = sorted(CONTENT_ENCRYPTION)


@pytest.fixture(scope="module")
def jk() -> JWEKeys:
    return make_keys()


def _pair(jk: JWEKeys, alg: str, enc: str) -> tuple[Any, Key]:
    """(encryption key, decryption key) for an alg/enc pair."""
    family = KEY_MANAGEMENT[alg].family
    if family == "RSA-OAEP":
        return jk.rsa.public(), jk.rsa
    if family in ("AESKW", "AESGCMKW"):
        key = Key.from_secret(bytes(range(KEY_MANAGEMENT[alg].kek_bits // 8)))
        return key, key
    if family == "dir":
        key = Key.from_secret(bytes(range(CONTENT_ENCRYPTION[enc].cek_bytes)))
        return key, key
    if family == "PBES2":
        return jk.password, jk.password
    return jk.p256.public(), jk.p256


PAIRS = [(alg, enc) for alg in sorted(KEY_MANAGEMENT) if alg != "RSA1_5" for enc in ENCS]


@pytest.mark.parametrize(("alg", "enc"), PAIRS)
def test_every_alg_enc_pair_round_trips(jk: JWEKeys, alg: str, enc: str) -> None:
    enc_key, dec_key = _pair(jk, alg, enc)
    token = jwe.encrypt(b"secret \x00 bytes", enc_key, alg, enc)
    assert token.count(".") == 4
    result = jwe.decrypt_detailed(token, dec_key, [alg], [enc])
    assert result.plaintext == b"secret \x00 bytes"
    assert result.header["alg"] == alg and result.header["enc"] == enc
    assert result.key is dec_key


@pytest.mark.parametrize("crv", ["P-256", "P-384", "P-521", "X25519", "X448"])
@pytest.mark.parametrize("alg", ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A256KW"])
def test_ecdh_es_on_every_curve(alg: str, crv: str) -> None:
    key = Key.generate("EC" if crv.startswith("P") else "OKP", crv=crv)
    token = jwe.encrypt("hi", key.public(), alg, "A256GCM", headers={"apu": b64u(b"Alice")})
    header = json.loads(unb64u(token.split(".")[0]))
    assert header["epk"]["crv"] == crv and "d" not in header["epk"]
    assert jwe.decrypt(token, key, [alg], ["A256GCM"]) == b"hi"


def test_compression_round_trip_and_header(jk: JWEKeys) -> None:
    text = b"abc" * 5000
    token = jwe.encrypt(text, jk.a128kw, "A128KW", "A128GCM", compression="DEF")
    assert len(token) < 1000
    assert json.loads(unb64u(token.split(".")[0]))["zip"] == "DEF"
    opts: dict[str, Any] = {"compression_algorithms": ["DEF"]}
    assert jwe.decrypt(token, jk.a128kw, ["A128KW"], ["A128GCM"], **opts) == text


def test_headers_kid_typ_and_removal(jk: JWEKeys) -> None:
    token = jwe.encrypt(b"x", jk.rsa.public(), "RSA-OAEP-256", "A256GCM", headers={"typ": "JWT"})
    header = json.loads(unb64u(token.split(".")[0]))
    assert header == {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "rsa-enc", "typ": "JWT"}
    token = jwe.encrypt(b"x", jk.rsa.public(), "RSA-OAEP-256", "A256GCM", headers={"kid": None})
    assert "kid" not in json.loads(unb64u(token.split(".")[0]))
    with pytest.raises(JWTKitError) as excinfo:
        jwe.encrypt(b"x", jk.rsa.public(), "RSA-OAEP", "A256GCM", headers={"enc": "A128GCM"})
    assert excinfo.value.code == "malformed"


def test_pbes2_with_a_str_password_and_p2c(jk: JWEKeys) -> None:
    token = jwe.encrypt(b"x", "hunter2", "PBES2-HS256+A128KW", "A128GCM", headers={"p2c": 1000})
    assert json.loads(unb64u(token.split(".")[0]))["p2c"] == 1000
    assert jwe.decrypt(token, "hunter2", ["PBES2-HS256+A128KW"], ["A128GCM"]) == b"x"
    default = jwe.encrypt(b"x", "hunter2", "PBES2-HS512+A256KW", "A256GCM")
    assert json.loads(unb64u(default.split(".")[0]))["p2c"] == jwe.DEFAULT_P2C


def test_general_json_several_recipients_aad_and_headers(jk: JWEKeys) -> None:
    recipients = [
        jwe.Recipient(jk.rsa.public(), "RSA-OAEP-256"),
        (jk.a128kw, "A128KW", {"note": "for the kw key"}),
        (jk.x25519.public(), "ECDH-ES+A256KW"),
        (jk.password, "PBES2-HS256+A128KW"),
        (jk.a256kw, "A256GCMKW"),
    ]
    token = jwe.encrypt_json(
        b"to many",
        recipients,
        "A128CBC-HS256",
        protected={"typ": "secret+json"},
        unprotected={"shared": True},
        aad=b"public context",
        compression="DEF",
    )
    assert len(token["recipients"]) == 5
    assert json.loads(unb64u(token["protected"])) == {
        "enc": "A128CBC-HS256",
        "zip": "DEF",
        "typ": "secret+json",
    }
    algs = ["RSA-OAEP-256", "A128KW", "ECDH-ES+A256KW", "PBES2-HS256+A128KW", "A256GCMKW"]
    opts: dict[str, Any] = {"compression_algorithms": ["DEF"]}
    keys = [jk.rsa, jk.a128kw, jk.x25519, jk.password, jk.a256kw]
    for index, key in enumerate(keys):
        result = jwe.decrypt_detailed(token, key, algs, ["A128CBC-HS256"], **opts)
        assert (result.recipient, result.plaintext, result.aad) == (
            index,
            b"to many",
            b"public context",
        )
        assert result.unprotected == {"shared": True}
        assert result.header["shared"] is True and result.header["typ"] == "secret+json"
    assert (
        jwe.decrypt_detailed(token, jk.a128kw, algs, ["A128CBC-HS256"], **opts).recipient_header[
            "note"
        ]
        == "for the kw key"
    )
    # A key set holding one recipient's key finds its entry by kid.
    keyset = KeySet([jk.p256, jk.x25519])
    assert jwe.decrypt_detailed(token, keyset, algs, ["A128CBC-HS256"], **opts).recipient == 2
    # The AAD is authenticated: changing it fails every recipient.
    tampered = {**token, "aad": b64u(b"other context")}
    with pytest.raises(JWTKitError) as excinfo:
        jwe.decrypt(tampered, jk.a128kw, algs, ["A128CBC-HS256"], **opts)
    assert excinfo.value.code == "decryption_failed"


def test_flattened_json_puts_alg_in_the_protected_header(jk: JWEKeys) -> None:
    token = jwe.encrypt_json(b"flat", [(jk.p256.public(), "ECDH-ES")], "A256GCM", flattened=True)
    assert set(token) == {"protected", "iv", "ciphertext", "tag"}
    protected = json.loads(unb64u(token["protected"]))
    assert protected["alg"] == "ECDH-ES" and "epk" in protected
    assert jwe.decrypt(json.dumps(token), jk.p256, ["ECDH-ES"], ["A256GCM"]) == b"flat"


def test_encrypt_json_argument_errors(jk: JWEKeys) -> None:
    with pytest.raises(ValueError, match="recipient"):
        jwe.encrypt_json(b"x", [], "A128GCM")
    with pytest.raises(ValueError, match="one recipient"):
        jwe.encrypt_json(b"x", [(jk.a128kw, "A128KW")] * 2, "A128GCM", flattened=True)
    with pytest.raises(ValueError, match="exactly one recipient"):
        jwe.encrypt_json(b"x", [(jk.dir128, "dir"), (jk.a128kw, "A128KW")], "A128GCM")
    with pytest.raises(JWTKitError) as excinfo:  # the same name in two headers
        jwe.encrypt_json(b"x", [(jk.a128kw, "A128KW")], "A128GCM", unprotected={"enc": "A128GCM"})
    assert excinfo.value.code == "malformed"
    with pytest.raises(JWTKitError) as excinfo:
        jwe.encrypt_json(b"x", [(jk.a128kw, "A128KW", {"alg": "A256KW"})], "A128GCM")
    assert excinfo.value.code == "malformed"


def test_keyset_selects_by_kid_use_and_key_ops(jk: JWEKeys) -> None:
    sig_key = Key.generate("RSA", kid="sig").with_params(use="sig")
    enc_key = jk.rsa_other.with_params(use="enc", key_ops=["decrypt", "unwrapKey"], kid=None)
    token = jwe.encrypt(b"x", jk.rsa_other.public(), "RSA-OAEP", "A128GCM", headers={"kid": None})
    assert "kid" not in json.loads(unb64u(token.split(".")[0]))
    result = jwe.decrypt_detailed(token, KeySet([sig_key, enc_key]), ["RSA-OAEP"], ["A128GCM"])
    assert result.key is enc_key
    with pytest.raises(JWTKitError) as excinfo:  # only a signing key: nothing fits
        jwe.decrypt(token, KeySet([sig_key]), ["RSA-OAEP"], ["A128GCM"])
    assert excinfo.value.code == "key_not_found"
    ops_sign = jk.rsa_other.with_params(key_ops=["sign"])
    with pytest.raises(JWTKitError) as excinfo:
        jwe.decrypt(token, ops_sign, ["RSA-OAEP"], ["A128GCM"])
    assert excinfo.value.code == "key_mismatch"
    with pytest.raises(JWTKitError) as excinfo:  # kid names no key in the set
        jwe.decrypt(
            jwe.encrypt(b"x", jk.rsa.public(), "RSA-OAEP", "A128GCM"),
            KeySet([enc_key]),
            ["RSA-OAEP"],
            ["A128GCM"],
        )
    assert excinfo.value.code == "key_not_found"


def test_jwk_bound_to_a_jwe_alg(jk: JWEKeys) -> None:
    bound = Key.from_jwk({**jk.a128kw.to_jwk(private=True), "alg": "A128KW", "use": "enc"})
    token = jwe.encrypt(b"x", bound, "A128KW", "A128GCM")
    assert jwe.decrypt(token, bound, ["A128KW"], ["A128GCM"]) == b"x"
    with pytest.raises(JWTKitError) as excinfo:
        jwe.encrypt(b"x", bound, "A128GCMKW", "A128GCM")
    assert excinfo.value.code == "key_mismatch"
    with pytest.raises(JWTKitError) as excinfo:  # a JWE key never signs
        jwtkit.encode({"a": 1}, bound, "HS256")
    assert excinfo.value.code == "key_mismatch"
    x = Key.from_jwk(jk.x25519.public().to_jwk())
    assert (x.kty, x.crv, x.default_alg) == ("OKP", "X25519", "ECDH-ES")
    with pytest.raises(JWTKitError) as excinfo:
        Key.from_jwk({"kty": "OKP", "crv": "X25519", "x": b64u(bytes(32))})  # small order
    assert excinfo.value.code == "invalid_key"


def test_decrypter_policy_validation(jk: JWEKeys) -> None:
    with pytest.raises(TypeError):
        jwe.Decrypter(jk.a128kw, algorithms="A128KW", encryption_algorithms=["A128GCM"])
    with pytest.raises(ValueError, match="name"):
        jwe.Decrypter(jk.a128kw, algorithms=[], encryption_algorithms=["A128GCM"])
    for bad in (["none"], ["HS256"], ["A128KW", 7]):
        with pytest.raises((JWTKitError, TypeError)):
            jwe.Decrypter(jk.a128kw, algorithms=bad, encryption_algorithms=["A128GCM"])
    with pytest.raises(JWTKitError) as excinfo:
        jwe.Decrypter(jk.a128kw, algorithms=["A128KW"], encryption_algorithms=["A128GCM"],
                      compression_algorithms=["GZIP"])  # fmt: skip
    assert excinfo.value.code == "unsupported_algorithm"
    with pytest.raises(JWTKitError) as excinfo:
        jwe.Decrypter(jk.rsa, algorithms=["RSA1_5"], encryption_algorithms=["A128GCM"])
    assert excinfo.value.code == "unsupported_algorithm"
    policy = jwe.Decrypter(jk.a128kw, algorithms=["A128KW"], encryption_algorithms=["A128GCM"])
    assert "A128KW" in repr(policy) and policy.key_source is jk.a128kw
    token = jwe.encrypt(b"x", jk.a128kw, "A128KW", "A128GCM")
    assert policy.decrypt(token) == policy.decrypt(token.encode()) == b"x"


# -- JWT integration (RFC 7519 §5.2, §11.2) ----------------------------------------------------


def test_encrypted_jwt_round_trip(jk: JWEKeys) -> None:
    spec = jwe.Encryption(jk.rsa.public(), "RSA-OAEP-256", "A256GCM")
    token = jwtkit.encode(CLAIMS, None, encryption=spec)
    assert token.count(".") == 4
    header = json.loads(unb64u(token.split(".")[0]))
    assert header["typ"] == "JWT" and "cty" not in header
    claims = jwtkit.decode(
        token,
        jk.rsa,
        ["RSA-OAEP-256"],
        encryption_algorithms=["A256GCM"],
        audience=AUD,
        issuer=ISS,
        typ="JWT",
        now=NOW + 1,
    )
    assert claims == CLAIMS
    with pytest.raises(JWTKitError) as excinfo:  # claims are still checked
        jwtkit.decode(token, jk.rsa, ["RSA-OAEP-256"], encryption_algorithms=["A256GCM"],
                      audience=AUD, issuer=ISS, now=NOW + 601)  # fmt: skip
    assert excinfo.value.code == "expired"
    with pytest.raises(TypeError):
        jwtkit.encode(CLAIMS, None)


def test_nested_jwt_round_trip_with_a_mapping_spec(jk: JWEKeys) -> None:
    signer = Key.generate("EC", crv="P-256", kid="signer")
    spec = {"key": jk.x25519.public(), "alg": "ECDH-ES+A128KW", "enc": "A128GCM", "zip": "DEF"}
    token = jwtkit.encode(CLAIMS, signer, "ES256", encryption=spec)
    header = json.loads(unb64u(token.split(".")[0]))
    assert header["cty"] == "JWT" and header["zip"] == "DEF"
    verifier = jwtkit.Verifier(
        signer.public(),
        algorithms=["ES256", "ECDH-ES+A128KW"],
        encryption_algorithms=["A128GCM"],
        compression_algorithms=["DEF"],
        decryption_key=jk.x25519,
        audience=AUD,
        issuer=ISS,
    )
    result = verifier.verify_detailed(token, now=NOW + 1)
    assert result.claims == CLAIMS and result.key.kid == "signer"
    # One key set with both keys: decryption by use=enc, the signature by the signer's key.
    keyset = KeySet([jk.x25519.with_params(use="enc"), signer.with_params(use="sig")])
    claims = jwtkit.decode(token, keyset, ["ES256", "ECDH-ES+A128KW"],
                           encryption_algorithms=["A128GCM"], compression_algorithms=["DEF"],
                           audience=AUD, issuer=ISS, now=NOW + 1)  # fmt: skip
    assert claims == CLAIMS


def test_verifier_with_encryption_refuses_a_jws_and_the_reverse(jk: JWEKeys) -> None:
    signer = Key.generate("EC", crv="P-256")
    jws_token = jwtkit.encode(CLAIMS, signer, "ES256")
    jwe_token = jwtkit.encode(
        CLAIMS, signer, "ES256", encryption=jwe.Encryption(jk.a128kw, "A128KW", "A128GCM")
    )
    enc_verifier = jwtkit.Verifier(signer.public(), algorithms=["ES256", "A128KW"],
                                   encryption_algorithms=["A128GCM"], decryption_key=jk.a128kw,
                                   audience=AUD, issuer=ISS)  # fmt: skip
    plain_verifier = jwtkit.Verifier(
        signer.public(), algorithms=["ES256"], audience=AUD, issuer=ISS
    )
    assert enc_verifier.verify(jwe_token, now=NOW + 1) == CLAIMS
    assert plain_verifier.verify(jws_token, now=NOW + 1) == CLAIMS
    for verifier, token in ((enc_verifier, jws_token), (plain_verifier, jwe_token)):
        with pytest.raises(JWTKitError) as excinfo:
            verifier.verify(token, now=NOW + 1)
        assert excinfo.value.code == "malformed"
    with pytest.raises(ValueError, match="JWE alg"):
        jwtkit.Verifier(signer.public(), algorithms=["ES256"], encryption_algorithms=["A128GCM"])


async def _averify(verifier: jwtkit.Verifier, token: str) -> dict[str, Any]:
    return await verifier.averify(token, now=NOW + 1)


def test_averify_opens_a_jwe(jk: JWEKeys) -> None:
    import asyncio

    token = jwtkit.encode(CLAIMS, None, encryption=jwe.Encryption(jk.dir256, "dir", "A256GCM"))
    verifier = jwtkit.Verifier(jk.dir256, algorithms=["dir"], encryption_algorithms=["A256GCM"],
                               audience=AUD, issuer=ISS)  # fmt: skip
    assert asyncio.run(_averify(verifier, token)) == CLAIMS


def test_encryption_spec_errors(jk: JWEKeys) -> None:
    with pytest.raises(TypeError):
        jwtkit.encode(CLAIMS, None, encryption="RSA-OAEP")
    with pytest.raises(TypeError, match="missing"):
        jwtkit.encode(CLAIMS, None, encryption={"key": jk.a128kw, "alg": "A128KW"})


def test_jws_only_use_does_not_import_jwe() -> None:
    import subprocess
    import sys

    code = (
        "import sys, jwtkit\n"
        "k = jwtkit.Key.generate('oct')\n"
        "jwtkit.decode(jwtkit.encode({'a': 1}, k), k, ['HS256'])\n"
        "v = jwtkit.Verifier(k, algorithms=['HS256'])\n"
        "v.verify(jwtkit.encode({'a': 1}, k))\n"
        "jwtkit.jws.verify(jwtkit.jws.sign(b'x', k), k, ['HS256'])\n"
        "jwtkit.KeySet.from_jwks({'keys': [k.to_jwk(private=True)]})\n"
        "assert 'jwtkit.jwe' not in sys.modules, 'JWS-only use imported jwtkit.jwe'\n"
        "assert jwtkit.jwe.encrypt and 'jwtkit.jwe' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
