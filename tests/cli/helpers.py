"""Shared values and small types for the ``jwtkit`` command-line tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwtkit import Key

NOW = 1_800_000_000  # a fixed "now" (2027-01-15 08:00:00 UTC) passed with --now


@dataclass
class Run:
    """One in-process run of the app: exit code, stdout and stderr (separately)."""

    exit_code: int
    stdout: str
    stderr: str


@dataclass
class KeyFiles:
    """A key and the four files it was written to."""

    key: Key
    private_jwk: Path
    public_jwk: Path
    private_pem: Path
    public_pem: Path


@dataclass
class JWKSServer:
    """A running loopback HTTP server; tests fill ``routes`` (path -> JSON document)."""

    base: str
    routes: dict[str, Any]

    @property
    def jwks_url(self) -> str:
        return self.base + "/jwks.json"


def one_error_line(run: Run, code: str) -> None:
    """Assert that stderr is exactly one ``jwtkit: CODE: ...`` line and no traceback."""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"jwtkit: {code}: "), run.stderr
    assert "Traceback" not in run.stderr
