"""The OpenID Connect provider under test, shared by the OIDC test modules (session scope):
one real service on a loopback port with registered clients, a user, a back-channel logout
listener, and a small cookie-jar "browser" that submits the login and consent forms."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest

from jwtkit.server import build_services, create_app
from jwtkit.server.admin import AdminService

from .support import ServerThread, make_settings

PASSWORD = "alice-password"


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}, "buttons": []})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value", "")))


def forms(html: str) -> list[dict[str, Any]]:
    """The forms of a page: ``[{"action", "fields": {name: value}, "buttons": [(n, v)]}]``."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


class Browser:
    """A cookie-jar HTTP client that behaves like a browser towards ``origin``: it keeps the
    cookies the OP sets (``Secure`` ones too: Chromium sends them to http://127.0.0.1) and
    follows redirects while they stay on the OP."""

    def __init__(self, origin: str, http: httpx.Client) -> None:
        self.origin = origin
        self.http = http
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []

    def close(self) -> None:
        """Nothing to release: the HTTP client is the provider fixture's."""

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        url = urljoin(self.origin + "/", url)
        headers = dict(kwargs.pop("headers", {}))
        if url.startswith(self.origin) and self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, url, headers=headers, **kwargs)
        for raw in response.headers.get_list("set-cookie"):
            self.set_cookie_headers.append(raw)
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in raw.lower() or value in ("", '""'):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, data=data, **kwargs)

    def follow(self, response: httpx.Response, limit: int = 10) -> httpx.Response:
        """Follow redirects while they stay on the OP; returns the page or the redirect that
        leaves it."""
        for _ in range(limit):
            location = response.headers.get("location")
            if response.status_code not in (302, 303) or location is None:
                return response
            target = urljoin(str(response.url), location)
            if not target.startswith(self.origin):
                return response
            response = self.get(target)
        raise AssertionError("redirect loop")

    def submit(
        self, page: httpx.Response, values: dict[str, str], button: str | None = None
    ) -> httpx.Response:
        """Submit the page's first form with ``values`` (and the button ``button``)."""
        form = forms(page.text)[0]
        data = {**form["fields"], **values}
        if button is not None:
            data["decision"] = button
        return self.follow(self.post(form["action"], data))

    def sign_in(
        self,
        url: str,
        username: str = "alice",
        password: str = PASSWORD,
        consent: str = "allow",
    ) -> httpx.Response:
        """Open an authorization URL and go through the login and consent pages as needed;
        returns the redirect to the client (or the last page when there is none)."""
        response = self.follow(self.get(url))
        for _ in range(3):
            if response.status_code != 200 or "<form" not in response.text:
                return response
            action = forms(response.text)[0]["action"]
            if action == "/login":
                response = self.submit(response, {"username": username, "password": password})
            elif action == "/consent":
                response = self.submit(response, {}, button=consent)
            else:
                return response
        return response


