"""One error hierarchy for all of jwtkit.

Every error raised by jwtkit is a :class:`JWTKitError` with a class-level, stable, machine-readable
``code`` (snake_case). Codes are API: the token service maps them to OAuth error codes and HTTP
statuses (RFC 6749 §5.2, RFC 6750 §3), the CLI maps them to exit codes, and tests assert on codes,
never on messages.

Signature failures carry one bland message so that they leak nothing about why they failed.
Claim errors carry the ``claim`` name and a short ``reason``.
"""

from __future__ import annotations

__all__ = [
    "AlgorithmNotAllowedError",
    "ClaimError",
    "DecryptionError",
    "ExpiredError",
    "ImmatureError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidDPoPProofError",
    "InvalidIssuerError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "InvalidTypeError",
    "JWKSFetchError",
    "JWTKitError",
    "KeyMismatchError",
    "KeyNotFoundError",
    "LimitExceededError",
    "MalformedError",
    "MissingClaimError",
    "NotYetValidError",
    "RevocationUnavailableError",
    "RevokedError",
    "TokenTooLargeError",
    "UnsupportedAlgorithmError",
    "UnsupportedCriticalHeaderError",
    "UseDPoPNonceError",
    "WeakKeyError",
]


class JWTKitError(Exception):
    """Root of every jwtkit error.

    Attributes:
        code: stable machine-readable identifier (class-level; str, snake_case).
    """

    code: str = "error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.__class__.__doc__ or self.code
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(code={self.code!r}, message={self.message!r})"


# -- groups: parents that PyJWT's exception names stand for (jwtkit.exceptions); never raised
# themselves, so ``except`` clauses written for PyJWT catch what they caught there.


class DecodeError(JWTKitError):
    """The token cannot be decoded or its signature does not verify: the parent of
    :class:`MalformedError` and :class:`InvalidSignatureError` (PyJWT's ``DecodeError``)."""

    code = "decode_error"


class InvalidAlgorithmError(JWTKitError):
    """The ``alg`` is unsupported or not allowed: the parent of :class:`UnsupportedAlgorithmError`
    and :class:`AlgorithmNotAllowedError` (PyJWT's ``InvalidAlgorithmError``)."""

    code = "invalid_algorithm"


class PyJWKClientError(JWTKitError):
    """A JWK Set client failed: the parent of :class:`JWKSFetchError` and of the signing key not
    found by :class:`jwtkit.PyJWKClient` (PyJWT's ``PyJWKClientError``)."""

    code = "jwks_client_error"


class MalformedError(DecodeError):
    """The token, header, payload or key is not well-formed (RFC 7515 §5.2, RFC 7519 §7.2)."""

    code = "malformed"


class TokenTooLargeError(MalformedError):
    """The token, its header or its payload is larger than the configured cap."""

    code = "token_too_large"


class LimitExceededError(MalformedError):
    """A work factor in the token is above the configured cap: PBES2 ``p2c`` (RFC 7518 §4.8.1.2,
    RFC 8725 §3.5), checked before any work is done."""

    code = "limit_exceeded"


class UnsupportedAlgorithmError(InvalidAlgorithmError):
    """The ``alg`` is unknown to jwtkit, or is ``none`` (RFC 8725 §3.1)."""

    code = "unsupported_algorithm"


class AlgorithmNotAllowedError(InvalidAlgorithmError):
    """The token's ``alg`` is not in the caller's allowlist (RFC 8725 §3.1)."""

    code = "alg_not_allowed"


class UnsupportedCriticalHeaderError(MalformedError):
    """A ``crit`` header parameter is not understood or is malformed (RFC 7515 §4.1.11)."""

    code = "unsupported_crit"


class InvalidKeyError(JWTKitError):
    """The key material is malformed or cannot be imported (RFC 7517 §4)."""

    code = "invalid_key"


class WeakKeyError(InvalidKeyError):
    """The key is shorter than the algorithm's minimum (RFC 7518 §3.2, §3.3; RFC 8725 §3.5)."""

    code = "weak_key"


