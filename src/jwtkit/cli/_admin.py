"""Shared parts of the token-service commands (``serve``, ``users``, ``clients``, ``sessions``,
``keys rotate|list``): the settings options, opening the service, secrets, tables and errors.

The admin commands work directly on the service's database, chosen by the same settings as the
service (``--data-dir`` / ``JWTKIT_DATA_DIR``, ``--database-url`` / ``JWTKIT_DATABASE_URL``,
``--config`` / ``JWTKIT_CONFIG``); revocations they make are mirrored to Redis when
``JWTKIT_REDIS_URL`` is set. Passwords and secrets are read from stdin (``--password-stdin``,
``--secret-stdin``) or prompted for without echo; they are never taken as arguments. The rules
(what may change, what ends sessions, what is audited) live in
:class:`jwtkit.server.admin.AdminService`; these commands only parse, prompt and print.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from jwtkit.cli._common import EXIT_USAGE, CLIError, cli_errors

if TYPE_CHECKING:
    from jwtkit.server.admin import AdminService
    from jwtkit.server.settings import Settings

__all__ = [
    "AsJSON",
    "ConfigFile",
    "DataDir",
    "DatabaseURL",
    "admin_command",
    "confirm",
    "load_cli_settings",
    "open_admin",
    "print_record",
    "print_table",
    "read_new_secret",
    "split_scopes",
    "timestamp",
]

P = ParamSpec("P")
R = TypeVar("R")

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


def admin_command(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate an admin command: an :class:`jwtkit.server.admin.AdminError` becomes one
    ``jwtkit: CODE: MESSAGE`` line on stderr, exit 2 for a refused value (``invalid_value``) and
    exit 1 otherwise (``not_found``, ``already_exists``); every other error as
    :func:`jwtkit.cli._common.cli_errors` reports it."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from jwtkit.server.admin import AdminError

        try:
            return func(*args, **kwargs)
        except AdminError as exc:
            exit_code = EXIT_USAGE if exc.code == "invalid_value" else 1
            raise CLIError(exc.message, code=exc.code, exit_code=exit_code) from None

    return cli_errors(wrapper)


def load_cli_settings(config: Path | None, **overrides: Any) -> Settings:
    """Load the service settings (file, environment, then ``overrides``), as ``serve`` does.

    Raises:
        CLIError: the ``server`` extra is missing (exit 1) or the settings are invalid (exit 2;
            one stderr line per bad field, the last one through this error).
    """
    try:
        from jwtkit.server.settings import load_settings
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise CLIError(
            f"the service commands need the 'server' extra ({exc.name} is missing)",
            code="error",
            exit_code=1,
        ) from None
    try:
        return load_settings(config, **overrides)
    except Exception as exc:
        lines = _settings_errors(exc)
        for line in lines[:-1]:
            sys.stderr.write(f"jwtkit: usage: {line}\n")
        raise CLIError(lines[-1], code="usage", exit_code=EXIT_USAGE) from None


def _settings_errors(exc: Exception) -> list[str]:
    """One line per bad field of a pydantic ``ValidationError`` (its setting name, environment
    variable and pydantic's short message; no URLs, no input echo), else the exception's own
    message."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return [f"invalid settings: {exc}"]
    lines = []
    for error in errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error.get("loc", ())) or "settings"
        env = f" (JWTKIT_{where.upper()})" if where.isidentifier() else ""
        lines.append(f"invalid setting {where}{env}: {error.get('msg', 'invalid')}")
    return lines or [f"invalid settings: {exc}"]


