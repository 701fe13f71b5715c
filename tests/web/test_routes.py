"""The relying party's routes over real HTTP, in both adapters (Starlette/FastAPI app A and
Flask app B from jwtkit.web.demo), against the small OpenID provider of conftest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from jwtkit.web import MemorySessionStore, RelyingParty, RelyingPartyConfig
from jwtkit.web.demo import app_a, app_b, make_guard
from verifiers.conftest import UvicornThread, WerkzeugThread

from .conftest import CLIENT_ID, DeferredASGI, DeferredWSGI, TinyOP


class App:
    def __init__(self, url: str, rp: RelyingParty) -> None:
        self.url = url
        self.rp = rp
        self.prefix = rp.config.cookie_prefix


@pytest.fixture(scope="module", params=["fastapi", "flask"])
def app(request: pytest.FixtureRequest, tiny_op: TinyOP) -> Iterator[App]:
    if request.param == "fastapi":
        slot: Any = DeferredASGI()
        server: Any = UvicornThread(slot, lifespan="off")
        factory = app_a
    else:
        slot = DeferredWSGI()
        server = WerkzeugThread(slot)
        factory = app_b
    config = RelyingPartyConfig(
        issuer=tiny_op.issuer, client_id=CLIENT_ID, client_secret="s", base_url=server.url
    )
    rp = RelyingParty(config, store=MemorySessionStore())
    slot.app = factory(rp, make_guard(rp, "https://api.test"))
    server.start()
    try:
        yield App(server.url, rp)
    finally:
        server.stop()
        rp.close()


def _set_cookies(r: httpx.Response) -> dict[str, str]:
    out = {}
    for value in r.headers.get_list("set-cookie"):
        out[value.split("=", 1)[0]] = value
    return out


def _client(app: App) -> httpx.Client:
    # httpx keeps Secure cookies only over https: carry them by hand on this http loopback.
    return httpx.Client(timeout=10, follow_redirects=False)


def _jar(r: httpx.Response) -> dict[str, str]:
    return {
        name: value.split(";", 1)[0].split("=", 1)[1]
        for name, value in _set_cookies(r).items()
        if "Max-Age=0" not in value
    }


def test_login_sets_a_host_cookie(app: App, op: TinyOP) -> None:
    with _client(app) as client:
        r = client.get(app.url + "/login")
    assert r.status_code == 302
    assert r.headers["location"].startswith(op.issuer + "/authorize?")
    cookie = _set_cookies(r)[app.prefix + "login"]
    for part in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=600"):
        assert part in cookie.split("; ")
    assert "Domain" not in cookie


def test_callback_sets_the_session(app: App, op: TinyOP) -> None:
    with _client(app) as client:
        r = client.get(app.url + "/login", params={"next": "/x"})
        login_cookie = _jar(r)
        query = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
        op.token_responses.append((200, op.tokens(query["nonce"])))
        r = client.get(
            app.url + "/auth/callback",
            params={"code": "c", "state": query["state"], "iss": op.issuer},
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in login_cookie.items())},
        )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/x"
    cookies = _set_cookies(r)
    session = cookies[app.prefix + "session"].split("; ")
    csrf = cookies[app.prefix + "csrf"].split("; ")
    assert {"Path=/", "Secure", "HttpOnly", "SameSite=Lax"} <= set(session)
    assert {"Path=/", "Secure", "SameSite=Lax"} <= set(csrf) and "HttpOnly" not in csrf
    assert "Max-Age=0" in cookies[app.prefix + "login"]  # the login cookie is used up
    # The page shows the user.
    jar = _jar(r)
    home = httpx.get(
        app.url + "/",
        headers={"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())},
        timeout=10,
    )
    assert 'id="username">alice<' in home.text
    assert home.headers["x-frame-options"] == "DENY"


def test_callback_errors_are_pages_that_echo_nothing_raw(app: App, op: TinyOP) -> None:
    with _client(app) as client:
        r = client.get(app.url + "/login")
        login = _jar(r)
        state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
        r = client.get(
            app.url + "/auth/callback",
            params={"error": "<script>alert(1)</script>", "state": state, "iss": op.issuer},
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in login.items())},
        )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in r.text and "&lt;script&gt;" in r.text
    assert "authorization_error" in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    # Without the login cookie: no sign-in is pending.
    r = httpx.get(app.url + "/auth/callback", params={"code": "c", "state": "s"}, timeout=10)
    assert r.status_code == 400 and "login_state_missing" in r.text


def _signed_in(app: App, op: TinyOP) -> dict[str, str]:
    with _client(app) as client:
        r = client.get(app.url + "/login")
        login = _jar(r)
        query = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
        op.token_responses.append((200, op.tokens(query["nonce"])))
        r = client.get(
            app.url + "/auth/callback",
            params={"code": "c", "state": query["state"], "iss": op.issuer},
            headers={"Cookie": "; ".join(f"{k}={v}" for k, v in login.items())},
        )
    assert r.status_code == 303
    return _jar(r)


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def test_logout(app: App, op: TinyOP) -> None:
    jar = _signed_in(app, op)
    cookie = _cookie_header(jar)
    page = httpx.get(app.url + "/logout", headers={"Cookie": cookie}, timeout=10)
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    own = {"Cookie": cookie, "Origin": app.url}
    # A forged logout: no token, a token of the page but another origin.
    r = httpx.post(app.url + "/logout", headers=own, timeout=10)
    assert r.status_code == 403 and r.json()["error"] == "csrf_token_missing"
    r = httpx.post(
        app.url + "/logout",
        data={"csrf_token": token},
        headers={**own, "Origin": "http://localhost:1"},
        timeout=10,
    )
    assert r.status_code == 403 and r.json()["error"] == "cross_origin_request"
    session_id = jar[app.prefix + "session"]
    assert app.rp.session(session_id) is not None
    r = httpx.post(app.url + "/logout", data={"csrf_token": token}, headers=own, timeout=10)
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith(op.issuer + "/end?")
    assert parse_qs(urlsplit(location).query)["client_id"] == [CLIENT_ID]
    assert app.rp.session(session_id) is None
    cleared = _set_cookies(r)
    assert "Max-Age=0" in cleared[app.prefix + "session"]
    # Without a session the logout page just goes home.
    r = httpx.get(app.url + "/logout", headers={"Cookie": cookie}, timeout=10)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_backchannel_endpoint(app: App, op: TinyOP) -> None:
    jar = _signed_in(app, op)
    session_id = jar[app.prefix + "session"]
    url = app.url + "/auth/backchannel-logout"
    r = httpx.post(url, data={"logout_token": op.logout_token(nonce="n")}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert app.rp.session(session_id) is not None
    r = httpx.post(url, data={"logout_token": op.logout_token()}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    assert app.rp.session(session_id) is None
    r = httpx.post(url, content=b"logout_token=" + b"a" * 70_000, timeout=10)
    assert r.status_code == 413
    r = httpx.get(url, timeout=10)
    assert r.status_code == 405


def test_api_without_a_session_is_401_json(app: App) -> None:
    r = httpx.get(app.url + "/api/me", timeout=10)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/json")
    assert "location" not in r.headers
    r = httpx.post(app.url + "/api/notes", json={"text": "x"}, timeout=10)
    assert r.status_code == 401  # no cookie, no Origin: nothing to forge with
