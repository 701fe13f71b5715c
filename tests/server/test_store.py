"""The store's guarantees under speed work (issue 12) and faults (issue 13 items 5, 6, 8):
statements per grant, reads without the write lock, one live refresh token per family inside
the grace window, timeouts and breakers against a hung dependency, revocations kept for the
verifiers' leeway."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

import jwtkit
from jwtkit.revocation import Denylist
from jwtkit.server.ratelimit import FallbackCounter
from jwtkit.store._breaker import Breaker, BreakerOpenError
from jwtkit.store.schema import refresh_tokens
from jwtkit.store.sql import SQLStore

from .support import (
    REDIS_PREFIX,
    REDIS_URL,
    FakeClock,
    ServerProcess,
    Svc,
    jwtkit_cmd,
    redis_cleanup,
)

# ---- statements per grant (issue 12: as few SQL round trips as the semantics allow) ----------


@dataclass(frozen=True)
class Budget:
    name: str
    sqlite: int
    postgresql: int


# Statements the third of three identical requests sends (the first two warm the client and
# key caches). SQLite counts its explicit BEGIN / BEGIN IMMEDIATE; psycopg begins implicitly.
BUDGETS = {
    "client_credentials": Budget("client_credentials", 0, 0),
    # one transaction: token, session lock + extension + the user's disabled flag, consume,
    # successor (SQLite adds its BEGIN IMMEDIATE)
    "refresh_token": Budget("refresh_token", 5, 4),
    # the user, then the session: user lock, the credentials re-check (13.1),
    # session cap count, session, first refresh token
    "password": Budget("password", 8, 6),
    "jwks": Budget("jwks", 0, 0),
    # revocations by jti/sid/sub, the session's revoked_at, the user's disabled flag
    "introspect_access_token": Budget("introspect_access_token", 5, 3),
}


class StatementCounter:
    """Counts the SQL statements an engine sends (SQLAlchemy ``before_cursor_execute``), leaving
    out the revocation relay's background polls of the outbox (and their ``BEGIN``)."""

    RELAY_TABLES = ("revocation_outbox", "revocation_seq")

    def __init__(self, store: SQLStore) -> None:
        self.engine = store.engine
        self._seen: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self._lock:
            self._seen.append((threading.get_ident(), statement))

    @property
    def statements(self) -> list[str]:
        """The first word of each counted statement, in order."""
        out: list[str] = []
        pending: dict[int, str] = {}  # a thread's BEGIN, kept until its next statement
        for thread, text in self._seen:
            relay = any(name in text for name in self.RELAY_TABLES)
            begun = pending.pop(thread, None)
            if begun is not None and not relay:
                out.append(begun)
            if text.split(maxsplit=1)[0].upper() == "BEGIN":
                pending[thread] = "BEGIN"
            elif not relay:
                out.append(text.split(maxsplit=1)[0].upper())
        return out + list(pending.values())

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)


def _requests(s: Svc) -> dict[str, Any]:
    """One callable per budget row; each returns the HTTP status of one request."""
    login = {"grant_type": "password", "username": "alice", "password": "pw-alice"}

    def cc() -> int:
        return s.http.post(
            "/token", data={"grant_type": "client_credentials"}, auth=("rs", "rs-secret")
        ).status_code

    state: dict[str, str] = {}

    def refresh() -> int:
        if "rt" not in state:
            state["rt"] = s.http.post("/token", data={**login, "client_id": "web"}).json()[
                "refresh_token"
            ]
        r = s.http.post(
            "/token",
            data={"grant_type": "refresh_token", "client_id": "web", "refresh_token": state["rt"]},
        )
        state["rt"] = r.json().get("refresh_token", "")
        return r.status_code

    def password() -> int:
        return s.http.post("/token", data={**login, "client_id": "web"}).status_code

    def jwks() -> int:
        return s.http.get("/.well-known/jwks.json").status_code

    def introspect() -> int:
        if "at" not in state:
            state["at"] = s.http.post("/token", data={**login, "client_id": "web"}).json()[
                "access_token"
            ]
        return s.http.post(
            "/introspect", data={"token": state["at"]}, auth=("rs", "rs-secret")
        ).status_code

    return {
        "client_credentials": cc,
        "refresh_token": refresh,
        "password": password,
        "jwks": jwks,
        "introspect_access_token": introspect,
    }


