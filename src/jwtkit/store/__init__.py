"""Storage for the token service: :mod:`jwtkit.store.sql` (SQLite, PostgreSQL; the source of
truth) and :mod:`jwtkit.store.redis` (the revocation mirror for verifiers, shared rate limits).

Importing this package imports neither SQLAlchemy nor redis; import the submodules.
"""

from __future__ import annotations

__all__: list[str] = []
