"""The browser scenario shared by the tests against jwtkit's own OpenID provider and against
node oidc-provider: Playwright driving /usr/bin/chromium through apps A (FastAPI) and B (Flask).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from jwtkit.web import RelyingParty
from verifiers.conftest import WerkzeugThread

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright (never downloaded)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _forge_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """An attacker's page: a form that posts to ``target`` by itself on load. The
    ``text/plain`` encoding makes its body look like JSON (a classic CSRF trick)."""
    from urllib.parse import parse_qs

    target = parse_qs(environ.get("QUERY_STRING", "")).get("target", [""])[0]
    page = (
        "<!doctype html><html><body>"
        f'<form id="f" method="post" enctype="text/plain" action="{target}/api/notes">'
        '<input name=\'{"text":"forged","x":"\' value=\'"}\'></form>'
        "<script>document.getElementById('f').submit()</script></body></html>"
    )
    start_response("200 OK", [("Content-Type", "text/html")])
    return [page.encode()]


@contextmanager
def attacker() -> Iterator[int]:
    """Serves the forged form on 127.0.0.1:<port> (reachable as ``localhost`` too)."""
    server = WerkzeugThread(_forge_app).start()
    try:
        yield server.port
    finally:
        server.stop()


@dataclass
class WebEnv:
    """What the scenario needs: the apps' URLs and relying parties, the issuer."""

    issuer: str
    app_a: str
    app_b: str
    rp_a: RelyingParty
    rp_b: RelyingParty
    username: str
    password: str
    fill_login: Callable[[Page, str, str], None]
    confirm_logout: Callable[[Page], None] = field(default=lambda page: None)


def _loopback_only(route: Route) -> None:
    host = urlsplit(route.request.url).hostname
    if host in ("127.0.0.1", "localhost", "::1"):
        route.continue_()
    else:
        route.abort()


def _fetch(page: Page, method: str, path: str, csrf: bool, body: Any = None) -> dict[str, Any]:
    """Call the app's API from its own page (same origin, the browser adds the cookies)."""
    script = """async ([method, path, csrf, body]) => {
        let token = "";
        for (const part of document.cookie.split("; ")) {
            const [name, value] = part.split("=");
            if (name === document.body.dataset.csrfCookie) token = value;
        }
        const headers = {"Content-Type": "application/json"};
        if (csrf) headers["X-CSRF-Token"] = token;
        const r = await fetch(path, {method, headers, body: body === null ? undefined : body});
        return {status: r.status, text: await r.text()};
    }"""
    out: dict[str, Any] = page.evaluate(script, [method, path, csrf, body])
    return out


def _username(page: Page) -> str:
    return page.locator("#username").inner_text(timeout=TIMEOUT_MS)


