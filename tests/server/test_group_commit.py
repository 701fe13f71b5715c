"""Group commit of refresh-token rotations on SQLite (issue 12): concurrent rotations share one
transaction, each in its own savepoint, and every guarantee of a rotation still holds."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import event

from jwtkit.store.sql import SQLStore


def test_concurrent_rotations_share_commits_and_keep_their_outcomes(tmp_path: Path) -> None:
    store = SQLStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.migrate()
    user = store.create_user("u", "x", "read", 1.0)
    assert user is not None
    families = 24
    for i in range(families):
        store.create_session(
            user=user,
            client_id="web",
            scope="read",
            token_hash=f"f{i}-0",
            now=1.0,
            refresh_exp=1e9,
            access_exp=1e9,
        )
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(families * 2)

    def rotate(family: int, racer: int) -> None:
        barrier.wait(timeout=30)
        result = store.rotate_refresh_token(
            token_hash=f"f{family}-0",
            client_id="web",
            new_hash=f"f{family}-1-{racer}",
            now=2.0,
            refresh_exp=1e9,
            access_exp=1e9,
        )
        outcomes[f"{family}-{racer}"] = result.outcome

    threads = [
        threading.Thread(target=rotate, args=(f, r)) for f in range(families) for r in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    shared = len(commits)
    # Two racers per family: exactly one rotation wins, the other is reuse (the family ends).
    for f in range(families):
        assert sorted((outcomes[f"{f}-0"], outcomes[f"{f}-1"])) == ["ok", "reuse"], f
        assert store.get_session(store.get_refresh_token(f"f{f}-0")[1]).revoked_at is not None
    assert shared < families * 2  # several rotations shared a commit (one fsync each)
    store.close()
