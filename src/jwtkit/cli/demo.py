"""``jwtkit demo``: the token service, an API gateway and two services, walked through a script.

Everything runs on loopback ports chosen by the OS:

* the token service: ``jwtkit serve`` in a subprocess, with its SQLite database in a temporary
  directory; it serves its HTTP revocation feed and, when Redis is given, also relays
  revocations to Redis under a prefix unique to this run;
* an API gateway (Starlette + :class:`~jwtkit.middleware.asgi.BearerAuthMiddleware`) that
  verifies the access token and forwards ``/a/...`` to service A with the same token;
* service A (FastAPI, :class:`~jwtkit.middleware.asgi.BearerAuth` dependencies) which calls
  service B forwarding the token;
* service B (Flask, :class:`~jwtkit.middleware.wsgi.FlaskBearerAuth`).

Each verifier finds the service's keys through its metadata (RFC 8414) and JWK Set, and keeps a
revocation denylist in sync with the service's revocation feed (and Redis when given): the walk
is the same with and without Redis. The walk: sign in on the login page (authorization code +
PKCE; the legacy password grant is off for the demo client), call A through the gateway, A calls
B, a missing scope is refused (403), log out, and every service refuses the token within a second;
then an admin revocation from the CLI, run in a shell with no Redis setting, is refused by every
service within a second too.
The command stops by itself (every wait is bounded) and exits 0 when every step went as expected.

The building blocks (:class:`TokenServiceProcess`, the app factories) are reused by the tests.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html as htmllib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, urlsplit

import typer

if TYPE_CHECKING:
    import httpx

__all__ = [
    "TokenServiceProcess",
    "free_port",
    "gateway_app",
    "register",
    "service_a_app",
    "service_b_app",
]

AUDIENCE = "https://api.demo"
USER, PASSWORD = "alice", "correct horse battery staple"
CLIENT_ID, CLIENT_SECRET = "demo-web", secrets.token_urlsafe(32)  # one per run
REDIRECT_URI = "http://127.0.0.1/demo/callback"  # loopback: any port matches (RFC 8252 §7.3)


def free_port() -> int:
    """Return a TCP port that was free on 127.0.0.1 a moment ago (int)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class TokenServiceProcess:
    """Runs ``jwtkit serve`` as a subprocess, plus the admin CLI against the same database.

    Args:
        data_dir: directory for the SQLite database and the service log.
        redis_url: Redis URL for revocation mirroring (None: no Redis).
        prefix: revocation key prefix (``JWTKIT_REVOCATION_PREFIX``).
        env: extra ``JWTKIT_*`` settings (str values).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        redis_url: str | None,
        prefix: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "JWTKIT_DATA_DIR": str(self.data_dir),
            "JWTKIT_REVOCATION_PREFIX": prefix,
            "JWTKIT_ISSUER": self.url,
            **(env or {}),
        }
        if redis_url:
            self.env["JWTKIT_REDIS_URL"] = redis_url
        else:
            self.env.pop("JWTKIT_REDIS_URL", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "service.log"

    def _argv(self, *args: str) -> list[str]:
        return [sys.executable, "-c", "from jwtkit.cli import main; main()", *args]

    def clean_env(self) -> dict[str, str]:
        """The environment of an admin shell that knows only where the database is: no Redis
        setting, nothing else of the service's (dict of str)."""
        keep = ("PATH", "HOME", "LANG", "SYSTEMROOT", "TMPDIR")
        env = {k: v for k, v in os.environ.items() if k in keep}
        for name in ("JWTKIT_DATA_DIR", "JWTKIT_DATABASE_URL"):
            if name in self.env:
                env[name] = self.env[name]
        return env

    def cli(
        self,
        *args: str,
        stdin: str | None = None,
        timeout: float = 60,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run a ``jwtkit`` command with the service's settings (or with ``env``, e.g.
        :meth:`clean_env`); returns its stdout (str).

        Raises:
            subprocess.CalledProcessError: the command failed (its stderr is in the error).
        """
        done = subprocess.run(
            self._argv(*args),
            input=stdin.encode() if stdin is not None else None,
            env=self.env if env is None else env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise subprocess.CalledProcessError(
                done.returncode, args, done.stdout, done.stderr.decode(errors="replace")
            )
        return done.stdout.decode(errors="replace")

    def start(self, timeout: float = 30) -> None:
        """Start ``jwtkit serve`` and wait (bounded) until ``/healthz`` answers.

        Raises:
            RuntimeError: it exited or did not answer within ``timeout`` seconds.
        """
        import httpx

        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self._argv("serve", "--host", "127.0.0.1", "--port", str(self.port)),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jwtkit serve exited: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"jwtkit serve did not start in {timeout} s: {self.log_tail()}")

    def stop(self, timeout: float = 15) -> None:
        """Stop the service (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the service log (str)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# -- the apps --------------------------------------------------------------------------------


def _guard(issuer: str, *, refetch_cooldown: float = 10.0) -> Any:
    from jwtkit.jwks_client import JWKSClient
    from jwtkit.middleware import BearerGuard, access_token_verifier
    from jwtkit.revocation import Denylist

    verifier = access_token_verifier(
        JWKSClient.from_issuer(issuer, refetch_cooldown=refetch_cooldown),
        issuer=issuer,
        audience=AUDIENCE,
        algorithms=["ES256", "RS256", "PS256", "EdDSA"],
        leeway=5,
    )
    return BearerGuard(verifier, denylist=Denylist(), realm="jwtkit-demo")


_FEED_CLIENT = "demo-rs"


def _listeners(
    guard: Any, issuer: str, feed_secret: str, redis_url: str | None, prefix: str
) -> Any:
    """The asyncio listeners of one ASGI verifier: the service's HTTP revocation feed, plus Redis
    pub/sub when configured (both fill the same denylist)."""
    from jwtkit.middleware.listener import AsyncFeedRevocationListener, AsyncRevocationListener

    out: list[Any] = [
        AsyncFeedRevocationListener(
            guard.denylist, issuer=issuer, client_id=_FEED_CLIENT, client_secret=feed_secret
        )
    ]
    if redis_url:
        out.append(AsyncRevocationListener(guard.denylist, url=redis_url, prefix=prefix))
    return out


def _with_listener(
    app: Any, guard: Any, issuer: str, feed_secret: str, redis_url: str | None, prefix: str
) -> Any:
    listeners = _listeners(guard, issuer, feed_secret, redis_url, prefix)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for listener in listeners:
                await stack.enter_async_context(listener)
            yield

    app.router.lifespan_context = lifespan
    return app


def gateway_app(guard: Any, service_a: str) -> Any:
    """The API gateway (Starlette): verifies every request, forwards ``/a/{path}`` to service A
    with the caller's ``Authorization`` header, and returns A's status, body and challenge."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from jwtkit.middleware.asgi import BearerAuthMiddleware

    async def forward(request: Request) -> Response:
        headers = {"Authorization": request.headers["authorization"]}
        async with httpx.AsyncClient(timeout=5) as client:
            upstream = await client.get(
                f"{service_a}/{request.path_params['path']}", headers=headers
            )
        keep = {
            k: v
            for k, v in upstream.headers.items()
            if k.lower() in ("content-type", "www-authenticate")
        }
        return Response(upstream.content, status_code=upstream.status_code, headers=keep)

    app = Starlette(routes=[Route("/a/{path:path}", forward)])
    app.add_middleware(BearerAuthMiddleware, guard=guard)
    return app


def service_a_app(guard: Any, service_b: str) -> Any:
    """Service A (FastAPI): ``/orders`` needs ``orders:read`` and calls B's ``/inventory`` with
    the same token; ``/orders/admin`` needs ``orders:admin``."""
    import httpx
    from fastapi import Depends, FastAPI, HTTPException

    from jwtkit.middleware import Principal
    from jwtkit.middleware.asgi import BearerAuth

    app = FastAPI(title="service A")
    auth = BearerAuth(guard)

    @app.get("/orders")
    async def orders(
        principal: Principal = Depends(auth.requires_scopes("orders:read")),
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=5) as client:
            r = await client.get(
                f"{service_b}/inventory", headers={"Authorization": f"Bearer {principal.token}"}
            )
        if r.status_code != 200:
            raise HTTPException(
                r.status_code,
                "service B refused",
                headers={"WWW-Authenticate": r.headers.get("www-authenticate", "Bearer")},
            )
        return {
            "service": "A",
            "sub": principal.subject,
            "orders": [{"id": 1, "sku": "tea"}],
            "from_b": r.json(),
        }

    @app.get("/orders/admin")
    async def admin(
        principal: Principal = Depends(auth.requires_scopes("orders:admin")),
    ) -> dict[str, Any]:
        return {"service": "A", "admin": True}

    return app


def service_b_app(guard: Any) -> Any:
    """Service B (Flask): ``/inventory`` needs ``inventory:read``."""
    from flask import Flask, g

    from jwtkit.middleware.wsgi import FlaskBearerAuth

    app = Flask("jwtkit-demo-service-b")
    jwt = FlaskBearerAuth(app, guard=guard)

    @app.get("/inventory")
    @jwt.requires_scopes("inventory:read")
    def inventory() -> dict[str, Any]:
        return {"service": "B", "sub": g.jwtkit_claims.get("sub"), "tea": 42}

    return app


class _Uvicorn:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, timeout: float = 15) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("a demo server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class _Werkzeug:
    def __init__(self, app: Any) -> None:
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:
                pass

        self.server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()


class _BListener:
    """Starts/stops the thread listeners of the Flask service (the feed, plus Redis)."""

    def __init__(
        self, guard: Any, issuer: str, feed_secret: str, redis_url: str | None, prefix: str
    ) -> None:
        from jwtkit.middleware.listener import FeedRevocationListener, RevocationListener

        self.listeners: list[Any] = [
            FeedRevocationListener(
                guard.denylist, issuer=issuer, client_id=_FEED_CLIENT, client_secret=feed_secret
            )
        ]
        if redis_url:
            self.listeners.append(RevocationListener(guard.denylist, url=redis_url, prefix=prefix))

    def start(self) -> None:
        for listener in self.listeners:
            listener.start()

    def stop(self) -> None:
        for listener in self.listeners:
            listener.stop()


# -- the walk --------------------------------------------------------------------------------


def _redis_ok(url: str) -> bool:
    try:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _cleanup_redis(url: str, prefix: str) -> None:
    with contextlib.suppress(Exception):
        import redis

        from jwtkit.revocation import redis_keys

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.delete(*redis_keys(prefix).values())
        client.close()


def _poll_refused(
    url: str, token: str, since: float, timeout: float
) -> tuple[float, httpx.Response] | None:
    """Poll ``url`` with ``token`` until it answers 401; returns the seconds since ``since``
    (a :func:`time.monotonic` value) and that 401 response, or None when still accepted after
    ``timeout`` seconds."""
    import httpx

    with httpx.Client(timeout=2) as client:
        for _ in range(int(timeout / 0.005) + 1):
            r = client.get(url, headers={"Authorization": f"Bearer {token}"})
            if r.status_code == 401:
                return time.monotonic() - since, r
            if time.monotonic() - since > timeout:
                return None
            time.sleep(0.005)
    return None


def _hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = htmllib.unescape(value.group(1)) if value else ""
    return fields


def _login(http: httpx.Client, issuer: str) -> httpx.Response:
    """Sign the demo user in at ``issuer`` as a browser would: ``GET /authorize`` (code + PKCE
    S256), the login form (its CSRF cookie sent back), then the code at ``/token``. Returns the
    token response (httpx.Response)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid orders:read inventory:read",
        "state": secrets.token_urlsafe(8),
        "code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    page = http.get(issuer + "/authorize", params=query)
    # The cookies are Secure (__Host-); send them back by hand, as Chromium does on 127.0.0.1.
    cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("set-cookie"))
    form = {**_hidden_fields(page.text), "username": USER, "password": PASSWORD}
    done = http.post(issuer + "/login", data=form, headers={"cookie": cookies})
    code = parse_qs(urlsplit(done.headers.get("location", "")).query).get("code", [""])[0]
    return http.post(
        issuer + "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
    )


