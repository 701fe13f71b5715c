"""Interop with a real issuer that is not ours: npm's oidc-provider (panva).

oidc-provider runs on loopback with three client_credentials clients whose JWT access tokens
(RFC 9068, resource indicators RFC 8707) are signed ES256, RS256 and Ed25519 (oidc-provider 9
names EdDSA over Ed25519 by its RFC 9864 name, ``Ed25519``). Our middleware finds the keys
through the provider's discovery document and JWK Set.

Skips only where ``node`` is absent, and never in CI (``CI`` set): there it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import jwtkit
from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier

from .apps import starlette_app
from .conftest import UvicornThread

NODE_DIR = Path(__file__).parent / "node"
RESOURCE = "https://api.test"

pytestmark = pytest.mark.slow


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("node is required in CI for the oidc-provider interop test")
        pytest.skip("node is not installed")
    return node


def _npm_install() -> None:
    if (NODE_DIR / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    npm = shutil.which("npm")
    assert npm is not None, "npm is missing"
    # Installs exactly what package-lock.json pins, into tests/verifiers/node/node_modules.
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        check=True,
        timeout=300,
    )


class NodeRun:
    """A running Node peer: its first stdout line (parsed JSON) and, once it stopped, stderr."""

    def __init__(self, first: dict[str, Any]) -> None:
        self.first = first
        self.stderr = b""


@contextmanager
def node_script(script: str, env: dict[str, str]) -> Iterator[NodeRun]:
    """Run ``script`` from tests/verifiers/node until the block ends; it must print one JSON
    line on stdout once it listens (within 30 s)."""
    node = _node()
    _npm_install()
    proc = subprocess.Popen(
        [node, script],
        cwd=NODE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NODE_ENV": "test", **env},
    )
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(30)
    run: NodeRun | None = None
    try:
        if not line or not line[0]:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            pytest.fail(f"{script} did not start: {err.decode(errors='replace')}")
        run = NodeRun(json.loads(line[0]))
        yield run
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate(timeout=10)
        if run is not None:
            run.stderr = err


@pytest.fixture(scope="module")
def provider() -> Iterator[dict[str, Any]]:
    with node_script("provider.mjs", {"RESOURCE": RESOURCE}) as run:
        yield run.first


@pytest.fixture(scope="module")
def resource_server(provider: dict[str, Any]) -> Iterator[str]:
    client = JWKSClient.from_issuer(provider["issuer"])
    verifier = access_token_verifier(
        client,
        issuer=provider["issuer"],
        audience=RESOURCE,
        algorithms=["ES256", "RS256", "Ed25519", "EdDSA"],
    )
    server = UvicornThread(starlette_app(BearerGuard(verifier, realm="interop"))).start()
    try:
        yield server.url
    finally:
        server.stop()


def _token(provider: dict[str, Any], client_id: str, scope: str) -> str:
    r = httpx.post(
        provider["issuer"] + "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": f"secret-{client_id}",
            "resource": RESOURCE,
            "scope": scope,
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


@pytest.mark.parametrize(
    ("client_id", "alg"),
    [("client-es256", "ES256"), ("client-rs256", "RS256"), ("client-ed25519", "Ed25519")],
)
def test_oidc_provider_tokens_are_accepted(
    provider: dict[str, Any], resource_server: str, client_id: str, alg: str
) -> None:
    token = _token(provider, client_id, "read")
    header = jwtkit.get_unverified_header(token)
    assert header["alg"] == alg
    assert header["typ"] == "at+jwt"
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.get(resource_server + "/me", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json() == {"sub": client_id, "scopes": ["read"]}
    # Missing scope: 403 insufficient_scope; then with the scope granted: 200.
    r = httpx.get(resource_server + "/write", headers=auth)
    assert r.status_code == 403
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    both = _token(provider, client_id, "read write")
    r = httpx.get(resource_server + "/write", headers={"Authorization": f"Bearer {both}"})
    assert r.status_code == 200


def test_oidc_provider_token_for_another_resource_is_refused(
    provider: dict[str, Any], resource_server: str
) -> None:
    r = httpx.post(
        provider["issuer"] + "/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "client-es256",
            "client_secret": "secret-client-es256",
            "resource": "https://other.test",
            "scope": "read",
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    r = httpx.get(resource_server + "/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
