"""The key table is never read or written on an event loop once loaded (issue 12): the token
endpoint signs there, and a write could wait for the write lock held by the loop's own group
commit (the process hung)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event

from jwtkit.server import Settings, build_services


def test_signing_on_an_event_loop_never_touches_the_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, key_cache_seconds=0.0, issuer="http://127.0.0.1:1")
    services = build_services(settings)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(services.store.engine, "before_cursor_execute", seen)
    try:
        assert not services.keys.is_fresh()  # key_cache_seconds=0: always due for a reload

        async def on_loop() -> str:
            return services.keys.signing_key().kid or ""

        kid = asyncio.run(on_loop())
        assert kid and statements == []  # signed from the table as loaded
        assert services.keys.signing_key().kid == kid  # off the loop: reloaded
        assert statements  # (which reads the database)
    finally:
        event.remove(services.store.engine, "before_cursor_execute", seen)
        services.close()
