"""The CSRF check (signed double-submit bound to the session; Origin / Sec-Fetch-Site) and
BearerGuard's cookie mode in its ASGI and Flask adapters, over real HTTP."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import jwtkit.middleware.csrf as csrf_module
from jwtkit.middleware import BearerGuard, RequestFacts, access_token_verifier
from jwtkit.middleware.csrf import CSRFError, CSRFPolicy, origin_of
from verifiers.conftest import MiniIssuer, UvicornThread, WerkzeugThread

APP = "http://127.0.0.1:8001"
SECRET = secrets.token_bytes(32)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def fastapi_app(guard: BearerGuard) -> Any:
    """FastAPI with the dependency (and the JSON error handler)."""
    from fastapi import Depends, FastAPI

    from jwtkit.middleware import Principal
    from jwtkit.middleware.asgi import AuthHTTPException, BearerAuth, auth_error_handler

    app = FastAPI()
    app.add_exception_handler(AuthHTTPException, auth_error_handler)
    auth = BearerAuth(guard)

    @app.api_route("/me", methods=METHODS)
    async def me(principal: Principal = Depends(auth)) -> dict[str, Any]:
        return {"sub": principal.subject}

    return app


def starlette_app(guard: BearerGuard) -> Any:
    """Starlette with the middleware."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from jwtkit.middleware.asgi import BearerAuthMiddleware

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.state.jwtkit.subject})

    app = Starlette(routes=[Route("/me", me, methods=METHODS)])
    app.add_middleware(BearerAuthMiddleware, guard=guard)
    return app


def flask_app(guard: BearerGuard) -> Any:
    """Flask with the extension on every view."""
    from flask import Flask, g

    from jwtkit.middleware.wsgi import FlaskBearerAuth

    app = Flask("jwtkit-test-csrf")
    FlaskBearerAuth(app, guard=guard)

    @app.route("/me", methods=METHODS)
    def me() -> dict[str, Any]:
        return {"sub": g.jwtkit.subject}

    return app


@pytest.fixture
def policy() -> CSRFPolicy:
    return CSRFPolicy(SECRET, allowed_origins=[APP])


def _code(exc: pytest.ExceptionInfo[CSRFError]) -> str:
    assert exc.value.status == 403
    assert "WWW-Authenticate" not in exc.value.headers
    return str(exc.value.code)


# -- the token ---------------------------------------------------------------------------


def test_token_bound_to_its_session(policy: CSRFPolicy) -> None:
    token = policy.issue("session-1")
    policy.check_token("session-1", token, token)  # passes


def test_missing_token(policy: CSRFPolicy) -> None:
    token = policy.issue("session-1")
    for sent in (None, ""):
        with pytest.raises(CSRFError) as exc:
            policy.check_token("session-1", sent, token)
        assert _code(exc) == "csrf_token_missing"


@pytest.mark.parametrize(
    "sent",
    ["x", "nodot", "a.b", "." * 300, "é.ü", "AAAA." + "0" * 64],
)
def test_wrong_token(policy: CSRFPolicy, sent: str) -> None:
    with pytest.raises(CSRFError) as exc:
        policy.check_token("session-1", sent, sent)
    assert _code(exc) == "csrf_token_invalid"


def test_another_sessions_token(policy: CSRFPolicy) -> None:
    theirs = policy.issue("session-2")
    with pytest.raises(CSRFError) as exc:
        policy.check_token("session-1", theirs, theirs)
    assert _code(exc) == "csrf_token_invalid"


def test_token_from_another_secret(policy: CSRFPolicy) -> None:
    other = CSRFPolicy(secrets.token_bytes(32), allowed_origins=[APP]).issue("session-1")
    with pytest.raises(CSRFError) as exc:
        policy.check_token("session-1", other, other)
    assert _code(exc) == "csrf_token_invalid"


