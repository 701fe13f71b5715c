"""Keep a verifier's in-memory :class:`~jwtkit.revocation.Denylist` in sync with Redis.

The token service mirrors revocations to Redis (key names and event format in
:mod:`jwtkit.revocation`): sorted sets ``{prefix}:jti`` and ``{prefix}:sid`` (score =
keep-until), hash ``{prefix}:sub`` (cut-off) with ``{prefix}:sub_until`` (keep-until), and the
pub/sub channel ``{prefix}:events``. A listener:

1. SUBSCRIBEs to the channel first, then loads the sets (so no event falls between the two);
2. applies each event to the denylist as it arrives (typically well under 10 ms after the
   service publishes it), so requests are checked with no network call;
3. reloads the sets every ``resync_interval`` seconds (catching anything missed while
   disconnected) and prunes entries whose keep-until has passed;
4. reconnects after a Redis failure, reloading on reconnect. While Redis is down the denylist
   keeps what it knew; new revocations then wait for the reconnect, and tokens still expire on
   their own (short access-token lifetime).

Loads merge into the denylist (revocations are never undone), so a load racing with an event
cannot lose it. :class:`RevocationListener` runs in a daemon thread (WSGI, or any sync app);
:class:`AsyncRevocationListener` runs as an asyncio task with ``redis.asyncio`` (ASGI).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import redis
import redis.asyncio

from jwtkit.errors import MalformedError
from jwtkit.revocation import DEFAULT_PREFIX, Denylist, parse_event, redis_keys

__all__ = ["AsyncRevocationListener", "RevocationListener"]

logger = logging.getLogger("jwtkit.revocation")

_INF = float("inf")


def _s(value: Any) -> str:
    # Redis members are bytes; a non-UTF-8 one must not stop the load (it matches no token).
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _merge_snapshot(
    denylist: Denylist,
    jti: list[tuple[Any, float]],
    sid: list[tuple[Any, float]],
    sub: Mapping[Any, Any],
    sub_until: list[tuple[Any, float]],
) -> int:
    """Merge a Redis snapshot into ``denylist``; returns how many entries it held."""
    for member, score in jti:
        denylist.add_jti(_s(member), float(score))
    for member, score in sid:
        denylist.add_sid(_s(member), float(score))
    until = {_s(m): float(s) for m, s in sub_until}
    count = len(jti) + len(sid)
    for field, value in sub.items():
        name = _s(field)
        try:
            cutoff = float(_s(value))
            if not math.isfinite(cutoff):  # "nan" would wipe the subject's real cut-off
                raise ValueError(value)
        except ValueError:
            logger.warning("jwtkit: ignoring bad revocation cut-off for a subject")
            continue
        denylist.add_sub(name, cutoff, until.get(name, _INF))
        count += 1
    return count


def _handle_message(denylist: Denylist, message: Mapping[str, Any] | None) -> bool:
    if not message or message.get("type") != "message":
        return False
    try:
        event = parse_event(message["data"])
    except (MalformedError, RecursionError) as exc:  # deep JSON nesting raises RecursionError
        logger.warning("jwtkit: ignoring a malformed revocation event: %s", exc)
        return False
    if not all(math.isfinite(event[k]) for k in ("until", "cutoff") if k in event):
        # NaN would win max() in the denylist and get the entry pruned (undoing a revocation)
        logger.warning("jwtkit: ignoring a revocation event with a non-finite time")
        return False
    denylist.apply(event)
    return True


class _Base:
    def __init__(
        self,
        denylist: Denylist | None,
        *,
        url: str,
        prefix: str,
        resync_interval: float,
        poll_timeout: float,
        reconnect_delay: float,
        clock: Callable[[], float],
    ) -> None:
        self.denylist = denylist if denylist is not None else Denylist()
        self.url = url
        self.prefix = prefix
        self.keys = redis_keys(prefix)
        self.resync_interval = float(resync_interval)
        self.poll_timeout = float(poll_timeout)
        self.reconnect_delay = float(reconnect_delay)
        self.clock = clock
        self.events_applied = 0
        self.loads = 0
        self.connected = False


class RevocationListener(_Base):
    """Thread that keeps a :class:`Denylist` in sync with the token service's Redis.

    Args:
        denylist: the denylist to fill (None: a new one, in ``.denylist``).
        url: Redis URL (str), e.g. ``"redis://127.0.0.1:6379/0"``.
        prefix: revocation key prefix (default :data:`jwtkit.revocation.DEFAULT_PREFIX`).
        resync_interval: seconds between full reloads and prunes (default 30).
        poll_timeout: seconds the thread waits for a message before checking for stop/resync.
        reconnect_delay: seconds to wait before reconnecting after a Redis error.
        clock: wall clock in seconds since the epoch (for pruning; default :func:`time.time`).

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        denylist: Denylist | None = None,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = DEFAULT_PREFIX,
        resync_interval: float = 30.0,
        poll_timeout: float = 0.25,
        reconnect_delay: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            denylist,
            url=url,
            prefix=prefix,
            resync_interval=resync_interval,
            poll_timeout=poll_timeout,
            reconnect_delay=reconnect_delay,
            clock=clock,
        )
        self.ready = threading.Event()
        self._attempted = threading.Event()  # set after the first connection attempt
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def load(self, client: redis.Redis[Any]) -> int:
        """Merge the Redis sets into the denylist and prune; returns the entries loaded (int).

        Raises:
            redis.RedisError: Redis failed.
        """
        now = self.clock()
        pipe = client.pipeline(transaction=False)
        pipe.zrangebyscore(self.keys["jti"], f"({now}", "+inf", withscores=True)
        pipe.zrangebyscore(self.keys["sid"], f"({now}", "+inf", withscores=True)
        pipe.hgetall(self.keys["sub"])
        pipe.zrange(self.keys["sub_until"], 0, -1, withscores=True)
        jti, sid, sub, sub_until = pipe.execute()
        count = _merge_snapshot(self.denylist, jti, sid, sub, sub_until)
        self.denylist.prune(now)
        self.loads += 1
        return count

    def start(self, wait: float | None = 5.0) -> RevocationListener:
        """Start the thread; wait up to ``wait`` seconds for the first load (None: don't wait).

        Returns self. Does not raise when Redis is down: it returns after the first failed
        attempt, the thread keeps retrying, and ``ready`` is set after the first successful load.
        """
        if self._thread is not None:
            return self
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"jwtkit-revocations:{self.prefix}", daemon=True
        )
        self._thread.start()
        if wait:
            self._attempted.wait(wait)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> RevocationListener:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.keys["channel"])
                self.load(client)
                self.connected = True
                self.ready.set()
                self._attempted.set()
                next_sync = time.monotonic() + self.resync_interval
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=self.poll_timeout)
                    if _handle_message(self.denylist, message):
                        self.events_applied += 1
                    if time.monotonic() >= next_sync:
                        self.load(client)
                        next_sync = time.monotonic() + self.resync_interval
            except (redis.RedisError, OSError) as exc:
                self.connected = False
                self._attempted.set()
                logger.warning("jwtkit: revocation listener lost Redis (%s); retrying", exc)
                self._stop.wait(self.reconnect_delay)
            except Exception:  # never die silently: a dead listener would stop revocations
                self._attempted.set()
                logger.exception("jwtkit: revocation listener failed; reconnecting")
                self._stop.wait(self.reconnect_delay)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    pubsub.close()
                with contextlib.suppress(Exception):
                    client.close()