def _password_grant_refused(http: httpx.Client, issuer: str) -> str:
    r = http.post(
        issuer + "/token",
        data={"grant_type": "password", "username": USER, "password": PASSWORD},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    return f"{r.status_code} {r.json().get('error')}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _refused_everywhere(
    targets: tuple[tuple[str, str], ...],
    token: str,
    since: float,
    echo: Callable[[str], None],
) -> bool:
    """Poll every (name, url) with ``token`` at once (one thread each) until refused; print
    each one's time since ``since`` (a :func:`time.monotonic` value), which is its own
    propagation time, not the sum of the ones polled before it. Returns True when all refused
    within 1 s."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        results = list(pool.map(lambda t: _poll_refused(t[1], token, since, 3.0), targets))
    ok = True
    for (name, _), result in zip(targets, results, strict=True):
        if result is None:
            echo(f"   {name}: still accepted after 3 s")
            ok = False
            continue
        took, r = result
        echo(
            f"   {name}: refused after {took * 1000:.0f} ms -> {r.status_code} "
            f"{r.headers.get('www-authenticate')}"
        )
        ok &= took < 1.0
    return ok


def run_demo(redis_url: str | None, echo: Callable[[str], None] = print) -> bool:
    """Run the whole walk, printing each step with ``echo``; returns True when all went well."""
    import httpx

    started = time.monotonic()
    ok = True
    if redis_url and not _redis_ok(redis_url):
        echo(
            f"! Redis is not reachable at {redis_url}: running without it; verifiers hear of "
            "revocations through the service's HTTP revocation feed."
        )
        redis_url = None
    prefix = f"jwtkit-demo:{secrets.token_hex(6)}"
    tmp = Path(tempfile.mkdtemp(prefix="jwtkit-demo-"))
    service = TokenServiceProcess(
        tmp / "data",
        redis_url=redis_url,
        prefix=prefix,
        env={
            "JWTKIT_ACCESS_TOKEN_TTL": "900",
            "JWTKIT_PASSWORD_TIME_COST": "2",
            "JWTKIT_PASSWORD_MEMORY_KIB": "19456",
            "JWTKIT_PASSWORD_PARALLELISM": "1",
        },
    )
    servers: list[Any] = []
    try:
        echo("1. token service: creating a user and a client, starting `jwtkit serve` ...")
        service.cli(
            "users",
            "add",
            USER,
            "--password-stdin",
            "--scope",
            "orders:read",
            "--scope",
            "inventory:read",
            stdin=PASSWORD + "\n",
        )
        service.cli(
            "clients",
            "add",
            CLIENT_ID,
            "--secret-stdin",
            "--grant",
            "authorization_code",
            "--grant",
            "refresh_token",
            "--redirect-uri",
            REDIRECT_URI,
            "--first-party",
            "--scope",
            "openid",
            "--scope",
            "orders:read",
            "--scope",
            "orders:admin",
            "--scope",
            "inventory:read",
            "--audience",
            AUDIENCE,
            stdin=CLIENT_SECRET + "\n",
        )
        feed_secret = secrets.token_urlsafe(32)
        service.cli(
            "clients",
            "add",
            _FEED_CLIENT,
            "--secret-stdin",
            "--grant",
            "client_credentials",
            "--resource-server",
            stdin=feed_secret + "\n",
        )
        service.start()
        channels = "HTTP revocation feed" + (f" + Redis (prefix {prefix!r})" if redis_url else "")
        echo(f"   token service  {service.url}  (data in {tmp}; revocations: {channels})")

        guard_b = _guard(service.url)
        b = _Werkzeug(service_b_app(guard_b))
        b_listener = _BListener(guard_b, service.url, feed_secret, redis_url, prefix)
        guard_a = _guard(service.url)
        a = _Uvicorn(
            _with_listener(
                service_a_app(guard_a, b.url), guard_a, service.url, feed_secret, redis_url, prefix
            )
        )
        guard_gw = _guard(service.url)
        gw = _Uvicorn(
            _with_listener(
                gateway_app(guard_gw, a.url), guard_gw, service.url, feed_secret, redis_url, prefix
            )
        )
        for server in (b, b_listener, a, gw):
            server.start()
            servers.append(server)
        echo(f"   gateway        {gw.url}  (Starlette middleware)")
        echo(f"   service A      {a.url}  (FastAPI dependencies)")
        echo(f"   service B      {b.url}  (Flask extension)")
        echo(
            "   each verifier keeps a revocation denylist from the service's HTTP feed"
            + (" and from Redis pub/sub" if redis_url else "")
        )
        targets = (
            ("service A", a.url + "/orders"),
            ("service B", b.url + "/inventory"),
            ("gateway", gw.url + "/a/orders"),
        )

        with httpx.Client(timeout=10) as http:
            echo(
                f"2. sign in as {USER!r} on the login page (authorization code + PKCE S256, "
                "scope 'openid orders:read inventory:read')"
            )
            r = _login(http, service.url)
            if r.status_code != 200:
                echo(f"   sign-in failed: {r.status_code} {r.text}")
                return False
            token = r.json()["access_token"]
            import jwtkit

            id_claims = jwtkit.decode_unverified(r.json()["id_token"])
            echo(
                f"   -> ID token sub={id_claims.get('sub')} sid={id_claims.get('sid')} "
                f"amr={id_claims.get('amr')}; the legacy password grant is off for this client: "
                + _password_grant_refused(http, service.url)
            )

            header, claims = jwtkit.get_unverified_header(token), jwtkit.decode_unverified(token)
            echo(
                f"   -> access token typ={header.get('typ')} alg={header.get('alg')} "
                f"sub={claims.get('sub')} sid={claims.get('sid')} "
                f"expires in {int(claims['exp'] - time.time())} s"
            )
            auth = {"Authorization": f"Bearer {token}"}

            echo(
                "3. GET gateway /a/orders  (gateway verifies, forwards to A; A verifies, "
                "calls B with the same token; B verifies)"
            )
            r = http.get(gw.url + "/a/orders", headers=auth)
            echo(f"   -> {r.status_code} {r.text}")
            ok &= r.status_code == 200 and r.json().get("from_b", {}).get("service") == "B"

            echo("4. GET gateway /a/orders/admin  (needs scope orders:admin, not granted)")
            r = http.get(gw.url + "/a/orders/admin", headers=auth)
            echo(f"   -> {r.status_code} WWW-Authenticate: {r.headers.get('www-authenticate')}")
            ok &= r.status_code == 403 and "insufficient_scope" in r.headers.get(
                "www-authenticate", ""
            )

            echo("5. log out (POST /logout with the access token: ends the session)")
            logged_out = time.monotonic()
            r = http.post(service.url + "/logout", headers=auth)
            echo(f"   -> {r.status_code}")
            ok &= r.status_code == 204

            echo(
                "6. the same token at each service, until refused (times since the "
                "logout request; at most 3 s)"
            )
            ok &= _refused_everywhere(targets, token, logged_out, echo)

            echo(f"7. sign in again, then an admin ends every session of {USER!r} from the CLI")
            r = _login(http, service.url)
            ok &= r.status_code == 200
            second = r.json().get("access_token", "")
            ok &= http.get(gw.url + "/a/orders", headers=_bearer(second)).status_code == 200
            echo(
                "   `jwtkit sessions revoke --user alice` in a shell with no Redis setting "
                "(only JWTKIT_DATA_DIR): the running service relays it from its outbox"
            )
            revoked_at = time.monotonic()
            out = service.cli("sessions", "revoke", "--user", USER, env=service.clean_env())
            echo(f"   -> {out.strip()} ({(time.monotonic() - revoked_at) * 1000:.0f} ms)")
            echo("   the new token at each service, until refused (times since the CLI ended)")
            ok &= _refused_everywhere(targets, second, time.monotonic(), echo)
        echo(f"{'done' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
        return ok
    except (RuntimeError, subprocess.CalledProcessError, OSError, httpx.HTTPError) as exc:
        detail = getattr(exc, "stderr", None) or ""
        echo(f"demo failed: {exc} {detail}".strip())
        return False
    finally:
        for server in reversed(servers):
            with contextlib.suppress(Exception):
                server.stop()
        service.stop()
        if redis_url:
            _cleanup_redis(redis_url, prefix)
        shutil.rmtree(tmp, ignore_errors=True)


def demo(
    redis_url: Annotated[
        str,
        typer.Option(
            "--redis-url", help="Redis for revocation fan-out ('' for none: the HTTP feed only)."
        ),
    ] = "redis://127.0.0.1:6379/0",
    web: Annotated[
        bool,
        typer.Option("--web", help="Single sign-on between two web apps instead (serves)."),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="--web: first stdout line is one JSON object.")
    ] = False,
    seconds: Annotated[
        float | None,
        typer.Option("--for", min=0, help="--web: serve this many seconds (default: until ^C)."),
    ] = None,
) -> None:
    """Run the token service, a gateway and two services on loopback and walk through them:
    log in, call A via the gateway (A calls B), a missing scope (403), log out, and every service
    refusing the token within a second; then an admin revocation from the CLI in a shell with no
    Redis setting, refused everywhere within a second. Exits 0 when every step went as
    expected.

    With --web: the token service as OpenID provider and two web apps, A (FastAPI) and B
    (Flask), each signing in through its login page; serves until --for SECONDS pass or
    SIGINT/SIGTERM (see docs/web.md)."""
    if web:
        from jwtkit.cli.demo_web import run_web_demo

        raise typer.Exit(run_web_demo(seconds, as_json=as_json, echo=typer.echo))
    ok = run_demo(redis_url or None, echo=typer.echo)
    raise typer.Exit(0 if ok else 1)


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add ``demo`` to the ``jwtkit`` app (``keys_app`` is unused)."""
    del keys_app
    app.command("demo")(demo)
