"""JSON Web Encryption (RFC 7516) with the algorithms of RFC 7518 §4-§5 and RFC 8037 §3.2.

Compact, JSON general and JSON flattened serializations, several recipients, JWE AAD, shared and
per-recipient unprotected headers. Every primitive is pyca/cryptography's (AES-GCM, AES key wrap,
Concat KDF, PBKDF2, RSA-OAEP, ECDH, X25519/X448); tags are compared in constant time.

Safe by default (RFC 8725 §3): the ``alg``, ``enc`` and ``zip`` allow-lists are required
arguments, never taken from the token; PBES2 ``p2c`` is capped and refused before any PBKDF2 work;
``zip: DEF`` is inflated only when allowed and only up to a cap, checked while inflating; GCM tags
are exactly 16 bytes; an ECDH-ES ``epk`` must be a valid point on the recipient key's own curve;
CBC-HMAC tags are checked before anything is decrypted; ``crit`` is processed as for JWS; a key
is used only with an ``alg`` it fits (type, curve, bound ``alg``, ``use``, ``key_ops``, exact size
for ``oct``); RSA1_5 is never produced and decrypts only behind ``allow_rsa1_5=True``, with the
RFC 7516 §11.5 random-CEK defence. Every failure is a :class:`~jwtkit.errors.JWTKitError`.
Header parameters ``jwk``, ``jku``, ``x5u`` and ``x5c`` are never used to find a key.
"""

from __future__ import annotations

import hmac
import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import padding as _pkcs7
from cryptography.hazmat.primitives.asymmetric import ec, padding, x448, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from jwtkit import _json
from jwtkit._b64 import b64d, b64e, b64e_str
from jwtkit.errors import (
    AlgorithmNotAllowedError,
    DecryptionError,
    InvalidKeyError,
    JWTKitError,
    KeyMismatchError,
    KeyNotFoundError,
    LimitExceededError,
    MalformedError,
    TokenTooLargeError,
    UnsupportedAlgorithmError,
    WeakKeyError,
)
from jwtkit.jwa import (
    ContentEncryption,
    KeyManagement,
    get_content_encryption,
    get_key_management,
)
from jwtkit.jwk import Key, KeyResolver, KeySet
from jwtkit.jws import (
    Policy,
    _payload_bytes,
    as_key_source,
    check_crit,
    check_json_size,
    pyca_key,
    resolve_with,
)

__all__ = [
    "DEFAULT_MAX_P2C",
    "DEFAULT_MAX_PLAINTEXT_SIZE",
    "DEFAULT_MAX_RECIPIENTS",
    "DEFAULT_MAX_TOKEN_SIZE",
    "DEFAULT_P2C",
    "DecryptedJWE",
    "Decrypter",
    "Encryption",
    "Recipient",
    "decrypt",
    "decrypt_detailed",
    "encrypt",
    "encrypt_json",
]

DEFAULT_MAX_TOKEN_SIZE = 262144
"""Default cap on a serialized JWE, in bytes (characters), checked before anything else."""
DEFAULT_MAX_HEADER_SIZE = 4096
"""Default cap on the encoded protected header (and on each JSON unprotected header), bytes."""
DEFAULT_MAX_P2C = 10000
"""Default cap on the PBES2 iteration count ``p2c`` (RFC 7518 §4.8.1.2), checked before PBKDF2."""
DEFAULT_P2C = 8192
"""PBES2 iteration count used by :func:`encrypt` unless ``headers`` sets ``p2c``."""
DEFAULT_MAX_PLAINTEXT_SIZE = 250000
"""Default cap on an inflated ``zip: DEF`` plaintext, bytes (250 kB), checked while inflating."""
DEFAULT_MAX_RECIPIENTS = 16
"""Default cap on the recipients of a JWE JSON (each may cost an RSA or PBKDF2 operation)."""

_NO_CRIT_EXTENSIONS: frozenset[str] = frozenset()
_DECRYPT_OPS = frozenset(("decrypt", "unwrapKey", "deriveKey", "deriveBits"))
_ENCRYPT_OPS = frozenset(("encrypt", "wrapKey", "deriveKey", "deriveBits"))
_GCM_TAG = 16
_HASHES: Mapping[str, Callable[[], hashes.HashAlgorithm]] = {
    "SHA1": hashes.SHA1,
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}
_EPHEMERAL: Mapping[str, Callable[[], Any]] = {
    "P-256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "P-384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "P-521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "X25519": x25519.X25519PrivateKey.generate,
    "X448": x448.X448PrivateKey.generate,
}
_ECDH = ec.ECDH()
_EPK_CURVES: Mapping[str, tuple[ec.EllipticCurve | None, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
    "X25519": (None, 32),
    "X448": (None, 56),
}
_OKP_PUBLIC: Mapping[str, Callable[[bytes], Any]] = {
    "X25519": x25519.X25519PublicKey.from_public_bytes,
    "X448": x448.X448PublicKey.from_public_bytes,
}

KeyLike = Key | KeySet | KeyResolver | bytes | str


# -- content encryption (RFC 7518 §5.2, §5.3) -------------------------------------------------


def _gcm_seal(ce: ContentEncryption, cek: bytes, iv: bytes, pt: bytes, aad: bytes) -> bytes:
    return AESGCM(cek).encrypt(iv, pt, aad)  # ciphertext || 16-byte tag


def _gcm_open(
    ce: ContentEncryption, cek: bytes, iv: bytes, ct: bytes, tag: bytes, aad: bytes
) -> bytes:
    try:
        return AESGCM(cek).decrypt(iv, ct + tag, aad)
    except InvalidTag:
        raise DecryptionError from None


def _cbc_tag(ce: ContentEncryption, mac_key: bytes, aad: bytes, iv: bytes, ct: bytes) -> bytes:
    al = (len(aad) * 8).to_bytes(8, "big")  # RFC 7518 §5.2.2.1: AAD length in bits
    digest = hmac.digest(mac_key, aad + iv + ct + al, ce.hash_name.lower())  # type: ignore[union-attr]
    return digest[: ce.tag_bytes]


def _cbc_seal(ce: ContentEncryption, cek: bytes, iv: bytes, pt: bytes, aad: bytes) -> bytes:
    half = ce.cek_bytes // 2
    padder = _pkcs7.PKCS7(128).padder()
    data = padder.update(pt) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cek[half:]), modes.CBC(iv)).encryptor()
    ct = encryptor.update(data) + encryptor.finalize()
    return ct + _cbc_tag(ce, cek[:half], aad, iv, ct)


