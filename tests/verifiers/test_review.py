"""Regression tests from the hostile review of the verifiers (issue 4).

Each test reproduces one defect found by the review against real loopback servers / real Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

import jwtkit
from jwtkit.errors import JWKSFetchError
from jwtkit.jwks_client import JWKSClient, parse_max_age
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.listener import AsyncRevocationListener, RevocationListener
from jwtkit.revocation import Denylist, make_event

from .apps import fastapi_app, flask_app, starlette_app
from .conftest import (
    REDIS_URL,
    FakeClock,
    MiniIssuer,
    RedisRevocations,
    UvicornThread,
    WerkzeugThread,
    wait_until,
)

NOW = time.time()  # reset before each test by conftest._fresh_module_now


class RawServer:
    """A raw HTTP/1.1 server on 127.0.0.1 that answers each connection with one fixed response,
    optionally dripping the body one byte every ``drip`` seconds (bounded: ``max_conns``)."""

    def __init__(self, body: bytes, *, drip: float = 0.0, max_conns: int = 4) -> None:
        self.body = body
        self.drip = drip
        self.max_conns = max_conns
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(10)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/jwks"
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for _ in range(self.max_conns):
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5)
                    conn.recv(65536)
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(self.body)).encode() + b"\r\n"
                        b"Connection: close\r\n\r\n"
                    )
                    if not self.drip:
                        conn.sendall(self.body)
                        continue
                    for i in range(len(self.body)):
                        conn.sendall(self.body[i : i + 1])
                        time.sleep(self.drip)
                except OSError:
                    continue

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the pending accept() on Linux
        self.sock.close()
        self.thread.join(15)


# -- JWK Set client ------------------------------------------------------------------------


def test_deeply_nested_jwks_is_a_fetch_error_not_a_crash() -> None:
    # json.loads raises RecursionError (not ValueError) on deep nesting: it escaped as a crash.
    with RawServer(b"[" * 200_000) as server:
        client = JWKSClient(server.url)
        with pytest.raises(JWKSFetchError):
            client.get_keyset()


def test_deeply_nested_jwks_async() -> None:
    with RawServer(b'{"keys":' + b"[" * 200_000) as server:
        client = JWKSClient(server.url)
        with pytest.raises(JWKSFetchError):
            asyncio.run(client.aget_keyset())


def test_slow_drip_response_is_bounded_by_timeout() -> None:
    # A server that sends one byte at a time never trips httpx's per-read timeout: the whole
    # fetch must still give up after about `timeout` seconds (here the drip lasts ~5 s).
    body = b" " * 500 + b'{"keys":[]}'
    with RawServer(body, drip=0.01, max_conns=1) as server:
        client = JWKSClient(server.url, timeout=0.5)
        with pytest.raises(JWKSFetchError):
            client.get_keyset()


def test_slow_drip_response_is_bounded_by_timeout_async() -> None:
    body = b" " * 500 + b'{"keys":[]}'
    with RawServer(body, drip=0.01, max_conns=1) as server:
        client = JWKSClient(server.url, timeout=0.5)
        with pytest.raises(JWKSFetchError):
            asyncio.run(client.aget_keyset())


def test_huge_max_age_is_clamped_not_ignored() -> None:
    # RFC 9111 §1.2.2: a delta-seconds too large to represent counts as 2147483648, not absent.
    assert parse_max_age("max-age=99999999999") == 2147483648
    assert parse_max_age("public, max-age=" + "9" * 40) == 2147483648


def test_one_fetch_in_flight_across_threads_and_event_loops(issuer: MiniIssuer) -> None:
    issuer.jwks_delay = 0.5
    client = JWKSClient(f"{issuer.issuer}/jwks")
    header = jwtkit.get_unverified_header(issuer.token())
    errors: list[BaseException] = []

    def sync_caller() -> None:
        try:
            client.resolve_key(header)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    async def many() -> None:
        await asyncio.gather(*[client.aresolve_key(header) for _ in range(5)])

    def loop_caller() -> None:
        try:
            asyncio.run(many())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sync_caller) for _ in range(4)]
    threads += [threading.Thread(target=loop_caller) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert issuer.jwks_hits == 1


# -- middleware ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[MiniIssuer, dict[str, str]]]:
    with MiniIssuer() as issuer:
        client = JWKSClient(f"{issuer.issuer}/jwks")
        verifier = access_token_verifier(
            client, issuer=issuer.issuer, audience=issuer.audience, algorithms=["ES256"]
        )
        guard = BearerGuard(verifier, denylist=Denylist(), realm="test")
        running: dict[str, Any] = {
            "fastapi": UvicornThread(fastapi_app(guard)).start(),
            "starlette": UvicornThread(starlette_app(guard)).start(),
            "flask": WerkzeugThread(flask_app(guard)).start(),
        }
        try:
            yield issuer, {name: s.url for name, s in running.items()}
        finally:
            for s in running.values():
                s.stop()


def _raw_get(url: str, header_lines: list[str]) -> tuple[int, str]:
    """GET /me with exactly these header lines (httpx merges duplicates); returns status and
    the WWW-Authenticate value."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        lines = ["GET /me HTTP/1.1", "Host: test", "Connection: close", *header_lines]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        for _ in range(1000):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    challenge = next(
        (h.split(":", 1)[1].strip() for h in head if h.lower().startswith("www-authenticate:")),
        "",
    )
    return int(head[0].split()[1]), challenge


