"""Issue 13 (hardening): bounded limiter tables, address aggregation, closed metric labels, the
RFC 6749 §3.3 scope grammar. Each test fails on the code before the fix."""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest

from jwtkit._scope import split_scope
from jwtkit.errors import InvalidClaimError
from jwtkit.middleware import parse_scopes
from jwtkit.server.metrics import METHODS, Metrics
from jwtkit.server.ratelimit import (
    ClientAuthRateLimiter,
    FallbackCounter,
    LocalRateLimiter,
    LoginRateLimiter,
    limit_address,
)

WINDOW = 300
NOW = 1_800_000_000.0


# ---- 13.7: bounded tables evict per key and never drop a lockout before it expires ---------


def _flood(limiter: LoginRateLimiter, count: int, now: float, kind: str) -> None:
    for i in range(count):
        if kind == "users":
            limiter.failed(f"attacker-{i}", None, now)
        elif kind == "addresses":
            limiter.failed("nobody", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", now)
        else:  # both: each failure adds a user and an address key
            limiter.failed(f"attacker-{i}", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", now)


@pytest.mark.parametrize("kind", ["users", "addresses", "both"])
@pytest.mark.parametrize("cap", [8, 100, 1000])
def test_a_lockout_survives_a_flood_of_new_keys(kind: str, cap: int) -> None:
    table = LocalRateLimiter(max_entries=cap)
    limiter = LoginRateLimiter(table, WINDOW, per_user=5, per_address=20)
    for _ in range(5):
        limiter.failed("victim", "192.0.2.7", NOW)
    assert limiter.retry_after("victim", None, NOW) is not None
    _flood(limiter, 3 * cap, NOW + 1, kind)
    assert len(table) <= cap  # bounded
    assert limiter.retry_after("victim", None, NOW + 2) is not None  # still locked out
    # ... until the window it was counted in ends
    assert limiter.retry_after("victim", None, NOW + WINDOW) is None


def test_counters_below_their_limit_and_past_windows_are_what_gets_evicted() -> None:
    table = LocalRateLimiter(max_entries=4)
    limiter = LoginRateLimiter(table, WINDOW, per_user=3, per_address=100)
    for _ in range(3):
        limiter.failed("locked", None, NOW)
    limiter.failed("old", None, NOW - WINDOW)  # a past window: first to go
    for i in range(10):
        limiter.failed(f"u{i}", None, NOW)
    assert len(table) == 4
    assert table.failures("user:locked", WINDOW, NOW) == 3
    assert table.failures("user:old", WINDOW, NOW - WINDOW) == 0
    assert table.failures("user:u9", WINDOW, NOW) == 1  # the newest key is counted


def test_a_table_full_of_lockouts_limits_new_keys_together() -> None:
    """Fail closed: once only live lockouts remain, new keys share one counter per window, so
    a flood of fresh usernames cannot each get a fresh allowance."""
    table = LocalRateLimiter(max_entries=3)
    limiter = LoginRateLimiter(table, WINDOW, per_user=2, per_address=100)
    for name in ("a", "b", "c"):
        limiter.failed(name, None, NOW)
        limiter.failed(name, None, NOW)
    assert all(limiter.retry_after(n, None, NOW) for n in ("a", "b", "c"))
    limiter.failed("fresh-1", None, NOW)
    assert limiter.failed("fresh-2", None, NOW) is False  # 2 in the shared counter: at the limit
    assert limiter.retry_after("fresh-3", None, NOW) is not None
    assert all(limiter.retry_after(n, None, NOW) for n in ("a", "b", "c"))
    # the next window starts clean
    limiter.failed("fresh-4", None, NOW + WINDOW)
    assert limiter.retry_after("fresh-5", None, NOW + WINDOW) is None


def test_the_fallback_table_of_a_shared_counter_protects_lockouts_too() -> None:
    class Down:
        def failures(self, name: str, window: int, now: float) -> int:
            raise OSError("down")

        record_failure = failures

        def reset(self, name: str, window: int, now: float) -> None:
            raise OSError("down")

    counter = FallbackCounter(Down(), LocalRateLimiter(max_entries=10))
    limiter = ClientAuthRateLimiter(counter, WINDOW, per_client=3, per_address=50)
    for _ in range(3):
        limiter.failed("victim-client", None, NOW)
    for i in range(100):
        limiter.failed(f"c{i}", None, NOW)
    assert limiter.retry_after("victim-client", None, NOW) is not None


# ---- 13.9: IPv6 addresses aggregate to /64; IPv4-mapped count as IPv4 ----------------------

ADDRESS_CASES = [
    ("192.0.2.1", "192.0.2.1"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2:a:b:c:d", "2001:db8:1:2::/64"),
    ("[2001:db8:1:2::5]", "2001:db8:1:2::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("::ffff:192.0.2.9", "192.0.2.9"),
    ("::1", "::/64"),
    ("testclient", "testclient"),
    (None, None),
    ("", None),
]


@pytest.mark.parametrize(("address", "key"), ADDRESS_CASES)
def test_limit_address(address: str | None, key: str | None) -> None:
    assert limit_address(address) == key


@pytest.mark.parametrize("limiter_class", [LoginRateLimiter, ClientAuthRateLimiter])
def test_rotating_addresses_within_one_ipv6_64_share_one_limit(limiter_class: Any) -> None:
    limiter = limiter_class(LocalRateLimiter(), WINDOW, 1000, 20)
    for i in range(20):
        limiter.failed(f"user{i}", f"2001:db8:aa:bb:{i:x}::{secrets.randbelow(9999):x}", NOW)
    assert limiter.retry_after("someone", "2001:db8:aa:bb:1234::1", NOW) is not None
    assert limiter.retry_after("someone", "2001:db8:aa:bc::1", NOW) is None  # another /64


# ---- 13.4: every label from a request maps to a closed set ---------------------------------


def _label_values(text: str, label: str) -> set[str]:
    return set(re.findall(rf'{label}="([^"]*)"', text))


def test_metrics_labels_from_requests_are_a_closed_set() -> None:
    metrics = Metrics()
    metrics.routes = frozenset({"/token", "/sessions/{sid}"})
    for i in range(3000):
        metrics.observe_request(f"M{i}X", f"/made/up/{i}", 100 + i % 600, 0.001)
        metrics.observe_request(b"GET", None, -i, 0.001)
    metrics.observe_request("POST", "/token", 200, 0.01)
    metrics.observe_request("GET", "/sessions/{sid}", 404, 0.01)
    text = metrics.render().decode()
    assert _label_values(text, "method") <= METHODS | {"OTHER"}
    assert _label_values(text, "route") <= {"/token", "/sessions/{sid}", "unmatched"}
    assert _label_values(text, "status") <= {"1xx", "2xx", "3xx", "4xx", "5xx", "other"}
    assert len(text) < 40_000


# ---- 13.14: RFC 6749 §3.3 scope grammar -----------------------------------------------------

GOOD_SCOPES = [
    ("read", ["read"]),
    ("read write", ["read", "write"]),
    ("a:b/c!#$%&'()*+,-.;<=>?@[]^_`{|}~", ["a:b/c!#$%&'()*+,-.;<=>?@[]^_`{|}~"]),
    ("x x", ["x", "x"]),
]
BAD_SCOPES = [
    "",
    " ",
    "   ",
    "read  write",
    " read",
    "read ",
    "read\twrite",
    "read\nwrite",
    "read\u00a0write",
    "read\u2003write",
    "read\u3000write",
    're"ad',
    "re\\ad",
    "caf\u00e9",
    "read\x7f",
    "read\x00",
    "read\u200bwrite",
]


@pytest.mark.parametrize(("value", "tokens"), GOOD_SCOPES)
def test_split_scope_accepts_the_grammar(value: str, tokens: list[str]) -> None:
    assert split_scope(value) == tokens


@pytest.mark.parametrize("value", BAD_SCOPES)
def test_split_scope_refuses_everything_else(value: str) -> None:
    with pytest.raises(ValueError, match="malformed scope"):
        split_scope(value)


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "read write"}, {"read", "write"}),
        ({"scope": ""}, set()),
        ({}, set()),
        ({"scp": ["read", "write"]}, {"read", "write"}),
        ({"scope": ["a"]}, {"a"}),
        ({"scp": []}, set()),
    ],
)
def test_parse_scopes_reads_well_formed_claims(claims: dict[str, Any], scopes: set[str]) -> None:
    assert parse_scopes(claims) == scopes


