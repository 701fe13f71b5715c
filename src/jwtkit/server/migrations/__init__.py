"""Alembic migrations of the token service's schema, shipped inside the package.

:func:`upgrade` brings a database to the newest revision; the service runs it at start
(:meth:`jwtkit.store.sql.SQLStore.migrate`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

__all__ = ["upgrade"]

_HERE = Path(__file__).resolve().parent


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``conn`` to ``revision`` (default the newest), inside the
    caller's transaction."""
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)