def pkce() -> tuple[str, str]:
    """A PKCE pair (verifier, S256 challenge), RFC 7636 §4.1-4.2."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(response: httpx.Response) -> dict[str, str]:
    """The query parameters of a redirect's Location (one value each)."""
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class LogoutListener:
    """A loopback HTTP server collecting back-channel logout POSTs (``logout_token`` forms)."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.fail_next = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.tokens.extend(parse_qs(body).get("logout_token", []))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.tokens) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.tokens)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class OP:
    """The provider under test: ``url`` (issuer), ``services``, ``admin``, ``listener``."""

    url: str
    services: Any
    admin: AdminService
    listener: LogoutListener
    thread: ServerThread
    tmp: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        # The provider lives for the whole session: drop idle connections (2 s) before
        # uvicorn closes them (5 s), or a request can race the server's close (a reset).
        limits = httpx.Limits(keepalive_expiry=2.0)
        self.http = httpx.Client(base_url=self.url, timeout=30, limits=limits)
        self.plain = httpx.Client(timeout=30, follow_redirects=False, limits=limits)

    def browser(self) -> Browser:
        return Browser(self.url, self.plain)

    def authorize_url(self, client_id: str = "rp", **params: str) -> tuple[str, str]:
        """An authorization URL with fresh PKCE; returns (url, verifier)."""
        verifier, challenge = pkce()
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECTS[client_id],
            "scope": "openid profile email offline_access",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **params,
        }
        query = {k: v for k, v in query.items() if v != ""}
        return f"{self.url}/authorize?{urlencode(query)}", verifier

    def redeem(
        self, code: str, verifier: str, client_id: str = "rp", **extra: str
    ) -> httpx.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECTS[client_id],
            "code_verifier": verifier,
            **extra,
        }
        auth = (client_id, SECRETS[client_id]) if client_id in SECRETS else None
        if auth is None:
            data["client_id"] = client_id
        return self.http.post("/token", data=data, auth=auth)  # type: ignore[arg-type]


REDIRECTS = {
    "rp": "http://127.0.0.1/rp/callback",
    "rp2": "http://127.0.0.1/rp2/callback",
    "spa": "https://spa.example/callback",
    "pushy": "https://pushy.example/cb",
    "legacy": "https://legacy.example/cb",
}
SECRETS = {
    "rp": "rp-7Qh2mZ9vXc4Lp8Tn3Rb6Wy1Ks5Fd0Gj",
    "rp2": "rp2-V4nB8xQ2wE6rT1yU9iO3pA7sD5fG0hJ",
    "pushy": "pushy-K3jH7gF1dS9aP5oI2uY8tR4eW6qZ0xC",
    "node-rp": "node-M8nB3vC7xZ1lK5jH9gF2dS6aQ4wE0rT",
}  # random-looking: weak client secrets are refused


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="session")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OP]:
    """A running provider (SQLite) with user alice and clients rp, rp2 (confidential,
    third-party, back-channel logout to a loopback listener), spa (public, first party), pushy
    (PAR required) and legacy (password grant only)."""
    tmp = tmp_path_factory.mktemp("op")
    sock = free_socket()
    port = sock.getsockname()[1]
    settings = make_settings("sqlite", tmp, port, None, backchannel_logout_backoff=0.05)
    services = build_services(settings)
    listener = LogoutListener()
    admin = AdminService.from_services(services, actor="test")
    admin.add_user("alice", PASSWORD, ["read"])
    admin.set_user_claims("alice", email="alice@example.com", name="Alice <Liddell>")
    admin.add_user("bob", "bob-password", [])
    oidc = ["openid", "profile", "email", "offline_access", "read"]
    for cid in ("rp", "rp2", "pushy"):
        admin.add_client(
            cid,
            secret=SECRETS[cid],
            grant_types=["authorization_code", "refresh_token"],
            scope=oidc,
        )
    admin.add_client(
        "spa", secret=None, grant_types=["authorization_code", "refresh_token"], scope=oidc
    )
    admin.add_client("legacy", secret=None, grant_types=["password"], scope=["read"])
    for cid in ("rp", "rp2"):
        admin.register_client(
            cid,
            redirect_uris=[REDIRECTS[cid], f"https://{cid}.example/callback"],
            post_logout_redirect_uris=[f"https://{cid}.example/bye"],
            backchannel_logout_uri=listener.url,
        )
    admin.register_client(
        "spa", redirect_uris=[REDIRECTS["spa"], "http://127.0.0.1/spa/callback"], first_party=True
    )
    admin.register_client(
        "pushy", redirect_uris=[REDIRECTS["pushy"]], require_pushed_authorization_requests=True
    )
    app = create_app(services=services)
    thread = ServerThread(app, sock)
    thread.start()
    server = OP(f"http://127.0.0.1:{port}", services, admin, listener, thread, tmp)
    try:
        yield server
    finally:
        server.http.close()
        server.plain.close()
        thread.stop()
        listener.close()


def decode_part(token: str, index: int) -> dict[str, Any]:
    """A compact JWS's header (0) or payload (1), unverified (tests only)."""
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))
