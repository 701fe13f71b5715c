"""Redis side of the token service: the revocation mirror and shared login rate limits.

The database is the source of truth, and its outbox (:mod:`jwtkit.store.outbox`) the order of
events. The running service's relay (:mod:`jwtkit.server.relay`) hands each outbox event, in
``seq`` order, to :meth:`RedisMirror.relay`, which writes it into the keys named by
:func:`jwtkit.revocation.redis_keys` and announces it on the pub/sub channel with
:func:`jwtkit.revocation.make_event`, so verifiers (:class:`jwtkit.revocation.Denylist`) learn of
it at once. Redis keeps the last relayed ``seq`` (``{prefix}:seq``) and a Lua script applies an
event only when its ``seq`` is newer, so several instances relaying the same outbox announce each
event once, in order. Redis keeps nothing on disk here: :meth:`RedisMirror.mirror_all` re-mirrors
every live revocation at start and periodically.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis

from jwtkit.errors import InvalidDPoPProofError
from jwtkit.revocation import make_event, redis_keys
from jwtkit.store._breaker import Breaker, BreakerOpenError
from jwtkit.store.sql import RevocationEntry

_FAILURES = (redis.RedisError, OSError)

__all__ = ["RedisMirror", "RedisRateLimiter", "RedisReplayCache", "connect"]


def connect(url: str, timeout: float) -> redis.Redis[bytes]:
    """A ``redis.Redis`` client for ``url`` whose every call fails after ``timeout`` seconds
    (connect and socket) and is not retried: redis-py's default retries a timed-out call with
    backoff (about 6 s per call with redis-py 8), which a hung Redis would turn into 6 s per
    request. The :class:`~jwtkit.store._breaker.Breaker` decides when to try again."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client: redis.Redis[bytes] = redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )
    return client


# KEYS: jti, sid, sub, sub_until, channel, seq. ARGV: since, then per event: seq, kind, value,
# until, cutoff ("" when none), event JSON. Returns the number of events published, or false
# when Redis has no relayed seq although the caller already relayed some (Redis lost its data:
# the caller mirrors the live set instead).
_RELAY = """
local last = redis.call('GET', KEYS[6])
if not last then
  if tonumber(ARGV[1]) > 0 then return false end
  last = 0
else
  last = tonumber(last)
end
local published = 0
for i = 2, #ARGV, 6 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    local kind, value, untl, cutoff = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
    if kind == 'jti' then
      redis.call('ZADD', KEYS[1], 'GT', untl, value)
    elseif kind == 'sid' then
      redis.call('ZADD', KEYS[2], 'GT', untl, value)
    else
      local old = redis.call('HGET', KEYS[3], value)
      if (not old) or tonumber(cutoff) > tonumber(old) then
        redis.call('HSET', KEYS[3], value, cutoff)
      end
      redis.call('ZADD', KEYS[4], 'GT', untl, value)
    end
    redis.call('PUBLISH', KEYS[5], ARGV[i + 5])
    last = seq
    published = published + 1
  end
end
redis.call('SET', KEYS[6], last)
return published
"""

# KEYS: seq. ARGV: seq. Raise the relayed seq to ARGV[1] (never lower it).
_RAISE_SEQ = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


