"""Revocation reaches every verifier in every set-up: the real token service (``jwtkit serve``
subprocess, SQLite) and two real resource servers on loopback (FastAPI with the asyncio
listeners under uvicorn, Flask with the thread listeners under werkzeug).

Set-ups: **feed** (no Redis anywhere: the HTTP revocation feed), **redis** (the service relays to
Redis; verifiers listen to Redis only) and **redis-restart** (a private ``redis-server`` on its
own loopback port, killed and restarted mid-run; verifiers listen to both). In each: logout, an
admin revocation from a separate CLI process with a clean environment (no Redis setting), user
disable and password reset must be refused by both verifiers within 1 s; the times are measured
and printed.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

import jwtkit
from jwtkit.cli.demo import TokenServiceProcess
from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.listener import (
    AsyncFeedRevocationListener,
    AsyncRevocationListener,
    FeedRevocationListener,
    RevocationListener,
)
from jwtkit.revocation import Denylist

from .apps import fastapi_app, flask_app
from .conftest import REDIS_URL, UvicornThread, WerkzeugThread, wait_until

pytestmark = pytest.mark.slow

AUDIENCE = "https://api.feed-e2e"
CLIENT, SECRET = "feed-web", secrets.token_urlsafe(32)
RS, RS_SECRET = "feed-rs", secrets.token_urlsafe(32)
PASSWORD = "feed e2e password"
USERS = ("u-logout", "u-admin", "u-disable", "u-reset")
FAST_ENV = {
    "JWTKIT_PASSWORD_TIME_COST": "1",
    "JWTKIT_PASSWORD_MEMORY_KIB": "64",
    "JWTKIT_PASSWORD_PARALLELISM": "1",
    "JWTKIT_KEY_CACHE_SECONDS": "0",
}
RESULTS: dict[str, dict[str, float]] = {}


class PrivateRedis:
    """A ``redis-server`` of our own on a free loopback port (never the shared 6379), so the
    test may kill and restart it."""

    def __init__(self, workdir: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for this test"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        wait_until(lambda: _pings(client), timeout=10, step=0.05)
        client.close()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class Setup:
    """One service, two verifiers and their listeners."""

    def __init__(self, name: str, service: TokenServiceProcess) -> None:
        self.name = name
        self.service = service
        self.http = httpx.Client(timeout=10)
        self.urls: dict[str, str] = {}
        self.listeners: dict[str, list[Any]] = {"fastapi": [], "flask": []}
        self.redis: PrivateRedis | None = None

    def login(self, user: str) -> str:
        r = self.http.post(
            self.service.url + "/token",
            data={
                "grant_type": "password",
                "username": user,
                "password": PASSWORD,
                "client_id": CLIENT,
                "client_secret": SECRET,
                "scope": "read",
            },
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def statuses(self, token: str) -> tuple[int, ...]:
        auth = {"Authorization": f"Bearer {token}"}
        return tuple(self.http.get(u + "/me", headers=auth).status_code for u in self.urls.values())

    def admin(self, *args: str, stdin: str | None = None) -> str:
        """The admin CLI in a separate process whose environment names only the data dir."""
        return self.service.cli(*args, stdin=stdin, env=self.service.clean_env())

    def measure(self, what: str, token: str, revoke: Any) -> float:
        """Run ``revoke()``, then poll both verifiers until both refuse ``token``; returns the
        seconds from the end of the revoking call (also recorded for the summary)."""
        assert self.statuses(token) == (200, 200)
        started = time.monotonic()
        revoke()
        done = time.monotonic()
        took = wait_until(lambda: self.statuses(token) == (401, 401), timeout=10, step=0.002)
        RESULTS.setdefault(self.name, {})[what] = round(took * 1000, 1)
        RESULTS[self.name][what + " (from call start)"] = round((done - started + took) * 1000)
        return took


def _guard(issuer: str) -> BearerGuard:
    verifier = access_token_verifier(
        JWKSClient.from_issuer(issuer), issuer=issuer, audience=AUDIENCE, algorithms=["ES256"]
    )
    return BearerGuard(verifier, denylist=Denylist(), realm="feed-e2e")


def start_service(tmp: Path, redis_url: str | None, prefix: str, **env: str) -> TokenServiceProcess:
    service = TokenServiceProcess(tmp, redis_url=redis_url, prefix=prefix, env={**FAST_ENV, **env})
    for user in USERS:
        service.cli(
            "users", "add", user, "--password-stdin", "--scope", "read", stdin=PASSWORD + "\n"
        )
    service.cli(
        "clients",
        "add",
        CLIENT,
        "--secret-stdin",
        "--grant",
        "password",
        "--scope",
        "read",
        "--audience",
        AUDIENCE,
        stdin=SECRET + "\n",
    )
    service.cli(
        "clients",
        "add",
        RS,
        "--secret-stdin",
        "--grant",
        "client_credentials",
        "--resource-server",
        stdin=RS_SECRET + "\n",
    )
    service.start()
    return service


def feed_listener(denylist: Denylist, issuer: str, **kw: Any) -> FeedRevocationListener:
    return FeedRevocationListener(
        denylist, issuer=issuer, client_id=RS, client_secret=RS_SECRET, reconnect_delay=0.1, **kw
    )


@pytest.fixture(scope="module", params=["feed", "redis", "redis-restart"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    name = request.param
    tmp = Path(tmp_path_factory.mktemp(f"feed-{name}"))
    prefix = f"jwtkit-feed-e2e:{secrets.token_hex(6)}"
    private = PrivateRedis(tmp) if name == "redis-restart" else None
    if private is not None:
        private.start()
    redis_url = {"feed": None, "redis": REDIS_URL}.get(name, private.url if private else None)
    service = start_service(tmp / "svc", redis_url, prefix)
    st = Setup(name, service)
    st.redis = private
    use_feed = name != "redis"
    use_redis = redis_url is not None

    api_guard = _guard(service.url)
    assert api_guard.denylist is not None
    api = fastapi_app(api_guard)
    async_listeners: list[Any] = []
    if use_feed:
        async_listeners.append(
            AsyncFeedRevocationListener(
                api_guard.denylist,
                issuer=service.url,
                client_id=RS,
                client_secret=RS_SECRET,
                reconnect_delay=0.1,
            )
        )
    if use_redis:
        assert redis_url is not None
        async_listeners.append(
            AsyncRevocationListener(
                api_guard.denylist, url=redis_url, prefix=prefix, reconnect_delay=0.1
            )
        )
    st.listeners["fastapi"] = async_listeners

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for listener in async_listeners:
                await stack.enter_async_context(listener)
            yield

    api.router.lifespan_context = lifespan
    flask_guard = _guard(service.url)
    assert flask_guard.denylist is not None
    if use_feed:
        st.listeners["flask"].append(feed_listener(flask_guard.denylist, service.url))
    if use_redis:
        assert redis_url is not None
        st.listeners["flask"].append(
            RevocationListener(
                flask_guard.denylist, url=redis_url, prefix=prefix, reconnect_delay=0.1
            )
        )
    api_server = UvicornThread(api, lifespan="on").start()
    flask_server = WerkzeugThread(flask_app(flask_guard)).start()
    for listener in st.listeners["flask"]:
        listener.start()
    st.urls = {"fastapi": api_server.url, "flask": flask_server.url}
    try:
        yield st
    finally:
        for listener in st.listeners["flask"]:
            listener.stop()
        flask_server.stop()
        api_server.stop()
        service.stop()
        st.http.close()
        if private is not None:
            private.kill()
        elif redis_url:
            client = redis.Redis.from_url(redis_url)
            keys = list(client.scan_iter(match=f"{prefix}*", count=500))
            if keys:
                client.delete(*keys)
            client.close()


@pytest.fixture(scope="module", autouse=True)
def _print_results() -> Iterator[None]:
    yield
    if RESULTS:
        print(
            "\nrevocation propagation, ms from the end of the revoking call to both verifiers "
            "refusing:\n" + json.dumps(RESULTS, indent=1)
        )


def test_logout(setup: Setup) -> None:
    token = setup.login("u-logout")

    def revoke() -> None:
        r = setup.http.post(
            setup.service.url + "/logout", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 204

    assert setup.measure("logout", token, revoke) < 1.0


def test_admin_revocation_from_a_clean_cli(setup: Setup) -> None:
    token = setup.login("u-admin")
    assert (
        setup.measure(
            "admin CLI sessions revoke --user",
            token,
            lambda: setup.admin("sessions", "revoke", "--user", "u-admin"),
        )
        < 1.0
    )


def test_user_disable(setup: Setup) -> None:
    token = setup.login("u-disable")
    assert (
        setup.measure(
            "admin CLI users disable", token, lambda: setup.admin("users", "disable", "u-disable")
        )
        < 1.0
    )


def test_password_reset(setup: Setup) -> None:
    token = setup.login("u-reset")

    def reset() -> None:
        setup.admin(
            "users",
            "set-password",
            "u-reset",
            "--password-stdin",
            "--end-sessions",
            stdin="a new password 2\n",
        )

    assert setup.measure("admin CLI users set-password --end-sessions", token, reset) < 1.0


@pytest.mark.parametrize("setup", ["redis-restart"], indirect=True)
def test_redis_killed_and_restarted_mid_run(setup: Setup) -> None:
    assert setup.redis is not None
    token = setup.login("u-logout")  # the user may log in again after its logout
    setup.redis.kill()
    redis_listeners = [
        listener
        for group in setup.listeners.values()
        for listener in group
        if isinstance(listener, RevocationListener | AsyncRevocationListener)
    ]
    wait_until(lambda: not any(listener.connected for listener in redis_listeners), timeout=10)
    # Redis is down: the feed still carries the revocation to both verifiers.
    assert (
        setup.measure(
            "logout while Redis is down",
            token,
            lambda: setup.admin("sessions", "revoke", "--user", "u-logout"),
        )
        < 1.0
    )
    setup.redis.start()  # empty: the relay mirrors the live set, the listeners reconnect
    wait_until(lambda: all(listener.connected for listener in redis_listeners), timeout=15)
    ready = httpx.get(setup.service.url + "/readyz").json()["revocation_channels"]
    wait_until(
        lambda: (
            httpx.get(setup.service.url + "/readyz").json()["revocation_channels"]["redis"]
            == "live"
        ),
        timeout=10,
    )
    claims = jwtkit.decode_unverified(token)
    client = redis.Redis.from_url(setup.redis.url)
    prefix = setup.service.env["JWTKIT_REVOCATION_PREFIX"]
    wait_until(lambda: client.zscore(f"{prefix}:sid", claims["sid"]) is not None, timeout=10)
    assert int(client.get(f"{prefix}:seq") or 0) >= ready["seq"]
    client.close()
    # After the restart a new revocation goes through Redis again.
    second = setup.login("u-logout")
    assert (
        setup.measure(
            "logout after Redis restarted",
            second,
            lambda: setup.admin("sessions", "revoke", "--user", "u-logout"),
        )
        < 1.0
    )
    for listener in redis_listeners:
        assert listener.state()["outages"] >= 1 and listener.connected


def test_feed_refuses_unauthenticated_and_malformed_requests(setup: Setup) -> None:
    url = setup.service.url + "/revocations/events"
    r = httpx.get(url, params={"since": 0})
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    for since in ("x", "-1", "1.0", ""):
        r = httpx.get(url, params={"since": since}, auth=(RS, RS_SECRET))
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"


@pytest.mark.parametrize("setup", ["feed"], indirect=True)
def test_verifier_started_after_the_revocation_loads_it(setup: Setup) -> None:
    token = setup.login("u-admin")
    setup.admin("sessions", "revoke", "--user", "u-admin")
    claims = jwtkit.decode_unverified(token)
    with feed_listener(Denylist(), setup.service.url) as late:
        assert late.ready.is_set()
        assert late.denylist.is_revoked(claims) in ("sid", "sub")
        assert late.loads == 1


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (dropped afterwards)."""
    import psycopg

    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    name = f"jwtkit_feed_{secrets.token_hex(5)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _insert_burst(database: str, count: int, batch: int = 500) -> float:
    """Revoke ``count`` tokens from another process' point of view (our own store on the
    service's database), ``batch`` per transaction; returns when the last one committed."""
    from jwtkit.store.revocations import put_revocation
    from jwtkit.store.sql import RevocationEntry, SQLStore

    store = SQLStore(database)
    now = time.time()
    try:
        for start in range(0, count, batch):
            with store.db.write() as conn:
                for n in range(start, min(start + batch, count)):
                    put_revocation(conn, RevocationEntry("jti", f"burst-{n}", now + 600), now)
    finally:
        store.close()
    return time.monotonic()


