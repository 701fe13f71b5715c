"""Assembles the typer application from the command groups.

Layout (each module owns its commands and exposes ``register(app, keys_app)``):

* ``jwtkit.cli.tokens``: ``decode``, ``verify``, ``encode`` (issue: CLI).
* ``jwtkit.cli.encryption``: ``encrypt``, ``decrypt`` (JWE, RFC 7516).
* ``jwtkit.cli.keys``: ``keys generate|convert|thumbprint|jwks|rotate|list``.
* ``jwtkit.cli.serve``: ``serve`` (the token service).
* ``jwtkit.cli.users``, ``jwtkit.cli.clients``, ``jwtkit.cli.sessions``: the admin groups, over
  :class:`jwtkit.server.admin.AdminService` (shared options in ``jwtkit.cli._admin``).
* ``jwtkit.cli.demo``: ``demo`` (issue: verifiers).
"""

from __future__ import annotations

import importlib
import inspect
import re

import typer

__all__ = ["build_app"]

_GROUPS = (
    "jwtkit.cli.tokens",
    "jwtkit.cli.encryption",
    "jwtkit.cli.keys",
    "jwtkit.cli.serve",
    "jwtkit.cli.users",
    "jwtkit.cli.clients",
    "jwtkit.cli.sessions",
    "jwtkit.cli.demo",
    "jwtkit.cli.dpop",
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
    _tidy_help(app)
    return app


_LITERAL = re.compile(r"``(.+?)``")


def help_text(doc: str) -> str:
    """A docstring as ``--help`` text (str): each paragraph on one line, so the terminal width
    decides the wrapping, and reST literals (````x````) shown as ``'x'``. An indented paragraph
    (an example) keeps its lines."""
    paragraphs = []
    for block in inspect.cleandoc(doc).split("\n\n"):
        lines = block.splitlines()
        if any(line.startswith(" ") for line in lines):
            paragraphs.append(block)
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return _LITERAL.sub(r"'\1'", "\n\n".join(paragraphs))


def _tidy_help(app: typer.Typer) -> None:
    """Give every command of ``app`` and its groups, at any depth, :func:`help_text` of its
    docstring as help (typer would keep the docstring's own line breaks and markup)."""
    for command in app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = help_text(command.callback.__doc__)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _tidy_help(group.typer_instance)
