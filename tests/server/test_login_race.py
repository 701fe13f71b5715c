"""Issue 13.1: a login in flight during ``users disable`` / ``users set-password [--end-sessions]``
/ ``users delete`` gets no session that survives the change (RFC 9700 §4.14.2).

The login checks the password against a snapshot of the user; the session insert must commit
only if, under the user row's lock, those credentials are still current and the user enabled.
Real races on SQLite and PostgreSQL: a login thread is held (barrier) right after its password
check while the admin change commits, then goes on; and a burst of unsynchronised logins runs
against one change. Every wait is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import jwtkit
from jwtkit.server.admin import AdminService
from jwtkit.server.grants.password import password_grant
from jwtkit.server.oauth import OAuthError

from .support import Svc

CHANGES: dict[str, Callable[[AdminService], Any]] = {
    "disable": lambda a: a.disable_user("alice"),
    "set-password": lambda a: a.set_password("alice", "a-new-password"),
    "set-password-end-sessions": lambda a: a.set_password(
        "alice", "a-new-password", end_sessions=True
    ),
    "delete": lambda a: a.delete_user("alice"),
}


def _login(svc: Svc, out: list[Any]) -> None:
    client = svc.store.get_client("web")
    try:
        out.append(password_grant(svc.service, client, "alice", "pw-alice", None, "127.0.0.1"))
    except OAuthError as exc:
        out.append(exc)


def _active_sessions(svc: Svc, user_id: str) -> list[Any]:
    return svc.store.list_sessions(user_id, svc.clock(), include_inactive=False)


@pytest.mark.parametrize("change", list(CHANGES))
def test_login_held_after_its_password_check(
    svc: Svc, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    admin = AdminService.from_services(svc.services, actor="test")
    user = svc.store.get_user("alice")
    assert user is not None
    checked = threading.Barrier(2, timeout=30)
    changed = threading.Event()
    original = svc.service.check_password

    def held(*args: Any, **kwargs: Any) -> Any:
        record = original(*args, **kwargs)
        checked.wait()  # the password is checked: let the admin change run now
        assert changed.wait(30)
        return record

    monkeypatch.setattr(svc.service, "check_password", held)
    out: list[Any] = []
    thread = threading.Thread(target=_login, args=(svc, out))
    thread.start()
    checked.wait()
    CHANGES[change](admin)
    changed.set()
    thread.join(30)
    assert not thread.is_alive()
    [result] = out
    assert isinstance(result, OAuthError), result  # no tokens for the stale credentials
    assert result.error == "invalid_grant"
    assert _active_sessions(svc, user.id) == []


@pytest.mark.parametrize("change", ["disable", "set-password-end-sessions"])
def test_burst_of_logins_against_one_change(svc: Svc, change: str) -> None:
    """Logins and the change start together; whatever the interleaving, once the change has
    returned no session of the user is active, and none appears later."""
    admin = AdminService.from_services(svc.services, actor="test")
    user = svc.store.get_user("alice")
    assert user is not None
    logins = 6
    start = threading.Barrier(logins + 1, timeout=30)
    out: list[Any] = []

    def login() -> None:
        start.wait()
        _login(svc, out)

    threads = [threading.Thread(target=login) for _ in range(logins)]
    for thread in threads:
        thread.start()
    start.wait()
    CHANGES[change](admin)
    after_change = _active_sessions(svc, user.id)
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert len(out) == logins
    assert after_change == []
    assert _active_sessions(svc, user.id) == []
    for result in out:  # each login either failed or got a session that is ended now
        if not isinstance(result, OAuthError):
            session = svc.store.get_session(jwtkit.decode_unverified(result["access_token"])["sid"])
            assert session is not None and session.revoked_at is not None
