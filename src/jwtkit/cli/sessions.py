"""``jwtkit sessions list|revoke``: a user's sessions (token families, RFC 9700 §4.14.2)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from jwtkit.cli._admin import (
    AsJSON,
    ConfigFile,
    DatabaseURL,
    DataDir,
    admin_command,
    open_admin,
    print_table,
    timestamp,
)
from jwtkit.cli._common import UsageError

__all__ = ["register"]

sessions_app = typer.Typer(help="List and end users' sessions.", no_args_is_help=True)


@sessions_app.command("list")
@admin_command
def sessions_list(
    username: Annotated[str, typer.Argument(help="The user name.", show_default=False)],
    include_all: Annotated[bool, typer.Option("--all", help="Include ended sessions.")] = False,
    as_json: AsJSON = False,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """List a user's sessions (active ones unless --all)."""
    from jwtkit.server.service import session_view

    with open_admin(data_dir, database_url, config) as admin:
        rows = admin.list_sessions(username, include_ended=include_all)
    data = [session_view(s) for s in rows]
    for d in data:
        d.pop("current")
    if as_json:
        typer.echo(json.dumps(data))
        return
    print_table(
        f"sessions of {username}",
        ["sid", "client_id", "scope", "created", "last used", "expires", "ended"],
        [
            [
                d["sid"],
                d["client_id"],
                d["scope"],
                timestamp(d["created_at"]),
                timestamp(d["last_used_at"]),
                timestamp(d["expires_at"]),
                d["revoked_reason"] or "-",
            ]
            for d in data
        ],
    )


@sessions_app.command("revoke")
@admin_command
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
    """End one session (SID) or all of a user's sessions (--user NAME).

    Their access tokens are void from now.
    """
    if (sid is None) == (user is None):
        raise UsageError("give either a SID or --user NAME")
    with open_admin(data_dir, database_url, config) as admin:
        if sid is not None:
            admin.end_session(sid)
            typer.echo(f"ended session {sid}")
        else:
            assert user is not None
            ended = admin.end_user_sessions(user)
            typer.echo(f"ended {ended} session(s) of {user}")


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add the ``sessions`` group to ``app`` (``keys_app`` unused)."""
    del keys_app
    app.add_typer(sessions_app, name="sessions")
