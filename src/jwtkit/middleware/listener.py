"""Keep a verifier's in-memory :class:`~jwtkit.revocation.Denylist` in sync with the token service.

Two sources carry the same events, in the same order (the service's outbox, see
:mod:`jwtkit.revocation`):

* **the HTTP revocation feed** (default; no Redis needed): :class:`FeedRevocationListener`
  (thread) and :class:`AsyncFeedRevocationListener` (asyncio) find the feed in the issuer's
  metadata (RFC 8414: ``revocation_events_endpoint``, ``revocation_snapshot_endpoint``),
  authenticate as a confidential client (``client_secret_basic``, RFC 6749 §2.3.1), load the live
  set (bounded snapshot pages), then long-poll ``?since=SEQ`` for new events. After a
  disconnection they resume from their last sequence number; when too far behind (or when the
  service's sequence went backwards) they reload the live set.
* **Redis** (fan-out for large deployments): :class:`RevocationListener` (thread) and
  :class:`AsyncRevocationListener` (asyncio, ``redis.asyncio``) read the sets and the pub/sub
  channel the service relays to:

  1. SUBSCRIBE to the channel first, then load the sets (so no event falls between the two);
  2. apply each event as it arrives (typically well under 10 ms after the service relays it);
     an event whose ``seq`` was already applied is skipped, and a gap in ``seq`` (missed while
     the subscription was down) triggers a reload;
  3. reload the sets every ``resync_interval`` seconds and prune entries whose keep-until has
     passed;
  4. reconnect after a Redis failure, reloading on reconnect.

Every listener keeps what it knows while its source is down, reports its state
(:meth:`state`: last sequence number, lag, connected or not, how long it has been down), and
follows a policy for "the source is down longer than ``max_outage`` seconds": ``on_outage="serve"``
(default) keeps serving with what it has, logs a warning and counts the outage in its state;
``on_outage="refuse"`` makes :meth:`Denylist.check` fail closed (the middleware answers 503) until
the source is back.

Loads merge into the denylist (revocations are never undone), so a load racing with an event
cannot lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Mapping
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx
import redis
import redis.asyncio

from jwtkit.errors import MalformedError
from jwtkit.revocation import (
    DEFAULT_PREFIX,
    Denylist,
    parse_event,
    parse_feed_page,
    parse_snapshot_page,
    redis_keys,
)

__all__ = [
    "AsyncFeedRevocationListener",
    "AsyncRevocationListener",
    "FeedRevocationListener",
    "OutagePolicy",
    "RevocationListener",
    "prometheus_text",
]

logger = logging.getLogger("jwtkit.revocation")

_INF = float("inf")

OutagePolicy = Literal["serve", "refuse"]

#: Metadata names (RFC 8414 §2 extension) under which the token service advertises its feed.
EVENTS_METADATA = "revocation_events_endpoint"
SNAPSHOT_METADATA = "revocation_snapshot_endpoint"


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


def _seq_value(raw: Any) -> int:
    try:
        value = int(_s(raw)) if raw is not None else 0
    except ValueError:
        return 0
    return max(value, 0)


class _Base:
    """State, sequence bookkeeping and the outage policy shared by every listener."""

    kind = "source"

    def __init__(
        self,
        denylist: Denylist | None,
        *,
        name: str,
        resync_interval: float,
        reconnect_delay: float,
        clock: Callable[[], float],
        max_outage: float,
        on_outage: OutagePolicy,
    ) -> None:
        if on_outage not in ("serve", "refuse"):
            raise ValueError("on_outage must be 'serve' or 'refuse'")
        self.denylist = denylist if denylist is not None else Denylist()
        self.name = name
        self.resync_interval = float(resync_interval)
        self.reconnect_delay = float(reconnect_delay)
        self.clock = clock
        self.max_outage = float(max_outage)
        self.on_outage: OutagePolicy = on_outage
        self.events_applied = 0
        self.duplicates = 0
        self.loads = 0
        self.outages = 0
        self.connected = False
        self.last_seq: int | None = None
        self.latest_seq: int | None = None
        self._down_since: float | None = time.monotonic()
        self._outage_warned = False
        self.denylist.attach_source(name)
        if on_outage == "refuse":
            self.denylist.set_deadline(name, self._down_since + self.max_outage)

    def _init_runner(self, transport: Any = None) -> None:
        """Set up what runs the listener (a thread or a task); see the runner classes."""

    def _signal_ready(self) -> None:
        """Tell :meth:`start` that the first load is done (set by the runner classes)."""

    # -- state ------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The listener's state (dict): ``source`` (str), ``connected`` (bool), ``last_seq``
        (int or None: the last event applied), ``latest_seq`` (int or None: the newest the
        source reported), ``lag`` (events behind, int or None), ``down_seconds`` (float, 0 while
        connected), ``outages`` (int: times the source was lost), ``events_applied`` (int),
        ``duplicates`` (int: events skipped as already applied), ``loads`` (int: full loads),
        ``on_outage`` (str) and ``refusing`` (bool: the denylist fails closed right now)."""
        down = 0.0 if self._down_since is None else time.monotonic() - self._down_since
        lag = None
        if self.latest_seq is not None:
            lag = max(self.latest_seq - (self.last_seq or 0), 0)
        return {
            "source": self.kind,
            "connected": self.connected,
            "last_seq": self.last_seq,
            "latest_seq": self.latest_seq,
            "lag": lag,
            "down_seconds": round(down, 3),
            "outages": self.outages,
            "events_applied": self.events_applied,
            "duplicates": self.duplicates,
            "loads": self.loads,
            "on_outage": self.on_outage,
            "refusing": not self.denylist.available,
        }

    def _mark_up(self) -> None:
        if self._down_since is not None:
            if self._outage_warned:
                logger.warning(
                    "jwtkit: revocation %s is back after %.1f s",
                    self.kind,
                    time.monotonic() - self._down_since,
                )
            self._down_since = None
            self._outage_warned = False
            if self.on_outage == "refuse":
                self.denylist.set_deadline(self.name, _INF)
        self.connected = True

    def _mark_down(self, reason: object) -> None:
        was_connected = self.connected
        self.connected = False
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.outages += 1
            if self.on_outage == "refuse":
                self.denylist.set_deadline(self.name, self._down_since + self.max_outage)
        if was_connected:
            logger.warning(
                "jwtkit: revocation listener lost its %s (%s); retrying", self.kind, reason
            )
        self._check_outage()

    def _check_outage(self) -> None:
        """Warn once per outage when the source has been down longer than ``max_outage``."""
        if self._down_since is None or self._outage_warned:
            return
        if time.monotonic() - self._down_since >= self.max_outage:
            self._outage_warned = True
            logger.warning(
                "jwtkit: revocation %s down for more than %.0f s: %s",
                self.kind,
                self.max_outage,
                "refusing every token (fail closed)"
                if self.on_outage == "refuse"
                else "still serving with the revocations known so far",
            )

    def _apply(self, event: Mapping[str, Any]) -> bool:
        """Apply one parsed event unless its ``seq`` was applied already; returns True if
        applied."""
        seq = event.get("seq")
        if seq is not None and self.last_seq is not None and seq <= self.last_seq:
            self.duplicates += 1
            return False
        self.denylist.apply(event)
        self.events_applied += 1
        if seq is not None:
            self.last_seq = seq
            self.latest_seq = max(self.latest_seq or 0, seq)
        return True

    def _stop_vouching(self) -> None:
        """Called when the listener stops: it no longer keeps the denylist current (a
        fail-closed one stops vouching at once)."""
        self.connected = False
        if self._down_since is None:
            self._down_since = time.monotonic()
        if self.on_outage == "refuse":
            self.denylist.set_deadline(self.name, time.monotonic())


