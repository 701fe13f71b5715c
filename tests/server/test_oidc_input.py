"""Bad input at the OpenID Connect endpoints, one table row per case: open redirects of every
kind, reflected markup in every parameter, refused request forms, code misuse at the token
endpoint, login and consent CSRF, session fixation, huge requests. Never a 500."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from .oidc_support import OP, PASSWORD, REDIRECTS, SECRETS, forms, pkce, query_of

MARKUP = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


@dataclass(frozen=True)
class Row:
    """An authorization request that differs from a valid one for ``rp`` by ``change``
    (a value of None drops the parameter). ``error`` None: an error page, never a redirect;
    otherwise the error sent to the registered redirect URI."""

    name: str
    change: dict[str, str | None] = field(default_factory=dict)
    error: str | None = None


ROWS = [
    # Open redirects: an error page, never a Location.
    Row("unregistered", {"redirect_uri": "https://evil.example/callback"}),
    Row("longer-path", {"redirect_uri": "https://rp.example/callback/more"}),
    Row("dot-segment", {"redirect_uri": "https://rp.example/callback/../evil"}),
    Row("other-port-non-loopback", {"redirect_uri": "https://rp.example:8443/callback"}),
    Row("fragment", {"redirect_uri": "https://rp.example/callback#evil"}),
    Row("extra-query", {"redirect_uri": "https://rp.example/callback?next=https://evil"}),
    Row("http-downgrade", {"redirect_uri": "http://rp.example/callback"}),
    Row("userinfo-host", {"redirect_uri": "https://rp.example@evil.example/callback"}),
    Row("host-case", {"redirect_uri": "https://RP.example/callback"}),
    Row("percent-encoded", {"redirect_uri": "https://rp.example/%63allback"}),
    Row("loopback-fragment", {"redirect_uri": "http://127.0.0.1:5000/rp/callback#x"}),
    Row("loopback-other-path", {"redirect_uri": "http://127.0.0.1:5000/rp/callbackX"}),
    Row("loopback-localhost", {"redirect_uri": "http://localhost/rp/callback"}),
    Row("loopback-https", {"redirect_uri": "https://127.0.0.1/rp/callback"}),
    Row("loopback-lookalike", {"redirect_uri": "http://127.0.0.1.evil.example/rp/callback"}),
    Row("missing-redirect-uri", {"redirect_uri": None}),
    Row("unknown-client", {"client_id": "nobody"}),
    Row("missing-client", {"client_id": None}),
    Row("non-par-request-uri", {"request_uri": "https://evil.example/request.jwt"}),
    Row("unknown-par-request-uri", {"request_uri": "urn:ietf:params:oauth:request_uri:nope"}),
    # Errors that go back to the client (RFC 6749 §4.1.2.1), with state and iss.
    Row("plain-pkce", {"code_challenge_method": "plain"}, "invalid_request"),
    Row("no-pkce-method", {"code_challenge_method": None}, "invalid_request"),
    Row("no-pkce", {"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
    Row("short-challenge", {"code_challenge": "abc"}, "invalid_request"),
    Row("token-response", {"response_type": "token"}, "unsupported_response_type"),
    Row("hybrid-response", {"response_type": "code id_token"}, "unsupported_response_type"),
    Row("no-response-type", {"response_type": None}, "invalid_request"),
    Row("fragment-mode", {"response_mode": "fragment"}, "invalid_request"),
    Row("request-object", {"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    Row("bogus-prompt", {"prompt": "select_account"}, "invalid_request"),
    Row("prompt-none-and-login", {"prompt": "none login"}, "invalid_request"),
    Row("negative-max-age", {"max_age": "-1"}, "invalid_request"),
    Row("scope-beyond-client", {"scope": "openid admin"}, "invalid_scope"),
    Row("no-scope", {"scope": None}, "invalid_scope"),
    Row("prompt-none-no-session", {"prompt": "none"}, "login_required"),
]


def _url(op: OP, change: dict[str, str | None]) -> str:
    _, challenge = pkce()
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "rp",
        "redirect_uri": "https://rp.example/callback",
        "scope": "openid",
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **change,
    }
    return f"{op.url}/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_authorization_request_errors(op: OP, row: Row) -> None:
    r = op.plain.get(_url(op, row.change))
    assert r.status_code < 500, r.text
    if row.error is None:
        assert r.status_code == 400 and "location" not in r.headers, r.headers
        assert r.headers["x-frame-options"] == "DENY"
        return
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert location.startswith("https://rp.example/callback?")
    answer = query_of(r)
    assert (answer["error"], answer["state"], answer["iss"]) == (row.error, "st-1", op.url)


def test_row_names_are_unique() -> None:
    assert len({r.name for r in ROWS}) == len(ROWS)


PARAMS = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "request_uri",
    "unknown_param",
]


@pytest.mark.parametrize("name", PARAMS)
def test_markup_is_never_reflected(op: OP, name: str) -> None:
    r = op.plain.get(_url(op, {name: MARKUP}))
    assert r.status_code < 500
    assert "<script>" not in r.text and "<img" not in r.text
    location = r.headers.get("location")
    if location is not None:
        assert location.startswith("https://rp.example/callback?")
        assert "<script>" not in location
    if name == "login_hint":  # shown, escaped, in the login form
        assert "&#34;&gt;&lt;script&gt;" in r.text


def test_markup_in_the_login_form_is_not_reflected(op: OP) -> None:
    browser = op.browser()
    page = browser.get(_url(op, {}))
    again = browser.submit(page, {"username": MARKUP, "password": MARKUP})
    assert again.status_code == 401 and "<script>" not in again.text


def _signed_in_code(op: OP, client_id: str = "rp") -> tuple[str, str]:
    url, verifier = op.authorize_url(client_id)
    return query_of(op.browser().sign_in(url))["code"], verifier


@pytest.mark.parametrize(
    ("name", "change", "auth"),
    [
        ("wrong-verifier", {"code_verifier": pkce()[0]}, ("rp", SECRETS["rp"])),
        ("short-verifier", {"code_verifier": "abc"}, ("rp", SECRETS["rp"])),
        ("no-verifier", {"code_verifier": None}, ("rp", SECRETS["rp"])),
        ("other-client", {}, ("rp2", SECRETS["rp2"])),
        ("other-redirect-uri", {"redirect_uri": "http://127.0.0.1:1/rp/callback"}, None),
        ("no-redirect-uri", {"redirect_uri": None}, ("rp", SECRETS["rp"])),
        ("unknown-code", {"code": "not-a-code"}, ("rp", SECRETS["rp"])),
    ],
)
def test_code_misuse_at_the_token_endpoint(
    op: OP, name: str, change: dict[str, str | None], auth: tuple[str, str] | None
) -> None:
    code, verifier = _signed_in_code(op)
    data: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECTS["rp"],
        "code_verifier": verifier,
        **change,
    }
    r = op.http.post(
        "/token",
        data={k: v for k, v in data.items() if v is not None},
        auth=auth or ("rp", SECRETS["rp"]),
    )
    expected = "invalid_request" if name == "no-verifier" else "invalid_grant"
    assert (r.status_code, r.json()["error"]) == (400, expected), r.text


def test_login_csrf_is_refused(op: OP) -> None:
    browser = op.browser()
    page = browser.get(_url(op, {}))
    form = forms(page.text)[0]
    forged = {**form["fields"], "csrf": "x" * 43, "username": "alice", "password": PASSWORD}
    r = browser.post("/login", forged)
    assert r.status_code == 403 and "location" not in r.headers
    other = op.browser()  # another browser: no CSRF cookie at all
    r = other.post("/login", {**form["fields"], "username": "alice", "password": PASSWORD})
    assert r.status_code == 403
    assert "__Host-jwtkit-session" not in other.cookies


def test_consent_csrf_is_refused(op: OP) -> None:
    browser = op.browser()
    page = browser.follow(browser.get(op.authorize_url("rp", prompt="consent")[0]))
    page = browser.submit(page, {"username": "alice", "password": PASSWORD})
    form = forms(page.text)[0]
    assert form["action"] == "/consent"
    r = browser.post("/consent", {**form["fields"], "csrf": "y" * 43, "decision": "allow"})
    assert r.status_code == 403 and "location" not in r.headers


def test_login_interaction_of_another_browser_is_refused(op: OP) -> None:
    victim = op.browser()
    page = victim.get(_url(op, {}))
    handle = forms(page.text)[0]["fields"]["interaction"]
    attacker = op.browser()
    own = attacker.get(_url(op, {}))
    csrf = forms(own.text)[0]["fields"]["csrf"]
    r = attacker.post(
        "/login",
        {"interaction": handle, "csrf": csrf, "username": "alice", "password": PASSWORD},
    )
    assert r.status_code == 400 and "location" not in r.headers


def test_session_fixation(op: OP) -> None:
    browser = op.browser()
    planted = "attacker-chosen-value-0123456789abcdefghijkl"
    browser.cookies["__Host-jwtkit-session"] = planted
    url, _ = op.authorize_url("spa")
    assert forms(browser.follow(browser.get(url)).text)[0]["action"] == "/login"
    done = browser.sign_in(op.authorize_url("spa")[0])
    assert done.status_code == 303
    first = browser.cookies["__Host-jwtkit-session"]
    assert first != planted
    # Signing in again (prompt=login) gives a new session cookie value again.
    browser.sign_in(op.authorize_url("spa", prompt="login")[0])
    assert browser.cookies["__Host-jwtkit-session"] not in (planted, first)
    stale = op.browser()
    stale.cookies["__Host-jwtkit-session"] = first
    r = stale.get(op.authorize_url("spa", prompt="none")[0])
    assert query_of(r)["error"] == "login_required"


def _raw_get(op: OP, target: str) -> bytes:
    """Send a GET over a plain socket (httpx refuses such URLs) and read the status line."""
    url = httpx.URL(op.url)
    request = f"GET {target} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n\r\n".encode()
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        # The server may stop reading early; what it answered is read below.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        try:
            return sock.recv(4096)
        except ConnectionResetError:
            return b""


def test_ten_megabyte_query_string(op: OP) -> None:
    answer = _raw_get(op, f"/authorize?client_id=rp&state={'a' * 10_000_000}")
    status = answer.split(b"\r\n", 1)[0]
    # Refused with a 4xx (or the connection closed), never a 500 and never a redirect.
    assert answer == b"" or status.split()[1].startswith(b"4"), status
    assert b"location:" not in answer.lower()
    assert op.http.get("/healthz").status_code == 200
    answer = _raw_get(op, f"/authorize?client_id=rp&state={'a' * 20_000}")
    assert answer.split()[1] in (b"400", b"414", b"431"), answer[:200]


def test_huge_parameters_and_repeats_are_pages(op: OP) -> None:
    repeated = _url(op, {}) + "&client_id=rp2"
    r = op.plain.get(repeated)
    assert r.status_code == 400 and "location" not in r.headers
    r = op.plain.get(_url(op, {"state": "s" * 5000}))
    assert r.status_code in (303, 400) and r.status_code < 500
    if r.status_code == 303:
        assert "s" * 5000 not in r.headers["location"]


def test_no_500_on_malformed_forms(op: OP) -> None:
    for path in ("/login", "/consent", "/end_session", "/end_session/confirm", "/par"):
        for body, ctype in (
            (b"\xff\xfe", "application/x-www-form-urlencoded"),
            (b"a=1&a=2", "application/x-www-form-urlencoded"),
            (b"{}", "application/json"),
        ):
            r = op.http.post(path, content=body, headers={"content-type": ctype})
            assert 400 <= r.status_code < 500, (path, body, r.text)
    for path in ("/end_session?id_token_hint=abc", "/end_session?client_id=nobody"):
        r = op.http.get(path)
        assert r.status_code == 400 and "location" not in r.headers
    r = op.http.get("/userinfo", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]
    assert httpx.URL(op.url).host == "127.0.0.1"
    assert parse_qs(urlsplit("https://x/?a=1").query) == {"a": ["1"]}
