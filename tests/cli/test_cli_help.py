"""Issue 15.4: every command's ``--help`` renders cleanly: no raw reST, paragraphs reflowed to
the terminal width, nothing eaten as rich markup."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from jwtkit.cli.app import build_app, help_text


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = [(path, command)]
    if hasattr(command, "commands"):  # a group (typer vendors its own click)
        for name, sub in sorted(command.commands.items()):
            out += _commands(sub, (*path, name))
    return out


ALL = _commands(typer.main.get_command(build_app()))
RAW_REST = re.compile(r"``|:(class|func|meth|mod|data|attr|exc|rfc):`|^\.\. |\\b", re.MULTILINE)


def test_every_command_is_listed() -> None:
    names = {" ".join(path) for path, _ in ALL}
    for expected in (
        "decode",
        "verify",
        "users add",
        "users show",
        "users enable",
        "users delete",
        "users set-scope",
        "clients update",
        "clients rotate-secret",
        "clients remove",
        "sessions revoke",
        "keys rotate",
        "keys generate",
        "serve",
    ):
        assert expected in names


@pytest.mark.parametrize("path", [p for p, _ in ALL], ids=lambda p: " ".join(p) or "jwtkit")
@pytest.mark.parametrize("columns", ["60", "80", "120"])
def test_help_renders_cleanly(path: tuple[str, ...], columns: str) -> None:
    runner = CliRunner(env={"NO_COLOR": "1", "COLUMNS": columns})
    result = runner.invoke(build_app(), [*path, "--help"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert not RAW_REST.search(out), out
    assert "Traceback" not in out
    command = dict(ALL)[path]
    callback = getattr(command, "callback", None)
    doc = getattr(callback, "__doc__", None)
    if doc:
        # Every word of the description shows, in order (rich markup such as [x] ate none).
        flat = " ".join(out.replace("│", " ").split())
        first = " ".join(help_text(doc).split("\n\n")[0].split())
        assert first in flat, (first, out)


def test_help_text_reflows_paragraphs_and_keeps_examples() -> None:
    doc = """First line
    continues here.

    A ``literal`` value.

      $ jwtkit decode TOKEN
      $ jwtkit verify TOKEN
    """
    assert help_text(doc) == (
        "First line continues here.\n\nA 'literal' value.\n\n"
        "  $ jwtkit decode TOKEN\n  $ jwtkit verify TOKEN"
    )
    assert inspect.cleandoc(doc) != help_text(doc)