class _ThreadRunner(_Base):
    """Runs a listener's ``_run`` loop in a daemon thread (WSGI, or any sync program)."""

    def _init_runner(self, transport: Any = None) -> None:
        self.ready = threading.Event()  # set after the first successful load
        self._attempted = threading.Event()  # set after the first connection attempt
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        raise NotImplementedError

    def _signal_ready(self) -> None:
        self.ready.set()
        self._attempted.set()

    def _interrupt(self) -> None:
        """Break a blocking call in flight (called by :meth:`stop`)."""

    def start(self, wait: float | None = 5.0) -> Self:
        """Start the thread; wait up to ``wait`` seconds for the first attempt (None: don't
        wait). Returns self. Never raises for the source being down: the thread keeps retrying
        and ``ready`` is set after the first successful load."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        if wait:
            self._attempted.wait(wait)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait up to ``timeout`` seconds for it."""
        self._stop.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._stop_vouching()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _AsyncRunner(_Base):
    """Runs a listener's ``_run`` coroutine as an asyncio task (ASGI lifespan)."""

    def _init_runner(self, transport: Any = None) -> None:
        self.ready = asyncio.Event()
        self._attempted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    def _signal_ready(self) -> None:
        self.ready.set()
        self._attempted.set()

    async def start(self, wait: float | None = 5.0) -> Self:
        """Start the task; wait up to ``wait`` seconds for the first attempt. Returns self;
        never raises for the source being down (``ready`` tells whether it loaded)."""
        if self._task is None:
            self.ready = asyncio.Event()
            self._attempted = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name=self.name)
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
        self._stop_vouching()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


