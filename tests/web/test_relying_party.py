"""The relying party against a small OpenID provider on loopback: login checks, refresh,
back-channel logout receiver, RP-initiated logout."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from jwtkit.web import LoginError, LogoutTokenError, RelyingParty, RelyingPartyConfig
from jwtkit.web.relying_party import BACKCHANNEL_LOGOUT_EVENT
from jwtkit.web.sessions import session_key
from verifiers.conftest import FakeClock

from .conftest import CLIENT_ID, TinyOP, sign_in


def _start(rp: RelyingParty, return_to: str | None = "/after") -> tuple[Any, dict[str, str]]:
    start = rp.begin_login(return_to)
    return start, {k: v[0] for k, v in parse_qs(urlsplit(start.url).query).items()}


# -- login -------------------------------------------------------------------------------


def test_sign_in(rp: RelyingParty, op: TinyOP) -> None:
    start, query = _start(rp)
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["redirect_uri"] == "http://127.0.0.1:9/auth/callback"
    assert set(query["scope"].split()) >= {"openid"}
    op.token_responses.append((200, op.tokens(query["nonce"])))
    session_id, session, return_to = rp.finish_login(
        {"code": "c1", "state": query["state"], "iss": op.issuer}, start.transaction
    )
    assert return_to == "/after"
    assert session.sub == "alice" and session.sid == "op-session-1"
    assert session.username == "alice"
    assert rp.session(session_id) is not None
    assert rp.access_token(session_id) == "at-1"
    # The token request: the PKCE verifier fits the challenge, client_secret_basic was used.
    sent = op.token_requests[-1]
    assert sent["grant_type"] == "authorization_code"
    import hashlib

    digest = hashlib.sha256(sent["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    assert "client_secret" not in sent
    # The store holds the session under the hash of its id, never under the id itself.
    assert session.key == session_key(session_id) != session_id


def test_pushed_authorization_request(rp: RelyingParty, op: TinyOP) -> None:
    op.par = True
    with RelyingParty(rp.config, store=rp.store, clock=rp.clock) as fresh:
        start = fresh.begin_login()
    query = parse_qs(urlsplit(start.url).query)
    assert set(query) == {"client_id", "request_uri"}
    pushed = op.token_requests[-1]
    assert pushed["code_challenge_method"] == "S256"
    assert pushed["response_type"] == "code"
    assert "state" in pushed and "nonce" in pushed


@pytest.mark.parametrize("target", ["//evil.test/x", "https://evil.test", "/\\evil", "", None])
def test_return_path_stays_on_the_app(rp: RelyingParty, op: TinyOP, target: str | None) -> None:
    start, query = _start(rp, target)
    op.token_responses.append((200, op.tokens(query["nonce"])))
    _, _, return_to = rp.finish_login(
        {"code": "c", "state": query["state"], "iss": op.issuer}, start.transaction
    )
    assert return_to == "/"


def _refused(rp: RelyingParty, params: dict[str, str], transaction: str | None) -> str:
    with pytest.raises(LoginError) as exc:
        rp.finish_login(params, transaction)
    return exc.value.code


def test_state_and_transaction(rp: RelyingParty, op: TinyOP) -> None:
    start, query = _start(rp)
    ok = {"code": "c", "state": query["state"], "iss": op.issuer}
    assert _refused(rp, ok, None) == "login_state_missing"
    assert _refused(rp, ok, "another-browser") == "login_state_missing"
    assert _refused(rp, {**ok, "state": "forged"}, start.transaction) == "state_mismatch"
    # The pending login was used up by the failed attempt: single use.
    assert _refused(rp, ok, start.transaction) == "login_state_missing"


def test_login_timeout(rp: RelyingParty, op: TinyOP, rp_clock: FakeClock) -> None:
    start, query = _start(rp)
    rp_clock.advance(rp.config.login_timeout + 1)
    ok = {"code": "c", "state": query["state"], "iss": op.issuer}
    assert _refused(rp, ok, start.transaction) == "login_state_missing"


def test_iss_parameter(rp: RelyingParty, op: TinyOP) -> None:
    """RFC 9207: the issuer advertises iss, so it is required and must match."""
    for iss in (None, "http://evil.test", op.issuer + "/"):
        start, query = _start(rp)
        params = {"code": "c", "state": query["state"]}
        if iss is not None:
            params["iss"] = iss
        assert _refused(rp, params, start.transaction) == "iss_mismatch"


def test_authorization_error(rp: RelyingParty, op: TinyOP) -> None:
    start, query = _start(rp)
    params = {"error": "access_denied", "state": query["state"], "iss": op.issuer}
    with pytest.raises(LoginError) as exc:
        rp.finish_login(params, start.transaction)
    assert exc.value.code == "authorization_error"
    assert exc.value.oauth_error == "access_denied"


def test_token_endpoint_refuses(rp: RelyingParty, op: TinyOP) -> None:
    start, query = _start(rp)
    op.token_responses.append((400, {"error": "invalid_grant"}))
    with pytest.raises(LoginError) as exc:
        rp.finish_login({"code": "c", "state": query["state"], "iss": op.issuer}, start.transaction)
    assert exc.value.code == "token_error"
    assert exc.value.oauth_error == "invalid_grant"


def _bad_id_token(op: TinyOP, nonce: str) -> list[tuple[str, dict[str, Any]]]:
    now = int(time.time())
    good = op.tokens(nonce)
    rows: list[tuple[str, dict[str, Any]]] = [
        ("wrong nonce", op.tokens("other-nonce")),
        ("no nonce", {**good, "id_token": op.id_token(nonce=None)}),
        ("wrong at_hash", op.tokens(nonce, access_token="at-1", at_hash="AAAA")),
        ("at_hash of another token", {**good, "access_token": "at-2"}),
        ("wrong aud", op.tokens(nonce, aud="someone-else")),
        ("wrong iss", op.tokens(nonce, iss="http://evil.test")),
        ("expired", op.tokens(nonce, iat=now - 4000, exp=now - 3600)),
        ("azp of another client", op.tokens(nonce, aud=[CLIENT_ID, "x"], azp="x")),
        ("several aud, no azp", op.tokens(nonce, aud=[CLIENT_ID, "x"])),
        ("no sub", op.tokens(nonce, sub=None)),
        ("not a Bearer token", {**good, "token_type": "DPoP"}),
        ("no id_token", {k: v for k, v in good.items() if k != "id_token"}),
        ("no access_token", {k: v for k, v in good.items() if k != "access_token"}),
        ("garbage id_token", {**good, "id_token": "a.b.c"}),
    ]
    claims = {"iss": op.issuer, "sub": "alice", "aud": CLIENT_ID, "iat": now, "exp": now + 60}
    claims["nonce"] = nonce
    rows.append(("typ at+jwt", {**good, "id_token": op.sign(claims, typ="at+jwt")}))
    rows.append(("typ logout+jwt", {**good, "id_token": op.sign(claims, typ="logout+jwt")}))
    rows.append(("another key", {**good, "id_token": op.sign(claims, key=op.other_key)}))
    return rows


def test_id_token_checks(rp: RelyingParty, op: TinyOP) -> None:
    names = [name for name, _ in _bad_id_token(op, "n")]
    for index, name in enumerate(names):
        start, query = _start(rp)
        _, tokens = _bad_id_token(op, query["nonce"])[index]
        op.token_responses.append((200, tokens))
        params = {"code": "c", "state": query["state"], "iss": op.issuer}
        with pytest.raises(LoginError) as exc:
            rp.finish_login(params, start.transaction)
        assert exc.value.code == "invalid_id_token", name


def test_unreachable_issuer(op: TinyOP) -> None:
    config = RelyingPartyConfig(
        issuer="http://127.0.0.1:9", client_id="c", base_url="http://a.test"
    )
    with RelyingParty(config) as rp, pytest.raises(LoginError) as exc:
        rp.begin_login()
    assert exc.value.code == "issuer_unavailable"


# -- refresh -----------------------------------------------------------------------------


def test_refresh_before_expiry(rp: RelyingParty, op: TinyOP, rp_clock: FakeClock) -> None:
    session_id, _ = sign_in(rp, op)
    rp_clock.advance(100)
    assert rp.access_token(session_id) == "at-1"  # far from expiry: no refresh
    assert op.token_requests[-1]["grant_type"] == "authorization_code"
    rp_clock.advance(300 - 100 - rp.config.refresh_margin + 1)  # within the margin
    op.token_responses.append((200, op.tokens(None, access_token="at-2")))
    assert rp.access_token(session_id) == "at-2"
    sent = op.token_requests[-1]
    assert sent == {"grant_type": "refresh_token", "refresh_token": "rt-at-1"}
    session = rp.session(session_id)
    assert session is not None and session.refresh_token == "rt-at-2"


def test_refresh_failure_ends_the_session(
    rp: RelyingParty, op: TinyOP, rp_clock: FakeClock
) -> None:
    session_id, session = sign_in(rp, op)
    rp_clock.advance(290)
    op.token_responses.append((400, {"error": "invalid_grant"}))
    assert rp.session(session_id) is None
    assert rp.access_token(session_id) is None
    assert rp.store.load(session.key) is None  # gone from the store, not just hidden


def test_refresh_with_a_bad_id_token_ends_the_session(
    rp: RelyingParty, op: TinyOP, rp_clock: FakeClock
) -> None:
    session_id, _ = sign_in(rp, op)
    rp_clock.advance(290)
    op.token_responses.append((200, op.tokens(None, access_token="at-2", sub="mallory")))
    assert rp.session(session_id) is None


def test_issuer_down_keeps_a_still_valid_token(op: TinyOP, rp_clock: FakeClock) -> None:
    from jwtkit.web import MemorySessionStore

    config = RelyingPartyConfig(issuer=op.issuer, client_id=CLIENT_ID, base_url="http://a.test")
    store = MemorySessionStore(clock=rp_clock)
    with RelyingParty(config, store=store, clock=rp_clock) as rp:
        session_id, _ = sign_in(rp, op)
        rp._metadata = {**rp.metadata(), "token_endpoint": "http://127.0.0.1:9/token"}
        rp_clock.advance(290)  # within the margin, not expired: the old token still serves
        assert rp.access_token(session_id) == "at-1"
        rp_clock.advance(20)  # expired and still no issuer: the session ends
        assert rp.access_token(session_id) is None


def test_session_lifetime(rp: RelyingParty, op: TinyOP, rp_clock: FakeClock) -> None:
    session_id, _ = sign_in(rp, op)
    rp_clock.advance(rp.config.session_lifetime + 1)
    assert rp.session(session_id) is None


# -- back-channel logout -----------------------------------------------------------------


def _reason(rp: RelyingParty, token: str | None) -> str:
    with pytest.raises(LogoutTokenError) as exc:
        rp.backchannel_logout(token)
    assert exc.value.code == "invalid_logout_token"
    return exc.value.reason


def test_backchannel_logout_ends_the_session(rp: RelyingParty, op: TinyOP) -> None:
    session_id, _ = sign_in(rp, op)
    other_id, _ = sign_in(rp, op, sid="op-session-2")
    assert rp.backchannel_logout(op.logout_token(sid="op-session-1")) == 1
    assert rp.session(session_id) is None
    assert rp.session(other_id) is not None  # another OP session of the same user stays


def test_backchannel_logout_by_sub(rp: RelyingParty, op: TinyOP) -> None:
    a, _ = sign_in(rp, op)
    b, _ = sign_in(rp, op, sid="op-session-2")
    assert rp.backchannel_logout(op.logout_token(sid=None)) == 2
    assert rp.session(a) is None and rp.session(b) is None


def test_backchannel_replayed_jti(rp: RelyingParty, op: TinyOP) -> None:
    token = op.logout_token()
    rp.backchannel_logout(token)
    assert _reason(rp, token) == "replayed"
    # The same jti in another token is a replay too.
    again = op.logout_token(jti=_claims(token)["jti"], sid="x")
    assert _reason(rp, again) == "replayed"


def _claims(token: str) -> dict[str, Any]:
    import json

    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


def test_backchannel_refusals(rp: RelyingParty, op: TinyOP) -> None:
    now = int(time.time())
    session_id, _ = sign_in(rp, op)
    rows = [
        ("invalid", op.logout_token(aud="another-client")),
        ("invalid", op.logout_token(iss="http://evil.test")),
        ("invalid", op.logout_token(iat=now - 4000, exp=now - 3600)),  # expired
        ("invalid", op.logout_token(exp=None)),
        ("invalid", op.logout_token(jti=None)),
        ("invalid", op.logout_token(iat=None)),
        ("invalid", op.sign(_claims(op.logout_token()), typ="logout+jwt", key=op.other_key)),
        ("invalid", "not-a-jwt"),
        ("invalid", None),
        ("invalid", ""),
        ("has_nonce", op.logout_token(nonce="n-1")),
        ("wrong_typ", op.logout_token(typ="JWT")),
        ("wrong_typ", op.logout_token(typ="at+jwt")),
        ("no_event", op.logout_token(events=None)),
        ("no_event", op.logout_token(events={"other": {}})),
        ("no_event", op.logout_token(events={BACKCHANNEL_LOGOUT_EVENT: "yes"})),
        ("no_sid_or_sub", op.logout_token(sid=None, sub=None)),
        ("invalid", op.logout_token(sid=5)),
        ("invalid", op.logout_token(jti=7)),
    ]
    for reason, token in rows:
        assert _reason(rp, token) == reason, token
    assert rp.session(session_id) is not None  # none of them ended the session


def test_an_id_token_is_not_a_logout_token(rp: RelyingParty, op: TinyOP) -> None:
    token = op.id_token(nonce=None, jti="j-1", events={BACKCHANNEL_LOGOUT_EVENT: {}})
    assert _reason(rp, token) == "wrong_typ"


# -- RP-initiated logout -----------------------------------------------------------------


def test_logout_redirects_to_the_issuer(rp: RelyingParty, op: TinyOP) -> None:
    session_id, session = sign_in(rp, op)
    url = rp.logout(session_id)
    parts = urlsplit(url)
    assert url.startswith(op.issuer + "/end?")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["id_token_hint"] == session.id_token
    assert query["client_id"] == CLIENT_ID
    assert query["post_logout_redirect_uri"] == "http://127.0.0.1:9/"
    assert rp.session(session_id) is None
    # Without a session there is nothing to tell the issuer.
    assert rp.logout(session_id) == "/"
    assert rp.logout(None) == "/"


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_with_shared_stores(op: TinyOP, rp_clock: FakeClock, kind: str, tmp_path: Any) -> None:
    """The same sign-in, refresh failure and back-channel logout with the SQL and Redis stores."""
    import uuid

    import redis

    from jwtkit.web import RedisSessionStore, SQLSessionStore
    from verifiers.conftest import REDIS_URL

    prefix = f"jwtkit-test-web:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(REDIS_URL)
    if kind == "sqlite":
        store: Any = SQLSessionStore(f"sqlite:///{tmp_path}/rp.db", clock=rp_clock)
    else:
        store = RedisSessionStore(client, prefix=prefix, clock=rp_clock)
    config = RelyingPartyConfig(issuer=op.issuer, client_id=CLIENT_ID, base_url="http://a.test")
    try:
        with RelyingParty(config, store=store, clock=rp_clock) as rp:
            a, _ = sign_in(rp, op)
            b, _ = sign_in(rp, op, sid="op-session-2")
            assert rp.backchannel_logout(op.logout_token(sid="op-session-2")) == 1
            assert rp.session(b) is None and rp.session(a) is not None
            # Two processes (two relying parties on one store) refresh one session at once:
            # one refresh reaches the issuer, both get its result.
            rp_clock.advance(290)
            with RelyingParty(config, store=store, clock=rp_clock) as other:
                op.token_responses.append((200, op.tokens(None, access_token="at-2")))
                op.token_delay = 0.3
                before = len(op.token_requests)
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(2) as pool:
                    got = list(pool.map(lambda party: party.access_token(a), [rp, other]))
                op.token_delay = 0.0
                assert got == ["at-2", "at-2"]
                assert len(op.token_requests) == before + 1
            rp_clock.advance(290)
            op.token_responses.append((400, {"error": "invalid_grant"}))
            assert rp.session(a) is None
    finally:
        if kind == "sqlite":
            store.engine.dispose()
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
        client.close()