def _cbc_open(
    ce: ContentEncryption, cek: bytes, iv: bytes, ct: bytes, tag: bytes, aad: bytes
) -> bytes:
    half = ce.cek_bytes // 2
    # The tag is checked, in constant time, before anything is decrypted (RFC 7518 §5.2.2.2).
    if not hmac.compare_digest(_cbc_tag(ce, cek[:half], aad, iv, ct), tag):
        raise DecryptionError
    if not ct or len(ct) % 16:
        raise DecryptionError
    decryptor = Cipher(algorithms.AES(cek[half:]), modes.CBC(iv)).decryptor()
    data = decryptor.update(ct) + decryptor.finalize()
    unpadder = _pkcs7.PKCS7(128).unpadder()
    try:
        return unpadder.update(data) + unpadder.finalize()
    except ValueError:
        raise DecryptionError from None


_CONTENT: Mapping[str, tuple[Callable[..., bytes], Callable[..., bytes]]] = {
    "GCM": (_gcm_seal, _gcm_open),
    "CBC-HS": (_cbc_seal, _cbc_open),
}


# -- header parameters ------------------------------------------------------------------------


def _b64_param(header: Mapping[str, Any], name: str) -> bytes:
    value = header.get(name)
    if type(value) is not str:
        raise MalformedError(f"JWE header {name!r} must be a base64url string")
    return b64d(value, f"header {name!r}")


def _party_info(header: Mapping[str, Any], name: str) -> bytes:
    return _b64_param(header, name) if name in header else b""