_METRICS = (
    ("jwtkit_revocation_source_up", "gauge", "1 while the revocation source is connected"),
    ("jwtkit_revocation_lag_events", "gauge", "events the listener is behind the source"),
    ("jwtkit_revocation_down_seconds", "gauge", "seconds the source has been down (0: up)"),
    ("jwtkit_revocation_outages_total", "counter", "times the source was lost"),
    ("jwtkit_revocation_refusing", "gauge", "1 while the denylist fails closed"),
)


def prometheus_text(*listeners: _Base) -> str:
    """The state of ``listeners`` in the Prometheus text format (str), one series per listener
    labelled ``source="<name>"``: ``jwtkit_revocation_source_up``,
    ``jwtkit_revocation_lag_events``, ``jwtkit_revocation_down_seconds``,
    ``jwtkit_revocation_outages_total`` and ``jwtkit_revocation_refusing``. Serve it from the
    resource server's own metrics endpoint (or feed :meth:`state` to your metrics library)."""
    states = [(li.name, li.state()) for li in listeners]
    lines: list[str] = []
    for metric, kind, help_text in _METRICS:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} {kind}"]
        for name, state in states:
            value = {
                "jwtkit_revocation_source_up": int(state["connected"]),
                "jwtkit_revocation_lag_events": state["lag"] or 0,
                "jwtkit_revocation_down_seconds": state["down_seconds"],
                "jwtkit_revocation_outages_total": state["outages"],
                "jwtkit_revocation_refusing": int(state["refusing"]),
            }[metric]
            label = name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            lines.append(f'{metric}{{source="{label}"}} {value}')
    return "\n".join(lines) + "\n"


# -- Redis -----------------------------------------------------------------------------------


class _RedisBase(_Base):
    kind = "redis"

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
        max_outage: float = 60.0,
        on_outage: OutagePolicy = "serve",
    ) -> None:
        super().__init__(
            denylist,
            name=f"redis:{prefix}",
            resync_interval=resync_interval,
            reconnect_delay=reconnect_delay,
            clock=clock,
            max_outage=max_outage,
            on_outage=on_outage,
        )
        self.url = url
        self.prefix = prefix
        self.keys = redis_keys(prefix)
        self.poll_timeout = float(poll_timeout)
        self._init_runner()

    def _queue_load(self, pipe: Any, now: float) -> None:
        pipe.zrangebyscore(self.keys["jti"], f"({now}", "+inf", withscores=True)
        pipe.zrangebyscore(self.keys["sid"], f"({now}", "+inf", withscores=True)
        pipe.hgetall(self.keys["sub"])
        pipe.zrange(self.keys["sub_until"], 0, -1, withscores=True)
        pipe.get(self.keys["seq"])

    def _loaded(self, results: list[Any], now: float) -> int:
        jti, sid, sub, sub_until, seq = results
        count = _merge_snapshot(self.denylist, jti, sid, sub, sub_until)
        self.denylist.prune(now)
        self.loads += 1
        # The sets reflect every event up to the relayed seq; a lower value than ours means
        # Redis was emptied (or the service restarted its sequence): trust it, applying is
        # idempotent.
        self.last_seq = _seq_value(seq) or None
        self.latest_seq = self.last_seq
        return count

    def _message(self, message: Mapping[str, Any] | None) -> bool:
        """Handle one pub/sub message; returns True when a reload is needed (a gap)."""
        if not message or message.get("type") != "message":
            return False
        try:
            event = parse_event(message["data"])
        except MalformedError as exc:
            logger.warning("jwtkit: ignoring a malformed revocation event: %s", exc)
            return False
        seq = event.get("seq")
        gap = seq is not None and self.last_seq is not None and seq > self.last_seq + 1
        self._apply(event)
        return gap


