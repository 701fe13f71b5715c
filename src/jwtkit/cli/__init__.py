"""The ``jwtkit`` command line (typer + rich): token tools and the token service's admin commands.

Install with the ``cli`` extra (``pip install 'jwtkit[cli]'``); the service commands also need the
``server`` extra. :func:`main` is the console-script entry point.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run the ``jwtkit`` command line.

    Args:
        argv: arguments without the program name (list of str); ``None`` means ``sys.argv[1:]``.

    Exits the process with the command's exit code.
    """
    try:
        from jwtkit.cli._common import run_app
        from jwtkit.cli.app import build_app
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        sys.stderr.write(
            f"jwtkit: the command line needs the 'cli' extra ({exc.name} is missing): "
            "pip install 'jwtkit[cli]'\n"
        )
        raise SystemExit(2) from None
    raise SystemExit(run_app(build_app(), argv))
