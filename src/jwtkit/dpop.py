"""DPoP: proofs of possession for OAuth 2.0 tokens (RFC 9449), sans I/O.

A DPoP proof is a JWS the client signs, per request, with a key it holds; its header carries that
key's public JWK, its claims bind the proof to one HTTP request (``htm``, ``htu``), a moment
(``iat``), a unique id (``jti``), optionally an access token (``ath``) and a server nonce
(``nonce``). An access token bound to the key carries ``cnf.jkt``, the key's RFC 7638 thumbprint, so
a stolen token is useless without the private key.

* :func:`make_proof`: the client side (RFC 9449 §4.2).
* :func:`verify_proof`: the server side, every check of §4.3 (and §7.1 for ``ath``); returns a
  :class:`DPoPProof` or raises :class:`~jwtkit.errors.InvalidDPoPProofError` (or its subclass
  :class:`~jwtkit.errors.UseDPoPNonceError` when a fresh server nonce is needed, §8).
* :class:`MemoryReplayCache`: the ``jti`` replay cache of §11.1 for one process (a bounded table
  that evicts per key and never forgets a ``jti`` before its proof is stale); the Redis-backed one
  for many instances is :class:`jwtkit.store.redis.RedisReplayCache` (I/O stays out of the core).
* :class:`DPoPNonces`: server nonces (§8, §9) that need no shared state: an HMAC-SHA-256 over a
  time step, so every instance holding the same secret accepts every instance's nonces.
* :func:`access_token_hash` (``ath``) and :func:`normalize_htu` (§4.3 step 9: the URI without
  query and fragment, RFC 3986 §6.2.2-6.2.3 normalised).

Only asymmetric ``alg`` values are ever accepted (§4.3 step 6), and never ``none``; the key in the
header must be a public key (§4.3 step 7): a private member anywhere in it is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from jwtkit import _json
from jwtkit._b64 import b64d, b64e_str
from jwtkit.errors import InvalidDPoPProofError, JWTKitError, UseDPoPNonceError
from jwtkit.jwa import get_algorithm
from jwtkit.jwk import Key
from jwtkit.jws import sign, split_compact, verify_detailed

__all__ = [
    "DEFAULT_ALGORITHMS",
    "DPoPNonces",
    "DPoPProof",
    "MemoryReplayCache",
    "ReplayCache",
    "access_token_hash",
    "make_proof",
    "normalize_htu",
    "verify_proof",
]

DEFAULT_ALGORITHMS: tuple[str, ...] = (
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
    "PS256",
    "RS256",
)
"""Proof ``alg`` values accepted by default (asymmetric only; RFC 9449 §4.3 step 6)."""

MAX_PROOF_SIZE = 8192
"""Cap on a proof's length in bytes, checked before any parsing (a JWK and five claims fit)."""

MAX_JTI_LENGTH = 256
"""Cap on the ``jti`` claim's length in characters."""

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def access_token_hash(access_token: str) -> str:
    """The ``ath`` value for ``access_token`` (RFC 9449 §4.2): base64url(SHA-256(ASCII token)).

    Raises:
        InvalidDPoPProofError: the token is not ASCII (no access token is).
    """
    try:
        data = access_token.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise InvalidDPoPProofError("the access token is not an ASCII string") from None
    return b64e_str(hashlib.sha256(data).digest())


def normalize_htu(url: str) -> str:
    """``url`` as RFC 9449 §4.3 step 9 compares it: no query or fragment, the scheme and host in
    lower case, the scheme's default port dropped, an empty path as ``/`` (RFC 3986 §6.2.2-6.2.3).

    Args:
        url: an absolute ``http``/``https`` URI (str).

    Returns:
        The normalised URI (str).

    Raises:
        InvalidDPoPProofError: not a str, not an absolute http(s) URI, or with a bad port.
    """
    if not isinstance(url, str) or not url or len(url) > 4096:
        raise InvalidDPoPProofError("htu must be an absolute http(s) URI")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidDPoPProofError("htu is not a valid URI") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise InvalidDPoPProofError("htu must be an absolute http(s) URI")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


