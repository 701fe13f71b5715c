"""Token-service throughput: password, refresh_token and client_credentials grants per second.

Starts the real ``jwtkit serve`` process on a free 127.0.0.1 port with a temporary data dir
(SQLite, or PostgreSQL with ``--database-url``), creates a user and two clients with the admin
CLI, then drives each grant with a bounded loopback load generator (httpx.AsyncClient: at most
``--requests`` requests and ``--seconds`` seconds per grant, ``--concurrency`` in flight).

Not a test: it prints numbers. Usage::

    .venv/bin/python bench/service.py [--requests 2000] [--seconds 15] [--concurrency 16]
        [--database-url postgresql+psycopg://postgres@127.0.0.1/bench] [--fast-hash]

``--fast-hash`` uses cheap argon2id parameters (t=1, 8 MiB) to show the service's own cost
without password hashing; the default uses the service defaults (t=3, 64 MiB, 4 lanes), which is
what a deployment pays per password login and per confidential-client authentication.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    subprocess.run(
        [str(BIN / "jwtkit"), *args],
        env=env,
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )


async def drive(
    url: str,
    name: str,
    make_request: Any,
    *,
    requests: int,
    seconds: float,
    concurrency: int,
    setup: Any = None,
) -> dict[str, Any]:
    """Run ``make_request(client, state)`` from ``concurrency`` workers, bounded in count and
    time; returns counts, rate and latency percentiles."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal errors, issued
            state: dict[str, Any] = {}
            if setup is not None:  # not measured (e.g. the login before a refresh chain)
                await setup(client, state)
            while issued < requests and time.perf_counter() < deadline:
                issued += 1
                start = time.perf_counter()
                ok = await make_request(client, state)
                latencies.append(time.perf_counter() - start)
                if not ok:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    done = len(latencies)
    return {
        "grant": name,
        "requests": done,
        "errors": errors,
        "seconds": elapsed,
        "per_second": (done - errors) / elapsed if elapsed else 0.0,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
        "p99_ms": 1000 * latencies[min(done - 1, int(done * 0.99))] if latencies else 0.0,
    }


PASSWORD = {
    "grant_type": "password",
    "username": "bench",
    "password": "bench-password",
    "client_id": "web",
}


async def password_grant(client: httpx.AsyncClient, state: dict[str, Any]) -> bool:
    r = await client.post("/token", data=PASSWORD)
    return r.status_code == 200


async def login(client: httpx.AsyncClient, state: dict[str, Any]) -> None:
    r = await client.post("/token", data=PASSWORD)
    state["refresh"] = r.json()["refresh_token"]


async def refresh_grant(client: httpx.AsyncClient, state: dict[str, Any]) -> bool:
    if "refresh" not in state:
        await login(client, state)
    r = await client.post(
        "/token",
        data={"grant_type": "refresh_token", "client_id": "web", "refresh_token": state["refresh"]},
    )
    if r.status_code != 200:
        state.pop("refresh", None)
        return False
    state["refresh"] = r.json()["refresh_token"]
    return True


async def client_credentials_grant(client: httpx.AsyncClient, state: dict[str, Any]) -> bool:
    r = await client.post(
        "/token", data={"grant_type": "client_credentials"}, auth=("svc", "svc-secret")
    )
    return r.status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="max requests per grant")
    parser.add_argument("--seconds", type=float, default=15.0, help="max seconds per grant")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--fast-hash", action="store_true", help="cheap argon2id parameters")
    args = parser.parse_args()
    if args.requests < 1 or args.seconds <= 0 or not 1 <= args.concurrency <= 256:
        parser.error("bounds must be positive (concurrency 1..256)")

    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JWTKIT_")}
        env["JWTKIT_DATA_DIR"] = str(Path(tmp) / "data")
        env["JWTKIT_SESSION_CAP"] = "0"  # one user logs in thousands of times here
        env["JWTKIT_LOG_LEVEL"] = "warning"
        if args.database_url:
            env["JWTKIT_DATABASE_URL"] = args.database_url
        if args.fast_hash:
            env.update(
                JWTKIT_PASSWORD_TIME_COST="1",
                JWTKIT_PASSWORD_MEMORY_KIB="8",
                JWTKIT_PASSWORD_PARALLELISM="1",
            )
        cli(env, "users", "add", "bench", "--password-stdin", stdin="bench-password\n")
        cli(env, "clients", "add", "web", "--public")
        cli(
            env,
            "clients",
            "add",
            "svc",
            "--secret-stdin",
            "--grant",
            "client_credentials",
            stdin="svc-secret\n",
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(BIN / "jwtkit"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.05)
            db = "postgresql" if args.database_url else "sqlite"
            hashing = (
                "fast argon2id (t=1, 8 MiB)"
                if args.fast_hash
                else "default argon2id (t=3, 64 MiB, p=4)"
            )
            print(
                f"jwtkit token service on {db}, {hashing}, concurrency {args.concurrency}, "
                f"<= {args.requests} requests / {args.seconds:g} s per grant, {os.cpu_count()} CPUs"
            )
            print(
                f"{'grant':<20}{'requests':>9}{'errors':>8}{'per s':>10}{'p50 ms':>9}{'p99 ms':>9}"
            )
            for name, fn, setup in (
                ("password", password_grant, None),
                ("refresh_token", refresh_grant, login),
                ("client_credentials", client_credentials_grant, None),
            ):
                result = asyncio.run(
                    drive(
                        url,
                        name,
                        fn,
                        requests=args.requests,
                        seconds=args.seconds,
                        concurrency=args.concurrency,
                        setup=setup,
                    )
                )
                print(
                    f"{result['grant']:<20}{result['requests']:>9}{result['errors']:>8}"
                    f"{result['per_second']:>10.1f}{result['p50_ms']:>9.1f}{result['p99_ms']:>9.1f}"
                )
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()
