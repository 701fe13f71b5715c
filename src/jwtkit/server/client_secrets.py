"""Client secrets (RFC 6749 §2.3.1): generated with 256 bits of entropy, verified with one keyed
hash instead of a password hash.

A client secret is a random value the service generates (:func:`generate_client_secret`), not
something a person remembers, so a slow password hash buys nothing against guessing (2^256
candidates) and costs every request, and every attacker's request, one argon2id. It is stored as

* ``hmac-sha256$<base64url>``: HMAC-SHA-256 under the server-side pepper
  (``client_secret_pepper``; the database alone then does not even allow an offline check), or
* ``sha256$<base64url>``: SHA-256 of the secret, when no pepper is configured (NIST SP 800-63B
  §5.1.1.2 asks for a slow hash for *memorized* secrets only; a 256-bit random secret cannot be
  searched).

Hashes made by earlier versions (argon2id PHC strings) keep verifying, through the bounded
argon2id hasher; :meth:`ClientSecretHasher.needs_upgrade` says when the caller should store the
fast form after a successful check. Every check of an unknown client, a public one or a wrong
secret costs the same one HMAC (:meth:`ClientSecretHasher.verify` with ``None``).

Admin-chosen secrets must look random (:func:`check_client_secret`): at least 32 characters and an
estimated 128 bits, so a guessable secret cannot be registered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import zlib
from collections import Counter

from jwtkit.errors import JWTKitError
from jwtkit.server.passwords import SecretHasher

__all__ = [
    "MIN_SECRET_BITS",
    "ClientSecretHasher",
    "WeakClientSecretError",
    "check_client_secret",
    "generate_client_secret",
]

#: Least estimated entropy of an admin-chosen client secret (bits).
MIN_SECRET_BITS = 128
_MIN_LENGTH = 32
_HMAC = "hmac-sha256$"
_SHA = "sha256$"


class WeakClientSecretError(JWTKitError, ValueError):
    """An admin-chosen client secret is too short or too regular to be a random value."""

    code = "weak_client_secret"


def generate_client_secret() -> str:
    """A new client secret (str): 32 random bytes (256 bits), base64url without padding
    (43 characters)."""
    return secrets.token_urlsafe(32)


def estimated_bits(secret: str) -> float:
    """A generous upper bound of the entropy of ``secret`` (float bits): the smaller of its
    length times the Shannon entropy of its characters and the size of its zlib compression
    (which sees repeats and runs such as ``0123456789`` x 4). A random 43-character base64url
    value scores about 230; ``"aaaa..."`` scores 0; a 12-character password at most ~43."""
    if not secret:
        return 0.0
    counts = Counter(secret)
    n = len(secret)
    shannon = -n * sum(c / n * math.log2(c / n) for c in counts.values())
    compressed = 8.0 * max(0, len(zlib.compress(secret.encode("utf-8", "surrogatepass"), 9)) - 8)
    return min(shannon, compressed)


def check_client_secret(secret: str) -> None:
    """Refuse an admin-chosen client secret that is not a high-entropy random value.

    Raises:
        WeakClientSecretError: shorter than 32 characters or an estimated entropy below
            :data:`MIN_SECRET_BITS` (say ``--generate`` to have one made).
    """
    if len(secret) < _MIN_LENGTH or estimated_bits(secret) < MIN_SECRET_BITS:
        raise WeakClientSecretError(
            f"the client secret is too weak (need at least {_MIN_LENGTH} random characters, "
            f"~{MIN_SECRET_BITS} bits); let jwtkit generate one (--generate)"
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class ClientSecretHasher:
    """Hash and verify client secrets with one HMAC-SHA-256 (or SHA-256) per check.

    Args:
        pepper: the server-side HMAC key (bytes) or None for plain SHA-256.
        legacy: the argon2id :class:`SecretHasher` that checks hashes made before this scheme.
    """

    def __init__(self, pepper: bytes | None, legacy: SecretHasher) -> None:
        self._pepper = pepper or None
        self.legacy = legacy
        self._dummy = self.hash(generate_client_secret())

    def _digest(self, secret: str, keyed: bool) -> str:
        data = secret.encode("utf-8", "surrogatepass")
        if keyed and self._pepper is not None:
            return _HMAC + _b64(hmac.new(self._pepper, data, hashlib.sha256).digest())
        return _SHA + _b64(hashlib.sha256(data).digest())

    def hash(self, secret: str) -> str:
        """The stored form (str) of ``secret``: ``hmac-sha256$...`` with a pepper, else
        ``sha256$...``."""
        return self._digest(secret, keyed=True)

    @staticmethod
    def is_legacy(stored_hash: str | None) -> bool:
        """True for a hash made by an earlier version (argon2id), which costs a slow check."""
        return bool(stored_hash) and not str(stored_hash).startswith((_HMAC, _SHA))

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        """True when ``secret`` matches ``stored_hash`` (compared in constant time).

        ``stored_hash`` None (an unknown or public client) costs the same one HMAC and returns
        False; an ``hmac-sha256$`` hash without a configured pepper never matches (fail closed);
        an argon2id hash goes through the legacy hasher (slow, bounded). Never raises.
        """
        if stored_hash is None or not stored_hash:
            hmac.compare_digest(self._dummy, self.hash(secret))
            return False
        if stored_hash.startswith(_HMAC):
            if self._pepper is None:
                hmac.compare_digest(self._dummy, self.hash(secret))
                return False
            return hmac.compare_digest(stored_hash, self._digest(secret, keyed=True))
        if stored_hash.startswith(_SHA):
            return hmac.compare_digest(stored_hash, self._digest(secret, keyed=False))
        return self.legacy.verify(stored_hash, secret)

    def needs_upgrade(self, stored_hash: str | None) -> bool:
        """True when a verified ``stored_hash`` should be replaced by :meth:`hash` (an argon2id
        hash, or plain SHA-256 now that a pepper is configured)."""
        if not stored_hash:
            return False
        if stored_hash.startswith(_HMAC):
            return False
        return self.is_legacy(stored_hash) or self._pepper is not None
