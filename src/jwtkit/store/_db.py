"""The database handle shared by the store's repositories: engine, transactions, migrations.

:meth:`Database.read` opens a transaction that takes no write lock (a deferred ``BEGIN`` on
SQLite, which in WAL mode reads a consistent snapshot while a writer works);
:meth:`Database.write` opens one that serialises with every other writer (``BEGIN IMMEDIATE`` on
SQLite; row locks taken by the statements themselves on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event, func, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.sql.elements import ColumnElement

from jwtkit.store import outbox
from jwtkit.store._breaker import Breaker, BreakerOpenError

__all__ = ["Database", "Prepared"]

T = TypeVar("T")

_READ = "jwtkit_read"
"""Execution option marking a connection whose transaction only reads."""

_BEGUN = "jwtkit_begun"
"""``Connection.info`` key: its driver connection has begun the transaction already."""


class _Work(Generic[T]):
    """One caller's work in a group commit, and its outcome."""

    __slots__ = ("done", "error", "value", "work")

    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.value: T | None = None
        self.error: BaseException | None = None
        self.done = False


class _GroupCommit:
    """Leader/follower group commit: a caller that finds no leader becomes one and commits
    everything queued so far in one transaction, then hands over; callers that queued during
    that commit wait, and one of them leads the next group. No caller leads more than its own
    group, so none waits behind more than one group ahead of it.
    """

    def __init__(self, run: Callable[[list[_Work[Any]]], None]) -> None:
        self._run = run
        self._queue: list[_Work[Any]] = []
        self._leading = False
        self._cv = threading.Condition()

    def run(self, work: Callable[[Connection], T]) -> T:
        item: _Work[T] = _Work(work)
        with self._cv:
            self._queue.append(item)
            while not item.done and self._leading:
                self._cv.wait()
            lead = not item.done
            if lead:
                self._leading = True
                batch, self._queue = self._queue, []
        if lead:
            try:
                self._run(batch)
            finally:
                with self._cv:
                    for done in batch:
                        done.done = True
                    self._leading = False
                    self._cv.notify_all()
        if item.error is not None:
            raise item.error
        return item.value  # type: ignore[return-value]


