"""A real browser on the login page: Playwright driving Debian's chromium signs in, checks the
session cookie's attributes, refuses to be framed, and takes the screenshot used in docs/sso.md
(written to ``docs/img/sso-login.png`` when ``JWTKIT_DOCS_SCREENSHOT=1``)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, sync_playwright

from .oidc_support import OP, PASSWORD

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_PNG = Path(__file__).resolve().parents[2] / "docs" / "img" / "sso-login.png"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "chromium is required (scripts/ensure-services.sh)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_sign_in_with_a_real_browser(op: OP, chromium: Browser, tmp_path: Path) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 720}, device_scale_factor=2)
    try:
        page = context.new_page()
        callback = f"{op.url}/spa/callback"  # loopback: any port matches (RFC 8252 §7.3)
        url, _ = op.authorize_url("spa", login_hint="alice", redirect_uri=callback)
        page.goto(url)
        assert page.locator("h1").inner_text() == "Sign in"
        page.locator("#password").fill(PASSWORD)
        shot = tmp_path / "sso-login.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if os.environ.get("JWTKIT_DOCS_SCREENSHOT"):
            DOCS_PNG.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_PNG)
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/spa/callback\?"))
        answer = parse_qs(urlsplit(page.url).query)
        assert answer["code"] and answer["iss"] == [op.url]
        cookies: dict[str, Any] = {c["name"]: c for c in context.cookies(op.url)}
        session = cookies["__Host-jwtkit-session"]
        assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax"
        assert session["path"] == "/" and not session["domain"].startswith(".")
        csrf = cookies["__Host-jwtkit-csrf"]
        assert csrf["secure"] and csrf["httpOnly"]
        # Signed in: a second authorization goes straight back with a code (SSO).
        page.goto(op.authorize_url("spa", redirect_uri=callback)[0])
        page.wait_for_url(re.compile(r"/spa/callback\?"))
        assert parse_qs(urlsplit(page.url).query)["code"]
    finally:
        context.close()


def test_the_login_page_cannot_be_framed(op: OP, chromium: Browser) -> None:
    context = chromium.new_context()
    try:
        page = context.new_page()
        framed = op.authorize_url("spa")[0]
        page.route(
            "https://attacker.example/",
            lambda route: route.fulfill(
                status=200, content_type="text/html", body=f'<iframe src="{framed}"></iframe>'
            ),
        )
        page.goto("https://attacker.example/")
        page.wait_for_timeout(500)
        children = [f for f in page.frames if f != page.main_frame]
        assert len(children) == 1
        # Chromium obeys X-Frame-Options/frame-ancestors: the frame shows no login form.
        assert children[0].locator("#password").count() == 0
    finally:
        context.close()
