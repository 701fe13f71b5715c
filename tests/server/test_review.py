"""Regression tests for defects found in the review of the token service (issue 3)."""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from jwtkit.server.passwords import HashAdmission

from .support import Svc, jwtkit_cmd

RS_SECRET = "Zq3vN8rT1yK6wP0sL4mB9xC2hJ7dF5gA-ue_oi"  # a random-looking 38-character secret


def test_refresh_with_bad_scope_does_not_consume_the_refresh_token(svc: Svc) -> None:
    """RFC 6749 §6: a refresh request asking for more scope is ``invalid_scope``; it must not
    consume the refresh token, else the client's retry looks like reuse and kills the session."""
    tokens = svc.login()
    for scope in ("read admin", 're"ad'):
        r = svc.token(
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": "web",
                "scope": scope,
            }
        )
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text
        assert r.headers["cache-control"] == "no-store"
    ok = svc.refresh(tokens["refresh_token"])
    assert ok.status_code == 200, ok.text
    assert svc.introspect(ok.json()["access_token"])["active"] is True


class _GatedHasher:
    """The real hasher, but every verification first waits until ``parties`` logins are all
    inside it (so they passed the rate-limit check together, as a concurrent burst does); a
    correct password then waits until the wrong ones have been counted."""

    def __init__(self, real: Any, parties: int, counted: Any) -> None:
        self.real = real
        self.barrier = threading.Barrier(parties)
        self.counted = counted

    def verify(self, stored: str | None, password: str) -> bool:
        self.barrier.wait(timeout=20)
        ok = bool(self.real.verify(stored, password))
        if ok:
            deadline = time.monotonic() + 10
            while not self.counted() and time.monotonic() < deadline:
                time.sleep(0.01)
        return ok

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql+redis"])
def test_concurrent_login_burst_cannot_bypass_the_failed_login_limit(svc: Svc) -> None:
    """A burst of concurrent guesses all pass the limit check before any failure is counted;
    only ``login_max_failures_per_user`` of them may get an answer, and a correct password
    among them must not log in (RFC 6749 §4.3.2 asks for brute-force protection)."""
    limit = svc.settings.login_max_failures_per_user
    wrong = limit + 3
    service = svc.service
    limiter = service.limiter

    def counted() -> bool:
        n = limiter.counter.failures("user:alice", limiter.window, svc.clock())
        return bool(n >= wrong)

    service.hasher = _GatedHasher(service.hasher, wrong + 1, counted)
    # let the whole burst hash at once (the admission normally allows one per CPU)
    service.password_admission = HashAdmission(slots=wrong + 1)

    def attempt(password: str) -> int:
        r = svc.token(
            {
                "grant_type": "password",
                "username": "alice",
                "password": password,
                "client_id": "web",
            }
        )
        return r.status_code

    with ThreadPoolExecutor(max_workers=wrong + 1) as pool:
        futures = [pool.submit(attempt, f"guess-{i}") for i in range(wrong)]
        right = pool.submit(attempt, "pw-alice")
        statuses = sorted(f.result(timeout=60) for f in futures)
        right_status = right.result(timeout=60)
    assert statuses == [400] * limit + [429] * (wrong - limit)
    assert right_status == 429


def test_admin_cli_writes_audit_events(server_env: dict[str, str]) -> None:
    """Issue 3 §11: admin actions are audit events (JSON lines on stderr), without secrets."""
    env = server_env
    added = jwtkit_cmd("users", "add", "alice", "--password-stdin", env=env, stdin="pw-alice\n")
    secret = jwtkit_cmd("clients", "add", "rs", "--secret-stdin", env=env, stdin=f"{RS_SECRET}\n")
    rotated = jwtkit_cmd("keys", "rotate", "--delay", "0", env=env)
    ended = jwtkit_cmd("sessions", "revoke", "--user", "alice", env=env)
    events = []
    for result in (added, secret, rotated, ended):
        assert "pw-alice" not in result.stderr and RS_SECRET not in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
        events += [json.loads(line)["event"] for line in lines]
    assert events == [
        "user_added",
        "client_added",
        "key_rotated",
        "revocation",  # the sub cut-off (alice has no session to end)
        "user_sessions_revoked",
    ]


@pytest.mark.parametrize("name", ["", "a\tb", "u" * 256])
def test_admin_cli_refuses_names_no_request_can_carry(
    server_env: dict[str, str], name: str
) -> None:
    """A user name or client id that the token endpoint can never accept (empty, a control
    character, over 255 characters: RFC 6749 §3.2 form values) is refused with a clear error
    instead of being stored (on PostgreSQL an over-long one was a crash)."""
    user = jwtkit_cmd(
        "users", "add", name, "--password-stdin", env=server_env, stdin="pw\n", check=False
    )
    assert user.returncode == 2 and "jwtkit: " in user.stderr, user.stderr
    client = jwtkit_cmd("clients", "add", name, "--public", env=server_env, check=False)
    assert client.returncode == 2 and "jwtkit: " in client.stderr, client.stderr
    listed = jwtkit_cmd("users", "list", "--json", env=server_env)
    assert json.loads(listed.stdout) == []


def test_access_log_never_contains_query_strings(server_proc: Any) -> None:
    """Credentials sent by mistake in the query string (RFC 6749 §3.2 wants them in the body;
    RFC 6750 §2.3 warns that URIs get logged) must not reach the service's log lines."""
    server_proc.start()
    url = server_proc.url
    r = httpx.post(
        f"{url}/token?password=hunter2-secret&refresh_token=rt-secret-value",
        data={"grant_type": "password", "client_id": "nobody"},
    )
    assert r.status_code == 401
    httpx.get(f"{url}/sessions?access_token=at-secret-value")
    assert server_proc.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises it when done
    log = server_proc.log()
    assert "Application shutdown complete" in log
    assert "POST /token" in log and "GET /sessions" in log
    for secret in ("hunter2-secret", "rt-secret-value", "at-secret-value"):
        assert secret not in log


def test_replay_with_a_bad_scope_still_kills_the_family(svc: Svc) -> None:
    """RFC 9700 §4.14.2: a consumed refresh token presented again revokes its family, whatever
    else the request says (the scope check of a live token must not shadow reuse detection)."""
    tokens = svc.login()
    fresh = svc.refresh(tokens["refresh_token"])
    assert fresh.status_code == 200
    replay = svc.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "web",
            "scope": "admin",
        }
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert svc.refresh(fresh.json()["refresh_token"]).status_code == 400
    assert svc.introspect(fresh.json()["access_token"]) == {"active": False}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nul_and_control_characters_outside_the_form_are_4xx(svc: Svc) -> None:
    """Inputs that bypass the strict form parser (the decoded HTTP Basic credentials, RFC 6749
    §2.3.1, and the ``sid`` path segment) used to reach PostgreSQL, which refuses NUL: 500."""
    for raw in (b"r\x00s:rs-secret", b"rs:rs-secret\x00", b"r%00s:x", b"rs\x01:rs-secret"):
        r = svc.token(
            {"grant_type": "client_credentials"},
            headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
        )
        assert r.status_code == 401 and r.json()["error"] == "invalid_client", (raw, r.text)
        assert r.headers["www-authenticate"].startswith("Basic")
    access = svc.login()["access_token"]
    for sid in ("a%00b", "a%01b", "x" * 200):
        r = svc.http.delete(f"/sessions/{sid}", headers={"Authorization": f"Bearer {access}"})
        assert r.status_code == 404 and r.json()["error"] == "invalid_request", (sid, r.text)
    assert svc.introspect(access)["active"] is True
