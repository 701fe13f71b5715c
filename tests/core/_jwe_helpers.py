"""Keys and hand-made JWE parts for the JWE tests.

``forge`` builds a compact JWE from raw parts (header dict or segment, encrypted key, IV,
ciphertext, tag) so a test can put exactly the bytes it wants in each segment; ``seal_gcm``
encrypts content with pyca's AES-GCM directly, so the only fault in a token is the one under test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jwtkit import Key

from ._helpers import b64u, segment


@dataclass(frozen=True)
class JWEKeys:
    """One private key (or secret) per JWE key family."""

    rsa: Key
    rsa_other: Key
    p256: Key
    p256_other: Key
    p384: Key
    x25519: Key
    x448: Key
    a128kw: Key
    a256kw: Key
    dir128: Key
    dir256: Key
    password: Key


def make_keys() -> JWEKeys:
    return JWEKeys(
        rsa=Key.generate("RSA", kid="rsa-enc"),
        rsa_other=Key.generate("RSA", kid="rsa-other"),
        p256=Key.generate("EC", crv="P-256", kid="p256-enc"),
        p256_other=Key.generate("EC", crv="P-256", kid="p256-other"),
        p384=Key.generate("EC", crv="P-384", kid="p384-enc"),
        x25519=Key.generate("OKP", crv="X25519", kid="x25519-enc"),
        x448=Key.generate("OKP", crv="X448", kid="x448-enc"),
        a128kw=Key.from_secret(os.urandom(16), kid="a128kw"),
        a256kw=Key.from_secret(os.urandom(32), kid="a256kw"),
        dir128=Key.from_secret(os.urandom(16), kid="dir128"),
        dir256=Key.from_secret(os.urandom(32), kid="dir256"),
        password=Key.from_secret(b"correct horse battery staple", kid="pw"),
    )


def forge(header: Any, ek: bytes, iv: bytes, ct: bytes, tag: bytes) -> str:
    """A compact JWE of exactly these parts (``header``: dict, or the segment as a str)."""
    return ".".join((segment(header), b64u(ek), b64u(iv), b64u(ct), b64u(tag)))


def seal_gcm(header: Any, cek: bytes, ek: bytes, plaintext: bytes) -> str:
    """A compact JWE whose content is sealed with pyca AES-GCM under ``cek`` (any AES size)."""
    h = segment(header)
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, h.encode("ascii"))
    return forge(h, ek, iv, sealed[:-16], sealed[-16:])


def parts(token: str) -> list[str]:
    return token.split(".")


def replace_part(token: str, index: int, value: str) -> str:
    pieces = token.split(".")
    pieces[index] = value
    return ".".join(pieces)