class ReplayCache(Protocol):
    """Where proof ``jti`` values are remembered (RFC 9449 §11.1)."""

    def add(self, key: str, expires_at: float) -> bool:
        """Remember ``key`` until ``expires_at`` (seconds since the epoch); False if it was
        already there (a replay)."""
        ...


class MemoryReplayCache:
    """A bounded in-process :class:`ReplayCache` (thread-safe).

    Entries expire at their own time; when the table is full, expired entries go first, and if
    none has expired the add is refused (fail closed: a proof is never accepted because the table
    forgot a ``jti`` that is still live).

    Args:
        max_entries: the table's cap (int, default 100 000).
        clock: returns seconds since the epoch (float); defaults to :func:`time.time`.
    """

    def __init__(self, max_entries: int = 100_000, clock: Any = time.time) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, key: str, expires_at: float) -> bool:
        """See :meth:`ReplayCache.add`. Raises InvalidDPoPProofError when full of live entries."""
        now = self._clock()
        with self._lock:
            seen = self._entries.get(key)
            if seen is not None and seen > now:
                return False
            if seen is None and len(self._entries) >= self.max_entries:
                self._prune(now)
                if len(self._entries) >= self.max_entries:
                    raise InvalidDPoPProofError("the proof replay cache is full; try again later")
            self._entries[key] = expires_at
            self._entries.move_to_end(key)
            return True

    def _prune(self, now: float) -> None:
        for key in [k for k, until in self._entries.items() if until <= now]:
            del self._entries[key]


