"""JSON Web Keys and JWK Sets (RFC 7517, RFC 7518 §6, RFC 8037 §2, RFC 7638, RFC 9278).

:class:`Key` wraps one pyca/cryptography key (or an HMAC secret) with its JWK parameters
(``kid``, ``alg``, ``use``, ``key_ops``) and decides which algorithms it may be used with: a key
bound to an ``alg`` is used for that ``alg`` only, an HMAC secret never verifies an RSA/EC/OKP
``alg``, and a public key is never accepted as an HMAC secret, whatever form it arrives in.
:class:`KeySet` is a JWK Set with unambiguous lookup by ``kid``. Secrets never appear in ``repr``.
"""

from __future__ import annotations

import hashlib
import secrets as _secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from jwtkit import _json
from jwtkit._b64 import b64d, b64e_str
from jwtkit.errors import (
    InvalidKeyError,
    JWTKitError,
    KeyMismatchError,
    KeyNotFoundError,
    MalformedError,
    UnsupportedAlgorithmError,
    WeakKeyError,
)
from jwtkit.jwa import ALGORITHMS, Algorithm, get_algorithm

__all__ = ["Key", "KeyResolver", "KeySet"]

_CURVES: Mapping[str, tuple[type[ec.EllipticCurve], int]] = {
    "P-256": (ec.SECP256R1, 32),
    "P-384": (ec.SECP384R1, 48),
    "P-521": (ec.SECP521R1, 66),
    "secp256k1": (ec.SECP256K1, 32),
}
_CURVE_BY_NAME: dict[str, str] = {cls().name: crv for crv, (cls, _) in _CURVES.items()}
_OKP_CURVES = {"Ed25519": 32, "Ed448": 57}
_DEFAULT_ALG = {
    "oct": "HS256",
    "RSA": "RS256",
    "P-256": "ES256",
    "P-384": "ES384",
    "P-521": "ES512",
    "secp256k1": "ES256K",
    "Ed25519": "EdDSA",
    "Ed448": "EdDSA",
}
_USES = ("sig", "enc")
_KEY_OPS = frozenset(
    ("sign", "verify", "encrypt", "decrypt", "wrapKey", "unwrapKey", "deriveKey", "deriveBits")
)
# Forms of public-key text or structures that must never be taken as an HMAC secret (RFC 8725 §3.1).
_PUBLIC_PREFIXES = (
    b"-----BEGIN",
    b"ssh-rsa",
    b"ssh-ed25519",
    b"ssh-ed448",
    b"ssh-dss",
    b"ecdsa-sha2-",
    b"sk-ecdsa-",
    b"sk-ssh-",
    b"{",
)


def _uint_b64(value: int, length: int | None = None) -> str:
    n = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return b64e_str(value.to_bytes(n, "big"))


