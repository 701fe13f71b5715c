"""`jwtkit demo` runs the whole walk by itself and stops (bounded)."""

from __future__ import annotations

import pytest

from jwtkit.cli import main

from .conftest import REDIS_URL

pytestmark = pytest.mark.slow


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(["demo", *args])
    code = info.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().out


def _check_walk(out: str) -> None:
    assert '"from_b":{"service":"B"' in out  # A through the gateway, with B's answer inside
    assert 'error="insufficient_scope"' in out
    for name in ("service A", "service B", "gateway"):
        # refused after the logout (step 6) and after the CLI revocation (step 7)
        assert out.count(f"{name}: refused after") == 2, out
    assert "still accepted" not in out
    assert "in a shell with no Redis setting" in out and "ended 1 session(s) of alice" in out
    assert out.rstrip().splitlines()[-1].startswith("done in")


def test_jwtkit_demo_walk(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "--redis-url", REDIS_URL)
    assert code == 0, out
    _check_walk(out)
    assert "and from Redis pub/sub" in out


def test_jwtkit_demo_without_redis_works_the_same(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "--redis-url", "")
    assert code == 0, out
    _check_walk(out)
    assert "Redis" not in out.split("2. log in")[0].replace("no Redis setting", "")
