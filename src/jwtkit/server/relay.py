"""The revocation relay: one per running service instance, fed by the database's outbox.

Every revocation is written to the outbox (``revocation_outbox``) in the transaction of the change
that caused it, with a gapless sequence number in commit order (see
:meth:`jwtkit.store.sql.SQLStore.outbox_page`). Whoever made it (a request, the admin CLI in
another process, housekeeping), the running service learns of it here:

* the relay polls the outbox's high-water mark every ``revocation_relay_interval`` seconds, and
  at once when this process committed a revocation (:meth:`RevocationRelay.notify`);
* it wakes the long polls of the HTTP revocation feed
  (:mod:`jwtkit.server.routes.revocations_feed`), which then read their page from the database;
* when Redis is configured it relays every event, in ``seq`` order, to the Redis sets and pub/sub
  channel (:meth:`jwtkit.store.redis.RedisMirror.relay`; several instances relaying the same
  outbox publish each event once, since Redis keeps the last relayed ``seq``). A Redis outage
  loses nothing: the relay keeps its cursor and catches up when Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from jwtkit.store.sql import RevocationEntry, SQLStore

__all__ = ["RevocationRelay"]

log = logging.getLogger("jwtkit.server")

#: Events relayed to Redis per round trip, and round trips per poll (bounded work per poll).
RELAY_PAGE = 500
RELAY_PAGES_PER_POLL = 20
#: Beyond this many events behind, Redis gets the live set (``mirror_all``) instead of events.
REDIS_CATCH_UP_LIMIT = 10_000


class RevocationRelay:
    """Follows the outbox for one service instance; see the module docstring.

    Args:
        store: the service's :class:`~jwtkit.store.sql.SQLStore`.
        mirror: a :class:`~jwtkit.store.redis.RedisMirror` (None: no Redis).
        interval: seconds between polls of the outbox (float).
        clock: returns now, seconds since the epoch (float).

    Attributes:
        latest: the highest ``seq`` seen committed in the outbox (int).
        redis_seq: the highest ``seq`` relayed to Redis (int; 0 without Redis).
        redis_state: ``"not configured"``, ``"live"`` or ``"error: <class>"`` (str).
    """

    def __init__(
        self,
        store: SQLStore,
        mirror: Any | None,
        *,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.mirror = mirror
        self.interval = float(interval)
        self.clock = clock
        self.latest = 0
        self.redis_seq = 0
        self.redis_state = "not configured" if mirror is None else "starting"
        self.polls = 0
        self.running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._new: asyncio.Event | None = None  # set (and replaced) when ``latest`` grows
        self._redis_lock = threading.Lock()
        self._stopping = False

    # -- notifications ----------------------------------------------------------------------

    def notify(self, entries: Iterable[RevocationEntry] = ()) -> None:
        """Wake the relay now (this process committed revocations). Thread-safe; a no-op
        when the relay is not running (the admin CLI: the running service polls)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)

    async def wait_beyond(self, since: int, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until an event with ``seq`` > ``since`` is
        committed; returns at once if there is one already or the relay is not running."""
        if self.latest > since or self._new is None or timeout <= 0:
            return
        new = self._new
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(new.wait(), timeout)

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll until cancelled (run it as a task in the app's lifespan). Failures are logged
        and retried at the next poll."""
        from starlette.concurrency import run_in_threadpool

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._new = asyncio.Event()
        self.running = True
        try:
            await run_in_threadpool(self.start_redis)
            while not self._stopping:
                try:
                    latest = await run_in_threadpool(self.poll)
                except Exception as exc:
                    log.error("revocation relay poll failed: %s", exc.__class__.__name__)
                    latest = self.latest
                if latest > self.latest:
                    self.latest = latest
                    new, self._new = self._new, asyncio.Event()
                    new.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval)
                self._wake.clear()
        finally:
            self.running = False
            self._loop = self._wake = None
            if self._new is not None:
                self._new.set()  # release waiting long polls
                self._new = None

    async def stop(self, task: asyncio.Task[None], timeout: float = 10.0) -> None:
        """Stop the loop running in ``task`` after its current poll (a poll in a worker thread
        is not interrupted, so the database pool can be closed safely afterwards)."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def poll(self) -> int:
        """One poll (blocking; runs in a worker thread): read the outbox's high-water mark and
        relay what Redis has not had yet. Returns the high-water mark (int)."""
        self.polls += 1
        latest = self.store.outbox_latest()
        if self.mirror is not None:
            self._relay_redis(latest)
        return latest

    # -- Redis ------------------------------------------------------------------------------

    def start_redis(self) -> None:
        """Position the Redis cursor at start: continue from the ``seq`` Redis last had (so
        events committed while no service ran are published), or, when Redis has nothing or
        is too far behind, mirror the live set and continue from the outbox's high-water mark.
        """
        if self.mirror is None:
            return
        with self._redis_lock:
            try:
                latest = self.store.outbox_latest()
                known = self.mirror.relayed_seq()
                if known is None or known > latest or latest - known > REDIS_CATCH_UP_LIMIT:
                    self._mirror_all(latest)
                else:
                    self.redis_seq = known
                self.redis_state = "live"
            except Exception as exc:
                self._redis_failed(exc)

    def _mirror_all(self, latest: int) -> None:
        now = self.clock()
        self.mirror.mirror_all(self.store.live_revocations(now), now, seq=latest)  # type: ignore[union-attr]
        self.redis_seq = max(self.redis_seq, latest)

    def _redis_failed(self, exc: Exception) -> None:
        if not self.redis_state.startswith("error"):
            log.error("revocation relay: Redis unavailable (%s); will catch up", exc)
        self.redis_state = f"error: {exc.__class__.__name__}"

    def _relay_redis(self, latest: int) -> None:
        with self._redis_lock:
            try:
                if self.redis_state != "live" or latest - self.redis_seq > REDIS_CATCH_UP_LIMIT:
                    if self.redis_state != "live":
                        log.info("revocation relay: Redis is back; catching up")
                    self.redis_state = "live"
                    known = self.mirror.relayed_seq()  # type: ignore[union-attr]
                    if known is None or latest - self.redis_seq > REDIS_CATCH_UP_LIMIT:
                        self._mirror_all(latest)  # Redis lost its data, or we are far behind
                for _ in range(RELAY_PAGES_PER_POLL):
                    if self.redis_seq >= latest:
                        break
                    events = self.store.outbox_page(self.redis_seq, RELAY_PAGE)
                    if not events:
                        break
                    if self.mirror.relay(events, since=self.redis_seq) is None:  # type: ignore[union-attr]
                        self._mirror_all(latest)  # Redis was emptied under us
                        break
                    self.redis_seq = events[-1].seq
            except Exception as exc:
                self._redis_failed(exc)

    def resync(self) -> int:
        """Re-mirror the live set into Redis (periodic housekeeping, repairs a flushed Redis);
        returns how many entries were written (0 without Redis or while it is down)."""
        if self.mirror is None:
            return 0
        with self._redis_lock:
            try:
                latest = min(self.store.outbox_latest(), self.redis_seq or 0)
                now = self.clock()
                live = self.store.live_revocations(now)
                count: int = self.mirror.mirror_all(live, now, seq=latest)
                return count
            except Exception as exc:
                self._redis_failed(exc)
                return 0

    def register_metrics(self, registry: Any) -> None:
        """Add gauges to a ``prometheus_client`` registry: ``jwtkit_revocation_outbox_seq`` (the
        last committed ``seq`` seen), ``jwtkit_revocation_redis_lag`` (events not yet relayed to
        Redis; 0 without Redis) and ``jwtkit_revocation_redis_up`` (1 while Redis takes them)."""
        from prometheus_client import Gauge

        Gauge(
            "jwtkit_revocation_outbox_seq",
            "Last committed revocation sequence number seen by this instance's relay.",
            registry=registry,
        ).set_function(lambda: self.latest)
        Gauge(
            "jwtkit_revocation_redis_lag",
            "Revocation events not yet relayed to Redis.",
            registry=registry,
        ).set_function(lambda: 0 if self.mirror is None else max(self.latest - self.redis_seq, 0))
        Gauge(
            "jwtkit_revocation_redis_up",
            "1 while the relay reaches Redis (0 when down or not configured).",
            registry=registry,
        ).set_function(lambda: int(self.redis_state == "live"))

    def channels(self) -> dict[str, Any]:
        """The live revocation channels (dict): ``http_feed`` (``"live"`` while the relay runs,
        else ``"stopped"``), ``redis`` (:attr:`redis_state`), ``seq`` (:attr:`latest`) and
        ``redis_lag`` (events not yet relayed to Redis, or None without Redis)."""
        return {
            "http_feed": "live" if self.running else "stopped",
            "redis": self.redis_state,
            "seq": self.latest,
            "redis_lag": None if self.mirror is None else max(self.latest - self.redis_seq, 0),
        }
