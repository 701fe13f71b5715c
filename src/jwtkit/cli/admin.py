"""Token-service commands: ``serve``, ``users``, ``clients``, ``sessions``, ``keys rotate|list``.

The admin commands work directly on the service's database, chosen by the same settings as the
service (``--data-dir`` / ``JWTKIT_DATA_DIR``, ``--database-url`` / ``JWTKIT_DATABASE_URL``,
``--config`` / ``JWTKIT_CONFIG``); revocations they make are mirrored to Redis when
``JWTKIT_REDIS_URL`` is set. Passwords and secrets are read from stdin (``--password-stdin``,
``--secret-stdin``) or prompted for without echo; they are never taken as arguments.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Data directory (SQLite file, default ./data).", show_default=False
    ),
]
DatabaseURL = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy URL, e.g. postgresql+psycopg://...", show_default=False
    ),
]
ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config", help="TOML settings file (default $JWTKIT_CONFIG).", show_default=False
    ),
]
AsJSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"jwtkit: {message}", err=True)
    return typer.Exit(code)


def _settings(config: Path | None, **overrides: Any) -> Any:
    try:
        from jwtkit.server.settings import load_settings
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise _fail(
            f"the service commands need the 'server' extra ({exc.name} is missing)"
        ) from None
    try:
        return load_settings(config, **overrides)
    except Exception as exc:
        raise _fail(f"invalid settings: {exc}", 2) from None


class _NoQueryString(logging.Filter):
    """Drops the query string from uvicorn's access-log lines: a client that puts a token or
    password in the URL (RFC 6750 §2.3, §5.3) must not get it written to the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


