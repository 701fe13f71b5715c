"""End to end with the real token service process (`jwtkit serve`), real Redis and two resource
servers: one ASGI (Starlette middleware + asyncio listener), one Flask (extension + thread
listener).

* revocation of one token (RFC 7009 /revoke), one session (/logout) and one user (admin CLI
  ``sessions revoke --user``) reaches both services within a second; the latency is measured
  from the moment the event is seen on the Redis channel and from the start of the revoking
  request, and printed;
* a key rotation (``jwtkit keys rotate --delay 0``) is picked up through the unknown-kid refetch;
* with the issuer stopped, cached keys keep verifying (also past their max-age, within max_stale).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

import jwtkit
from jwtkit.cli.demo import TokenServiceProcess
from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.listener import AsyncRevocationListener, RevocationListener
from jwtkit.revocation import Denylist, redis_keys

from .apps import flask_app, starlette_app
from .conftest import REDIS_URL, FakeClock, UvicornThread, WerkzeugThread, wait_until

pytestmark = pytest.mark.slow

AUDIENCE = "https://api.e2e"
CLIENT, SECRET = "e2e-client", secrets.token_urlsafe(32)
OTHER_CLIENT = "other-client"
PASSWORD = "e2e password 1"
LATENCIES: dict[str, dict[str, float]] = {}


class Stack:
    def __init__(self, service: TokenServiceProcess, prefix: str) -> None:
        self.service = service
        self.prefix = prefix
        self.asgi_url = ""
        self.flask_url = ""
        self.clock = FakeClock(time.monotonic())  # the resource servers' JWK Set clock
        self.clients: list[JWKSClient] = []
        self.denylists: dict[str, Denylist] = {}
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.http = httpx.Client(timeout=10)  # one client: no per-request connection setup

    def guard(self) -> BearerGuard:
        client = JWKSClient.from_issuer(
            self.service.url, refetch_cooldown=0.2, max_stale=3600, clock=self.clock, timeout=2
        )
        self.clients.append(client)
        verifier = access_token_verifier(
            client, issuer=self.service.url, audience=AUDIENCE, algorithms=["ES256"]
        )
        return BearerGuard(verifier, denylist=Denylist(), realm="e2e")

    def login(self, user: str, client: str = CLIENT, scope: str = "read write") -> dict[str, Any]:
        r = httpx.post(
            self.service.url + "/token",
            data={
                "grant_type": "password",
                "username": user,
                "password": PASSWORD,
                "client_id": client,
                "client_secret": SECRET,
                "scope": scope,
            },
            timeout=30,
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def status(self, token: str) -> tuple[int, int]:
        auth = {"Authorization": f"Bearer {token}"}
        return (
            self.http.get(self.asgi_url + "/me", headers=auth).status_code,
            self.http.get(self.flask_url + "/me", headers=auth).status_code,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prefix = f"jwtkit-e2e:{secrets.token_hex(6)}"
    service = TokenServiceProcess(
        Path(tmp_path_factory.mktemp("svc")),
        redis_url=REDIS_URL,
        prefix=prefix,
        env={
            "JWTKIT_PASSWORD_TIME_COST": "1",
            "JWTKIT_PASSWORD_MEMORY_KIB": "64",
            "JWTKIT_PASSWORD_PARALLELISM": "1",
            "JWTKIT_KEY_CACHE_SECONDS": "0",
            "JWTKIT_JWKS_MAX_AGE": "300",
        },
    )
    for user in ("alice", "bob", "carol"):
        service.cli(
            "users",
            "add",
            user,
            "--password-stdin",
            "--scope",
            "read",
            "--scope",
            "write",
            stdin=PASSWORD + "\n",
        )
    for client, audience in ((CLIENT, AUDIENCE), (OTHER_CLIENT, "https://other.e2e")):
        service.cli(
            "clients",
            "add",
            client,
            "--secret-stdin",
            "--grant",
            "password",
            "--grant",
            "refresh_token",
            "--scope",
            "read",
            "--scope",
            "write",
            "--audience",
            audience,
            stdin=SECRET + "\n",
        )
    service.start()
    st = Stack(service, prefix)

    # A probe that timestamps each revocation event as it appears on the channel.
    probe = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    probe.subscribe(redis_keys(prefix)["channel"])
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            msg = probe.get_message(timeout=0.1)
            if msg and msg["type"] == "message":
                st.events.append((time.monotonic(), json.loads(msg["data"])))

    probe_thread = threading.Thread(target=listen, daemon=True)
    probe_thread.start()

    asgi_guard = st.guard()
    assert asgi_guard.denylist is not None
    st.denylists["asgi"] = asgi_guard.denylist
    asgi_listener = AsyncRevocationListener(asgi_guard.denylist, url=REDIS_URL, prefix=prefix)
    asgi_app = starlette_app(asgi_guard)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async with asgi_listener:
            yield

    asgi_app.router.lifespan_context = lifespan
    flask_guard = st.guard()
    assert flask_guard.denylist is not None
    st.denylists["flask"] = flask_guard.denylist
    flask_listener = RevocationListener(flask_guard.denylist, url=REDIS_URL, prefix=prefix)
    asgi = UvicornThread(asgi_app, lifespan="on").start()
    flask = WerkzeugThread(flask_app(flask_guard)).start()
    flask_listener.start()
    st.asgi_url, st.flask_url = asgi.url, flask.url
    try:
        yield st
    finally:
        st.http.close()
        flask_listener.stop()
        flask.stop()
        asgi.stop()
        stop.set()
        probe_thread.join(5)
        probe.close()
        service.stop()
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(*redis_keys(prefix).values())
        client.close()
        if LATENCIES:
            print("\nrevocation propagation (ms):", json.dumps(LATENCIES, indent=1))


def _measure(stack: Stack, grain: str, tokens: list[str], revoke: Any) -> None:
    """Revoke (in a thread, so that polling starts at once), then time: when each resource
    server's denylist refuses every token (polled in memory, exact), and when both answer 401
    over HTTP; both measured from the moment the probe saw the event on the Redis channel."""
    for token in tokens:
        assert stack.status(token) == (200, 200)
    claims = [jwtkit.decode_unverified(t) for t in tokens]
    seen_before = len(stack.events)
    t0 = time.monotonic()
    worker = threading.Thread(target=revoke)
    worker.start()
    applied: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while len(applied) < len(stack.denylists) and time.monotonic() < deadline:
        for name, deny in stack.denylists.items():
            if name not in applied and all(deny.is_revoked(c) for c in claims):
                applied[name] = time.monotonic()
        time.sleep(0.0005)
    for token in tokens:
        wait_until(lambda t=token: stack.status(t) == (401, 401), timeout=5, step=0.002)
    http_done = time.monotonic()
    worker.join(60)
    events = [t for t, e in stack.events[seen_before:] if e["kind"] == grain]
    assert events, f"no {grain!r} event was published"
    event_at = events[0]
    LATENCIES[grain] = {
        **{f"{name}_denylist_ms": round((t - event_at) * 1000, 2) for name, t in applied.items()},
        "both_http_401_ms": round((http_done - event_at) * 1000, 1),
        "from_revoke_call_ms": round((http_done - t0) * 1000, 1),
    }
    assert len(applied) == len(stack.denylists)
    assert http_done - event_at < 1.0


def test_single_token_revocation_reaches_both(stack: Stack) -> None:
    token = stack.login("alice")["access_token"]
    other = stack.login("alice")["access_token"]

    def revoke() -> None:
        r = httpx.post(
            stack.service.url + "/revoke",
            data={"token": token, "client_id": CLIENT, "client_secret": SECRET},
        )
        assert r.status_code == 200

    _measure(stack, "jti", [token], revoke)
    assert stack.status(other) == (200, 200)  # the same user's other token still works


def test_session_logout_reaches_both(stack: Stack) -> None:
    body = stack.login("bob")
    token = body["access_token"]
    # A refreshed access token of the same session dies with it.
    r = httpx.post(
        stack.service.url + "/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": CLIENT,
            "client_secret": SECRET,
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    refreshed = r.json()["access_token"]
    assert jwtkit.decode_unverified(refreshed)["sid"] == jwtkit.decode_unverified(token)["sid"]

    def revoke() -> None:
        r = httpx.post(stack.service.url + "/logout", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 204

    _measure(stack, "sid", [token, refreshed], revoke)


def test_user_revocation_reaches_both(stack: Stack) -> None:
    first = stack.login("carol")["access_token"]
    second = stack.login("carol")["access_token"]
    bystander = stack.login("alice")["access_token"]

    def revoke() -> None:
        stack.service.cli("sessions", "revoke", "--user", "carol")

    _measure(stack, "sub", [first, second], revoke)
    assert stack.status(bystander) == (200, 200)


def test_wrong_audience_from_the_real_service_is_refused(stack: Stack) -> None:
    token = stack.login("alice", client=OTHER_CLIENT)["access_token"]
    r = httpx.get(stack.asgi_url + "/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert stack.status(token) == (401, 401)


def test_key_rotation_is_picked_up_by_unknown_kid_refetch(stack: Stack) -> None:
    old = stack.login("alice")["access_token"]
    assert stack.status(old) == (200, 200)
    fetches = [c.fetch_count for c in stack.clients]
    stack.service.cli("keys", "rotate", "--delay", "0")
    new = stack.login("alice")["access_token"]
    assert jwtkit.get_unverified_header(new)["kid"] != jwtkit.get_unverified_header(old)["kid"]
    stack.clock.advance(1)  # past the refetch cooldown of the earlier fetches
    assert stack.status(new) == (200, 200)
    assert [c.fetch_count for c in stack.clients] == [n + 1 for n in fetches]
    assert stack.status(old) == (200, 200)  # the retired key stays published


def test_issuer_stopped_cached_keys_keep_verifying(stack: Stack) -> None:
    token = stack.login("alice")["access_token"]
    stack.service.stop()
    assert stack.status(token) == (200, 200)  # fresh cache
    stack.clock.advance(301)  # past max-age: a refetch fails, the stale keys are served
    assert stack.status(token) == (200, 200)
    assert all(c.keyset is not None for c in stack.clients)