class AsyncRevocationListener(_Base):
    """asyncio task that keeps a :class:`Denylist` in sync with Redis (``redis.asyncio``).

    Same arguments and behaviour as :class:`RevocationListener`. Start it in the app's
    lifespan::

        listener = AsyncRevocationListener(denylist, url="redis://127.0.0.1:6379/0")

        @asynccontextmanager
        async def lifespan(app):
            async with listener:
                yield
    """

    def __init__(
        self,
        denylist: Denylist | None = None,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        prefix: str = DEFAULT_PREFIX,
        resync_interval: float = 30.0,
        poll_timeout: float = 0.25,
        reconnect_delay: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            denylist,
            url=url,
            prefix=prefix,
            resync_interval=resync_interval,
            poll_timeout=poll_timeout,
            reconnect_delay=reconnect_delay,
            clock=clock,
        )
        self.ready = asyncio.Event()
        self._attempted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def load(self, client: redis.asyncio.Redis[Any]) -> int:
        """Merge the Redis sets into the denylist and prune; returns the entries loaded (int).

        Raises:
            redis.RedisError: Redis failed.
        """
        now = self.clock()
        pipe = client.pipeline(transaction=False)
        pipe.zrangebyscore(self.keys["jti"], f"({now}", "+inf", withscores=True)
        pipe.zrangebyscore(self.keys["sid"], f"({now}", "+inf", withscores=True)
        pipe.hgetall(self.keys["sub"])
        pipe.zrange(self.keys["sub_until"], 0, -1, withscores=True)
        jti, sid, sub, sub_until = await pipe.execute()
        count = _merge_snapshot(self.denylist, jti, sid, sub, sub_until)
        self.denylist.prune(now)
        self.loads += 1
        return count

    async def start(self, wait: float | None = 5.0) -> AsyncRevocationListener:
        """Start the task; wait up to ``wait`` seconds for the first connection attempt.

        Returns self; never raises for Redis being down (``ready`` tells whether it loaded).
        """
        if self._task is None:
            self.ready = asyncio.Event()
            self._attempted = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name=f"jwtkit-revocations:{self.prefix}")
        if wait:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._attempted.wait(), wait)
        return self

    async def stop(self) -> None:
        """Cancel the task and wait for it to finish."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> AsyncRevocationListener:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _run(self) -> None:
        while True:
            client = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=5, socket_connect_timeout=5
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys["channel"])
                await self.load(client)
                self.connected = True
                self.ready.set()
                self._attempted.set()
                next_sync = time.monotonic() + self.resync_interval
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self.poll_timeout
                    )
                    if _handle_message(self.denylist, message):
                        self.events_applied += 1
                    if time.monotonic() >= next_sync:
                        await self.load(client)
                        next_sync = time.monotonic() + self.resync_interval
            except (redis.RedisError, OSError) as exc:
                self.connected = False
                self._attempted.set()
                logger.warning("jwtkit: revocation listener lost Redis (%s); retrying", exc)
                await asyncio.sleep(self.reconnect_delay)
            except Exception:  # never die silently: a dead listener would stop revocations
                self._attempted.set()
                logger.exception("jwtkit: revocation listener failed; reconnecting")
                await asyncio.sleep(self.reconnect_delay)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined,unused-ignore]
                with contextlib.suppress(Exception):
                    await client.aclose()  # type: ignore[attr-defined,unused-ignore]
