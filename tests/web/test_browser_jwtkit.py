"""The browser walk against jwtkit's own OpenID provider: ``jwtkit demo --web``'s two apps, A
(FastAPI) and B (Flask), signing in through the token service's login page (Playwright +
/usr/bin/chromium). Also the command's contract: the JSON line, ``--for``, SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from jwtkit.cli.demo_web import PASSWORD, USER, WebDemo

from .browser import WebEnv, chromium, run, run_refresh

pytestmark = pytest.mark.slow


def _fill_login(page: Page, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click('button[type="submit"]')


def _confirm_logout(page: Page) -> None:
    """jwtkit asks for a confirmation only when the id_token_hint does not fit the session."""
    page.wait_for_load_state()
    confirm = page.locator('form[action="/end_session/confirm"] button')
    if confirm.count():
        confirm.click()


@pytest.fixture(scope="module")
def demo() -> Iterator[WebDemo]:
    running = WebDemo().start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _env(demo: WebDemo) -> WebEnv:
    return WebEnv(
        issuer=demo.issuer,
        app_a=demo.app_a,
        app_b=demo.app_b,
        rp_a=demo.rp_a,
        rp_b=demo.rp_b,
        username=USER,
        password=PASSWORD,
        fill_login=_fill_login,
        confirm_logout=_confirm_logout,
    )


def test_browser_walk_with_jwtkit(
    demo: WebDemo, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    out = run(_env(demo), browser, lines.append)
    with capsys.disabled():
        print("\n[jwtkit] " + "\n[jwtkit] ".join(lines))
        print(f"[jwtkit] measured: {out}")


def test_refresh_with_jwtkit(
    demo: WebDemo, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    run_refresh(_env(demo), browser, lines.append)
    with capsys.disabled():
        print("\n[jwtkit] " + "\n[jwtkit] ".join(lines))


def test_the_rp_uses_what_jwtkit_offers(demo: WebDemo) -> None:
    meta = demo.rp_a.metadata()
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["code_challenge_methods_supported"] == ["S256"]
    start = demo.rp_a.begin_login("/")
    # jwtkit advertises PAR, so the authorization URL carries only client_id and request_uri.
    assert ("request_uri=" in start.url) == bool(meta.get("pushed_authorization_request_endpoint"))
    r = httpx.get(start.url, timeout=10)
    assert r.status_code == 200 and 'type="password"' in r.text  # the login page


def test_demo_command(tmp_path: object) -> None:
    """``jwtkit demo --web --json --for S``: the first line is the JSON object, the apps answer,
    it stops by itself; SIGTERM stops it early."""
    argv = [sys.executable, "-c", "from jwtkit.cli import main; main()", "demo", "--web", "--json"]
    proc = subprocess.Popen(
        [*argv, "--for", "60"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert set(first) == {"issuer", "app_a", "app_b", "username", "password"}
        for app in (first["app_a"], first["app_b"]):
            page = httpx.get(app + "/", timeout=10)
            assert page.status_code == 200 and 'id="login"' in page.text
            assert httpx.get(app + "/api/me", timeout=10).status_code == 401
            r = httpx.post(app + "/api/notes", json={"text": "x"}, timeout=10)
            assert r.status_code in (401, 403)
        meta = httpx.get(first["issuer"] + "/.well-known/openid-configuration", timeout=10)
        assert meta.json()["issuer"] == first["issuer"]
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert time.monotonic() - start < 30
        with pytest.raises(httpx.HTTPError):
            httpx.get(first["issuer"] + "/healthz", timeout=2)  # the service stopped too
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
    done = subprocess.run([*argv, "--for", "1"], capture_output=True, timeout=60, check=False)
    assert done.returncode == 0
    assert json.loads(done.stdout.decode().splitlines()[0])["username"] == USER