def test_header_must_equal_the_cookie(policy: CSRFPolicy) -> None:
    a, b = policy.issue("session-1"), policy.issue("session-1")
    for cookie in (b, None, ""):
        with pytest.raises(CSRFError) as exc:
            policy.check_token("session-1", a, cookie)
        assert _code(exc) == "csrf_token_invalid"


def test_tampered_mac(policy: CSRFPolicy) -> None:
    token = policy.issue("session-1")
    nonce, mac = token.split(".")
    forged = f"{nonce}.{mac[:-1]}{'0' if mac[-1] != '0' else '1'}"
    with pytest.raises(CSRFError):
        policy.check_token("session-1", forged, forged)


def test_compares_in_constant_time(policy: CSRFPolicy, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both comparisons (header vs cookie, MAC vs expected) go through hmac.compare_digest,
    and a mismatch of the first still runs the second (no early exit on the cookie)."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(csrf_module.hmac, "compare_digest", spy)
    token = policy.issue("session-1")
    policy.check_token("session-1", token, token)
    assert len(calls) == 2
    assert calls[0] == (token.encode(), token.encode())
    calls.clear()
    with pytest.raises(CSRFError):
        policy.check_token("session-1", token, policy.issue("session-1"))
    assert len(calls) == 2


def test_bad_configuration() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CSRFPolicy(b"short", allowed_origins=[APP])
    with pytest.raises(ValueError, match="csrf"):
        CSRFPolicy(SECRET, allowed_origins=[APP], cookie_name="__Host-token")
    with pytest.raises(ValueError, match="origin"):
        CSRFPolicy(SECRET, allowed_origins=[])
    with pytest.raises(ValueError):
        CSRFPolicy(SECRET, allowed_origins=["ftp://x"])


# -- the origin --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "site"),
    [
        ("http://127.0.0.1:8002", None),  # same site, other origin (another port)
        ("http://localhost:8001", None),  # cross-site
        ("https://127.0.0.1:8001", None),  # other scheme
        ("null", None),  # sandboxed / opaque origin
        ("garbage", None),
        (None, "cross-site"),
        (None, "same-site"),
        (APP, "cross-site"),  # inconsistent: refused
    ],
)
def test_unsafe_request_from_elsewhere(
    policy: CSRFPolicy, origin: str | None, site: str | None
) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE", "PROPFIND"):
        with pytest.raises(CSRFError) as exc:
            policy.check_origin(method, origin, site)
        assert _code(exc) == "cross_origin_request"


@pytest.mark.parametrize(
    ("origin", "site"), [(APP, "same-origin"), (APP, None), (None, None), (None, "none")]
)
def test_unsafe_request_from_the_app(
    policy: CSRFPolicy, origin: str | None, site: str | None
) -> None:
    policy.check_origin("POST", origin, site)


def test_safe_methods_pass_any_origin(policy: CSRFPolicy) -> None:
    for method in ("GET", "HEAD", "OPTIONS", "get"):
        policy.check_origin(method, "http://evil.test", "cross-site")
    policy.check(
        method="GET",
        session_id="s",
        sent=None,
        cookie=None,
        origin="http://evil.test",
        sec_fetch_site="cross-site",
    )


def test_origin_of() -> None:
    assert origin_of("http://127.0.0.1:80/x") == "http://127.0.0.1"
    assert origin_of("https://A.example:443") == "https://a.example"
    assert origin_of("http://[::1]:8000/") == "http://[::1]:8000"
    with pytest.raises(ValueError):
        origin_of("/relative")


# -- cookie mode in BearerGuard's adapters -----------------------------------------------


