"""JSON Web Algorithms for JWS, as one read-only table (RFC 7518 §3, RFC 8037, RFC 8812, RFC 9864).

Each :class:`Algorithm` says which key type (``kty``) and curves it accepts, its hash, its
minimum key size, and signs/verifies with pyca/cryptography (never our own primitive). ``alg`` is
resolved once with :func:`get_algorithm`; below that point nothing switches on the string again.
``none`` is not in the table, so it can never sign or verify (RFC 8725 §3.1).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from jwtkit.errors import InvalidSignatureError, UnsupportedAlgorithmError

__all__ = ["ALGORITHMS", "Algorithm", "get_algorithm"]

_HASH_NAMES = {"SHA256": "sha256", "SHA384": "sha384", "SHA512": "sha512"}


@dataclass(frozen=True, slots=True, eq=False)
class Algorithm:
    """One JWS algorithm (RFC 7518 §3.1 table and later registrations).

    Attributes:
        name: the ``alg`` value (str).
        kty: the key type it needs: ``"oct"``, ``"RSA"``, ``"EC"`` or ``"OKP"``.
        family: ``"HMAC"``, ``"RSA-PKCS1"``, ``"RSA-PSS"``, ``"ECDSA"`` or ``"EdDSA"``.
        curves: accepted ``crv`` values (empty for oct/RSA).
        hash_name: ``"SHA256"``/``"SHA384"``/``"SHA512"`` (None for EdDSA).
        min_key_bits: minimum key size in bits (HMAC: the hash output, RFC 7518 §3.2; RSA: 2048,
            RFC 7518 §3.3); 0 where the curve fixes it.
        sig_bytes: exact signature length for ECDSA (r||s, RFC 7518 §3.4), else 0.
        recommended: whether RFC 7518 / RFC 9864 mark it Recommended(+).
    """

    name: str
    kty: str
    family: str
    curves: tuple[str, ...] = ()
    hash_name: str | None = None
    min_key_bits: int = 0
    sig_bytes: int = 0
    recommended: bool = False
    _hash: Any = field(default=None, repr=False)
    _pad: Any = field(default=None, repr=False)
    _digest: str = field(default="", repr=False)

    @staticmethod
    def make(name: str, kty: str, family: str, **kw: Any) -> Algorithm:
        """Build a table entry, preparing the pyca hash and padding objects once.

        Args:
            name: the ``alg`` (str); kty, family: as the attributes; kw: the other attributes.

        Returns:
            The :class:`Algorithm` (used only to build :data:`ALGORITHMS`).
        """
        hash_name = kw.get("hash_name")
        hobj: Any = getattr(hashes, hash_name)() if hash_name else None
        pad: Any = None
        if family == "RSA-PKCS1":
            pad = padding.PKCS1v15()
        elif family == "RSA-PSS":
            pad = padding.PSS(mgf=padding.MGF1(hobj), salt_length=hobj.digest_size)
        elif family == "ECDSA":
            hobj = ec.ECDSA(hobj)
        return Algorithm(
            name,
            kty,
            family,
            _hash=hobj,
            _pad=pad,
            _digest=_HASH_NAMES.get(hash_name or "", ""),
            **kw,
        )

    # -- operations (the key objects are pyca/cryptography objects, or bytes for HMAC) --------

    def sign(self, key: Any, data: bytes) -> bytes:
        """Sign ``data`` (the JWS Signing Input, bytes) with a private key / secret.

        Returns the JWS Signature (bytes): for ECDSA the fixed-length r||s form (RFC 7518 §3.4).
        """
        fam = self.family
        if fam == "HMAC":
            return hmac.digest(key, data, self._digest)
        if fam == "ECDSA":
            r, s = decode_dss_signature(key.sign(data, self._hash))
            n = self.sig_bytes // 2
            return r.to_bytes(n, "big") + s.to_bytes(n, "big")
        if fam == "EdDSA":
            return key.sign(data)  # type: ignore[no-any-return]
        return key.sign(data, self._pad, self._hash)  # type: ignore[no-any-return]

    def verify(self, key: Any, data: bytes, signature: bytes) -> None:
        """Verify ``signature`` over ``data`` with a public key / secret.

        Raises:
            InvalidSignatureError: the signature does not verify, or has the wrong length/form.
        """
        fam = self.family
        try:
            if fam == "HMAC":
                if not hmac.compare_digest(hmac.digest(key, data, self._digest), signature):
                    raise InvalidSignatureError
                return
            if fam == "ECDSA":
                n = self.sig_bytes // 2
                if len(signature) != self.sig_bytes:
                    raise InvalidSignatureError
                r = int.from_bytes(signature[:n], "big")
                s = int.from_bytes(signature[n:], "big")
                if not r or not s:
                    raise InvalidSignatureError
                key.verify(encode_dss_signature(r, s), data, self._hash)
            elif fam == "EdDSA":
                key.verify(signature, data)
            else:
                key.verify(signature, data, self._pad, self._hash)
        except InvalidSignature:
            raise InvalidSignatureError from None

    def __repr__(self) -> str:
        return f"Algorithm({self.name!r})"


def _table() -> Mapping[str, Algorithm]:
    algs: list[Algorithm] = []
    for bits in (256, 384, 512):
        h = f"SHA{bits}"
        algs.append(
            Algorithm.make(
                f"HS{bits}", "oct", "HMAC", hash_name=h, min_key_bits=bits, recommended=bits == 256
            )
        )
        algs.append(
            Algorithm.make(
                f"RS{bits}",
                "RSA",
                "RSA-PKCS1",
                hash_name=h,
                min_key_bits=2048,
                recommended=bits == 256,
            )
        )
        algs.append(Algorithm.make(f"PS{bits}", "RSA", "RSA-PSS", hash_name=h, min_key_bits=2048))
    for name, crv, h, size in (
        ("ES256", "P-256", "SHA256", 64),
        ("ES384", "P-384", "SHA384", 96),
        ("ES512", "P-521", "SHA512", 132),
        ("ES256K", "secp256k1", "SHA256", 64),
    ):
        algs.append(
            Algorithm.make(
                name,
                "EC",
                "ECDSA",
                curves=(crv,),
                hash_name=h,
                sig_bytes=size,
                recommended=name == "ES256",
            )
        )
    algs.append(Algorithm.make("EdDSA", "OKP", "EdDSA", curves=("Ed25519", "Ed448")))
    algs.append(Algorithm.make("Ed25519", "OKP", "EdDSA", curves=("Ed25519",), recommended=True))
    algs.append(Algorithm.make("Ed448", "OKP", "EdDSA", curves=("Ed448",)))
    return MappingProxyType({a.name: a for a in algs})


ALGORITHMS: Mapping[str, Algorithm] = _table()
"""Read-only mapping ``alg`` (str) -> :class:`Algorithm` of every supported JWS algorithm."""

# Types used by jwk.py to check that a cryptography key object fits an algorithm family.
PRIVATE_TYPES: Mapping[str, tuple[type, ...]] = MappingProxyType(
    {
        "RSA": (rsa.RSAPrivateKey,),
        "EC": (ec.EllipticCurvePrivateKey,),
        "OKP": (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey),
    }
)


def get_algorithm(alg: object) -> Algorithm:
    """Resolve an ``alg`` header value to its :class:`Algorithm`.

    Args:
        alg: the ``alg`` value from a header or a caller (should be a str).

    Returns:
        The :class:`Algorithm`.

    Raises:
        UnsupportedAlgorithmError: not a str, ``none`` in any spelling, or unknown (RFC 8725 §3.1).
    """
    try:
        return ALGORITHMS[alg]  # type: ignore[index]
    except (KeyError, TypeError):
        shown = alg if isinstance(alg, str) and len(alg) <= 32 else type(alg).__name__
        raise UnsupportedAlgorithmError(f"unsupported algorithm {shown!r}") from None
