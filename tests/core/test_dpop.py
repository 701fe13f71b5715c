"""DPoP proofs (RFC 9449): making, verifying, replay cache and server nonces, with one row per
attack in the golang-jwt table style (each row must fail with its code)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

import jwtkit
from jwtkit import _b64, dpop
from jwtkit.errors import InvalidDPoPProofError, UseDPoPNonceError

NOW = 1_800_000_000.0
HTU = "https://as.example/token"
KEY = jwtkit.Key.generate("EC", crv="P-256")
OTHER = jwtkit.Key.generate("EC", crv="P-256")
RSA = jwtkit.Key.generate("RSA", size=2048)
ED = jwtkit.Key.generate("OKP", crv="Ed25519")
NONCES = dpop.DPoPNonces(b"n" * 32, lifetime=60)


def _seg(obj: Any) -> str:
    return _b64.b64e_str(json.dumps(obj).encode())


def _forge(header: dict[str, Any], claims: dict[str, Any], key: jwtkit.Key = KEY) -> str:
    """A proof with exactly ``header``, validly signed by ``key`` (ES256)."""
    return jwtkit.jws.sign(json.dumps(claims), key, "ES256", encoded_header=_seg(header))


def _claims(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"jti": "j1", "htm": "POST", "htu": HTU, "iat": int(NOW)}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def _proof(key: jwtkit.Key = KEY, **kw: Any) -> str:
    return dpop.make_proof(key, "POST", HTU, iat=NOW, **kw)


def test_forged_rows_are_validly_signed() -> None:
    """The table's forged proofs fail for the reason they name, not for a bad signature."""
    proof = _forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": _PUB}, _claims())
    assert dpop.verify_proof(proof, htm="POST", htu=HTU, now=NOW).jkt == KEY.thumbprint()


def test_round_trip_all_key_types() -> None:
    for key in (KEY, RSA, ED):
        result = dpop.verify_proof(_proof(key), htm="POST", htu=HTU, now=NOW)
        assert result.jkt == key.thumbprint()
        assert not result.key.is_private
        assert "kid" not in result.header


def test_htu_normalisation_ignores_query_fragment_case_and_default_port() -> None:
    proof = dpop.make_proof(KEY, "GET", "https://AS.example:443/api?q=1#f", iat=NOW)
    for htu in (
        "https://as.example/api",
        "HTTPS://as.EXAMPLE/api?other=2",
        "https://as.example:443/api",
    ):
        assert dpop.verify_proof(proof, htm="GET", htu=htu, now=NOW).claims["htu"]
    for htu in ("https://as.example:8443/api", "http://as.example/api", "https://as.example/api/"):
        with pytest.raises(InvalidDPoPProofError):
            dpop.verify_proof(proof, htm="GET", htu=htu, now=NOW)


def test_ath_binds_the_access_token() -> None:
    proof = _proof(access_token="tok-1")
    assert dpop.verify_proof(proof, htm="POST", htu=HTU, access_token="tok-1", now=NOW)
    with pytest.raises(InvalidDPoPProofError):
        dpop.verify_proof(proof, htm="POST", htu=HTU, access_token="tok-2", now=NOW)
    with pytest.raises(InvalidDPoPProofError, match="ath"):
        dpop.verify_proof(_proof(), htm="POST", htu=HTU, access_token="tok-1", now=NOW)


@dataclass(frozen=True)
class Row:
    name: str
    proof: Callable[[], object]
    kw: dict[str, Any] = field(default_factory=dict)
    error: type[Exception] = InvalidDPoPProofError


_PUB = KEY.public().to_jwk()
_PUB.pop("kid", None)
_PRIV = KEY.to_jwk(private=True)
_PRIV.pop("kid", None)

ROWS = [
    Row("wrong-htm", _proof, {"htm": "GET"}),
    Row("htm-case", _proof, {"htm": "post"}),
    Row("wrong-htu", _proof, {"htu": "https://as.example/other"}),
    Row("other-host", _proof, {"htu": "https://evil.example/token"}),
    Row("stale-iat", lambda: dpop.make_proof(KEY, "POST", HTU, iat=NOW - 400)),
    Row("future-iat", lambda: dpop.make_proof(KEY, "POST", HTU, iat=NOW + 60)),
    Row(
        "iat-string",
        lambda: _forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": _PUB}, _claims(iat="now")),
    ),
    Row(
        "iat-bool",
        lambda: _forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": _PUB}, _claims(iat=True)),
    ),
    Row(
        "no-jti",
        lambda: _forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": _PUB}, _claims(jti=None)),
    ),
    Row(
        "long-jti",
        lambda: _forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": _PUB}, _claims(jti="j" * 300)),
    ),
    Row("no-typ", lambda: _forge({"alg": "ES256", "jwk": _PUB}, _claims())),
    Row("typ-jwt", lambda: _forge({"typ": "JWT", "alg": "ES256", "jwk": _PUB}, _claims())),
    Row("no-jwk", lambda: _forge({"typ": "dpop+jwt", "alg": "ES256"}, _claims())),
    Row(
        "jwk-not-object", lambda: _forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": "x"}, _claims())
    ),
    Row(
        "private-jwk", lambda: _forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": _PRIV}, _claims())
    ),
    Row(
        "oct-jwk",
        lambda: _forge(
            {"typ": "dpop+jwt", "alg": "ES256", "jwk": {"kty": "oct", "k": "AAAA"}}, _claims()
        ),
    ),
    Row(
        "other-key-signed",
        lambda: _forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": _PUB}, _claims(), OTHER),
    ),
    Row(
        "alg-none",
        lambda: f"{_seg({'typ': 'dpop+jwt', 'alg': 'none', 'jwk': _PUB})}.{_seg(_claims())}.",
    ),
    Row(
        "alg-hs256",
        lambda: jwtkit.jws.sign(
            json.dumps(_claims()),
            jwtkit.Key.from_secret(b"s" * 32),
            "HS256",
            headers={"typ": "dpop+jwt", "jwk": _PUB},
        ),
    ),
    Row("alg-not-listed", lambda: _proof(RSA), {"algorithms": ["ES256"]}),
    Row("huge-proof", lambda: "a" * 100_000 + ".b.c"),
    Row("two-segments", lambda: "a.b"),
    Row("not-a-string", lambda: 12345),
    Row("none-value", lambda: None),
    Row("jwe-shaped", lambda: "a.b.c.d.e"),
    Row("non-ascii", lambda: "é.é.é"),
    Row("bound-to-other-key", _proof, {"jkt": OTHER.thumbprint()}),
    Row("nonce-missing", _proof, {"nonce": NONCES}, UseDPoPNonceError),
    Row("nonce-forged", lambda: _proof(nonce="A" * 32), {"nonce": NONCES}, UseDPoPNonceError),
    Row(
        "nonce-stale",
        lambda: _proof(nonce=NONCES.issue(NOW - 180)),
        {"nonce": NONCES},
        UseDPoPNonceError,
    ),
]


