"""Fixtures for the ``jwtkit`` command-line tests: the app, keys on disk, a real JWK Set server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from jwtkit import Key
from jwtkit.cli.app import build_app

from .helpers import JWKSServer, KeyFiles, Run


@pytest.fixture(scope="session")
def app() -> typer.Typer:
    return build_app()


@pytest.fixture
def runner() -> CliRunner:
    # NO_COLOR keeps rich output plain whatever the CI terminal says
    return CliRunner(env={"NO_COLOR": "1", "FORCE_COLOR": None, "COLUMNS": "100"})


@pytest.fixture
def invoke(app: typer.Typer, runner: CliRunner) -> Callable[..., Run]:
    """Run the app in-process; returns exit code, stdout and stderr (separately)."""

    def _invoke(*args: str, input: str | bytes | None = None) -> Run:
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return _invoke


@pytest.fixture(scope="session")
def jwtkit_script() -> Path:
    """The installed console script, next to the interpreter running the tests."""
    path = Path(sys.executable).parent / "jwtkit"
    assert path.exists(), f"console script not installed at {path}: pip install -e '.[all,test]'"
    return path


@pytest.fixture
def script(jwtkit_script: Path, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the installed ``jwtkit`` console script as a subprocess (bounded by a timeout)."""

    def _run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR",)}
        env.update({"NO_COLOR": "1", "COLUMNS": "100"})
        return subprocess.run(
            [str(jwtkit_script), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
            check=False,
        )

    return _run


def _write_key(tmp: Path, name: str, key: Key) -> KeyFiles:
    files = KeyFiles(
        key=key,
        private_jwk=tmp / f"{name}.private.jwk",
        public_jwk=tmp / f"{name}.public.jwk",
        private_pem=tmp / f"{name}.private.pem",
        public_pem=tmp / f"{name}.public.pem",
    )
    files.private_jwk.write_text(json.dumps(key.to_jwk(private=True)))
    files.public_jwk.write_text(json.dumps(key.public().to_jwk()))
    files.private_pem.write_bytes(key.to_pem(private=True))
    files.public_pem.write_bytes(key.public().to_pem())
    return files


@pytest.fixture(scope="session")
def _ec_key() -> Key:
    return Key.generate("EC", kid="ec-1")


@pytest.fixture(scope="session")
def _rsa_key() -> Key:
    return Key.generate("RSA", kid="rsa-1")


@pytest.fixture
def ec(tmp_path: Path, _ec_key: Key) -> KeyFiles:
    return _write_key(tmp_path, "ec", _ec_key)


@pytest.fixture
def rsa(tmp_path: Path, _rsa_key: Key) -> KeyFiles:
    return _write_key(tmp_path, "rsa", _rsa_key)


class _JWKSHandler(BaseHTTPRequestHandler):
    routes: dict[str, Any]

    def do_GET(self) -> None:
        body = self.server.routes.get(self.path)  # type: ignore[attr-defined]
        if body is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    """A real HTTP server on 127.0.0.1 (free port) serving a JWK Set and issuer metadata.

    Tests fill ``server.routes`` (path -> JSON document).
    """
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _JWKSHandler)
    httpd.daemon_threads = True
    routes: dict[str, Any] = {}
    httpd.routes = routes  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        yield JWKSServer(base=f"http://{host}:{port}", routes=routes)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
