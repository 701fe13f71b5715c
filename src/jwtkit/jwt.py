"""JSON Web Tokens (RFC 7519) with the JWT BCP (RFC 8725) and explicit typing (RFC 9068 §2.1).

:func:`encode` / :func:`decode` use PyJWT's argument names. :func:`decode` always checks the
signature *and* the claims; :class:`Verifier` holds one policy and is the per-request fast path.
Reading a token without verifying it has its own plainly named functions,
:func:`decode_unverified` and :func:`get_unverified_header`.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import json
import math
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jwtkit import _json
from jwtkit._b64 import b64d, b64e
from jwtkit.errors import (
    ClaimError,
    ExpiredError,
    ImmatureError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    InvalidTypeError,
    JWTKitError,
    KeyNotFoundError,
    MalformedError,
    MissingClaimError,
    NotYetValidError,
    TokenTooLargeError,
)
from jwtkit.jwa import Algorithm
from jwtkit.jwk import Key, KeyResolver, KeySet
from jwtkit.jws import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_TOKEN_SIZE,
    KeyLike,
    Policy,
    aresolved_key,
    as_key_source,
    candidate_keys,
    check_crit,
    check_identity,
    parse_protected,
    protected_header,
    pyca_key,
    split_compact,
    verify_with_keys,
)

__all__ = [
    "ANY_AUDIENCE",
    "DecodeOptions",
    "VerifiedToken",
    "Verifier",
    "decode",
    "decode_complete",
    "decode_unverified",
    "encode",
    "get_unverified_header",
    "parse_options",
]

_NUMERIC = (int, float)
_HEADER_CACHE_SIZE = 256
_DATE_CLAIMS = ("exp", "nbf", "iat")
_STR_TYPE = frozenset((str,))
_ABSENT: Any = object()

# Verifier.time_window: how far inside exp + leeway a window ends (seconds), and the largest
# magnitude of time it deals in (beyond 2**52 an int time and its float may differ).
_WINDOW_MARGIN = 0.001
_WINDOW_LIMIT = float(2**52)

# Prepared (encoded header + ".", algorithm, key object) per signing key and header options.
_SIGN_CACHE: weakref.WeakKeyDictionary[Key, dict[tuple[Any, ...], tuple[bytes, Algorithm, Any]]] = (
    weakref.WeakKeyDictionary()
)


def _check_now(now: float) -> float:
    # An injected ``now`` of NaN or infinity would pass or fail every time check at once.
    if isinstance(now, bool) or not isinstance(now, _NUMERIC):
        raise TypeError(f"now must be seconds since the epoch (a number), not {type(now).__name__}")
    if type(now) is float and math.isfinite(now):
        return now
    try:
        value = float(now)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ValueError("now must be a finite number of seconds since the epoch")
    return value


def _shown(value: object, limit: int = 80) -> str:
    """``value`` for an error message: repr() escapes control, format (bidi) and other
    non-printable characters, so untrusted text never reaches a terminal raw; long values are
    cut."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _expected(values: frozenset[str]) -> str:
    shown = sorted(values)
    return _shown(shown[0]) if len(shown) == 1 else _shown(shown, 200)


# PyJWT's decode options (jwt.types.Options): the claim each verify_* option turns off.
_OPTION_CLAIMS = {
    "verify_exp": "exp",
    "verify_nbf": "nbf",
    "verify_iat": "iat",
    "verify_aud": "aud",
    "verify_iss": "iss",
    "verify_sub": "sub",
    "verify_jti": "jti",
}
_OPTIONS = frozenset(
    ("verify_signature", "require", "strict_aud", "enforce_minimum_key_length", *_OPTION_CLAIMS)
)


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """PyJWT's ``options`` resolved (see :func:`parse_options`).

    Attributes:
        verify_signature: False only when given explicitly (then nothing is verified).
        skip: claim names whose checks are off (frozenset of str).
        require: claim names that must be present (tuple of str).
        strict_aud: ``aud`` must be one string equal to the audience.
    """

    verify_signature: bool = True
    skip: frozenset[str] = frozenset()
    require: tuple[str, ...] = ()
    strict_aud: bool = False


def parse_options(options: Mapping[str, Any] | None) -> DecodeOptions:
    """Resolve PyJWT's ``options`` dict (``jwt.types.Options``) for :func:`decode`.

    Known names: ``verify_signature``, ``verify_exp``, ``verify_nbf``, ``verify_iat``,
    ``verify_aud``, ``verify_iss``, ``verify_sub``, ``verify_jti`` (bool), ``require`` (list of
    claim names), ``strict_aud`` (bool), ``enforce_minimum_key_length`` (bool; jwtkit always
    enforces it, see ``allow_weak_keys``). Every check is on unless its option is given as False.
    As in PyJWT, ``verify_signature: False`` turns the claim checks off too, except those given
    as True explicitly; ``require`` still applies.

    Returns:
        :class:`DecodeOptions`.

    Raises:
        TypeError: not a mapping, an unknown name (a typo must not pass silently), or a value of
            the wrong type.
    """
    if options is None:
        return DecodeOptions()
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a dict, not {type(options).__name__}")
    unknown = set(options) - _OPTIONS
    if unknown:
        raise TypeError(
            f"unknown decode options {sorted(map(str, unknown))}: known are {sorted(_OPTIONS)}"
        )
    for name, value in options.items():
        if name != "require" and type(value) is not bool:
            raise TypeError(f"options[{name!r}] must be True or False")
    require = options.get("require", ())
    if isinstance(require, str) or not all(isinstance(n, str) for n in require):
        raise TypeError("options['require'] must be a list of claim names, e.g. ['exp', 'iss']")
    verify_signature = options.get("verify_signature", True)
    skip = frozenset(
        claim
        for name, claim in _OPTION_CLAIMS.items()
        if options.get(name, verify_signature) is False
    )
    return DecodeOptions(verify_signature, skip, tuple(require), options.get("strict_aud", False))


