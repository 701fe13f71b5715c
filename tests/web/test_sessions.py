"""The session stores: in memory, SQL (SQLite and PostgreSQL) and Redis, with one contract."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from jwtkit.web import MemorySessionStore, RedisSessionStore, SQLSessionStore, WebSession
from jwtkit.web.sessions import session_key
from verifiers.conftest import REDIS_URL, FakeClock

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    name = f"jwtkit_web_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["memory", "sqlite", "postgresql", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path, rp_clock: FakeClock) -> Iterator[Any]:
    if request.param == "memory":
        yield MemorySessionStore(clock=rp_clock)
    elif request.param == "sqlite":
        s = SQLSessionStore(f"sqlite:///{tmp_path / 'web.db'}", clock=rp_clock)
        yield s
        s.engine.dispose()
    elif request.param == "postgresql":
        import sqlalchemy as sa

        engine = sa.create_engine(request.getfixturevalue("pg_url"))
        prefix = f"t{uuid.uuid4().hex[:8]}_"
        yield SQLSessionStore(engine, clock=rp_clock, prefix=prefix)
        engine.dispose()
    else:
        client: redis.Redis[bytes] = redis.Redis.from_url(REDIS_URL)
        prefix = f"jwtkit-test-web:{uuid.uuid4().hex}:"
        yield RedisSessionStore(client, prefix=prefix, clock=rp_clock)
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()


def _session(clock: FakeClock, sub: str = "alice", sid: str | None = "op-1") -> WebSession:
    now = clock()
    return WebSession(
        key=session_key(uuid.uuid4().hex),
        iss="https://id.test",
        sub=sub,
        sid=sid,
        claims={"sub": sub, "preferred_username": sub},
        id_token="id",
        access_token="at",
        access_expires_at=now + 300,
        refresh_token="rt",
        created_at=now,
        expires_at=now + 3600,
    )


def test_save_load_delete(store: Any, rp_clock: FakeClock) -> None:
    s = _session(rp_clock)
    store.save(s)
    got = store.load(s.key)
    assert got == s
    got.access_token = "changed"
    assert store.load(s.key).access_token == "at"  # a copy
    s.access_token = "at-2"
    store.save(s)
    assert store.load(s.key).access_token == "at-2"
    store.delete(s.key)
    assert store.load(s.key) is None
    store.delete(s.key)  # absent: no error
    assert store.load("unknown") is None


def test_expiry(store: Any, rp_clock: FakeClock) -> None:
    s = _session(rp_clock)
    store.save(s)
    rp_clock.advance(3601)
    assert store.load(s.key) is None


def test_delete_matching(store: Any, rp_clock: FakeClock) -> None:
    a1 = _session(rp_clock, "alice", "op-1")
    a2 = _session(rp_clock, "alice", "op-2")
    b1 = _session(rp_clock, "bob", "op-3")
    for s in (a1, a2, b1):
        store.save(s)
    assert store.delete_matching("https://other.test", sid="op-1", sub=None) == 0
    assert store.delete_matching("https://id.test", sid="op-1", sub="bob") == 0
    assert store.delete_matching("https://id.test", sid=None, sub=None) == 0
    assert store.delete_matching("https://id.test", sid="op-1", sub=None) == 1
    assert store.load(a1.key) is None and store.load(a2.key) is not None
    assert store.delete_matching("https://id.test", sid=None, sub="alice") == 1
    assert store.load(a2.key) is None and store.load(b1.key) is not None


def test_pending_is_single_use(store: Any, rp_clock: FakeClock) -> None:
    store.put_pending("p1", {"state": "s"}, 60)
    assert store.take_pending("p1") == {"state": "s"}
    assert store.take_pending("p1") is None
    store.put_pending("p2", {"state": "s"}, 60)
    rp_clock.advance(61)
    assert store.take_pending("p2") is None


def test_claims(store: Any, rp_clock: FakeClock) -> None:
    until = rp_clock() + 120
    assert store.claim("jti|https://id.test|j1", until) is True
    assert store.claim("jti|https://id.test|j1", until) is False
    assert store.claim("jti|https://other.test|j1", until) is True
    store.release("jti|https://other.test|j1")
    assert store.claim("jti|https://other.test|j1", until) is True
    store.release("never-claimed")  # no error


def test_memory_store_is_bounded(rp_clock: FakeClock) -> None:
    store = MemorySessionStore(clock=rp_clock, max_entries=10)
    for i in range(30):
        store.save(_session(rp_clock, f"u{i}"))
        store.put_pending(f"p{i}", {}, 60)
        store.claim(f"j{i}", rp_clock() + 60)
    assert store._size() <= 10
