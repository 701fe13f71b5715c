"""``jwtkit demo --web``: single sign-on between two web apps through the token service.

Everything runs on loopback ports chosen by the OS, and stops when the time runs out or on
SIGINT/SIGTERM:

* the token service: ``jwtkit serve`` in a subprocess, SQLite in a temporary directory, as the
  OpenID provider (login page, authorization code + PKCE, back-channel logout);
* app A (FastAPI) and app B (Flask) from :mod:`jwtkit.web.demo`, each an OpenID Connect
  client of the service (:class:`jwtkit.web.RelyingParty`), with its tokens kept on the server.

Sign in at A through the login page; B then signs in without a password (SSO); a logout at A
ends the session at B within a second (back-channel logout). With ``--json`` the first stdout
line is one JSON object ``{"issuer", "app_a", "app_b", "username", "password"}``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

__all__ = ["AUDIENCE", "PASSWORD", "USER", "WebDemo", "run_web_demo"]

AUDIENCE = "https://notes.demo"
USER, PASSWORD = "alice", "correct horse battery staple"
OIDC_SCOPES = ["openid", "profile", "email", "offline_access"]


class _WSGISlot:
    """An app slot: the server listens (its URL is known) before the app is built."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


class _ASGISlot:
    """The same for an ASGI app."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class WebDemo:
    """The running demo: the token service and apps A and B (see the module).

    Attributes (after :meth:`start`): ``issuer``, ``app_a``, ``app_b`` (URLs, str),
    ``rp_a``, ``rp_b`` (the :class:`~jwtkit.web.RelyingParty` of each app).
    """

    def __init__(self) -> None:
        from jwtkit.cli.demo import TokenServiceProcess, _Uvicorn, _Werkzeug

        self.tmp = Path(tempfile.mkdtemp(prefix="jwtkit-demo-web-"))
        self.service = TokenServiceProcess(
            self.tmp / "data",
            redis_url=None,
            prefix=f"jwtkit-demo-web:{secrets.token_hex(8)}",
            env={"JWTKIT_AUDIENCE": AUDIENCE, "JWTKIT_BACKCHANNEL_LOGOUT_BACKOFF": "0.1"},
        )
        self._slot_a, self._slot_b = _ASGISlot(), _WSGISlot()
        self._server_a = _Uvicorn(self._slot_a)
        self._server_b = _Werkzeug(self._slot_b)
        self.issuer = self.service.url
        self.app_a = self._server_a.url
        self.app_b = self._server_b.url
        self.rps: list[Any] = []
        self._started: list[Any] = []

    @property
    def rp_a(self) -> Any:
        """App A's relying party."""
        return self.rps[0]

    @property
    def rp_b(self) -> Any:
        """App B's relying party."""
        return self.rps[1]

    def _register(self) -> dict[str, str]:
        """The demo user and one confidential client per app; returns client_id -> secret."""
        from jwtkit.cli._admin import open_admin

        secrets_by_client = {}
        with open_admin(self.service.data_dir, None, None) as admin:
            admin.add_user(USER, PASSWORD, ["notes"])
            for client_id, url in (("demo-a", self.app_a), ("demo-b", self.app_b)):
                secret = secrets.token_urlsafe(24)
                admin.add_client(
                    client_id,
                    secret=secret,
                    grant_types=["authorization_code", "refresh_token"],
                    scope=[*OIDC_SCOPES, "notes"],
                    audience=AUDIENCE,
                )
                admin.register_client(
                    client_id,
                    redirect_uris=[url + "/auth/callback"],
                    post_logout_redirect_uris=[url + "/"],
                    backchannel_logout_uri=url + "/auth/backchannel-logout",
                    first_party=True,
                )
                secrets_by_client[client_id] = secret
        return secrets_by_client

    def start(self) -> WebDemo:
        """Start the service, register the user and clients, start the apps.

        Raises:
            RuntimeError: a part did not start (everything started is stopped again).
        """
        from jwtkit.web import RelyingParty, RelyingPartyConfig
        from jwtkit.web.demo import app_a, app_b, make_guard

        try:
            self.service.start()
            self._started.append(self.service)
            client_secrets = self._register()
            for client_id, url, slot, factory in (
                ("demo-a", self.app_a, self._slot_a, app_a),
                ("demo-b", self.app_b, self._slot_b, app_b),
            ):
                config = RelyingPartyConfig(
                    issuer=self.issuer,
                    client_id=client_id,
                    client_secret=client_secrets[client_id],
                    base_url=url,
                    scopes=(*OIDC_SCOPES, "notes"),
                    cookie_prefix=f"__Host-{client_id}-",  # cookies do not separate ports
                )
                rp = RelyingParty(config)
                self.rps.append(rp)
                title = "App A (FastAPI)" if client_id == "demo-a" else "App B (Flask)"
                slot.app = factory(rp, make_guard(rp, AUDIENCE), title=title)
            for server in (self._server_a, self._server_b):
                server.start()
                self._started.append(server)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything that was started and remove the temporary directory."""
        for part in reversed(self._started):
            with suppress(Exception):  # stop the rest whatever happens
                part.stop()
        self._started.clear()
        for rp in self.rps:
            rp.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def summary(self) -> dict[str, str]:
        """The ``--json`` line: issuer, app_a, app_b, username, password (dict of str)."""
        return {
            "issuer": self.issuer,
            "app_a": self.app_a,
            "app_b": self.app_b,
            "username": USER,
            "password": PASSWORD,
        }


@contextmanager
def _stop_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` (main thread only); the old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_web_demo(
    seconds: float | None, *, as_json: bool = False, echo: Callable[[str], None] = print
) -> int:
    """Run the web demo until ``seconds`` pass (None: until SIGINT/SIGTERM); returns the exit
    code (0, or 1 when a part did not start)."""
    stop = threading.Event()
    with _stop_signals(stop):
        demo = WebDemo()
        try:
            demo.start()
        except (RuntimeError, OSError) as exc:
            echo(json.dumps({"error": str(exc)}) if as_json else f"jwtkit demo --web: {exc}")
            return 1
        try:
            if as_json:
                echo(json.dumps(demo.summary()))
            else:
                echo(f"token service (OpenID provider): {demo.issuer}")
                echo(f"app A (FastAPI): {demo.app_a}")
                echo(f"app B (Flask):   {demo.app_b}")
                echo(f"sign in at A as {USER!r} / {PASSWORD!r}; then open B (no password asked);")
                echo("sign out at A and B's session ends within a second (back-channel logout).")
                echo("Ctrl-C stops." if seconds is None else f"Stops in {seconds:g} s.")
            stop.wait(seconds)
        finally:
            demo.stop()
    return 0
