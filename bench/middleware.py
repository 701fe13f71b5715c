"""Requests/s of a bearer-protected endpoint against the same endpoint unprotected, in one run.

Not a test. Starts one uvicorn process (one worker, 127.0.0.1, free port) serving a Starlette
app with two identical JSON endpoints: ``/open`` and ``/protected``, the latter behind
:class:`jwtkit.middleware.asgi.BearerAuthMiddleware` (ES256 access token, keys from a
:class:`jwtkit.jwks_client.JWKSClient`, a denylist with 10,000 entries). The load generator
runs in this process: a bounded number of keep-alive connections sending a bounded number of
requests, either with a minimal asyncio HTTP/1.1 client (default; cheap, so the server is the
bottleneck), with httpx, or with ``wrk`` when installed. Phases alternate open/protected to
cancel drift. Prints requests/s and the median per-round ratio protected/open (issue 12's
targets: >= 0.90 with the verified-token cache, the default, and >= 0.60 with ``--cache-size 0``,
a full ES256 verification per request), and the server's CPU time per request, the steadier
measure on a shared machine.

``--dpop``: ``/open`` is the Bearer-protected endpoint and ``/protected`` the same endpoint
under DPoP (RFC 9449 §7: ``Authorization: DPoP`` + a fresh proof per request, pre-signed by the
load generator, the memory replay cache): the ratio is DPoP / Bearer (raw client only).

    .venv/bin/python bench/middleware.py [--client raw|httpx|wrk] [--seconds 3] [--rounds 3]
    .venv/bin/python bench/middleware.py --dpop
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ISSUER = "https://issuer.bench"
AUDIENCE = "https://api.bench"


# -- server side (runs in the child process) ---------------------------------------------------


def serve(port: int, jwks: str, cache_size: int, dpop: bool = False) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from jwtkit.jwks_client import JWKSClient
    from jwtkit.middleware import BearerGuard, DPoPPolicy, access_token_verifier
    from jwtkit.middleware.asgi import BearerAuthMiddleware
    from jwtkit.revocation import Denylist

    body = jwks.encode()

    class JWKS(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=300")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    jwks_server = ThreadingHTTPServer(("127.0.0.1", 0), JWKS)
    threading.Thread(target=jwks_server.serve_forever, daemon=True).start()
    client = JWKSClient(f"http://127.0.0.1:{jwks_server.server_port}/jwks")
    client.get_keyset()  # warm the cache, as a running service would have it

    denylist = Denylist()
    for i in range(10_000):
        denylist.add_jti(f"revoked-{i}", time.time() + 3600)
    verifier = access_token_verifier(client, issuer=ISSUER, audience=AUDIENCE, algorithms=["ES256"])
    policy = DPoPPolicy() if dpop else None
    guard = BearerGuard(verifier, denylist=denylist, cache_size=cache_size, dpop=policy)

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    protected = Starlette(routes=[Route("/protected/", hello)])
    protected.add_middleware(BearerAuthMiddleware, guard=guard)
    open_app = Starlette(routes=[Route("/open/", hello)])
    if dpop:  # the baseline is the same endpoint under Bearer
        bearer = BearerGuard(verifier, denylist=denylist, cache_size=cache_size)
        open_app.add_middleware(BearerAuthMiddleware, guard=bearer)
    # The same routing for both: one dict lookup picks the app, whose router matches its only
    # route. (A router with a Mount of each tried /open first: /protected paid a failed match,
    # ~1.5 us of server CPU, which is not the middleware's.)
    apps = {"/open/": open_app, "/protected/": protected}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await apps[scope["path"]](scope, receive, send)

    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off"
    )


# -- load generators ---------------------------------------------------------------------------


async def _raw_worker(
    port: int, request: bytes | list[bytes], deadline: float, limit: int
) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = errors = 0
    if isinstance(request, list):  # one request each (DPoP proofs are single-use)
        limit = min(limit, len(request))
    try:
        while done + errors < limit and time.perf_counter() < deadline:
            writer.write(request[done + errors] if isinstance(request, list) else request)
            head = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length: *(\d+)", head)
            if match:
                await reader.readexactly(int(match.group(1)))
            if head.startswith(b"HTTP/1.1 200"):
                done += 1
            else:
                errors += 1
    finally:
        writer.close()
    return done, errors


async def _httpx_worker(
    url: str, headers: dict[str, str], deadline: float, limit: int, client: Any
) -> tuple[int, int]:
    done = errors = 0
    while done + errors < limit and time.perf_counter() < deadline:
        r = await client.get(url, headers=headers)
        if r.status_code == 200:
            done += 1
        else:
            errors += 1
    return done, errors


async def _phase(
    kind: str,
    port: int,
    path: str,
    token: str | None,
    seconds: float,
    connections: int,
    limit: int,
    proofs: list[list[str]] | None = None,
) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if kind == "raw" and proofs is not None:  # DPoP: a pre-signed proof per request
        base = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: DPoP {token}\r\n"
        pools = [[f"{base}DPoP: {p}\r\n\r\n".encode() for p in conn] for conn in proofs]
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        results = await asyncio.gather(
            *(_raw_worker(port, pool, deadline, limit) for pool in pools)
        )
        elapsed = time.perf_counter() - start
        return sum(r[0] for r in results) / elapsed, sum(r[1] for r in results)
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    if kind == "raw":
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
        results = await asyncio.gather(
            *(_raw_worker(port, request, deadline, limit) for _ in range(connections))
        )
    else:
        import httpx

        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits) as client:
            url = f"http://127.0.0.1:{port}{path}"
            results = await asyncio.gather(
                *(_httpx_worker(url, headers, deadline, limit, client) for _ in range(connections))
            )
    elapsed = time.perf_counter() - start
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    return ok / elapsed, errors


def _wrk_phase(
    port: int, path: str, token: str | None, seconds: float, connections: int
) -> tuple[float, int]:
    wrk = shutil.which("wrk")
    assert wrk
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, int(seconds))}s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}{path}"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s*([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    return float(match.group(1)) if match else 0.0, int(non2xx.group(1)) if non2xx else 0


def _cpu_seconds(pid: int) -> float:
    """User+system CPU seconds used so far by process ``pid`` (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=["raw", "httpx", "wrk"], default="raw")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=5, help="open/protected phase pairs")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="cap on requests per connection per phase"
    )
    parser.add_argument(
        "--cache-size",
        type=int,
        default=1024,
        help="BearerGuard verified-token cache size (default 1024; 0: no cache)",
    )
    parser.add_argument(
        "--no-token-on-open",
        dest="open_with_token",
        action="store_false",
        help="send no Authorization header to /open (default: the same request bytes to both, "
        "so that only the verification differs)",
    )
    parser.add_argument(
        "--dpop",
        action="store_true",
        help="compare the endpoint under DPoP (fresh proof per request) with it under Bearer",
    )
    parser.add_argument(
        "--proofs", type=int, default=400, help="--dpop: pre-signed proofs per connection per phase"
    )
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "JWKS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], args.cache_size, args.dpop)
        return
    if args.dpop and args.client != "raw":
        sys.exit("--dpop needs the raw client")
    if args.client == "wrk" and not shutil.which("wrk"):
        sys.exit("wrk is not installed")

    import jwtkit
    from jwtkit.jwk import Key, KeySet

    key = Key.generate("EC", crv="P-256", alg="ES256")
    now = int(time.time())
    token = jwtkit.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "bench",
            "iat": now,
            "exp": now + 3600,
            "jti": "bench-token",
            "sid": "bench-session",
            "scope": "read write",
            "client_id": "bench",
        },
        key,
        headers={"typ": "at+jwt"},
    )
    jwks = json.dumps(KeySet([key.public()]).to_jwks())
    client_key = Key.generate("EC", crv="P-256")
    bound = jwtkit.encode(
        {
            **jwtkit.decode(token, key.public(), algorithms=["ES256"], audience=AUDIENCE),
            "cnf": {"jkt": client_key.thumbprint()},
        },
        key,
        headers={"typ": "at+jwt"},
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            jwks,
            "--cache-size",
            str(args.cache_size),
            *(["--dpop"] if args.dpop else []),
        ],
        env=env,
    )
    try:
        for _ in range(200):  # wait up to 20 s for the port
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("server did not start")
        rates: dict[str, list[float]] = {"open": [], "protected": []}
        cpu_per_request: dict[str, list[float]] = {"open": [], "protected": []}
        for round_no in range(args.rounds + 1):  # round 0 is a warm-up, not counted
            open_token = token if args.open_with_token else None
            phases = (("open", "/open/", open_token), ("protected", "/protected/", token))
            for name, path, phase_token in phases:
                tok = phase_token
                proofs = None
                if args.dpop and name == "protected":
                    from jwtkit.dpop import make_proof

                    tok = bound
                    url = f"http://127.0.0.1:{port}{path}"
                    proofs = [
                        [
                            make_proof(client_key, "GET", url, access_token=bound)
                            for _ in range(args.proofs)
                        ]
                        for _ in range(args.connections)
                    ]
                cpu_before, t_before = _cpu_seconds(server.pid), time.perf_counter()
                if args.client == "wrk":
                    rps, errors = _wrk_phase(port, path, tok, args.seconds, args.connections)
                else:
                    rps, errors = asyncio.run(
                        _phase(
                            args.client,
                            port,
                            path,
                            tok,
                            args.seconds if round_no else 1.0,
                            args.connections,
                            args.max_requests,
                            proofs,
                        )
                    )
                cpu = _cpu_seconds(server.pid) - cpu_before
                served = rps * (time.perf_counter() - t_before)
                if errors:
                    sys.exit(f"{errors} non-200 responses on {path}")
                if round_no:
                    rates[name].append(rps)
                    cpu_per_request[name].append(cpu / served * 1e6 if served else 0.0)
                    print(
                        f"round {round_no} {name:9s} {rps:9.0f} req/s "
                        f"{cpu_per_request[name][-1]:7.1f} us server CPU/request"
                    )
        open_rps = statistics.median(rates["open"])
        prot_rps = statistics.median(rates["protected"])
        ratios = [p / o for o, p in zip(rates["open"], rates["protected"], strict=True)]
        ratio = statistics.median(ratios)
        print(
            f"client={args.client} connections={args.connections} cache_size={args.cache_size} "
            f"rounds={args.rounds} token_on_open={args.open_with_token} "
            f"python={sys.version.split()[0]}"
        )
        if args.dpop:
            print(
                "--dpop: 'unprotected' below is the endpoint under Bearer, 'protected' under DPoP"
            )
        print(f"unprotected {open_rps:9.0f} req/s (median)")
        print(f"protected   {prot_rps:9.0f} req/s (median; ES256, JWKSClient, 10k-entry denylist)")
        target = "" if args.dpop else "; target >= " + ("90%" if args.cache_size else "60%")
        print(f"ratio       {ratio:9.2%}  (median of per-round ratios{target})")
        cpu_open = statistics.median(cpu_per_request["open"])
        cpu_prot = statistics.median(cpu_per_request["protected"])
        if cpu_open and cpu_prot:
            print(
                f"server CPU  {cpu_open:7.1f} us/request unprotected, {cpu_prot:7.1f} us/request "
                f"protected: capacity ratio {cpu_open / cpu_prot:.2%} (less sensitive to other "
                "load on the machine)"
            )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