class DPoPNonces:
    """Server-provided nonces (RFC 9449 §8, §9) without shared state.

    A nonce is base64url(time step (8 bytes, big-endian) || HMAC-SHA-256(secret, step)[:16]). A
    nonce of the current or the previous step verifies, so a nonce lives between ``lifetime`` and
    twice that; every instance with the same ``secret`` accepts every instance's nonces.

    Args:
        secret: at least 32 bytes, kept server-side.
        lifetime: the step in seconds (int, default 300).
    """

    def __init__(self, secret: bytes, lifetime: int = 300) -> None:
        if not isinstance(secret, bytes) or len(secret) < 32:
            raise ValueError("the DPoP nonce secret must be at least 32 bytes")
        if lifetime < 1:
            raise ValueError("lifetime must be a positive number of seconds")
        self._secret = secret
        self.lifetime = lifetime

    def _mac(self, step: int) -> bytes:
        return hmac.new(self._secret, step.to_bytes(8, "big"), hashlib.sha256).digest()[:16]

    def issue(self, now: float | None = None) -> str:
        """A fresh nonce (str) for ``now`` (seconds since the epoch; default the clock)."""
        step = int((time.time() if now is None else now) // self.lifetime)
        return b64e_str(step.to_bytes(8, "big") + self._mac(step))

    def check(self, nonce: object, now: float | None = None) -> bool:
        """True if ``nonce`` is one of ours and of the current or the previous step."""
        if not isinstance(nonce, str) or len(nonce) != 32:
            return False
        try:
            raw = b64d(nonce, "nonce")
        except JWTKitError:
            return False
        step = int.from_bytes(raw[:8], "big")
        current = int((time.time() if now is None else now) // self.lifetime)
        if step not in (current, current - 1):
            return False
        return hmac.compare_digest(raw[8:], self._mac(step))


@dataclass(frozen=True, slots=True)
class DPoPProof:
    """A verified DPoP proof.

    Attributes:
        jkt: the RFC 7638 SHA-256 thumbprint of the proof's key (str, base64url), the value an
            access token's ``cnf.jkt`` must equal.
        key: the proof's public :class:`~jwtkit.Key`.
        claims: the proof's claims (dict: ``jti``, ``htm``, ``htu``, ``iat``, maybe ``ath``,
            ``nonce``).
        header: the proof's protected header (dict).
    """

    jkt: str
    key: Key
    claims: dict[str, Any]
    header: dict[str, Any]


def make_proof(
    key: Key,
    htm: str,
    htu: str,
    *,
    access_token: str | None = None,
    nonce: str | None = None,
    algorithm: str | None = None,
    iat: float | None = None,
    jti: str | None = None,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """Sign a DPoP proof for one request (RFC 9449 §4.2).

    Args:
        key: the client's private asymmetric :class:`~jwtkit.Key`.
        htm: the HTTP method (str, e.g. ``"POST"``).
        htu: the target URI (str); query and fragment are dropped (§4.2).
        access_token: when given, its hash goes into ``ath`` (§4.2, for resource requests).
        nonce: the server's latest ``DPoP-Nonce`` (str), when it asked for one (§8).
        algorithm: the proof's ``alg`` (default: the key's bound or default ``alg``).
        iat: seconds since the epoch (default now); jti: default 128 random bits.
        extra_claims: more claims (a mapping), for tests and extensions.

    Returns:
        The proof, a compact JWS (str) with ``typ: dpop+jwt`` and the public ``jwk`` header.

    Raises:
        KeyMismatchError: the key is not a private asymmetric key.
        InvalidDPoPProofError: ``htu`` is not an absolute http(s) URI.
    """
    if not isinstance(key, Key) or key.is_symmetric or not key.is_private:
        raise InvalidDPoPProofError("a DPoP proof is signed with a private asymmetric key")
    parts = urlsplit(htu)
    claims: dict[str, Any] = {
        "jti": jti if jti is not None else secrets.token_urlsafe(16),
        "htm": htm,
        "htu": urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")),
        "iat": int(time.time() if iat is None else iat),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    if extra_claims:
        claims.update(extra_claims)
    public = key.public().to_jwk()
    for member in ("kid", "alg", "use", "key_ops"):
        public.pop(member, None)
    headers = {"typ": "dpop+jwt", "jwk": public, "kid": None}
    return sign(_json.dumps(claims), key, algorithm, headers=headers)


def _proof_header(proof: object, max_size: int) -> dict[str, Any]:
    if isinstance(proof, bytes | bytearray):
        proof = bytes(proof).decode("ascii", "replace")
    if not isinstance(proof, str):
        raise InvalidDPoPProofError("the DPoP proof must be one compact JWS")
    try:
        _, h, _, _ = split_compact(proof, max_size)
        header = _json.loads_object(b64d(h, "header"), "header")
    except JWTKitError as exc:
        raise InvalidDPoPProofError(f"the DPoP proof is not a well-formed JWS: {exc}") from None
    return dict(header)


def _proof_key(header: Mapping[str, Any], algorithms: Sequence[str]) -> tuple[Key, str]:
    if header.get("typ") != "dpop+jwt":
        raise InvalidDPoPProofError('the DPoP proof\'s typ must be "dpop+jwt"')
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise InvalidDPoPProofError("the DPoP proof's alg is not allowed")
    try:
        if get_algorithm(alg).family == "HMAC":
            raise InvalidDPoPProofError("a DPoP proof must use an asymmetric alg")
    except JWTKitError as exc:
        if isinstance(exc, InvalidDPoPProofError):
            raise
        raise InvalidDPoPProofError("the DPoP proof's alg is not supported") from None
    jwk = header.get("jwk")
    if not isinstance(jwk, Mapping):
        raise InvalidDPoPProofError("the DPoP proof has no jwk header (a public JWK)")
    if _PRIVATE_MEMBERS & set(jwk) or jwk.get("kty") == "oct":
        raise InvalidDPoPProofError("the DPoP proof's jwk must be a public key")
    try:
        key = Key.from_jwk(jwk)
    except JWTKitError:
        raise InvalidDPoPProofError("the DPoP proof's jwk is not a valid public key") from None
    if key.is_private or key.is_symmetric:
        raise InvalidDPoPProofError("the DPoP proof's jwk must be a public key")
    return key, alg


def verify_proof(
    proof: object,
    *,
    htm: str,
    htu: str,
    access_token: str | None = None,
    jkt: str | None = None,
    nonce: DPoPNonces | None = None,
    replay: ReplayCache | None = None,
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
    max_age: int = 300,
    leeway: int = 5,
    now: float | None = None,
    max_size: int = MAX_PROOF_SIZE,
) -> DPoPProof:
    """Check a DPoP proof against one request (RFC 9449 §4.3; §7.1 with ``access_token``).

    Args:
        proof: the ``DPoP`` header's value (str); exactly one header must have been sent (the
            caller checks that).
        htm, htu: the request's method and its URI as the client addressed it (behind a proxy:
            the configured external URL); ``htu`` is compared after :func:`normalize_htu`.
        access_token: at a resource server, the access token presented with the proof: ``ath``
            is then required and must equal its hash.
        jkt: the thumbprint the token is bound to (``cnf.jkt``, or a refresh token's binding):
            the proof's key must have it.
        nonce: server nonces: when given, the proof must carry a current one; a missing or
            stale nonce raises :class:`UseDPoPNonceError` (answer it with a fresh ``DPoP-Nonce``).
        replay: the ``jti`` cache; a ``jti`` seen within ``max_age`` is a replay. Without one, the
            caller accepts replays within the window (not recommended).
        algorithms: allowed asymmetric ``alg`` values.
        max_age: seconds a proof is accepted after its ``iat``; leeway: seconds of clock skew.
        now: seconds since the epoch (default the clock); max_size: the proof's cap in bytes.

    Returns:
        :class:`DPoPProof`.

    Raises:
        InvalidDPoPProofError: any check failed (code ``invalid_dpop_proof``).
        UseDPoPNonceError: a server nonce is required (code ``use_dpop_nonce``).
    """
    now = time.time() if now is None else now
    header = _proof_header(proof, max_size)
    key, alg = _proof_key(header, algorithms)
    try:
        verified = verify_detailed(proof, key, [alg], max_token_size=max_size)  # type: ignore[arg-type]
        claims = _json.loads_object(verified.payload, "claims")
    except JWTKitError:
        raise InvalidDPoPProofError("the DPoP proof's signature does not verify") from None
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise InvalidDPoPProofError("the DPoP proof needs a jti (a short, unique str)")
    if claims.get("htm") != htm:
        raise InvalidDPoPProofError("the DPoP proof's htm does not match the request's method")
    claimed_htu = claims.get("htu")
    if not isinstance(claimed_htu, str) or normalize_htu(claimed_htu) != normalize_htu(htu):
        raise InvalidDPoPProofError("the DPoP proof's htu does not match the request's URI")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        raise InvalidDPoPProofError("the DPoP proof needs a numeric iat")
    if iat > now + leeway:
        raise InvalidDPoPProofError("the DPoP proof's iat is in the future")
    if iat < now - max_age - leeway:
        raise InvalidDPoPProofError("the DPoP proof is too old (iat)")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(
            ath.encode(), access_token_hash(access_token).encode()
        ):
            raise InvalidDPoPProofError("the DPoP proof's ath does not match the access token")
    thumbprint = key.thumbprint()
    if jkt is not None and not hmac.compare_digest(thumbprint.encode(), str(jkt).encode()):
        raise InvalidDPoPProofError("the DPoP proof's key is not the one the token is bound to")
    if nonce is not None and not nonce.check(claims.get("nonce"), now):
        raise UseDPoPNonceError("a fresh DPoP nonce is required")
    if replay is not None and not replay.add(f"{thumbprint}:{jti}", iat + max_age + leeway):
        raise InvalidDPoPProofError("the DPoP proof has been used before (jti replay)")
    return DPoPProof(thumbprint, key, dict(claims), header)