def run(env: WebEnv, browser: Browser, report: Callable[[str], None]) -> dict[str, Any]:
    """The whole browser walk; asserts every step and returns what it measured."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", _loopback_only)
    try:
        return _walk(env, context, report)
    finally:
        context.close()


def _walk(env: WebEnv, context: BrowserContext, report: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    page = context.new_page()
    # 1. Sign in at A through the real login page.
    page.goto(env.app_a + "/")
    page.click("#login")
    page.wait_for_url(lambda url: url.startswith(env.issuer))
    assert page.locator('input[type="password"]').count() == 1, "no login form at the issuer"
    start = time.monotonic()
    env.fill_login(page, env.username, env.password)
    page.wait_for_url(env.app_a + "/")
    out["sign_in_seconds"] = round(time.monotonic() - start, 3)
    assert _username(page) == env.username
    report(f"signed in at A ({env.app_a}) as {env.username} through the issuer's login page")

    # 2. The cookies: the session's is __Host-, Secure, HttpOnly, SameSite=Lax, Path=/.
    cookies = {c["name"]: c for c in context.cookies(env.app_a)}
    session_cookie = cookies[env.rp_a.config.session_cookie]
    assert session_cookie["name"].startswith("__Host-")
    assert session_cookie["httpOnly"] is True
    assert session_cookie["secure"] is True
    assert session_cookie["sameSite"] == "Lax"
    assert session_cookie["path"] == "/"
    assert "domain" not in session_cookie or session_cookie["domain"] in ("127.0.0.1", "")
    csrf_cookie = cookies[env.rp_a.config.csrf_cookie]
    assert "csrf" in csrf_cookie["name"] and csrf_cookie["httpOnly"] is False

    # 3. No script can read a token.
    seen = page.evaluate(
        """() => ({cookie: document.cookie,
                   local: JSON.stringify(Object.entries(localStorage)),
                   session: JSON.stringify(Object.entries(sessionStorage)),
                   sizes: [localStorage.length, sessionStorage.length]})"""
    )
    session = env.rp_a.session(session_cookie["value"])
    assert session is not None
    secrets_ = [session.access_token, session.id_token, session.refresh_token or "<none>"]
    visible = seen["cookie"] + seen["local"] + seen["session"]
    for secret in secrets_:
        assert secret not in visible
        for part in secret.split("."):  # not even a piece of a JWT
            assert len(part) < 16 or part not in visible
    assert session_cookie["value"] not in visible
    assert env.rp_a.config.session_cookie not in seen["cookie"]
    assert [n.split("=")[0] for n in seen["cookie"].split("; ")] == [csrf_cookie["name"]]
    assert seen["sizes"] == [0, 0]
    report(
        f"document.cookie shows only {csrf_cookie['name']}; localStorage and sessionStorage empty"
    )

    # 4. POST /api/notes from the app's page with and without the header.
    r = _fetch(page, "POST", "/api/notes", True, json.dumps({"text": "from the page"}))
    assert r["status"] == 201, r
    r = _fetch(page, "POST", "/api/notes", False, json.dumps({"text": "no header"}))
    assert r["status"] == 403, r
    assert json.loads(r["text"])["error"] == "csrf_token_missing"
    page.fill("#note", "typed")
    page.click("#notes button")
    # expect() polls from Playwright's own script: a string for wait_for_function is eval'd in
    # the page, which the app's CSP (no 'unsafe-eval') refuses since Playwright 1.65.
    expect(page.locator("#status")).to_have_text("201")
    report("POST /api/notes from A's page: 201 with X-CSRF-Token, 403 csrf_token_missing without")

    # 5. Forged auto-submitting forms: same site (another port), then cross-site (localhost).
    with attacker() as port:
        for origin, kind in (
            (f"http://127.0.0.1:{port}", "same-site"),
            (f"http://localhost:{port}", "cross-site"),
        ):
            evil = context.new_page()
            with evil.expect_response(lambda resp: resp.url == env.app_a + "/api/notes") as info:
                evil.goto(f"{origin}/forge?target={quote(env.app_a, safe='')}")
            response = info.value
            assert response.status == 403, (kind, response.status)
            body = json.loads(response.text())
            assert body["error"] == "cross_origin_request", body
            assert "location" not in response.headers
            out[f"forged_{kind}"] = f"{response.status} {body['error']}"
            evil.close()
    notes = json.loads(_fetch(page, "GET", "/api/notes", False)["text"])
    assert [n["text"] for n in notes] == ["from the page", "typed"]
    report(
        f"forged form from another port of 127.0.0.1: {out['forged_same-site']}; "
        f"from localhost: {out['forged_cross-site']}; no note was added"
    )

    # 6. SSO into B: no password form.
    page_b = context.new_page()
    issuer_pages: list[Any] = []
    page_b.on(
        "response",
        lambda resp: (
            issuer_pages.append(resp)
            if resp.url.startswith(env.issuer)
            and resp.status == 200
            and "text/html" in resp.headers.get("content-type", "")
            else None
        ),
    )
    page_b.goto(env.app_b + "/")
    page_b.click("#login")
    page_b.wait_for_url(env.app_b + "/")
    assert _username(page_b) == env.username
    for resp in issuer_pages:
        assert 'type="password"' not in resp.text(), resp.url
    r = _fetch(page_b, "GET", "/api/me", False)
    assert r["status"] == 200 and json.loads(r["text"])["username"] == env.username, r
    report(
        f"signed in at B ({env.app_b}) by SSO, no password form ({len(issuer_pages)} issuer pages)"
    )

    # 7. Logout at A ends B's session (back-channel logout).
    page.goto(env.app_a + "/logout")
    page.click("#logout")
    env.confirm_logout(page)
    clicked = time.monotonic()
    latency = None
    for _ in range(500):  # bounded: 500 x ~10 ms
        if _fetch(page_b, "GET", "/api/me", False)["status"] == 401:
            latency = time.monotonic() - clicked
            break
        time.sleep(0.01)
    assert latency is not None, "B's session did not end"
    out["b_signed_out_after_seconds"] = round(latency, 3)
    page.wait_for_url(lambda url: url.split("?")[0] == env.app_a + "/")  # ?state=...
    assert page.locator("#login").count() == 1
    assert _fetch(page, "GET", "/api/me", False)["status"] == 401
    page_b.reload()
    assert page_b.locator("#login").count() == 1
    report(f"logout at A: B's session ended {latency * 1000:.0f} ms later (back-channel logout)")
    assert latency < 1.0, latency
    return out


def _expire_soon(rp: RelyingParty, session_id: str) -> None:
    """Make the session's access token expire within the refresh margin (server side)."""
    from jwtkit.web.sessions import session_key

    session = rp.store.load(session_key(session_id))
    assert session is not None
    session.access_expires_at = time.time() + rp.config.refresh_margin / 2
    rp.store.save(session)


def run_refresh(env: WebEnv, browser: Browser, report: Callable[[str], None]) -> None:
    """Server-side refresh against the real issuer, then a refresh the issuer refuses (the
    refresh token revoked there, RFC 7009) ends the app session."""
    import httpx

    from jwtkit.web.sessions import session_key

    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", _loopback_only)
    try:
        page = context.new_page()
        page.goto(env.app_a + "/login")
        env.fill_login(page, env.username, env.password)
        page.wait_for_url(env.app_a + "/")
        cookies = {c["name"]: c["value"] for c in context.cookies(env.app_a)}
        session_id = cookies[env.rp_a.config.session_cookie]
        before = env.rp_a.store.load(session_key(session_id))
        assert before is not None and before.refresh_token is not None
        _expire_soon(env.rp_a, session_id)
        assert _fetch(page, "GET", "/api/me", False)["status"] == 200
        after = env.rp_a.store.load(session_key(session_id))
        assert after is not None and after.access_token != before.access_token
        report("refresh on the server before expiry: new access token, the page saw nothing")
        # Revoke the refresh token at the issuer; the next refresh is refused.
        cfg = env.rp_a.config
        endpoint = env.rp_a.metadata()["revocation_endpoint"]
        assert cfg.client_secret is not None
        r = httpx.post(
            endpoint,
            data={"token": after.refresh_token, "token_type_hint": "refresh_token"},
            auth=(cfg.client_id, cfg.client_secret),
            timeout=10,
        )
        assert r.status_code == 200, r.text
        _expire_soon(env.rp_a, session_id)
        r2 = _fetch(page, "GET", "/api/me", False)
        assert r2["status"] == 401, r2
        assert env.rp_a.store.load(session_key(session_id)) is None
        page.reload()
        assert page.locator("#login").count() == 1
        report("refresh refused by the issuer (token revoked): the app session ended, API 401")
    finally:
        context.close()
