"""Shared fixtures for the verifier tests: real HTTP servers on loopback, a small issuer, Redis."""

from __future__ import annotations

import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from werkzeug.serving import make_server

import jwtkit
from jwtkit.jwk import Key, KeySet
from jwtkit.revocation import make_event, redis_keys

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    """A controllable clock (seconds); callable like time.monotonic."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class UvicornThread:
    """Runs an ASGI app with uvicorn on 127.0.0.1:<free port> in a thread."""

    def __init__(self, app: Any, *, lifespan: str = "auto") -> None:
        self.sock = _bound_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class WerkzeugThread:
    """Runs a WSGI app with werkzeug's threaded server on 127.0.0.1:<free port>."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> WerkzeugThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()


class MiniIssuer:
    """A small issuer made with the jwtkit core: signs access tokens and serves its JWK Set and
    RFC 8414 metadata with a controllable Cache-Control, counting JWK Set requests."""

    def __init__(self, alg: str = "ES256", *, max_age: int | None = 300) -> None:
        self.alg = alg
        self.keys: list[Key] = [self._new_key()]
        self.max_age = max_age
        self.jwks_hits = 0
        self.jwks_delay = 0.0
        self.fail_jwks = False
        self.server = UvicornThread(self.app())
        self.issuer = self.server.url
        self.audience = "https://api.test"

    def _new_key(self) -> Key:
        kty, crv, size = {
            "ES256": ("EC", "P-256", None),
            "RS256": ("RSA", None, 2048),
            "EdDSA": ("OKP", "Ed25519", None),
            "Ed25519": ("OKP", "Ed25519", None),
        }[self.alg]
        return Key.generate(kty, crv=crv, size=size, alg=self.alg)

    def rotate(self) -> Key:
        """Add a new current key (the old one stays published)."""
        self.keys.insert(0, self._new_key())
        return self.keys[0]

    def jwks(self) -> dict[str, Any]:
        return KeySet([k.public() for k in self.keys]).to_jwks()

    def app(self) -> Starlette:
        async def jwks(request: Request) -> Response:
            self.jwks_hits += 1
            if self.jwks_delay:
                import asyncio

                await asyncio.sleep(self.jwks_delay)
            if self.fail_jwks:
                return Response("down", status_code=503)
            headers = {}
            if self.max_age is not None:
                headers["Cache-Control"] = f"public, max-age={self.max_age}"
            return JSONResponse(self.jwks(), headers=headers)

        async def metadata(request: Request) -> Response:
            return JSONResponse({"issuer": self.issuer, "jwks_uri": f"{self.issuer}/jwks"})

        return Starlette(
            routes=[
                Route("/jwks", jwks),
                Route("/.well-known/oauth-authorization-server", metadata),
            ]
        )

    def token(
        self,
        *,
        sub: str = "alice",
        scope: str = "read",
        aud: str | None = None,
        iss: str | None = None,
        typ: str = "at+jwt",
        lifetime: float = 300,
        iat: float | None = None,
        key: Key | None = None,
        **extra: Any,
    ) -> str:
        now = time.time() if iat is None else iat
        claims: dict[str, Any] = {
            "iss": iss or self.issuer,
            "sub": sub,
            "aud": aud or self.audience,
            "iat": int(now),
            "exp": int(now + lifetime),
            "jti": uuid.uuid4().hex,
            "sid": "s-" + uuid.uuid4().hex,
            "client_id": "demo-client",
            "scope": scope,
            **extra,
        }
        signer = key or self.keys[0]
        return jwtkit.encode(claims, signer, algorithm=self.alg, headers={"typ": typ})

    def __enter__(self) -> MiniIssuer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


@pytest.fixture
def issuer() -> Iterator[MiniIssuer]:
    with MiniIssuer() as iss:
        yield iss


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class RedisRevocations:
    """Writes revocations to Redis the way the token service does (jwtkit.revocation)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.keys = redis_keys(prefix)

    def revoke_jti(self, jti: str, until: float) -> None:
        self.client.zadd(self.keys["jti"], {jti: until})
        self.client.publish(self.keys["channel"], make_event("jti", jti, until))

    def revoke_sid(self, sid: str, until: float) -> None:
        self.client.zadd(self.keys["sid"], {sid: until})
        self.client.publish(self.keys["channel"], make_event("sid", sid, until))

    def revoke_sub(self, sub: str, cutoff: float, until: float) -> None:
        self.client.hset(self.keys["sub"], sub, str(cutoff))
        self.client.zadd(self.keys["sub_until"], {sub: until})
        self.client.publish(self.keys["channel"], make_event("sub", sub, until, cutoff))


@pytest.fixture
def redis_revocations() -> Iterator[RedisRevocations]:
    client = redis.Redis.from_url(REDIS_URL)
    prefix = f"jwtkit-test:{uuid.uuid4().hex}"
    try:
        yield RedisRevocations(client, prefix)
    finally:
        client.delete(*redis_keys(prefix).values())
        client.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.005) -> float:
    """Poll ``predicate`` until true (bounded); returns the seconds it took. Fails on timeout."""
    start = time.monotonic()
    for _ in range(int(timeout / step) + 1):
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


_HERE = str(Path(__file__).resolve().parent)


@pytest.fixture(autouse=True)
def _fresh_module_now() -> None:
    """Reset the test modules' ``NOW`` before each test.

    Several modules write revocations relative to a module-level ``NOW`` (``NOW + 600``); taken at
    import, that time is as old as the run when a test runs, and in a long run those revocations
    were already past their keep-until. Every module of this folder that has one gets the
    current time, so ``_claims`` (which reads its own module's ``NOW``) agrees with the test.
    """
    now = time.time()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None) or ""
        if path.startswith(_HERE) and isinstance(getattr(module, "NOW", None), float):
            module.NOW = now
