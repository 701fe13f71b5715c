"""Token-service throughput beside node-oidc-provider: one run, alternating rounds, one load
generator (issue 12).

Starts node-oidc-provider 9 (``tests/verifiers/node/provider.mjs``, installed from the interop
tests' lock file with ``npm ci``) and ``jwtkit serve`` on free 127.0.0.1 ports, then for each of
``--rounds`` rounds drives every row against jwtkit (A) and the peer (B), A B A B, with the same
Node load generator (``tests/verifiers/node/loadgen.mjs``: keep-alive, ``--concurrency`` in
flight, at most ``--requests`` requests and ``--seconds`` seconds per measurement, each
connection opened by one untimed request before the clock starts). Prints each round and then
the medians: req/s, p50, p99 and the ratio jwtkit / peer.

Rows: ``client_credentials`` (ES256 JWT access tokens on both sides); ``refresh_token`` on
SQLite and on PostgreSQL (jwtkit persists every rotation; the peer's in-memory adapter persists
nothing, so its row is its client_credentials figure); the JWK Set fetch; ``password`` logins/s
(argon2id at the service defaults); and, with Redis, ``client_credentials`` on
``jwtkit serve --workers 2`` as a second row (the headline is single-process).

Not a test: it prints numbers. Usage::

    .venv/bin/python bench/service.py [--rounds 3] [--requests 3000] [--seconds 15]
        [--concurrency 16] [--no-postgres] [--no-workers]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

BIN = Path(sys.executable).parent
NODE_DIR = Path(__file__).resolve().parent.parent / "tests" / "verifiers" / "node"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise SystemExit("node is required for the service bench")
    if not (NODE_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=300,
        )
    return found


def load(job: dict[str, Any]) -> dict[str, Any]:
    """Run the Node load generator once; returns its JSON result (dict)."""
    out = subprocess.run(
        [node(), "loadgen.mjs", json.dumps(job)],
        cwd=NODE_DIR,
        check=True,
        capture_output=True,
        text=True,
        timeout=job["seconds"] + 120,
    )
    return dict(json.loads(out.stdout))


@contextmanager
def peer() -> Iterator[dict[str, Any]]:
    """node-oidc-provider on a free port: yields {issuer, token, jwks, body}."""
    proc = subprocess.Popen(
        [node(), "provider.mjs"],
        cwd=NODE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        issuer = info["issuer"]
        meta = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        body = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": "client-es256",
                "client_secret": "secret-client-es256",
                "scope": "read",
            }
        )
        yield {
            "issuer": issuer,
            "token": meta["token_endpoint"],
            "jwks": meta["jwks_uri"],
            "body": body,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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


@contextmanager
def jwtkit_serve(
    tmp: Path, database_url: str | None = None, workers: int = 1
) -> Iterator[dict[str, Any]]:
    """``jwtkit serve`` with a user and two clients: yields {url, env, body, secret}."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTKIT_")}
    env["JWTKIT_DATA_DIR"] = str(tmp / f"data-{uuid.uuid4().hex[:6]}")
    env["JWTKIT_SESSION_CAP"] = "0"  # one user logs in many times here
    env["JWTKIT_LOG_LEVEL"] = "warning"
    if database_url:
        env["JWTKIT_DATABASE_URL"] = database_url
    if workers > 1:
        env["JWTKIT_REDIS_URL"] = REDIS_URL
        env["JWTKIT_REDIS_PREFIX"] = f"bench-{uuid.uuid4().hex[:8]}"
        env["JWTKIT_REVOCATION_PREFIX"] = env["JWTKIT_REDIS_PREFIX"] + ":rev"
    secret = secrets.token_urlsafe(32)
    cli(env, "users", "add", "bench", "--password-stdin", stdin="bench-password\n")
    cli(env, "clients", "add", "web", "--public", "--grant", "password", "--grant", "refresh_token")
    cli(
        env,
        "clients",
        "add",
        "svc",
        "--secret-stdin",
        "--grant",
        "client_credentials",
        stdin=secret + "\n",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "jwtkit"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("jwtkit serve did not start")
            time.sleep(0.05)
        body = urlencode(
            {"grant_type": "client_credentials", "client_id": "svc", "client_secret": secret}
        )
        yield {"url": url, "env": env, "body": body}
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def logins(url: str, n: int) -> list[str]:
    """``n`` password logins (not timed); returns their refresh tokens."""
    form = {
        "grant_type": "password",
        "username": "bench",
        "password": "bench-password",
        "client_id": "web",
    }
    with httpx.Client(base_url=url, timeout=60) as client:
        return [client.post("/token", data=form).json()["refresh_token"] for _ in range(n)]


def post_job(url: str, body: str, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "url": url,
        "method": "POST",
        "headers": FORM,
        "body": body,
        "requests": args.requests,
        "seconds": args.seconds,
        "concurrency": args.concurrency,
    }


def get_job(url: str, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "url": url,
        "method": "GET",
        "headers": {},
        "requests": args.requests,
        "seconds": args.seconds,
        "concurrency": args.concurrency,
    }


def refresh_job(url: str, args: argparse.Namespace) -> dict[str, Any]:
    job = post_job(f"{url}/token", "", args)
    job["refresh"] = logins(url, args.concurrency)
    job["refreshBody"] = "grant_type=refresh_token&client_id=web&refresh_token=REFRESH"
    return job


def pg_database(stack: ExitStack) -> str | None:
    try:
        import psycopg
    except ImportError:
        return None
    name = f"jwtkit_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error:
        return None

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    stack.callback(drop)
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def fmt(result: dict[str, Any] | None) -> str:
    if result is None:
        return f"{'-':>9}{'-':>8}{'-':>8}"
    return f"{result['per_second']:>9.0f}{result['p50_ms']:>8.1f}{result['p99_ms']:>8.1f}"


def median(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        k: statistics.median(r[k] for r in results)
        for k in ("per_second", "p50_ms", "p99_ms", "errors")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000, help="max requests per measurement")
    parser.add_argument("--seconds", type=float, default=15.0, help="max seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--logins", type=int, default=200, help="max password logins per round")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-workers", action="store_true")
    args = parser.parse_args()
    if not (1 <= args.rounds <= 10 and args.requests >= 1 and args.seconds > 0):
        parser.error("bounds: rounds 1..10, requests >= 1, seconds > 0")
    if not 1 <= args.concurrency <= 256:
        parser.error("concurrency must be 1..256")

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        b = stack.enter_context(peer())
        a = stack.enter_context(jwtkit_serve(tmp))
        pg_url = None if args.no_postgres else pg_database(stack)
        a_pg = stack.enter_context(jwtkit_serve(tmp, pg_url)) if pg_url else None
        a_workers = None if args.no_workers else stack.enter_context(jwtkit_serve(tmp, workers=2))
        # Rows: (name, job for jwtkit, job for the peer); jobs are built per round.
        rows: list[tuple[str, Any, Any]] = [
            (
                "client_credentials",
                lambda: post_job(f"{a['url']}/token", a["body"], args),
                lambda: post_job(b["token"], b["body"], args),
            ),
            (
                "refresh_token sqlite",
                lambda: refresh_job(a["url"], args),
                lambda: post_job(b["token"], b["body"], args),
            ),
        ]
        if a_pg is not None:
            rows.append(
                (
                    "refresh_token postgresql",
                    lambda: refresh_job(a_pg["url"], args),
                    lambda: post_job(b["token"], b["body"], args),
                )
            )
        rows.append(
            (
                "JWK Set",
                lambda: get_job(f"{a['url']}/.well-known/jwks.json", args),
                lambda: get_job(b["jwks"], args),
            )
        )
        rows.append(
            (
                "password (logins/s)",
                lambda: {
                    **post_job(
                        f"{a['url']}/token",
                        "grant_type=password&username=bench&password=bench-password&client_id=web",
                        args,
                    ),
                    "requests": args.logins,
                },
                None,
            )
        )
        if a_workers is not None:
            rows.append(
                (
                    "client_credentials --workers 2",
                    lambda: post_job(f"{a_workers['url']}/token", a_workers["body"], args),
                    lambda: post_job(b["token"], b["body"], args),
                )
            )
        # Warm both servers up (JIT, caches, pools); not reported.
        warm = argparse.Namespace(**{**vars(args), "requests": 300, "seconds": 5.0})
        for target in (a, a_pg, a_workers):
            if target is not None:
                load(post_job(f"{target['url']}/token", target["body"], warm))
        load(post_job(b["token"], b["body"], warm))

        print(
            f"jwtkit serve vs node-oidc-provider 9 (in-memory adapter: it persists nothing), "
            f"{os.cpu_count()} CPUs, one Node load generator, keep-alive, {args.concurrency} in "
            f"flight, <= {args.requests} requests / {args.seconds:g} s per measurement"
        )
        results: dict[str, dict[str, list[dict[str, Any]]]] = {
            n: {"a": [], "b": []} for n, *_ in rows
        }
        head = f"{'row':<32}{'A req/s':>9}{'p50':>8}{'p99':>8}{'B req/s':>9}{'p50':>8}{'p99':>8}"
        for rnd in range(1, args.rounds + 1):
            print(f"\nround {rnd} (A = jwtkit, B = node-oidc-provider; ms)\n{head}")
            for name, job_a, job_b in rows:
                ra = load(job_a())
                rb = load(job_b()) if job_b is not None else None
                results[name]["a"].append(ra)
                if rb is not None:
                    results[name]["b"].append(rb)
                errs = ra["errors"] + (rb["errors"] if rb else 0)
                note = f"  errors {errs}" if errs else ""
                print(f"{name:<32}{fmt(ra)}{fmt(rb)}{note}", flush=True)
        print(f"\nmedian of {args.rounds} rounds\n{head}{'ratio':>8}")
        for name, *_ in rows:
            ma = median(results[name]["a"])
            mb = median(results[name]["b"]) if results[name]["b"] else None
            ratio = f"{ma['per_second'] / mb['per_second']:>7.2f}x" if mb else f"{'':>8}"
            print(f"{name:<32}{fmt(ma)}{fmt(mb)}{ratio}")
        print(
            "\nrefresh_token rows: the peer column is its client_credentials run (its in-memory "
            "store persists nothing); target >= 0.8x. client_credentials target >= 1.0x, p99 no "
            "worse than the peer's."
        )


if __name__ == "__main__":
    main()
