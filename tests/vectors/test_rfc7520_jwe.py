"""RFC 7520 §5 ("JOSE Cookbook") JWE examples, §6 nesting, and RFC 8037 X25519 ECDH-ES.

One generic runner: every serialization in each file's ``output`` (compact, general JSON,
flattened JSON) must decrypt to ``input.plaintext`` with ``input.key`` (or ``input.pwd``); §5.13
(three recipients) must decrypt with each recipient's key alone. Where the file is reproducible,
the content encryption must give the published ciphertext and tag from the published CEK, IV and
AAD. Tampering with any serialization's tag must fail with ``decryption_failed``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from jwtkit import Key, jwe
from jwtkit._b64 import b64d, b64e_str
from jwtkit.errors import JWTKitError
from jwtkit.jwa import get_content_encryption

from ._paths import VECTORS

RFC7520 = VECTORS / "rfc7520"
JWE_FILES = [*sorted((RFC7520 / "jwe").glob("*.json")), RFC7520 / "curve25519" / "ecdh-es.json"]
FORMS = ("compact", "json", "json_flat")


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _ident(path: Path) -> str:
    return f"{path.parent.name}/{path.stem.split('.')[0]}"


def _enc(vec: dict[str, Any]) -> str:
    # §5.13's input says "A128CBC-H256" (a typo in the cookbook); its headers say A128CBC-HS256.
    return {"A128CBC-H256": "A128CBC-HS256"}.get(vec["input"]["enc"], vec["input"]["enc"])


def _recipients(vec: dict[str, Any]) -> list[tuple[Key, str]]:
    """(decryption key, alg) for each recipient of a vector."""
    inp = vec["input"]
    if "pwd" in inp:
        return [(Key.from_secret(inp["pwd"]), inp["alg"])]
    keys, algs = inp["key"], inp["alg"]
    if isinstance(keys, list):
        return [(Key.from_jwk(k), a) for k, a in zip(keys, algs, strict=True)]
    return [(Key.from_jwk(keys), algs)]


def _options(vec: dict[str, Any], alg: str) -> dict[str, Any]:
    return {
        "compression_algorithms": ["DEF"] if "zip" in vec["input"] else [],
        "allow_rsa1_5": alg == "RSA1_5",
    }


CASES = [
    pytest.param(path, form, index, id=f"{_ident(path)}-{form}-r{index}")
    for path in JWE_FILES
    for form in FORMS
    if form in _load(path)["output"]
    for index in range(len(_recipients(_load(path))))
]


def test_vector_folders_are_complete() -> None:
    assert len(JWE_FILES) == 14
    assert all(path.is_file() for path in JWE_FILES)
    # §5.1-§5.9 and RFC 8037: 3 serializations each; §5.10-§5.12: JSON and flattened only;
    # §5.13: general JSON, once per recipient key.
    assert len(CASES) == 10 * 3 + 3 * 2 + 3


@pytest.mark.parametrize(("path", "form", "index"), CASES)
def test_jwe_example_decrypts(path: Path, form: str, index: int) -> None:
    vec = _load(path)
    key, alg = _recipients(vec)[index]
    token = vec["output"][form]
    result = jwe.decrypt_detailed(token, key, [alg], [_enc(vec)], **_options(vec, alg))
    assert result.plaintext == vec["input"]["plaintext"].encode("utf-8")
    assert result.header["alg"] == alg
    assert result.key is key
    if isinstance(token, dict) and "recipients" in token:
        assert result.recipient == index
    if form != "compact":  # JSON text decrypts as the mapping does
        text = json.dumps(token)
        plain = jwe.decrypt(text, key, [alg], [_enc(vec)], **_options(vec, alg))
        assert plain == result.plaintext


@pytest.mark.parametrize(("path", "form", "index"), CASES)
def test_jwe_example_with_a_flipped_tag_fails(path: Path, form: str, index: int) -> None:
    vec = _load(path)
    key, alg = _recipients(vec)[index]
    token = copy.deepcopy(vec["output"][form])
    if isinstance(token, str):
        parts = token.split(".")
        tag = bytearray(b64d(parts[4]))
        tag[0] ^= 1
        parts[4] = b64e_str(bytes(tag))
        token = ".".join(parts)
    else:
        tag = bytearray(b64d(token["tag"]))
        tag[-1] ^= 0x80
        token["tag"] = b64e_str(bytes(tag))
    with pytest.raises(JWTKitError) as excinfo:
        jwe.decrypt(token, key, [alg], [_enc(vec)], **_options(vec, alg))
    assert excinfo.value.code == "decryption_failed"


REPRODUCIBLE = [p for p in JWE_FILES if "cek" in _load(p)["generated"]]


@pytest.mark.parametrize("path", REPRODUCIBLE, ids=_ident)
def test_content_encryption_reproduces_the_example(path: Path) -> None:
    """From the published CEK, IV and AAD, pyca's AES-GCM / AES-CBC-HMAC give the bytes."""
    vec = _load(path)
    gen, content = vec["generated"], vec["encrypting_content"]
    ce = get_content_encryption(_enc(vec))
    plaintext = b64d(gen["plaintext_c"]) if "plaintext_c" in gen else vec["input"]["plaintext"]
    if isinstance(plaintext, str):
        plaintext = plaintext.encode("utf-8")
    aad = content.get("protected_b64u", "")
    if "aad_b64u" in gen:
        aad += "." + gen["aad_b64u"]
    seal = jwe._CONTENT[ce.family][0]
    sealed = seal(ce, b64d(gen["cek"]), b64d(gen["iv"]), plaintext, aad.encode("ascii"))
    assert b64e_str(sealed[: -ce.tag_bytes]) == content["ciphertext"]
    assert b64e_str(sealed[-ce.tag_bytes :]) == content["tag"]