@pytest.mark.parametrize(
    "claims",
    [{"scope": v} for v in BAD_SCOPES if v]
    + [
        {"scope": 5},
        {"scope": None},
        {"scope": {"read": True}},
        {"scp": ["read", 5]},
        {"scp": ["read write"]},
        {"scp": ["re\u00a0ad"]},
        {"scp": "read\u2003write"},
        {"scope": ["ok", ""]},
    ],
)
def test_parse_scopes_refuses_malformed_claims(claims: dict[str, Any]) -> None:
    with pytest.raises(InvalidClaimError) as info:
        parse_scopes(claims)
    assert info.value.code == "invalid_claim"


@pytest.mark.parametrize("scope", ["read\u00a0admin", "read\tadmin", " ", "read  admin", 7])
def test_the_guard_refuses_a_token_with_a_malformed_scope(scope: Any) -> None:
    import time

    import jwtkit
    from jwtkit.middleware import AuthError, BearerGuard, access_token_verifier

    key = jwtkit.Key.generate("EC", alg="ES256", kid="k1")
    now = int(time.time())
    claims = {"iss": "https://as", "sub": "u", "aud": "api", "exp": now + 60, "iat": now}
    token = jwtkit.encode(
        {**claims, "jti": "j", "client_id": "c", "scope": scope}, key, headers={"typ": "at+jwt"}
    )
    guard = BearerGuard(
        access_token_verifier(key, algorithms=["ES256"], issuer="https://as", audience="api")
    )
    with pytest.raises(AuthError) as info:
        guard.authenticate(f"Bearer {token}")
    assert (info.value.status, info.value.error, info.value.code) == (
        401,
        "invalid_token",
        "invalid_claim",
    )