@pytest.mark.parametrize("row", list(BUDGETS.values()), ids=lambda b: b.name)
def test_statements_per_grant(make_svc: Any, backend: str, row: Budget) -> None:
    s: Svc = make_svc(key_cache_seconds=30, client_cache_seconds=30, revocation_relay_interval=5)
    s.add_user()
    s.add_client()
    s.add_client("rs", secret="rs-secret", grants=("client_credentials",), scope="read write")
    send = _requests(s)[row.name]
    assert send() == 200  # warm the caches (and upgrade the test's argon2id client secret)
    assert send() == 200
    with StatementCounter(s.store) as counter:
        assert send() == 200
    budget = row.sqlite if backend == "sqlite" else row.postgresql
    assert len(counter.statements) <= budget, counter.statements


# ---- reads take no write lock (issue 12: client lookup, JWK Set, introspection) --------------


def test_reads_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = SQLStore(url, busy_timeout=0.2, client_cache_seconds=0)
    store.migrate()
    store.create_client(
        "c", secret_hash=None, grant_types=["password"], scope="", audience=None, now=1.0
    )
    other = SQLStore(url, busy_timeout=0.2)  # another process's writer, holding the lock
    try:
        with other.db.write():
            started = time.monotonic()
            assert store.get_client("c") is not None
            assert store.revoked_grain({"jti": "x", "sid": "y", "sub": "z", "iat": 1}) is None
            assert store.list_keys() == []
            assert time.monotonic() - started < 0.2  # no busy wait at all
            with pytest.raises(OperationalError):  # while writers still serialise
                store.revoke_jti("j", 10.0, 1.0)
    finally:
        store.close()
        other.close()


# ---- issue 13 item 5: the grace window never forks a token family ---------------------------


@dataclass(frozen=True)
class GraceRow:
    name: str
    steps: tuple[tuple[str, float, str], ...]  # (presented token, at, expected outcome)


# Tokens: A is the login's; each successful step issues the next letter (B, C, ...).
GRACE_ROWS = [
    GraceRow("retry-in-grace", (("A", 0, "ok"), ("A", 1, "grace"))),
    GraceRow("retry-twice-in-grace", (("A", 0, "ok"), ("A", 1, "grace"), ("A", 2, "grace"))),
    GraceRow(
        "superseded-successor-is-reuse", (("A", 0, "ok"), ("A", 1, "grace"), ("B", 30, "reuse"))
    ),
    GraceRow("retry-after-successor-used", (("A", 0, "ok"), ("B", 1, "ok"), ("A", 2, "reuse"))),
    GraceRow("retry-after-grace", (("A", 0, "ok"), ("A", 10, "reuse"))),
    GraceRow(
        "winner-keeps-going", (("A", 0, "ok"), ("A", 1, "grace"), ("C", 2, "ok"), ("D", 3, "ok"))
    ),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def bare_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SQLStore]:
    if request.param == "sqlite":
        store = SQLStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    else:
        store = SQLStore(request.getfixturevalue("pg_url"))
    store.migrate()
    yield store
    store.close()


def _live(store: SQLStore, sid: str) -> int:
    with store.db.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(refresh_tokens)
                .where(refresh_tokens.c.sid == sid, refresh_tokens.c.state == "active")
            ).scalar_one()
        )


@pytest.mark.parametrize("row", GRACE_ROWS, ids=lambda r: r.name)
def test_grace_window_never_forks_a_family(bare_store: SQLStore, row: GraceRow) -> None:
    store, t0 = bare_store, 1_000_000.0
    user = store.create_user(f"u-{row.name}-{time.time_ns()}", "x", "read", t0)
    assert user is not None
    prefix = f"{row.name}-{time.time_ns()}-"
    session, _ = store.create_session(
        user=user,
        client_id="web",
        scope="read",
        token_hash=prefix + "A",
        now=t0,
        refresh_exp=t0 + 3600,
        access_exp=t0 + 900,
    )
    issued = "A"
    for presented, at, expected in row.steps:
        successor = chr(ord(issued) + 1)
        result = store.rotate_refresh_token(
            token_hash=prefix + presented,
            client_id="web",
            new_hash=prefix + successor,
            now=t0 + at,
            refresh_exp=t0 + 3600,
            access_exp=t0 + at + 900,
            grace_seconds=5.0,
        )
        assert result.outcome == expected, (presented, at)
        if expected in ("ok", "grace"):
            issued = successor
        assert _live(store, session.sid) <= 1, f"two live refresh tokens after {presented}@{at}"
    final = row.steps[-1][2]
    assert _live(store, session.sid) == (0 if final == "reuse" else 1)