class Sessions:
    """A session source for the guard: session id -> access token."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def access_token(self, session_id: str) -> str | None:
        return self.tokens.get(session_id)

    async def aaccess_token(self, session_id: str) -> str | None:
        return self.tokens.get(session_id)


def test_cookie_mode_needs_sessions_and_csrf(mini_issuer: MiniIssuer) -> None:
    verifier = access_token_verifier(
        mini_issuer.keys[0],
        issuer=mini_issuer.issuer,
        audience=mini_issuer.audience,
        algorithms=["ES256"],
    )
    with pytest.raises(ValueError, match="credentials"):
        BearerGuard(verifier, credentials="query")
    with pytest.raises(ValueError, match="sessions"):
        BearerGuard(verifier, credentials="cookie")


@pytest.fixture(scope="module")
def mini_issuer() -> Iterator[MiniIssuer]:
    with MiniIssuer() as iss:
        yield iss


def _guard(iss: MiniIssuer, sessions: Sessions, credentials: str, origin: str) -> BearerGuard:
    verifier = access_token_verifier(
        iss.keys[0], issuer=iss.issuer, audience=iss.audience, algorithms=["ES256"]
    )
    policy = CSRFPolicy(SECRET, allowed_origins=[origin])
    return BearerGuard(verifier, credentials=credentials, sessions=sessions, csrf=policy)


@pytest.fixture(scope="module", params=["fastapi", "starlette", "flask"])
def servers(request: pytest.FixtureRequest, mini_issuer: MiniIssuer) -> Iterator[dict[str, Any]]:
    """One server per credentials mode for one adapter; the guard's allowed origin is the
    server's own."""
    out: dict[str, Any] = {"sessions": Sessions()}
    started: list[Any] = []
    for mode in ("header", "cookie", "both"):
        holder: dict[str, Any] = {}

        def deferred(*args: Any, _h: dict[str, Any] = holder) -> Any:
            return _h["app"](*args)

        if request.param == "flask":
            server: Any = WerkzeugThread(deferred)
            guard = _guard(mini_issuer, out["sessions"], mode, server.url)
            holder["app"] = flask_app(guard)
        else:

            async def adeferred(scope: Any, receive: Any, send: Any, _h: Any = holder) -> None:
                await _h["app"](scope, receive, send)

            server = UvicornThread(adeferred, lifespan="off")
            guard = _guard(mini_issuer, out["sessions"], mode, server.url)
            factory = fastapi_app if request.param == "fastapi" else starlette_app
            holder["app"] = factory(guard)
        started.append(server.start())
        out[mode] = server.url
    out["policy"] = CSRFPolicy(SECRET, allowed_origins=[APP])
    try:
        yield out
    finally:
        for server in started:
            server.stop()


def _sign_in(servers: dict[str, Any], iss: MiniIssuer) -> tuple[str, str, str]:
    session_id = secrets.token_urlsafe(32)
    token = iss.token(scope="read write")
    servers["sessions"].tokens[session_id] = token
    return session_id, servers["policy"].issue(session_id), token


def _cookies(session_id: str, csrf: str | None) -> dict[str, str]:
    out = {"__Host-jwtkit-session": session_id}
    if csrf is not None:
        out["__Host-jwtkit-csrf"] = csrf
    return out


def _call(
    url: str, method: str, path: str, *, cookies: dict[str, str], headers: dict[str, str]
) -> httpx.Response:
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return httpx.request(method, url + path, headers={**headers, "Cookie": cookie}, timeout=10)