@pytest.mark.parametrize("setup", ["feed"], indirect=True)
def test_a_burst_of_10000_revocations_keeps_memory_and_lag_bounded(setup: Setup) -> None:
    proc = setup.service.proc
    assert proc is not None
    before = _rss_kib(proc.pid)
    latest = httpx.get(setup.service.url + "/readyz").json()["revocation_channels"]["seq"]
    started = time.monotonic()
    database = f"sqlite:///{setup.service.data_dir / 'jwtkit.db'}"
    committed = _insert_burst(database, 10_000)
    listeners = [li for group in setup.listeners.values() for li in group]
    wait_until(
        lambda: all(li.last_seq >= latest + 10_000 for li in listeners), timeout=60, step=0.01
    )
    caught_up = time.monotonic()
    after = _rss_kib(proc.pid)
    RESULTS.setdefault("burst", {}).update(
        {
            "10000 revocations committed (s)": round(committed - started, 2),
            "verifiers caught up after the last commit (ms)": round((caught_up - committed) * 1000),
            "service RSS growth (MiB)": round((after - before) / 1024, 1),
        }
    )
    for li in listeners:
        state = li.state()
        assert state["lag"] == 0 and state["duplicates"] == 0 and state["loads"] == 1
    assert caught_up - committed < 10.0  # generous: a few feed pages
    assert after - before < 100 * 1024  # bounded pages: far below the burst's size x readers


