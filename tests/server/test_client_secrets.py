"""Issue 12 item 4: client secrets are random values checked with one keyed hash; argon2id
hashes of earlier versions keep verifying; weak admin-chosen secrets are refused."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from jwtkit.server.client_secrets import (
    ClientSecretHasher,
    WeakClientSecretError,
    check_client_secret,
    estimated_bits,
    generate_client_secret,
)
from jwtkit.server.passwords import HashAdmission, HashQueueFull, SecretHasher, VerifiedSecretCache

from .support import FAST_HASH

LEGACY = SecretHasher(
    FAST_HASH["password_time_cost"], FAST_HASH["password_memory_kib"], 1, max_concurrent=2
)


@pytest.mark.parametrize("pepper", [None, b"p" * 32])
def test_generated_secrets_verify_with_one_hash(pepper: bytes | None) -> None:
    hasher = ClientSecretHasher(pepper, LEGACY)
    secret = generate_client_secret()
    assert len(secret) >= 43
    stored = hasher.hash(secret)
    assert stored.startswith("hmac-sha256$" if pepper else "sha256$")
    assert secret not in stored
    assert hasher.verify(stored, secret)
    assert not hasher.verify(stored, secret + "x")
    assert not hasher.verify(stored, "")
    assert not hasher.verify(None, secret)
    assert not hasher.needs_upgrade(stored) or pepper is None


def test_a_pepper_changes_the_stored_form_and_is_required_to_verify() -> None:
    secret = generate_client_secret()
    peppered = ClientSecretHasher(b"k" * 32, LEGACY)
    other = ClientSecretHasher(b"j" * 32, LEGACY)
    plain = ClientSecretHasher(None, LEGACY)
    stored = peppered.hash(secret)
    assert not other.verify(stored, secret)
    assert not plain.verify(stored, secret)  # fail closed without the pepper
    # a plain SHA-256 hash keeps verifying once a pepper is configured, and is upgraded
    assert peppered.verify(plain.hash(secret), secret)
    assert peppered.needs_upgrade(plain.hash(secret))


def test_argon2id_client_hashes_of_earlier_versions_keep_verifying_and_need_upgrade() -> None:
    hasher = ClientSecretHasher(None, LEGACY)
    old = LEGACY.hash("rs-secret")
    assert hasher.is_legacy(old)
    assert hasher.verify(old, "rs-secret")
    assert not hasher.verify(old, "rs-secreT")
    assert hasher.needs_upgrade(old)
    assert not hasher.is_legacy(hasher.hash("x"))


def test_unknown_known_and_wrong_cost_the_same_order() -> None:
    """No argon2id for an unknown client or a wrong secret of a current hash: each costs a
    hash of the input (microseconds), whatever the stored form."""
    hasher = ClientSecretHasher(b"k" * 32, SecretHasher())  # real argon2id parameters
    stored = hasher.hash(generate_client_secret())
    start = time.perf_counter()
    for _ in range(200):
        hasher.verify(None, "guess")
        hasher.verify(stored, "guess")
    assert time.perf_counter() - start < 1.0  # 400 argon2id checks would take many seconds


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "rs-secret",
        "correct horse battery staple",
        "a" * 64,
        "abababababababababababababababababababab",
        "0123456789012345678901234567890123456789",
        "Passw0rd!Passw0rd!Passw0rd!Passw0rd!",
    ],
)
def test_weak_admin_chosen_secrets_are_refused(secret: str) -> None:
    with pytest.raises(WeakClientSecretError) as info:
        check_client_secret(secret)
    assert info.value.code == "weak_client_secret"


def test_generated_secrets_pass_the_check() -> None:
    for _ in range(50):
        check_client_secret(generate_client_secret())
    assert estimated_bits("") == 0.0


def test_the_verified_secret_cache_evicts_one_entry_not_all() -> None:
    cache = VerifiedSecretCache(ttl=60, max_entries=4)
    cache.remember("victim", "h", "s")
    for i in range(3):
        cache.remember(f"c{i}", "h", "s")
    cache.remember("new", "h", "s")
    assert cache.check("new", "h", "s")
    assert cache.check("c2", "h", "s")
    assert not cache.check("victim", "h", "s")  # the oldest one went, only it
    assert len(cache._entries) == 4


def test_hash_admission_bounds_workers_and_waiters() -> None:
    async def main() -> tuple[int, int]:
        gate = HashAdmission(slots=2, max_waiting=3)
        inside = peak = 0
        refused = 0

        async def one() -> None:
            nonlocal inside, peak, refused
            try:
                async with gate.admit():
                    inside += 1
                    peak = max(peak, inside)
                    await asyncio.sleep(0.01)
                    inside -= 1
            except HashQueueFull:
                refused += 1

        await asyncio.gather(*(one() for _ in range(10)))
        return peak, refused

    peak, refused = asyncio.run(main())
    assert peak == 2
    assert refused == 5  # 2 inside + 3 waiting admitted


def test_clients_add_generates_and_refuses_weak_secrets(tmp_path: Any, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from jwtkit.cli.app import build_app
    from jwtkit.server import Settings, build_services
    from jwtkit.server.oauth import ClientCredentials

    from .support import FAST_HASH_ENV

    for name, value in FAST_HASH_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("JWTKIT_CONFIG", "JWTKIT_DATABASE_URL", "JWTKIT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    data = str(tmp_path / "data")
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Any:
        return runner.invoke(build_app(), [*args, "--data-dir", data], input=input)

    added = run("clients", "add", "m2m", "--generate")
    assert added.exit_code == 0, added.output
    secret = added.output.rsplit(": ", 1)[1].strip()
    check_client_secret(secret)
    for weak in ("s3cret", "rs-secret", "x" * 40):
        refused = run("clients", "add", "other", "--secret-stdin", input=f"{weak}\n")
        assert refused.exit_code == 2 and "too weak" in refused.output
        refused = run("clients", "rotate-secret", "m2m", "--secret-stdin", input=f"{weak}\n")
        assert refused.exit_code == 2 and "too weak" in refused.output
    assert run("clients", "add", "x", "--generate", "--secret-stdin").exit_code == 2
    services = build_services(Settings(data_dir=tmp_path / "data"))
    try:
        stored = services.store.get_client("m2m").secret_hash
        assert stored.startswith("sha256$")
        creds = ClientCredentials("m2m", secret, "client_secret_basic")
        assert services.service.authenticate_client(creds).client_id == "m2m"
        rotated = run("clients", "rotate-secret", "m2m", "--generate")
        assert rotated.exit_code == 0, rotated.output
        new = rotated.output.rsplit(": ", 1)[1].strip()
        assert new != secret
        creds = ClientCredentials("m2m", new, "client_secret_basic")
        assert services.service.authenticate_client(creds).client_id == "m2m"
    finally:
        services.close()
