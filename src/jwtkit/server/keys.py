"""Signing keys of the token service: generation, storage at rest, rotation, the JWK Set.

A key is *next* (published in the JWK Set, not yet signing), *current* (signs new access tokens)
or *retired* (published until the last token it signed has expired, then deleted). ``keys rotate``
adds a *next* key that is promoted after a delay, so verifiers caching the JWK Set learn the new
``kid`` before any token carries it.

Private keys are stored in the ``signing_keys`` table (the SQLite file is 0600 in a 0700 data dir),
as a private JWK, or, when ``JWTKIT_KEY_ENCRYPTION_KEY`` is set, AES-256-GCM encrypted under a key
derived from that secret with HKDF-SHA256, with the ``kid`` as associated data.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import jwtkit
from jwtkit.errors import InvalidKeyError, KeyNotFoundError
from jwtkit.store._flight import SingleFlight
from jwtkit.store.sql import KeyRecord, SQLStore

__all__ = ["KeyEncryptor", "KeyManager", "generate_signing_key"]

_ENVELOPE = "aesgcm1:"


def generate_signing_key(alg: str) -> jwtkit.Key:
    """Generate a private signing key for ``alg`` (ES256: P-256; RS256/PS256: RSA 2048;
    EdDSA: Ed25519) with ``alg`` bound and the RFC 7638 thumbprint as ``kid``.

    Raises:
        UnsupportedAlgorithmError: another ``alg``.
    """
    if alg == "ES256":
        return jwtkit.Key.generate("EC", crv="P-256", alg=alg)
    if alg in ("RS256", "PS256"):
        return jwtkit.Key.generate("RSA", size=2048, alg=alg)
    if alg == "EdDSA":
        return jwtkit.Key.generate("OKP", crv="Ed25519", alg=alg)
    raise jwtkit.errors.UnsupportedAlgorithmError(f"cannot sign access tokens with {alg!r}")


class KeyEncryptor:
    """Seals private JWKs at rest (AES-256-GCM, key from HKDF-SHA256 of a secret).

    Args:
        secret: the secret (str) or None (keys are stored as plain private JWKs).
    """

    def __init__(self, secret: str | None) -> None:
        self._aead: AESGCM | None = None
        if secret:
            key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"jwtkit signing keys at rest"
            ).derive(secret.encode())
            self._aead = AESGCM(key)

    def seal(self, kid: str, private_jwk: Mapping[str, Any]) -> str:
        """Return the stored text of a private JWK (str)."""
        plain = json.dumps(dict(private_jwk), separators=(",", ":")).encode()
        if self._aead is None:
            return plain.decode()
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plain, kid.encode())
        return _ENVELOPE + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, kid: str, stored: str) -> dict[str, Any]:
        """Return the private JWK (dict) from its stored text.

        Raises:
            InvalidKeyError: the key is encrypted and no (or the wrong) secret is configured.
        """
        if not stored.startswith(_ENVELOPE):
            return dict(json.loads(stored))
        if self._aead is None:
            raise InvalidKeyError(f"signing key {kid} is encrypted: set JWTKIT_KEY_ENCRYPTION_KEY")
        blob = base64.urlsafe_b64decode(stored[len(_ENVELOPE) :])
        try:
            plain = self._aead.decrypt(blob[:12], blob[12:], kid.encode())
        except InvalidTag:
            raise InvalidKeyError(
                f"signing key {kid} cannot be decrypted with JWTKIT_KEY_ENCRYPTION_KEY"
            ) from None
        return dict(json.loads(plain))


def _on_event_loop() -> bool:
    """True when this thread is running an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class KeyManager:
    """Holds the signing keys of one service instance, backed by the ``signing_keys`` table.

    Implements the :class:`jwtkit.jwk.KeyResolver` protocol (:meth:`resolve_key`) over the
    published public keys, so a :class:`jwtkit.Verifier` can verify the service's own tokens.

    Args:
        store: the :class:`SQLStore`.
        alg: algorithm of generated keys (str).
        access_token_ttl: seconds (int); retired keys stay published this long plus ``margin``.
        margin: seconds (int).
        cache_seconds: how long the key table is cached in memory (float, real time).
        encryptor: a :class:`KeyEncryptor`.
        clock: returns now, seconds since the epoch (float).
        purpose: which key family this manager rotates (str): ``access`` (access tokens) or
            ``id_token`` (ID and logout tokens, OIDC Core §15.1: RS256 beside ES256). Each
            family has its own *current* key and rotates on its own.
    """

    def __init__(
        self,
        store: SQLStore,
        *,
        alg: str = "ES256",
        access_token_ttl: int = 900,
        margin: int = 60,
        cache_seconds: float = 2.0,
        encryptor: KeyEncryptor | None = None,
        clock: Callable[[], float] = time.time,
        purpose: str = "access",
    ) -> None:
        self.store = store
        self.purpose = purpose
        self.alg = alg
        self.access_token_ttl = access_token_ttl
        self.margin = margin
        self.cache_seconds = cache_seconds
        self._jwks_body: tuple[tuple[int, tuple[str, ...]], bytes] | None = None
        self.encryptor = encryptor or KeyEncryptor(None)
        self.clock = clock
        self._lock = threading.Lock()
        self._reloading = threading.Lock()
        self._records: list[KeyRecord] = []
        self._loaded_at = float("-inf")
        self._refreshes = SingleFlight()
        self._private: dict[str, jwtkit.Key] = {}
        self._public: dict[str, jwtkit.Key] = {}

    # -- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the key table now (also promotes due *next* keys and drops expired ones)."""
        now = self.clock()
        self.store.promote_keys(now, now + self.access_token_ttl + self.margin, self.purpose)
        records = self.store.list_keys(self.purpose)
        public = {r.kid: jwtkit.Key.from_jwk(r.public_jwk) for r in records}
        with self._lock:
            self._records = records
            self._public = public
            self._private = {k: v for k, v in self._private.items() if k in public}
            self._loaded_at = time.monotonic()

    async def refresh_async(self) -> None:
        """Reload the key table in a worker thread (:meth:`reload`), once for all the callers
        on this event loop that ask meanwhile: when the table ages out under load, the
        requests of that moment share one reload and then sign on the loop.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the reload failed (to every caller of that run).
        """
        await self._refreshes.run(None, self._reload_if_needed)

    def _reload_if_needed(self) -> None:
        if not self.is_fresh():  # another caller (a thread) may have reloaded it meanwhile
            self.reload()

    def is_fresh(self) -> bool:
        """True when the cached key table can be used without reading the database (loaded,
        younger than ``cache_seconds``, no promotion or removal due)."""
        if time.monotonic() - self._loaded_at >= self.cache_seconds:
            return False
        now = self.clock()
        return not any(
            (r.state == "next" and r.activate_at is not None and r.activate_at <= now)
            or (r.state == "retired" and r.publish_until is not None and r.publish_until <= now)
            for r in self._records
        )

    def jwks_body(self) -> bytes:
        """The JWK Set document as JSON bytes, built once per key table and published set
        (the JWK Set endpoint serves it without touching the database while fresh)."""
        published = self.published()
        marker = (id(self._records), tuple(r.kid for r in published))
        cached = self._jwks_body
        if cached is not None and cached[0] == marker:
            return cached[1]
        body = orjson.dumps({"keys": [orjson.loads(r.public_jwk) for r in published]})
        self._jwks_body = (marker, body)
        return body

    def _fresh(self) -> list[KeyRecord]:
        now = self.clock()
        stale = time.monotonic() - self._loaded_at >= self.cache_seconds
        due = any(
            (r.state == "next" and r.activate_at is not None and r.activate_at <= now)
            or (r.state == "retired" and r.publish_until is not None and r.publish_until <= now)
            for r in self._records
        )
        loaded = self._loaded_at != float("-inf")
        if loaded and (due or stale) and _on_event_loop():
            # Never read or write the database on an event loop (the caller checked
            # is_fresh() a moment ago; the table may have aged since): sign and publish from
            # the table as loaded, which already publishes a due key; the next request off
            # the loop reloads it (issue 12: a write here could wait on the loop's own writer).
            return self._records
        if due or not loaded:
            self.reload()
        elif stale and self._reloading.acquire(blocking=False):
            try:  # one thread refreshes the cache; the others keep using it meanwhile
                self.reload()
            finally:
                self._reloading.release()
        return self._records

    def ensure_key(self) -> str:
        """Create a *current* key when there is none (first start); returns the current kid."""
        self.reload()
        current = [r for r in self._records if r.state == "current"]
        if not current:
            key = generate_signing_key(self.alg)
            self.store.add_key(self._record(key, "current", None), only_if_no_current=True)
            self.reload()
            current = [r for r in self._records if r.state == "current"]
        if not current:  # pragma: no cover - the insert above guarantees one
            raise KeyNotFoundError("no current signing key")
        return current[0].kid

    def _record(self, key: jwtkit.Key, state: str, activate_at: float | None) -> KeyRecord:
        kid = key.kid
        if not kid:  # pragma: no cover - generated keys always have a thumbprint kid
            raise InvalidKeyError("signing key without kid")
        public = key.public().to_jwk()
        public.setdefault("use", "sig")
        public["alg"] = key.alg or self.alg
        return KeyRecord(
            kid=kid,
            alg=key.alg or self.alg,
            state=state,
            private_jwk=self.encryptor.seal(kid, key.to_jwk(private=True)),
            public_jwk=json.dumps(public, separators=(",", ":")),
            created_at=self.clock(),
            activate_at=activate_at,
            retired_at=None,
            publish_until=None,
            purpose=self.purpose,
        )

    # -- use -----------------------------------------------------------------------------------

    def signing_key(self) -> jwtkit.Key:
        """Return the *current* private key (a :class:`jwtkit.Key` with ``kid`` and ``alg``).

        Raises:
            KeyNotFoundError: no current key (the service was not started with :meth:`ensure_key`).
            InvalidKeyError: the stored key cannot be decrypted.
        """
        records = self._fresh()
        for record in records:
            if record.state == "current":
                key = self._private.get(record.kid)
                if key is None:
                    jwk = self.encryptor.open(record.kid, record.private_jwk)
                    key = jwtkit.Key.from_jwk(jwk)
                    self._private[record.kid] = key
                return key
        raise KeyNotFoundError("no current signing key")

    def published(self) -> list[KeyRecord]:
        """The keys published in the JWK Set now: *next*, *current*, and unexpired *retired*."""
        now = self.clock()
        return [
            r
            for r in self._fresh()
            if r.state in ("next", "current")
            or (r.state == "retired" and (r.publish_until or 0) > now)
        ]

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5) as a dict ``{"keys": [...]}``; never private parts."""
        return {"keys": [json.loads(r.public_jwk) for r in self.published()]}

    def keyset(self) -> jwtkit.KeySet:
        """The published public keys as a :class:`jwtkit.KeySet`."""
        kids = {r.kid for r in self.published()}
        return jwtkit.KeySet([k for kid, k in self._public.items() if kid in kids])

    def resolve_key(self, header: Mapping[str, Any]) -> jwtkit.Key:
        """KeyResolver: the published public key named by ``header["kid"]``.

        Raises:
            KeyNotFoundError: no published key has that kid.
        """
        return self.keyset().resolve_key(header)

    def rotate(self, *, delay: float, alg: str | None = None) -> KeyRecord:
        """Add a new *next* key, promoted to *current* ``delay`` seconds from now.

        Returns the stored :class:`KeyRecord` (its ``kid`` names the new key).
        """
        key = generate_signing_key(alg or self.alg)
        record = self._record(key, "next", self.clock() + delay)
        self.store.add_key(record)
        self.reload()
        return record