class RevocationListener(_RedisBase, _ThreadRunner):
    """Thread that keeps a :class:`Denylist` in sync with the token service's Redis.

    Args:
        denylist: the denylist to fill (None: a new one, in ``.denylist``).
        url: Redis URL (str), e.g. ``"redis://127.0.0.1:6379/0"``.
        prefix: revocation key prefix (default :data:`jwtkit.revocation.DEFAULT_PREFIX`).
        resync_interval: seconds between full reloads and prunes (default 30).
        poll_timeout: seconds the thread waits for a message before checking for stop/resync.
        reconnect_delay: seconds to wait before reconnecting after a Redis error.
        clock: wall clock in seconds since the epoch (for pruning; default :func:`time.time`).
        max_outage: seconds Redis may be down before ``on_outage`` applies (default 60).
        on_outage: ``"serve"`` (default: keep serving, warn) or ``"refuse"`` (fail closed).

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def load(self, client: redis.Redis[Any]) -> int:
        """Merge the Redis sets into the denylist and prune; returns the entries loaded (int).

        Raises:
            redis.RedisError: Redis failed.
        """
        now = self.clock()
        pipe = client.pipeline(transaction=False)
        self._queue_load(pipe, now)
        return self._loaded(pipe.execute(), now)

    def _run(self) -> None:
        while not self._stop.is_set():
            client = redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.keys["channel"])
                self.load(client)
                self._mark_up()
                self.ready.set()
                self._attempted.set()
                next_sync = time.monotonic() + self.resync_interval
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=self.poll_timeout)
                    if self._message(message) or time.monotonic() >= next_sync:
                        self.load(client)
                        next_sync = time.monotonic() + self.resync_interval
            except (redis.RedisError, OSError) as exc:
                self._mark_down(exc)
                self._attempted.set()
                self._stop.wait(self.reconnect_delay)
            except Exception:  # never die silently: a dead listener would stop revocations
                self._mark_down("unexpected error")
                self._attempted.set()
                logger.exception("jwtkit: revocation listener failed; reconnecting")
                self._stop.wait(self.reconnect_delay)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    pubsub.close()
                with contextlib.suppress(Exception):
                    client.close()


class AsyncRevocationListener(_RedisBase, _AsyncRunner):
    """asyncio task that keeps a :class:`Denylist` in sync with Redis (``redis.asyncio``).

    Same arguments and behaviour as :class:`RevocationListener`. Start it in the app's
    lifespan::

        listener = AsyncRevocationListener(denylist, url="redis://127.0.0.1:6379/0")

        @asynccontextmanager
        async def lifespan(app):
            async with listener:
                yield
    """

    async def load(self, client: redis.asyncio.Redis[Any]) -> int:
        """Merge the Redis sets into the denylist and prune; returns the entries loaded (int).

        Raises:
            redis.RedisError: Redis failed.
        """
        now = self.clock()
        pipe = client.pipeline(transaction=False)
        self._queue_load(pipe, now)
        return self._loaded(await pipe.execute(), now)

    async def _run(self) -> None:
        while True:
            client = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=5, socket_connect_timeout=5
            )
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys["channel"])
                await self.load(client)
                self._mark_up()
                self.ready.set()
                self._attempted.set()
                next_sync = time.monotonic() + self.resync_interval
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self.poll_timeout
                    )
                    if self._message(message) or time.monotonic() >= next_sync:
                        await self.load(client)
                        next_sync = time.monotonic() + self.resync_interval
            except (redis.RedisError, OSError) as exc:
                self._mark_down(exc)
                self._attempted.set()
                await asyncio.sleep(self.reconnect_delay)
            except Exception:  # never die silently: a dead listener would stop revocations
                self._mark_down("unexpected error")
                self._attempted.set()
                logger.exception("jwtkit: revocation listener failed; reconnecting")
                await asyncio.sleep(self.reconnect_delay)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined,unused-ignore]
                with contextlib.suppress(Exception):
                    await client.aclose()  # type: ignore[attr-defined,unused-ignore]


# -- the HTTP feed ---------------------------------------------------------------------------


class FeedError(Exception):
    """The revocation feed answered something other than a valid page (status or body)."""


_Step = Generator[httpx.Request, httpx.Response, None]


class _FeedBase(_Base):
    """The feed protocol without I/O: :meth:`_cycle` yields the HTTP requests to make and is
    sent their responses, so the thread and asyncio listeners share every rule."""

    kind = "feed"

    def __init__(
        self,
        denylist: Denylist | None = None,
        *,
        issuer: str | None = None,
        client_id: str,
        client_secret: str,
        events_url: str | None = None,
        snapshot_url: str | None = None,
        page_size: int = 1000,
        poll_wait: float = 20.0,
        reload_after: int = 50_000,
        resync_interval: float = 30.0,
        reconnect_delay: float = 0.5,
        max_reconnect_delay: float = 5.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        max_outage: float = 60.0,
        on_outage: OutagePolicy = "serve",
        transport: Any = None,
    ) -> None:
        if issuer is None and events_url is None:
            raise ValueError("give the issuer (its metadata names the feed) or events_url")
        super().__init__(
            denylist,
            name=f"feed:{events_url or issuer}",
            resync_interval=resync_interval,
            reconnect_delay=reconnect_delay,
            clock=clock,
            max_outage=max_outage,
            on_outage=on_outage,
        )
        self.issuer = issuer.rstrip("/") if issuer else None
        self.events_url = events_url
        self.snapshot_url = snapshot_url
        # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
        self.auth = httpx.BasicAuth(quote(client_id, safe=""), quote(client_secret, safe=""))
        self.page_size = int(page_size)
        self.poll_wait = float(poll_wait)
        self.reload_after = int(reload_after)
        self.max_reconnect_delay = float(max_reconnect_delay)
        self.timeout = httpx.Timeout(float(timeout), read=float(timeout) + self.poll_wait)
        self._reload = True
        self._more = False
        self._next_prune = time.monotonic() + self.resync_interval
        self._failures = 0
        self._init_runner(transport)

    def _retry_delay(self) -> float:
        """Seconds to wait after a failure: ``reconnect_delay`` doubling up to the maximum."""
        self._failures += 1
        return min(
            self.reconnect_delay * 2.0 ** min(self._failures - 1, 16), self.max_reconnect_delay
        )

    @staticmethod
    def _body(response: httpx.Response, what: str) -> bytes:
        if response.status_code != 200:
            raise FeedError(f"{what} answered HTTP {response.status_code}")
        return response.content

    def _discover(self) -> _Step:
        assert self.issuer is not None
        response = yield httpx.Request(
            "GET", f"{self.issuer}/.well-known/oauth-authorization-server"
        )
        try:
            metadata = response.json() if response.status_code == 200 else None
        except ValueError:
            metadata = None
        urls = [
            metadata.get(k) if isinstance(metadata, dict) else None
            for k in (EVENTS_METADATA, SNAPSHOT_METADATA)
        ]
        if not all(isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls):
            raise FeedError("the issuer's metadata advertises no revocation feed")
        self.events_url, self.snapshot_url = urls

    def _load(self) -> _Step:
        """Merge the live set (bounded pages) and continue the feed after its ``seq``."""
        url = self.snapshot_url or f"{self.events_url}/../snapshot"
        params: dict[str, str | int] = {"limit": self.page_size}
        seq: int | None = None
        for _ in range(1_000_000):  # bounded: each page moves the cursor forward
            page = parse_snapshot_page(
                self._body((yield httpx.Request("GET", url, params=params)), "snapshot")
            )
            seq = page.seq if seq is None else seq
            for entry in page.entries:
                self.denylist.apply(entry)
            if page.cursor is None:
                break
            params = {"limit": self.page_size, "after": page.cursor}
        self.denylist.prune(self.clock())
        self.loads += 1
        self.last_seq = self.latest_seq = seq
        self._reload = False

    def _cycle(self) -> _Step:
        """One step: discover, (re)load when needed, then one catch-up or long-poll request."""
        if self.events_url is None:
            yield from self._discover()
        if self._reload or self.last_seq is None:
            yield from self._load()
            self._mark_up()
            self._signal_ready()
        since = self.last_seq or 0
        wait = 0.0 if self._more else self.poll_wait
        params = {"since": since, "limit": self.page_size, "wait": wait}
        assert self.events_url is not None
        page = parse_feed_page(
            self._body((yield httpx.Request("GET", self.events_url, params=params)), "feed"),
            since,
        )
        self._mark_up()
        self._failures = 0
        self.latest_seq = page.latest
        if page.latest < since:
            logger.warning("jwtkit: the revocation feed's sequence went back; reloading")
            self._reload = True
            return
        if page.latest - since > self.reload_after:
            self._reload = True  # far behind: the live set is smaller than the backlog
            return
        for event in page.events:
            self._apply(event)
        self.last_seq = max(page.next, since)
        self._more = page.more
        if time.monotonic() >= self._next_prune:
            self.denylist.prune(self.clock())
            self._next_prune = time.monotonic() + self.resync_interval


_FEED_ERRORS = (httpx.HTTPError, FeedError, MalformedError)


class FeedRevocationListener(_FeedBase, _ThreadRunner):
    """Thread that keeps a :class:`Denylist` in sync with the token service's HTTP feed.

    Args:
        denylist: the denylist to fill (None: a new one, in ``.denylist``).
        issuer: the token service's issuer URL; its RFC 8414 metadata names the feed.
        client_id / client_secret: this resource server's confidential client at the service.
        events_url / snapshot_url: the feed's URLs, instead of discovering them.
        page_size: events or entries asked for per request (int, the service caps it).
        poll_wait: seconds the service may hold a long poll open when there is nothing new.
        reload_after: when more than this many events behind, reload the live set instead.
        resync_interval: seconds between prunes of expired entries (default 30).
        reconnect_delay / max_reconnect_delay: first and longest wait after a failure (seconds;
            doubling in between).
        timeout: connect/read timeout in seconds, on top of ``poll_wait`` for reads.
        clock: wall clock in seconds since the epoch (for pruning; default :func:`time.time`).
        max_outage: seconds the feed may be down before ``on_outage`` applies (default 60).
        on_outage: ``"serve"`` (default: keep serving, warn) or ``"refuse"`` (fail closed).
        transport: an ``httpx`` transport (tests), default a real connection pool.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. :meth:`start` never raises
    for the service being down; ``ready`` is set after the first complete load.
    """

    def _init_runner(self, transport: Any = None) -> None:
        super()._init_runner()
        self._http = httpx.Client(auth=self.auth, timeout=self.timeout, transport=transport)

    def _interrupt(self) -> None:
        with contextlib.suppress(Exception):
            self._http.close()  # breaks a long poll in flight

    def step(self) -> None:
        """Run one cycle (discover, load, one feed request) in the calling thread.

        Raises:
            httpx.HTTPError, FeedError, MalformedError: the feed failed.
        """
        cycle = self._cycle()
        with contextlib.suppress(StopIteration):
            request = next(cycle)
            while True:
                request = cycle.send(self._http.send(request))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
                self.ready.set()
                self._attempted.set()
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._mark_down(exc)
                self._attempted.set()
                if not isinstance(exc, _FEED_ERRORS):
                    logger.exception("jwtkit: revocation feed listener failed; reconnecting")
                self._stop.wait(self._retry_delay())


class AsyncFeedRevocationListener(_FeedBase, _AsyncRunner):
    """asyncio task that keeps a :class:`Denylist` in sync with the token service's HTTP feed.

    Same arguments and behaviour as :class:`FeedRevocationListener` (``transport``: an
    ``httpx.AsyncBaseTransport``). Start it in the app's lifespan::

        listener = AsyncFeedRevocationListener(denylist, issuer=ISSUER,
                                               client_id="orders-api", client_secret=SECRET)

        @asynccontextmanager
        async def lifespan(app):
            async with listener:
                yield
    """

    def _init_runner(self, transport: Any = None) -> None:
        super()._init_runner()
        self._transport = transport

    async def step(self, http: httpx.AsyncClient) -> None:
        """Run one cycle with ``http`` (an ``httpx.AsyncClient`` carrying the client auth).

        Raises:
            httpx.HTTPError, FeedError, MalformedError: the feed failed.
        """
        cycle = self._cycle()
        with contextlib.suppress(StopIteration):
            request = next(cycle)
            while True:
                request = cycle.send(await http.send(request))

    async def _run(self) -> None:
        async with httpx.AsyncClient(
            auth=self.auth, timeout=self.timeout, transport=self._transport
        ) as http:
            while True:
                try:
                    await self.step(http)
                    self.ready.set()
                    self._attempted.set()
                except Exception as exc:
                    self._mark_down(exc)
                    self._attempted.set()
                    if not isinstance(exc, _FEED_ERRORS):
                        logger.exception("jwtkit: revocation feed listener failed; reconnecting")
                    await asyncio.sleep(self._retry_delay())
