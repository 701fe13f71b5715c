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


def test_jwtkit_demo_walk(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(capsys, "--redis-url", REDIS_URL)
    assert code == 0, out
    assert '"from_b":{"service":"B"' in out  # A through the gateway, with B's answer inside
    assert 'error="insufficient_scope"' in out
    for name in ("service A", "service B", "gateway"):
        assert f"{name}: refused after" in out
    assert out.rstrip().splitlines()[-1].startswith("done in")


def test_jwtkit_demo_without_redis_says_tokens_live_until_exp(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _run(capsys, "--redis-url", "redis://127.0.0.1:1/0")
    assert code == 0, out
    assert "Redis is not reachable" in out
    assert "rely on the short access-token lifetime" in out
