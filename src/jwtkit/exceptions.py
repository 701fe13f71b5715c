"""PyJWT's exception names (``jwt.exceptions``) in jwtkit's one error hierarchy.

Each name is bound to a :mod:`jwtkit.errors` class, so ``except jwt.ExpiredSignatureError:``
written for PyJWT catches the same failures with ``import jwtkit as jwt``, and every error still
has its stable ``code``. Where jwtkit is finer than PyJWT, the PyJWT name is the parent of the finer
classes (``ImmatureSignatureError`` of ``nbf`` and ``iat`` errors, ``DecodeError`` of malformed
tokens and bad signatures, ``InvalidAlgorithmError`` of unsupported and disallowed ``alg``).
``InvalidTokenError`` and ``PyJWTError`` are :class:`~jwtkit.errors.JWTKitError` itself, so they
catch every jwtkit failure (key and JWK Set errors too, which PyJWT raises outside
``InvalidTokenError``). ``docs/pyjwt.md`` lists each name with what it maps to.
"""

from __future__ import annotations

from jwtkit import errors

__all__ = [
    "DecodeError",
    "ExpiredSignatureError",
    "ImmatureSignatureError",
    "InvalidAlgorithmError",
    "InvalidAudienceError",
    "InvalidIssuedAtError",
    "InvalidIssuerError",
    "InvalidJTIError",
    "InvalidKeyError",
    "InvalidSignatureError",
    "InvalidSubjectError",
    "InvalidTokenError",
    "MissingCryptographyError",
    "MissingRequiredClaimError",
    "PyJWKClientConnectionError",
    "PyJWKClientError",
    "PyJWKError",
    "PyJWKSetError",
    "PyJWTError",
]

PyJWTError = errors.JWTKitError
InvalidTokenError = errors.JWTKitError
DecodeError = errors.DecodeError
InvalidSignatureError = errors.InvalidSignatureError
ExpiredSignatureError = errors.ExpiredError
InvalidAudienceError = errors.InvalidAudienceError
InvalidIssuerError = errors.InvalidIssuerError
InvalidIssuedAtError = errors.InvalidClaimError
InvalidSubjectError = errors.InvalidClaimError
InvalidJTIError = errors.InvalidClaimError
ImmatureSignatureError = errors.ImmatureSignatureError
InvalidKeyError = errors.InvalidKeyError
InvalidAlgorithmError = errors.InvalidAlgorithmError
MissingRequiredClaimError = errors.MissingClaimError
PyJWKError = errors.InvalidKeyError
PyJWKSetError = errors.InvalidKeyError
PyJWKClientError = errors.PyJWKClientError
PyJWKClientConnectionError = errors.JWKSFetchError


class MissingCryptographyError(errors.InvalidKeyError):
    """PyJWT raises it when ``cryptography`` is missing; it is a dependency of jwtkit, so jwtkit
    never raises this (it exists so that PyJWT code naming it still imports)."""