@pytest.mark.parametrize("kind", ["fastapi", "starlette", "flask"])
def test_two_authorization_headers_are_refused_everywhere(
    servers: tuple[MiniIssuer, dict[str, str]], kind: str
) -> None:
    issuer, urls = servers
    token = issuer.token()
    status, challenge = _raw_get(
        urls[kind], [f"Authorization: Bearer {token}", f"Authorization: Bearer {token}"]
    )
    assert status == 400
    assert 'error="invalid_request"' in challenge


@pytest.mark.parametrize("kind", ["fastapi", "starlette", "flask"])
def test_non_string_sid_is_401_not_500(
    servers: tuple[MiniIssuer, dict[str, str]], kind: str
) -> None:
    # The denylist looks `sid` up in a dict: an unhashable value crashed the request (500).
    issuer, urls = servers
    token = issuer.token(sid={"a": 1})
    response = httpx.get(f"{urls[kind]}/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


# -- revocation listener -------------------------------------------------------------------

_DEEP = "[" * 100_000


def test_thread_listener_survives_hostile_events(redis_revocations: RedisRevocations) -> None:
    rr = redis_revocations
    with RevocationListener(url=REDIS_URL, prefix=rr.prefix, poll_timeout=0.05) as listener:
        assert listener.ready.is_set()
        for bad in (_DEEP, b"\xff\xfe", "null", '{"kind":"jti"}'):
            rr.client.publish(rr.keys["channel"], bad)
        rr.revoke_jti("j-after", NOW + 600)
        wait_until(lambda: listener.denylist.is_revoked({"jti": "j-after"}) == "jti")
        assert listener._thread is not None and listener._thread.is_alive()


def test_async_listener_survives_hostile_events(redis_revocations: RedisRevocations) -> None:
    rr = redis_revocations

    async def main() -> None:
        listener = AsyncRevocationListener(url=REDIS_URL, prefix=rr.prefix, poll_timeout=0.05)
        async with listener:
            assert listener.ready.is_set()
            rr.client.publish(rr.keys["channel"], _DEEP)
            rr.revoke_jti("j-after", NOW + 600)
            for _ in range(500):
                if listener.denylist.is_revoked({"jti": "j-after"}):
                    break
                await asyncio.sleep(0.01)
            assert listener.denylist.is_revoked({"jti": "j-after"}) == "jti"

    asyncio.run(main())


def test_listener_loads_despite_non_utf8_members(redis_revocations: RedisRevocations) -> None:
    rr = redis_revocations
    rr.client.zadd(rr.keys["jti"], {b"\xff\xfe-bad": NOW + 600})
    rr.revoke_jti("j-good", NOW + 600)
    with RevocationListener(url=REDIS_URL, prefix=rr.prefix, poll_timeout=0.05) as listener:
        assert listener.ready.is_set()
        assert listener.denylist.is_revoked({"jti": "j-good"}) == "jti"


class OwnRedis:
    """A private redis-server on a free loopback port (so it can be stopped and restarted)."""

    def __init__(self) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.dir = tempfile.mkdtemp(prefix="jwtkit-review-redis-")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        try:
            wait_until(lambda: _pings(client), timeout=10, step=0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_thread_listener_reconnects_after_redis_restart() -> None:
    own = OwnRedis()
    try:
        own.start()
        prefix = "review"
        listener = RevocationListener(
            url=own.url, prefix=prefix, poll_timeout=0.05, reconnect_delay=0.1
        )
        with listener:
            assert listener.ready.is_set()
            own.stop()
            wait_until(lambda: not listener.connected, timeout=10)
            own.start()
            wait_until(lambda: listener.connected, timeout=10)
            client = redis.Redis.from_url(own.url)
            try:
                client.zadd(f"{prefix}:jti", {"j-restart": NOW + 600})
                client.publish(f"{prefix}:events", make_event("jti", "j-restart", NOW + 600))
            finally:
                client.close()
            wait_until(lambda: listener.denylist.is_revoked({"jti": "j-restart"}) == "jti")
    finally:
        own.cleanup()


def test_non_finite_event_times_cannot_undo_a_revocation(
    redis_revocations: RedisRevocations,
) -> None:
    # parse_event accepts NaN/Infinity; NaN then won max() in the denylist and the next prune
    # dropped the real revocation.
    rr = redis_revocations
    with RevocationListener(url=REDIS_URL, prefix=rr.prefix, poll_timeout=0.05) as listener:
        rr.revoke_jti("j-real", NOW + 600)
        rr.revoke_sub("u-real", NOW + 100, NOW + 600)
        wait_until(lambda: listener.denylist.is_revoked({"jti": "j-real"}) == "jti")
        wait_until(lambda: listener.denylist.is_revoked({"sub": "u-real", "iat": NOW}) == "sub")
        channel = rr.keys["channel"]
        rr.client.publish(channel, '{"kind":"jti","value":"j-real","until":NaN}')
        rr.client.publish(channel, '{"kind":"sub","value":"u-real","until":1e999,"cutoff":NaN}')
        rr.revoke_jti("j-marker", NOW + 600)
        wait_until(lambda: listener.denylist.is_revoked({"jti": "j-marker"}) == "jti")
        listener.denylist.prune(NOW)
        assert listener.denylist.is_revoked({"jti": "j-real"}) == "jti"
        assert listener.denylist.is_revoked({"sub": "u-real", "iat": NOW}) == "sub"


def test_stale_keys_are_served_while_a_refresh_is_in_flight(
    issuer: MiniIssuer, clock: FakeClock
) -> None:
    # A slow issuer used to stall every request behind the refresh (up to `timeout` seconds,
    # again after each cooldown during an outage) although the cached keys were usable.
    client = JWKSClient(f"{issuer.issuer}/jwks", min_ttl=10, max_ttl=10, clock=clock)
    first = client.get_keyset()
    clock.advance(11)  # expired, well within max_stale
    issuer.jwks_delay = 2.0
    refresher = threading.Thread(target=client.get_keyset)
    refresher.start()
    try:
        wait_until(lambda: client._in_flight)
        assert client.get_keyset() is first
        assert client._in_flight  # we did not wait for the refresh to finish
        assert asyncio.run(client.aget_keyset()) is first
        assert client._in_flight
    finally:
        refresher.join(20)


def test_jwks_with_duplicate_members_is_refused() -> None:
    # Plain json.loads kept the last "keys"; jwtkit's JSON refuses duplicate member names.
    jwk = (
        b'{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}'
    )
    with (
        RawServer(b'{"keys":[],"keys":[' + jwk + b"]}") as server,
        pytest.raises(JWKSFetchError),
    ):
        JWKSClient(server.url).get_keyset()


def test_discovery_error_names_the_real_failure() -> None:
    # RFC 8414 metadata with the wrong issuer, no OIDC fallback: the error used to be the
    # fallback's 404, hiding the issuer mismatch.
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def metadata(request: Request) -> JSONResponse:
        return JSONResponse({"issuer": "https://other.example", "jwks_uri": "https://x/jwks"})

    server = UvicornThread(
        Starlette(routes=[Route("/.well-known/oauth-authorization-server", metadata)])
    ).start()
    try:
        client = JWKSClient.from_issuer(server.url)
        with pytest.raises(JWKSFetchError, match="RFC 8414 §3.3"):
            client.get_keyset()
        client = JWKSClient.from_issuer(server.url)
        with pytest.raises(JWKSFetchError, match="RFC 8414 §3.3"):
            asyncio.run(client.aget_keyset())
    finally:
        server.stop()


def test_sync_call_on_the_loop_thread_does_not_deadlock_with_an_async_fetch(
    issuer: MiniIssuer,
) -> None:
    # The JWK Set lock is shared by the sync and async paths; a sync get_keyset() made on the
    # event loop's thread while a task of that loop holds it must not wait for it.
    issuer.jwks_delay = 1.0
    client = JWKSClient(f"{issuer.issuer}/jwks")
    outcome: list[str] = []

    async def main() -> None:
        task = asyncio.create_task(client.aget_keyset())
        for _ in range(500):
            if client._in_flight:
                break
            await asyncio.sleep(0.01)
        try:
            client.get_keyset()  # cold cache: nothing to serve yet
            outcome.append("served")
        except JWKSFetchError:
            outcome.append("fetch error")
        await task
        outcome.append("task done")

    runner = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    runner.start()
    runner.join(20)
    assert not runner.is_alive(), "deadlock"
    assert outcome == ["fetch error", "task done"]
    assert client.keyset is not None


@pytest.mark.parametrize("kind", ["fastapi", "starlette", "flask"])
def test_error_responses_are_not_cacheable_everywhere(
    servers: tuple[MiniIssuer, dict[str, str]], kind: str
) -> None:
    # The FastAPI dependency path sent no Cache-Control, unlike the middleware and Flask.
    issuer, urls = servers
    for path, auth in (("/me", "Bearer garbage.x.y"), ("/write", f"Bearer {issuer.token()}")):
        response = httpx.get(f"{urls[kind]}{path}", headers={"Authorization": auth})
        assert response.status_code in (401, 403)
        assert response.headers.get("cache-control") == "no-store"


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_async_listener_reconnects_after_redis_restart() -> None:
    own = OwnRedis()
    prefix = "review"

    async def main() -> None:
        listener = AsyncRevocationListener(
            url=own.url, prefix=prefix, poll_timeout=0.05, reconnect_delay=0.1, resync_interval=0.2
        )
        async with listener:
            assert listener.ready.is_set()
            await asyncio.to_thread(own.stop)
            for _ in range(1000):
                if not listener.connected:
                    break
                await asyncio.sleep(0.01)
            await asyncio.to_thread(own.start)
            client = redis.Redis.from_url(own.url)
            try:
                client.zadd(
                    f"{prefix}:jti", {"j-restart": NOW + 600}
                )  # no event: a (re)load finds it
            finally:
                client.close()
            for _ in range(1000):
                if listener.denylist.is_revoked({"jti": "j-restart"}):
                    break
                await asyncio.sleep(0.01)
            assert listener.denylist.is_revoked({"jti": "j-restart"}) == "jti"

    try:
        own.start()
        asyncio.run(main())
    finally:
        own.cleanup()


def test_nan_cut_off_in_redis_does_not_wipe_a_user_revocation(
    redis_revocations: RedisRevocations,
) -> None:
    rr = redis_revocations
    denylist = Denylist()
    denylist.add_sub("u-real", NOW + 100, NOW + 600)
    rr.client.hset(rr.keys["sub"], "u-real", "nan")
    rr.client.zadd(rr.keys["sub_until"], {"u-real": NOW + 600})
    with RevocationListener(denylist, url=REDIS_URL, prefix=rr.prefix) as listener:
        assert listener.ready.is_set()
    assert denylist.is_revoked({"sub": "u-real", "iat": NOW}) == "sub"
