"""JSON Web Signature (RFC 7515) with unencoded payloads (RFC 7797).

Compact, JSON general and JSON flattened serializations; detached payloads (RFC 7515 Appendix F);
``b64: false`` (RFC 7797 §3); ``crit`` processed (RFC 7515 §4.1.11): an unknown critical header
means reject, unknown non-critical headers are ignored. The algorithm allowlist is required and
checked against the key's type and bound ``alg``. Header parameters ``jwk``, ``jku``, ``x5u`` and
``x5c`` are never used to find a key.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported

from jwtkit import _json
from jwtkit._b64 import b64d, b64e
from jwtkit.errors import (
    AlgorithmNotAllowedError,
    InvalidKeyError,
    InvalidSignatureError,
    JWTKitError,
    KeyMismatchError,
    KeyNotFoundError,
    MalformedError,
    TokenTooLargeError,
    UnsupportedCriticalHeaderError,
)
from jwtkit.jwa import Algorithm, get_algorithm
from jwtkit.jwk import Key, KeyResolver, KeySet

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_HEADER_SIZE",
    "DEFAULT_MAX_TOKEN_SIZE",
    "VerifiedJWS",
    "sign",
    "sign_json",
    "verify",
    "verify_detailed",
]

DEFAULT_MAX_TOKEN_SIZE = 16384
"""Default cap on a serialized token, in bytes (characters), checked before anything else."""
DEFAULT_MAX_HEADER_SIZE = 4096
"""Default cap on the encoded protected header segment, in bytes (characters)."""
DEFAULT_MAX_DEPTH = _json.DEFAULT_MAX_DEPTH
"""Default cap on JSON nesting in headers and payloads."""

# Header parameters registered by RFC 7515 §4.1 and RFC 7518 §4.x/§6: never valid in "crit".
_REGISTERED = frozenset(
    (
        "alg",
        "jku",
        "jwk",
        "kid",
        "x5u",
        "x5c",
        "x5t",
        "x5t#S256",
        "typ",
        "cty",
        "crit",
        "enc",
        "zip",
        "epk",
        "apu",
        "apv",
        "iv",
        "tag",
        "p2s",
        "p2c",
    )
)
_UNDERSTOOD_CRIT = frozenset(("b64",))

KeyLike = Key | KeySet | KeyResolver | bytes | str


@dataclass(frozen=True, slots=True)
class VerifiedJWS:
    """The result of a successful verification.

    Attributes:
        payload: the JWS Payload (bytes).
        header: the JOSE Header, protected and unprotected members merged (dict).
        protected: the JWS Protected Header (dict).
        key: the :class:`~jwtkit.Key` that verified it.
    """

    payload: bytes
    header: dict[str, Any]
    protected: dict[str, Any]
    key: Key


@dataclass(frozen=True, slots=True)
class Policy:
    """Resolved verification options shared by :mod:`jwtkit.jws` and :mod:`jwtkit.jwt`.

    Attributes:
        algorithms: the allowlist (frozenset of ``alg`` str).
        allow_weak_keys: accept RSA keys under 2048 bits and short HMAC secrets.
        max_token_size / max_header_size: caps in bytes; max_depth: JSON nesting cap.
        mixes_hmac: the allowlist holds an HMAC ``alg`` and an asymmetric one, so an untyped key
            (bytes/str) would be ambiguous (RFC 8725 §2.1).
    """

    algorithms: frozenset[str]
    allow_weak_keys: bool = False
    max_token_size: int = DEFAULT_MAX_TOKEN_SIZE
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_depth: int = DEFAULT_MAX_DEPTH
    mixes_hmac: bool = False

    @staticmethod
    def build(
        algorithms: Sequence[str],
        allow_weak_keys: bool = False,
        max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> Policy:
        """Validate the options.

        Args:
            algorithms: the allowed ``alg`` names (a list, tuple or set of str; one name as a str,
                as PyJWT accepts it, is a list of one: it must be an exact ``alg`` name).

        Raises:
            TypeError: ``algorithms`` is missing or not a sequence of str.
            ValueError: ``algorithms`` is empty.
            UnsupportedAlgorithmError: an entry is unknown or ``none`` (RFC 8725 §3.1).
        """
        if isinstance(algorithms, str):
            algorithms = (algorithms,)
        if isinstance(algorithms, bytes) or not isinstance(algorithms, Sequence | set | frozenset):
            raise TypeError(
                "algorithms is required: name the algorithms you accept, e.g. algorithms=['ES256']"
                " (never take them from the token, RFC 8725 §3.1)"
            )
        if not algorithms:
            raise ValueError("algorithms must not be empty: name the algorithms you accept")
        families = {get_algorithm(alg).family == "HMAC" for alg in algorithms}
        return Policy(
            frozenset(algorithms),
            allow_weak_keys,
            max_token_size,
            max_header_size,
            max_depth,
            len(families) > 1,
        )


def pyca_key(key: object) -> Key | None:
    """Wrap a pyca/cryptography key object (as PyJWT accepts) in a :class:`Key`, else None.

    The result is an RSA/EC/OKP key, never an HMAC secret.

    Raises:
        InvalidKeyError: a pyca/cryptography key of an unsupported type (DSA, X25519...).
    """
    if type(key).__module__.startswith("cryptography."):
        return Key.from_cryptography(key)
    return None


_UNTYPED = (bytes, bytearray, memoryview, str)


def as_key_source(key: KeyLike, policy: Policy | None = None) -> Key | KeySet | KeyResolver:
    """Normalize a key argument: bytes/str go through :meth:`Key.from_material` (PEM, SSH, JWK
    text and DER become asymmetric keys, never HMAC secrets; anything else is an HMAC secret),
    a pyca/cryptography key object becomes a :class:`Key`.

    Args:
        key: the key argument of a verify function.
        policy: the verification policy; when its allowlist spans HMAC and an asymmetric family,
            an untyped key (bytes, bytearray, memoryview, str) is refused: whatever its bytes, the
            caller must say what it is (RFC 8725 §2.1, the class of CVE-2017-11424,
            CVE-2022-29217).

    Raises:
        KeyMismatchError: an untyped key with an allowlist that mixes HMAC and asymmetric algs.
        InvalidKeyError: a secret that is empty or is key material that does not load.
        TypeError: not a key, key set, resolver, pyca/cryptography key, bytes or str.
    """
    if isinstance(key, Key | KeySet):
        return key
    if isinstance(key, _UNTYPED):
        if policy is not None and policy.mixes_hmac:
            raise KeyMismatchError(
                "a key given as bytes/str is ambiguous when algorithms mix symmetric (HMAC) and"
                f" asymmetric algs ({', '.join(sorted(policy.algorithms))}): a token could be"
                " forged with public-key material (RFC 8725 §2.1). Type it:"
                " Key.from_secret(secret), Key.from_pem(pem) or Key.from_jwk(jwk), or pass a"
                " KeySet holding each key"
            )
        return Key.from_material(key)
    typed = getattr(key, "jwtkit_key", None)
    if isinstance(typed, Key):  # jwtkit.PyJWK: a Key (kid, alg) in PyJWT's shape
        return typed
    if hasattr(key, "resolve_key"):
        if not callable(key.resolve_key):
            raise TypeError("a key resolver's resolve_key must be callable")
        return key
    wrapped = pyca_key(key)
    if wrapped is not None:
        return wrapped
    raise TypeError(f"key must be a Key, KeySet, key resolver or bytes, not {type(key).__name__}")


def check_crit(
    header: Mapping[str, Any],
    protected: Mapping[str, Any] | None = None,
    understood: frozenset[str] = _UNDERSTOOD_CRIT,
) -> bool:
    """Process ``crit`` and ``b64`` (RFC 7515 §4.1.11, RFC 7516 §4.1.13, RFC 7797 §3, §6).

    Args:
        header: the merged JOSE Header.
        protected: the protected part when it differs from ``header`` (JSON serialization).
        understood: the extension names the caller processes (JWS: ``b64``; JWE: none).

    Returns:
        The ``b64`` value (bool): False for an unencoded payload.

    Raises:
        UnsupportedCriticalHeaderError: malformed ``crit``, an unknown or registered name in it, a
            listed name absent from the header, ``crit``/``b64`` outside the protected header, or
            ``b64`` present without being critical.
    """
    prot = header if protected is None else protected
    crit = header.get("crit")
    b64 = header.get("b64", True)
    if crit is None and "crit" not in header:
        if "b64" in header:
            raise UnsupportedCriticalHeaderError("'b64' must be listed in 'crit' (RFC 7797 §6)")
        return True
    if "crit" not in prot:
        raise UnsupportedCriticalHeaderError("'crit' must be in the protected header")
    if (
        type(crit) is not list
        or not crit
        or not all(type(n) is str for n in crit)
        or len(set(crit)) != len(crit)
    ):
        raise UnsupportedCriticalHeaderError("'crit' must be a non-empty list of distinct names")
    for name in crit:
        if name in _REGISTERED:
            raise UnsupportedCriticalHeaderError(f"'crit' must not list {name!r}")
        if name not in understood:
            raise UnsupportedCriticalHeaderError(f"critical header {name[:40]!r} not understood")
        if name not in prot:
            raise UnsupportedCriticalHeaderError(f"critical header {name!r} is missing")
    if "b64" in header:
        if "b64" not in crit or "b64" not in prot:
            raise UnsupportedCriticalHeaderError("'b64' must be protected and critical")
        if type(b64) is not bool:
            raise MalformedError("'b64' must be a boolean")
    return bool(b64)


def parse_protected(segment: bytes, policy: Policy) -> tuple[dict[str, Any], Algorithm]:
    """Decode and check an encoded protected header (compact serialization).

    Returns:
        (header dict, resolved :class:`~jwtkit.jwa.Algorithm`).

    Raises:
        TokenTooLargeError, MalformedError, UnsupportedAlgorithmError, AlgorithmNotAllowedError,
        UnsupportedCriticalHeaderError.
    """
    if len(segment) > policy.max_header_size:
        raise TokenTooLargeError("header is larger than the configured cap")
    header = _json.loads_object(b64d(segment, "header"), "header", policy.max_depth)
    return header, resolve_alg(header, policy)


def resolve_alg(header: Mapping[str, Any], policy: Policy) -> Algorithm:
    """Return the header's algorithm if present, known and allowed (RFC 8725 §3.1).

    Raises:
        MalformedError: no ``alg``; UnsupportedAlgorithmError: unknown or ``none``;
        AlgorithmNotAllowedError: not in the allowlist.
    """
    if "alg" not in header:
        raise MalformedError("header has no 'alg'")
    algorithm = get_algorithm(header["alg"])
    if algorithm.name not in policy.algorithms:
        raise AlgorithmNotAllowedError(f"algorithm {algorithm.name!r} is not allowed")
    return algorithm


def candidate_keys(source: Key | KeySet | KeyResolver, header: Mapping[str, Any]) -> Sequence[Key]:
    """Keys to try for ``header``; never reads ``jwk``/``jku``/``x5u``/``x5c`` to find one.

    Every candidate has the identity the header names (:func:`check_identity`): a single
    :class:`~jwtkit.Key` with a ``kid`` is refused for a token naming another ``kid``, as a
    :class:`~jwtkit.KeySet` refuses it.

    Raises:
        KeyNotFoundError, KeyMismatchError, MalformedError (from the source); KeyNotFoundError
        when a resolver fails (its exception is the ``__cause__``); InvalidKeyError when it
        returns something other than a :class:`~jwtkit.Key`.
    """
    if isinstance(source, Key):
        check_identity(header, source)
        return (source,)
    if isinstance(source, KeySet):
        keys: Sequence[Key] = source.candidates(header)  # by kid already
        if "jwk" in header or "x5c" in header:
            keys = [key for key in keys if has_identity(header, key)]
            if not keys:
                raise KeyNotFoundError("no key has the identity the token's header names")
        return keys
    if "kid" in header and type(header["kid"]) is not str:
        raise MalformedError("'kid' must be a string")
    key = resolve_with(source, header)
    check_identity(header, key)
    return (key,)


def resolve_with(resolver: KeyResolver, header: Mapping[str, Any]) -> Key:
    """Call ``resolver.resolve_key(header)`` and return the :class:`Key` it gives.

    Raises:
        the resolver's JWTKitError; KeyNotFoundError for any other exception it raises (kept
        as ``__cause__``: a resolver's bug or outage never escapes as a crash); InvalidKeyError
        when it returns something other than a Key (see :func:`resolved_key`).
    """
    try:
        found = resolver.resolve_key(header)
    except JWTKitError:
        raise
    except Exception as exc:
        raise KeyNotFoundError(f"the key resolver failed ({type(exc).__name__})") from exc
    return resolved_key(found)


def resolved_key(key: object) -> Key:
    """Return what a key resolver gave if it is a :class:`Key`.

    Raises:
        InvalidKeyError: the resolver returned something else (e.g. ``''``, raw secret bytes,
            None): a resolver must type its keys, exactly as a caller must.
    """
    if not isinstance(key, Key):
        raise InvalidKeyError(
            f"the key resolver returned {type(key).__name__}, not a jwtkit.Key"
            " (wrap secrets with Key.from_secret, PEM with Key.from_pem)"
        )
    return key


async def aresolved_key(resolver: Any, header: Mapping[str, Any]) -> Key:
    """Await ``resolver.aresolve_key(header)`` (or take its result if it is not awaitable).

    Raises:
        the errors of :func:`candidate_keys` for a resolver.
    """
    try:
        found = resolver.aresolve_key(header)
        if inspect.isawaitable(found):
            found = await found
    except JWTKitError:
        raise
    except Exception as exc:  # as in candidate_keys
        raise KeyNotFoundError(f"the key resolver failed ({type(exc).__name__})") from exc
    return resolved_key(found)


def _embedded_key(value: object, what: str) -> Key:
    try:
        if what == "jwk":
            if type(value) is not dict or any(m in value for m in ("d", "k", "p", "q", "oth")):
                raise MalformedError("'jwk' header must be a public JWK (RFC 7515 §4.1.3)")
            return Key.from_jwk(value)
        if type(value) is not list or not value or type(value[0]) is not str:
            raise MalformedError("'x5c' header must be a non-empty array of strings")
        der = base64.b64decode(value[0], validate=True)
        return Key.from_cryptography(x509.load_der_x509_certificate(der).public_key())
    except MalformedError:
        raise
    except (JWTKitError, ValueError, TypeError, _CryptoUnsupported):
        raise MalformedError(f"'{what}' header does not hold a usable public key") from None


def has_identity(header: Mapping[str, Any], key: Key) -> bool:
    """Return whether ``key`` has the identity ``header`` names: its ``kid`` when both have one,
    the public key of an embedded ``jwk`` (RFC 7515 §4.1.3) and of the first ``x5c`` certificate
    (§4.1.6), compared by JWK Thumbprint (RFC 7638), and ``x5t``/``x5t#S256`` against that
    certificate when ``x5c`` is present. Identity headers are never used to find a
    key; they are only held against the key that was found (go-jose#241's class).

    Raises:
        MalformedError: ``kid`` not a string; ``jwk`` not a public JWK; ``x5c`` not certificates.
    """
    kid = header.get("kid")
    if kid is not None and type(kid) is not str:
        raise MalformedError("'kid' must be a string")
    if kid is not None and key.kid is not None and kid != key.kid:
        return False
    for what in ("jwk", "x5c"):
        if what in header:
            embedded = _embedded_key(header[what], what)
            if key.is_symmetric or embedded.thumbprint() != key.thumbprint():
                return False
    if "x5c" in header:  # the certificate thumbprints must name that same certificate (§4.1.7-8)
        der = base64.b64decode(header["x5c"][0])
        for name, digest in (("x5t#S256", "sha256"), ("x5t", "sha1")):
            if name in header and header[name] != b64e(hashlib.new(digest, der).digest()).decode():
                return False
    return True


def check_identity(header: Mapping[str, Any], key: Key) -> None:
    """Raise KeyNotFoundError unless ``key`` has the identity ``header`` names (see
    :func:`has_identity`).

    Raises:
        KeyNotFoundError; MalformedError (see :func:`has_identity`).
    """
    if ("kid" in header or "jwk" in header or "x5c" in header) and not has_identity(header, key):
        raise KeyNotFoundError("the token's header names another key than the verifying key")


def verify_with_keys(
    keys: Sequence[Key],
    algorithm: Algorithm,
    signing_input: bytes,
    signature: bytes,
    allow_weak_keys: bool,
) -> Key:
    """Verify with the first key that fits and succeeds.

    Returns:
        The key that verified.

    Raises:
        KeyMismatchError / WeakKeyError: the only candidate(s) cannot be used with this ``alg``.
        InvalidSignatureError: no usable key verified the signature.
    """
    first_error: JWTKitError | None = None
    tried = False
    for key in keys:
        try:
            raw = key.check_usable(algorithm, "verify", allow_weak_keys)
        except JWTKitError as exc:
            first_error = first_error or exc
            continue
        tried = True
        try:
            algorithm.verify(raw, signing_input, signature)
        except InvalidSignatureError:
            continue
        return key
    if not tried and first_error is not None:
        raise first_error
    raise InvalidSignatureError


def split_compact(token: str | bytes, max_token_size: int) -> tuple[bytes, bytes, bytes, bytes]:
    """Split a compact JWS (RFC 7515 §7.1) after checking its size.

    Returns:
        (token bytes, header segment, payload segment, signature segment), all bytes.

    Raises:
        TokenTooLargeError: longer than ``max_token_size``.
        MalformedError: not str/bytes, not ASCII, or not exactly three segments.
    """
    if type(token) is str:
        if len(token) > max_token_size:
            raise TokenTooLargeError("token is larger than the configured cap")
        try:
            data = token.encode("ascii")
        except UnicodeEncodeError:
            raise MalformedError("token contains non-ASCII characters") from None
    elif isinstance(token, bytes | bytearray):
        if len(token) > max_token_size:
            raise TokenTooLargeError("token is larger than the configured cap")
        data = bytes(token)
    else:
        raise MalformedError(f"token must be str or bytes, not {type(token).__name__}")
    # Count before splitting (CVE-2025-30204's class): a token of dots must not become millions
    # of byte strings.
    dots = data.count(b".")
    if dots != 2:
        if dots == 4:
            raise MalformedError("token is a JWE (five segments); JWS expected")
        raise MalformedError("a compact JWS has exactly three segments")
    h, p, s = data.split(b".")
    return data, h, p, s


def _verify_compact(
    token: str | bytes,
    source: Key | KeySet | KeyResolver,
    policy: Policy,
    detached_payload: bytes | None,
) -> VerifiedJWS:
    data, h, p, s = split_compact(token, policy.max_token_size)
    header, algorithm = parse_protected(h, policy)
    b64 = check_crit(header)
    if detached_payload is not None:
        if p:
            raise MalformedError("payload given twice: in the token and as detached_payload")
        # A detached unencoded payload may contain '.' (RFC 7797 §5.2): it is not in the token.
        payload_seg = b64e(detached_payload) if b64 else detached_payload
        signing_input = h + b"." + payload_seg
    else:
        signing_input = data[: len(h) + 1 + len(p)]
        payload_seg = p
    signature = b64d(s, "signature")
    key = verify_with_keys(
        candidate_keys(source, header),
        algorithm,
        signing_input,
        signature,
        policy.allow_weak_keys,
    )
    payload = b64d(payload_seg, "payload") if b64 else payload_seg
    return VerifiedJWS(payload, header, header, key)


def _verify_json(
    token: Mapping[str, Any],
    source: Key | KeySet | KeyResolver,
    policy: Policy,
    detached_payload: bytes | None,
) -> VerifiedJWS:
    if "signatures" in token:
        if "signature" in token or "protected" in token or "header" in token:
            raise MalformedError("general JWS JSON mixes 'signatures' with flattened members")
        entries = token["signatures"]
        if type(entries) is not list or not entries:
            raise MalformedError("'signatures' must be a non-empty array")
    else:
        entries = [token]
    payload_member = token.get("payload")
    if detached_payload is not None:
        if payload_member is not None:
            raise MalformedError("payload given twice: in the token and as detached_payload")
    elif type(payload_member) is not str:
        raise MalformedError("JWS JSON has no string 'payload'")
    errors: list[JWTKitError] = []
    parsed = []
    b64_values = set()
    for entry in entries:
        if type(entry) is not dict:
            raise MalformedError("a signature entry must be an object")
        prot_seg = entry.get("protected")
        unprotected = entry.get("header")
        sig_seg = entry.get("signature")
        if type(sig_seg) is not str:
            raise MalformedError("a signature entry needs a string 'signature'")
        if prot_seg is None and unprotected is None:
            raise MalformedError("a signature entry has neither 'protected' nor 'header'")
        if prot_seg is not None:
            if type(prot_seg) is not str:
                raise MalformedError("'protected' must be a string")
            if len(prot_seg) > policy.max_header_size:
                raise TokenTooLargeError("header is larger than the configured cap")
            protected = _json.loads_object(
                b64d(prot_seg, "protected header"), "protected header", policy.max_depth
            )
        else:
            prot_seg, protected = "", {}
        if unprotected is None:
            unprotected = {}
        elif type(unprotected) is not dict:
            raise MalformedError("'header' must be an object")
        if protected.keys() & unprotected.keys():
            raise MalformedError("protected and unprotected header names must be disjoint")
        header = {**protected, **unprotected}
        b64_values.add(check_crit(header, protected))
        parsed.append((prot_seg, protected, header, sig_seg))
    if len(b64_values) != 1:
        raise MalformedError("all signatures must agree on 'b64' (RFC 7797 §3)")
    b64 = b64_values.pop()
    if detached_payload is not None:
        payload_seg = b64e(detached_payload) if b64 else detached_payload
    else:
        assert isinstance(payload_member, str)
        payload_seg = payload_member.encode("utf-8")
    payload = b64d(payload_seg, "payload") if b64 else payload_seg
    for prot_seg, protected, header, sig_seg in parsed:
        try:
            algorithm = resolve_alg(header, policy)
            signature = b64d(sig_seg, "signature")
            signing_input = prot_seg.encode("ascii") + b"." + payload_seg
            key = verify_with_keys(
                candidate_keys(source, header),
                algorithm,
                signing_input,
                signature,
                policy.allow_weak_keys,
            )
        except JWTKitError as exc:
            errors.append(exc)
            continue
        return VerifiedJWS(payload, header, protected, key)
    if len(errors) == 1:
        raise errors[0]
    # A signature that was checked and failed says more than the others being skipped.
    if any(isinstance(e, InvalidSignatureError) for e in errors):
        raise InvalidSignatureError
    raise errors[0]


def check_json_size(value: object, max_size: int, max_depth: int) -> None:
    """Check a JWS/JWE given as a mapping against the caps its text would meet: its JSON size in
    characters (strings counted by length, so the walk stops as soon as the cap is passed, before
    anything is decoded) and its nesting.

    Raises:
        TokenTooLargeError: larger than ``max_size``. MalformedError: nested deeper than
            ``max_depth``.
    """
    size = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            if depth > max_depth:
                raise MalformedError("JWS JSON is nested too deeply")
            size += 2 + 4 * len(item)
            for name, member in item.items():
                size += len(name) if isinstance(name, str) else 8
                stack.append((member, depth + 1))
        elif isinstance(item, list | tuple):
            if depth > max_depth:
                raise MalformedError("JWS JSON is nested too deeply")
            size += 2 + len(item)
            stack.extend((member, depth + 1) for member in item)
        elif isinstance(item, str | bytes | bytearray):
            size += len(item) + 2
        else:
            size += 8
        if size > max_size:
            raise TokenTooLargeError("token is larger than the configured cap")


def verify_detailed(
    token: str | bytes | Mapping[str, Any],
    key: KeyLike,
    algorithms: Sequence[str],
    *,
    detached_payload: bytes | None = None,
    allow_weak_keys: bool = False,
    max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> VerifiedJWS:
    """Verify a JWS in any serialization (RFC 7515 §5.2, §7) and return the details.

    Args:
        token: compact JWS (str or bytes), or JWS JSON (a dict, or its text starting with ``{``).
        key: a :class:`~jwtkit.Key`, a :class:`~jwtkit.KeySet`, a key resolver, a
            pyca/cryptography key object, or an HMAC secret (bytes/str; public-key material is
            refused).
        algorithms: the allowed ``alg`` values (required; ``none`` is never allowed).
        detached_payload: the payload bytes when the token carries none (RFC 7515 Appendix F).
        allow_weak_keys: accept RSA < 2048 bits and HMAC secrets shorter than the hash.
        max_token_size, max_header_size: caps in bytes; max_depth: JSON nesting cap.

    Returns:
        :class:`VerifiedJWS`. For general JSON, the first signature that verifies.

    Raises:
        JWTKitError subclasses: MalformedError, TokenTooLargeError, UnsupportedAlgorithmError,
        AlgorithmNotAllowedError, UnsupportedCriticalHeaderError, KeyNotFoundError,
        KeyMismatchError, WeakKeyError, InvalidKeyError, InvalidSignatureError.
    """
    policy = Policy.build(algorithms, allow_weak_keys, max_token_size, max_header_size, max_depth)
    source = as_key_source(key, policy)
    if (isinstance(token, str) and token[:1] == "{") or (
        isinstance(token, bytes | bytearray) and token[:1] == b"{"
    ):
        if len(token) > max_token_size:
            raise TokenTooLargeError("token is larger than the configured cap")
        token = _json.loads_object(
            bytes(token) if isinstance(token, bytearray) else token, "JWS JSON", max_depth + 2
        )
    elif isinstance(token, Mapping):
        check_json_size(token, max_token_size, max_depth + 2)
    if isinstance(token, Mapping):
        return _verify_json(token, source, policy, detached_payload)
    return _verify_compact(token, source, policy, detached_payload)


def verify(
    token: str | bytes | Mapping[str, Any],
    key: KeyLike,
    algorithms: Sequence[str],
    *,
    detached_payload: bytes | None = None,
    allow_weak_keys: bool = False,
    max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
) -> bytes:
    """Verify a JWS and return its payload (bytes). See :func:`verify_detailed` for arguments
    and errors (RFC 7515 §5.2)."""
    return verify_detailed(
        token,
        key,
        algorithms,
        detached_payload=detached_payload,
        allow_weak_keys=allow_weak_keys,
        max_token_size=max_token_size,
    ).payload


def _payload_bytes(payload: bytes | str) -> bytes:
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    raise TypeError(f"payload must be bytes or str, not {type(payload).__name__}")


def _signing_key(key: Key | bytes | str) -> Key:
    if isinstance(key, Key):
        return key
    if isinstance(key, bytes | bytearray | str):
        return Key.from_material(key)
    wrapped = pyca_key(key)
    if wrapped is not None:
        return wrapped
    raise TypeError(f"signing key must be a Key or bytes, not {type(key).__name__}")


def protected_header(
    key: Key, algorithm: str | None, headers: Mapping[str, Any] | None, b64: bool
) -> tuple[dict[str, Any], Algorithm]:
    """Build a protected header: ``alg`` first, the key's ``kid``, then ``headers`` (a None value
    removes a member); adds ``b64``/``crit`` for unencoded payloads (RFC 7797 §3).

    Returns:
        (header dict, :class:`~jwtkit.jwa.Algorithm`).

    Raises:
        MalformedError: ``headers['alg']`` disagrees with ``algorithm``; ``kid``/``typ``/``cty``
            not a string; ``b64`` given in ``headers``;
        UnsupportedAlgorithmError: unknown ``alg``.
    """
    header: dict[str, Any] = {}
    extra = dict(headers or {})
    alg = algorithm or extra.get("alg") or key.default_alg
    if extra.get("alg", alg) != alg:
        raise MalformedError("headers['alg'] disagrees with algorithm")
    header["alg"] = alg
    algobj = get_algorithm(alg)
    if key.kid is not None:
        header["kid"] = key.kid
    for name, value in extra.items():
        if name == "alg":
            continue
        if value is None:
            header.pop(name, None)
        else:
            header[name] = value
    # Never emit a header that jwtkit's own verify would refuse as malformed.
    for name in ("kid", "typ", "cty"):
        if name in header and type(header[name]) is not str:
            raise MalformedError(f"header {name!r} must be a string")
    if "b64" in header:
        raise MalformedError("set an unencoded payload with b64=False, not headers['b64']")
    if not b64:
        header["b64"] = False
        crit = list(header.get("crit", []))
        if "b64" not in crit:
            crit.append("b64")
        header["crit"] = crit
    return header, algobj


def sign(
    payload: bytes | str,
    key: Key | bytes | str,
    algorithm: str | None = None,
    *,
    headers: Mapping[str, Any] | None = None,
    detached: bool = False,
    b64: bool = True,
    encoded_header: str | None = None,
    allow_weak_keys: bool = False,
) -> str:
    """Sign ``payload`` and return a compact JWS (RFC 7515 §7.1).

    Args:
        payload: the JWS Payload (bytes; str is UTF-8 encoded).
        key: a private :class:`~jwtkit.Key`, or an HMAC secret (bytes/str).
        algorithm: the ``alg``; defaults to the key's bound ``alg`` or its type's default.
        headers: extra protected header parameters (``typ``, ``cty``, ``kid``...); a ``None``
            value removes a default (e.g. ``{"kid": None}``).
        detached: leave the payload out of the token (RFC 7515 Appendix F).
        b64: False for an unencoded payload (RFC 7797; adds ``"b64": false`` and ``crit``).
        encoded_header: use this exact base64url protected header instead of building one (for
            reproducing published vectors); its ``alg`` must match.
        allow_weak_keys: allow RSA < 2048 bits and short HMAC secrets.

    Returns:
        The compact JWS (str).

    Raises:
        UnsupportedAlgorithmError, KeyMismatchError, WeakKeyError, InvalidKeyError,
        MalformedError (unencoded compact payload containing '.', header not serializable);
        TypeError: ``payload`` not bytes/str, or a key of the wrong type.
    """
    skey = _signing_key(key)
    body = _payload_bytes(payload)
    if encoded_header is not None:
        header = _json.loads_object(b64d(encoded_header, "header"), "header")
        algobj = get_algorithm(header.get("alg"))
        if algorithm is not None and algorithm != algobj.name:
            raise MalformedError("encoded_header's alg disagrees with algorithm")
        b64 = check_crit(header)
        h = encoded_header.encode("ascii")
    else:
        header, algobj = protected_header(skey, algorithm, headers, b64)
        h = b64e(_json.dumps(header))
    raw = skey.check_usable(algobj, "sign", allow_weak_keys)
    if b64:
        p = b64e(body)
    else:
        if b"." in body and not detached:  # RFC 7797 §5.2; a detached payload may contain '.'
            raise MalformedError("an unencoded compact payload cannot contain '.'")
        p = body
    signature = algobj.sign(raw, h + b"." + p)
    out = h + b"." + (b"" if detached else p) + b"." + b64e(signature)
    try:
        return out.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedError("an unencoded compact payload must be ASCII") from None


def sign_json(
    payload: bytes | str,
    signers: Sequence[
        tuple[Key | bytes | str, str | None, Mapping[str, Any] | None, Mapping[str, Any] | None]
    ],
    *,
    flattened: bool = False,
    detached: bool = False,
    b64: bool = True,
    allow_weak_keys: bool = False,
) -> dict[str, Any]:
    """Sign with one or more keys and return JWS JSON (RFC 7515 §7.2).

    Args:
        payload: the JWS Payload (bytes; str is UTF-8 encoded).
        signers: (key, alg or None, protected header params or None, unprotected header params
            or None) for each signature.
        flattened: return the flattened syntax (RFC 7515 §7.2.2); needs exactly one signer.
        detached: leave ``payload`` out of the result.
        b64: False for an unencoded payload (RFC 7797).

    Returns:
        The JWS JSON object (dict).

    Raises:
        ValueError: no signers, or several with ``flattened``.
        MalformedError: protected and unprotected names overlap; plus the errors of :func:`sign`.
    """
    if not signers:
        raise ValueError("at least one signer is needed")
    if flattened and len(signers) != 1:
        raise ValueError("the flattened syntax carries exactly one signature")
    body = _payload_bytes(payload)
    p = b64e(body) if b64 else body
    entries = []
    for key, alg, protected, unprotected in signers:
        skey = _signing_key(key)
        unprot = dict(unprotected or {})
        header, algobj = protected_header(skey, alg or unprot.get("alg"), protected, b64)
        if "kid" in unprot:
            header.pop("kid", None)
        # alg may sit in the unprotected header instead (RFC 7515 §7.2.1, RFC 7520 §4.7).
        if "alg" in unprot and unprot["alg"] != header.pop("alg"):
            raise MalformedError("unprotected 'alg' disagrees with the signer's alg")
        if header.keys() & unprot.keys():
            raise MalformedError("protected and unprotected header names must be disjoint")
        if "crit" in unprot or "b64" in unprot:  # RFC 7515 §4.1.11, RFC 7797 §6: protected only
            raise MalformedError("'crit' and 'b64' must be in the protected header")
        if "kid" in unprot and type(unprot["kid"]) is not str:
            raise MalformedError("header 'kid' must be a string")
        h = b64e(_json.dumps(header)) if header else b""
        raw = skey.check_usable(algobj, "sign", allow_weak_keys)
        entry: dict[str, Any] = {"protected": h.decode("ascii")} if h else {}
        if unprot:
            entry["header"] = unprot
        entry["signature"] = b64e(algobj.sign(raw, h + b"." + p)).decode("ascii")
        entries.append(entry)
    out: dict[str, Any] = {}
    if not detached:
        try:
            out["payload"] = p.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedError("an unencoded JSON payload must be UTF-8 text") from None
    if flattened:
        out.update(entries[0])
    else:
        out["signatures"] = entries
    return out