@pytest.mark.parametrize("setup", ["feed"], indirect=True)
def test_a_slow_reader_does_not_hold_the_service_memory(setup: Setup) -> None:
    """Readers that ask for full pages and never read them: each holds at most one page."""
    proc = setup.service.proc
    assert proc is not None
    import base64

    auth = base64.b64encode(f"{RS}:{RS_SECRET}".encode()).decode()
    request = (
        f"GET /revocations/events?since=0&limit=1000 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Basic {auth}\r\n\r\n"
    ).encode() * 20
    before = _rss_kib(proc.pid)
    socks = []
    try:
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", setup.service.port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(request)  # 20 pipelined page requests, none read
            socks.append(sock)
        time.sleep(2)
        t0 = time.monotonic()
        assert httpx.get(setup.service.url + "/healthz", timeout=10).status_code == 200
        assert time.monotonic() - t0 < 2.0  # still serving others
        grown = _rss_kib(proc.pid) - before
        RESULTS.setdefault("slow readers", {})["service RSS growth, 20 stalled readers (MiB)"] = (
            round(grown / 1024, 1)
        )
        assert grown < 100 * 1024
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("setup", ["feed"], indirect=True)
def test_service_restarted_while_verifiers_are_connected(setup: Setup) -> None:
    listeners = [li for group in setup.listeners.values() for li in group]
    loads = [li.loads for li in listeners]
    applied = [li.events_applied for li in listeners]
    token = setup.login("u-logout")
    setup.service.stop()
    wait_until(lambda: not any(li.connected for li in listeners), timeout=30)
    setup.admin("sessions", "revoke", "--user", "u-logout")  # while no service runs
    setup.service.start()
    took = wait_until(lambda: setup.statuses(token) == (401, 401), timeout=20, step=0.01)
    RESULTS.setdefault("faults", {})["refused after the service came back (ms)"] = round(
        took * 1000
    )
    for li, n, before in zip(listeners, loads, applied, strict=True):
        state = li.state()
        assert li.loads == n, "resumed from its seq, no reload"
        assert state["duplicates"] == 0 and state["outages"] >= 1 and state["lag"] == 0
        assert li.events_applied > before


def test_two_service_instances_on_one_postgresql(tmp_path: Path, pg_database: str) -> None:
    env = {"JWTKIT_DATABASE_URL": pg_database}
    first = start_service(tmp_path / "a", None, "unused", **env)
    second = TokenServiceProcess(
        tmp_path / "b", redis_url=None, prefix="unused", env={**FAST_ENV, **env}
    )
    second.start()
    listeners = [feed_listener(Denylist(), s.url) for s in (first, second)]
    try:
        for li in listeners:
            li.start()
        for n in range(6):
            user = USERS[n % len(USERS)]
            target = (first, second)[n % 2]
            target.cli("sessions", "revoke", "--user", user, env=target.clean_env())
        latest = httpx.get(first.url + "/readyz").json()["revocation_channels"]["seq"]
        assert latest >= 6
        wait_until(lambda: all(li.last_seq == latest for li in listeners), timeout=10)
        for li in listeners:
            assert li.events_applied == latest and li.state()["duplicates"] == 0
    finally:
        for li in listeners:
            li.stop()
        second.stop()
        first.stop()
