"""argon2id hashing of user passwords (RFC 9106, argon2-cffi), admission to it, and the cache of
verified client secrets.

Only hashes are stored. Verification of an unknown user still runs one argon2 verification
against a dummy hash, so response time does not reveal which usernames exist. Client secrets are
checked with a keyed hash (:mod:`jwtkit.server.client_secrets`); argon2id client hashes made by
earlier versions still verify here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["HashAdmission", "HashQueueFull", "SecretHasher", "VerifiedSecretCache"]


class SecretHasher:
    """Hash and verify passwords and client secrets with argon2id.

    At most ``max_concurrent`` hashes or verifications run at once (others wait), so a flood of
    logins cannot allocate ``memory_kib`` per request-handling thread.

    Args:
        time_cost: iterations (int). memory_kib: memory in KiB (int). parallelism: lanes (int).
        max_concurrent: simultaneous argon2 computations (int; default the CPU count, >= 2).
    """

    def __init__(
        self,
        time_cost: int = 3,
        memory_kib: int = 65536,
        parallelism: int = 4,
        max_concurrent: int | None = None,
    ) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrent or max(2, os.cpu_count() or 2))
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._dummy: str | None = None

    def hash(self, secret: str) -> str:
        """Return the argon2id PHC string (str) of ``secret``."""
        with self._slots:
            return self._hasher.hash(secret)

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        """Return True when ``secret`` matches ``stored_hash``; with ``stored_hash`` None it spends
        the same time and returns False. Never raises on a mismatch or a corrupt hash."""
        if stored_hash is None and self._dummy is None:
            self._dummy = self.hash("jwtkit-dummy-password")
        try:
            target = stored_hash or self._dummy or ""
            with self._slots:
                ok = self._hasher.verify(target, secret)
            return ok and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when ``stored_hash`` was made with other parameters than this hasher's."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return True


class VerifiedSecretCache:
    """Remembers recent *successful* client-secret verifications, so a confidential client that
    asks for tokens often does not pay one argon2id verification per request.

    An entry is HMAC-SHA256(secret) under a random per-process key, bound to the client id and
    to the stored hash (changing the secret invalidates it), kept ``ttl`` seconds (monotonic
    time). Failures are never cached: a wrong secret always costs a full argon2id verification.

    Args:
        ttl: seconds an entry is trusted (float; 0 disables the cache).
        max_entries: bound on the number of entries (int).
    """

    def __init__(self, ttl: float = 300.0, max_entries: int = 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _mac(self, secret: str) -> bytes:
        return hmac.new(self._key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def check(self, ident: str, stored_hash: str, secret: str) -> bool:
        """True when this exact secret was verified for ``ident``/``stored_hash`` recently."""
        if self.ttl <= 0:
            return False
        entry = self._entries.get((ident, stored_hash))
        if entry is None or entry[1] <= time.monotonic():
            return False
        return hmac.compare_digest(entry[0], self._mac(secret))

    def remember(self, ident: str, stored_hash: str, secret: str) -> None:
        """Record a successful verification; a full cache drops its least recently stored
        entry (one, not all: issue 13 item 7)."""
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries.pop((ident, stored_hash), None)
            while len(self._entries) >= self.max_entries:
                self._entries.popitem(last=False)
            self._entries[(ident, stored_hash)] = (self._mac(secret), time.monotonic() + self.ttl)


class HashQueueFull(Exception):
    """More requests wait for a password hash than :class:`HashAdmission` admits."""


class HashAdmission:
    """Admission of requests to password hashing, on the event loop, before a worker thread is
    taken (issue 13 item 3).

    A request whose work may run argon2id (a password login) enters here first and holds one of
    ``slots`` places while its work runs in the thread pool; others wait as coroutines, holding
    no thread. So however many logins arrive, at most ``slots`` threads hash at once and the rest
    of the thread pool stays free for the JWK Set, metadata, health and token requests that do
    not hash. Beyond ``max_waiting`` waiting requests, :meth:`admit` refuses at once.

    Args:
        slots: concurrent hashing requests (int; default the CPU count, >= 2).
        max_waiting: requests allowed to wait (int).
    """

    def __init__(self, slots: int | None = None, max_waiting: int = 64) -> None:
        self.slots = slots or max(2, os.cpu_count() or 2)
        self.max_waiting = max_waiting
        self._semaphore: asyncio.Semaphore | None = None
        self._waiting = 0

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold one place for the duration of the ``async with`` block.

        Raises:
            HashQueueFull: ``max_waiting`` requests already wait.
        """
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        if self._semaphore.locked() and self._waiting >= self.max_waiting:
            raise HashQueueFull(f"{self._waiting} requests wait for password hashing")
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._semaphore.release()
