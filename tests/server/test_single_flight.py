"""When a cached table ages out under load (issue 12), the token endpoint's concurrent requests
share one read of it off the event loop (jwtkit.store._flight.SingleFlight) instead of each
taking the thread pool: a client record whose ``client_cache_seconds`` passed, the signing-key
table whose ``key_cache_seconds`` passed."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, update
from sqlalchemy.exc import OperationalError

from jwtkit.store._flight import SingleFlight
from jwtkit.store.schema import clients
from jwtkit.store.sql import SQLStore

from .support import Svc

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

CONCURRENT = 16


class Statements:
    """The statements an engine sends, with the name of the thread that sent each."""

    def __init__(self, store: SQLStore) -> None:
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self._lock:
            self.seen.append((threading.current_thread().name, " ".join(statement.split())))

    def reads_of(self, table: str) -> int:
        return sum(1 for _, s in self.seen if s.startswith("SELECT") and f"FROM {table}" in s)

    def rotations_in_the_thread_pool(self) -> int:
        """Successors inserted from a worker thread of the thread pool (the slow path)."""
        return sum(
            1
            for thread, s in self.seen
            if s.startswith("INSERT INTO refresh_tokens") and thread.startswith("AnyIO worker")
        )


async def _refresh_all(url: str, tokens: list[str]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CONCURRENT, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/token",
                    data={"grant_type": "refresh_token", "refresh_token": t, "client_id": "web"},
                )
                for t in tokens
            )
        )


@pytest.mark.parametrize(("table", "setting"), [("clients", "client"), ("signing_keys", "key")])
def test_requests_share_one_read_of_an_aged_table(
    make_svc: Any, backend: str, table: str, setting: str
) -> None:
    ages = {"client_cache_seconds": 30.0, "key_cache_seconds": 30.0}
    ages[f"{setting}_cache_seconds"] = 0.3
    s: Svc = make_svc(session_cap=0, **ages)
    s.add_user()
    s.add_client()
    tokens = [s.login()["refresh_token"] for _ in range(CONCURRENT)]
    first = asyncio.run(_refresh_all(s.url, tokens))  # the caches are warm now
    assert all(r.status_code == 200 for r in first)
    tokens = [r.json()["refresh_token"] for r in first]
    time.sleep(0.4)  # the table's cache time passes
    seen = Statements(s.store)
    answers = asyncio.run(_refresh_all(s.url, tokens))
    assert [r.status_code for r in answers] == [200] * CONCURRENT
    # One read for the moment it aged (two if a slow request saw it age again), and every
    # rotation still on the event loop's writer; before, each request of that moment went to
    # the thread pool (its own client check or key reload, and its rotation there).
    assert 1 <= seen.reads_of(table) <= 2, seen.seen
    assert seen.rotations_in_the_thread_pool() == 0, seen.seen


def test_single_flight_runs_once_per_key_and_shares_errors(tmp_path: Path, backend: str) -> None:
    flight = SingleFlight()
    calls: list[str] = []
    gate = threading.Event()

    def slow(key: str) -> str:
        calls.append(key)
        gate.wait(5)
        if key == "bad":
            raise ValueError("boom")
        return key.upper()

    async def main() -> list[Any]:
        waiting = [
            asyncio.ensure_future(flight.run(k, slow, k)) for k in ["a", "a", "a", "b", "bad"] * 2
        ]
        await asyncio.sleep(0.2)
        gate.set()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        again = await flight.run("a", slow, "a")  # the run ended: a new one
        return [*results, again]

    out = asyncio.run(main())
    assert sorted(calls) == ["a", "a", "b", "bad"]
    assert out[:3] == ["A", "A", "A"] and out[3] == "B"
    assert isinstance(out[4], ValueError) and isinstance(out[9], ValueError)
    assert out[-1] == "A"


def test_a_client_deleted_elsewhere_is_not_read_twice_per_request(
    make_svc: Any, backend: str
) -> None:
    """Another process deletes a cached client: once its cache time passes, the shared re-read
    finds no row and drops the entry, so later requests read it once (the thread-pool path's
    own read) rather than twice, for good."""
    s: Svc = make_svc(session_cap=0, client_cache_seconds=0.3)
    s.add_client("svc", secret="svc-secret", grants=("client_credentials",))
    data = {"grant_type": "client_credentials"}
    for _ in range(2):
        assert s.token(data, auth=("svc", "svc-secret")).status_code == 200
    with s.store.engine.begin() as conn:  # not through ClientStore: as another process would
        conn.execute(delete(clients).where(clients.c.client_id == "svc"))
    time.sleep(0.4)
    seen = Statements(s.store)
    for _ in range(5):
        assert s.token(data, auth=("svc", "svc-secret")).status_code == 401
    assert not s.store.clients.is_stale("svc")
    assert seen.reads_of("clients") <= 6, seen.seen  # 2 for the first request, then 1 each


def test_a_key_table_without_cache_time_is_read_once_per_request(
    make_svc: Any, backend: str
) -> None:
    """``key_cache_seconds=0``: the table is never fresh, so the token endpoint does not reload
    it on the loop's behalf as well (that reload would be followed by the thread-pool path's
    own)."""
    s: Svc = make_svc(session_cap=0, key_cache_seconds=0.0)
    s.add_client("svc", secret="svc-secret", grants=("client_credentials",))
    data = {"grant_type": "client_credentials"}
    for _ in range(3):
        assert s.token(data, auth=("svc", "svc-secret")).status_code == 200
    seen = Statements(s.store)
    for _ in range(10):
        assert s.token(data, auth=("svc", "svc-secret")).status_code == 200
    assert seen.reads_of("signing_keys") <= 20, seen.reads_of("signing_keys")


def test_a_secret_rotated_elsewhere_is_honoured_after_the_age(make_svc: Any, backend: str) -> None:
    s: Svc = make_svc(session_cap=0, client_cache_seconds=0.3)
    s.add_client("svc", secret="old-secret", grants=("client_credentials",))
    data = {"grant_type": "client_credentials"}
    for _ in range(3):
        assert s.token(data, auth=("svc", "old-secret")).status_code == 200
    new_hash = s.service.hasher.hash("new-secret")
    with s.store.engine.begin() as conn:  # as another process would
        conn.execute(
            update(clients).where(clients.c.client_id == "svc").values(secret_hash=new_hash)
        )
    time.sleep(0.4)
    assert s.token(data, auth=("svc", "old-secret")).status_code == 401
    assert s.token(data, auth=("svc", "new-secret")).status_code == 200
    for _ in range(3):
        assert s.token(data, auth=("svc", "old-secret")).status_code == 401


@pytest.mark.parametrize("what", ["client", "keys"])
def test_a_failed_reload_is_503(
    make_svc: Any, backend: str, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    s: Svc = make_svc(session_cap=0, **{f"{what.rstrip('s')}_cache_seconds": 0.3})
    s.add_client("svc", secret="svc-secret", grants=("client_credentials",))
    data = {"grant_type": "client_credentials"}
    for _ in range(2):
        assert s.token(data, auth=("svc", "svc-secret")).status_code == 200
    time.sleep(0.4)

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT", None, RuntimeError("database down"))

    if what == "client":
        monkeypatch.setattr(s.store.clients, "get", down)
    else:
        monkeypatch.setattr(s.store, "promote_keys", down)
    r = s.token(data, auth=("svc", "svc-secret"))
    assert r.status_code == 503, r.text


def test_keys_rotating_under_refresh_load_never_stall(make_svc: Any, backend: str) -> None:
    """Key table and client record aging every 50 ms and a key due to be promoted during 16
    refresh chains: every answer is 200 (the reload's write waits in its worker thread for the
    loop writer's lock; the loop writer never waits for it)."""
    s: Svc = make_svc(session_cap=0, key_cache_seconds=0.05, client_cache_seconds=0.05)
    s.add_user()
    s.add_client()
    tokens = [s.login()["refresh_token"] for _ in range(CONCURRENT)]
    s.service.keys.rotate(delay=1.0)
    statuses: list[int] = []

    async def chain(client: httpx.AsyncClient, token: str, until: float) -> None:
        while time.monotonic() < until:
            r = await client.post(
                "/token",
                data={"grant_type": "refresh_token", "refresh_token": token, "client_id": "web"},
            )
            statuses.append(r.status_code)
            if r.status_code != 200:
                return
            token = r.json()["refresh_token"]

    async def main() -> None:
        until = time.monotonic() + 2.5
        async with httpx.AsyncClient(base_url=s.url, timeout=20) as client:
            await asyncio.wait_for(asyncio.gather(*(chain(client, t, until) for t in tokens)), 30)

    asyncio.run(main())
    assert statuses and set(statuses) == {200}
    ec = [k for k in s.jwks()["keys"] if k["kty"] == "EC"]  # (the ID-token keys are RSA)
    assert len(ec) == 2  # the rotated-in key published beside the one it replaces


def test_single_flight_survives_its_first_caller_and_serves_each_loop_apart(
    tmp_path: Path, backend: str
) -> None:
    flight = SingleFlight()
    gate = threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    async def cancel_first() -> tuple[int, bool]:
        first = asyncio.ensure_future(flight.run("k", slow))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(flight.run("k", slow))
        await asyncio.sleep(0.05)
        first.cancel()
        await asyncio.sleep(0.05)
        gate.set()
        value = await second
        try:
            await first
        except asyncio.CancelledError:
            return value, True
        return value, False

    assert asyncio.run(cancel_first()) == (42, True)
    assert calls == [1] and flight._pending == {}

    out: list[list[int]] = []

    def on_its_own_loop(i: int) -> None:
        async def main() -> list[int]:
            return await asyncio.gather(*(flight.run("k", lambda: i) for _ in range(20)))

        out.append(asyncio.run(main()))

    threads = [threading.Thread(target=on_its_own_loop, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(o[0] for o in out) == list(range(8))  # each loop had its own run
    assert all(len(set(o)) == 1 for o in out) and flight._pending == {}
