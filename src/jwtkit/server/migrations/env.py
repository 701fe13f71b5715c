"""Alembic environment: runs migrations on the connection handed over by :func:`upgrade`."""

from __future__ import annotations

from alembic import context

from jwtkit.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached through the alembic command line
    raise RuntimeError("run migrations through jwtkit.server.migrations.upgrade(conn)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
