"""jwtkit: a strict, fast JOSE core (JWS, JWK, JWA, JWT) and the pieces of a JWT system.

The core (this package's top level) does no I/O and imports only ``cryptography``:

* :func:`encode` / :func:`decode` with PyJWT's argument names (RFC 7519, RFC 8725);
* :class:`Verifier`: a policy built once, ``verify(token)`` per request;
* :class:`Key` / :class:`KeySet`: JWK and JWK Set (RFC 7517, 7638, 8037, 9278);
* :mod:`jwtkit.jws`: JWS in every serialization (RFC 7515, 7797);
* :mod:`jwtkit.errors`: one error hierarchy with stable codes.

The token service (``jwtkit.server``), JWK Set client (``jwtkit.jwks_client``), middleware
(``jwtkit.middleware``) and CLI (``jwtkit.cli``) are imported only when used.
"""

from __future__ import annotations

from jwtkit import errors, jws
from jwtkit.errors import JWTKitError
from jwtkit.jwa import ALGORITHMS
from jwtkit.jwk import Key, KeyResolver, KeySet
from jwtkit.jwt import (
    ANY_AUDIENCE,
    VerifiedToken,
    Verifier,
    decode,
    decode_unverified,
    encode,
    get_unverified_header,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # JWKSClient lives in jwtkit.jwks_client (it needs httpx, the 'client' extra); importing it
    # lazily keeps ``import jwtkit`` free of HTTP modules.
    if name == "JWKSClient":
        from jwtkit.jwks_client import JWKSClient

        return JWKSClient
    raise AttributeError(f"module 'jwtkit' has no attribute {name!r}")


__all__ = [
    "ALGORITHMS",
    "ANY_AUDIENCE",
    "JWKSClient",
    "JWTKitError",
    "Key",
    "KeyResolver",
    "KeySet",
    "VerifiedToken",
    "Verifier",
    "__version__",
    "decode",
    "decode_unverified",
    "encode",
    "errors",
    "get_unverified_header",
    "jws",
]
