"""Assembly of one token-service instance without HTTP: store, revocation relay, keys, service.

:func:`build_services` is shared by the ASGI app (:func:`jwtkit.server.create_app`) and the admin
CLI, which works on the same database without importing the web stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from jwtkit.dpop import ReplayCache
from jwtkit.server.backchannel import BackchannelSender
from jwtkit.server.keys import KeyEncryptor, KeyManager
from jwtkit.server.metrics import Metrics
from jwtkit.server.passwords import SecretHasher
from jwtkit.server.provider import Provider
from jwtkit.server.ratelimit import (
    ClientAuthRateLimiter,
    FailureCounter,
    FallbackCounter,
    LocalRateLimiter,
    LoginRateLimiter,
)
from jwtkit.server.relay import RevocationRelay
from jwtkit.server.service import TokenService
from jwtkit.server.settings import Settings
from jwtkit.store._breaker import Breaker
from jwtkit.store.sql import SQLStore

__all__ = ["Services", "build_services"]

log = logging.getLogger("jwtkit.server")


@dataclass
class Services:
    """Everything one service instance uses; built by :func:`build_services` (the admin CLI
    builds the same thing without HTTP)."""

    settings: Settings
    store: SQLStore
    keys: KeyManager
    service: TokenService
    metrics: Metrics
    relay: RevocationRelay
    redis: Any | None
    clock: Callable[[], float]
    owns_store: bool
    id_keys: KeyManager
    provider: Provider

    _jwks_cache: tuple[bytes, bytes, bytes] | None = field(default=None, init=False, repr=False)

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5) of both key families: access-token keys and ID
        token keys (``{"keys": [...]}``, never private parts)."""
        keys = [*self.keys.jwks()["keys"], *self.id_keys.jwks()["keys"]]
        return {"keys": list({k["kid"]: k for k in keys}.values())}

    def jwks_fresh(self) -> bool:
        """True when both key families' tables can be served without reading the database."""
        return self.keys.is_fresh() and self.id_keys.is_fresh()

    def jwks_body(self) -> bytes:
        """:meth:`jwks` as JSON bytes, rebuilt only when a family's prebuilt body changes."""
        access, ids = self.keys.jwks_body(), self.id_keys.jwks_body()
        cached = self._jwks_cache
        if cached is not None and cached[0] is access and cached[1] is ids:
            return cached[2]
        keys = [*orjson.loads(access)["keys"], *orjson.loads(ids)["keys"]]
        body = orjson.dumps({"keys": keys})
        self._jwks_cache = (access, ids, body)
        return body

    def resync(self) -> int:
        """Prune expired rows (revocations, outbox events, sessions, authorization codes and
        requests, ended OP sessions) and re-mirror every live revocation into Redis; returns how
        many entries were mirrored (0 without Redis). Revocations outlive their ``until`` by
        ``revocation_leeway`` (issue 13 item 8)."""
        self.store.prune(self.clock(), leeway=self.settings.revocation_leeway)
        self.provider.prune(self.clock())
        return self.relay.resync()

    def readiness(self) -> dict[str, Any]:
        """Probe the database and Redis: ``{"database": "ok" | "error: <class>", "redis": "ok"
        | "not configured" | "error: <class>", "revocation_channels": {...}}`` (see
        :meth:`RevocationRelay.channels`)."""
        from sqlalchemy.exc import SQLAlchemyError

        out: dict[str, Any] = {"database": "ok", "redis": "not configured"}
        try:
            self.store.ping()
        except SQLAlchemyError as exc:
            out["database"] = f"error: {exc.__class__.__name__}"
        if self.relay.mirror is not None:
            try:
                self.relay.mirror.ping()
                out["redis"] = "ok"
            except Exception as exc:
                out["redis"] = f"error: {exc.__class__.__name__}"
        out["revocation_channels"] = self.relay.channels()
        return out

    def describe_channels(self) -> str:
        """One line saying which revocation channels this instance serves (str)."""
        feed = f"HTTP feed {self.settings.effective_issuer}/revocations/events (long poll)"
        if self.relay.mirror is None:
            return f"revocation channels: {feed}; Redis pub/sub not configured"
        return (
            f"revocation channels: {feed}; Redis pub/sub {self.relay.redis_state} "
            f"(prefix {self.settings.revocation_prefix!r})"
        )

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        """The ASGI lifespan of an app over these services: the revocation relay (outbox ->
        HTTP feed and Redis) runs, the live channels are logged, and every
        ``redis_resync_seconds`` expired rows are pruned and Redis re-mirrored; close at
        shutdown. Failures are logged, never raised."""
        from starlette.concurrency import run_in_threadpool

        async def housekeeping() -> None:
            while True:
                await asyncio.sleep(self.settings.redis_resync_seconds)
                try:
                    await run_in_threadpool(self.resync)
                except Exception as exc:
                    log.error("periodic resync failed: %s", exc)

        try:
            await run_in_threadpool(self.store.prune, self.clock())
        except Exception as exc:
            log.error("startup prune failed: %s", exc)
        relay = asyncio.create_task(self.relay.run())
        for _ in range(100):  # the relay positions its Redis cursor first (bounded wait)
            if self.relay.running and self.relay.redis_state != "starting":
                break
            await asyncio.sleep(0.02)
        log.info(self.describe_channels())
        task = asyncio.create_task(housekeeping())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.relay.stop(relay)
            self.close()

    def close(self) -> None:
        """Stop back-channel deliveries; release the database pool (when owned) and Redis."""
        self.provider.sender.close()
        if self.owns_store:
            self.store.close()
        if self.redis is not None:
            self.redis.close()


