"""Revocation listeners against real Redis (a unique key prefix per test), and two resource
servers (ASGI + Flask) refusing a revoked token within a second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

import jwtkit
from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.listener import AsyncRevocationListener, RevocationListener
from jwtkit.revocation import Denylist

from .apps import flask_app, starlette_app
from .conftest import (
    REDIS_URL,
    MiniIssuer,
    RedisRevocations,
    UvicornThread,
    WerkzeugThread,
    wait_until,
)

NOW = time.time()  # reset before each test by conftest._fresh_module_now


def _claims(**kw: Any) -> dict[str, Any]:
    base = {"jti": "j-none", "sid": "s-none", "sub": "nobody", "iat": NOW}
    base.update(kw)
    return base


def test_thread_listener_loads_then_follows_events(redis_revocations: RedisRevocations) -> None:
    rr = redis_revocations
    rr.revoke_jti("j-old", NOW + 600)
    rr.revoke_jti("j-gone", NOW - 5)  # already past its keep-until: not loaded
    rr.revoke_sid("s-old", NOW + 600)
    rr.revoke_sub("u-old", NOW - 10, NOW + 600)
    with RevocationListener(url=REDIS_URL, prefix=rr.prefix) as listener:
        assert listener.ready.is_set()
        deny = listener.denylist
        assert deny.is_revoked(_claims(jti="j-old")) == "jti"
        assert deny.is_revoked(_claims(jti="j-gone")) is None
        assert deny.is_revoked(_claims(sid="s-old")) == "sid"
        assert deny.is_revoked(_claims(sub="u-old", iat=NOW - 20)) == "sub"
        assert deny.is_revoked(_claims(sub="u-old", iat=NOW)) is None  # issued after the cutoff
        rr.client.publish(rr.keys["channel"], b"not json")  # ignored, listener survives
        rr.revoke_jti("j-new", NOW + 600)
        wait_until(lambda: deny.is_revoked(_claims(jti="j-new")) == "jti", timeout=2)
        rr.revoke_sid("s-new", NOW + 600)
        rr.revoke_sub("u-new", NOW + 1, NOW + 600)
        wait_until(lambda: deny.is_revoked(_claims(sid="s-new")) == "sid", timeout=2)
        wait_until(lambda: deny.is_revoked(_claims(sub="u-new")) == "sub", timeout=2)
        assert listener.events_applied == 3


def test_thread_listener_resyncs_what_pubsub_missed(redis_revocations: RedisRevocations) -> None:
    rr = redis_revocations
    with RevocationListener(url=REDIS_URL, prefix=rr.prefix, resync_interval=0.2) as listener:
        # Written to the set without an event (e.g. published while we were disconnected).
        rr.client.zadd(rr.keys["jti"], {"j-silent": NOW + 600})
        wait_until(lambda: listener.denylist.is_revoked(_claims(jti="j-silent")) == "jti", 3)
        assert listener.loads >= 2


def test_listener_prunes_with_injected_clock(redis_revocations: RedisRevocations) -> None:
    rr = redis_revocations
    now = [NOW]
    rr.revoke_jti("j-short", NOW + 60)
    listener = RevocationListener(
        url=REDIS_URL, prefix=rr.prefix, resync_interval=0.1, clock=lambda: now[0]
    )
    with listener:
        assert listener.denylist.is_revoked(_claims(jti="j-short")) == "jti"
        now[0] = NOW + 61
        wait_until(lambda: listener.denylist.is_revoked(_claims(jti="j-short")) is None, 3)


def test_listener_without_redis_does_not_block_startup() -> None:
    listener = RevocationListener(url="redis://127.0.0.1:1/0", reconnect_delay=0.1)
    started = time.monotonic()
    listener.start(wait=0.3)
    try:
        assert not listener.ready.is_set()
        assert not listener.connected
        assert time.monotonic() - started < 5
    finally:
        listener.stop()


def test_async_listener(redis_revocations: RedisRevocations) -> None:
    rr = redis_revocations
    rr.revoke_sid("s-old", NOW + 600)

    async def main() -> None:
        async with AsyncRevocationListener(url=REDIS_URL, prefix=rr.prefix) as listener:
            assert listener.ready.is_set()
            deny = listener.denylist
            assert deny.is_revoked(_claims(sid="s-old")) == "sid"
            await asyncio.to_thread(rr.revoke_jti, "j-new", NOW + 600)
            for _ in range(200):
                if deny.is_revoked(_claims(jti="j-new")):
                    break
                await asyncio.sleep(0.01)
            assert deny.is_revoked(_claims(jti="j-new")) == "jti"

    asyncio.run(main())


# -- two resource servers ----------------------------------------------------------------------


def _asgi_with_listener(guard: BearerGuard, prefix: str) -> Starlette:
    assert guard.denylist is not None
    listener = AsyncRevocationListener(guard.denylist, url=REDIS_URL, prefix=prefix)
    app = starlette_app(guard)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async with listener:
            yield

    app.router.lifespan_context = lifespan
    return app


@pytest.mark.parametrize("grain", ["jti", "sid", "sub"])
def test_revocation_reaches_asgi_and_flask_within_a_second(
    redis_revocations: RedisRevocations, grain: str
) -> None:
    rr = redis_revocations
    with MiniIssuer() as issuer:

        def guard() -> BearerGuard:
            verifier = access_token_verifier(
                JWKSClient(f"{issuer.issuer}/jwks"),
                issuer=issuer.issuer,
                audience=issuer.audience,
                algorithms=["ES256"],
            )
            return BearerGuard(verifier, denylist=Denylist())

        flask_guard = guard()
        asgi = UvicornThread(_asgi_with_listener(guard(), rr.prefix), lifespan="on").start()
        flask = WerkzeugThread(flask_app(flask_guard)).start()
        listener = RevocationListener(flask_guard.denylist, url=REDIS_URL, prefix=rr.prefix)
        listener.start()
        try:
            token = issuer.token(sub="bob", iat=time.time() - 5)
            other = issuer.token(sub="carol")
            claims = jwtkit.decode_unverified(token)
            auth = {"Authorization": f"Bearer {token}"}
            with httpx.Client() as http:
                for url in (asgi.url, flask.url):
                    assert http.get(url + "/me", headers=auth).status_code == 200
                t0 = time.monotonic()
                if grain == "jti":
                    rr.revoke_jti(claims["jti"], claims["exp"])
                elif grain == "sid":
                    rr.revoke_sid(claims["sid"], claims["exp"])
                else:
                    rr.revoke_sub("bob", float(int(time.time())), claims["exp"])
                for url in (asgi.url, flask.url):
                    wait_until(lambda u=url: http.get(u + "/me", headers=auth).status_code == 401)
                latency = time.monotonic() - t0
                assert latency < 1.0, latency
                # Other users' tokens are unaffected.
                for url in (asgi.url, flask.url):
                    r = http.get(url + "/me", headers={"Authorization": f"Bearer {other}"})
                    assert r.status_code == 200
                # A token issued after a user revocation is fine.
                if grain == "sub":
                    fresh = issuer.token(sub="bob", iat=float(int(time.time())))
                    r = http.get(asgi.url + "/me", headers={"Authorization": f"Bearer {fresh}"})
                    assert r.status_code == 200
        finally:
            listener.stop()
            flask.stop()
            asgi.stop()


def test_async_listener_without_redis_does_not_block_startup() -> None:
    async def main() -> None:
        listener = AsyncRevocationListener(url="redis://127.0.0.1:1/0", reconnect_delay=0.1)
        async with listener:
            assert not listener.ready.is_set()
            assert not listener.connected

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 5