# ---- issue 13 item 6: short timeouts and a breaker against a hung dependency -----------------


class HungListener:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 120  # bounded even if a test forgets to stop it
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self.sock.close()


@pytest.fixture
def hung() -> Iterator[HungListener]:
    listener = HungListener()
    yield listener
    listener.close()


def test_redis_breaker_stops_calling_a_hung_redis(hung: HungListener) -> None:
    from jwtkit.store.redis import RedisRateLimiter, connect

    client = connect(f"redis://127.0.0.1:{hung.port}/0", 0.2)
    breaker = Breaker("redis", failures=2, open_seconds=60)
    counter = FallbackCounter(RedisRateLimiter(client, "t", breaker=breaker))
    started = time.monotonic()
    for _ in range(20):  # the limits keep counting, in process
        counter.record_failure("user:alice", 300, 1000.0)
    assert counter.failures("user:alice", 300, 1000.0) == 20
    elapsed = time.monotonic() - started
    assert breaker.is_open
    assert hung.accepted <= 2, hung.accepted  # no call after the breaker opened
    assert elapsed < 3.0, elapsed  # 20 x 5 s (the old socket timeout) without it
    with pytest.raises(BreakerOpenError):
        RedisRateLimiter(client, "t", breaker=breaker).failures("x", 300, 1000.0)
    client.close()


def test_database_breaker_fails_fast_on_a_hung_postgresql(hung: HungListener) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{hung.port}/none"
    store = SQLStore(url, timeout=1.0, breaker=Breaker("database", failures=2, open_seconds=60))
    try:
        for _ in range(2):
            with pytest.raises(OperationalError):
                store.get_user("alice")
        opened = hung.accepted
        started = time.monotonic()
        for _ in range(10):
            with pytest.raises(OperationalError):  # the service answers 503 for these
                store.get_user("alice")
        assert time.monotonic() - started < 0.5
        assert hung.accepted == opened  # the breaker made no call
        assert store.db.breaker.is_open
    finally:
        store.close()


def test_logins_stay_fast_with_a_hung_redis(make_svc: Any, hung: HungListener) -> None:
    s: Svc = make_svc(
        redis_url=f"redis://127.0.0.1:{hung.port}/0",
        dependency_timeout=0.2,
        breaker_failures=2,
        breaker_open_seconds=60,
    )
    s.add_user()
    s.add_client()
    form = {"grant_type": "password", "username": "alice", "client_id": "web"}
    started = time.monotonic()
    for i in range(6):  # failures and successes both touch the shared limiter
        password = "pw-alice" if i % 2 else "wrong"
        r = s.http.post("/token", data={**form, "password": password})
        assert r.status_code == (200 if i % 2 else 400), r.text
    assert time.monotonic() - started < 5.0  # each login took 20-25 s before (issue 13.6)
    assert hung.accepted <= 3, hung.accepted


# ---- issue 13 item 8: revocations live until exp plus the largest verifier leeway ------------


