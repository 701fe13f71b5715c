"""OpenID Connect provider latency: one full authorization code flow on loopback.

Starts the service in-process (uvicorn on a free 127.0.0.1 port, SQLite in a temporary dir),
registers a first-party public client and a user, then times ``--flows`` flows of each kind,
sequentially (bounded in count):

* ``login``: GET /authorize -> login page -> POST /login (argon2id check) -> 303 with code ->
  POST /token (code + PKCE verifier) -> tokens with an ID token;
* ``sso``: the same browser again (OP session cookie): GET /authorize -> 303 with code ->
  POST /token.

Not a test: it prints milliseconds. Usage::

    .venv/bin/python bench/oidc.py [--flows 30] [--fast-hash]

``--fast-hash`` uses cheap argon2id parameters (t=1, 8 MiB) to show the flow's own cost; the
default uses the service defaults (t=3, 64 MiB, 4 lanes), what a deployment pays per login.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn

from jwtkit.server import Settings, build_services, create_app
from jwtkit.server.admin import AdminService

REDIRECT = "http://127.0.0.1/bench/callback"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _flow(http: httpx.Client, url: str, cookies: dict[str, str]) -> float:
    """One flow; returns seconds. ``cookies`` is the browser's jar (updated)."""
    verifier, challenge = _pkce()
    params = {
        "response_type": "code",
        "client_id": "bench",
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "s",
        "nonce": "n",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    start = time.perf_counter()

    def send(method: str, path: str, **kw: Any) -> httpx.Response:
        jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
        r = http.request(method, url + path, headers={"cookie": jar} if jar else {}, **kw)
        for raw in r.headers.get_list("set-cookie"):
            name, _, rest = raw.partition("=")
            cookies[name] = rest.split(";", 1)[0]
        return r

    r = send("GET", "/authorize", params=params)
    if r.status_code == 200:  # the login page
        fields = dict(re.findall(r'name="(interaction|csrf)" value="([^"]*)"', r.text))
        r = send("POST", "/login", data={**fields, "username": "bench", "password": "bench-pass"})
    assert r.status_code == 303, r.text
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    t = send(
        "POST",
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": "bench",
        },
    )
    assert t.status_code == 200 and "id_token" in t.json(), t.text
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=30)
    parser.add_argument("--fast-hash", action="store_true")
    args = parser.parse_args()
    flows = max(1, min(args.flows, 1000))
    with tempfile.TemporaryDirectory() as tmp:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        extra: dict[str, Any] = {}
        if args.fast_hash:
            extra = {"password_time_cost": 1, "password_memory_kib": 8, "password_parallelism": 1}
        settings = Settings(
            data_dir=Path(tmp), port=port, login_max_failures_per_user=1000, **extra
        )
        services = build_services(settings)
        admin = AdminService.from_services(services, actor="bench")
        admin.add_user("bench", "bench-pass")
        admin.add_client(
            "bench",
            secret=None,
            grant_types=["authorization_code", "refresh_token"],
            scope=["openid", "profile"],
        )
        admin.register_client("bench", redirect_uris=[REDIRECT], first_party=True)
        server = uvicorn.Server(uvicorn.Config(create_app(services=services), log_level="error"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(timeout=30) as http:
            _flow(http, url, {})  # warm-up
            login = [_flow(http, url, {}) for _ in range(flows)]
            jar: dict[str, str] = {}
            _flow(http, url, jar)
            sso = [_flow(http, url, jar) for _ in range(flows)]
        server.should_exit = True
        thread.join(10)
    hashing = "t=1, 8 MiB" if args.fast_hash else "service defaults t=3, 64 MiB, 4 lanes"
    print(f"authorization code flow on loopback, {flows} flows each, argon2id {hashing}")
    for name, times in (
        ("login (authorize -> login form -> token)", login),
        ("sso (authorize -> token)", sso),
    ):
        ms = sorted(t * 1000 for t in times)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        print(f"  {name:42s} median {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
