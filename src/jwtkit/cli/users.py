"""``jwtkit users add|list|show|disable|enable|delete|set-password|set-scope|set-claims``.

Thin commands over :class:`jwtkit.server.admin.AdminService`: they parse, prompt and print; the
rules (password policy, what ends sessions, audit events) live there.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jwtkit.cli._admin import (
    AsJSON,
    ConfigFile,
    DatabaseURL,
    DataDir,
    admin_command,
    confirm,
    open_admin,
    print_record,
    print_table,
    read_new_secret,
    timestamp,
)
from jwtkit.cli._common import UsageError

if TYPE_CHECKING:
    from jwtkit.store.registrations import UserClaims
    from jwtkit.store.sql import UserRecord

__all__ = ["register"]

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin (one line).")
]
Scopes = Annotated[
    list[str] | None,
    typer.Option("--scope", help="Scope the user may get (repeatable, or space-separated)."),
]
Name = Annotated[str, typer.Argument(help="The user name.", show_default=False)]
Email = Annotated[
    str | None,
    typer.Option("--email", help="email claim (OIDC Core §5.1).", show_default=False),
]
FullName = Annotated[
    str | None,
    typer.Option("--name", help='name claim, e.g. "Alice Liddell".', show_default=False),
]

users_app = typer.Typer(help="Manage the service's users.", no_args_is_help=True)


def _view(user: UserRecord, claims: UserClaims) -> dict[str, Any]:
    return {
        "username": user.username,
        "sub": user.id,
        "scope": user.scope,
        "disabled": user.disabled,
        "created_at": int(user.created_at),
        "email": claims.email,
        "name": claims.name,
    }


@users_app.command("add")
@admin_command
def users_add(
    name: Name,
    password_stdin: PasswordStdin = False,
    scope: Scopes = None,
    email: Email = None,
    full_name: FullName = None,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Add a user; the password is stored only as an argon2id hash. ``--email`` and
    ``--name`` are the user's OpenID Connect claims.

    The password needs at least password_min_length characters (8 by default, NIST SP
    800-63B). From a script: printf '%s' "$PW" | jwtkit users add alice --password-stdin
    """
    with open_admin(data_dir, database_url, config) as admin:
        admin.ensure_new_user(name)  # say so before asking for a password
        password = read_new_secret(password_stdin, "Password")
        user = admin.add_user(name, password, scope or ())
        if email is not None or full_name is not None:
            admin.set_user_claims(user.username, email=email, name=full_name)
    typer.echo(f"added user {user.username} (sub {user.id})")


@users_app.command("list")
@admin_command
def users_list(
    as_json: AsJSON = False,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """List users (never their password hashes)."""
    with open_admin(data_dir, database_url, config) as admin:
        data = [_view(u, admin.user_claims(u.username)) for u in admin.list_users()]
    if as_json:
        typer.echo(json.dumps(data))
        return
    print_table(
        "users",
        ["username", "sub", "scope", "disabled", "created", "email", "name"],
        [
            [
                d["username"],
                d["sub"],
                d["scope"],
                str(d["disabled"]),
                timestamp(d["created_at"]),
                d["email"] or "-",
                d["name"] or "-",
            ]
            for d in data
        ],
    )


@users_app.command("show")
@admin_command
def users_show(
    name: Name,
    as_json: AsJSON = False,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Show one user and how many active sessions it has (never its password hash)."""
    with open_admin(data_dir, database_url, config) as admin:
        data = _view(admin.user(name), admin.user_claims(name))
        data["active_sessions"] = len(admin.list_sessions(name))
    print_record(data, as_json=as_json, times=("created_at",))


@users_app.command("disable")
@admin_command
def users_disable(
    name: Name,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Disable a user and end all its sessions (its access tokens are void from now)."""
    with open_admin(data_dir, database_url, config) as admin:
        ended = admin.disable_user(name)
    typer.echo(f"disabled {name}; ended {ended} session(s)")


@users_app.command("enable")
@admin_command
def users_enable(
    name: Name,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Enable a disabled user again (the sessions ended by ``disable`` stay ended)."""
    with open_admin(data_dir, database_url, config) as admin:
        admin.enable_user(name)
    typer.echo(f"enabled {name}")


@users_app.command("delete")
@admin_command
def users_delete(
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Delete a user: its sessions end and its access tokens are void from now."""
    confirm(f"delete user {name} and end its sessions?", yes=yes)
    with open_admin(data_dir, database_url, config) as admin:
        ended = admin.delete_user(name)
    typer.echo(f"deleted {name}; ended {ended} session(s)")


@users_app.command("set-password")
@admin_command
def users_set_password(
    name: Name,
    password_stdin: PasswordStdin = False,
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

    Example: printf '%s' "$NEW" | jwtkit users set-password alice --password-stdin --end-sessions
    """
    with open_admin(data_dir, database_url, config) as admin:
        admin.user(name)
        password = read_new_secret(password_stdin, "New password")
        ended = admin.set_password(name, password, end_sessions=end_sessions)
    message = f"password of {name} changed"
    if end_sessions:
        message += f"; ended {ended} session(s)"
    typer.echo(message)


@users_app.command("set-scope")
@admin_command
def users_set_scope(
    name: Name,
    scope: Scopes = None,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Replace the scopes a user may get (no --scope: none); existing sessions keep theirs."""
    with open_admin(data_dir, database_url, config) as admin:
        user = admin.set_user_scope(name, scope or ())
    typer.echo(f"scope of {name}: {user.scope or '(none)'}")


@users_app.command("set-claims")
@admin_command
def users_set_claims(
    name: Name,
    email: Email = None,
    full_name: FullName = None,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Set a user's OpenID Connect claims (--email, --name); what is not given stays."""
    if email is None and full_name is None:
        raise UsageError("nothing to change: give --email or --name")
    with open_admin(data_dir, database_url, config) as admin:
        claims = admin.set_user_claims(name, email=email, name=full_name)
    typer.echo(f"claims of {name}: email {claims.email or '-'}; name {claims.name or '-'}")


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add the ``users`` group to ``app`` (``keys_app`` unused)."""
    del keys_app
    app.add_typer(users_app, name="users")
