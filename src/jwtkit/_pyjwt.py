"""PyJWT's remaining public names over jwtkit, so ``import jwtkit as jwt`` runs PyJWT code.

:class:`PyJWT` (an options-holding encoder/decoder), :class:`PyJWK` and :class:`PyJWKSet` (JWKs
in PyJWT's shape, each over a typed :class:`~jwtkit.Key`), :func:`get_algorithm_by_name` and
:class:`InsecureKeyLengthWarning`. The JWK Set client is :class:`jwtkit.PyJWKClient` (in
:mod:`jwtkit.jwks_client`, loaded on first use). ``docs/pyjwt.md`` maps every PyJWT name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from jwtkit import jwt as _jwt
from jwtkit.errors import InvalidKeyError, KeyNotFoundError
from jwtkit.jwa import Algorithm, get_algorithm
from jwtkit.jwk import Key

__all__ = [
    "InsecureKeyLengthWarning",
    "PyJWK",
    "PyJWKSet",
    "PyJWT",
    "get_algorithm_by_name",
]


class InsecureKeyLengthWarning(UserWarning):
    """PyJWT warns with it about short keys; jwtkit refuses them instead (WeakKeyError), so it is
    never emitted. It exists so that ``warnings.filterwarnings(..., category=...)`` still runs."""


class PyJWT:
    """PyJWT's ``jwt.PyJWT``: ``encode``/``decode``/``decode_complete`` with instance options.

    Args:
        options: PyJWT's options (:func:`jwtkit.jwt.parse_options`), merged under each call's
            own; ``enforce_minimum_key_length`` is accepted and always in force.

    Raises:
        TypeError: bad options.
    """

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        _jwt.parse_options(options)
        self.options: dict[str, Any] = dict(options or {})

    def _merged(self, options: Mapping[str, Any] | None) -> dict[str, Any] | None:
        merged = {**self.options, **(options or {})}
        return merged or None

    def encode(
        self,
        payload: Mapping[str, Any],
        key: Any,
        algorithm: str | None = "HS256",
        headers: Mapping[str, Any] | None = None,
        json_encoder: type[json.JSONEncoder] | None = None,
        sort_headers: bool = True,
    ) -> str:
        """:func:`jwtkit.encode` with PyJWT's defaults (``algorithm="HS256"``, sorted header).

        Raises:
            the errors of :func:`jwtkit.encode` (a short HMAC secret is WeakKeyError, an
            InvalidKeyError).
        """
        return _jwt.encode(payload, key, algorithm, headers, json_encoder, sort_headers)

    def decode_complete(
        self,
        jwt: str | bytes,
        key: Any = None,
        algorithms: Sequence[str] | str | None = None,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """:func:`jwtkit.decode_complete` with this instance's options under ``options``."""
        return _jwt.decode_complete(jwt, key, algorithms, self._merged(options), **kwargs)

    def decode(
        self,
        jwt: str | bytes,
        key: Any = None,
        algorithms: Sequence[str] | str | None = None,
        options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """:func:`jwtkit.decode` with this instance's options under ``options``."""
        return _jwt.decode(jwt, key, algorithms, self._merged(options), **kwargs)


class PyJWK:
    """PyJWT's ``jwt.PyJWK``: one JWK (RFC 7517 §4) over a typed :class:`~jwtkit.Key`.

    Passed to :func:`jwtkit.decode` it verifies as its :class:`~jwtkit.Key` (``kid`` and ``alg``
    binding kept); ``.key`` is the pyca/cryptography key object (or the secret bytes), as PyJWT's.

    Args:
        jwk_data: the JWK (dict).
        algorithm: bind the key to this ``alg`` when the JWK has none.

    Raises:
        InvalidKeyError (PyJWT's PyJWKError): not a usable JWK.
    """

    def __init__(self, jwk_data: Mapping[str, Any], algorithm: str | None = None) -> None:
        key = Key.from_jwk(jwk_data)
        if algorithm is not None and key.alg is None:
            key = key.with_params(alg=algorithm)
        self.jwtkit_key = key
        self._jwk_data = dict(jwk_data)

    @classmethod
    def from_key(cls, key: Key) -> PyJWK:
        """Wrap a :class:`~jwtkit.Key` (public members only for an asymmetric key)."""
        jwk = cls.__new__(cls)
        jwk.jwtkit_key = key
        jwk._jwk_data = key.to_jwk(private=key.is_symmetric)
        return jwk

    @staticmethod
    def from_dict(obj: Mapping[str, Any], algorithm: str | None = None) -> PyJWK:
        """PyJWT's ``PyJWK.from_dict``."""
        return PyJWK(obj, algorithm)

    @staticmethod
    def from_json(data: str, algorithm: str | None = None) -> PyJWK:
        """PyJWT's ``PyJWK.from_json``: the JWK as JSON text."""
        return PyJWK(json.loads(data), algorithm)

    @property
    def key(self) -> Any:
        """The pyca/cryptography key object (public half for a private key), or secret bytes."""
        key = self.jwtkit_key
        return key.raw if key.is_symmetric or not key.is_private else key.public().raw

    @property
    def key_id(self) -> str | None:
        """The JWK's ``kid``."""
        return self.jwtkit_key.kid

    @property
    def key_type(self) -> str:
        """The JWK's ``kty``."""
        return self.jwtkit_key.kty

    @property
    def public_key_use(self) -> str | None:
        """The JWK's ``use``."""
        return self.jwtkit_key.use

    @property
    def algorithm_name(self) -> str:
        """The ``alg`` the key is bound to, else its type's default."""
        return self.jwtkit_key.default_alg

    def __repr__(self) -> str:
        return f"PyJWK({self.jwtkit_key!r})"


class PyJWKSet:
    """PyJWT's ``jwt.PyJWKSet``: a JWK Set (RFC 7517 §5) of :class:`PyJWK`.

    Args:
        keys: the JWKs (list of dict).

    Raises:
        InvalidKeyError (PyJWT's PyJWKSetError): not a list, or no usable key.
    """

    def __init__(self, keys: Sequence[Mapping[str, Any]]) -> None:
        if not isinstance(keys, list | tuple):
            raise InvalidKeyError("a JWK Set's 'keys' must be a list")
        self.keys = [PyJWK(jwk) for jwk in keys]
        if not self.keys:
            raise InvalidKeyError("the JWK Set has no keys")

    @staticmethod
    def from_dict(obj: Mapping[str, Any]) -> PyJWKSet:
        """PyJWT's ``PyJWKSet.from_dict``: ``{"keys": [...]}``."""
        return PyJWKSet(obj.get("keys", []))

    @staticmethod
    def from_json(data: str) -> PyJWKSet:
        """PyJWT's ``PyJWKSet.from_json``."""
        return PyJWKSet.from_dict(json.loads(data))

    def __getitem__(self, kid: str) -> PyJWK:
        """The key with this ``kid``.

        Raises:
            KeyNotFoundError (also a KeyError, as PyJWT raises): no such key.
        """
        for key in self.keys:
            if key.key_id == kid:
                return key
        raise _MissingKid(f"no key with kid {kid!r} in the JWK Set")


class _MissingKid(KeyNotFoundError, KeyError):
    """PyJWT's ``PyJWKSet[kid]`` raises KeyError; jwtkit's error is both."""

    def __str__(self) -> str:
        return self.message


class _HashingAlgorithm:
    """What PyJWT's ``get_algorithm_by_name`` returns, for ``compute_hash_digest`` (OIDC at_hash,
    OpenID Connect Core §3.1.3.6)."""

    def __init__(self, algorithm: Algorithm) -> None:
        self.algorithm = algorithm

    def compute_hash_digest(self, data: bytes) -> bytes:
        """Hash ``data`` with the algorithm's hash (bytes).

        Raises:
            NotImplementedError: the algorithm has no hash of its own (EdDSA), as in PyJWT.
        """
        name = self.algorithm.hash_name
        if name is None:
            raise NotImplementedError(f"{self.algorithm.name} has no hash function")
        return hashlib.new(name.lower(), data).digest()

    def __repr__(self) -> str:
        return f"<algorithm {self.algorithm.name}>"


def get_algorithm_by_name(name: str) -> _HashingAlgorithm:
    """PyJWT's ``jwt.get_algorithm_by_name``: the algorithm for ``alg`` (RFC 7518 §3.1).

    Raises:
        UnsupportedAlgorithmError: unknown, or ``none`` (never available).
    """
    return _HashingAlgorithm(get_algorithm(name))
