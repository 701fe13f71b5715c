"""Storage for the token service: :mod:`jwtkit.store.sql` (SQLite, PostgreSQL; the source of
truth) and :mod:`jwtkit.store.redis` (the revocation mirror for verifiers, shared rate limits).

The SQL side is one module per aggregate (``users``, ``clients``, ``sessions`` with their refresh
tokens, ``revocations``, ``keys``) over one :class:`~jwtkit.store._db.Database`, the tables in
:mod:`~jwtkit.store.schema` and the records in :mod:`~jwtkit.store.records`; a new table is a new
``store/<aggregate>.py``, its table in ``schema.py`` and an Alembic migration.

Importing this package imports neither SQLAlchemy nor redis; import the submodules.
"""

from __future__ import annotations

__all__: list[str] = []
