"""Every way an OP session ends reaches the relying parties (back-channel logout) and ends the
grants made through it; the login page's limits and ``max_age``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .oidc_support import OP, PASSWORD, SECRETS, decode_part, forms, query_of


def _signed_in_user(op: OP, username: str) -> dict[str, str]:
    if op.services.store.get_user(username) is None:
        op.admin.add_user(username, PASSWORD, [])
    url, verifier = op.authorize_url("rp")
    done = op.browser().sign_in(url, username=username)
    tokens: dict[str, str] = op.redeem(query_of(done)["code"], verifier).json()
    return tokens


def _refresh_refused(op: OP, tokens: dict[str, str]) -> bool:
    r = op.http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("rp", SECRETS["rp"]),
    )
    return bool(r.json().get("error") == "invalid_grant")


ENDINGS: dict[str, Callable[[OP, str, dict[str, str]], None]] = {
    "token-logout": lambda op, name, t: op.http.post("/logout", data={"token": t["access_token"]}),
    "refresh-logout": lambda op, name, t: op.http.post(
        "/logout", data={"token": t["refresh_token"]}
    ),
    "password-reset-end-sessions": lambda op, name, t: op.admin.set_password(
        name, "a-new-password-1", end_sessions=True
    ),
    "admin-revokes-user": lambda op, name, t: op.admin.end_user_sessions(name),
    "admin-revokes-op-session": lambda op, name, t: op.admin.end_session(
        decode_part(t["id_token"], 1)["sid"]
    ),
    "user-disabled": lambda op, name, t: op.admin.disable_user(name),
    "user-deleted": lambda op, name, t: op.admin.delete_user(name),
}


@pytest.mark.parametrize("how", sorted(ENDINGS))
def test_every_ending_sends_backchannel_logout(op: OP, how: str) -> None:
    name = f"u-{how}"
    tokens = _signed_in_user(op, name)
    claims = decode_part(tokens["id_token"], 1)
    assert op.services.provider.sender.wait_idle(10)
    op.listener.tokens.clear()
    ENDINGS[how](op, name, tokens)
    received = [t for t in op.listener.wait(1) if decode_part(t, 1)["sub"] == claims["sub"]]
    assert len(received) == 1, how
    assert decode_part(received[0], 1)["sid"] == claims["sid"]
    if how != "user-deleted":
        assert _refresh_refused(op, tokens)
    session = op.services.provider.op_sessions.get(claims["sid"])
    assert session is not None and session.ended_at is not None


def test_reuse_detection_ends_one_grant_only(op: OP) -> None:
    name = "u-reuse"
    first = _signed_in_user(op, name)
    rotated = op.http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=("rp", SECRETS["rp"]),
    ).json()
    assert "access_token" in rotated
    assert _refresh_refused(op, first)  # the reuse: this grant is revoked ...
    assert _refresh_refused(op, rotated)
    sid = decode_part(first["id_token"], 1)["sid"]
    session = op.services.provider.op_sessions.get(sid)
    assert session is not None and session.ended_at is None  # ... the OP session lives on


def test_backchannel_delivery_retries(op: OP) -> None:
    tokens = _signed_in_user(op, "u-retry")
    sid = decode_part(tokens["id_token"], 1)["sid"]
    assert op.services.provider.sender.wait_idle(10)
    op.listener.tokens.clear()
    op.listener.fail_next = 2
    op.admin.end_session(sid)
    assert op.listener.wait(1)
    assert op.services.provider.sender.wait_idle(10)
    [delivery] = op.services.provider.logouts.of_session(sid)
    assert (delivery.state, delivery.attempts) == ("delivered", 3)


def test_login_page_failed_login_limits(op: OP) -> None:
    op.admin.add_user("u-limited", PASSWORD, [])
    browser = op.browser()
    page = browser.follow(browser.get(op.authorize_url("rp")[0]))
    statuses = []
    for _ in range(op.services.settings.login_max_failures_per_user + 1):
        page = browser.submit(page, {"username": "u-limited", "password": "wrong"})
        statuses.append(page.status_code)
    assert statuses[0] == 401 and statuses[-1] == 429
    assert "retry-after" in page.headers
    page = browser.submit(page, {"username": "u-limited", "password": PASSWORD})
    assert page.status_code == 429  # the right password is refused while limited


def test_max_age_forces_a_new_login(op: OP) -> None:
    browser = op.browser()
    assert browser.sign_in(op.authorize_url("spa")[0]).status_code == 303
    # auth_time lies (fractions of) a second in the past: max_age=0 asks for the password again.
    again = browser.follow(browser.get(op.authorize_url("spa", max_age="0")[0]))
    assert again.status_code == 200 and forms(again.text)[0]["action"] == "/login"
    fresh = browser.follow(browser.get(op.authorize_url("spa", max_age="99999")[0]))
    assert fresh.status_code == 303 and "code" in query_of(fresh)


def test_prompt_none_with_session_but_no_consent_is_consent_required(op: OP) -> None:
    op.admin.add_user("u-consent", PASSWORD, [])
    browser = op.browser()
    assert browser.sign_in(op.authorize_url("spa")[0], username="u-consent").status_code == 303
    r = browser.get(op.authorize_url("rp2", prompt="none")[0])  # third party, never allowed
    answer = query_of(r)
    assert (answer["error"], answer["iss"]) == ("consent_required", op.url)


def test_housekeeping_prunes_ended_sessions(op: OP) -> None:
    tokens = _signed_in_user(op, "u-prune")
    sid = decode_part(tokens["id_token"], 1)["sid"]
    op.admin.end_session(sid)
    assert op.services.provider.sender.wait_idle(10)
    provider = op.services.provider
    provider.prune(op.services.clock() + 3600)  # ended just now: kept for history
    assert provider.op_sessions.get(sid) is not None
    provider.prune(op.services.clock() + 7 * 86400 + 60)
    assert provider.op_sessions.get(sid) is None and provider.logouts.of_session(sid) == []


def test_non_oidc_scopes_also_need_the_users(op: OP) -> None:
    for username, granted in (("alice", "openid read"), ("bob", "openid")):
        url, verifier = op.authorize_url("spa", scope="openid read")
        done = op.browser().sign_in(url, username=username, password=_password(username))
        tokens = op.redeem(query_of(done)["code"], verifier, "spa").json()
        assert tokens["scope"] == granted, username


def _password(username: str) -> str:
    return "bob-password" if username == "bob" else PASSWORD