def test_the_examples_cover_every_key_management_family() -> None:
    families = {
        jwe.get_key_management(alg).family
        for path in JWE_FILES
        for _, alg in _recipients(_load(path))
    }
    assert families == {
        "RSA1_5",
        "RSA-OAEP",
        "PBES2",
        "ECDH-ES+KW",
        "ECDH-ES",
        "dir",
        "AESGCMKW",
        "AESKW",
    }


@pytest.mark.parametrize("path", JWE_FILES, ids=_ident)
def test_example_inputs_round_trip_through_encrypt(path: Path) -> None:
    vec = _load(path)
    plaintext = vec["input"]["plaintext"].encode("utf-8")
    for key, alg in _recipients(vec):
        if alg == "RSA1_5":  # decrypt-only: never produced
            with pytest.raises(JWTKitError) as excinfo:
                jwe.encrypt(plaintext, key.public(), alg, _enc(vec))
            assert excinfo.value.code == "unsupported_algorithm"
            continue
        public = key if key.is_symmetric else key.public()
        zip_alg = "DEF" if "zip" in vec["input"] else None
        token = jwe.encrypt(plaintext, public, alg, _enc(vec), compression=zip_alg)
        assert jwe.decrypt(token, key, [alg], [_enc(vec)], **_options(vec, alg)) == plaintext


def test_rsa1_5_examples_need_the_opt_in() -> None:
    vec = _load(RFC7520 / "jwe" / "5_1.key_encryption_using_rsa_v15_and_aes-hmac-sha2.json")
    key, alg = _recipients(vec)[0]
    with pytest.raises(JWTKitError) as excinfo:
        jwe.decrypt(vec["output"]["compact"], key, [alg], [_enc(vec)])
    assert excinfo.value.code == "unsupported_algorithm"
    with pytest.raises(JWTKitError) as excinfo:  # not in the allow-list: the opt-in is not enough
        jwe.decrypt(vec["output"]["compact"], key, ["RSA-OAEP"], [_enc(vec)], allow_rsa1_5=True)
    assert excinfo.value.code == "alg_not_allowed"


def test_section_5_13_with_no_key_of_any_recipient_fails() -> None:
    vec = _load(RFC7520 / "jwe" / "5_13.encrypting_to_multiple_recipients.json")
    algs = vec["input"]["alg"]
    stranger = Key.generate("EC", crv="P-384")
    with pytest.raises(JWTKitError) as excinfo:
        jwe.decrypt(vec["output"]["json"], stranger, algs, [_enc(vec)], allow_rsa1_5=True)
    assert excinfo.value.code in ("key_mismatch", "decryption_failed")


def test_section_6_nested_jwt_decrypts_then_verifies() -> None:
    """RFC 7520 §6: a JWT signed with PS256, then encrypted with RSA-OAEP (cty: JWT)."""
    vec = _load(RFC7520 / "6.nesting_signatures_and_encryption.json")
    decrypter = Key.from_jwk(vec["encrypt"]["input"]["key"])
    for form in FORMS:
        token = vec["encrypt"]["output"][form]
        inner = jwe.decrypt_detailed(token, decrypter, ["RSA-OAEP"], ["A128GCM"])
        assert inner.header["cty"] == "JWT"
        assert inner.plaintext.decode("ascii") == vec["sign"]["output"]["compact"]