class _StderrHandler(logging.Handler):
    """Writes records to the current ``sys.stderr`` (looked up per record, not cached)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def open_admin(
    data_dir: Path | None,
    database_url: str | None,
    config: Path | None,
    *,
    ensure_key: bool = False,
) -> Iterator[AdminService]:
    """Open the service's store, keys and :class:`AdminService` for one command; closed on exit.

    Admin actions are audit events (JSON lines on stderr).

    Raises:
        CLIError: the settings are invalid (exit 2) or the database cannot be opened (exit 1).
    """
    from jwtkit.server.admin import AdminService
    from jwtkit.server.audit import AUDIT_LOGGER, JSONFormatter
    from jwtkit.server.runtime import build_services

    if not any(isinstance(h, _StderrHandler) for h in AUDIT_LOGGER.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JSONFormatter())
        AUDIT_LOGGER.addHandler(handler)
        AUDIT_LOGGER.setLevel(logging.INFO)
    settings = load_cli_settings(config, data_dir=data_dir, database_url=database_url)
    try:
        services = build_services(settings, ensure_key=ensure_key)
    except Exception as exc:
        message = " ".join(str(exc).split())
        raise CLIError(
            f"cannot open the service database: {message}", code="error", exit_code=1
        ) from None
    try:
        yield AdminService.from_services(services, actor="cli")
    finally:
        services.close()


def read_new_secret(from_stdin: bool, prompt: str) -> str:
    """Read a new password or client secret: one line of stdin (``--password-stdin``), else a
    hidden, confirmed prompt on a terminal.

    Raises:
        CLIError: stdin is not a terminal and the ``-stdin`` option was not given (exit 2), or the
            value is empty (exit 1).
    """
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            flag = "--password-stdin" if "assword" in prompt else "--secret-stdin"
            raise CLIError(
                f"stdin is not a terminal: pipe the value with {flag}",
                code="usage",
                exit_code=EXIT_USAGE,
            )
        value = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    if not value:
        raise CLIError("an empty value is not allowed", code="invalid_value", exit_code=1)
    return value


def confirm(question: str, *, yes: bool) -> None:
    """Ask ``question`` on a terminal unless ``yes`` (``--yes``).

    Raises:
        CLIError: stdin is not a terminal and ``--yes`` was not given (exit 2), or the answer was
            no (exit 1).
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise CLIError(
            "stdin is not a terminal: confirm with --yes", code="usage", exit_code=EXIT_USAGE
        )
    if not typer.confirm(question, default=False):
        raise CLIError("nothing changed", code="cancelled", exit_code=1)


def timestamp(value: float | None) -> str:
    """``YYYY-MM-DD HH:MM:SSZ`` (UTC) for seconds since the epoch, ``-`` for None."""
    if value is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value)) + "Z"


def _is_terminal() -> bool:
    return sys.stdout.isatty()


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """Print ``rows`` as a table titled ``title``; no cell is ever cut.

    On a terminal a rich table: a column whose cells hold no space (ids, names, kids) keeps each
    cell whole on one line, so it can be copied into the next command; others fold onto more
    lines when the screen is narrow (narrower than the narrowest table: the terminal wraps the
    lines, nothing is dropped). Otherwise (a pipe or a file) plain tab-separated lines under
    a ``#`` title and a header, for ``cut`` and ``awk``.
    """
    if not _is_terminal():
        lines = [f"# {title}", "\t".join(columns), *("\t".join(row) for row in rows)]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    needed = 1  # the left border; each column adds its width, padding, a border and a margin
    for i, column in enumerate(columns):
        cells = [row[i] for row in rows]
        words = [column, *(w for cell in cells for w in cell.split(" "))]
        width = max(len(w) for w in words)
        if any(" " in cell for cell in cells):
            table.add_column(column, overflow="fold", min_width=width)
        else:
            table.add_column(column, no_wrap=True, min_width=width)
        needed += width + 4
    for row in rows:
        table.add_row(*row)
    console = Console()
    if needed > console.width:  # never squeeze a column to nothing: let the terminal wrap
        console = Console(width=needed)
    console.print(table)


def print_record(data: dict[str, Any], *, as_json: bool, times: tuple[str, ...] = ()) -> None:
    """Print one record: a JSON object (``as_json``), else ``field: value`` lines with the
    ``times`` fields (seconds since the epoch) as UTC timestamps, lists space-joined and None as
    ``-``."""
    if as_json:
        typer.echo(json.dumps(data))
        return
    for name, raw in data.items():
        if name in times:
            shown = timestamp(raw)
        elif isinstance(raw, list):
            shown = " ".join(str(v) for v in raw)
        else:
            shown = "-" if raw is None else str(raw)
        typer.echo(f"{name}: {shown}")


def split_scopes(values: list[str] | None) -> list[str]:
    """Repeated ``--scope`` values, each possibly space-separated, as one list of scope tokens."""
    out: list[str] = []
    for value in values or []:
        out.extend(value.split(" "))
    return [s for s in out if s]
