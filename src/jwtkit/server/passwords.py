"""argon2id hashing of user passwords and client secrets (RFC 9106, argon2-cffi).

Only hashes are stored. Verification of an unknown user still runs one argon2 verification
against a dummy hash, so response time does not reveal which usernames exist.
"""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["SecretHasher"]


class SecretHasher:
    """Hash and verify passwords and client secrets with argon2id.

    Args:
        time_cost: iterations (int). memory_kib: memory in KiB (int). parallelism: lanes (int).
    """

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._dummy = self._hasher.hash("jwtkit-dummy-password")

    def hash(self, secret: str) -> str:
        """Return the argon2id PHC string (str) of ``secret``."""
        return self._hasher.hash(secret)

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        """Return True when ``secret`` matches ``stored_hash``; with ``stored_hash`` None it spends
        the same time and returns False. Never raises on a mismatch or a corrupt hash."""
        try:
            return self._hasher.verify(stored_hash or self._dummy, secret) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was made with other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True
