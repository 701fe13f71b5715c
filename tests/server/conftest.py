"""Fixtures for the token-service tests: real SQLite / PostgreSQL / Redis, real HTTP servers.

``svc`` (parametrized over ``sqlite``, ``postgresql`` and ``postgresql+redis``) builds a fresh
service per test with an injectable clock and serves it with uvicorn on a free 127.0.0.1 port in
a thread. PostgreSQL: one fresh database per test session (dropped afterwards), emptied between
tests. Redis: a unique key prefix per test run; only keys under it are deleted.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from jwtkit.server import build_services, create_app
from jwtkit.store.sql import SQLStore

from .support import (
    BACKENDS,
    FAST_HASH_ENV,
    PG_ADMIN,
    REDIS_PREFIX,
    REDIS_URL,
    RUN_ID,
    FakeClock,
    ServerProcess,
    ServerThread,
    Svc,
    make_settings,
    redis_cleanup,
    truncate_all,
)


@pytest.fixture
def fake_clock() -> type[FakeClock]:
    """The FakeClock class (tests build their own to share one between two apps)."""
    return FakeClock


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped at the end)."""
    name = f"jwtkit_test_{RUN_ID}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    store = SQLStore(url)
    store.migrate()
    store.close()
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", autouse=True)
def _redis_prefix_cleanup() -> Iterator[None]:
    yield
    redis_cleanup(REDIS_PREFIX)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_svc(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Factory: ``make_svc(**settings_overrides)`` starts a service; all are stopped at the end."""
    started: list[tuple[ServerThread, Svc]] = []
    pg = request.getfixturevalue("pg_url") if backend.startswith("postgresql") else None

    def factory(*, clock: FakeClock | None = None, **overrides: Any) -> Svc:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        settings = make_settings(backend, tmp_path, port, pg, **overrides)
        clock = clock or FakeClock()
        if not started and pg is not None:
            empty = SQLStore(pg)
            truncate_all(empty)
            empty.close()
        services = build_services(settings, clock=clock)
        app = create_app(services=services)
        thread = ServerThread(app, sock)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        rclient = redis.Redis.from_url(REDIS_URL) if settings.redis_url else None
        http = httpx.Client(base_url=url, timeout=30)
        svc = Svc(backend, settings, clock, services, url, http, rclient)
        started.append((thread, svc))
        return svc

    yield factory
    for thread, svc in started:
        svc.http.close()
        thread.stop()
        if svc.redis is not None:
            redis_cleanup(svc.settings.redis_prefix)
            svc.redis.close()


@pytest.fixture
def svc(make_svc: Any) -> Svc:
    """A running service with user alice (read write), public client ``web``, confidential
    client ``rs`` (secret ``rs-secret``, client_credentials, a resource server for the default
    audience) for introspection."""
    s: Svc = make_svc()
    s.add_user()
    s.add_client()
    s.add_client(
        "rs",
        secret="rs-secret",
        grants=("client_credentials", "password", "refresh_token"),
        scope="read write",
        resource_server=True,  # may introspect tokens for the default audience (the issuer)
    )
    return s


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTKIT_")}
    env.update(FAST_HASH_ENV)
    env["JWTKIT_DATA_DIR"] = str(tmp_path / "data")
    env["JWTKIT_KEY_CACHE_SECONDS"] = "0"
    return env


@pytest.fixture
def server_proc(tmp_path: Path, server_env: dict[str, str]) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data", server_env)
    yield proc
    proc.kill()


from .oidc_support import op  # noqa: E402, F401 - the shared OpenID Connect provider fixture
