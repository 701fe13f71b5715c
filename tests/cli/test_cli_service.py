"""``jwtkit decode`` and ``jwtkit verify --issuer`` on an access token from the real token service.

The service (FastAPI app from :func:`jwtkit.server.app.create_app`, SQLite in a temporary
directory) runs under uvicorn on a free loopback port; the token comes from its ``/token``
endpoint and ``verify --issuer`` discovers the JWK Set through the service's metadata.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from jwtkit.server import Settings
from jwtkit.server.app import build_services, create_app

from .helpers import Run

Invoke = Callable[..., Run]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Start the token service; yield its URL and an access-token response for alice."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=port,
        password_time_cost=1,
        password_memory_kib=8,
        password_parallelism=1,
    )
    services = build_services(settings)
    now = time.time()
    services.store.create_user("alice", services.service.hasher.hash("pw"), "read write", now)
    services.store.create_client(
        "web",
        secret_hash=None,
        grant_types=("password",),
        scope="read write",
        audience=None,
        now=now,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services=services),
            log_config=None,
            ws="none",
            access_log=False,
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        response = httpx.post(
            f"{url}/token",
            data={
                "grant_type": "password",
                "username": "alice",
                "password": "pw",
                "client_id": "web",
                "scope": "read",
            },
            timeout=30,
        )
        assert response.status_code == 200, response.text
        yield url, response.json()
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def test_decode_and_verify_a_token_from_the_token_service(
    invoke: Invoke, service: tuple[str, dict[str, Any]]
) -> None:
    url, body = service
    token = body["access_token"]
    run = invoke("decode", token, "--json")
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["header"]["typ"].lower().endswith("at+jwt")
    claims = doc["claims"]
    assert claims["iss"] == url and claims["scope"] == "read" and claims["client_id"] == "web"
    assert doc["times"]["exp"]["relative"].startswith("expires in ")

    human = invoke("decode", token)
    assert (
        human.exit_code == 0
        and "UNVERIFIED" in human.stdout
        and '"client_id": "web"' in human.stdout
    )

    aud = claims["aud"] if isinstance(claims["aud"], str) else claims["aud"][0]
    run = invoke("verify", token, "--issuer", url, "--aud", aud, "--typ", "at+jwt", "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["claims"]["jti"] == claims["jti"]
    run = invoke("verify", token, "--issuer", url, "--aud", "https://other.example")
    assert run.exit_code == 43
