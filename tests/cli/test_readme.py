"""Issue 15.3: README's console examples work as printed, against a real ``jwtkit serve``.

Every ``$ `` line of README.md's ``console`` blocks runs, in order, in one bash session
(``set -euo pipefail``) in a fresh directory whose ``.venv`` is this test run's virtual
environment, while ``jwtkit serve`` (the command ``make serve`` runs, same ``./data``) answers on a
free loopback port: the only edit is that port in place of README's 8000. Bounded by timeouts.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
FAST = {
    "JWTKIT_PASSWORD_TIME_COST": "1",
    "JWTKIT_PASSWORD_MEMORY_KIB": "8",
    "JWTKIT_PASSWORD_PARALLELISM": "1",
}


def readme_commands(text: str) -> list[str]:
    """The ``$ `` commands of the ``console`` blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        current: str | None = None
        for line in block.splitlines():
            if current is not None:
                current += "\n" + line
            elif line.startswith("$ "):
                current = line[2:]
            if current is not None and not current.endswith("\\"):
                commands.append(current)
                current = None
    return commands


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    return tmp_path


@pytest.fixture
def service(workdir: Path) -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTKIT_")} | FAST
    proc = subprocess.Popen(
        [
            str(Path(sys.prefix) / "bin" / "jwtkit"),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            "./data",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "jwtkit serve did not start"
            try:
                httpx.get(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_readme_lists_the_first_token_walkthrough() -> None:
    commands = readme_commands((ROOT / "README.md").read_text())
    joined = "\n".join(commands)
    assert 'export PATH="$PWD/.venv/bin:$PATH"' in commands
    assert 'jwtkit verify "$TOKEN" --issuer http://127.0.0.1:8000 --aud http://127.0.0.1:8000' in (
        joined
    )
    assert len(commands) >= 10


@pytest.mark.skipif(shutil.which("curl") is None, reason="README's walk-through uses curl")
def test_readme_console_examples_run_as_printed(workdir: Path, service: int) -> None:
    commands = readme_commands((ROOT / "README.md").read_text())
    lines = ["set -euo pipefail"]
    for i, command in enumerate(commands):
        lines.append(f"echo '>>> {i}' >&2")
        lines.append(command.replace("127.0.0.1:8000", f"127.0.0.1:{service}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTKIT_")} | FAST
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    result = subprocess.run(
        ["bash", "-c", "\n".join(lines)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    failed = re.findall(r">>> (\d+)", result.stderr)
    where = commands[int(failed[-1])] if failed else "?"
    assert result.returncode == 0, (where, result.stdout[-2000:], result.stderr[-2000:])
    assert f">>> {len(commands) - 1}" in result.stderr
    assert "VERIFIED" in result.stdout
    assert '"verified": true' in result.stdout
