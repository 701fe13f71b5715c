"""``jwtkit serve``: run the token service under uvicorn, logging JSON lines on stderr."""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
from typing import Annotated, Any

import typer

from jwtkit.cli._admin import ConfigFile, DatabaseURL, DataDir, admin_command, load_cli_settings
from jwtkit.cli._common import CLIError

__all__ = ["register", "serve"]


class _NoQueryString(logging.Filter):
    """Drops the query string from uvicorn's access-log lines: a client that puts a token or
    password in the URL (RFC 6750 §2.3, §5.3) must not get it written to the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the path argument of an access-log record without its query; keep it."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def _fastest(module: str, fallback: str) -> str:
    """``module`` when it imports (uvicorn[standard]'s uvloop), else ``fallback`` (platforms
    where the C extension cannot install, e.g. Windows)."""
    try:
        importlib.import_module(module)
    except ImportError:
        logging.getLogger("jwtkit.server").info("%s unavailable; using %s", module, fallback)
        return fallback
    return module


@admin_command
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
    workers: Annotated[
        int | None,
        typer.Option(
            help="Worker processes (default 1); more than 1 needs --redis-url.",
            show_default=False,
            min=1,
            max=64,
        ),
    ] = None,
) -> None:
    """Run the token service (uvicorn).

    Creates the data dir, database and first signing key on first start. Stops gracefully on
    SIGTERM/SIGINT.
    """
    settings = load_cli_settings(
        config,
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        redis_url=redis_url,
        issuer=issuer,
        log_level=log_level,
        workers=workers,
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
        application = create_app(settings)  # migrations and the first key, once
        if settings.workers > 1:
            from jwtkit.server.workers import SETTINGS_ENV, settings_to_env

            os.environ[SETTINGS_ENV] = settings_to_env(settings)
            application.state.services.close()
    except Exception as exc:
        raise CLIError(f"cannot start: {exc}", code="error", exit_code=1) from None
    if not settings.issuer and settings.host in ("0.0.0.0", "::"):  # noqa: S104
        logging.getLogger("jwtkit.server").warning(
            "no issuer configured: tokens say iss=%s; set JWTKIT_ISSUER to the public URL",
            settings.effective_issuer,
        )
    from jwtkit.server.admin import unsafe_settings
    from jwtkit.server.protocol import protocol_class

    for message in unsafe_settings(settings):
        logging.getLogger("jwtkit.server").warning("%s", message)
    logging.getLogger("jwtkit.server").info(
        "jwtkit token service: issuer %s, database %s",
        settings.effective_issuer,
        "sqlite" if settings.is_sqlite else "external",
    )
    _freeze_startup_objects()
    target: Any = application
    if settings.workers > 1:
        target = "jwtkit.server.workers:app_factory"  # each worker builds its own app
    uvicorn.run(
        target,
        factory=settings.workers > 1,
        workers=settings.workers if settings.workers > 1 else None,
        http=protocol_class(),  # httptools (else h11), one socket write per response
        loop=_fastest("uvloop", "asyncio"),
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


def _freeze_startup_objects() -> None:
    """Move everything built at start-up (the app, its routes, SQLAlchemy's tables, pydantic
    models: most of the process's objects) out of the cyclic garbage collector's reach
    (:func:`gc.freeze`), so a full collection scans only what requests made. Without it a full
    collection paused the event loop for 25-40 ms, a few times a minute under load: the token
    endpoint's p99 (issue 12)."""
    gc.collect()
    gc.freeze()


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add ``serve`` to ``app`` (``keys_app`` unused)."""
    del keys_app
    app.command()(serve)