class _StderrHandler(logging.Handler):
    """Writes records to the current ``sys.stderr`` (looked up per record, not cached)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def _services(
    data_dir: Path | None,
    database_url: str | None,
    config: Path | None,
    *,
    ensure_key: bool = False,
) -> Iterator[Any]:
    """Open the service's store, key manager and service for one admin command; closed on exit.

    Raises:
        typer.Exit (via :func:`_fail`): the database cannot be opened (exit 1).
    """
    from jwtkit.server.audit import AUDIT_LOGGER, JSONFormatter
    from jwtkit.server.runtime import build_services

    if not any(isinstance(h, _StderrHandler) for h in AUDIT_LOGGER.handlers):
        # Admin actions are audit events too (issue 3 §11): JSON lines on stderr.
        handler = _StderrHandler()
        handler.setFormatter(JSONFormatter())
        AUDIT_LOGGER.addHandler(handler)
        AUDIT_LOGGER.setLevel(logging.INFO)
    settings = _settings(config, data_dir=data_dir, database_url=database_url)
    try:
        services = build_services(settings, ensure_key=ensure_key)
    except Exception as exc:
        raise _fail(f"cannot open the service database: {exc}") from None
    try:
        yield services
    finally:
        services.close()


def _read_secret(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    if not value:
        raise _fail("an empty value is not allowed")
    return value


def _check_name(kind: str, value: str) -> None:
    """Refuse a user name or client id no token request could carry (RFC 6749 §3.2 form
    values: non-empty, at most 255 characters, no control characters)."""
    if not value or len(value) > 255 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise _fail(f"a {kind} must be 1 to 255 characters without control characters", 2)


def _ts(value: float | None) -> str:
    if value is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value)) + "Z"


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _scopes(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or []:
        out.extend(value.split())
    return out


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add ``serve``, ``users``, ``clients``, ``sessions`` to ``app`` and ``rotate``, ``list`` to
    the shared ``keys`` sub-app."""
    users_app = typer.Typer(help="Manage the service's users.", no_args_is_help=True)
    clients_app = typer.Typer(help="Manage OAuth clients.", no_args_is_help=True)
    sessions_app = typer.Typer(help="List and end users' sessions.", no_args_is_help=True)
    app.add_typer(users_app, name="users")
    app.add_typer(clients_app, name="clients")
    app.add_typer(sessions_app, name="sessions")

    @app.command()
    def serve(
        host: Annotated[
            str | None, typer.Option(help="Bind address (default 127.0.0.1).", show_default=False)
        ] = None,
        port: Annotated[
            int | None, typer.Option(help="TCP port (default 8000).", show_default=False)
        ] = None,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        redis_url: Annotated[
            str | None, typer.Option("--redis-url", help="redis:// URL.", show_default=False)
        ] = None,
        issuer: Annotated[
            str | None,
            typer.Option(help="Issuer URL (default http://HOST:PORT).", show_default=False),
        ] = None,
        config: ConfigFile = None,
        log_level: Annotated[
            str | None, typer.Option(help="debug, info, warning, error.", show_default=False)
        ] = None,
    ) -> None:
        """Run the token service (uvicorn); creates the data dir, database and first signing key
        on first start. Stops gracefully on SIGTERM/SIGINT."""
        settings = _settings(
            config,
            host=host,
            port=port,
            data_dir=data_dir,
            database_url=database_url,
            redis_url=redis_url,
            issuer=issuer,
            log_level=log_level,
        )
        import uvicorn

        from jwtkit.server.app import create_app
        from jwtkit.server.audit import JSONFormatter

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JSONFormatter())
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(settings.log_level.upper())
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("uvicorn.access").addFilter(_NoQueryString())
        try:
            application = create_app(settings)
        except Exception as exc:
            raise _fail(f"cannot start: {exc}") from None
        if not settings.issuer and settings.host in ("0.0.0.0", "::"):  # noqa: S104
            logging.getLogger("jwtkit.server").warning(
                "no issuer configured: tokens say iss=%s; set JWTKIT_ISSUER to the public URL",
                settings.effective_issuer,
            )
        logging.getLogger("jwtkit.server").info(
            "jwtkit token service: issuer %s, database %s",
            settings.effective_issuer,
            "sqlite" if settings.is_sqlite else "external",
        )
        uvicorn.run(
            application,
            host=settings.host,
            port=settings.port,
            log_config=None,
            log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=settings.shutdown_timeout,
            server_header=False,
            # Trust X-Forwarded-For only from the configured reverse proxies (issue 13.9).
            proxy_headers=settings.forwarded_allow_ips is not None,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            ws="none",
            lifespan="on",
        )

    # ---- users -------------------------------------------------------------------------------

    @users_app.command("add")
    def users_add(
        name: str,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from stdin.")
        ] = False,
        scope: Annotated[
            list[str] | None, typer.Option("--scope", help="Scope the user may get (repeatable).")
        ] = None,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """Add a user; the password is stored only as an argon2id hash."""
        _check_name("user name", name)
        from jwtkit.server.audit import audit

        with _services(data_dir, database_url, config) as services:
            if services.store.get_user(name) is not None:  # say so before asking for a password
                raise _fail(f"user {name!r} already exists")
            password = _read_secret(password_stdin, "Password")
            user = services.store.create_user(
                name, services.service.hasher.hash(password), _scopes(scope), time.time()
            )
            if user is None:
                raise _fail(f"user {name!r} already exists")
            audit("user_added", username=name, sub=user.id, actor="cli")
            typer.echo(f"added user {name} (sub {user.id})")

    @users_app.command("list")
    def users_list(
        as_json: AsJSON = False,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """List users (never their password hashes)."""
        with _services(data_dir, database_url, config) as services:
            rows = services.store.list_users()
        data = [
            {
                "username": u.username,
                "sub": u.id,
                "scope": u.scope,
                "disabled": u.disabled,
                "created_at": int(u.created_at),
            }
            for u in rows
        ]
        if as_json:
            typer.echo(json.dumps(data))
            return
        _print_table(
            "users",
            ["username", "sub", "scope", "disabled", "created"],
            [
                [d["username"], d["sub"], d["scope"], str(d["disabled"]), _ts(d["created_at"])]
                for d in data
            ],
        )

    @users_app.command("disable")
    def users_disable(
        name: str,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """Disable a user and end all its sessions (its access tokens are void from now)."""
        from jwtkit.server.audit import audit

        with _services(data_dir, database_url, config) as services:
            if not services.store.update_user(name, time.time(), disabled=True):
                raise _fail(f"no user {name!r}")
            user = services.store.get_user(name)
            ended = services.service.revoke_user(user, reason="user_disabled", actor="cli")
            audit("user_disabled", username=name, sub=user.id, actor="cli")
            typer.echo(f"disabled {name}; ended {ended} session(s)")

    @users_app.command("set-password")
    def users_set_password(
        name: str,
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from stdin.")
        ] = False,
        end_sessions: Annotated[
            bool,
            typer.Option(
                "--end-sessions",
                help="Also end all the user's sessions (after a compromise): its refresh tokens "
                "die and its access tokens are void from now.",
            ),
        ] = False,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """Set a user's password (argon2id hash); existing sessions stay unless --end-sessions.

        Example: ``printf '%s' "$NEW" | jwtkit users set-password alice --password-stdin
        --end-sessions``
        """
        password = _read_secret(password_stdin, "New password")
        from jwtkit.server.audit import audit

        with _services(data_dir, database_url, config) as services:
            if not services.store.update_user(
                name, time.time(), password_hash=services.service.hasher.hash(password)
            ):
                raise _fail(f"no user {name!r}")
            audit("password_set", username=name, actor="cli")
            message = f"password of {name} changed"
            if end_sessions:
                user = services.store.get_user(name)
                assert user is not None
                ended = services.service.revoke_user(user, reason="password_set", actor="cli")
                message += f"; ended {ended} session(s)"
            typer.echo(message)

    # ---- clients -----------------------------------------------------------------------------

    @clients_app.command("add")
    def clients_add(
        client_id: str,
        public: Annotated[
            bool, typer.Option("--public", help="A public client (no secret).")
        ] = False,
        secret_stdin: Annotated[
            bool, typer.Option("--secret-stdin", help="Read the client secret from stdin.")
        ] = False,
        grant: Annotated[
            list[str] | None, typer.Option("--grant", help="Allowed grant type (repeatable).")
        ] = None,
        scope: Annotated[
            list[str] | None,
            typer.Option("--scope", help="Scope the client may request (repeatable)."),
        ] = None,
        audience: Annotated[
            str | None,
            typer.Option(help="aud of its access tokens (default the issuer).", show_default=False),
        ] = None,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """Add an OAuth client: public (``--public``) or confidential (secret from stdin or a
        prompt, stored only as an argon2id hash)."""
        from jwtkit.server.service import GRANT_TYPES

        _check_name("client id", client_id)
        if public and secret_stdin:
            raise _fail("--public and --secret-stdin exclude each other", 2)
        grants = grant or (
            ["password", "refresh_token"]
            if public
            else ["password", "refresh_token", "client_credentials"]
        )
        unknown = [g for g in grants if g not in GRANT_TYPES]
        if unknown:
            raise _fail(f"unknown grant type(s): {', '.join(unknown)}", 2)
        if public and "client_credentials" in grants:
            raise _fail("public clients cannot use client_credentials", 2)
        secret = None if public else _read_secret(secret_stdin, "Client secret")
        from jwtkit.server.audit import audit

        with _services(data_dir, database_url, config) as services:
            client = services.store.create_client(
                client_id,
                secret_hash=services.service.hasher.hash(secret) if secret else None,
                grant_types=grants,
                scope=_scopes(scope),
                audience=audience,
                now=time.time(),
            )
            if client is None:
                raise _fail(f"client {client_id!r} already exists")
            audit("client_added", client_id=client_id, public=public, actor="cli")
            typer.echo(f"added {'public' if public else 'confidential'} client {client_id}")

    @clients_app.command("list")
    def clients_list(
        as_json: AsJSON = False,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """List clients (never their secret hashes)."""
        with _services(data_dir, database_url, config) as services:
            rows = services.store.list_clients()
        data = [
            {
                "client_id": c.client_id,
                "public": c.public,
                "grant_types": list(c.grant_types),
                "scope": c.scope,
                "audience": c.audience,
            }
            for c in rows
        ]
        if as_json:
            typer.echo(json.dumps(data))
            return
        _print_table(
            "clients",
            ["client_id", "type", "grants", "scope", "audience"],
            [
                [
                    d["client_id"],
                    "public" if d["public"] else "confidential",
                    " ".join(d["grant_types"]),
                    d["scope"],
                    d["audience"] or "-",
                ]
                for d in data
            ],
        )

    # ---- sessions ----------------------------------------------------------------------------

    @sessions_app.command("list")
    def sessions_list(
        username: str,
        include_all: Annotated[bool, typer.Option("--all", help="Include ended sessions.")] = False,
        as_json: AsJSON = False,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """List a user's sessions (active ones unless --all)."""
        from jwtkit.server.service import session_view

        with _services(data_dir, database_url, config) as services:
            user = services.store.get_user(username)
            if user is None:
                raise _fail(f"no user {username!r}")
            rows = services.store.list_sessions(user.id, time.time(), include_inactive=include_all)
        data = [session_view(s) for s in rows]
        for d in data:
            d.pop("current")
        if as_json:
            typer.echo(json.dumps(data))
            return
        _print_table(
            f"sessions of {username}",
            ["sid", "client_id", "scope", "created", "last used", "expires", "ended"],
            [
                [
                    d["sid"],
                    d["client_id"],
                    d["scope"],
                    _ts(d["created_at"]),
                    _ts(d["last_used_at"]),
                    _ts(d["expires_at"]),
                    d["revoked_reason"] or "-",
                ]
                for d in data
            ],
        )

    @sessions_app.command("revoke")
    def sessions_revoke(
        sid: Annotated[
            str | None, typer.Argument(help="The session to end.", show_default=False)
        ] = None,
        user: Annotated[
            str | None,
            typer.Option("--user", help="End every session of this user.", show_default=False),
        ] = None,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """End one session (SID) or all of a user's sessions (--user NAME); their access tokens
        are void from now."""
        if (sid is None) == (user is None):
            raise _fail("give either a SID or --user NAME", 2)
        from jwtkit.server.audit import audit

        with _services(data_dir, database_url, config) as services:
            if sid is not None:
                if not services.service.revoke_session(sid, reason="admin", actor="cli"):
                    raise _fail(f"no active session {sid!r}")
                audit("session_revoked", sid=sid, actor="cli")
                typer.echo(f"ended session {sid}")
            else:
                record = services.store.get_user(user)
                if record is None:
                    raise _fail(f"no user {user!r}")
                ended = services.service.revoke_user(record, reason="admin", actor="cli")
                audit("user_sessions_revoked", username=user, sub=record.id, actor="cli")
                typer.echo(f"ended {ended} session(s) of {user}")

    # ---- keys --------------------------------------------------------------------------------

    @keys_app.command("rotate")
    def keys_rotate(
        delay: Annotated[
            int | None,
            typer.Option(
                help="Seconds before the new key signs (default: key_rotation_delay setting).",
                show_default=False,
            ),
        ] = None,
        alg: Annotated[
            str | None,
            typer.Option(
                help="ES256, RS256, PS256 or EdDSA (default: signing_alg).", show_default=False
            ),
        ] = None,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """Publish a new signing key as *next*; it becomes *current* after the delay, and the old
        one stays published until its last token has expired."""
        from jwtkit.server.audit import audit
        from jwtkit.server.settings import SIGNING_ALGORITHMS

        if alg is not None and alg not in SIGNING_ALGORITHMS:
            raise _fail(f"--alg must be one of {', '.join(SIGNING_ALGORITHMS)}", 2)
        if delay is not None and delay < 0:
            raise _fail("--delay must be >= 0", 2)
        with _services(data_dir, database_url, config, ensure_key=True) as services:
            wait = services.settings.key_rotation_delay if delay is None else delay
            record = services.keys.rotate(delay=wait, alg=alg)
            audit("key_rotated", kid=record.kid, alg=record.alg, delay=wait, actor="cli")
            typer.echo(
                f"new key {record.kid} ({record.alg}) published; "
                f"signs from {_ts(record.activate_at)}"
            )

    @keys_app.command("list")
    def keys_list(
        as_json: AsJSON = False,
        data_dir: DataDir = None,
        database_url: DatabaseURL = None,
        config: ConfigFile = None,
    ) -> None:
        """List the service's signing keys and their states (never private parts)."""
        with _services(data_dir, database_url, config) as services:
            services.keys.reload()
            rows = services.store.list_keys()
        data = [
            {
                "kid": r.kid,
                "alg": r.alg,
                "state": r.state,
                "created_at": int(r.created_at),
                "activate_at": r.activate_at,
                "publish_until": r.publish_until,
            }
            for r in rows
        ]
        if as_json:
            typer.echo(json.dumps(data))
            return
        _print_table(
            "signing keys",
            ["kid", "alg", "state", "created", "active from", "published until"],
            [
                [
                    d["kid"],
                    d["alg"],
                    d["state"],
                    _ts(d["created_at"]),
                    _ts(d["activate_at"]),
                    _ts(d["publish_until"]),
                ]
                for d in data
            ],
        )