def build_services(
    settings: Settings,
    *,
    store: SQLStore | None = None,
    clock: Callable[[], float] | None = None,
    migrate: bool = True,
    ensure_key: bool = True,
) -> Services:
    """Build the store (running migrations), Redis mirror, key manager and token service.

    Args:
        settings: :class:`Settings`.
        store: an existing :class:`SQLStore` (tests); default one from the settings.
        clock: returns now, seconds since the epoch (float); default ``time.time``.
        migrate: run the Alembic migrations to head (bool).
        ensure_key: create the first signing key when there is none (bool).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable.
        InvalidKeyError: stored keys are encrypted and the key encryption key is missing/wrong.
    """
    clock = clock or time.time
    owns = store is None
    if store is None:
        if settings.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        store = SQLStore(
            settings.effective_database_url,
            pool_size=settings.database_pool_size,
            synchronous=settings.sqlite_synchronous,
            timeout=settings.dependency_timeout,
            breaker=Breaker(
                "database",
                failures=settings.breaker_failures,
                open_seconds=settings.breaker_open_seconds,
            ),
            client_cache_seconds=settings.client_cache_seconds,
        )
    if migrate:
        store.migrate()
    redis_client = None
    counter: FailureCounter = LocalRateLimiter()
    mirror = None
    replay: ReplayCache | None = None
    if settings.redis_url:
        from jwtkit.store.redis import RedisMirror, RedisRateLimiter, RedisReplayCache, connect

        # Short timeouts and one breaker for every Redis call: a Redis that accepts and never
        # answers costs a request one timeout until the breaker opens, then nothing (13.6).
        redis_client = connect(settings.redis_url, settings.dependency_timeout)
        breaker = Breaker(
            "redis", failures=settings.breaker_failures, open_seconds=settings.breaker_open_seconds
        )
        mirror = RedisMirror(redis_client, settings.revocation_prefix, breaker=breaker)
        counter = FallbackCounter(
            RedisRateLimiter(redis_client, settings.redis_prefix, breaker=breaker)
        )
        # RFC 9449 §11.1: one DPoP proof jti cache for every instance on this Redis
        replay = RedisReplayCache(redis_client, settings.redis_prefix, breaker=breaker, clock=clock)
    secret = settings.key_encryption_key
    keys = KeyManager(
        store,
        alg=settings.signing_alg,
        access_token_ttl=settings.access_token_ttl,
        margin=settings.key_retire_margin,
        cache_seconds=settings.key_cache_seconds,
        encryptor=KeyEncryptor(secret.get_secret_value() if secret else None),
        clock=clock,
    )
    id_keys = KeyManager(
        store,
        alg=settings.id_token_alg,
        access_token_ttl=settings.id_token_ttl,
        margin=settings.key_retire_margin,
        cache_seconds=settings.key_cache_seconds,
        encryptor=keys.encryptor,
        clock=clock,
        purpose="id_token",
    )
    if ensure_key:
        keys.ensure_key()
        id_keys.ensure_key()
    metrics = Metrics()
    relay = RevocationRelay(store, mirror, interval=settings.revocation_relay_interval, clock=clock)
    relay.register_metrics(metrics.registry)
    service = TokenService(
        settings,
        store,
        keys,
        hasher=SecretHasher(
            settings.password_time_cost, settings.password_memory_kib, settings.password_parallelism
        ),
        limiter=LoginRateLimiter(
            counter,
            settings.login_failure_window,
            settings.login_max_failures_per_user,
            settings.login_max_failures_per_address,
        ),
        client_limiter=ClientAuthRateLimiter(
            counter,
            settings.client_auth_failure_window,
            settings.client_auth_max_failures_per_client,
            settings.client_auth_max_failures_per_address,
        ),
        publish=relay.notify,
        metrics=metrics,
        clock=clock,
    )
    if replay is not None:
        service.dpop.replay = replay
    from jwtkit.store.logouts import LogoutStore

    sender = BackchannelSender(
        LogoutStore(store.db),
        attempts=settings.backchannel_logout_attempts,
        timeout=settings.backchannel_logout_timeout,
        backoff=settings.backchannel_logout_backoff,
        clock=clock,
    )
    service.provider = Provider(service, id_keys, sender)
    return Services(
        settings,
        store,
        keys,
        service,
        metrics,
        relay,
        redis_client,
        clock,
        owns,
        id_keys,
        service.provider,
    )
