"""jwtkit: a strict, fast JOSE core (JWS, JWK, JWA, JWT) and the pieces of a JWT system.

The core (this package's top level) does no I/O and imports only ``cryptography``:

* :func:`encode` / :func:`decode` with PyJWT's argument names (RFC 7519, RFC 8725);
* :class:`Verifier`: a policy built once, ``verify(token)`` per request;
* :class:`Key` / :class:`KeySet`: JWK and JWK Set (RFC 7517, 7638, 8037, 9278);
* :mod:`jwtkit.jws`: JWS in every serialization (RFC 7515, 7797);
* :mod:`jwtkit.errors`: one error hierarchy with stable codes;
* PyJWT's names (``decode_complete``, ``PyJWT``, ``PyJWK``, ``PyJWKSet``, ``PyJWKClient`` and the
  exceptions of :mod:`jwtkit.exceptions`), so ``import jwtkit as jwt`` runs PyJWT code.

The token service (``jwtkit.server``), JWK Set client (``jwtkit.jwks_client``), middleware
(``jwtkit.middleware``) and CLI (``jwtkit.cli``) are imported only when used.
"""

from __future__ import annotations

from jwtkit import errors, exceptions, jws
from jwtkit._pyjwt import (
    InsecureKeyLengthWarning,
    PyJWK,
    PyJWKSet,
    PyJWT,
    get_algorithm_by_name,
)
from jwtkit.errors import JWTKitError
from jwtkit.exceptions import (
    DecodeError,
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAlgorithmError,
    InvalidAudienceError,
    InvalidIssuedAtError,
    InvalidIssuerError,
    InvalidKeyError,
    InvalidSignatureError,
    InvalidTokenError,
    MissingRequiredClaimError,
    PyJWKClientConnectionError,
    PyJWKClientError,
    PyJWKError,
    PyJWKSetError,
    PyJWTError,
)
from jwtkit.jwa import ALGORITHMS
from jwtkit.jwk import Key, KeyResolver, KeySet
from jwtkit.jwt import (
    ANY_AUDIENCE,
    VerifiedToken,
    Verifier,
    decode,
    decode_complete,
    decode_unverified,
    encode,
    get_unverified_header,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # JWKSClient lives in jwtkit.jwks_client (it needs httpx, the 'client' extra); importing it
    # lazily keeps ``import jwtkit`` free of HTTP modules.
    if name in ("JWKSClient", "PyJWKClient"):
        from jwtkit import jwks_client

        return getattr(jwks_client, name)
    if name == "jwe":  # JWE loads on first use, so JWS-only code never imports it
        import jwtkit.jwe

        return jwtkit.jwe
    raise AttributeError(f"module 'jwtkit' has no attribute {name!r}")


__all__ = [
    "ALGORITHMS",
    "ANY_AUDIENCE",
    "DecodeError",
    "ExpiredSignatureError",
    "ImmatureSignatureError",
    "InsecureKeyLengthWarning",
    "InvalidAlgorithmError",
    "InvalidAudienceError",
    "InvalidIssuedAtError",
    "InvalidIssuerError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "JWKSClient",
    "JWTKitError",
    "Key",
    "KeyResolver",
    "KeySet",
    "MissingRequiredClaimError",
    "PyJWK",
    "PyJWKClient",
    "PyJWKClientConnectionError",
    "PyJWKClientError",
    "PyJWKError",
    "PyJWKSet",
    "PyJWKSetError",
    "PyJWT",
    "PyJWTError",
    "VerifiedToken",
    "Verifier",
    "__version__",
    "decode",
    "decode_complete",
    "decode_unverified",
    "encode",
    "errors",
    "exceptions",
    "get_algorithm_by_name",
    "get_unverified_header",
    "jws",
]
