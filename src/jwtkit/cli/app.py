"""Assembles the typer application from the command groups.

Layout (each module owns its commands and exposes ``register(app, keys_app)``):

* ``jwtkit.cli.tokens``: ``decode``, ``verify``, ``encode`` (issue: CLI).
* ``jwtkit.cli.keys``: ``keys generate|convert|thumbprint|jwks|rotate|list``.
* ``jwtkit.cli.serve``: ``serve`` (the token service).
* ``jwtkit.cli.users``, ``jwtkit.cli.clients``, ``jwtkit.cli.sessions``: the admin groups, over
  :class:`jwtkit.server.admin.AdminService` (shared options in ``jwtkit.cli._admin``).
* ``jwtkit.cli.demo``: ``demo`` (issue: verifiers).
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["build_app"]

_GROUPS = (
    "jwtkit.cli.tokens",
    "jwtkit.cli.keys",
    "jwtkit.cli.serve",
    "jwtkit.cli.users",
    "jwtkit.cli.clients",
    "jwtkit.cli.sessions",
    "jwtkit.cli.demo",
)


def build_app() -> typer.Typer:
    """Return the ``jwtkit`` typer app with every command group that is installed."""
    app = typer.Typer(
        name="jwtkit",
        help="JSON Web Tokens: inspect, verify, sign, manage keys, and run the token service.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    keys_app = typer.Typer(
        help="Generate, convert and publish keys (JWK, PEM, JWK Set).", no_args_is_help=True
    )
    app.add_typer(keys_app, name="keys")
    for name in _GROUPS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that group is not written (yet)
                continue
            raise
        module.register(app, keys_app)
    return app
