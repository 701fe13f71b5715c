"""Redis side of the token service: the revocation mirror and shared login rate limits.

The database is the source of truth. Each revocation is mirrored, after its transaction commits,
into the keys named by :func:`jwtkit.revocation.redis_keys` and announced on the pub/sub channel
with :func:`jwtkit.revocation.make_event`, so verifiers (:class:`jwtkit.revocation.Denylist`) learn
of it at once. Redis keeps nothing on disk here: :meth:`RedisMirror.mirror_all` re-mirrors every
live revocation at start and periodically.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from jwtkit.revocation import make_event, redis_keys
from jwtkit.store.sql import RevocationEntry

__all__ = ["RedisMirror", "RedisRateLimiter"]


class RedisMirror:
    """Mirrors revocations into Redis and publishes them (see :mod:`jwtkit.revocation`).

    Args:
        client: a ``redis.Redis`` client.
        prefix: key prefix (str), default :data:`jwtkit.revocation.DEFAULT_PREFIX`.
    """

    def __init__(self, client: redis.Redis[bytes], prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.keys = redis_keys(prefix)

    def _add(self, pipe: redis.client.Pipeline[bytes], entry: RevocationEntry) -> None:
        k = self.keys
        if entry.kind == "jti":
            pipe.zadd(k["jti"], {entry.value: entry.until}, gt=True)
        elif entry.kind == "sid":
            pipe.zadd(k["sid"], {entry.value: entry.until}, gt=True)
        else:
            pipe.hset(k["sub"], entry.value, repr(float(entry.cutoff or 0.0)))
            pipe.zadd(k["sub_until"], {entry.value: entry.until}, gt=True)

    def publish(self, entries: Iterable[RevocationEntry]) -> int:
        """Mirror and announce entries (one pipeline round trip); returns how many (int).

        Raises:
            redis.RedisError: Redis is unreachable (the database already holds the revocation).
        """
        entries = list(entries)
        if not entries:
            return 0
        pipe = self.client.pipeline(transaction=True)
        for entry in entries:
            self._add(pipe, entry)
        for entry in entries:
            pipe.publish(
                self.keys["channel"],
                make_event(entry.kind, entry.value, entry.until, entry.cutoff),
            )
        pipe.execute()
        return len(entries)

    def mirror_all(self, entries: Iterable[RevocationEntry], now: float) -> int:
        """Write every live revocation (no events) and drop entries expired at ``now``.

        Sub cut-offs take the database's value (the latest). Returns how many were written.
        """
        k = self.keys
        pipe = self.client.pipeline(transaction=True)
        count = 0
        for entry in entries:
            self._add(pipe, entry)
            count += 1
        pipe.zremrangebyscore(k["jti"], "-inf", now)
        pipe.zremrangebyscore(k["sid"], "-inf", now)
        pipe.execute()
        expired = self.client.zrangebyscore(k["sub_until"], "-inf", now)
        if expired:
            pipe = self.client.pipeline(transaction=True)
            pipe.hdel(k["sub"], *expired)
            pipe.zrem(k["sub_until"], *expired)
            pipe.execute()
        return count

    def ping(self) -> None:
        """Raise ``redis.RedisError`` when Redis is unreachable."""
        self.client.ping()


class RedisRateLimiter:
    """Fixed-window failure counters shared by every instance (``INCR`` + ``EXPIRE``).

    Args:
        client: a ``redis.Redis`` client.
        prefix: key prefix (str); keys are ``{prefix}:ratelimit:{name}:{window}``.
    """

    def __init__(self, client: redis.Redis[bytes], prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, name: str, window: int, now: float) -> str:
        return f"{self.prefix}:ratelimit:{name}:{int(now // window)}"

    def failures(self, name: str, window: int, now: float) -> int:
        """Return the failures counted for ``name`` in the current window (int)."""
        value = self.client.get(self._key(name, window, now))
        return int(value) if value else 0

    def record_failure(self, name: str, window: int, now: float) -> int:
        """Count one failure for ``name``; returns the new count (int)."""
        key = self._key(name, window, now)
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, window + 1)
        count, _ = pipe.execute()
        return int(count)

    def reset(self, name: str, window: int, now: float) -> None:
        """Forget the failures of ``name`` (after a successful login)."""
        self.client.delete(self._key(name, window, now))
