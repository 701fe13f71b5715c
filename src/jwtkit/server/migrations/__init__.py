"""Alembic migrations of the token service's schema, shipped inside the package.

:func:`upgrade` brings a database to the newest revision; the service runs it at start
(:meth:`jwtkit.store.sql.SQLStore.migrate`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

__all__ = ["HEAD", "current_revision", "upgrade"]

_HERE = Path(__file__).resolve().parent

#: The newest revision shipped (a test checks it against the scripts in ``versions/``).
HEAD = "0008"


def current_revision(conn: Connection) -> str | None:
    """The database's Alembic revision (str), or None when it has no schema yet."""
    try:
        with conn.begin_nested():
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``conn`` to ``revision`` (default the newest), inside the
    caller's transaction. Does nothing (without loading Alembic) when already at ``HEAD``."""
    if revision == "head" and current_revision(conn) == HEAD:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)
