"""JSON Web Algorithms as read-only tables (RFC 7518 §3-§5, RFC 8037, RFC 8812, RFC 9864).

JWS: each :class:`Algorithm` says which key type (``kty``) and curves it accepts, its hash, its
minimum key size, and signs/verifies with pyca/cryptography (never our own primitive). ``alg`` is
resolved once with :func:`get_algorithm`; below that point nothing switches on the string again.
``none`` is not in the table, so it can never sign or verify (RFC 8725 §3.1).

JWE: :data:`KEY_MANAGEMENT` (``alg``, RFC 7518 §4, RFC 8037 §3.2) and :data:`CONTENT_ENCRYPTION`
(``enc``, RFC 7518 §5) are tables of the same kind, resolved once by :func:`get_key_management` and
:func:`get_content_encryption`; :mod:`jwtkit.jwe` runs their operations by ``family``. Every entry
(JWS or JWE) answers :meth:`fits` for a key's ``kty``/``crv``, the one key descriptor that
:class:`jwtkit.Key` checks its binding against.
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

__all__ = [
    "ALGORITHMS",
    "CONTENT_ENCRYPTION",
    "KEY_MANAGEMENT",
    "Algorithm",
    "ContentEncryption",
    "KeyManagement",
    "get_algorithm",
    "get_content_encryption",
    "get_key_algorithm",
    "get_key_management",
]

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

    def fits(self, kty: str, crv: str | None) -> bool:
        """Return whether a key of this ``kty`` (and ``crv``) may be used with this ``alg``."""
        return kty == self.kty and (not self.curves or crv in self.curves)

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


@dataclass(frozen=True, slots=True, eq=False)
class KeyManagement:
    """One JWE key management algorithm, the ``alg`` of a JWE (RFC 7518 §4.1, RFC 8037 §3.2).

    Attributes:
        name: the ``alg`` value (str).
        family: ``"RSA-OAEP"``, ``"RSA1_5"``, ``"AESKW"``, ``"AESGCMKW"``, ``"dir"``,
            ``"ECDH-ES"`` (direct agreement), ``"ECDH-ES+KW"`` or ``"PBES2"``.
        ktys: the key types it accepts (``"RSA"``; ``"oct"``; ``"EC"`` and ``"OKP"`` for ECDH-ES).
        curves: accepted ``crv`` values for ECDH-ES (P-256/384/521, X25519, X448), else empty.
        hash_name: OAEP / PBES2 hash (``"SHA1"``, ``"SHA256"``...), else None.
        kek_bits: the AES key wrap / GCM key size in bits (the oct key for A*KW and A*GCMKW, the
            derived key for ECDH-ES+A*KW and PBES2), 0 when there is none.
        min_key_bits: minimum RSA modulus (2048, RFC 7518 §4.2, §4.3), else the oct key size.
        wraps: True when the JWE carries an Encrypted Key (all but ``dir`` and ``ECDH-ES``).
        decrypt_only: True for RSA1_5 (never produced; decrypting it needs an explicit opt-in).
        recommended: whether RFC 7518 marks it Recommended(+).
    """

    name: str
    family: str
    ktys: tuple[str, ...]
    curves: tuple[str, ...] = ()
    hash_name: str | None = None
    kek_bits: int = 0
    min_key_bits: int = 0
    wraps: bool = True
    decrypt_only: bool = False
    recommended: bool = False

    @property
    def kty(self) -> str:
        """The first (main) key type it accepts (str), as :attr:`Algorithm.kty`."""
        return self.ktys[0]

    def fits(self, kty: str, crv: str | None) -> bool:
        """Return whether a key of this ``kty`` (and ``crv``) may be used with this ``alg``."""
        return kty in self.ktys and (not self.curves or crv in self.curves)

    def __repr__(self) -> str:
        return f"KeyManagement({self.name!r})"


@dataclass(frozen=True, slots=True, eq=False)
class ContentEncryption:
    """One JWE content encryption algorithm, the ``enc`` of a JWE (RFC 7518 §5.1).

    Attributes:
        name: the ``enc`` value (str).
        family: ``"GCM"`` (RFC 7518 §5.3) or ``"CBC-HS"`` (AES-CBC + HMAC-SHA-2, §5.2).
        cek_bytes: the Content Encryption Key length in bytes (GCM 16/24/32; CBC-HS 32/48/64,
            the MAC key then the encryption key).
        iv_bytes: the Initialization Vector length in bytes (GCM 12, CBC 16).
        tag_bytes: the exact Authentication Tag length in bytes (GCM 16; CBC-HS 16/24/32).
        hash_name: the HMAC hash for CBC-HS (``"SHA256"``...), None for GCM.
        recommended: whether RFC 7518 marks it Recommended(+).
    """

    name: str
    family: str
    cek_bytes: int
    iv_bytes: int
    tag_bytes: int
    hash_name: str | None = None
    recommended: bool = False

    # A key bound to an ``enc`` (RFC 7520 §5.6) is a ``dir`` secret of exactly cek_bytes.
    kty = "oct"
    curves: tuple[str, ...] = ()

    @property
    def min_key_bits(self) -> int:
        """The CEK size in bits (int): the size of a ``dir`` secret bound to this ``enc``."""
        return self.cek_bytes * 8

    def fits(self, kty: str, crv: str | None) -> bool:
        """Return whether a key may be bound to this ``enc``: a ``dir`` secret (``oct``)."""
        return kty == "oct"

    def __repr__(self) -> str:
        return f"ContentEncryption({self.name!r})"


def _jwe_tables() -> tuple[Mapping[str, KeyManagement], Mapping[str, ContentEncryption]]:
    km: list[KeyManagement] = [
        KeyManagement("RSA1_5", "RSA1_5", ("RSA",), min_key_bits=2048, decrypt_only=True),
        KeyManagement(
            "RSA-OAEP", "RSA-OAEP", ("RSA",), hash_name="SHA1", min_key_bits=2048, recommended=True
        ),
        KeyManagement("dir", "dir", ("oct",), wraps=False, recommended=True),
    ]
    for bits in (256, 384, 512):
        km.append(
            KeyManagement(
                f"RSA-OAEP-{bits}", "RSA-OAEP", ("RSA",), hash_name=f"SHA{bits}", min_key_bits=2048
            )
        )
    curves = ("P-256", "P-384", "P-521", "X25519", "X448")
    km.append(
        KeyManagement("ECDH-ES", "ECDH-ES", ("EC", "OKP"), curves, wraps=False, recommended=True)
    )
    for bits, pbes_hash in ((128, "SHA256"), (192, "SHA384"), (256, "SHA512")):
        km.append(
            KeyManagement(
                f"A{bits}KW",
                "AESKW",
                ("oct",),
                kek_bits=bits,
                min_key_bits=bits,
                recommended=bits != 192,
            )
        )
        km.append(
            KeyManagement(f"A{bits}GCMKW", "AESGCMKW", ("oct",), kek_bits=bits, min_key_bits=bits)
        )
        km.append(
            KeyManagement(
                f"ECDH-ES+A{bits}KW",
                "ECDH-ES+KW",
                ("EC", "OKP"),
                curves,
                kek_bits=bits,
                recommended=bits != 192,
            )
        )
        km.append(
            KeyManagement(
                f"PBES2-HS{bits * 2}+A{bits}KW",
                "PBES2",
                ("oct",),
                hash_name=pbes_hash,
                kek_bits=bits,
            )
        )
    ce = [
        ContentEncryption("A128GCM", "GCM", 16, 12, 16, recommended=True),
        ContentEncryption("A192GCM", "GCM", 24, 12, 16),
        ContentEncryption("A256GCM", "GCM", 32, 12, 16, recommended=True),
        ContentEncryption("A128CBC-HS256", "CBC-HS", 32, 16, 16, "SHA256", recommended=True),
        ContentEncryption("A192CBC-HS384", "CBC-HS", 48, 16, 24, "SHA384"),
        ContentEncryption("A256CBC-HS512", "CBC-HS", 64, 16, 32, "SHA512", recommended=True),
    ]
    return MappingProxyType({a.name: a for a in km}), MappingProxyType({c.name: c for c in ce})


KEY_MANAGEMENT, CONTENT_ENCRYPTION = _jwe_tables()
"""Read-only mappings ``alg`` -> :class:`KeyManagement` and ``enc`` -> :class:`ContentEncryption`
of every supported JWE algorithm (RFC 7518 §4, §5; RFC 8037 §3.2)."""


def _lookup(table: Mapping[str, Any], value: object, what: str) -> Any:
    try:
        return table[value]  # type: ignore[index]
    except (KeyError, TypeError):
        shown = value if isinstance(value, str) and len(value) <= 32 else type(value).__name__
        raise UnsupportedAlgorithmError(f"unsupported {what} {shown!r}") from None


def get_key_management(alg: object) -> KeyManagement:
    """Resolve a JWE ``alg`` header value to its :class:`KeyManagement` (RFC 7518 §4.1).

    Raises:
        UnsupportedAlgorithmError: not a str, or unknown (JWS ``alg`` values are unknown here).
    """
    return _lookup(KEY_MANAGEMENT, alg, "JWE algorithm")  # type: ignore[no-any-return]


def get_content_encryption(enc: object) -> ContentEncryption:
    """Resolve a JWE ``enc`` header value to its :class:`ContentEncryption` (RFC 7518 §5.1).

    Raises:
        UnsupportedAlgorithmError: not a str, or unknown.
    """
    return _lookup(CONTENT_ENCRYPTION, enc, "JWE encryption")  # type: ignore[no-any-return]


def get_key_algorithm(alg: object) -> Algorithm | KeyManagement | ContentEncryption:
    """Resolve the ``alg`` a key may be bound to (RFC 7517 §4.4): a JWS ``alg``, a JWE ``alg``,
    or an ``enc`` (a ``dir`` secret for that ``enc``, as in RFC 7520 §5.6).

    Raises:
        UnsupportedAlgorithmError: not a str, ``none``, or in no table.
    """
    if isinstance(alg, str):
        found = ALGORITHMS.get(alg) or KEY_MANAGEMENT.get(alg) or CONTENT_ENCRYPTION.get(alg)
        if found is not None:
            return found
    return get_key_management(alg)


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