class RedisMirror:
    """Mirrors revocations into Redis and publishes them (see :mod:`jwtkit.revocation`).

    Args:
        client: a ``redis.Redis`` client.
        prefix: key prefix (str), default :data:`jwtkit.revocation.DEFAULT_PREFIX`.
        breaker: the :class:`~jwtkit.store._breaker.Breaker` of this Redis (shared with the rate
            limiter); while it is open every call raises
            :class:`~jwtkit.store._breaker.BreakerOpenError` at once.
    """

    def __init__(
        self, client: redis.Redis[bytes], prefix: str, *, breaker: Breaker | None = None
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.keys = redis_keys(prefix)
        self._relay = client.register_script(_RELAY)
        self._raise_seq = client.register_script(_RAISE_SEQ)
        self.breaker = breaker or Breaker("redis")

    def _add(self, pipe: redis.client.Pipeline[bytes], entry: RevocationEntry) -> None:
        k = self.keys
        if entry.kind == "jti":
            pipe.zadd(k["jti"], {entry.value: entry.until}, gt=True)
        elif entry.kind == "sid":
            pipe.zadd(k["sid"], {entry.value: entry.until}, gt=True)
        else:
            pipe.hset(k["sub"], entry.value, repr(float(entry.cutoff or 0.0)))
            pipe.zadd(k["sub_until"], {entry.value: entry.until}, gt=True)

    def relay(self, events: Sequence[Any], since: int | None = None) -> int | None:
        """Mirror and announce outbox events (objects with ``seq``, ``kind``, ``value``,
        ``until``, ``cutoff``; in ``seq`` order) in one atomic script; events whose ``seq`` Redis
        already had are skipped. ``since``: the caller's cursor before these events (default
        the first event's ``seq`` - 1).

        Returns:
            How many events were published (int), or None when Redis lost its data (no relayed
            ``seq`` although ``since`` > 0): call :meth:`mirror_all` instead.

        Raises:
            redis.RedisError: Redis is unreachable (the outbox keeps the events).
        """
        if not events:
            return 0
        args: list[Any] = [events[0].seq - 1 if since is None else since]
        for e in events:
            cutoff = "" if e.cutoff is None else repr(float(e.cutoff))
            event = make_event(e.kind, e.value, e.until, e.cutoff, seq=e.seq)
            args += [e.seq, e.kind, e.value, repr(float(e.until)), cutoff, event]
        k = self.keys
        keys = [k["jti"], k["sid"], k["sub"], k["sub_until"], k["channel"], k["seq"]]
        with self.breaker.guard(_FAILURES):
            result = self._relay(keys=keys, args=args)
        return None if result is None else int(result)

    def relayed_seq(self) -> int | None:
        """The last ``seq`` relayed to Redis (int), or None when Redis has none.

        Raises:
            redis.RedisError: Redis is unreachable.
        """
        with self.breaker.guard(_FAILURES):
            value = self.client.get(self.keys["seq"])
        return None if value is None else int(value)

    def mirror_all(self, entries: Iterable[RevocationEntry], now: float, seq: int = 0) -> int:
        """Write every live revocation (no events), drop entries expired at ``now``, and raise
        the relayed ``seq`` to ``seq`` (every event up to it is reflected in ``entries``).

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
        with self.breaker.guard(_FAILURES):
            pipe.execute()
            self._raise_seq(keys=[k["seq"]], args=[seq])
            expired = self.client.zrangebyscore(k["sub_until"], "-inf", now)
            if expired:
                pipe = self.client.pipeline(transaction=True)
                pipe.hdel(k["sub"], *expired)
                pipe.zrem(k["sub_until"], *expired)
                pipe.execute()
        return count

    def ping(self) -> None:
        """Raise ``redis.RedisError`` (or ``BreakerOpenError``) when Redis is unreachable."""
        with self.breaker.guard(_FAILURES):
            self.client.ping()


class RedisRateLimiter:
    """Fixed-window failure counters shared by every instance (``INCR`` + ``EXPIRE``).

    Args:
        client: a ``redis.Redis`` client.
        prefix: key prefix (str); keys are ``{prefix}:ratelimit:{name}:{window}``.
        breaker: as for :class:`RedisMirror`.
    """

    def __init__(
        self, client: redis.Redis[bytes], prefix: str, *, breaker: Breaker | None = None
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.breaker = breaker or Breaker("redis")

    def _key(self, name: str, window: int, now: float) -> str:
        return f"{self.prefix}:ratelimit:{name}:{int(now // window)}"

    def failures(self, name: str, window: int, now: float) -> int:
        """Return the failures counted for ``name`` in the current window (int)."""
        with self.breaker.guard(_FAILURES):
            value = self.client.get(self._key(name, window, now))
        return int(value) if value else 0

    def record_failure(self, name: str, window: int, now: float) -> int:
        """Count one failure for ``name``; returns the new count (int)."""
        key = self._key(name, window, now)
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, window + 1)
        with self.breaker.guard(_FAILURES):
            count, _ = pipe.execute()
        return int(count)

    def reset(self, name: str, window: int, now: float) -> None:
        """Forget the failures of ``name`` (after a successful login)."""
        with self.breaker.guard(_FAILURES):
            self.client.delete(self._key(name, window, now))


class RedisReplayCache:
    """A DPoP proof ``jti`` replay cache shared by every instance on one Redis (RFC 9449 §11.1),
    a :class:`jwtkit.dpop.ReplayCache`.

    Each ``add`` is one ``SET {prefix}:dpop:jti:{key} 1 NX PX ttl``: the first instance to see a
    ``jti`` wins, every later one (in any process) sees a replay. Entries expire with their proof.
    Fails closed: when Redis cannot answer (timeout, connection error, open breaker) the proof
    is refused rather than accepted unchecked.

    Args:
        client: a ``redis.Redis`` client, ideally from :func:`connect` (short timeouts, no
            retries).
        prefix: the key prefix (str), e.g. the service's ``redis_prefix``.
        breaker: a :class:`~jwtkit.store._breaker.Breaker` (default: a new one named
            ``redis``).
        clock: returns seconds since the epoch (float); defaults to :func:`time.time`.
    """

    def __init__(
        self,
        client: redis.Redis[bytes],
        prefix: str = "jwtkit",
        *,
        breaker: Breaker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.breaker = breaker or Breaker("redis")
        self._clock = clock

    def add(self, key: str, expires_at: float) -> bool:
        """Remember ``key`` (str) until ``expires_at`` (seconds since the epoch); returns False
        when it was already there (a replay).

        Raises:
            InvalidDPoPProofError: Redis is unavailable (fail closed).
        """
        ttl_ms = max(1, int((expires_at - self._clock()) * 1000))
        try:
            with self.breaker.guard(_FAILURES):
                created = self.client.set(f"{self.prefix}:dpop:jti:{key}", b"1", nx=True, px=ttl_ms)
        except (BreakerOpenError, *_FAILURES):
            raise InvalidDPoPProofError("the proof replay cache is unavailable") from None
        return bool(created)
