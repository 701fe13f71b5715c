"""The relying party against a real, independent OpenID provider: npm's oidc-provider (panva),
driven by chromium through Playwright. PAR, PKCE S256, RFC 9207 iss, refresh tokens, JWT
access tokens (RFC 9068) for the apps' API, RP-initiated and back-channel logout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from jwtkit.web import RelyingParty, RelyingPartyConfig
from jwtkit.web.demo import app_a, app_b, make_guard
from verifiers.conftest import UvicornThread, WerkzeugThread
from verifiers.test_interop_oidc_provider import node_script

from .browser import WebEnv, chromium, run, run_refresh
from .conftest import DeferredASGI, DeferredWSGI

pytestmark = pytest.mark.slow
RESOURCE = "https://api.notes.test"


def _client(client_id: str, url: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "client_secret": f"secret-{client_id}",
        "redirect_uris": [url + "/auth/callback"],
        "post_logout_redirect_uris": [url + "/"],
        "backchannel_logout_uri": url + "/auth/backchannel-logout",
    }


@pytest.fixture(scope="module")
def node_env() -> Iterator[WebEnv]:
    slot_a, slot_b = DeferredASGI(), DeferredWSGI()
    server_a = UvicornThread(slot_a, lifespan="off")
    server_b = WerkzeugThread(slot_b)
    clients = [_client("app-a", server_a.url), _client("app-b", server_b.url)]
    env = {"CLIENTS": json.dumps(clients), "RESOURCE": RESOURCE}
    rps: list[RelyingParty] = []
    with node_script("rp_provider.mjs", env) as run:
        try:
            issuer = run.first["issuer"]
            apps = ((clients[0], slot_a, app_a), (clients[1], slot_b, app_b))
            for client, slot, factory in apps:
                config = RelyingPartyConfig(
                    issuer=issuer,
                    client_id=client["client_id"],
                    client_secret=client["client_secret"],
                    base_url=client["redirect_uris"][0].rsplit("/auth/", 1)[0],
                    resource=RESOURCE,
                    cookie_prefix=f"__Host-{client['client_id']}-",
                )
                rp = RelyingParty(config)
                rps.append(rp)
                slot.app = factory(rp, make_guard(rp, RESOURCE))
            server_a.start()
            server_b.start()
            yield WebEnv(
                issuer=issuer,
                app_a=server_a.url,
                app_b=server_b.url,
                rp_a=rps[0],
                rp_b=rps[1],
                username="alice",
                password="any password",
                fill_login=_fill_login,
                confirm_logout=_confirm_logout,
            )
        finally:
            server_a.stop()
            server_b.stop()
            for rp in rps:
                rp.close()
    assert b"server_error" not in run.stderr, run.stderr
    assert b"backchannel.error" not in run.stderr, run.stderr


def _fill_login(page: Page, username: str, password: str) -> None:
    page.fill('input[name="login"]', username)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')


def _confirm_logout(page: Page) -> None:
    page.click('button[name="logout"][value="yes"]')  # oidc-provider's "Yes, sign me out"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def test_browser_walk_with_oidc_provider(
    node_env: WebEnv, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    out = run(node_env, browser, lines.append)
    with capsys.disabled():
        print("\n[oidc-provider] " + "\n[oidc-provider] ".join(lines))
        print(f"[oidc-provider] measured: {out}")


def test_refresh_with_oidc_provider(
    node_env: WebEnv, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    run_refresh(node_env, browser, lines.append)
    with capsys.disabled():
        print("\n[oidc-provider] " + "\n[oidc-provider] ".join(lines))


def test_par_and_discovery(node_env: WebEnv) -> None:
    """oidc-provider advertises PAR and RFC 9207; the RP uses PAR and nothing else."""
    meta = node_env.rp_a.metadata()
    assert meta["pushed_authorization_request_endpoint"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    start = node_env.rp_a.begin_login("/")
    assert "request_uri=urn" in start.url and "code_challenge" not in start.url
    r = httpx.get(start.url, follow_redirects=False, timeout=10)
    assert r.status_code in (302, 303), r.text  # to the login interaction


def test_backchannel_receiver_refuses_forgery(node_env: WebEnv) -> None:
    r = httpx.post(
        node_env.app_b + "/auth/backchannel-logout", data={"logout_token": "a.b.c"}, timeout=10
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert r.headers["cache-control"] == "no-store"
