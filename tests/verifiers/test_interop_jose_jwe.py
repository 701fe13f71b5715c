"""JWE interop with npm ``jose`` 6 (panva), both directions, for every alg x enc pair it supports.

``jose`` 6 has every jwtkit JWE algorithm except X448 (ECDH-ES) and RSA1_5 (which jwtkit never
produces either). The Node peer (``node/jwe.mjs``, installed by ``npm ci`` from the pinned lock
file as the oidc-provider test does) runs once per direction over the whole matrix: one batch of
jobs on stdin, one JSON array of results on stdout.
"""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import pytest

from jwtkit import Key, jwe
from jwtkit.jwa import CONTENT_ENCRYPTION, KEY_MANAGEMENT

from .test_interop_oidc_provider import NODE_DIR, _node, _npm_install

pytestmark = pytest.mark.slow

PASSWORD = "jose interop"
PLAINTEXT = "Interop: ünïcødé ✓".encode()
ALGS = sorted(a for a in KEY_MANAGEMENT if a != "RSA1_5")
CURVES = ("P-256", "P-384", "P-521", "X25519")
CASES = [(alg, enc, "P-256") for alg in ALGS for enc in sorted(CONTENT_ENCRYPTION)] + [
    (alg, "A256GCM", crv)
    for alg in ("ECDH-ES", "ECDH-ES+A128KW")
    for crv in CURVES
    if crv != "P-256"
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Keys:
    """One key per (alg, enc, crv) family, made once per module."""

    def __init__(self) -> None:
        self.rsa = Key.generate("RSA")
        self.curves = {
            crv: Key.generate("EC" if crv.startswith("P") else "OKP", crv=crv) for crv in CURVES
        }

    def get(self, alg: str, enc: str, crv: str) -> Key:
        km = KEY_MANAGEMENT[alg]
        if km.family == "RSA-OAEP":
            return self.rsa
        if km.family in ("AESKW", "AESGCMKW"):
            return Key.from_secret(bytes(range(1, km.kek_bits // 8 + 1)))
        if km.family == "dir":
            return Key.from_secret(bytes(range(1, CONTENT_ENCRYPTION[enc].cek_bytes + 1)))
        if km.family == "PBES2":
            return Key.from_secret(PASSWORD)
        return self.curves[crv]


def _job(op: str, key: Key, alg: str, enc: str, private: bool) -> dict[str, Any]:
    job: dict[str, Any] = {"op": op, "alg": alg, "enc": enc}
    if KEY_MANAGEMENT[alg].family == "PBES2":
        job["password"] = PASSWORD
    elif key.is_symmetric:
        job["jwk"] = key.to_jwk(private=True)
    else:
        job["jwk"] = key.to_jwk(private=True) if private else key.public().to_jwk()
    return job


def _run_node(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = _node()
    _npm_install()
    out = subprocess.run(
        [node, "jwe.mjs"],
        cwd=NODE_DIR,
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(out.stdout)
    assert len(results) == len(jobs)
    return results


@pytest.fixture(scope="module")
def matrix() -> dict[str, Any]:
    """Run both directions once: jose encrypts every case; jose decrypts jwtkit's tokens."""
    keys = Keys()
    by_case = {case: keys.get(*case) for case in CASES}
    encrypted = _run_node(
        [
            {**_job("encrypt", key, alg, enc, False), "plaintext": _b64(PLAINTEXT)}
            for (alg, enc, _), key in by_case.items()
        ]
    )
    ours = {
        case: jwe.encrypt(PLAINTEXT, key if key.is_symmetric else key.public(), case[0], case[1])
        for case, key in by_case.items()
    }
    decrypted = _run_node(
        [
            {**_job("decrypt", key, alg, enc, True), "token": ours[(alg, enc, crv)]}
            for (alg, enc, crv), key in by_case.items()
        ]
    )
    return {
        "keys": by_case,
        "from_jose": dict(zip(CASES, encrypted, strict=True)),
        "by_jose": dict(zip(CASES, decrypted, strict=True)),
    }


@pytest.mark.parametrize(("alg", "enc", "crv"), CASES)
def test_jose_encrypts_jwtkit_decrypts(
    matrix: dict[str, Any], alg: str, enc: str, crv: str
) -> None:
    result = matrix["from_jose"][(alg, enc, crv)]
    assert "token" in result, result
    key = matrix["keys"][(alg, enc, crv)]
    opened = jwe.decrypt_detailed(result["token"], key, [alg], [enc])
    assert opened.plaintext == PLAINTEXT
    assert (opened.header["alg"], opened.header["enc"]) == (alg, enc)


@pytest.mark.parametrize(("alg", "enc", "crv"), CASES)
def test_jwtkit_encrypts_jose_decrypts(
    matrix: dict[str, Any], alg: str, enc: str, crv: str
) -> None:
    result = matrix["by_jose"][(alg, enc, crv)]
    assert "plaintext" in result, result
    assert base64.urlsafe_b64decode(result["plaintext"] + "==") == PLAINTEXT
    assert result["header"]["alg"] == alg


def test_the_matrix_covers_every_family_jose_has() -> None:
    families = {KEY_MANAGEMENT[alg].family for alg, _, _ in CASES}
    assert families == {f.family for f in KEY_MANAGEMENT.values()} - {"RSA1_5"}
    assert len(CASES) == 18 * 6 + 2 * 3