def _get_str(jwk: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = jwk.get(name)
    if value is None:
        if required:
            raise InvalidKeyError(f"JWK is missing '{name}'")
        return None
    if not isinstance(value, str):
        raise InvalidKeyError(f"JWK member '{name}' must be a string")
    return value


def _get_b64(jwk: Mapping[str, Any], name: str, required: bool = True) -> bytes | None:
    value = _get_str(jwk, name, required)
    if value is None:
        return None
    try:
        return b64d(value, f"JWK member '{name}'")
    except MalformedError as exc:
        raise InvalidKeyError(exc.message) from None


def _get_uint(jwk: Mapping[str, Any], name: str, required: bool = True) -> int | None:
    raw = _get_b64(jwk, name, required)
    if raw is None:
        return None
    if not raw:
        raise InvalidKeyError(f"JWK member '{name}' is empty")
    return int.from_bytes(raw, "big")


def _looks_public(secret: bytes) -> bool:
    stripped = secret.lstrip()
    if stripped.startswith(_PUBLIC_PREFIXES):
        return True
    if stripped[:1] == b"\x30":  # DER: SubjectPublicKeyInfo, PKCS#1 or a certificate
        for loader in (serialization.load_der_public_key, x509.load_der_x509_certificate):
            try:
                loader(stripped)
                return True
            except (ValueError, TypeError, _CryptoUnsupported):
                continue
    return False


@runtime_checkable
class KeyResolver(Protocol):
    """A key source: given a verified-to-be-well-formed JWS header, return the key to verify with.

    Implemented by :class:`KeySet` and :class:`jwtkit.jwks_client.JWKSClient`. Implementations may
    also offer ``async aresolve_key(header)``, which :meth:`jwtkit.Verifier.averify` awaits.
    """

    def resolve_key(self, header: Mapping[str, Any]) -> Key:
        """Return the key for ``header`` (dict with ``alg`` and maybe ``kid``).

        Raises:
            KeyNotFoundError: no key fits.
        """
        ...


class Key:
    """One key with its JWK parameters (RFC 7517 §4).

    Build it with :meth:`generate`, :meth:`from_jwk`, :meth:`from_pem`, :meth:`from_der`,
    :meth:`from_secret` or :meth:`from_cryptography`; do not call the constructor directly.

    Attributes:
        kty: ``"oct"``, ``"RSA"``, ``"EC"`` or ``"OKP"`` (str).
        crv: the curve for EC/OKP keys (str), else None.
        kid: key id (str) or None.
        alg: the algorithm this key is bound to (str) or None.
        use: ``"sig"``/``"enc"`` or None (RFC 7517 §4.2).
        key_ops: tuple of permitted operations or None (RFC 7517 §4.3).
        is_private: True for private keys and HMAC secrets.
        is_symmetric: True for HMAC (``oct``) keys.
        size: key size in bits (int): the modulus for RSA, the curve order for EC/OKP, the secret.
        raw: the pyca/cryptography key object, or the secret bytes for ``oct``.
    """

    __slots__ = (
        "__weakref__",
        "_public_raw",
        "alg",
        "crv",
        "is_private",
        "key_ops",
        "kid",
        "kty",
        "raw",
        "size",
        "use",
    )

    kty: str
    crv: str | None
    kid: str | None
    alg: str | None
    use: str | None
    key_ops: tuple[str, ...] | None
    is_private: bool
    size: int
    raw: Any
    _public_raw: Any

    def __init__(
        self,
        raw: Any,
        *,
        kid: str | None = None,
        alg: str | None = None,
        use: str | None = None,
        key_ops: Sequence[str] | None = None,
        _trusted: bool = False,
    ) -> None:
        if not _trusted:
            raise TypeError("use Key.generate/from_jwk/from_pem/from_der/from_secret")
        self.raw = raw
        self.kid = kid
        self.use = use
        self.key_ops = tuple(key_ops) if key_ops is not None else None
        self.crv = None
        if isinstance(raw, bytes):
            self.kty, self.is_private, self.size = "oct", True, len(raw) * 8
            self._public_raw = raw
        elif isinstance(raw, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            self.kty, self.size = "RSA", raw.key_size
            self.is_private = isinstance(raw, rsa.RSAPrivateKey)
            self._public_raw = raw.public_key() if self.is_private else raw  # type: ignore[union-attr]
        elif isinstance(raw, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            crv = _CURVE_BY_NAME.get(raw.curve.name)
            if crv is None:
                raise InvalidKeyError(f"unsupported EC curve {raw.curve.name!r}")
            self.kty, self.crv, self.size = "EC", crv, raw.curve.key_size
            self.is_private = isinstance(raw, ec.EllipticCurvePrivateKey)
            self._public_raw = raw.public_key() if self.is_private else raw  # type: ignore[union-attr]
        elif isinstance(raw, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
            self.kty, self.crv, self.size = "OKP", "Ed25519", 256
            self.is_private = isinstance(raw, ed25519.Ed25519PrivateKey)
            self._public_raw = raw.public_key() if self.is_private else raw  # type: ignore[union-attr]
        elif isinstance(raw, ed448.Ed448PrivateKey | ed448.Ed448PublicKey):
            self.kty, self.crv, self.size = "OKP", "Ed448", 456
            self.is_private = isinstance(raw, ed448.Ed448PrivateKey)
            self._public_raw = raw.public_key() if self.is_private else raw  # type: ignore[union-attr]
        else:
            raise InvalidKeyError(f"unsupported key type {type(raw).__name__}")
        if alg is not None:
            algorithm = get_algorithm(alg)
            if not self._fits(algorithm):
                raise KeyMismatchError(f"a {self._describe()} key cannot be used with {alg}")
        self.alg = alg

    # -- description --------------------------------------------------------------------------

    @property
    def is_symmetric(self) -> bool:
        """True for HMAC (``oct``) keys."""
        return self.kty == "oct"

    @property
    def default_alg(self) -> str:
        """The algorithm used when none is given: the bound ``alg``, else the key type's default."""
        if self.alg is not None:
            return self.alg
        return _DEFAULT_ALG[self.crv or self.kty]

    def _describe(self) -> str:
        return f"{self.kty}/{self.crv}" if self.crv else self.kty

    def __repr__(self) -> str:
        kind = "private" if self.is_private else "public"
        if self.is_symmetric:
            kind = "secret"
        parts = [f"kty={self.kty!r}"]
        if self.crv:
            parts.append(f"crv={self.crv!r}")
        if self.kid is not None:
            parts.append(f"kid={self.kid!r}")
        if self.alg is not None:
            parts.append(f"alg={self.alg!r}")
        parts.append(kind)
        return f"Key({', '.join(parts)})"

    __str__ = __repr__

    # -- algorithm binding -------------------------------------------------------------------

    def _fits(self, algorithm: Algorithm) -> bool:
        if algorithm.kty != self.kty:
            return False
        return not algorithm.curves or self.crv in algorithm.curves

    def allows(self, alg: str) -> bool:
        """Return whether this key may be used with ``alg`` (type, curve and bound ``alg``)."""
        algorithm = ALGORITHMS.get(alg)
        if algorithm is None or not self._fits(algorithm):
            return False
        return self.alg is None or self.alg == alg or _eddsa_equivalent(self.alg, alg)

    def check_usable(self, algorithm: Algorithm, op: str, allow_weak_keys: bool = False) -> Any:
        """Check that this key may perform ``op`` (``"sign"``/``"verify"``) with ``algorithm``.

        Returns:
            The pyca/cryptography key object (or secret bytes) to use.

        Raises:
            KeyMismatchError: wrong type or curve, a different bound ``alg``, ``use`` not ``sig``,
                ``key_ops`` without ``op``, or signing with a public key.
            WeakKeyError: below the algorithm's minimum size (RFC 7518 §3.2, §3.3), unless
                ``allow_weak_keys``.
        """
        if not self._fits(algorithm):
            raise KeyMismatchError(f"a {self._describe()} key cannot be used with {algorithm.name}")
        if (
            self.alg is not None
            and self.alg != algorithm.name
            and not _eddsa_equivalent(self.alg, algorithm.name)
        ):
            raise KeyMismatchError(f"key is bound to {self.alg}, not {algorithm.name}")
        if self.use is not None and self.use != "sig":
            raise KeyMismatchError(f"key 'use' is {self.use!r}, not 'sig'")
        if self.key_ops is not None and op not in self.key_ops:
            raise KeyMismatchError(f"key 'key_ops' does not allow {op!r}")
        if not allow_weak_keys and self.size < algorithm.min_key_bits:
            raise WeakKeyError(
                f"{self.size}-bit key is below the {algorithm.min_key_bits}-bit minimum"
                f" for {algorithm.name}"
            )
        if op == "sign":
            if not self.is_private:
                raise KeyMismatchError("signing needs a private key")
            return self.raw
        return self._public_raw

    # -- constructors --------------------------------------------------------------------------

    @classmethod
    def from_cryptography(
        cls,
        obj: Any,
        *,
        kid: str | None = None,
        alg: str | None = None,
        use: str | None = None,
        key_ops: Sequence[str] | None = None,
    ) -> Key:
        """Wrap a pyca/cryptography key object (RSA, EC P-256/384/521/secp256k1, Ed25519, Ed448).

        Raises:
            InvalidKeyError: unsupported key type or curve.
            UnsupportedAlgorithmError, KeyMismatchError: ``alg`` unknown or not fitting the key.
        """
        if isinstance(obj, bytes | bytearray):
            raise InvalidKeyError("use Key.from_secret for HMAC secrets")
        return cls(obj, kid=kid, alg=alg, use=use, key_ops=key_ops, _trusted=True)

    @classmethod
    def from_secret(
        cls, secret: bytes | str, *, kid: str | None = None, alg: str | None = None
    ) -> Key:
        """Make an HMAC (``oct``) key from a shared secret (RFC 7518 §3.2).

        Args:
            secret: the secret (bytes; a str is UTF-8 encoded).
            kid: optional key id.
            alg: optional ``HS256``/``HS384``/``HS512`` binding.

        Raises:
            InvalidKeyError: empty, or it is public-key material (PEM, SSH, JWK JSON, DER SPKI or
                certificate), which must never be used as an HMAC secret (RFC 8725 §3.1, §2.1).
        """
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if not raw:
            raise InvalidKeyError("HMAC secret is empty")
        if _looks_public(raw):
            raise InvalidKeyError("public-key material cannot be used as an HMAC secret")
        return cls(raw, kid=kid, alg=alg, _trusted=True)

    @classmethod
    def generate(
        cls,
        kty: str = "EC",
        *,
        crv: str | None = None,
        size: int | None = None,
        alg: str | None = None,
        kid: str | None = None,
    ) -> Key:
        """Generate a new key.

        Args:
            kty: ``"EC"`` (crv ``P-256`` by default, ``P-384``, ``P-521``, ``secp256k1``),
                ``"RSA"`` (``size`` bits, 2048 by default), ``"OKP"`` (crv ``Ed25519`` by default,
                ``Ed448``) or ``"oct"`` (``size`` bits, 256 by default; or the ``alg``'s hash size).
            alg: bind the key to this algorithm (and pick curve/size from it when not given).
            kid: key id; for asymmetric keys it defaults to the RFC 7638 thumbprint.

        Returns:
            A private :class:`Key` (or secret).

        Raises:
            InvalidKeyError: unknown ``kty``/``crv`` or an impossible size.
        """
        if alg is not None:
            algorithm = get_algorithm(alg)
            if crv is None and algorithm.curves:
                crv = algorithm.curves[0]
            if kty == "EC" and algorithm.kty != "EC":
                kty = algorithm.kty
            if kty == "oct" and size is None:
                size = algorithm.min_key_bits
        if kty == "EC":
            entry = _CURVES.get(crv or "P-256")
            if entry is None:
                raise InvalidKeyError(f"unknown EC curve {crv!r}")
            raw: Any = ec.generate_private_key(entry[0]())
        elif kty == "RSA":
            bits = size or 2048
            if bits < 1024 or bits % 8:
                raise InvalidKeyError("RSA key size must be a multiple of 8 and at least 1024")
            raw = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        elif kty == "OKP":
            crv = crv or "Ed25519"
            if crv == "Ed25519":
                raw = ed25519.Ed25519PrivateKey.generate()
            elif crv == "Ed448":
                raw = ed448.Ed448PrivateKey.generate()
            else:
                raise InvalidKeyError(f"unknown OKP curve {crv!r}")
        elif kty == "oct":
            bits = size or 256
            if bits <= 0 or bits % 8:
                raise InvalidKeyError("secret size must be a positive multiple of 8 bits")
            return cls(_secrets.token_bytes(bits // 8), kid=kid, alg=alg, _trusted=True)
        else:
            raise InvalidKeyError(f"unknown kty {kty!r}")
        key = cls(raw, alg=alg, _trusted=True)
        key.kid = kid if kid is not None else key.thumbprint()
        return key

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any] | str | bytes) -> Key:
        """Import a JWK (RFC 7517 §4; members per RFC 7518 §6 and RFC 8037 §2).

        Args:
            jwk: the JWK as a dict, or its JSON text (str or bytes).

        Returns:
            The :class:`Key` (private when private members are present).

        Raises:
            InvalidKeyError: malformed JWK, unknown ``kty``/``crv``, wrong member types or sizes,
                a point not on the curve, or inconsistent private members.
            UnsupportedAlgorithmError, KeyMismatchError: ``alg`` unknown or not fitting the key.
        """
        if isinstance(jwk, str | bytes):
            try:
                jwk = _json.loads_object(jwk, "JWK")
            except MalformedError as exc:
                raise InvalidKeyError(exc.message) from None
        if not isinstance(jwk, Mapping):
            raise InvalidKeyError("JWK must be a JSON object")
        kty = _get_str(jwk, "kty")
        kid = _get_str(jwk, "kid", required=False)
        alg = _get_str(jwk, "alg", required=False)
        use = _get_str(jwk, "use", required=False)
        if use is not None and use not in _USES:
            raise InvalidKeyError(f"unknown JWK 'use' {use!r}")
        key_ops = jwk.get("key_ops")
        if key_ops is not None:
            if (
                not isinstance(key_ops, list)
                or not all(isinstance(op, str) for op in key_ops)
                or len(set(key_ops)) != len(key_ops)
            ):
                raise InvalidKeyError("JWK 'key_ops' must be a list of distinct strings")
            unknown = set(key_ops) - _KEY_OPS
            if unknown:
                raise InvalidKeyError(f"unknown JWK key_ops {sorted(unknown)}")
        if alg is not None and alg not in ALGORITHMS:
            # A key meant for another algorithm (JWE, or unknown): keep it unusable for JWS.
            raise UnsupportedAlgorithmError(f"JWK 'alg' {alg[:32]!r} is not a supported JWS alg")
        try:
            raw = _import_jwk(kty or "", jwk)
        except JWTKitError:
            raise
        except (ValueError, TypeError, _CryptoUnsupported) as exc:
            raise InvalidKeyError(f"invalid {kty} JWK: {exc}") from None
        return cls(raw, kid=kid, alg=alg, use=use, key_ops=key_ops, _trusted=True)

    @classmethod
    def from_pem(
        cls,
        data: bytes | str,
        password: bytes | None = None,
        *,
        kid: str | None = None,
        alg: str | None = None,
    ) -> Key:
        """Import a PEM key: SPKI, PKCS#1 (RSA), PKCS#8, SEC1 (EC), or an X.509 certificate.

        Raises:
            InvalidKeyError: not PEM, encrypted without the right password, or unsupported.
        """
        raw = data.encode("ascii", "replace") if isinstance(data, str) else data
        try:
            if b"CERTIFICATE-----" in raw:
                obj: Any = x509.load_pem_x509_certificate(raw).public_key()
            elif b"PRIVATE KEY-----" in raw:
                obj = serialization.load_pem_private_key(raw, password=password)
            else:
                obj = serialization.load_pem_public_key(raw)
        except (ValueError, TypeError, _CryptoUnsupported) as exc:
            raise InvalidKeyError(f"cannot load PEM key: {exc}") from None
        return cls.from_cryptography(obj, kid=kid, alg=alg)

    @classmethod
    def from_der(
        cls,
        data: bytes,
        password: bytes | None = None,
        *,
        kid: str | None = None,
        alg: str | None = None,
    ) -> Key:
        """Import a DER key: SPKI, PKCS#1, PKCS#8, SEC1, or an X.509 certificate.

        Raises:
            InvalidKeyError: not a DER key or certificate of a supported type.
        """
        loaders: tuple[Any, ...] = (
            lambda d: serialization.load_der_private_key(d, password=password),
            serialization.load_der_public_key,
            lambda d: x509.load_der_x509_certificate(d).public_key(),
        )
        for loader in loaders:
            try:
                obj = loader(bytes(data))
            except (ValueError, TypeError, _CryptoUnsupported):
                continue
            return cls.from_cryptography(obj, kid=kid, alg=alg)
        raise InvalidKeyError("cannot load DER key")

    # -- export ---------------------------------------------------------------------------------

    def public(self) -> Key:
        """Return the public half, with the same ``kid``/``alg``/``use``/``key_ops``.

        Raises:
            KeyMismatchError: ``oct`` keys have no public half.
        """
        if self.is_symmetric:
            raise KeyMismatchError("an HMAC secret has no public half")
        if not self.is_private:
            return self
        ops = self.key_ops
        if ops is not None:
            ops = tuple(op for op in ops if op not in ("sign", "decrypt", "unwrapKey"))
        return Key(
            self._public_raw, kid=self.kid, alg=self.alg, use=self.use, key_ops=ops, _trusted=True
        )

    def with_params(self, **params: Any) -> Key:
        """Return a copy with some of ``kid``, ``alg``, ``use``, ``key_ops`` replaced."""
        unknown = set(params) - {"kid", "alg", "use", "key_ops"}
        if unknown:
            raise TypeError(f"unknown key parameters {sorted(unknown)}")
        values: dict[str, Any] = {
            "kid": self.kid,
            "alg": self.alg,
            "use": self.use,
            "key_ops": self.key_ops,
        }
        values.update(params)
        return Key(self.raw, **values, _trusted=True)

    def _jwk_members(self, private: bool) -> dict[str, str]:
        raw = self.raw
        if self.kty == "oct":
            if not private:
                raise KeyMismatchError("an HMAC secret is private: pass private=True to export it")
            return {"kty": "oct", "k": b64e_str(raw)}
        pub = self._public_raw
        if self.kty == "RSA":
            nums = pub.public_numbers()
            out = {"kty": "RSA", "n": _uint_b64(nums.n), "e": _uint_b64(nums.e)}
            if private:
                pn = raw.private_numbers()
                out.update(
                    d=_uint_b64(pn.d),
                    p=_uint_b64(pn.p),
                    q=_uint_b64(pn.q),
                    dp=_uint_b64(pn.dmp1),
                    dq=_uint_b64(pn.dmq1),
                    qi=_uint_b64(pn.iqmp),
                )
            return out
        if self.kty == "EC":
            assert self.crv is not None
            size = _CURVES[self.crv][1]
            nums = pub.public_numbers()
            out = {
                "kty": "EC",
                "crv": self.crv,
                "x": _uint_b64(nums.x, size),
                "y": _uint_b64(nums.y, size),
            }
            if private:
                out["d"] = _uint_b64(raw.private_numbers().private_value, size)
            return out
        assert self.crv is not None
        out = {
            "kty": "OKP",
            "crv": self.crv,
            "x": b64e_str(
                pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            ),
        }
        if private:
            out["d"] = b64e_str(
                raw.private_bytes(
                    serialization.Encoding.Raw,
                    serialization.PrivateFormat.Raw,
                    serialization.NoEncryption(),
                )
            )
        return out

    def to_jwk(self, private: bool = False) -> dict[str, Any]:
        """Export as a JWK dict (RFC 7517 §4), public members only unless ``private``.

        Raises:
            KeyMismatchError: ``private=True`` on a public key, or ``private=False`` on an HMAC
                secret (it has no public form).
        """
        if private and not self.is_private:
            raise KeyMismatchError("this is a public key: it has no private members")
        out: dict[str, Any] = self._jwk_members(private)
        if self.kid is not None:
            out["kid"] = self.kid
        if self.alg is not None:
            out["alg"] = self.alg
        if self.use is not None:
            out["use"] = self.use
        if self.key_ops is not None:
            ops = self.key_ops
            if not private:
                ops = tuple(op for op in ops if op not in ("sign", "decrypt", "unwrapKey"))
            out["key_ops"] = list(ops)
        return out

    def to_pem(self, private: bool = False, password: bytes | None = None) -> bytes:
        """Export as PEM: PKCS#8 when ``private`` (encrypted when ``password`` is given), else SPKI.

        Raises:
            KeyMismatchError: HMAC secrets have no PEM form; ``private`` on a public key.
        """
        if self.is_symmetric:
            raise KeyMismatchError("an HMAC secret has no PEM form")
        if private:
            if not self.is_private:
                raise KeyMismatchError("this is a public key: it has no private form")
            enc: serialization.KeySerializationEncryption = (
                serialization.BestAvailableEncryption(password)
                if password
                else serialization.NoEncryption()
            )
            return self.raw.private_bytes(  # type: ignore[no-any-return]
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
            )
        return self._public_raw.public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def thumbprint(self, hash_alg: str = "sha256") -> str:
        """Return the JWK Thumbprint (RFC 7638 §3), base64url-encoded (str).

        Args:
            hash_alg: a hashlib name (``"sha256"`` by default).
        """
        members = self._jwk_members(private=self.is_symmetric)
        required = {"oct": ("k",), "RSA": ("e", "n"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x")}[
            self.kty
        ]
        canonical = {name: members[name] for name in (*required, "kty")}
        data = _json.dumps(dict(sorted(canonical.items())))
        return b64e_str(hashlib.new(hash_alg, data).digest())

    def thumbprint_uri(self, hash_alg: str = "sha256") -> str:
        """Return the JWK Thumbprint URI (RFC 9278 §3), e.g.
        ``urn:ietf:params:oauth:jwk-thumbprint:sha-256:<thumbprint>``."""
        name = {"sha256": "sha-256", "sha384": "sha-384", "sha512": "sha-512"}.get(hash_alg)
        if name is None:
            raise InvalidKeyError(f"no registered thumbprint URI hash name for {hash_alg!r}")
        return f"urn:ietf:params:oauth:jwk-thumbprint:{name}:{self.thumbprint(hash_alg)}"


def _eddsa_equivalent(bound: str, alg: str) -> bool:
    # RFC 9864: "Ed25519"/"Ed448" are the fully-specified names of EdDSA on one curve.
    return {bound, alg} in ({"EdDSA", "Ed25519"}, {"EdDSA", "Ed448"})


def _import_jwk(kty: str, jwk: Mapping[str, Any]) -> Any:
    if kty == "oct":
        k = _get_b64(jwk, "k")
        assert k is not None
        if not k:
            raise InvalidKeyError("oct JWK has an empty 'k'")
        return k
    if kty == "RSA":
        n, e = _get_uint(jwk, "n"), _get_uint(jwk, "e")
        assert n is not None and e is not None
        public = rsa.RSAPublicNumbers(e, n)
        d = _get_uint(jwk, "d", required=False)
        if d is None:
            for name in ("p", "q", "dp", "dq", "qi", "oth"):
                if name in jwk:
                    raise InvalidKeyError(f"RSA JWK has '{name}' but no 'd'")
            return public.public_key()
        if "oth" in jwk:
            raise InvalidKeyError("multi-prime RSA keys ('oth') are not supported")
        crt = [_get_uint(jwk, name, required=False) for name in ("p", "q", "dp", "dq", "qi")]
        if all(v is None for v in crt):
            p, q = rsa.rsa_recover_prime_factors(n, e, d)
            crt = [p, q, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q), rsa.rsa_crt_iqmp(p, q)]
        elif any(v is None for v in crt):
            raise InvalidKeyError("RSA JWK has some but not all of p, q, dp, dq, qi")
        p, q, dp, dq, qi = (int(v or 0) for v in crt)
        return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, public).private_key()
    if kty == "EC":
        crv = _get_str(jwk, "crv")
        entry = _CURVES.get(crv or "")
        if entry is None:
            raise InvalidKeyError(f"unsupported EC curve {crv!r}")
        curve_cls, size = entry
        coords = []
        for name in ("x", "y"):
            raw = _get_b64(jwk, name)
            assert raw is not None
            if len(raw) != size:
                raise InvalidKeyError(f"EC JWK '{name}' must be {size} bytes (RFC 7518 §6.2.1)")
            coords.append(int.from_bytes(raw, "big"))
        public_ec = ec.EllipticCurvePublicNumbers(coords[0], coords[1], curve_cls())
        d_raw = _get_b64(jwk, "d", required=False)
        if d_raw is None:
            return public_ec.public_key()
        if len(d_raw) != size:
            raise InvalidKeyError(f"EC JWK 'd' must be {size} bytes (RFC 7518 §6.2.2.1)")
        priv = ec.EllipticCurvePrivateNumbers(int.from_bytes(d_raw, "big"), public_ec)
        return priv.private_key()
    if kty == "OKP":
        crv = _get_str(jwk, "crv")
        if crv not in _OKP_CURVES:
            raise InvalidKeyError(f"unsupported OKP curve {crv!r} for signatures")
        x = _get_b64(jwk, "x")
        assert x is not None
        if len(x) != _OKP_CURVES[crv]:
            raise InvalidKeyError(f"OKP JWK 'x' has the wrong length for {crv}")
        d_okp = _get_b64(jwk, "d", required=False)
        mod: Any = ed25519 if crv == "Ed25519" else ed448
        priv_cls = mod.Ed25519PrivateKey if crv == "Ed25519" else mod.Ed448PrivateKey
        pub_cls = mod.Ed25519PublicKey if crv == "Ed25519" else mod.Ed448PublicKey
        if d_okp is None:
            return pub_cls.from_public_bytes(x)
        if len(d_okp) != _OKP_CURVES[crv]:
            raise InvalidKeyError(f"OKP JWK 'd' has the wrong length for {crv}")
        okp = priv_cls.from_private_bytes(d_okp)
        derived = okp.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        if derived != x:
            raise InvalidKeyError("OKP JWK 'd' does not match 'x'")
        return okp
    raise InvalidKeyError(f"unsupported kty {kty!r}")


class KeySet:
    """A JWK Set (RFC 7517 §5) with unambiguous lookup.

    Keys are found by ``kid``; with no ``kid`` in the header, the keys that fit the ``alg``
    are candidates. Two keys of the same type with the same ``kid`` make the set invalid.
    """

    __slots__ = ("_by_kid", "keys")

    def __init__(self, keys: Iterable[Key]) -> None:
        """Build a set from :class:`Key` objects.

        Raises:
            InvalidKeyError: a member is not a Key, or two keys of one type share a ``kid``.
        """
        self.keys: tuple[Key, ...] = tuple(keys)
        by_kid: dict[str, list[Key]] = {}
        for key in self.keys:
            if not isinstance(key, Key):
                raise InvalidKeyError("a KeySet holds Key objects only")
            if key.kid is not None:
                same = by_kid.setdefault(key.kid, [])
                if any(other.kty == key.kty for other in same):
                    raise InvalidKeyError(f"duplicate kid {key.kid!r} in JWK Set")
                same.append(key)
        self._by_kid = by_kid

    @classmethod
    def from_jwks(
        cls, jwks: Mapping[str, Any] | str | bytes, *, skip_unusable: bool = False
    ) -> KeySet:
        """Import a JWK Set (RFC 7517 §5).

        Args:
            jwks: ``{"keys": [...]}`` as a dict, or its JSON text.
            skip_unusable: ignore members that cannot be imported for JWS (unknown ``kty``,
                encryption-only ``alg``, ...) instead of failing, as RFC 7517 §5 allows. Malformed
                members of a known type still fail.

        Raises:
            InvalidKeyError: not a JWK Set, a bad member, duplicate ``kid``, or public keys mixed
                with private keys or secrets.
        """
        if isinstance(jwks, str | bytes):
            try:
                jwks = _json.loads_object(jwks, "JWK Set")
            except MalformedError as exc:
                raise InvalidKeyError(exc.message) from None
        members = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(members, list):
            raise InvalidKeyError("a JWK Set needs a 'keys' array")
        keys = []
        for member in members:
            try:
                keys.append(Key.from_jwk(member))
            except (UnsupportedAlgorithmError, InvalidKeyError) as exc:
                unsupported = isinstance(exc, UnsupportedAlgorithmError) or (
                    isinstance(member, Mapping)
                    and (
                        member.get("kty") not in ("oct", "RSA", "EC", "OKP")
                        or member.get("crv") in ("X25519", "X448")
                    )
                )
                if not (skip_unusable and unsupported):
                    raise
        if len({k.is_private for k in keys}) > 1:
            # Secrets or private keys beside public keys: a published set holds public keys only
            # (Wycheproof json_web_key_test "MixedKeySet"; RFC 8725 §3.1 key confusion).
            raise InvalidKeyError("a JWK Set must not mix public keys with private keys/secrets")
        return cls(keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[Key]:
        return iter(self.keys)

    def __repr__(self) -> str:
        return f"KeySet({list(self.keys)!r})"

    def get(self, kid: str) -> Key | None:
        """Return the key with this ``kid`` (the first, if several types share it), or None."""
        found = self._by_kid.get(kid)
        return found[0] if found else None

    def candidates(self, header: Mapping[str, Any]) -> list[Key]:
        """Return the keys that may verify a JWS with this header (``alg``, optional ``kid``).

        Raises:
            MalformedError: ``kid`` is not a string.
            KeyNotFoundError: no key fits.
            KeyMismatchError: no ``kid`` and the fitting keys are of different types/curves.
        """
        alg = header.get("alg")
        kid = header.get("kid")
        if kid is not None:
            if not isinstance(kid, str):
                raise MalformedError("'kid' must be a string")
            pool: Sequence[Key] = self._by_kid.get(kid, ())
        else:
            pool = self.keys
        found = [k for k in pool if isinstance(alg, str) and k.allows(alg)]
        if not found:
            raise KeyNotFoundError("no key in the JWK Set fits the token's kid/alg")
        if len({(k.kty, k.crv) for k in found}) > 1:
            raise KeyMismatchError("ambiguous key selection: several key types fit")
        return found

    def resolve_key(self, header: Mapping[str, Any]) -> Key:
        """Return the one key for ``header`` (KeyResolver protocol).

        Raises:
            KeyNotFoundError: none fits; KeyMismatchError: more than one fits.
        """
        found = self.candidates(header)
        if len(found) > 1:
            raise KeyMismatchError("ambiguous key selection: add a 'kid' to the token")
        return found[0]

    def to_jwks(self, private: bool = False) -> dict[str, Any]:
        """Export as ``{"keys": [...]}``; public members only unless ``private``.

        With ``private=False``, HMAC secrets are left out (they have no public form).
        """
        if private:
            return {"keys": [k.to_jwk(private=k.is_private) for k in self.keys]}
        return {"keys": [k.to_jwk() for k in self.keys if not k.is_symmetric]}
