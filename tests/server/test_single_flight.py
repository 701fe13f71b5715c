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
from sqlalchemy import event

from jwtkit.store._flight import SingleFlight
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