class KeyMismatchError(JWTKitError):
    """The key cannot be used with this ``alg`` or operation (type, curve, ``use``, ``key_ops``)."""

    code = "key_mismatch"


class KeyNotFoundError(JWTKitError):
    """No key matches the token's ``kid`` / ``alg`` (RFC 7515 §4.1.4)."""

    code = "key_not_found"


class InvalidSignatureError(DecodeError):
    """Signature verification failed."""

    code = "invalid_signature"

    def __init__(self, message: str | None = None) -> None:
        # One bland message whatever the cause: nothing is leaked.
        super().__init__("signature verification failed")


class DecryptionError(JWTKitError):
    """JWE decryption failed (RFC 7516 §5.2): the key does not unwrap the CEK, or the
    Authentication Tag does not verify."""

    code = "decryption_failed"

    def __init__(self, message: str | None = None) -> None:
        # One bland message whatever the cause (RFC 7516 §11.4, §11.5): nothing is leaked.
        super().__init__("decryption failed")


class InvalidTypeError(JWTKitError):
    """The ``typ`` header does not match the expected type (RFC 8725 §3.11)."""

    code = "invalid_typ"


class ClaimError(JWTKitError):
    """A claim check failed (RFC 7519 §4.1).

    Attributes:
        claim: the claim name (str), e.g. ``"exp"``.
        reason: short human-readable reason (str).
    """

    code = "invalid_claim"

    def __init__(self, claim: str, reason: str) -> None:
        self.claim = claim
        self.reason = reason
        super().__init__(f"{claim}: {reason}")


class InvalidClaimError(ClaimError):
    """A claim has the wrong type or value (RFC 7519 §4.1)."""

    code = "invalid_claim"


class MissingClaimError(ClaimError):
    """A required claim is absent."""

    code = "missing_claim"


class ExpiredError(ClaimError):
    """The token has expired: now >= exp + leeway (RFC 7519 §4.1.4)."""

    code = "expired"


class ImmatureSignatureError(ClaimError):
    """The token is not valid yet: the parent of :class:`NotYetValidError` (``nbf``) and
    :class:`ImmatureError` (``iat``), PyJWT's ``ImmatureSignatureError``; never raised itself."""

    code = "immature"


class NotYetValidError(ImmatureSignatureError):
    """The token is not valid yet: now < nbf - leeway (RFC 7519 §4.1.5)."""

    code = "not_yet_valid"


class ImmatureError(ImmatureSignatureError):
    """The token was issued in the future: iat > now + leeway (RFC 7519 §4.1.6)."""

    code = "iat_in_future"


class InvalidAudienceError(ClaimError):
    """The ``aud`` claim does not contain an expected audience (RFC 7519 §4.1.3)."""

    code = "invalid_audience"


class InvalidIssuerError(ClaimError):
    """The ``iss`` claim is not the expected issuer (RFC 7519 §4.1.1)."""

    code = "invalid_issuer"


class RevokedError(JWTKitError):
    """The token, its session or its subject's tokens have been revoked (RFC 7009)."""

    code = "revoked"


class RevocationUnavailableError(JWTKitError):
    """The verifier's revocation source has been down longer than its policy allows, and the
    policy is to refuse (fail closed) rather than serve possibly revoked tokens."""

    code = "revocation_unavailable"


class InvalidDPoPProofError(JWTKitError):
    """A DPoP proof (RFC 9449 §4.3) is missing, malformed, or does not fit the request, the key or
    the access token it must be bound to; also a replayed proof (§11.1)."""

    code = "invalid_dpop_proof"


class UseDPoPNonceError(InvalidDPoPProofError):
    """The server requires a DPoP nonce it provided (RFC 9449 §8, §9): retry with the latest
    ``DPoP-Nonce`` response header's value in the proof's ``nonce`` claim."""

    code = "use_dpop_nonce"


class JWKSFetchError(PyJWKClientError):
    """A remote JWK Set or issuer metadata could not be fetched or parsed."""

    code = "jwks_fetch_failed"
