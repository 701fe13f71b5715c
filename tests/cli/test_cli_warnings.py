"""Issue 15.9: options that work but are less safe than they look warn in ONE stderr line
(``jwtkit: warning: ...``); the command still succeeds, and the safe form stays silent."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import jwtkit
from jwtkit.server import Settings
from jwtkit.server.admin import unsafe_settings

from .helpers import NOW, KeyFiles, Run

Invoke = Callable[..., Run]
FAST = {
    "JWTKIT_PASSWORD_TIME_COST": "1",
    "JWTKIT_PASSWORD_MEMORY_KIB": "8",
    "JWTKIT_PASSWORD_PARALLELISM": "1",
}


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    warning: str | None  # a phrase of the one warning line, None: no warning


CASES = [
    Case(
        "generate-pem-alg", ("keys", "generate", "--alg", "PS256", "--format", "pem"), "alg PS256"
    ),
    Case("generate-pem-kid", ("keys", "generate", "--kid", "k1", "-f", "pem"), "kid k1"),
    Case("generate-pem-plain", ("keys", "generate", "--format", "pem"), None),
    Case("generate-jwk-alg", ("keys", "generate", "--alg", "PS256"), None),
    Case("convert-jwk-alg-to-pem", ("keys", "convert", "BOUND"), "alg ES256"),
    Case("convert-jwk-alg-to-jwk", ("keys", "convert", "BOUND", "--to", "jwk"), None),
    Case("convert-pem-to-pem", ("keys", "convert", "PEM", "--to", "pem"), None),
    Case("verify-leeway", ("verify", "TOKEN", "--key", "KEY", "--leeway", "3600"), "--leeway 3600"),
    Case("verify-leeway-ok", ("verify", "TOKEN", "--key", "KEY", "--leeway", "60"), None),
    Case("verify-weak", ("verify", "TOKEN", "--key", "KEY", "--allow-weak-key"), "weak"),
    Case("encode-weak", ("encode", "--key", "PRIV", "--allow-weak-key"), "weak"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_unsafe_options_warn_in_one_line(
    invoke: Invoke, ec: KeyFiles, tmp_path: Path, case: Case
) -> None:
    bound = tmp_path / "bound.jwk"
    bound.write_text(json.dumps(ec.key.with_params(alg="ES256", kid="b1").to_jwk(private=True)))
    token = jwtkit.encode({"sub": "a", "iat": NOW}, ec.key)
    subst = {
        "BOUND": str(bound),
        "PEM": str(ec.private_pem),
        "TOKEN": token,
        "KEY": str(ec.public_jwk),
        "PRIV": str(ec.private_jwk),
    }
    args = [subst.get(a, a) for a in case.args]
    if args[0] == "verify":
        args += ["--now", str(NOW)]
    run = invoke(*args)
    assert run.exit_code == 0, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("jwtkit: warning: ")]
    if case.warning is None:
        assert lines == [], run.stderr
    else:
        assert len(lines) == 1 and case.warning in lines[0], run.stderr


def test_rotate_delay_under_the_jwks_max_age(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    for name in ("JWTKIT_CONFIG", "JWTKIT_DATABASE_URL", "JWTKIT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    where = ("--data-dir", str(tmp_path / "data"))

    def warnings(*args: str) -> list[str]:
        run = invoke("keys", "rotate", *args, *where)
        assert run.exit_code == 0, run.stderr
        return [line for line in run.stderr.splitlines() if line.startswith("jwtkit: warning:")]

    [line] = warnings("--delay", "5")
    assert "--delay 5" in line and "300 s" in line and "295 s" in line
    assert warnings("--delay", "300") == []
    assert warnings() == []  # the default delay (300) matches the default max-age
    monkeypatch.setenv("JWTKIT_JWKS_MAX_AGE", "600")
    [line] = warnings()
    assert "key_rotation_delay=300" in line and "600 s" in line


def test_serve_settings_warnings() -> None:
    assert unsafe_settings(Settings()) == []
    [message] = unsafe_settings(Settings(key_rotation_delay=10))
    assert "key_rotation_delay=10" in message
    assert unsafe_settings(Settings(key_rotation_delay=10, jwks_max_age=10)) == []