def _normalize_typ(value: str) -> str:
    # RFC 7515 §4.1.9 / RFC 8725 §3.11: media types compare case-insensitively, and the
    # "application/" prefix is omitted when no other "/" appears.
    lowered = value.lower()
    if lowered.startswith("application/") and "/" not in lowered[12:]:
        return lowered[12:]
    return lowered


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A verified JWT.

    Attributes:
        header: the JOSE Header (dict).
        claims: the JWT Claims Set (dict).
        key: the :class:`~jwtkit.Key` that verified the signature.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    key: Key


class _AnyAudience:
    """Type of :data:`ANY_AUDIENCE`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "jwtkit.ANY_AUDIENCE"


ANY_AUDIENCE: Any = _AnyAudience()
"""Pass as ``audience=`` to accept a token whatever its ``aud`` (still type-checked).

Meant for an issuer checking its own tokens (RFC 7662 introspection, RFC 7009 revocation), never for
a resource server, which must name itself (RFC 9068 §4, RFC 8725 §3.9)."""


def _as_tuple(value: str | Sequence[str] | None, name: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset((value,))
    values = frozenset(value)
    if not values or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} must be a str or a non-empty list of str")
    return values


class Verifier:
    """A JWT verification policy and its keys, built once and used per request.

    Args:
        key: a :class:`~jwtkit.Key`, a :class:`~jwtkit.KeySet` (picked by ``kid``), a key
            resolver (e.g. :class:`jwtkit.jwks_client.JWKSClient`), a pyca/cryptography public
            key object, a :class:`jwtkit.PyJWK`, or key material as bytes/str
            (:meth:`Key.from_material`: PEM/SSH/JWK/DER become the key they are, never an HMAC
            secret; anything else is an HMAC secret).
        algorithms: allowed ``alg`` values (required, non-empty; ``none`` is never allowed); one
            exact name as a str is a list of one, as PyJWT takes it.
        audience: expected audience(s) (str or list). When None, a token carrying ``aud`` is
            rejected (RFC 7519 §4.1.3); when set, ``aud`` is required and must contain one.
            :data:`ANY_AUDIENCE` accepts any well-typed ``aud`` (for an issuer's own checks).
        issuer: expected issuer(s) (str or list); when set, ``iss`` is required.
        leeway: clock skew allowance in seconds (finite float >= 0, or a timedelta) for ``exp``,
            ``nbf``, ``iat``.
        required: claim names that must be present.
        typ: expected ``typ`` header, e.g. ``"at+jwt"`` (RFC 8725 §3.11, RFC 9068 §2.1);
            compared case-insensitively with the ``application/`` prefix optional.
        subject: expected ``sub`` (str), if any.
        allow_weak_keys: accept RSA keys < 2048 bits and HMAC secrets shorter than the hash.
        max_token_size: cap on the token, bytes (default 16384); checked first.
        max_header_size: cap on the encoded header, bytes (default 4096).
        max_depth: cap on JSON nesting (default 16).
        encryption_algorithms: allowed JWE ``enc`` values. When given, tokens must be JWEs (five
            segments; a JWS is refused) and ``algorithms`` must also name the JWE ``alg``
            values (e.g. ``["RSA-OAEP-256", "ES256"]``). A JWE with ``cty: JWT`` is a nested JWT:
            its inner JWS is verified with ``key`` and the JWS ``algorithms``, never with the key
            that decrypted it. Any other JWE plaintext is the claims set (RFC 7519 §5.2), accepted
            only when ``algorithms`` names no JWS alg: naming one means a signature is required,
            so an unsigned encrypted JWT is refused (``malformed``).
            When None (default), tokens must be JWSs and a JWE is refused.
        compression_algorithms: allowed JWE ``zip`` values: ``()`` or ``("DEF",)``.
        decryption_key: the key(s) that decrypt (as :class:`jwtkit.jwe.Decrypter` takes);
            default: ``key``, keys picked by ``kid``, ``use: enc`` and ``key_ops``.
        options: PyJWT's ``options`` (see :func:`parse_options`): ``require`` adds required
            claims, each ``verify_exp``/``verify_nbf``/``verify_iat``/``verify_aud``/
            ``verify_iss``/``verify_sub``/``verify_jti`` set to False turns that claim's checks
            off (type and value; it must be given explicitly), ``strict_aud`` asks for a single
            string ``aud`` equal to ``audience``. ``verify_signature`` cannot be False here.

    Raises:
        TypeError / ValueError: bad arguments (``algorithms`` missing or empty, ``leeway`` negative
        or not finite, ``typ`` not a str, empty ``audience`` list); UnsupportedAlgorithmError:
        unknown ``alg``; InvalidKeyError: an HMAC secret that is empty, or key material that
        does not load; KeyMismatchError: a bytes/str key while ``algorithms`` mixes HMAC and
        asymmetric algs (type it with Key.from_secret / Key.from_pem, RFC 8725 §2.1).
    """

    __slots__ = (
        "_any_aud",
        "_audiences",
        "_header_cache",
        "_issuers",
        "_jwe",
        "_key",
        "_leeway",
        "_policy",
        "_raw_by_alg",
        "_required",
        "_skip",
        "_strict_aud",
        "_subject",
        "_typ",
        "_weak",
    )

    def __init__(
        self,
        key: KeyLike,
        *,
        algorithms: Sequence[str],
        audience: str | Sequence[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        leeway: float = 0,
        required: Sequence[str] = (),
        typ: str | None = None,
        subject: str | None = None,
        allow_weak_keys: bool = False,
        max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        max_depth: int = DEFAULT_MAX_DEPTH,
        encryption_algorithms: Sequence[str] | None = None,
        compression_algorithms: Sequence[str] = (),
        decryption_key: KeyLike | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self._jwe: Any = None
        if encryption_algorithms is not None:  # JWE only when asked: never auto-detected
            from jwtkit.jwe import jwt_decrypter

            self._jwe, algorithms = jwt_decrypter(
                decryption_key if decryption_key is not None else key,
                algorithms,
                encryption_algorithms,
                compression_algorithms,
                allow_weak_keys=allow_weak_keys,
                max_token_size=max_token_size,
                max_header_size=max_header_size,
                max_depth=max_depth,
            )
        self._policy = (
            Policy.build(algorithms, allow_weak_keys, max_token_size, max_header_size, max_depth)
            if algorithms or self._jwe is None
            else Policy(frozenset(), allow_weak_keys, max_token_size, max_header_size, max_depth)
        )
        opts = parse_options(options)
        if not opts.verify_signature:
            raise TypeError(
                "a Verifier always verifies the signature; to read claims unverified use"
                " jwtkit.decode_unverified(token) (or decode with options={'verify_signature':"
                " False})"
            )
        self._key = as_key_source(key, self._policy)
        self._skip = opts.skip
        self._strict_aud = opts.strict_aud
        if opts.strict_aud and not isinstance(audience, str):
            raise TypeError("options={'strict_aud': True} needs one audience (a str)")
        self._any_aud = audience is ANY_AUDIENCE or "aud" in opts.skip
        self._audiences = None if self._any_aud else _as_tuple(audience, "audience")
        self._issuers = None if "iss" in opts.skip else _as_tuple(issuer, "issuer")
        if isinstance(leeway, _dt.timedelta):
            leeway = leeway.total_seconds()
        try:
            seconds = -1.0 if isinstance(leeway, bool) else float(leeway)
        except (TypeError, ValueError, OverflowError):
            seconds = -1.0
        # NaN or infinity would turn every time check off: refused like a negative leeway.
        if not isinstance(leeway, _NUMERIC) or not 0 <= seconds < math.inf:
            raise ValueError("leeway must be a finite, non-negative number of seconds")
        self._leeway = seconds
        if isinstance(required, str):
            required = (required,)
        self._required = tuple(dict.fromkeys((*required, *opts.require)))
        if typ is not None and not isinstance(typ, str):
            raise TypeError("typ must be a str, e.g. 'at+jwt'")
        self._typ = _normalize_typ(typ) if typ is not None else None
        self._subject = None if "sub" in opts.skip else subject
        self._weak = allow_weak_keys
        self._header_cache: dict[bytes, tuple[dict[str, Any], Algorithm]] = {}
        self._raw_by_alg: dict[str, Any] = {}

    @property
    def leeway(self) -> float:
        """The clock-skew allowance in seconds (float) applied to ``exp``, ``nbf`` and ``iat``."""
        return float(self._leeway)

    @property
    def key_source(self) -> Key | KeySet | KeyResolver:
        """The key, key set or resolver this verifier uses."""
        return self._key

    def __repr__(self) -> str:
        return (
            f"Verifier(algorithms={sorted(self._policy.algorithms)!r}, "
            f"issuer={sorted(self._issuers) if self._issuers else None!r}, "
            f"audience={sorted(self._audiences) if self._audiences else None!r}, "
            f"typ={self._typ!r})"
        )

    # -- header ----------------------------------------------------------------------------

    def _header(self, segment: bytes) -> tuple[dict[str, Any], Algorithm]:
        cached = self._header_cache.get(segment)
        if cached is not None:
            return cached
        header, algorithm = parse_protected(segment, self._policy)
        if not check_crit(header):
            raise MalformedError("a JWT cannot use an unencoded payload (RFC 7797 §7)")
        typ = header.get("typ")
        if "typ" in header and type(typ) is not str:
            raise MalformedError("'typ' must be a string")
        if self._typ is not None:
            if typ is None:
                raise InvalidTypeError(f"token has no 'typ'; expected {_shown(self._typ)}")
            if _normalize_typ(typ) != self._typ:
                raise InvalidTypeError(f"token 'typ' {_shown(typ)} is not {_shown(self._typ)}")
        if "kid" in header and type(header["kid"]) is not str:
            raise MalformedError("'kid' must be a string")
        if type(self._key) is Key:  # the header is cached: its identity is checked once
            check_identity(header, self._key)
        if len(self._header_cache) >= _HEADER_CACHE_SIZE:
            self._header_cache.clear()
        self._header_cache[segment] = (header, algorithm)
        return header, algorithm

    # -- verification ------------------------------------------------------------------------

    def _finish(
        self,
        data: bytes,
        h: bytes,
        p: bytes,
        s: bytes,
        header: dict[str, Any],
        algorithm: Algorithm,
        keys: Sequence[Key] | None,
        now: float | None,
    ) -> VerifiedToken:
        signing_input = data[: len(h) + 1 + len(p)]
        signature = b64d(s, "signature")
        key = self._key
        if keys is None and type(key) is Key:
            raw = self._raw_by_alg.get(algorithm.name)
            if raw is None:
                raw = key.check_usable(algorithm, "verify", self._weak)
                self._raw_by_alg[algorithm.name] = raw
            algorithm.verify(raw, signing_input, signature)
            used = key
        else:
            if keys is None:
                keys = candidate_keys(self._key, header)
            used = verify_with_keys(keys, algorithm, signing_input, signature, self._weak)
        claims = _json.loads_object(b64d(p, "payload"), "claims", self._policy.max_depth)
        self._check_claims(claims, time.time() if now is None else _check_now(now))
        # A copy: the cached header must not change when a caller edits the result.
        return VerifiedToken(dict(header), claims, used)

    def verify_detailed(self, token: str | bytes, now: float | None = None) -> VerifiedToken:
        """Verify a compact JWT and return header, claims and the key used.

        Args:
            token: the compact JWT (str or ASCII bytes).
            now: the current time in seconds since the epoch (default: ``time.time()``); a finite
                number, else TypeError/ValueError.

        Returns:
            :class:`VerifiedToken` (its ``header`` is the caller's own copy).

        Raises:
            JWTKitError subclasses: TokenTooLargeError, MalformedError, UnsupportedAlgorithmError,
            AlgorithmNotAllowedError, UnsupportedCriticalHeaderError, InvalidTypeError,
            KeyNotFoundError, KeyMismatchError, WeakKeyError, InvalidSignatureError, and the claim
            errors (ExpiredError, NotYetValidError, ImmatureError, InvalidAudienceError,
            InvalidIssuerError, MissingClaimError, InvalidClaimError); with
            ``encryption_algorithms`` also DecryptionError, LimitExceededError, InvalidKeyError.
        """
        if self._jwe is not None:
            return self._open_jwe(token, now)
        data, h, p, s = split_compact(token, self._policy.max_token_size)
        header, algorithm = self._header(h)
        return self._finish(data, h, p, s, header, algorithm, None, now)

    def _open_jwe(self, token: str | bytes, now: float | None) -> VerifiedToken:
        # An encrypted JWT (RFC 7519 §5.2) or, with cty JWT, a nested one (§5.2, §11.2).
        if not isinstance(token, str | bytes) or token[:1] in ("{", b"{"):
            raise MalformedError("a JWT is a compact JWE or JWS (RFC 7519 §1)")
        opened = self._jwe.decrypt_detailed(token)
        cty = opened.header.get("cty")
        if cty is not None and _normalize_typ(cty) == "jwt":
            data, h, p, s = split_compact(opened.plaintext, self._policy.max_token_size)
            header, algorithm = self._header(h)
            dec = opened.key  # never verifies the inner JWS, whatever the key source holds
            keys = [
                k
                for k in candidate_keys(self._key, header)
                if k is not dec
                and not (
                    k.is_symmetric and dec.is_symmetric and hmac.compare_digest(k.raw, dec.raw)
                )
            ]
            if not keys:
                raise KeyNotFoundError("no signature key for the inner JWS of a nested JWT")
            return self._finish(data, h, p, s, header, algorithm, keys, now)
        if self._policy.algorithms:
            # JWS algs were named, so a signature is expected: a bare encrypted claims set (which
            # anyone holding an RSA-OAEP / ECDH-ES public key can make) is not accepted instead.
            raise MalformedError("a nested (signed, then encrypted) JWT is expected: no 'cty: JWT'")
        typ = opened.header.get("typ")
        if self._typ is not None and (typ is None or _normalize_typ(typ) != self._typ):
            raise InvalidTypeError(f"token 'typ' is not {self._typ!r}")
        claims = _json.loads_object(opened.plaintext, "claims", self._policy.max_depth)
        self._check_claims(claims, time.time() if now is None else _check_now(now))
        return VerifiedToken(dict(opened.header), claims, opened.key)

    def verify(self, token: str | bytes, now: float | None = None) -> dict[str, Any]:
        """Verify a compact JWT (signature and claims) and return its claims (dict).

        See :meth:`verify_detailed` for arguments and errors (RFC 7519 §7.2, RFC 8725 §3).
        """
        return self.verify_detailed(token, now).claims

    async def averify_detailed(self, token: str | bytes, now: float | None = None) -> VerifiedToken:
        """Like :meth:`verify_detailed`, awaiting the key source's ``aresolve_key`` if it has one
        (so an async JWK Set client can fetch keys without blocking the event loop)."""
        if self._jwe is not None:
            return self._open_jwe(token, now)
        data, h, p, s = split_compact(token, self._policy.max_token_size)
        header, algorithm = self._header(h)
        keys: Sequence[Key] | None = None
        if getattr(self._key, "aresolve_key", None) is not None:
            key = await aresolved_key(self._key, header)
            check_identity(header, key)
            keys = (key,)
        return self._finish(data, h, p, s, header, algorithm, keys, now)

    async def averify(self, token: str | bytes, now: float | None = None) -> dict[str, Any]:
        """Async :meth:`verify`: returns the claims (dict); same errors."""
        return (await self.averify_detailed(token, now)).claims

    def check_claims(self, claims: Mapping[str, Any], now: float | None = None) -> None:
        """Check a claims set against this policy (RFC 7519 §4.1), without a signature.

        Raises:
            the claim errors listed in :meth:`verify_detailed`.
        """
        self._check_claims(claims, time.time() if now is None else _check_now(now))

    def check_times(self, claims: Mapping[str, Any], now: float | None = None) -> None:
        """Check only the time claims of a claims set: ``exp``, ``nbf`` and ``iat`` with this
        policy's leeway (RFC 7519 §4.1.4-4.1.6), the checks of :meth:`check_claims` whose outcome
        changes with ``now``. Meant for claims this verifier has already accepted in full (e.g. a
        verified-token cache, which must still refuse an expired token); it alone says nothing
        about ``iss``, ``aud`` or the other claims.

        Args:
            claims: the claims set (mapping).
            now: seconds since the epoch (default: ``time.time()``); a finite number, else
                TypeError/ValueError.

        Raises:
            ExpiredError, NotYetValidError, ImmatureError; InvalidClaimError when one of them is
            not a NumericDate.
        """
        now = time.time() if now is None else _check_now(now)
        if self._skip:  # PyJWT's verify_<claim>=False: the claim is not looked at
            claims = {name: value for name, value in claims.items() if name not in self._skip}
        self._check_times(claims, now)

    def time_window(
        self, claims: Mapping[str, Any], now: float, until: float = math.inf
    ) -> tuple[float, float]:
        """Return an interval of times in which :meth:`check_times` certainly accepts
        ``claims``, so that a verified-token cache can test ``lo <= t < hi`` instead of
        re-running the checks (RFC 7519 §4.1.4-4.1.6: ``exp``, ``nbf``, ``iat`` with this
        policy's leeway, the ``verify_<claim>`` skips honoured).

        The interval is conservative: ``lo`` is ``now``; ``hi`` is at most ``until`` and 2**52
        (beyond which an int time and its float may differ), and ends a millisecond before
        ``exp`` plus the leeway. Each time check is monotonic in the time (``exp`` fails from
        some time on, ``nbf`` and ``iat`` until some time), so the interval is vouched for by
        running the exact checks at its two ends; when they do not both pass (a float-rounding
        edge) the interval is empty (``hi == lo``), and callers fall back to
        :meth:`check_times`, which judges the times outside the interval too.

        Args:
            claims: the claims set (mapping) this verifier has accepted in full.
            now: a time (seconds since the epoch, finite number) at which they are accepted.
            until: the latest ``hi`` wanted (seconds since the epoch; e.g. a cache's deadline).

        Returns:
            ``(lo, hi)`` (floats): :meth:`check_times` passes for every ``t`` with
            ``lo <= t < hi``.

        Raises:
            as :meth:`check_times` when the claims are refused at ``now``.
        """
        lo = _check_now(now)
        c = claims
        if self._skip:  # PyJWT's verify_<claim>=False: the claim is not looked at
            c = {name: value for name, value in c.items() if name not in self._skip}
        self._check_times(c, lo)
        hi = min(float(until), _WINDOW_LIMIT)
        exp = c.get("exp", _ABSENT)
        # exp is a NumericDate (_check_times checked its type); an int one beyond any float
        # time gives no bound.
        if exp is not _ABSENT and not (type(exp) is int and abs(exp) > _WINDOW_LIMIT):
            hi = min(hi, float(exp) + self._leeway - _WINDOW_MARGIN)
        if not -_WINDOW_LIMIT <= lo < hi:
            return lo, lo
        try:  # the exact checks at both ends vouch for every time between them
            self._check_times(c, math.nextafter(hi, -math.inf))
        except ClaimError:
            return lo, lo
        return lo, hi

    def _check_times(self, c: Mapping[str, Any], now: float) -> None:
        leeway = self._leeway
        exp = c.get("exp", _ABSENT)  # "exp": null is not a NumericDate, not absence
        if exp is not _ABSENT:
            if type(exp) not in _NUMERIC:
                raise InvalidClaimError("exp", "must be a NumericDate (a JSON number)")
            if now - leeway >= exp:  # not exp + leeway: a huge int exp would overflow a float
                raise ExpiredError("exp", "the token has expired")
        nbf = c.get("nbf", _ABSENT)  # "nbf": null is not a NumericDate, not absence
        if nbf is not _ABSENT:
            if type(nbf) not in _NUMERIC:
                raise InvalidClaimError("nbf", "must be a NumericDate (a JSON number)")
            if now + leeway < nbf:
                raise NotYetValidError("nbf", "the token is not valid yet")
        iat = c.get("iat", _ABSENT)  # "iat": null is not a NumericDate, not absence
        if iat is not _ABSENT:
            if type(iat) not in _NUMERIC:
                raise InvalidClaimError("iat", "must be a NumericDate (a JSON number)")
            if iat > now + leeway:
                raise ImmatureError("iat", "the token was issued in the future")

    def _check_claims(self, c: Mapping[str, Any], now: float) -> None:
        claims = c
        if self._skip:  # PyJWT's verify_<claim>=False: the claim is not looked at
            c = {name: value for name, value in c.items() if name not in self._skip}
        self._check_times(c, now)
        iss = c.get("iss", _ABSENT)  # "iss": null is not a StringOrURI, not absence
        if iss is _ABSENT:
            iss = None
        elif type(iss) is not str:
            raise InvalidClaimError("iss", "must be a string")
        if self._issuers is not None:
            if iss is None:
                raise MissingClaimError(
                    "iss", f"the token has no issuer; expected {_expected(self._issuers)}"
                )
            if iss not in self._issuers:
                raise InvalidIssuerError(
                    "iss", f"{_shown(iss)} is not the expected issuer {_expected(self._issuers)}"
                )
        aud = c.get("aud", _ABSENT)
        if aud is None:  # "aud": null is not absence either
            raise InvalidClaimError("aud", "must be a string or an array of strings")
        if aud is not _ABSENT and aud is not None:
            if type(aud) is str:
                auds: Sequence[str] = (aud,)
            elif type(aud) is list and all(type(a) is str for a in aud) and not self._strict_aud:
                auds = aud
            elif self._strict_aud:
                raise InvalidAudienceError("aud", "must be a single string (strict_aud)")
            else:
                raise InvalidClaimError("aud", "must be a string or an array of strings")
            if self._audiences is None:
                if not self._any_aud:
                    raise InvalidAudienceError(
                        "aud", "the token has an audience but none is expected (RFC 7519 §4.1.3)"
                    )
            elif self._audiences.isdisjoint(auds):
                raise InvalidAudienceError(
                    "aud",
                    f"{_shown(aud)} is not the expected audience {_expected(self._audiences)}",
                )
        elif self._audiences is not None:
            raise MissingClaimError(
                "aud", f"the token has no audience; expected {_expected(self._audiences)}"
            )
        sub = c.get("sub", _ABSENT)
        if sub is _ABSENT:
            sub = None
        elif type(sub) is not str:
            raise InvalidClaimError("sub", "must be a string")
        if self._subject is not None and sub != self._subject:
            raise InvalidClaimError(
                "sub", f"{_shown(sub)} is not the expected subject {_shown(self._subject)}"
            )
        jti = c.get("jti", _ABSENT)
        if jti is not _ABSENT and type(jti) is not str:
            raise InvalidClaimError("jti", "must be a string")
        for name in self._required:
            if name not in claims:
                raise MissingClaimError(name, f"the token is missing the required {name!r} claim")


class _NoKey:
    """The key source of an unverified decode: never asked for a key."""

    def resolve_key(self, header: Mapping[str, Any]) -> Key:  # pragma: no cover - never called
        raise KeyNotFoundError("no key: the signature is not verified")


def _unverified(
    token: str | bytes, opts: DecodeOptions, leeway: float, now: float | None, **policy: Any
) -> VerifiedToken:
    """PyJWT's ``verify_signature: False``: the claims unverified, with only the checks given
    as True (and ``require``)."""
    header = get_unverified_header(token)
    claims = decode_unverified(token)
    checker = Verifier(
        _NoKey(),
        algorithms=["HS256"],
        leeway=leeway,
        options={
            **{name: claim not in opts.skip for name, claim in _OPTION_CLAIMS.items()},
            "require": list(opts.require),
            "strict_aud": opts.strict_aud,
        },
        **policy,
    )
    checker.check_claims(claims, now)
    return VerifiedToken(header, claims, None)  # type: ignore[arg-type]


_KEY_REQUIRED = (
    "decode needs the key to verify the signature with (or, to read the claims unverified, "
    "options={'verify_signature': False} or jwtkit.decode_unverified(token))"
)


def decode_complete(
    token: str | bytes,
    key: KeyLike | None = None,
    algorithms: Sequence[str] | str | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    audience: str | Sequence[str] | None = None,
    issuer: str | Sequence[str] | None = None,
    leeway: float | _dt.timedelta = 0,
    required: Sequence[str] = (),
    typ: str | None = None,
    subject: str | None = None,
    now: float | None = None,
    allow_weak_keys: bool = False,
    max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
    encryption_algorithms: Sequence[str] | None = None,
    compression_algorithms: Sequence[str] = (),
    decryption_key: KeyLike | None = None,
    verify: bool | None = None,
) -> dict[str, Any]:
    """:func:`decode`, returning PyJWT's ``decode_complete`` shape (RFC 7519 §7.2).

    Returns:
        dict with ``"header"`` (the JOSE Header, dict), ``"payload"`` (the claims, dict) and
        ``"signature"`` (the JWS Signature, bytes; empty for a JWE).

    Raises:
        The errors of :func:`decode`.
    """
    if verify is False:
        raise TypeError(
            "verify=False is ignored by PyJWT 2 and refused by jwtkit: pass"
            " options={'verify_signature': False} to read unverified claims"
        )
    opts = parse_options(options)
    policy: dict[str, Any] = {
        "audience": audience,
        "issuer": issuer,
        "required": required,
        "typ": typ,
        "subject": subject,
    }
    if not opts.verify_signature:
        result = _unverified(token, opts, leeway, now, **policy)  # type: ignore[arg-type]
    else:
        if key is None:
            raise TypeError(_KEY_REQUIRED)
        result = Verifier(
            key,
            algorithms=algorithms,  # type: ignore[arg-type]
            leeway=leeway,  # type: ignore[arg-type]
            allow_weak_keys=allow_weak_keys,
            max_token_size=max_token_size,
            options=options,
            encryption_algorithms=encryption_algorithms,
            compression_algorithms=compression_algorithms,
            decryption_key=decryption_key,
            **policy,
        ).verify_detailed(token, now)
    # A JWE JWT has no JWS Signature of its own (a nested JWT's is inside the ciphertext).
    signature = (
        b64d(split_compact(token, max_token_size)[3], "signature")
        if encryption_algorithms is None
        else b""
    )
    return {"header": result.header, "payload": result.claims, "signature": signature}


def decode(
    token: str | bytes,
    key: KeyLike | None = None,
    algorithms: Sequence[str] | str | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    audience: str | Sequence[str] | None = None,
    issuer: str | Sequence[str] | None = None,
    leeway: float | _dt.timedelta = 0,
    required: Sequence[str] = (),
    typ: str | None = None,
    subject: str | None = None,
    now: float | None = None,
    allow_weak_keys: bool = False,
    max_token_size: int = DEFAULT_MAX_TOKEN_SIZE,
    encryption_algorithms: Sequence[str] | None = None,
    compression_algorithms: Sequence[str] = (),
    decryption_key: KeyLike | None = None,
    verify: bool | None = None,
) -> dict[str, Any]:
    """Verify a compact JWT's signature and claims and return the claims (RFC 7519 §7.2).

    Same arguments as :class:`Verifier` plus ``token`` (str or bytes) and ``now`` (seconds since
    the epoch; default ``time.time()``). For many tokens, build a :class:`Verifier` once.

    PyJWT's call shapes work unchanged: ``algorithms`` may be one name (``"HS256"``), ``leeway``
    a timedelta, and ``options`` PyJWT's dict (:func:`parse_options`): ``require``, ``strict_aud``,
    and each ``verify_<claim>: False`` to turn one claim's checks off, explicitly. The one way to
    skip the signature is ``options={"verify_signature": False}``, which, as in PyJWT, returns the
    claims UNVERIFIED (claim checks off unless given as True): never authorize on them.
    ``verify`` (PyJWT 1) is accepted as None or True only.

    Returns:
        The JWT Claims Set (dict).

    Raises:
        The errors listed in :meth:`Verifier.verify_detailed`; TypeError: no ``key`` or no
        ``algorithms`` while verifying, bad ``options``, ``verify=False``.
    """
    if options is None and verify is None:  # the plain call: no detour
        if key is None:
            raise TypeError(_KEY_REQUIRED)
        return Verifier(
            key,
            algorithms=algorithms,  # type: ignore[arg-type]
            audience=audience,
            issuer=issuer,
            leeway=leeway,  # type: ignore[arg-type]
            required=required,
            typ=typ,
            subject=subject,
            allow_weak_keys=allow_weak_keys,
            max_token_size=max_token_size,
            encryption_algorithms=encryption_algorithms,
            compression_algorithms=compression_algorithms,
            decryption_key=decryption_key,
        ).verify(token, now)
    return decode_complete(  # type: ignore[no-any-return]
        token,
        key,
        algorithms,
        options,
        audience=audience,
        issuer=issuer,
        leeway=leeway,
        required=required,
        typ=typ,
        subject=subject,
        now=now,
        allow_weak_keys=allow_weak_keys,
        max_token_size=max_token_size,
        encryption_algorithms=encryption_algorithms,
        compression_algorithms=compression_algorithms,
        decryption_key=decryption_key,
        verify=verify,
    )["payload"]


def _claim_value(name: str, value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            raise MalformedError(
                f"{name!r} is a naive datetime: jwtkit will not guess its timezone (a local time"
                " taken as UTC shifts the token's validity); pass an aware datetime such as"
                " datetime.now(timezone.utc), or seconds since the epoch"
            )
        return int(value.timestamp())
    return value


def encode(
    claims: Mapping[str, Any],
    key: Key | bytes | str | None,
    algorithm: str | None = None,
    headers: Mapping[str, Any] | None = None,
    json_encoder: type[json.JSONEncoder] | None = None,
    sort_headers: bool = False,
    *,
    allow_weak_keys: bool = False,
    encryption: Any = None,
) -> str:
    """Sign a JWT Claims Set and return a compact JWT (RFC 7519 §7.1).

    Args:
        claims: the claims (dict); ``exp``/``nbf``/``iat`` may be numbers (seconds since the
            epoch) or timezone-aware datetimes.
        key: a private :class:`~jwtkit.Key`, a pyca/cryptography private key object, or an
            key material as bytes/str (:meth:`Key.from_material`: PEM, SSH, JWK or DER text is
            the key it encodes, anything else an HMAC secret).
        algorithm: ``alg``; defaults to the key's bound ``alg`` or its type's default.
        headers: extra header parameters; ``typ`` defaults to ``"JWT"`` (pass ``"at+jwt"`` for
            access tokens, RFC 9068 §2.1, or ``None`` to omit); ``kid`` defaults to the key's.
        json_encoder: a ``json.JSONEncoder`` subclass for the claims (PyJWT's argument), e.g.
            to serialize UUIDs; NaN and Infinity stay refused.
        sort_headers: emit the header members sorted by name (PyJWT's default); jwtkit's
            default is ``alg`` first.
        allow_weak_keys: allow RSA keys < 2048 bits and HMAC secrets shorter than the hash.
        encryption: a :class:`jwtkit.jwe.Encryption` (or a mapping with ``key``, ``alg``,
            ``enc`` and optional ``zip``, ``headers``) to encrypt the JWT (RFC 7519 §5.2): with
            a ``key``, the signed JWT becomes a nested JWT (JWE with ``cty: JWT``, §11.2);
            with ``key=None``, the claims set is encrypted unsigned (``headers`` then go in the
            JWE header).

    Returns:
        The compact JWT (str): a JWS, or a JWE with ``encryption``.

    Raises:
        MalformedError: claims not a JSON object or not serializable; and the errors of
        :func:`jwtkit.jws.sign` (UnsupportedAlgorithmError, KeyMismatchError, WeakKeyError,
        InvalidKeyError). TypeError: a key, or ``headers``, of the wrong type.
    """
    if not isinstance(claims, Mapping):
        raise MalformedError("claims must be a mapping")
    if headers is not None and not isinstance(headers, Mapping):
        raise TypeError(f"headers must be a mapping, not {type(headers).__name__}")
    if not _STR_TYPE.issuperset(map(type, claims)) and not all(isinstance(n, str) for n in claims):
        # json would turn 1 into "1" silently, and {1: .., "1": ..} into duplicate members.
        raise MalformedError("claim names must be strings (RFC 7519 §4)")
    body = claims
    for name in _DATE_CLAIMS:
        if isinstance(claims.get(name), _dt.datetime):
            body = {k: _claim_value(k, v) if k in _DATE_CLAIMS else v for k, v in claims.items()}
            break
    if key is None:
        if encryption is None:
            raise TypeError("key is required (or key=None with encryption= for a JWE JWT)")
        from jwtkit.jwe import encrypt_jwt

        return encrypt_jwt(_json.dumps(body), encryption, {"typ": "JWT", **(headers or {})})
    if type(key) is not Key:
        key = pyca_key(key) or Key.from_material(key)  # type: ignore[arg-type]
    prepared = None
    cache_key: tuple[Any, ...] = (
        key.kid,
        key.alg,
        algorithm,
        allow_weak_keys,
        sort_headers,
        tuple(headers.items()) if headers else (),
    )
    cacheable = True
    per_key = _SIGN_CACHE.get(key)
    try:
        if per_key is not None:
            prepared = per_key.get(cache_key)
    except TypeError:  # unhashable header values: no caching
        cacheable = False
    if prepared is None:
        merged: dict[str, Any] = {"typ": "JWT"}
        if headers:
            merged.update(headers)
        header, algobj = protected_header(key, algorithm, merged, True)
        if sort_headers:
            header = dict(sorted(header.items()))
        raw = key.check_usable(algobj, "sign", allow_weak_keys)
        prepared = (b64e(_json.dumps(header)) + b".", algobj, raw)
        if cacheable:
            try:
                if per_key is None:
                    per_key = _SIGN_CACHE[key] = {}
                elif len(per_key) >= _HEADER_CACHE_SIZE:
                    per_key.clear()
                per_key[cache_key] = prepared
            except TypeError:
                pass
    head, algobj, raw = prepared
    if json_encoder is None:
        payload = _json.dumps(body)
    else:
        try:
            text = json.dumps(body, separators=(",", ":"), cls=json_encoder, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MalformedError(f"value is not JSON-serializable: {exc}") from None
        payload = text.encode("utf-8")
    signing_input = head + b64e(payload)
    token = signing_input + b"." + b64e(algobj.sign(raw, signing_input))
    if encryption is not None:
        from jwtkit.jwe import encrypt_jwt

        return encrypt_jwt(token, encryption, {"cty": "JWT"})
    return token.decode("ascii")


def _split_unverified(token: str | bytes) -> tuple[bytes, bytes]:
    _, h, p, _ = split_compact(token, DEFAULT_MAX_TOKEN_SIZE)
    return h, p


def get_unverified_header(token: str | bytes) -> dict[str, Any]:
    """Return a compact JWS/JWT's header WITHOUT verifying anything (RFC 7515 §5.2 steps 1-3).

    Raises:
        MalformedError / TokenTooLargeError: not a well-formed compact token.
    """
    h, _ = _split_unverified(token)
    if len(h) > DEFAULT_MAX_HEADER_SIZE:
        raise TokenTooLargeError("header is larger than the configured cap")
    return _json.loads_object(b64d(h, "header"), "header")  # type: ignore[no-any-return]


def decode_unverified(token: str | bytes) -> dict[str, Any]:
    """Return a compact JWT's claims WITHOUT verifying the signature or any claim.

    Never use the result for an authorization decision.

    Raises:
        MalformedError / TokenTooLargeError: not a well-formed compact JWT.
    """
    h, p = _split_unverified(token)
    header = _json.loads_object(b64d(h, "header"), "header")
    try:
        if not check_crit(header):
            raise MalformedError("a JWT cannot use an unencoded payload (RFC 7797 §7)")
    except JWTKitError as exc:
        raise MalformedError(exc.message) from None
    return _json.loads_object(b64d(p, "payload"), "claims")  # type: ignore[no-any-return]