# ---- 13.9: behind a trusted reverse proxy each client has its own limit ----------------------


@pytest.mark.parametrize(("trusted", "separate"), [(None, False), ("127.0.0.1", True)])
def test_forwarded_for_counts_only_from_trusted_proxies(
    tmp_path: Any, server_env: dict[str, str], trusted: str | None, separate: bool
) -> None:
    import httpx

    from .support import ServerProcess, jwtkit_cmd

    env = {**server_env, "JWTKIT_LOGIN_MAX_FAILURES_PER_ADDRESS": "3"}
    if trusted is not None:
        env["JWTKIT_FORWARDED_ALLOW_IPS"] = trusted
    jwtkit_cmd(
        "clients",
        "add",
        "web",
        "--public",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        env=env,
    )
    proc = ServerProcess(tmp_path / "data", env)
    proc.start()
    try:

        def login(user: str, client_address: str) -> int:
            data = {"grant_type": "password", "client_id": "web", "username": user}
            data["password"] = "wrong"
            headers = {"X-Forwarded-For": client_address}
            return httpx.post(f"{proc.url}/token", data=data, headers=headers).status_code

        assert [login(f"u{i}", "203.0.113.1") for i in range(3)] == [400, 400, 400]
        assert login("u9", "203.0.113.1") == 429  # that address is limited either way
        assert login("u10", "203.0.113.2") == (400 if separate else 429)
    finally:
        proc.kill()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_token_endpoint_uses_the_same_scope_grammar(svc: Any) -> None:
    for scope in [v for v in BAD_SCOPES if v]:
        for data in (
            {"grant_type": "client_credentials"},
            {"grant_type": "password", "username": "alice", "password": "pw-alice"},
        ):
            r = svc.token({**data, "scope": scope}, auth=("rs", "rs-secret"))
            control = any(ord(c) < 0x20 or ord(c) == 0x7F for c in scope)
            expected = "invalid_request" if control else "invalid_scope"
            assert (r.status_code, r.json()["error"]) == (400, expected), (scope, r.text)
    ok = svc.token({"grant_type": "client_credentials", "scope": "read"}, auth=("rs", "rs-secret"))
    assert ok.status_code == 200 and ok.json()["scope"] == "read"
