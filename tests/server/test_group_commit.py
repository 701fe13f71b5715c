"""Group commit of refresh-token rotations on SQLite (issue 12): concurrent rotations share one
transaction (optimistically without savepoints, again with one per caller when any fails), from
threads or from an event loop through the writer thread, and every guarantee of a rotation
still holds."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from jwtkit.store.schema import refresh_tokens, revocation_outbox, users
from jwtkit.store.sql import SQLStore


def _store_with_families(tmp_path: Path, families: int) -> SQLStore:
    store = SQLStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.migrate()
    user = store.create_user("u", "x", "read", 1.0)
    assert user is not None
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
    return store


def test_concurrent_rotations_share_commits_and_keep_their_outcomes(tmp_path: Path) -> None:
    families = 24
    store = _store_with_families(tmp_path, families)
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


def test_async_rotations_group_on_the_writer_and_keep_their_outcomes(tmp_path: Path) -> None:
    """The event-loop path (Database.write_grouped_async): concurrent rotations from one loop
    share the writer thread's commits; each caller gets its own outcome, and a race on one
    token is still one ok and one reuse."""
    families = 20
    store = _store_with_families(tmp_path, families)
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))

    async def rotate(family: int, racer: int) -> str:
        result = await store.sessions.rotate_async(
            token_hash=f"f{family}-0",
            client_id="web",
            new_hash=f"f{family}-1-{racer}",
            now=2.0,
            refresh_exp=1e9,
            access_exp=1e9,
        )
        return result.outcome

    async def main() -> list[str]:
        return await asyncio.gather(*(rotate(f, r) for f in range(families) for r in range(2)))

    outcomes = asyncio.run(main())
    for f in range(families):
        assert sorted(outcomes[2 * f : 2 * f + 2]) == ["ok", "reuse"], f
    assert len(commits) < families * 2  # grouped
    # Every winner's successor is stored and live; every family then ended by its reuse.
    for f in range(families):
        winner = next(r for r in range(2) if store.get_refresh_token(f"f{f}-1-{r}") is not None)
        assert store.get_refresh_token(f"f{f}-1-{1 - winner}") is None
    store.close()


def test_a_failing_caller_rolls_back_alone_and_the_group_commits(tmp_path: Path) -> None:
    """The optimistic group has no savepoints: when one caller raises, the group runs again
    with savepoints, so the others commit exactly once and the failing one changes nothing."""
    store = _store_with_families(tmp_path, 3)
    db = store.db
    ran: list[str] = []

    def good(name: str) -> Any:
        def work(conn: Connection) -> str:
            ran.append(name)
            conn.execute(
                update(refresh_tokens)
                .where(refresh_tokens.c.token_hash == name)
                .values(consumed_at=7.0)
            )
            return name

        return work

    def bad(conn: Connection) -> str:
        ran.append("bad")
        conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == "f1-0")
            .values(state="revoked")
        )
        raise RuntimeError("this caller fails after writing")

    def noop(_conn: Connection) -> str:
        return "noop"

    async def main() -> list[Any]:
        # Hold the writers' lock: the writer thread takes the first group and waits, the rest
        # queue behind it, so "bad" always shares a group with another caller.
        assert db._write_lock is not None
        db._write_lock.acquire()
        try:
            futures = [
                asyncio.ensure_future(db.write_grouped_async(w))
                for w in (noop, good("f0-0"), bad, good("f2-0"))
            ]
            await asyncio.sleep(0.2)
        finally:
            db._write_lock.release()
        return (await asyncio.gather(*futures, return_exceptions=True))[1:]

    results = asyncio.run(main())
    assert results[0] == "f0-0" and results[2] == "f2-0"
    assert isinstance(results[1], RuntimeError)
    assert (
        store.sessions.get_refresh_token("f1-0").state == "active"
    )  # the failed write rolled back
    for name in ("f0-0", "f2-0"):
        assert store.sessions.get_refresh_token(name).consumed_at == 7.0
    # One optimistic run, then the savepoint run: the failing caller ran twice, no one more.
    assert ran.count("bad") == 2
    assert ran.count("f0-0") <= 2 and ran.count("f2-0") <= 2
    store.close()


def test_rotation_of_a_disabled_users_family_revokes_it_in_the_same_transaction(
    tmp_path: Path,
) -> None:
    """The session-lock statement reads the user's state: a family whose user is disabled
    (or gone) is revoked where the rotation would be, with its outbox event, and nothing is
    consumed or issued."""
    store = _store_with_families(tmp_path, 1)
    with store.db.write() as conn:
        conn.execute(update(users).values(disabled=True))
    result = store.rotate_refresh_token(
        token_hash="f0-0",
        client_id="web",
        new_hash="f0-1",
        now=2.0,
        refresh_exp=1e9,
        access_exp=1e9,
    )
    assert result.outcome == "user_disabled"
    assert [e.kind for e in result.revoked] == ["sid"]
    assert store.sessions.get_refresh_token("f0-1") is None
    assert store.sessions.get_refresh_token("f0-0").state == "revoked"
    sid = store.sessions.get_refresh_token("f0-0").sid
    assert store.get_session(sid).revoked_reason == "user_disabled"
    with store.db.read() as conn:
        events = conn.execute(select(revocation_outbox.c.kind, revocation_outbox.c.value)).all()
    assert ("sid", sid) in [tuple(e) for e in events]
    store.close()


def test_the_loop_writer_commits_while_the_shared_pool_waits_for_its_lock(
    tmp_path: Path,
) -> None:
    """The loop writer's COMMIT runs on its own thread: threads of the loop's default pool
    that wait for the write lock it holds (a key-table reload that writes, a refresh on the
    thread-pool path) cannot starve it of a thread (a deadlock: every request hung)."""
    store = _store_with_families(tmp_path, 1)
    db = store.db
    done: list[str] = []

    def sync_write() -> None:
        with db.write() as conn:  # waits for the loop writer's lock
            conn.execute(update(refresh_tokens).values(consumed_at=3.0))
        done.append("sync")

    async def main() -> str:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=2))
        blockers: list[asyncio.Future[None]] = []

        def work(conn: Connection) -> str:
            # Runs on the loop with the write lock held: fill the default pool with writers.
            blockers.extend(loop.run_in_executor(None, sync_write) for _ in range(4))
            conn.execute(update(refresh_tokens).values(consumed_at=2.0))
            return "grouped"

        result = await asyncio.wait_for(db.write_grouped_async(work), timeout=15)
        await asyncio.wait_for(asyncio.gather(*blockers), timeout=15)
        return result

    assert asyncio.run(main()) == "grouped"
    assert done == ["sync"] * 4
    assert store.sessions.get_refresh_token("f0-0").consumed_at == 3.0  # they ran after it
    store.close()


def test_the_loop_writer_waits_for_another_process_off_the_loop(tmp_path: Path) -> None:
    """Another process holding SQLite's write lock (here a plain sqlite3 connection: the admin
    CLI, a second instance): the loop writer's BEGIN IMMEDIATE waits for it on its thread, the
    loop keeps running meanwhile, and the rotation commits once the lock is free."""
    store = _store_with_families(tmp_path, 1)
    other = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def main() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        tick = asyncio.ensure_future(ticker())
        rotation = asyncio.ensure_future(
            store.sessions.rotate_async(
                token_hash="f0-0",
                client_id="web",
                new_hash="f0-1",
                now=2.0,
                refresh_exp=1e9,
                access_exp=1e9,
            )
        )
        await asyncio.sleep(0.5)
        assert not rotation.done()  # waiting for the other writer
        seen = ticks
        asyncio.get_running_loop().call_soon(other.execute, "ROLLBACK")
        result = await asyncio.wait_for(rotation, timeout=15)
        tick.cancel()
        return result.outcome, seen

    outcome, ticks = asyncio.run(main())
    other.close()
    assert outcome == "ok"
    assert ticks >= 20  # the loop ran while the writer waited (0.5 s at 10 ms a tick)
    assert store.sessions.get_refresh_token("f0-1") is not None
    store.close()


def test_prepared_statements_wrap_driver_errors_as_sqlalchemy_does(tmp_path: Path) -> None:
    """A driver error from a prepared statement is SQLAlchemy's exception class (the service
    maps those), and its transaction rolls back."""
    store = _store_with_families(tmp_path, 1)
    insert_token = store.sessions._sql.run_insert
    row = {
        "token_hash": "f0-0",  # already stored: the primary key refuses it
        "sid": "x",
        "user_id": "x",
        "client_id": "web",
        "scope": "",
        "created_at": 1.0,
        "expires_at": 2.0,
        "state": "active",
        "consumed_at": None,
    }
    with pytest.raises(IntegrityError), store.db.write() as conn:
        insert_token.run(conn, row)
    assert store.sessions.get_refresh_token("f0-0").sid != "x"
    store.close()


def test_prepared_statements_fire_before_and_after_cursor_execute(tmp_path: Path) -> None:
    """Listeners see a prepared statement as any other: ``before_cursor_execute`` and then
    ``after_cursor_execute`` with the same SQL (a tracer's span opens in one, ends in the
    other); none run when nobody listens (the service's own case)."""
    store = _store_with_families(tmp_path, 1)
    find = store.sessions._sql.run_find
    seen: list[tuple[str, str]] = []
    with store.db.write() as conn:  # nobody listens
        assert find.run(conn, {"token_hash": "f0-0"}).fetchone() is not None
    event.listen(store.engine, "before_cursor_execute", lambda *a: seen.append(("before", a[2])))
    event.listen(store.engine, "after_cursor_execute", lambda *a: seen.append(("after", a[2])))
    with store.db.write() as conn:
        seen.clear()  # BEGIN IMMEDIATE went through the listeners too
        assert find.run(conn, {"token_hash": "f0-0"}).fetchone() is not None
    sqls = [sql for _, sql in seen if "refresh_tokens" in sql]
    assert [kind for kind, sql in seen if "refresh_tokens" in sql] == ["before", "after"]
    assert sqls[0] == sqls[1]
    store.close()


def test_a_cancelled_wait_for_the_write_lock_releases_it(tmp_path: Path) -> None:
    """The loop ends while its writer waits for the write lock another thread holds: once
    that thread lets go, the lock is free again (it was leaked: every later write hung)."""
    store = _store_with_families(tmp_path, 1)
    db = store.db
    assert db._write_lock is not None
    db._write_lock.acquire()

    async def main() -> None:
        asyncio.ensure_future(db.write_grouped_async(lambda conn: "never"))
        await asyncio.sleep(0.2)  # the writer waits on its thread; asyncio.run then cancels it

    release = threading.Timer(0.5, db._write_lock.release)
    release.start()
    asyncio.run(main())
    release.join()
    assert db._write_lock.acquire(timeout=5)
    db._write_lock.release()
    with db.write() as conn:  # and a write goes through
        conn.execute(update(refresh_tokens).values(consumed_at=4.0))
    store.close()


def test_a_write_on_the_loop_under_its_own_writer_fails_instead_of_hanging(
    tmp_path: Path,
) -> None:
    """A synchronous write made on the event loop while that loop's writer holds the lock
    (its holder waits for the loop) is refused with a database error (503), not a hang."""
    store = _store_with_families(tmp_path, 1)

    def work(conn: Connection) -> str:
        with store.db.write() as inner:  # on the loop, inside the group
            inner.execute(update(refresh_tokens).values(consumed_at=5.0))
        return "unreachable"

    async def main() -> BaseException | str:
        try:
            return await asyncio.wait_for(store.db.write_grouped_async(work), timeout=10)
        except OperationalError as exc:
            return exc

    outcome = asyncio.run(main())
    assert isinstance(outcome, OperationalError), outcome
    store.close()


def test_a_begin_that_times_out_is_sqlalchemys_operational_error(tmp_path: Path) -> None:
    """Another process keeps the write lock past the busy timeout: the loop path raises
    SQLAlchemy's OperationalError (the service's 503), as the thread path does."""
    store = SQLStore(f"sqlite:///{tmp_path / 'db.sqlite'}", busy_timeout=0.3)
    store.migrate()
    other = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def main() -> BaseException | str:
        try:
            return await store.db.write_grouped_async(lambda conn: "done")
        except BaseException as exc:
            return exc

    outcome = asyncio.run(main())
    other.execute("ROLLBACK")
    other.close()
    assert isinstance(outcome, OperationalError), repr(outcome)
    with pytest.raises(OperationalError):  # and the thread path says the same
        other2 = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
        other2.execute("BEGIN IMMEDIATE")
        try:
            store.db.write_grouped(lambda conn: conn.execute(select(users.c.id)).all())
        finally:
            other2.execute("ROLLBACK")
            other2.close()
    store.close()


def test_loop_writers_are_not_kept_for_ended_loops(tmp_path: Path) -> None:
    store = _store_with_families(tmp_path, 1)
    for _ in range(4):
        asyncio.run(store.db.write_grouped_async(lambda conn: "x"))
    gc.collect()
    assert len(store.db._writers) == 0
    store.close()


def test_the_loop_writer_keeps_one_connection_while_busy_and_returns_it_when_idle(
    tmp_path: Path,
) -> None:
    """Groups that follow one another reuse the writer's connection (no pool checkout per
    group); once nothing is queued it goes back to the pool, so a loop that ends holds none;
    and after a BEGIN that failed (another process kept the lock past the busy timeout) the
    next group runs on a fresh connection whose BEGIN does not wait."""
    store = SQLStore(f"sqlite:///{tmp_path / 'db.sqlite'}", busy_timeout=0.3)
    store.migrate()
    checkouts: list[int] = []
    event.listen(store.engine, "checkout", lambda *_: checkouts.append(1))
    groups: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: groups.append(1))

    async def burst(n: int) -> list[int]:
        async def one(i: int) -> int:
            await asyncio.sleep(0.001 * (i % 5))  # arrive while earlier groups commit
            return await store.db.write_grouped_async(lambda conn: i)

        return await asyncio.gather(*(one(i) for i in range(n)))

    assert asyncio.run(burst(60)) == list(range(60))
    assert len(groups) >= 3  # several groups ...
    assert len(checkouts) < len(groups)  # ... on fewer checkouts: the connection was kept
    assert store.engine.pool.checkedout() == 0  # and returned when the writer went idle
    for _ in range(3):  # every pooled connection still waits for the lock (busy_timeout)
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 300

    other = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def after_failure() -> tuple[BaseException | int, int, float]:
        try:
            first: BaseException | int = await store.db.write_grouped_async(lambda conn: 1)
        except BaseException as exc:
            first = exc
        other.execute("ROLLBACK")
        start = asyncio.get_running_loop().time()
        second = await store.db.write_grouped_async(lambda conn: 2)
        return first, second, asyncio.get_running_loop().time() - start

    first, second, took = asyncio.run(after_failure())
    other.close()
    assert isinstance(first, OperationalError), repr(first)
    assert second == 2 and took < 0.25  # not the 0.3 s busy wait: busy_timeout is 0 again
    assert store.engine.pool.checkedout() == 0
    store.close()
