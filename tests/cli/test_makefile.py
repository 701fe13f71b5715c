"""Issue 15.2: ``make serve`` and another target started at the same moment on a fresh clone
both work (they used to create ``.venv`` at once, and one failed with "No module named pip").

A real run: the tracked files are copied to a temporary directory (a fresh clone without
``.venv``), then ``make serve`` (on a free port, its own data dir) and ``make lint`` start
together. Both share one set-up, made once under the Makefile's lock; lint passes and the
service answers. Bounded: every wait has a deadline and the service is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _fresh_clone(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(shutil.which("flock") is None, reason="flock(1) is part of util-linux")
def test_make_serve_and_make_lint_at_the_same_moment(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    _fresh_clone(clone)
    assert not (clone / ".venv").exists()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWTKIT_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    python = f"PY={sys._base_executable}"  # the interpreter this venv was made from
    serve = subprocess.Popen(
        ["make", "serve", f"PORT={port}", f"DATA_DIR={tmp_path / 'data'}", python],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: make, jwtkit and uvicorn stop together
    )
    lint_output = ""
    try:
        lint = subprocess.run(
            ["make", "lint", python],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=840,
            check=False,
        )
        lint_output = lint.stdout + lint.stderr
        assert lint.returncode == 0, lint_output
        deadline = time.monotonic() + 240
        answered = None
        while time.monotonic() < deadline and serve.poll() is None:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert answered is not None and answered.status_code == 200, serve.poll()
        assert answered.json()["keys"]
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGTERM)
        try:
            out, _ = serve.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            out, _ = serve.communicate(timeout=30)
    text = out.decode("utf-8", "replace") + lint_output
    assert "No module named pip" not in text
    assert text.count("setting up .venv (once)") == 1, text  # one set-up, under the lock