def test_cookie_mode_over_http(servers: dict[str, Any], mini_issuer: MiniIssuer) -> None:
    session_id, csrf, token = _sign_in(servers, mini_issuer)
    url = servers["cookie"]
    jar = _cookies(session_id, csrf)
    # A safe request with the cookie: the session's access token is verified.
    r = _call(url, "GET", "/me", cookies=jar, headers={})
    assert r.status_code == 200, r.text
    assert r.json()["sub"] == "alice"
    # No cookie: 401, never a redirect.
    r = httpx.get(url + "/me", timeout=10)
    assert r.status_code == 401
    # An unknown (or ended) session: 401 invalid_token.
    r = _call(url, "GET", "/me", cookies=_cookies("nope", None), headers={})
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    # cookie only: an Authorization header alone is not a credential.
    r = httpx.get(url + "/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 401


def _json_403(r: httpx.Response, code: str) -> None:
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "location" not in r.headers
    body = r.json()
    assert code in (body.get("error"), body.get("detail")), body


def test_unsafe_methods_need_the_csrf_header(
    servers: dict[str, Any], mini_issuer: MiniIssuer
) -> None:
    session_id, csrf, _ = _sign_in(servers, mini_issuer)
    url = servers["cookie"]
    other_sid, other_csrf, _ = _sign_in(servers, mini_issuer)
    own = {"Origin": url}
    jar = _cookies(session_id, csrf)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        r = _call(url, method, "/me", cookies=jar, headers=own)
        _json_403(r, "csrf_token_missing")
        r = _call(url, method, "/me", cookies=jar, headers={**own, "X-CSRF-Token": "x.y"})
        _json_403(r, "csrf_token_invalid")
        # another session's token (with its cookie) does not fit this session
        r = _call(
            url,
            method,
            "/me",
            cookies={**jar, "__Host-jwtkit-csrf": other_csrf},
            headers={**own, "X-CSRF-Token": other_csrf},
        )
        _json_403(r, "csrf_token_invalid")
        r = _call(url, method, "/me", cookies=jar, headers={**own, "X-CSRF-Token": csrf})
        assert r.status_code == 200, r.text
        assert r.json() == {"sub": "alice"}
        assert other_sid != session_id


def test_unsafe_methods_from_another_origin(
    servers: dict[str, Any], mini_issuer: MiniIssuer
) -> None:
    session_id, csrf, _ = _sign_in(servers, mini_issuer)
    url = servers["cookie"]
    jar = _cookies(session_id, csrf)
    good = {"X-CSRF-Token": csrf}
    for headers in (
        {"Origin": "http://127.0.0.1:1"},
        {"Origin": "http://localhost:1"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        r = _call(url, "POST", "/me", cookies=jar, headers={**good, **headers})
        _json_403(r, "cross_origin_request")
    # Refused before anything else: even without a cookie.
    r = httpx.post(url + "/me", headers={"Sec-Fetch-Site": "cross-site"}, timeout=10)
    _json_403(r, "cross_origin_request")


def test_header_mode_ignores_the_cookie(servers: dict[str, Any], mini_issuer: MiniIssuer) -> None:
    session_id, csrf, token = _sign_in(servers, mini_issuer)
    url = servers["header"]
    r = _call(url, "GET", "/me", cookies=_cookies(session_id, csrf), headers={})
    assert r.status_code == 401
    r = httpx.get(url + "/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200


def test_both_mode(servers: dict[str, Any], mini_issuer: MiniIssuer) -> None:
    session_id, csrf, token = _sign_in(servers, mini_issuer)
    url = servers["both"]
    assert (
        _call(url, "GET", "/me", cookies=_cookies(session_id, csrf), headers={}).status_code == 200
    )
    # The header wins and needs no CSRF token (a browser never adds it by itself).
    r = httpx.get(url + "/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200
    r = _call(url, "POST", "/me", cookies=_cookies(session_id, csrf), headers={})
    _json_403(r, "csrf_token_missing")


def test_guard_request_facts_directly(mini_issuer: MiniIssuer) -> None:
    sessions = Sessions()
    guard = _guard(mini_issuer, sessions, "cookie", APP)
    sessions.tokens["s1"] = mini_issuer.token()
    facts = RequestFacts(method="GET", cookies={"__Host-jwtkit-session": "s1"})
    assert guard.authenticate_request(facts).subject == "alice"
    ws = RequestFacts(
        method="GET",
        cookies={"__Host-jwtkit-session": "s1"},
        origin="http://evil.test",
        websocket=True,
    )
    with pytest.raises(CSRFError):
        guard.authenticate_request(ws)  # cross-site WebSocket hijacking
    ok_ws = RequestFacts(
        method="GET", cookies={"__Host-jwtkit-session": "s1"}, origin=APP, websocket=True
    )
    assert guard.authenticate_request(ok_ws).subject == "alice"