def test_rows_are_unique() -> None:
    assert len({r.name for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_attacks(row: Row) -> None:
    kw: dict[str, Any] = {"htm": "POST", "htu": HTU, "now": NOW}
    kw.update(row.kw)
    with pytest.raises(row.error) as info:
        dpop.verify_proof(row.proof(), **kw)
    assert info.value.code == row.error.code


def test_nonce_accepted_current_and_previous_step() -> None:
    for issued in (NOW, NOW - 59):
        proof = _proof(nonce=NONCES.issue(issued))
        assert dpop.verify_proof(proof, htm="POST", htu=HTU, nonce=NONCES, now=NOW)
    other = dpop.DPoPNonces(b"m" * 32, lifetime=60)
    with pytest.raises(UseDPoPNonceError):
        dpop.verify_proof(
            _proof(nonce=other.issue(NOW)), htm="POST", htu=HTU, nonce=NONCES, now=NOW
        )


def test_replay_cache_refuses_a_second_use_and_forgets_after_the_window() -> None:
    clock = [NOW]
    cache = dpop.MemoryReplayCache(clock=lambda: clock[0])
    proof = _proof()
    dpop.verify_proof(proof, htm="POST", htu=HTU, replay=cache, now=NOW)
    with pytest.raises(InvalidDPoPProofError, match="replay"):
        dpop.verify_proof(proof, htm="POST", htu=HTU, replay=cache, now=NOW)
    clock[0] = NOW + 400  # past iat + max_age + leeway: the proof itself is stale now
    assert cache.add("x", NOW + 500)


def test_replay_cache_full_of_live_entries_fails_closed() -> None:
    cache = dpop.MemoryReplayCache(max_entries=2, clock=lambda: NOW)
    assert cache.add("a", NOW + 10) and cache.add("b", NOW + 10)
    with pytest.raises(InvalidDPoPProofError):
        cache.add("c", NOW + 10)
    assert not cache.add("a", NOW + 10)  # still remembered: never forgotten to make room


def test_replay_cache_evicts_only_expired_entries() -> None:
    clock = [NOW]
    cache = dpop.MemoryReplayCache(max_entries=2, clock=lambda: clock[0])
    cache.add("old", NOW + 1)
    cache.add("live", NOW + 100)
    clock[0] = NOW + 2
    assert cache.add("new", NOW + 100)
    assert not cache.add("live", NOW + 100)
    assert len(cache) == 2


def test_replay_cache_is_thread_safe() -> None:
    cache = dpop.MemoryReplayCache()
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait(timeout=5)
        wins.append(cache.add("same", 2e9))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert wins.count(True) == 1 and len(wins) == 8


def test_make_proof_refuses_public_and_secret_keys() -> None:
    for key in (KEY.public(), jwtkit.Key.from_secret(b"s" * 32)):
        with pytest.raises(InvalidDPoPProofError):
            dpop.make_proof(key, "GET", HTU)


def test_nonce_secret_and_lifetime_are_checked() -> None:
    with pytest.raises(ValueError):
        dpop.DPoPNonces(b"short")
    with pytest.raises(ValueError):
        dpop.DPoPNonces(b"n" * 32, lifetime=0)
    assert not NONCES.check(None) and not NONCES.check("!" * 32) and not NONCES.check("abc")


def test_access_token_hash_is_rfc9449_example() -> None:
    # RFC 9449 §7.1: the ath of the example access token.
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert dpop.access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    with pytest.raises(InvalidDPoPProofError):
        dpop.access_token_hash("tökén")


def test_htu_must_be_absolute_http() -> None:
    for bad in ("", "/token", "ftp://x/", "https://", "https://h:99999/", 5):
        with pytest.raises(InvalidDPoPProofError):
            dpop.normalize_htu(bad)  # type: ignore[arg-type]
    assert dpop.normalize_htu("http://[::1]:80/x") == "http://[::1]/x"
    assert dpop.normalize_htu("http://127.0.0.1:8000") == "http://127.0.0.1:8000/"
