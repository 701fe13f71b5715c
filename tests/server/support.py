"""Helpers for the token-service tests: clocks, in-thread servers, subprocess servers, CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
import uvicorn
from sqlalchemy import delete

from jwtkit.server import Settings
from jwtkit.server.protocol import protocol_class
from jwtkit.store.schema import metadata
from jwtkit.store.sql import SQLStore

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
RUN_ID = uuid.uuid4().hex[:10]
REDIS_PREFIX = f"jwtkit-test-{RUN_ID}"
VENV_BIN = Path(sys.executable).parent

# Cheap argon2id parameters so tests spend their time on behaviour, not on hashing.
FAST_HASH: dict[str, Any] = {
    "password_time_cost": 1,
    "password_memory_kib": 8,
    "password_parallelism": 1,
}
FAST_HASH_ENV = {f"JWTKIT_{k.upper()}": str(v) for k, v in FAST_HASH.items()}


class FakeClock:
    """A settable clock: seconds since the epoch (float), starting at the real time."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def recv_until(conn: socket.socket, done: Any, data: bytes = b"") -> bytes:
    """Read from ``conn`` until ``done(data)`` is true (``data``: what was read so far, bytes);
    the connection closing first fails the test. Returns all that was read."""
    while not done(data):
        chunk = conn.recv(65536)
        assert chunk, f"connection closed early after {data[:200]!r}"
        data += chunk
    return data


def truncate_all(store: SQLStore) -> None:
    """Delete every row of every table (tests reuse one PostgreSQL database)."""
    with store.db.write() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))


def redis_cleanup(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@dataclass
class ServerThread:
    """A uvicorn server running an app in a thread, on a pre-bound loopback socket."""

    app: Any
    sock: socket.socket
    http: Any = None  # uvicorn's ``http=``; None: jwtkit serve's protocol_class()
    server: uvicorn.Server = field(init=False)
    thread: threading.Thread = field(init=False)

    def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            log_config=None,
            lifespan="on",
            ws="none",
            access_log=False,
            http=self.http or protocol_class(),  # as `jwtkit serve` runs it
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@dataclass
class Svc:
    """One running service under test and helpers to drive it over HTTP."""

    backend: str
    settings: Settings
    clock: FakeClock
    services: Any
    url: str
    http: httpx.Client
    redis: redis.Redis | None

    @property
    def store(self) -> SQLStore:
        return self.services.store  # type: ignore[no-any-return]

    @property
    def service(self) -> Any:
        return self.services.service

    def add_user(
        self, name: str = "alice", password: str = "pw-alice", scope: str = "read write"
    ) -> Any:
        user = self.store.create_user(name, self.service.hasher.hash(password), scope, self.clock())
        assert user is not None
        return user

    def add_client(
        self,
        client_id: str = "web",
        secret: str | None = None,
        grants: tuple[str, ...] = ("password", "refresh_token"),
        scope: str = "read write",
        audience: str | None = None,
        resource_server: bool = False,
    ) -> Any:
        client = self.store.create_client(
            client_id,
            secret_hash=self.service.hasher.hash(secret) if secret else None,
            grant_types=grants,
            scope=scope,
            audience=audience,
            now=self.clock(),
            resource_server=resource_server,
        )
        assert client is not None
        return client

    def token(self, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self.http.post("/token", data=data, **kwargs)

    def login(
        self,
        username: str = "alice",
        password: str = "pw-alice",
        client_id: str = "web",
        **extra: str,
    ) -> dict[str, Any]:
        r = self.token(
            {
                "grant_type": "password",
                "username": username,
                "password": password,
                "client_id": client_id,
                **extra,
            }
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def refresh(self, refresh_token: str, client_id: str = "web") -> httpx.Response:
        return self.token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
        )

    def introspect(self, token: str, auth: tuple[str, str] = ("rs", "rs-secret")) -> dict[str, Any]:
        r = self.http.post("/introspect", data={"token": token}, auth=auth)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def jwks(self) -> dict[str, Any]:
        r = self.http.get("/.well-known/jwks.json")
        assert r.status_code == 200
        return r.json()  # type: ignore[no-any-return]


BACKENDS = ["sqlite", "postgresql", "postgresql+redis"]


def make_settings(
    backend: str, tmp_path: Path, port: int, pg: str | None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "host": "127.0.0.1",
        "port": port,
        "key_cache_seconds": 0,
        **FAST_HASH,
    }
    if backend.startswith("postgresql"):
        values["database_url"] = pg
    if backend.endswith("redis"):
        prefix = f"{REDIS_PREFIX}:{uuid.uuid4().hex[:8]}"
        values.update(
            redis_url=REDIS_URL, redis_prefix=prefix, revocation_prefix=f"{prefix}:revocations"
        )
    values.update(overrides)
    return Settings(**values)


def jwtkit_cmd(
    *args: str, env: dict[str, str], stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(VENV_BIN / "jwtkit"), *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"jwtkit {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return result


@dataclass
class ServerProcess:
    """``jwtkit serve`` as a subprocess on a free loopback port."""

    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path = self.data_dir.parent / f"server-{self.port}-{time.monotonic_ns()}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "jwtkit"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not become ready: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(timeout=20)