class _LoopWriter:
    """Group commit for callers on one event loop (SQLite).

    Each :meth:`submit` queues work and returns a future; one task per loop runs what is queued
    as one group: it takes the database's write lock (``BEGIN IMMEDIATE``) without waiting when
    it is free, runs every caller's work right there on the loop (statements on a local file,
    microseconds each), and hands only the ``COMMIT`` (the fsync) to a worker thread; callers
    that queue meanwhile form the next group. A lock held by another thread or process is
    waited for in a worker thread, never on the loop. As :meth:`Database._run_group`, the group
    runs first without savepoints and, if any caller raises, again with one per caller. Nobody
    is answered before the commit (issue 12).
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[tuple[_Work[Any], asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None
        # Its own thread for the blocking steps: a shared pool could be filled with threads
        # that wait for the write lock this writer holds, and its COMMIT would never run.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwtkit-commit")
        # Its own connection, kept from group to group while callers keep queueing (a pool
        # checkout and return per group cost more than a small group's statements) and
        # returned when the writer goes idle, with busy_timeout 0: BEGIN IMMEDIATE on the loop
        # fails at once when another process holds the lock (see _begin_immediate).
        self._conn: Connection | None = None

    def connection(self) -> Connection:
        """The writer's connection (opened on first use; no transaction between groups)."""
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._db.engine.connect()
            driver = conn.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout = 0")
            self._conn = conn
        return conn

    def discard_connection(self) -> None:
        """Close the writer's connection (when idle, after an error that may have left it
        unusable, and at :meth:`Database.close`); the next group opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                # back to the pool as the pool's other users expect it: waiting for the lock
                driver = conn.connection.driver_connection
                assert driver is not None
                driver.execute(f"PRAGMA busy_timeout = {self._db.busy_timeout_ms}")
            with contextlib.suppress(Exception):
                conn.close()

    def submit(self, work: Callable[[Connection], T]) -> asyncio.Future[T]:
        """Queue ``work`` (run as ``work(conn)`` in a write transaction); returns a future
        with its result once committed (or its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((_Work(work), future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                items = [item for item, _ in batch]
                try:
                    await self._db._run_group_async(items, self)
                except BaseException as exc:  # the group's own failure reaches every caller
                    for item in items:
                        item.error = item.error or exc
                    if not isinstance(exc, Exception):  # cancelled (the loop is ending)
                        for item, future in batch:
                            _resolve(future, item)
                        for _, future in self._pending:  # queued meanwhile: never run
                            future.cancel()
                        self._pending = []
                        raise
                for item, future in batch:
                    _resolve(future, item)
        finally:
            self._task = None  # no reference to the loop is kept once idle
            # nor a pooled connection: a loop may end while the database stays open
            self.discard_connection()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop this thread is running, or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _run_items(conn: Connection, batch: list[_Work[Any]], *, savepoints: bool) -> None:
    """Run each caller's work of ``batch`` in ``conn``'s transaction. With ``savepoints`` each
    runs inside its own ``SAVEPOINT`` and a failure rolls back only its changes and queued
    outbox events (recorded as that caller's error); without, the first failure propagates."""
    for item in batch:
        if not savepoints:
            item.value = item.work(conn)
            continue
        mark = outbox.savepoint(conn)
        try:
            with conn.begin_nested():
                item.value = item.work(conn)
        except Exception as exc:  # that caller's own failure: only its savepoint
            outbox.rollback_to(conn, mark)
            item.error = exc


async def _in_thread(executor: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on ``executor``'s thread. A cancellation while it runs waits for it to
    end (it holds the connection or the write lock) and is then raised."""
    future = asyncio.get_running_loop().run_in_executor(executor, fn, *args)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(future)
            break
        except asyncio.CancelledError:
            if future.done():
                result = future.result()
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result


def _resolve(future: asyncio.Future[Any], item: _Work[Any]) -> None:
    if future.cancelled():  # the request went away; its work has committed all the same
        return
    if item.error is not None:
        future.set_exception(item.error)
    else:
        future.set_result(item.value)


_GIVEN = object()  # a parameter the caller gives (not a literal of the statement)


class Prepared:
    """One SQLAlchemy Core statement compiled once for a database's dialect and run on the
    driver's cursor of a :class:`~sqlalchemy.Connection` (issue 12: SQLAlchemy's per-execution
    bookkeeping costs several times the statement itself on the hottest path; the statement,
    its dialect's SQL and the transaction stay SQLAlchemy's). ``before_cursor_execute`` and
    ``after_cursor_execute`` listeners still see every statement. Only for statements whose
    parameters and columns need no type conversion (strings, numbers, NULL; booleans come back
    as the driver's).

    Build with :meth:`Database.prepare`.
    """

    __slots__ = ("_defaults", "_names", "_positional", "_sql", "columns")

    def __init__(self, statement: Any, engine: Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self._sql = str(compiled)
        self._positional = bool(engine.dialect.positional)
        names = tuple(compiled.positiontup or ()) if self._positional else ()
        # literal values in the statement (``state == "active"``) are bound parameters too
        defaults = {
            name: bind.value for name, bind in compiled.binds.items() if bind.value is not None
        }
        self._defaults = defaults
        # positional drivers (SQLite): the given names in order, the literals filled in once
        self._names: tuple[tuple[str, Any], ...] = tuple(
            (n, defaults.get(n, _GIVEN)) for n in names
        )
        #: the result's column names (tuple of str), in order; empty for a statement
        #: returning nothing
        self.columns: tuple[str, ...] = tuple(statement.exported_columns.keys())

    def run(self, conn: Connection, params: dict[str, Any]) -> Any:
        """Execute with ``params`` (bind name -> value) inside ``conn``'s transaction; returns
        the driver's cursor (``fetchone()`` gives a tuple in :attr:`columns` order,
        ``rowcount`` the rows changed).

        Raises:
            sqlalchemy.exc.DBAPIError: the driver's error, wrapped as SQLAlchemy wraps it.
        """
        driver = conn.connection.driver_connection
        assert driver is not None
        if self._positional:
            names = self._names
            args: Any = tuple(params[n] if d is _GIVEN else params.get(n, d) for n, d in names)
        else:
            args = {**self._defaults, **params}
        cursor = driver.cursor()
        listeners = conn.dispatch.before_cursor_execute
        if listeners:  # none in the service; the statement-count tests add one
            listeners(conn, cursor, self._sql, args, None, False)
        try:
            cursor.execute(self._sql, args)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                self._sql, args, exc, conn.dialect.loaded_dbapi.Error
            ) from exc
        after = conn.dispatch.after_cursor_execute
        if after:  # e.g. a tracer's span, begun in before_cursor_execute, ends here
            after(conn, cursor, self._sql, args, None, False)
        return cursor


class Database:
    """One SQLAlchemy engine and the transaction helpers every repository uses.

    Args:
        url: SQLAlchemy URL (str); SQLite files get their directory created (0700) and the file
            chmod 0600.
        pool_size: connection pool size for server databases (int).
        busy_timeout: seconds SQLite waits on a locked database (float).
        synchronous: SQLite ``PRAGMA synchronous`` (``FULL``: a committed transaction survives a
            power loss, one WAL fsync per commit; ``NORMAL``: it survives a crash of the
            process, not of the machine; ``EXTRA``). See docs/performance.md.
        timeout: seconds a PostgreSQL connect or statement may take before it fails (float).
        breaker: the :class:`~jwtkit.store._breaker.Breaker` that stops calling a PostgreSQL
            that keeps failing (default one opening for 5 s after 3 failures).
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        busy_timeout: float = 30.0,
        synchronous: str = "FULL",
        timeout: float = 5.0,
        breaker: Breaker | None = None,
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")
        self.url = url
        self.synchronous = synchronous.upper()
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.breaker = breaker or Breaker("database", failures=3, open_seconds=5.0)
        # SQLite has one writer at a time: writers of this process queue on a lock instead of
        # polling the busy handler (which sleeps 1-100 ms per retry: the p99 tail); writers of
        # other processes still meet at BEGIN IMMEDIATE and the busy timeout.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._group = _GroupCommit(self._run_group) if self.is_sqlite else None
        self.busy_timeout = busy_timeout
        #: the same in whole milliseconds (``PRAGMA busy_timeout``; at least 1)
        self.busy_timeout_ms = max(1, int(busy_timeout * 1000))
        self._holder: asyncio.AbstractEventLoop | None = None  # whose writer holds the lock
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWriter] = (
            weakref.WeakKeyDictionary()
        )
        if self.is_sqlite:
            database = parsed.database
            if database and database != ":memory:":
                path = Path(database)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not path.exists():
                    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                    os.close(fd)
                os.chmod(path, 0o600)
            self.engine: Engine = create_engine(
                url, connect_args={"timeout": busy_timeout, "check_same_thread": False}
            )
            self._install_sqlite_hooks()
        else:
            ms = max(1, int(timeout * 1000))
            connect_args: dict[str, Any] = {}
            if parsed.get_backend_name() == "postgresql":
                # connect_timeout: a server that accepts and never answers; statement_timeout and
                # lock_timeout: a slow or blocked statement; tcp_user_timeout + keepalives: a
                # host or network that went away under an open connection.
                connect_args = {
                    "connect_timeout": max(1, int(timeout)),
                    "options": f"-c statement_timeout={ms} -c lock_timeout={ms}",
                    "tcp_user_timeout": ms,
                    "keepalives": 1,
                    "keepalives_idle": max(1, int(timeout)),
                    "keepalives_interval": 1,
                    "keepalives_count": 3,
                }
            self.engine = create_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size * 2,
                pool_pre_ping=True,
                pool_timeout=timeout,
                connect_args=connect_args,
            )

    def _install_sqlite_hooks(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE can be emitted.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA synchronous={self.synchronous}")
            cursor.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: Connection) -> None:
            if conn.info.get(_BEGUN):  # _begin_immediate has begun it on the driver
                return
            if conn.get_execution_options().get(_READ):
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """The breaker around one transaction on a server database (SQLite has none: a busy
        database is contention, not an outage). An open breaker raises
        :class:`sqlalchemy.exc.OperationalError` at once (the service answers 503)."""
        if self.is_sqlite:
            yield
            return
        try:
            with self.breaker.guard((OperationalError, InterfaceError, PoolTimeout)):
                yield
        except BreakerOpenError as exc:
            raise OperationalError("database breaker open", None, exc) from None

    def close(self) -> None:
        """Close every pooled connection (and let the writers' threads end)."""
        for writer in list(self._writers.values()):
            writer.discard_connection()
            writer.executor.shutdown(wait=False)
        self._writers.clear()
        self.engine.dispose()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """Open one read-write transaction (commits on success, rolls back on error).

        On SQLite it starts with ``BEGIN IMMEDIATE``: it holds the database's write lock from the
        start, so a read-then-write inside it cannot be overtaken by another writer. Revocation
        events queued in it are written to the outbox just before the commit
        (:func:`jwtkit.store.outbox.flush`).
        """
        with self._guard(), contextlib.ExitStack() as stack:
            lock = self._write_lock
            if lock is not None:
                if not lock.acquire(blocking=False):
                    if self._holder is not None and self._holder is _running_loop():
                        # Its holder is this loop's own writer, suspended until this returns:
                        # waiting would stop the loop for good (answered 503 instead).
                        raise OperationalError(
                            "BEGIN IMMEDIATE", None, RuntimeError("write lock held by this loop")
                        )
                    lock.acquire()
                stack.callback(lock.release)
            conn = stack.enter_context(self.engine.begin())
            outbox.begin(conn)
            try:
                yield conn
                outbox.flush(conn)  # revocation events get their seq last, just before commit
            finally:
                outbox.discard(conn)

    def write_grouped(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(conn)`` in a write transaction shared with concurrent callers (group
        commit), and return its result once that transaction has committed.

        On SQLite, where every commit in ``synchronous=FULL`` costs one WAL fsync and writers
        run one at a time, the callers that queue while a transaction commits are run together
        in the next one; one fsync makes the whole group durable, and nobody is answered before
        the commit. The group first runs without savepoints; if any caller raises, the whole
        transaction rolls back and the group runs again with each caller inside its own
        ``SAVEPOINT``, so an exception rolls back only that caller's changes (and its queued
        outbox events) and is re-raised to it. ``work`` must therefore be safe to run again
        after a rollback (it reads what it decides on). Elsewhere it is :meth:`write`.

        Raises:
            Whatever ``work`` raises; the commit's own errors, to every caller of the group.
        """
        if self._group is None:
            with self.write() as conn:
                return work(conn)
        return self._group.run(work)

    async def write_grouped_async(self, work: Callable[[Connection], T]) -> T:
        """:meth:`write_grouped` for a caller on an event loop: on SQLite ``work`` joins the
        next group of the writer thread and this coroutine resumes once that group has
        committed (no worker thread per caller); elsewhere it runs :meth:`write` in a worker
        thread (PostgreSQL serialises on row locks, not on one writer).

        Returns ``work``'s result (committed). Raises whatever ``work`` raises, or the commit's
        error.
        """
        if not self.is_sqlite:
            return await asyncio.to_thread(self.write_grouped, work)
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None:
            writer = self._writers[loop] = _LoopWriter(self)
        return await writer.submit(work)

    async def _run_group_async(self, batch: list[_Work[Any]], writer: _LoopWriter) -> None:
        """Run one group of :meth:`write_grouped_async` callers in one transaction, on the
        loop but for the commit (and a wait for the write lock); see :class:`_LoopWriter`."""
        executor = writer.executor
        lock = self._write_lock
        assert lock is not None
        if not lock.acquire(blocking=False):
            try:
                await _in_thread(executor, lock.acquire)
            except BaseException:  # cancelled: _in_thread waited for the acquire to finish
                lock.release()
                raise
        self._holder = asyncio.get_running_loop()
        try:
            if len(batch) > 1 and await self._transaction_async(batch, writer, savepoints=False):
                return
            for item in batch:  # alone, or the optimistic run failed: one savepoint each
                item.value = item.error = None
            await self._transaction_async(batch, writer, savepoints=len(batch) > 1)
        finally:
            self._holder = None
            lock.release()

    async def _transaction_async(
        self, batch: list[_Work[Any]], writer: _LoopWriter, *, savepoints: bool
    ) -> bool:
        """One write transaction over ``batch`` on ``writer``'s connection; returns False when
        ``savepoints`` is off and a caller raised (everything rolled back), else True (each
        caller's outcome recorded).

        Raises:
            The commit's or the ``BEGIN``'s error (nothing of the group is durable; the
            connection is discarded).
        """
        executor = writer.executor
        conn = writer.connection()
        try:
            await self._begin_immediate(conn, executor)
            transaction = conn.begin()  # the hook sees the transaction begun: no second BEGIN
            conn.info.pop(_BEGUN, None)
            outbox.begin(conn)
            try:
                _run_items(conn, batch, savepoints=savepoints)
                outbox.flush(conn)
            except Exception as exc:
                transaction.rollback()
                if savepoints:
                    raise
                if len(batch) == 1:  # alone: its own failure, nothing to run again
                    batch[0].error = exc
                    return True
                return False
            finally:
                outbox.discard(conn)
            await _in_thread(executor, transaction.commit)  # the fsync, off the loop
            return True
        except BaseException:
            writer.discard_connection()  # whatever state it is in, the next group starts anew
            raise

    async def _begin_immediate(self, conn: Connection, executor: ThreadPoolExecutor) -> None:
        """``BEGIN IMMEDIATE`` on ``conn``'s driver connection (a loop writer's: busy timeout
        0): at once when the database's write lock is free, else waiting for it (the busy
        timeout, for this one statement) in a worker thread."""
        driver = conn.connection.driver_connection
        assert driver is not None
        try:
            try:
                driver.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # another process holds the write lock
                driver.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
                try:
                    await _in_thread(executor, driver.execute, "BEGIN IMMEDIATE")
                finally:
                    driver.execute("PRAGMA busy_timeout = 0")
        except sqlite3.Error as exc:  # as SQLAlchemy would raise it (the service answers 503)
            raise DBAPIError.instance("BEGIN IMMEDIATE", (), exc, sqlite3.Error) from exc
        conn.info[_BEGUN] = True

    def _run_group(self, batch: list[_Work[Any]]) -> None:
        """Run one group of :meth:`write_grouped` callers in one transaction (leader only)."""
        if len(batch) == 1:  # alone: its own transaction, no savepoint
            item = batch[0]
            try:
                with self.write() as conn:
                    item.value = item.work(conn)
            except Exception as exc:
                item.error = exc
            return
        try:  # optimistic: no savepoints (two statements per caller); any failure redoes it
            with self.write() as conn:
                _run_items(conn, batch, savepoints=False)
            return
        except Exception:  # rolled back whole: run the group again, each caller in a savepoint
            for item in batch:
                item.value = None
        try:
            with self.write() as conn:
                _run_items(conn, batch, savepoints=True)
        except Exception as exc:  # the commit failed: nothing of the group is durable
            for item in batch:
                if item.error is None:
                    item.error = exc

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """Open one read-only transaction that takes no write lock (a consistent snapshot)."""
        with self._guard(), self.engine.connect() as conn:
            conn.execution_options(**{_READ: True})
            with conn.begin():
                yield conn

    def ping(self) -> None:
        """Run ``SELECT 1``; raises :class:`sqlalchemy.exc.SQLAlchemyError` when unreachable."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def migrate(self) -> None:
        """Create or upgrade the schema with the packaged Alembic migrations (to ``head``).

        On PostgreSQL an advisory lock keeps instances that start together from racing.
        """
        from jwtkit.server.migrations import upgrade

        with self.write() as conn:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(7263510394)"))
            upgrade(conn)

    def prepare(self, statement: Any) -> Prepared:
        """``statement`` (SQLAlchemy Core, with named ``bindparam`` parameters) compiled once
        for this database: a :class:`Prepared` to run on the hottest paths."""
        return Prepared(statement, self.engine)

    def lock_table(self, conn: Connection, table: Table) -> None:
        """Serialise writers of ``table`` inside ``conn``'s transaction (PostgreSQL
        ``LOCK TABLE ... SHARE ROW EXCLUSIVE``; on SQLite ``BEGIN IMMEDIATE`` already does)."""
        if not self.is_sqlite:
            conn.execute(text(f"LOCK TABLE {table.name} IN SHARE ROW EXCLUSIVE MODE"))

    def greatest(self, column: Any, value: Any) -> ColumnElement[Any]:
        """SQL for the larger of ``column`` and ``value`` (a number or a bound parameter;
        ``max`` on SQLite, ``greatest`` elsewhere)."""
        return func.max(column, value) if self.is_sqlite else func.greatest(column, value)