def _concat_kdf(z: bytes, algid: str, bits: int, header: Mapping[str, Any]) -> bytes:
    """RFC 7518 §4.6.2: Concat KDF (NIST SP 800-56A §5.8.1) with SHA-256, via pyca."""

    def lp(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    other = (
        lp(algid.encode("ascii"))
        + lp(_party_info(header, "apu"))
        + lp(_party_info(header, "apv"))
        + bits.to_bytes(4, "big")
    )
    return ConcatKDFHash(hashes.SHA256(), bits // 8, other).derive(z)


def _epk_public(header: Mapping[str, Any], key: Key) -> Any:
    """The ``epk`` as a pyca public key on ``key``'s own curve (RFC 7518 §4.6.1.1)."""
    epk = header.get("epk")
    if type(epk) is not dict:
        raise MalformedError("ECDH-ES needs an 'epk' object in the header")
    if "d" in epk:
        raise MalformedError("'epk' must be a public key")
    if epk.get("kty") != key.kty or epk.get("crv") != key.crv:
        raise InvalidKeyError("'epk' is not on the recipient key's curve")
    curve, size = _EPK_CURVES[key.crv]  # type: ignore[index]
    try:
        x = _b64_param(epk, "x")
        if len(x) != size:
            raise ValueError
        if curve is None:  # X25519 / X448: small-order points fail in the exchange
            return _OKP_PUBLIC[key.crv](x)  # type: ignore[index]
        y = _b64_param(epk, "y")
        if len(y) != size:
            raise ValueError
        # pyca checks that the point is on the recipient's curve (not the identity).
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve
        ).public_key()
    except (ValueError, MalformedError):
        raise InvalidKeyError("'epk' is not a valid public key on the recipient's curve") from None


def _exchange(private: Any, public: Any, kty: str) -> bytes:
    try:
        if kty == "EC":
            return private.exchange(_ECDH, public)  # type: ignore[no-any-return]
        return private.exchange(public)  # type: ignore[no-any-return]
    except ValueError:  # e.g. an all-zero X25519/X448 shared secret (RFC 7748 §6)
        raise InvalidKeyError("'epk' gives no usable shared secret") from None


def _check_params(km: KeyManagement, header: Mapping[str, Any], max_p2c: int) -> None:
    """Cheap checks of the alg's own parameters, before any key work (RFC 8725 §3.5)."""
    family = km.family
    if family == "PBES2":
        p2c = header.get("p2c")
        if type(p2c) is not int or p2c < 1:
            raise MalformedError("PBES2 needs a positive integer 'p2c'")
        if p2c > max_p2c:
            raise LimitExceededError(f"PBES2 'p2c' is above the cap of {max_p2c}")
        if len(_b64_param(header, "p2s")) < 8:  # RFC 7518 §4.8.1.1
            raise MalformedError("PBES2 'p2s' must be at least 8 bytes")
    elif family == "AESGCMKW":
        if len(_b64_param(header, "iv")) != 12:
            raise MalformedError("A*GCMKW 'iv' must be 12 bytes")
        if len(_b64_param(header, "tag")) != _GCM_TAG:
            raise DecryptionError
    elif family in ("ECDH-ES", "ECDH-ES+KW"):
        if type(header.get("epk")) is not dict:
            raise MalformedError("ECDH-ES needs an 'epk' object in the header")
        for name in ("apu", "apv"):
            if name in header:
                _b64_param(header, name)


# -- key management (RFC 7518 §4) -------------------------------------------------------------
# wrap(op, cek or None, params in, params out) -> (cek, encrypted key)
# unwrap(op, header, encrypted key) -> cek


@dataclass(slots=True)
class _Op:
    """One key management operation: the algorithms, the key and its pyca object / secret."""

    km: KeyManagement
    ce: ContentEncryption
    key: Key
    raw: Any
    max_p2c: int = DEFAULT_MAX_P2C


def _oaep(km: KeyManagement) -> padding.OAEP:
    h = _HASHES[km.hash_name or "SHA1"]()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def _cek_for(ce: ContentEncryption, cek: bytes | None) -> bytes:
    return cek if cek is not None else os.urandom(ce.cek_bytes)


def _wrap_rsa_oaep(
    op: _Op, cek: bytes | None, params: Mapping[str, Any], out: dict[str, Any]
) -> tuple[bytes, bytes]:
    cek = _cek_for(op.ce, cek)
    return cek, op.raw.encrypt(cek, _oaep(op.km))


def _unwrap_rsa_oaep(op: _Op, header: Mapping[str, Any], ek: bytes) -> bytes:
    try:
        cek: bytes = op.raw.decrypt(ek, _oaep(op.km))
    except ValueError:
        raise DecryptionError from None
    if len(cek) != op.ce.cek_bytes:  # a CEK of the wrong size for the enc is refused
        raise DecryptionError
    return cek


def _unwrap_rsa1_5(op: _Op, header: Mapping[str, Any], ek: bytes) -> bytes:
    # RFC 7516 §11.5 (Bleichenbacher): on any padding or length failure carry on with a random
    # CEK, so that the failure surfaces as the same tag failure as any other wrong key.
    random_cek = os.urandom(op.ce.cek_bytes)
    try:
        cek: bytes = op.raw.decrypt(ek, padding.PKCS1v15())
    except ValueError:
        return random_cek
    return cek if len(cek) == op.ce.cek_bytes else random_cek


def _refuse_wrap(*args: Any) -> tuple[bytes, bytes]:
    raise UnsupportedAlgorithmError("RSA1_5 is decrypt-only (RFC 8725 §3.2)")


def _wrap_aeskw(
    op: _Op, cek: bytes | None, params: Mapping[str, Any], out: dict[str, Any]
) -> tuple[bytes, bytes]:
    cek = _cek_for(op.ce, cek)
    return cek, aes_key_wrap(op.raw, cek)


def _aes_unwrap(kek: bytes, ek: bytes, ce: ContentEncryption) -> bytes:
    try:
        cek = aes_key_unwrap(kek, ek)
    except (InvalidUnwrap, ValueError):
        raise DecryptionError from None
    if len(cek) != ce.cek_bytes:
        raise DecryptionError
    return cek


def _unwrap_aeskw(op: _Op, header: Mapping[str, Any], ek: bytes) -> bytes:
    return _aes_unwrap(op.raw, ek, op.ce)


def _wrap_aesgcmkw(
    op: _Op, cek: bytes | None, params: Mapping[str, Any], out: dict[str, Any]
) -> tuple[bytes, bytes]:
    cek = _cek_for(op.ce, cek)
    iv = os.urandom(12)
    sealed = AESGCM(op.raw).encrypt(iv, cek, None)
    out["iv"] = b64e_str(iv)
    out["tag"] = b64e_str(sealed[-_GCM_TAG:])
    return cek, sealed[:-_GCM_TAG]


def _unwrap_aesgcmkw(op: _Op, header: Mapping[str, Any], ek: bytes) -> bytes:
    iv, tag = _b64_param(header, "iv"), _b64_param(header, "tag")
    if len(iv) != 12 or len(tag) != _GCM_TAG:
        raise DecryptionError
    try:
        cek = AESGCM(op.raw).decrypt(iv, ek + tag, None)
    except InvalidTag:
        raise DecryptionError from None
    if len(cek) != op.ce.cek_bytes:
        raise DecryptionError
    return cek


def _wrap_dir(
    op: _Op, cek: bytes | None, params: Mapping[str, Any], out: dict[str, Any]
) -> tuple[bytes, bytes]:
    return op.raw, b""


def _unwrap_dir(op: _Op, header: Mapping[str, Any], ek: bytes) -> bytes:
    if ek:
        raise MalformedError("'dir' has an empty JWE Encrypted Key (RFC 7518 §4.5)")
    return op.raw  # type: ignore[no-any-return]


def _wrap_ecdh(
    op: _Op, cek: bytes | None, params: Mapping[str, Any], out: dict[str, Any]
) -> tuple[bytes, bytes]:
    assert op.key.crv is not None
    ephemeral = _EPHEMERAL[op.key.crv]()
    z = _exchange(ephemeral, op.raw, op.key.kty)
    out["epk"] = Key.from_cryptography(ephemeral.public_key()).to_jwk()
    if op.km.kek_bits:  # ECDH-ES+A*KW: the derived key wraps the CEK (RFC 7518 §4.7)
        kek = _concat_kdf(z, op.km.name, op.km.kek_bits, params)
        cek = _cek_for(op.ce, cek)
        return cek, aes_key_wrap(kek, cek)
    return _concat_kdf(z, op.ce.name, op.ce.cek_bytes * 8, params), b""  # direct agreement


def _unwrap_ecdh(op: _Op, header: Mapping[str, Any], ek: bytes) -> bytes:
    z = _exchange(op.raw, _epk_public(header, op.key), op.key.kty)
    if op.km.kek_bits:
        return _aes_unwrap(_concat_kdf(z, op.km.name, op.km.kek_bits, header), ek, op.ce)
    if ek:
        raise MalformedError("ECDH-ES has an empty JWE Encrypted Key (RFC 7518 §4.6)")
    return _concat_kdf(z, op.ce.name, op.ce.cek_bytes * 8, header)


def _pbes2_kek(km: KeyManagement, password: bytes, salt: bytes, count: int) -> bytes:
    full_salt = km.name.encode("ascii") + b"\x00" + salt  # RFC 7518 §4.8.1.1
    kdf = PBKDF2HMAC(_HASHES[km.hash_name or "SHA256"](), km.kek_bits // 8, full_salt, count)
    return kdf.derive(password)


def _wrap_pbes2(
    op: _Op, cek: bytes | None, params: Mapping[str, Any], out: dict[str, Any]
) -> tuple[bytes, bytes]:
    salt = _b64_param(params, "p2s") if "p2s" in params else os.urandom(16)
    count = params.get("p2c", DEFAULT_P2C)
    if type(count) is not int or count < 1:
        raise MalformedError("PBES2 'p2c' must be a positive integer")
    if len(salt) < 8:
        raise MalformedError("PBES2 'p2s' must be at least 8 bytes")
    out["p2s"], out["p2c"] = b64e_str(salt), count
    cek = _cek_for(op.ce, cek)
    return cek, aes_key_wrap(_pbes2_kek(op.km, op.raw, salt, count), cek)


def _unwrap_pbes2(op: _Op, header: Mapping[str, Any], ek: bytes) -> bytes:
    _check_params(op.km, header, op.max_p2c)  # p2c capped before any PBKDF2 work
    kek = _pbes2_kek(op.km, op.raw, _b64_param(header, "p2s"), header["p2c"])
    return _aes_unwrap(kek, ek, op.ce)


_KEY_MANAGEMENT: Mapping[str, tuple[Callable[..., tuple[bytes, bytes]], Callable[..., bytes]]] = {
    "RSA-OAEP": (_wrap_rsa_oaep, _unwrap_rsa_oaep),
    "RSA1_5": (_refuse_wrap, _unwrap_rsa1_5),
    "AESKW": (_wrap_aeskw, _unwrap_aeskw),
    "AESGCMKW": (_wrap_aesgcmkw, _unwrap_aesgcmkw),
    "dir": (_wrap_dir, _unwrap_dir),
    "ECDH-ES": (_wrap_ecdh, _unwrap_ecdh),
    "ECDH-ES+KW": (_wrap_ecdh, _unwrap_ecdh),
    "PBES2": (_wrap_pbes2, _unwrap_pbes2),
}


# -- keys -------------------------------------------------------------------------------------


def usable_raw(
    key: Key,
    km: KeyManagement,
    ce: ContentEncryption,
    decrypting: bool,
    allow_weak_keys: bool = False,
) -> Any:
    """Check that ``key`` may do ``km`` with ``ce`` and return the pyca key object / secret.

    Type and curve must fit; a bound ``alg`` must be ``km`` (or, for ``dir``, the ``enc``);
    ``use`` must be ``enc``; ``key_ops`` must allow a decryption (encryption) operation; RSA
    keys have >= 2048 bits; ``oct`` keys have exactly the size A*KW / A*GCMKW / ``dir`` needs.

    Raises:
        KeyMismatchError, WeakKeyError.
    """
    if not km.fits(key.kty, key.crv):
        raise KeyMismatchError(f"a {key.kty} key cannot be used with {km.name}")
    if (
        key.alg is not None
        and key.alg != km.name
        and not (km.family == "dir" and key.alg == ce.name)
    ):
        raise KeyMismatchError(f"key is bound to {key.alg}, not {km.name}")
    if key.use is not None and key.use != "enc":
        raise KeyMismatchError(f"key 'use' is {key.use!r}, not 'enc'")
    if key.key_ops is not None and not (_DECRYPT_OPS if decrypting else _ENCRYPT_OPS) & set(
        key.key_ops
    ):
        raise KeyMismatchError("key 'key_ops' does not allow this operation")
    if key.is_symmetric:
        size = km.kek_bits // 8 if km.family in ("AESKW", "AESGCMKW") else 0
        if km.family == "dir":
            size = ce.cek_bytes
        if size and len(key.raw) != size:
            raise KeyMismatchError(f"{km.name} with {ce.name} needs a {size * 8}-bit key")
        return key.raw
    if key.size < km.min_key_bits and not allow_weak_keys:
        raise WeakKeyError(f"{key.size}-bit key is below the {km.min_key_bits}-bit minimum")
    if decrypting:
        if not key.is_private:
            raise KeyMismatchError("decryption needs a private key")
        return key.raw
    return key.public().raw if key.is_private else key.raw


def _encryption_key(key: Key | bytes | str | Any, km: KeyManagement) -> Key:
    if isinstance(key, Key):
        return key
    if isinstance(key, bytes | bytearray | str):
        material = key if isinstance(key, str) else bytes(key)
        return Key.from_secret(material) if km.family == "PBES2" else Key.from_material(material)
    wrapped = pyca_key(key)
    if wrapped is None:
        raise TypeError(f"key must be a Key, bytes or str, not {type(key).__name__}")
    return wrapped


# -- encryption -------------------------------------------------------------------------------


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # RFC 1951 raw DEFLATE
    return compressor.compress(data) + compressor.flush()


def _compression(value: str | None) -> str | None:
    if value is None:
        return None
    if value != "DEF":
        raise UnsupportedAlgorithmError(f"unsupported zip {str(value)[:16]!r}; only DEF exists")
    return value


def _merge_headers(
    base: dict[str, Any], extra: Mapping[str, Any] | None, fixed: Mapping[str, Any]
) -> dict[str, Any]:
    for name, value in (extra or {}).items():
        if name in fixed:
            if value != fixed[name]:
                raise MalformedError(f"headers[{name!r}] disagrees with the arguments")
            continue
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    for name in ("kid", "typ", "cty"):
        if name in base and type(base[name]) is not str:
            raise MalformedError(f"header {name!r} must be a string")
    return base


@dataclass(frozen=True, slots=True)
class Recipient:
    """One recipient of :func:`encrypt_json`.

    Attributes:
        key: the recipient's public key (RSA/EC/OKP), or the shared secret / password
            (:class:`~jwtkit.Key`, bytes or str).
        algorithm: the key management ``alg`` (str), e.g. ``"ECDH-ES+A256KW"``.
        header: per-recipient unprotected header members (dict) or None (RFC 7516 §7.2.1).
    """

    key: Key | bytes | str
    algorithm: str
    header: Mapping[str, Any] | None = None


def _seal_recipient(
    recipient: Recipient,
    ce: ContentEncryption,
    cek: bytes | None,
    params: Mapping[str, Any],
    allow_weak_keys: bool,
) -> tuple[Key, KeyManagement, bytes, bytes, dict[str, Any]]:
    km = get_key_management(recipient.algorithm)
    if km.decrypt_only:
        raise UnsupportedAlgorithmError(f"{km.name} is decrypt-only (RFC 8725 §3.2)")
    key = _encryption_key(recipient.key, km)
    raw = usable_raw(key, km, ce, False, allow_weak_keys)
    out: dict[str, Any] = {}
    cek, ek = _KEY_MANAGEMENT[km.family][0](_Op(km, ce, key, raw), cek, params, out)
    return key, km, cek, ek, out


def _seal_content(
    ce: ContentEncryption, cek: bytes, plaintext: bytes, aad: bytes
) -> tuple[bytes, bytes, bytes]:
    iv = os.urandom(ce.iv_bytes)
    sealed = _CONTENT[ce.family][0](ce, cek, iv, plaintext, aad)
    return iv, sealed[: -ce.tag_bytes], sealed[-ce.tag_bytes :]


def encrypt(
    plaintext: bytes | str,
    key: Key | bytes | str,
    algorithm: str,
    encryption: str,
    *,
    compression: str | None = None,
    headers: Mapping[str, Any] | None = None,
    allow_weak_keys: bool = False,
) -> str:
    """Encrypt ``plaintext`` and return a compact JWE (RFC 7516 §7.1).

    Args:
        plaintext: bytes (str is UTF-8 encoded).
        key: the recipient's public key (RSA-OAEP*, ECDH-ES*: a :class:`~jwtkit.Key`, PEM/JWK
            text or a pyca key), the shared secret (A*KW, A*GCMKW, ``dir``: exactly the size the
            ``alg``/``enc`` needs), or the password (PBES2: a Key, bytes or str).
        algorithm: the key management ``alg`` (RFC 7518 §4.1); RSA1_5 is refused.
        encryption: the content encryption ``enc`` (RFC 7518 §5.1).
        compression: ``"DEF"`` to compress before encrypting (RFC 7516 §4.1.3), or None.
        headers: extra protected header members (``typ``, ``cty``, ``kid``; ``apu``/``apv`` for
            ECDH-ES, ``p2c``/``p2s`` for PBES2); a None value removes a default (``kid``).
        allow_weak_keys: allow RSA keys under 2048 bits.

    Returns:
        The compact JWE (str): five base64url segments.

    Raises:
        UnsupportedAlgorithmError, KeyMismatchError, WeakKeyError, InvalidKeyError,
        MalformedError (headers disagreeing with the arguments or not serializable);
        TypeError: plaintext or key of the wrong type.
    """
    body = _payload_bytes(plaintext)
    ce = get_content_encryption(encryption)
    zip_alg = _compression(compression)
    params = dict(headers or {})
    key_obj, km, cek, ek, out = _seal_recipient(
        Recipient(key, algorithm), ce, None, params, allow_weak_keys
    )
    fixed: dict[str, Any] = {"alg": km.name, "enc": ce.name}
    if zip_alg:
        fixed["zip"] = zip_alg
    header: dict[str, Any] = dict(fixed)
    if key_obj.kid is not None:
        header["kid"] = key_obj.kid
    header = _merge_headers(header, params, {**fixed, **out})
    header.update(out)
    h = b64e(_json.dumps(header))
    iv, ct, tag = _seal_content(ce, cek, _deflate(body) if zip_alg else body, h)
    return b".".join((h, b64e(ek), b64e(iv), b64e(ct), b64e(tag))).decode("ascii")


def encrypt_json(
    plaintext: bytes | str,
    recipients: Sequence[Recipient | tuple[Any, ...]],
    encryption: str,
    *,
    protected: Mapping[str, Any] | None = None,
    unprotected: Mapping[str, Any] | None = None,
    aad: bytes | str | None = None,
    compression: str | None = None,
    flattened: bool = False,
    allow_weak_keys: bool = False,
) -> dict[str, Any]:
    """Encrypt ``plaintext`` to one or more recipients and return JWE JSON (RFC 7516 §7.2).

    Args:
        plaintext: bytes (str is UTF-8 encoded).
        recipients: :class:`Recipient` objects, or ``(key, alg)`` / ``(key, alg, header)``
            tuples. ``dir`` and ``ECDH-ES`` (direct) allow exactly one recipient.
        encryption: the ``enc`` (RFC 7518 §5.1), in the protected header.
        protected: extra protected header members (``typ``, ``cty``...).
        unprotected: the shared unprotected header (``unprotected`` member), or None.
        aad: JWE AAD (bytes; str is UTF-8 encoded), integrity-protected, not encrypted.
        compression: ``"DEF"`` or None (``zip`` always goes in the protected header).
        flattened: the flattened syntax (RFC 7516 §7.2.2), one recipient; its ``alg``, ``kid``
            and key management parameters then go in the protected header.
        allow_weak_keys: allow RSA keys under 2048 bits.

    Returns:
        The JWE JSON object (dict).

    Raises:
        ValueError: no recipients, several with ``flattened`` or with a direct ``alg``.
        MalformedError: a header name in more than one header (RFC 7516 §7.2.1); and the errors of
        :func:`encrypt`.
    """
    entries = [r if isinstance(r, Recipient) else Recipient(*r) for r in recipients]
    if not entries:
        raise ValueError("at least one recipient is needed")
    if flattened and len(entries) != 1:
        raise ValueError("the flattened syntax has exactly one recipient")
    body = _payload_bytes(plaintext)
    ce = get_content_encryption(encryption)
    zip_alg = _compression(compression)
    shared = dict(unprotected or {})
    fixed: dict[str, Any] = {"enc": ce.name}
    if zip_alg:
        fixed["zip"] = zip_alg
    prot = _merge_headers(dict(fixed), protected, fixed)
    cek: bytes | None = None if len(entries) == 1 else os.urandom(ce.cek_bytes)
    sealed: list[dict[str, Any]] = []
    for entry in entries:
        rh = dict(entry.header or {})
        if rh.pop("alg", entry.algorithm) != entry.algorithm:
            raise MalformedError("a recipient's header 'alg' disagrees with its algorithm")
        params = {**prot, **shared, **rh}
        key_obj, km, cek_i, ek, out = _seal_recipient(entry, ce, cek, params, allow_weak_keys)
        if not km.wraps and len(entries) > 1:
            raise ValueError(f"{km.name} allows exactly one recipient (RFC 7516 §7.2.1)")
        cek = cek_i
        own: dict[str, Any] = {"alg": km.name}
        if key_obj.kid is not None and "kid" not in rh and "kid" not in prot:
            own["kid"] = key_obj.kid
        own.update(out)
        if flattened:
            prot = {**prot, **own}
        else:
            rh = {**own, **rh}
        member: dict[str, Any] = {}
        if rh:
            member["header"] = rh
        if ek:
            member["encrypted_key"] = b64e_str(ek)
        sealed.append(member)
    for member in sealed:
        names = [set(prot), set(shared), set(member.get("header", {}))]
        if names[0] & names[1] or (names[0] | names[1]) & names[2]:
            raise MalformedError("a header name appears in more than one header (RFC 7516 §7.2.1)")
    assert cek is not None
    h = b64e(_json.dumps(prot))
    out_json: dict[str, Any] = {"protected": h.decode("ascii")}
    if shared:
        out_json["unprotected"] = shared
    content_aad = h
    if aad is not None:
        aad_b64 = b64e(_payload_bytes(aad))
        content_aad = h + b"." + aad_b64
    iv, ct, tag = _seal_content(ce, cek, _deflate(body) if zip_alg else body, content_aad)
    if flattened:
        out_json.update(sealed[0])
    else:
        out_json["recipients"] = sealed
    if aad is not None:
        out_json["aad"] = aad_b64.decode("ascii")
    out_json.update(iv=b64e_str(iv), ciphertext=b64e_str(ct), tag=b64e_str(tag))
    return out_json


# -- decryption -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecryptedJWE:
    """The result of a successful decryption.

    Attributes:
        plaintext: the JWE Plaintext (bytes), inflated when ``zip`` was ``DEF``.
        header: the JOSE Header of the recipient that decrypted: protected, shared unprotected
            and per-recipient members merged (dict).
        protected: the JWE Protected Header (dict; empty when there is none).
        unprotected: the JWE Shared Unprotected Header (dict; empty when there is none).
        recipient_header: the JWE Per-Recipient Unprotected Header (dict; may be empty).
        recipient: the index (int) of the recipient that decrypted (0 for compact).
        key: the :class:`~jwtkit.Key` that decrypted.
        aad: the JWE AAD (bytes) for JSON input that has one, else None.
    """

    plaintext: bytes
    header: dict[str, Any]
    protected: dict[str, Any]
    unprotected: dict[str, Any]
    recipient_header: dict[str, Any]
    recipient: int
    key: Key
    aad: bytes | None = None


def _names(values: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | set | frozenset):
        raise TypeError(f"{what} must be a list of names, e.g. ['A256GCM']")
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"{what} must hold str names")
    return tuple(values)


def _token_bytes(token: str | bytes, cap: int) -> bytes:
    if len(token) > cap:
        raise TokenTooLargeError("token is larger than the configured cap")
    if isinstance(token, str):
        try:
            return token.encode("ascii")
        except UnicodeEncodeError:
            raise MalformedError("token contains non-ASCII characters") from None
    return bytes(token)


def _inflate(data: bytes, cap: int) -> bytes:
    """Inflate raw DEFLATE (RFC 1951), never producing more than ``cap`` + 1 bytes."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error:
        raise MalformedError("the plaintext is not valid DEFLATE") from None
    if len(out) > cap or inflater.unconsumed_tail:
        raise TokenTooLargeError(f"the decompressed plaintext is larger than {cap} bytes")
    if not inflater.eof or inflater.unused_data:
        raise MalformedError("the plaintext is not one complete DEFLATE stream")
    return out


class Decrypter:
    """A JWE decryption policy and its keys, built once (RFC 7516 §5.2, RFC 8725 §3).

    Args:
        key: a private :class:`~jwtkit.Key` or secret/password, a :class:`~jwtkit.KeySet`
            (keys picked by ``kid``, then by type, curve, bound ``alg``, ``use: enc`` and
            ``key_ops``), a key resolver, a pyca/cryptography private key, or bytes/str.
        algorithms: allowed key management ``alg`` values (required, non-empty).
        encryption_algorithms: allowed ``enc`` values (required, non-empty).
        compression_algorithms: allowed ``zip`` values: ``()`` (default: none) or ``("DEF",)``.
        allow_rsa1_5: opt in to decrypting RSA1_5 (it must also be in ``algorithms``).
        allow_weak_keys: accept RSA keys under 2048 bits.
        max_token_size: cap on the serialized token, bytes (default 262144).
        max_header_size: cap on the encoded protected header, bytes (default 4096).
        max_p2c: cap on PBES2 ``p2c`` (default 10000).
        max_plaintext_size: cap on an inflated plaintext, bytes (default 250000).
        max_recipients: cap on the recipients of a JWE JSON (default 16).
        max_depth: cap on JSON nesting.

    Raises:
        TypeError / ValueError: an allow-list that is a str, empty, or not of str.
        UnsupportedAlgorithmError: an unknown name, or RSA1_5 without ``allow_rsa1_5``.
    """

    __slots__ = (
        "_algs",
        "_caps",
        "_encs",
        "_header_cache",
        "_raw_cache",
        "_source",
        "_weak",
        "_zips",
    )

    def __init__(
        self,
        key: KeyLike,
        *,
        algorithms: Sequence[str],
        encryption_algorithms: Sequence[str],
        compression_algorithms: Sequence[str] = (),
        allow_rsa1_5: bool = False,
        allow_weak_keys: bool = False,
        max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_p2c: int = DEFAULT_MAX_P2C,
        max_plaintext_size: int = DEFAULT_MAX_PLAINTEXT_SIZE,
        max_recipients: int = DEFAULT_MAX_RECIPIENTS,
        max_depth: int = _json.DEFAULT_MAX_DEPTH,
    ) -> None:
        algs = _names(algorithms, "algorithms")
        encs = _names(encryption_algorithms, "encryption_algorithms")
        zips = _names(compression_algorithms, "compression_algorithms")
        if not algs or not encs:
            raise ValueError("name the JWE alg and enc values you accept; none is not a choice")
        resolved = [get_key_management(a) for a in algs]
        if any(km.decrypt_only for km in resolved) and not allow_rsa1_5:
            raise UnsupportedAlgorithmError(
                "RSA1_5 decrypts only with allow_rsa1_5=True (RFC 7516 §11.5, RFC 8725 §3.2)"
            )
        self._algs = frozenset(km.name for km in resolved)
        self._encs = frozenset(get_content_encryption(e).name for e in encs)
        self._zips = frozenset(z for z in zips if _compression(z))
        # An untyped key (bytes/str) is refused when the algs mix symmetric key management (dir,
        # A*KW, A*GCMKW, PBES2) with RSA/ECDH: the caller types it, as for JWS (issue 13.16).
        families = {"oct" in km.ktys for km in resolved}
        self._source = as_key_source(
            key, Policy(frozenset(self._algs), mixes_hmac=len(families) > 1)
        )
        self._weak = allow_weak_keys
        self._caps = (
            max_token_size,
            max_header_size,
            max_p2c,
            max_plaintext_size,
            max_recipients,
            max_depth,
        )
        self._header_cache: dict[
            bytes, tuple[dict[str, Any], KeyManagement, ContentEncryption]
        ] = {}
        self._raw_cache: dict[tuple[str, str], Any] = {}

    @property
    def key_source(self) -> Key | KeySet | KeyResolver:
        """The key, key set or resolver this policy decrypts with."""
        return self._source

    def __repr__(self) -> str:
        return (
            f"Decrypter(algorithms={sorted(self._algs)!r}, "
            f"encryption_algorithms={sorted(self._encs)!r}, "
            f"compression_algorithms={sorted(self._zips)!r})"
        )

    # -- headers -------------------------------------------------------------------------

    def _parse_protected(self, segment: bytes | str) -> dict[str, Any]:
        if len(segment) > self._caps[1]:
            raise TokenTooLargeError("header is larger than the configured cap")
        return _json.loads_object(  # type: ignore[no-any-return]
            b64d(segment, "protected header"), "protected header", self._caps[5]
        )

    def _resolve(
        self, header: Mapping[str, Any], protected: Mapping[str, Any]
    ) -> tuple[KeyManagement, ContentEncryption]:
        """Check one recipient's merged header; resolve ``alg`` and ``enc`` (RFC 7516 §5.2)."""
        check_crit(header, protected, _NO_CRIT_EXTENSIONS)
        if "alg" not in header or "enc" not in header:
            raise MalformedError("a JWE header needs 'alg' and 'enc'")
        km = get_key_management(header["alg"])
        if km.name not in self._algs:
            raise AlgorithmNotAllowedError(f"algorithm {km.name!r} is not allowed")
        ce = get_content_encryption(header["enc"])
        if ce.name not in self._encs:
            raise AlgorithmNotAllowedError(f"encryption {ce.name!r} is not allowed")
        if "zip" in header:
            if "zip" not in protected:
                raise MalformedError("'zip' must be in the protected header (RFC 7516 §4.1.3)")
            if _compression(header["zip"]) not in self._zips:
                raise AlgorithmNotAllowedError("compression 'DEF' is not allowed")
        for name in ("kid", "typ", "cty"):
            if name in header and type(header[name]) is not str:
                raise MalformedError(f"{name!r} must be a string")
        _check_params(km, header, self._caps[2])
        return km, ce

    # -- keys ----------------------------------------------------------------------------

    def _keys(
        self, header: Mapping[str, Any], km: KeyManagement, ce: ContentEncryption
    ) -> list[tuple[Key, Any]]:
        source = self._source
        if type(source) is Key:
            cache_key = (km.name, ce.name)
            raw = self._raw_cache.get(cache_key)
            if raw is None:
                raw = usable_raw(source, km, ce, True, self._weak)
                self._raw_cache[cache_key] = raw
            return [(source, raw)]
        if isinstance(source, KeySet):
            if "kid" in header:
                pool: Sequence[Key] = [k for k in source.keys if k.kid == header["kid"]]
            else:
                pool = source.keys
            found = []
            for candidate in pool:
                try:
                    found.append((candidate, usable_raw(candidate, km, ce, True, self._weak)))
                except JWTKitError:
                    continue
            if not found:
                raise KeyNotFoundError("no key in the JWK Set fits the JWE's kid/alg")
            return found
        resolved = resolve_with(source, header)  # type: ignore[arg-type]
        return [(resolved, usable_raw(resolved, km, ce, True, self._weak))]

    def _open(
        self,
        header: Mapping[str, Any],
        km: KeyManagement,
        ce: ContentEncryption,
        ek: bytes,
        iv: bytes,
        ct: bytes,
        tag: bytes,
        aad: bytes,
    ) -> tuple[bytes, Key]:
        if len(iv) != ce.iv_bytes:
            raise MalformedError(f"{ce.name} needs a {ce.iv_bytes}-byte IV")
        if len(tag) != ce.tag_bytes:  # no truncated tags (CVE-2023-37464, CVE-2018-1000539)
            raise DecryptionError
        if km.wraps and not ek:
            raise MalformedError(f"{km.name} needs a JWE Encrypted Key")
        unwrap = _KEY_MANAGEMENT[km.family][1]
        content_open = _CONTENT[ce.family][1]
        failure: JWTKitError | None = None
        for key, raw in self._keys(header, km, ce):
            try:
                cek = unwrap(_Op(km, ce, key, raw, self._caps[2]), header, ek)
                plaintext = content_open(ce, cek, iv, ct, tag, aad)
            except DecryptionError as exc:
                failure = exc
                continue
            if "zip" in header:
                plaintext = _inflate(plaintext, self._caps[3])
            return plaintext, key
        raise failure or DecryptionError

    # -- serializations ------------------------------------------------------------------

    def _compact(self, token: str | bytes) -> tuple[bytes, dict[str, Any], Key]:
        data = _token_bytes(token, self._caps[0])
        dots = data.count(b".")  # counted before splitting (CVE-2025-30204's class)
        if dots != 4:
            if dots == 2:
                raise MalformedError("token is a JWS (three segments); JWE expected")
            raise MalformedError("a compact JWE has exactly five segments")
        h, ek, iv, ct, tag = data.split(b".")
        cached = self._header_cache.get(h)
        if cached is None:
            header = self._parse_protected(h)
            km, ce = self._resolve(header, header)
            if len(self._header_cache) >= 256:
                self._header_cache.clear()
            cached = self._header_cache[h] = (header, km, ce)
        header, km, ce = cached
        plaintext, key = self._open(
            header,
            km,
            ce,
            b64d(ek, "encrypted key"),
            b64d(iv, "iv"),
            b64d(ct, "ciphertext"),
            b64d(tag, "tag"),
            h,
        )
        return plaintext, header, key

    def _json(self, token: Mapping[str, Any]) -> DecryptedJWE:
        if "recipients" in token:
            if "header" in token or "encrypted_key" in token:
                raise MalformedError("general JWE JSON mixes 'recipients' with flattened members")
            entries = token["recipients"]
            if type(entries) is not list or not entries:
                raise MalformedError("'recipients' must be a non-empty array")
            if len(entries) > self._caps[4]:
                raise TokenTooLargeError("the JWE has more recipients than the configured cap")
        else:
            entries = [{n: token[n] for n in ("header", "encrypted_key") if n in token}]
        prot_seg = token.get("protected", "")
        if type(prot_seg) is not str:
            raise MalformedError("'protected' must be a string")
        protected = self._parse_protected(prot_seg) if prot_seg else {}
        shared = token.get("unprotected", {})
        if type(shared) is not dict:
            raise MalformedError("'unprotected' must be an object")
        if protected.keys() & shared.keys():
            raise MalformedError("a header name appears in more than one header (RFC 7516 §7.2.1)")
        segments = []
        for name in ("iv", "ciphertext", "tag"):
            value = token.get(name)
            if type(value) is not str:
                raise MalformedError(f"JWE JSON needs a string {name!r}")
            segments.append(b64d(value, name))
        iv, ct, tag = segments
        aad = prot_seg.encode("ascii")
        aad_raw: bytes | None = None
        if "aad" in token:
            if type(token["aad"]) is not str:
                raise MalformedError("'aad' must be a string")
            aad_raw = b64d(token["aad"], "aad")
            aad += b"." + token["aad"].encode("ascii")
        errors: list[JWTKitError] = []
        for index, entry in enumerate(entries):
            try:
                if type(entry) is not dict:
                    raise MalformedError("a recipient must be an object")
                rh = entry.get("header", {})
                if type(rh) is not dict:
                    raise MalformedError("a recipient 'header' must be an object")
                if (protected.keys() | shared.keys()) & rh.keys():
                    raise MalformedError(
                        "a header name appears in more than one header (RFC 7516 §7.2.1)"
                    )
                ek_seg = entry.get("encrypted_key", "")
                if type(ek_seg) is not str:
                    raise MalformedError("'encrypted_key' must be a string")
                header = {**protected, **shared, **rh}
                km, ce = self._resolve(header, protected)
                ek = b64d(ek_seg, "encrypted key")
                plaintext, key = self._open(header, km, ce, ek, iv, ct, tag, aad)
            except JWTKitError as exc:
                errors.append(exc)
                continue
            return DecryptedJWE(
                plaintext, header, protected, dict(shared), dict(rh), index, key, aad_raw
            )
        if len(errors) == 1:
            raise errors[0]
        if any(isinstance(e, DecryptionError) for e in errors):
            raise DecryptionError
        raise errors[0]

    def decrypt_detailed(self, token: str | bytes | Mapping[str, Any]) -> DecryptedJWE:
        """Decrypt a JWE in any serialization (RFC 7516 §5.2) and return the details.

        Args:
            token: a compact JWE (str or ASCII bytes), or JWE JSON (a dict, or its text starting
                with ``{``), general or flattened.

        Returns:
            :class:`DecryptedJWE`; for several recipients, the first that decrypts.

        Raises:
            JWTKitError subclasses: TokenTooLargeError (token, header, inflated plaintext or
            recipients over a cap), LimitExceededError (``p2c``), MalformedError,
            UnsupportedAlgorithmError, AlgorithmNotAllowedError, UnsupportedCriticalHeaderError,
            KeyNotFoundError, KeyMismatchError, WeakKeyError, InvalidKeyError (a bad ``epk``),
            DecryptionError.
        """
        if isinstance(token, str | bytes | bytearray) and token[:1] in ("{", b"{"):
            if len(token) > self._caps[0]:
                raise TokenTooLargeError("token is larger than the configured cap")
            token = _json.loads_object(
                bytes(token) if isinstance(token, bytearray) else token,
                "JWE JSON",
                self._caps[5] + 2,
            )
        elif isinstance(token, Mapping):  # the caps its text would meet, before any decoding
            check_json_size(token, self._caps[0], self._caps[5] + 2)
        if isinstance(token, Mapping):
            return self._json(token)
        if not isinstance(token, str | bytes | bytearray):
            raise MalformedError(
                f"token must be str, bytes or a mapping, not {type(token).__name__}"
            )
        plaintext, header, key = self._compact(token)
        return DecryptedJWE(plaintext, dict(header), dict(header), {}, {}, 0, key)

    def decrypt(self, token: str | bytes | Mapping[str, Any]) -> bytes:
        """Decrypt a JWE and return its plaintext (bytes); see :meth:`decrypt_detailed`."""
        if (type(token) is str or type(token) is bytes) and token[:1] not in ("{", b"{"):
            return self._compact(token)[0]  # the per-request path: no result object
        return self.decrypt_detailed(token).plaintext


def decrypt_detailed(
    token: str | bytes | Mapping[str, Any],
    key: KeyLike,
    algorithms: Sequence[str],
    encryption_algorithms: Sequence[str],
    *,
    compression_algorithms: Sequence[str] = (),
    **options: Any,
) -> DecryptedJWE:
    """Decrypt a JWE (compact or JSON) and return plaintext, headers, recipient and key.

    Arguments as :class:`Decrypter` (``options``: ``allow_rsa1_5``, ``allow_weak_keys`` and the
    ``max_*`` caps) plus ``token``; errors as :meth:`Decrypter.decrypt_detailed` (RFC 7516 §5.2).
    """
    return Decrypter(
        key,
        algorithms=algorithms,
        encryption_algorithms=encryption_algorithms,
        compression_algorithms=compression_algorithms,
        **options,
    ).decrypt_detailed(token)


def decrypt(
    token: str | bytes | Mapping[str, Any],
    key: KeyLike,
    algorithms: Sequence[str],
    encryption_algorithms: Sequence[str],
    *,
    compression_algorithms: Sequence[str] = (),
    **options: Any,
) -> bytes:
    """Decrypt a JWE (compact or JSON) and return its plaintext (bytes).

    See :func:`decrypt_detailed` and :class:`Decrypter` for arguments and errors (RFC 7516 §5.2).
    """
    return decrypt_detailed(
        token,
        key,
        algorithms,
        encryption_algorithms,
        compression_algorithms=compression_algorithms,
        **options,
    ).plaintext


# -- JWT integration (RFC 7519 §5.2, §11.2) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Encryption:
    """How :func:`jwtkit.encode` encrypts a JWT (``encryption=``).

    Attributes:
        key: the recipient's public key, shared secret or password (as :func:`encrypt`).
        algorithm: the key management ``alg``, e.g. ``"RSA-OAEP-256"``.
        encryption: the ``enc``, e.g. ``"A256GCM"``.
        compression: ``"DEF"`` or None.
        headers: extra JWE protected header members, or None.
    """

    key: Key | bytes | str
    algorithm: str
    encryption: str
    compression: str | None = None
    headers: Mapping[str, Any] | None = None

    @staticmethod
    def of(value: Encryption | Mapping[str, Any]) -> Encryption:
        """Accept an :class:`Encryption` or a mapping with ``key``, ``alg``/``algorithm``,
        ``enc``/``encryption`` and optional ``zip``/``compression``, ``headers``.

        Raises:
            TypeError: anything else, or a mapping missing a member.
        """
        if isinstance(value, Encryption):
            return value
        if not isinstance(value, Mapping):
            raise TypeError("encryption must be a jwtkit.jwe.Encryption or a mapping")
        try:
            return Encryption(
                value["key"],
                value.get("alg") or value["algorithm"],
                value.get("enc") or value["encryption"],
                value.get("zip") or value.get("compression"),
                value.get("headers"),
            )
        except KeyError as exc:
            raise TypeError(f"encryption is missing {exc.args[0]!r}") from None


def encrypt_jwt(
    plaintext: bytes, spec: Encryption | Mapping[str, Any], defaults: Mapping[str, Any]
) -> str:
    """Encrypt a JWT (RFC 7519 §5.2): ``plaintext`` is a claims set (JSON), or a JWS (then
    ``defaults`` has ``cty: JWT``, §11.2); ``spec.headers`` override ``defaults``. Returns the
    compact JWE (str).

    Raises:
        the errors of :func:`encrypt`; TypeError for a bad ``spec``.
    """
    enc = Encryption.of(spec)
    headers = {**defaults, **(enc.headers or {})}
    return encrypt(
        plaintext,
        enc.key,
        enc.algorithm,
        enc.encryption,
        compression=enc.compression,
        headers=headers,
    )


def jwt_decrypter(
    key: KeyLike,
    algorithms: Sequence[str],
    encryption_algorithms: Sequence[str],
    compression_algorithms: Sequence[str],
    **options: Any,
) -> tuple[Decrypter, list[str]]:
    """For :class:`jwtkit.Verifier`: split ``algorithms`` into its JWE ``alg`` values (for the
    returned :class:`Decrypter`) and its JWS ``alg`` values (returned, for a nested JWT's inner
    JWS; may be empty, and never ``none``).

    Raises:
        TypeError / ValueError: bad lists, or no JWE ``alg`` among ``algorithms``;
        UnsupportedAlgorithmError: a name in neither table.
    """
    from jwtkit.jwa import ALGORITHMS, KEY_MANAGEMENT

    names = _names(algorithms, "algorithms")
    for name in names:
        if name not in ALGORITHMS and name not in KEY_MANAGEMENT:
            get_key_management(name)  # raises UnsupportedAlgorithmError
    jwe_algs = [a for a in names if a in KEY_MANAGEMENT]
    if not jwe_algs:
        raise ValueError("with encryption_algorithms, algorithms must name the JWE alg values")
    decrypter = Decrypter(
        key,
        algorithms=jwe_algs,
        encryption_algorithms=encryption_algorithms,
        compression_algorithms=compression_algorithms,
        **options,
    )
    return decrypter, [a for a in names if a in ALGORITHMS]