@pytest.mark.parametrize("grain", ["jti", "sid", "sub"])
def test_service_keeps_revocations_for_the_leeway(make_svc: Any, grain: str) -> None:
    clock = FakeClock()
    s: Svc = make_svc(clock=clock, revocation_leeway=120)
    user = s.add_user()
    s.add_client()
    tokens = s.http.post(
        "/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "pw-alice",
            "client_id": "web",
        },
    ).json()
    claims = jwtkit.decode_unverified(tokens["access_token"])
    if grain == "jti":
        s.store.revoke_jti(claims["jti"], float(claims["exp"]), clock())
    elif grain == "sid":
        s.service.revoke_session(claims["sid"], reason="t", actor="t")
    else:
        clock.advance(1)
        s.service.revoke_user(user, reason="t", actor="t")
    clock.now = float(claims["exp"]) + 60  # past every until, within the leeway
    s.services.resync()  # prunes
    assert s.store.revoked_grain(claims) is not None
    assert grain in {e.kind for e in s.store.live_revocations(clock() - 120)}
    clock.advance(200)  # past until + leeway for every grain
    s.services.resync()
    assert s.store.live_revocations(clock() - 120) == []


@pytest.mark.parametrize("grain", ["jti", "sid", "sub"])
def test_denylist_keeps_revocations_for_the_verifier_leeway(grain: str) -> None:
    from jwtkit.middleware import BearerGuard

    key = jwtkit.Key.generate("EC", crv="P-256", kid="k")
    verifier = jwtkit.Verifier(key.public(), algorithms=["ES256"], leeway=120)
    denylist = Denylist()
    BearerGuard(verifier, denylist=denylist)
    exp = 10_000.0
    claims = {"jti": "j", "sid": "s", "sub": "u", "iat": 5_000, "exp": exp}
    if grain == "jti":
        denylist.add_jti("j", exp)
    elif grain == "sid":
        denylist.add_sid("s", exp)
    else:
        denylist.add_sub("u", 6_000.0, exp)
    denylist.prune(exp + 60)  # the verifier still accepts the token here
    assert denylist.is_revoked(claims) == grain
    denylist.prune(exp + 121)
    assert denylist.is_revoked(claims) is None


# ---- jwtkit serve --workers N (issue 12 item 3) --------------------------------------------


def test_serve_workers_share_limits_and_revocations(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    prefix = f"{REDIS_PREFIX}:{uuid.uuid4().hex[:8]}"
    env = {
        **server_env,
        "JWTKIT_WORKERS": "2",
        "JWTKIT_REDIS_URL": REDIS_URL,
        "JWTKIT_REDIS_PREFIX": prefix,
        "JWTKIT_REVOCATION_PREFIX": f"{prefix}:revocations",
        "JWTKIT_LOGIN_MAX_FAILURES_PER_USER": "3",
    }
    jwtkit_cmd("users", "add", "alice", "--password-stdin", env=env, stdin="pw-alice-long\n")
    jwtkit_cmd(
        "clients",
        "add",
        "web",
        "--public",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        env=env,
    )
    proc = ServerProcess(tmp_path / "data", env)
    proc.start()
    try:
        login = {"grant_type": "password", "username": "alice", "client_id": "web"}
        tokens = httpx.post(f"{proc.url}/token", data={**login, "password": "pw-alice-long"})
        assert tokens.status_code == 200, tokens.text
        access = tokens.json()["access_token"]
        refresh = tokens.json()["refresh_token"]
        # A revocation through one connection holds for every worker (new connection each).
        r = httpx.post(f"{proc.url}/logout", data={"token": refresh})
        assert r.status_code == 204, r.text
        for _ in range(6):
            r = httpx.get(f"{proc.url}/sessions", headers={"Authorization": f"Bearer {access}"})
            assert r.status_code == 401, r.text
        # Failed logins count once across workers: the 4th is refused, not the 7th.
        statuses = [
            httpx.post(f"{proc.url}/token", data={**login, "password": "wrong"}).status_code
            for _ in range(4)
        ]
        assert statuses == [400, 400, 400, 429], statuses
        # A supervisor killed outright takes its workers with it (no orphan keeps the port).
        assert proc.proc is not None
        workers = _children(proc.proc.pid)
        assert len(workers) >= 2, workers  # the workers (and multiprocessing's tracker)
        proc.kill()
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        proc.kill()
        redis_cleanup(prefix)


def _children(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_serve_workers_need_redis(server_env: dict[str, str]) -> None:
    result = jwtkit_cmd("serve", "--port", "0", "--workers", "2", env=server_env, check=False)
    assert result.returncode != 0
    assert "--redis-url" in result.stdout + result.stderr
