"""The OpenID Connect provider end to end on a real server: discovery, code + PKCE, ID token,
userinfo, refresh, SSO, consent, PAR, RP-initiated and back-channel logout, admin hooks."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

import jwtkit

from .oidc_support import OP, PASSWORD, REDIRECTS, SECRETS, decode_part, forms, query_of

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def _verify(op: OP, token: str, **kwargs: Any) -> dict[str, Any]:
    keys = jwtkit.KeySet.from_jwks(op.http.get("/.well-known/jwks.json").json())
    return jwtkit.Verifier(keys, algorithms=["RS256", "ES256"], issuer=op.url, **kwargs).verify(
        token
    )


def _signed_in(op: OP, client_id: str = "rp", **params: str) -> tuple[Any, dict[str, Any], str]:
    """Sign alice in through the pages; returns (browser, token response, nonce)."""
    browser = op.browser()
    url, verifier = op.authorize_url(client_id, **params)
    nonce = dict(httpx.URL(url).params)["nonce"]
    done = browser.sign_in(url)
    assert done.status_code == 303, done.text
    answer = query_of(done)
    tokens = op.redeem(answer["code"], verifier, client_id)
    assert tokens.status_code == 200, tokens.text
    return browser, tokens.json(), nonce


def test_discovery_is_complete_and_at_both_paths(op: OP) -> None:
    oidc = op.http.get("/.well-known/openid-configuration").json()
    oauth = op.http.get("/.well-known/oauth-authorization-server").json()
    assert oidc == oauth
    assert oidc["issuer"] == op.url
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "end_session_endpoint",
        "pushed_authorization_request_endpoint",
        "jwks_uri",
    ):
        assert oidc[name].startswith(op.url + "/"), name
    assert oidc["response_types_supported"] == ["code"]
    assert oidc["code_challenge_methods_supported"] == ["S256"]
    assert oidc["authorization_response_iss_parameter_supported"] is True
    assert oidc["backchannel_logout_supported"] is True
    assert oidc["backchannel_logout_session_supported"] is True
    assert oidc["request_parameter_supported"] is False
    assert "RS256" in oidc["id_token_signing_alg_values_supported"]
    assert "authorization_code" in oidc["grant_types_supported"]
    jwks = op.http.get(oidc["jwks_uri"]).json()["keys"]
    assert {k["alg"] for k in jwks} >= {"RS256", "ES256"}


def test_code_flow_id_token_userinfo_refresh(op: OP) -> None:
    browser, tokens, nonce = _signed_in(op)
    assert tokens["token_type"] == "Bearer" and "refresh_token" in tokens
    header = decode_part(tokens["id_token"], 0)
    assert header["typ"] == "JWT" and header["alg"] == "RS256"
    claims = _verify(op, tokens["id_token"], audience="rp", typ="JWT")
    assert claims["nonce"] == nonce
    assert claims["amr"] == ["pwd"] and isinstance(claims["auth_time"], int)
    assert claims["email"] == "alice@example.com" and claims["name"] == "Alice <Liddell>"
    import base64
    import hashlib

    digest = hashlib.sha256(tokens["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    op_session = op.services.provider.op_sessions.get(claims["sid"])
    assert op_session is not None and op_session.user_id == claims["sub"]
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    got = op.http.get("/userinfo", headers=bearer)
    assert got.status_code == 200 and got.json()["sub"] == claims["sub"]
    assert got.json()["email"] == "alice@example.com"
    assert op.http.post("/userinfo", headers=bearer).json() == got.json()
    refreshed = op.http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=("rp", SECRETS["rp"]),
    )
    assert refreshed.status_code == 200, refreshed.text
    browser.close()


def test_sso_into_a_second_client_without_a_password_form(op: OP) -> None:
    browser, first, _ = _signed_in(op, "rp")
    url, verifier = op.authorize_url("spa")  # first party: no consent page either
    done = browser.follow(browser.get(url))
    assert done.status_code == 303, done.text
    answer = query_of(done)
    assert answer["iss"] == op.url
    tokens = op.redeem(answer["code"], verifier, "spa").json()
    sid_one = decode_part(first["id_token"], 1)["sid"]
    assert decode_part(tokens["id_token"], 1)["sid"] == sid_one
    # A third-party client gets the consent page, never a login form.
    url, _ = op.authorize_url("rp2")
    page = browser.follow(browser.get(url))
    assert forms(page.text)[0]["action"] == "/consent"
    browser.close()


def test_consent_is_remembered_and_prompt_consent_forces_it(op: OP) -> None:
    browser, _, _ = _signed_in(op, "rp")
    url, _ = op.authorize_url("rp")
    assert browser.follow(browser.get(url)).status_code == 303
    url, _ = op.authorize_url("rp", prompt="consent")
    page = browser.follow(browser.get(url))
    assert forms(page.text)[0]["action"] == "/consent"
    denied = browser.submit(page, {}, button="deny")
    assert query_of(denied)["error"] == "access_denied"
    browser.close()


def test_prompt_none_without_session_is_login_required(op: OP) -> None:
    url, _ = op.authorize_url("rp", prompt="none")
    answer = query_of(op.browser().get(url))
    assert answer["error"] == "login_required" and answer["iss"] == op.url and answer["state"]


def test_code_replay_revokes_what_it_issued(op: OP) -> None:
    browser = op.browser()
    url, verifier = op.authorize_url("rp")
    code = query_of(browser.sign_in(url))["code"]
    first = op.redeem(code, verifier).json()
    again = op.redeem(code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert op.http.get("/userinfo", headers=bearer).status_code == 401
    refreshed = op.http.post(
        "/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        auth=("rp", SECRETS["rp"]),
    )
    assert refreshed.json()["error"] == "invalid_grant"


def test_par_is_single_use_and_required_where_registered(op: OP) -> None:
    url, verifier = op.authorize_url("pushy")
    params = dict(httpx.URL(url).params)
    direct = op.browser().get(url)
    assert query_of(direct)["error"] == "invalid_request"
    pushed = op.http.post("/par", data=params, auth=("pushy", SECRETS["pushy"]))
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]
    assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")
    assert 0 < pushed.json()["expires_in"] <= 60
    browser = op.browser()
    done = browser.sign_in(f"{op.url}/authorize?client_id=pushy&request_uri={request_uri}")
    tokens = op.redeem(query_of(done)["code"], verifier, "pushy")
    assert tokens.status_code == 200, tokens.text
    reuse = browser.get(f"{op.url}/authorize?client_id=pushy&request_uri={request_uri}")
    assert reuse.status_code == 400 and "location" not in reuse.headers


def test_rp_logout_ends_every_grant_and_sends_backchannel_tokens(op: OP) -> None:
    assert op.services.provider.sender.wait_idle(10)
    op.listener.tokens.clear()
    browser, first, _ = _signed_in(op, "rp")
    url, verifier = op.authorize_url("rp2")
    second = op.redeem(query_of(browser.sign_in(url))["code"], verifier, "rp2").json()
    sid = decode_part(first["id_token"], 1)["sid"]
    started = time.monotonic()
    out = browser.get(
        "/end_session?"
        + httpx.QueryParams(
            id_token_hint=first["id_token"],
            post_logout_redirect_uri="https://rp.example/bye",
            state="s1",
        ).__str__()
    )
    assert time.monotonic() - started < 2  # never waits for the relying parties
    assert out.status_code == 303 and out.headers["location"] == "https://rp.example/bye?state=s1"
    received = op.listener.wait(2)
    assert len(received) == 2
    for token in received:
        assert decode_part(token, 0)["typ"] == "logout+jwt"
        claims = _verify(op, token, audience=jwtkit.ANY_AUDIENCE, typ="logout+jwt")
        assert claims["sid"] == sid and EVENT in claims["events"] and "nonce" not in claims
    assert {decode_part(t, 1)["aud"] for t in received} == {"rp", "rp2"}
    for tokens, cid in ((first, "rp"), (second, "rp2")):
        r = op.http.post(
            "/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=(cid, SECRETS[cid]),
        )
        assert r.json()["error"] == "invalid_grant"
    deliveries = op.services.provider.logouts.of_session(sid)
    assert {d.state for d in deliveries} == {"delivered"}
    url, _ = op.authorize_url("rp", prompt="none")
    assert query_of(browser.get(url))["error"] == "login_required"


def test_logout_without_hint_asks_and_unregistered_target_never_redirects(op: OP) -> None:
    browser, _, _ = _signed_in(op, "rp")
    page = browser.get("/end_session?client_id=rp&post_logout_redirect_uri=https://evil.example/")
    assert page.status_code == 200 and forms(page.text)[0]["action"] == "/end_session/confirm"
    done = browser.submit(page, {})
    assert done.status_code == 200 and "location" not in done.headers
    assert "Signed out" in done.text


def test_admin_disabling_a_user_logs_out_its_clients(op: OP) -> None:
    op.admin.add_user("carol", PASSWORD, [])
    assert op.services.provider.sender.wait_idle(10)
    op.listener.tokens.clear()
    browser = op.browser()
    url, verifier = op.authorize_url("rp")
    done = browser.sign_in(url, username="carol")
    tokens = op.redeem(query_of(done)["code"], verifier).json()
    op.admin.disable_user("carol")
    received = op.listener.wait(1)
    assert [decode_part(t, 1)["sub"] for t in received] == [
        decode_part(tokens["id_token"], 1)["sub"]
    ]


def test_session_cookie_attributes(op: OP) -> None:
    browser, _, _ = _signed_in(op, "spa")
    session = [h for h in browser.set_cookie_headers if h.startswith("__Host-jwtkit-session=")]
    assert session
    attrs = {a.strip().split("=")[0].lower() for a in session[0].split(";")[1:]}
    assert {"secure", "httponly", "path"} <= attrs and "domain" not in attrs
    assert "samesite=lax" in session[0].lower()


@pytest.mark.parametrize("path", ["/authorize?client_id=rp", "/end_session"])
def test_pages_refuse_framing(op: OP, path: str) -> None:
    r = op.http.get(path)
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_redirect_registrations_use_the_loopback_port_rule(op: OP) -> None:
    url, _ = op.authorize_url("rp", redirect_uri="http://127.0.0.1:43123/rp/callback")
    page = op.browser().get(url)
    assert page.status_code == 200 and forms(page.text)[0]["action"] == "/login"
    assert REDIRECTS["rp"] == "http://127.0.0.1/rp/callback"
