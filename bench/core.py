"""JOSE core benchmark: verify and sign per algorithm, jwtkit beside its peers and the raw floor.

Not a test: it prints a table and never fails on speed. Run with ``make bench`` or
``.venv/bin/python bench/core.py [--rounds N] [--markdown]``.

What is measured, per algorithm (HS256, RS256, PS256, ES256, EdDSA), in one process:

* verify: a JWT with ``iss``, ``aud``, ``exp``, ``iat``, ``sub`` claims, checked for signature,
  expiry, issuer and audience. jwtkit uses a :class:`jwtkit.Verifier` built once (the per-request
  path services use); PyJWT uses ``PyJWT().decode`` / ``PyJWKClient``-free ``jwt.decode`` with a
  prepared key object; joserfc ``jwt.decode`` plus ``JWTClaimsRegistry.validate``; jwcrypto
  ``JWT(jwt=..., key=..., check_claims=...)``.
* the raw floor of verify: split on '.', base64url-decode header, payload and signature, the
  ``cryptography`` verify call (for ECDSA including the r||s -> DER conversion), and ``json.loads``
  of header and payload. No claim checks, no policy: the least any verifier must do.
* sign: a JWT of the same claims. The raw floor of sign: JSON dump of header and claims,
  base64url encode, the ``cryptography`` sign call (ECDSA: DER -> r||s), join.

Each cell is the best of ``--repeat`` runs of ``--rounds`` operations, in microseconds per
operation; ratios are to the floor of the same row.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from joserfc import jwk as jf_jwk
from joserfc import jwt as jf_jwt
from jwcrypto import jwk as jc_jwk
from jwcrypto import jwt as jc_jwt

import jwtkit

ISS = "https://issuer.example"
AUD = "api://bench"
ALGS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")


def b64e(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def b64d(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def make_key(alg: str) -> jwtkit.Key:
    if alg == "HS256":
        return jwtkit.Key.generate("oct", size=256, kid="bench")
    if alg in ("RS256", "PS256"):
        return jwtkit.Key.generate("RSA", size=2048)
    if alg == "ES256":
        return jwtkit.Key.generate("EC", crv="P-256")
    return jwtkit.Key.generate("OKP", crv="Ed25519")


def raw_verifier(alg: str, key: jwtkit.Key) -> Callable[[bytes], Any]:
    """The floor: split, base64url decode, cryptography verify, JSON parse."""
    pub: Any = key.raw if key.is_symmetric else key.public().raw
    loads = json.loads
    if alg == "HS256":

        def check(sig: bytes, data: bytes) -> None:
            if not hmac.compare_digest(hmac.digest(pub, data, "sha256"), sig):
                raise ValueError

    elif alg == "RS256":
        pad, h = padding.PKCS1v15(), hashes.SHA256()

        def check(sig: bytes, data: bytes) -> None:
            pub.verify(sig, data, pad, h)

    elif alg == "PS256":
        h = hashes.SHA256()
        pad = padding.PSS(mgf=padding.MGF1(h), salt_length=32)

        def check(sig: bytes, data: bytes) -> None:
            pub.verify(sig, data, pad, h)

    elif alg == "ES256":
        algo = ec.ECDSA(hashes.SHA256())

        def check(sig: bytes, data: bytes) -> None:
            der = encode_dss_signature(
                int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            )
            pub.verify(der, data, algo)

    else:

        def check(sig: bytes, data: bytes) -> None:
            pub.verify(sig, data)

    def verify(token: bytes) -> Any:
        h, p, s = token.split(b".")
        loads(b64d(h))
        check(b64d(s), token[: len(h) + 1 + len(p)])
        return loads(b64d(p))

    return verify


def raw_signer(alg: str, key: jwtkit.Key) -> Callable[[dict[str, Any]], bytes]:
    """The floor of signing: JSON dump, base64url encode, cryptography sign, join."""
    priv: Any = key.raw
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    header = {"alg": alg, "typ": "JWT"}
    if alg == "HS256":

        def sig(data: bytes) -> bytes:
            return hmac.digest(priv, data, "sha256")

    elif alg == "RS256":
        pad, h = padding.PKCS1v15(), hashes.SHA256()

        def sig(data: bytes) -> bytes:
            return priv.sign(data, pad, h)  # type: ignore[no-any-return]

    elif alg == "PS256":
        h = hashes.SHA256()
        pad = padding.PSS(mgf=padding.MGF1(h), salt_length=32)

        def sig(data: bytes) -> bytes:
            return priv.sign(data, pad, h)  # type: ignore[no-any-return]

    elif alg == "ES256":
        algo = ec.ECDSA(hashes.SHA256())

        def sig(data: bytes) -> bytes:
            r, s = decode_dss_signature(priv.sign(data, algo))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    else:

        def sig(data: bytes) -> bytes:
            return priv.sign(data)  # type: ignore[no-any-return]

    def sign(claims: dict[str, Any]) -> bytes:
        data = b64e(dumps(header).encode()) + b"." + b64e(dumps(claims).encode())
        return data + b"." + b64e(sig(data))

    return sign


def peers(
    alg: str, key: jwtkit.Key, token: str
) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """Return {peer: (verify(), sign())} closures."""
    claims = json.loads(b64d(token.split(".")[1].encode()))
    out: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {}

    # PyJWT: prepared key objects (PyJWK), as a service would hold them.
    priv_jwk = key.to_jwk(private=True)
    pub_jwk = key.to_jwk(private=key.is_symmetric)
    pj_priv = pyjwt.PyJWK(priv_jwk, algorithm=alg)
    pj_pub = pyjwt.PyJWK(pub_jwk, algorithm=alg)
    out["PyJWT"] = (
        lambda: pyjwt.decode(token, pj_pub, algorithms=[alg], audience=AUD, issuer=ISS),
        lambda: pyjwt.encode(claims, pj_priv, algorithm=alg),
    )

    # joserfc: decode verifies the signature; claims need a registry.
    jf_priv = jf_jwk.import_key(priv_jwk)
    jf_pub = jf_jwk.import_key(pub_jwk)
    registry = jf_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISS}, aud={"essential": True, "value": AUD}
    )
    jf_alg = "Ed25519" if alg == "EdDSA" and "Ed25519" in _joserfc_algs() else alg

    def jf_verify() -> Any:
        tok = jf_jwt.decode(token, jf_pub, algorithms=[alg])
        registry.validate(tok.claims)
        return tok.claims

    out["joserfc"] = (
        jf_verify,
        lambda: jf_jwt.encode({"alg": alg}, claims, jf_priv, algorithms=[alg]),
    )
    del jf_alg

    # jwcrypto: JWT with check_claims.
    jc_priv = jc_jwk.JWK(**priv_jwk)
    jc_pub = jc_jwk.JWK(**pub_jwk)

    def jc_verify() -> Any:
        t = jc_jwt.JWT(
            jwt=token, key=jc_pub, algs=[alg], check_claims={"iss": ISS, "aud": AUD, "exp": None}
        )
        return t.claims

    def jc_sign() -> Any:
        t = jc_jwt.JWT(header={"alg": alg}, claims=claims)
        t.make_signed_token(jc_priv)
        return t.serialize()

    out["jwcrypto"] = (jc_verify, jc_sign)
    return out


def _joserfc_algs() -> set[str]:
    from joserfc.jws import JWSRegistry

    return set(JWSRegistry.algorithms)


def best_of(fns: dict[str, Callable[[], Any]], rounds: int, repeat: int) -> dict[str, float]:
    """Time each function ``rounds`` times per run, the functions interleaved run by run so
    that background load hits them alike; keep the best run. Microseconds per call."""
    for fn in fns.values():
        fn()
    out = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter_ns()
            for _ in range(rounds):
                fn()
            out[name] = min(out[name], (time.perf_counter_ns() - start) / rounds / 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="operations per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is kept")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()

    now = int(time.time())
    claims = {
        "iss": ISS,
        "sub": "user-1",
        "aud": AUD,
        "iat": now,
        "exp": now + 3600,
        "jti": "b6a5c4d3",
        "scope": "read write",
    }
    rows_v: list[list[str]] = []
    rows_s: list[list[str]] = []
    names = ["jwtkit", "PyJWT", "joserfc", "jwcrypto"]
    for alg in ALGS:
        key = make_key(alg)
        # RSA verification is cheap relative to signing: fewer rounds keep the run short.
        rounds = args.rounds if alg in ("HS256", "ES256", "EdDSA") else max(200, args.rounds // 4)
        vkey = key if key.is_symmetric else key.public()
        token = jwtkit.encode(claims, key, alg, headers={"kid": None})
        btoken = token.encode()
        verifier = jwtkit.Verifier(vkey, algorithms=[alg], issuer=ISS, audience=AUD)
        assert verifier.verify(token)["sub"] == "user-1"
        floor_v = raw_verifier(alg, key)
        floor_s = raw_signer(alg, key)
        peer = peers(alg, key, token)
        for _name, (v, s) in peer.items():
            v()
            s()
        verify_times = best_of(
            {
                "floor": lambda: floor_v(btoken),
                "jwtkit": lambda: verifier.verify(token),
                **{n: v for n, (v, _) in peer.items()},
            },
            rounds,
            args.repeat,
        )
        sign_times = best_of(
            {
                "floor": lambda: floor_s(claims),
                "jwtkit": lambda: jwtkit.encode(claims, key, alg),
                **{n: s for n, (_, s) in peer.items()},
            },
            rounds,
            args.repeat,
        )
        fv, fs = verify_times["floor"], sign_times["floor"]
        rows_v.append(
            [alg, f"{fv:.1f}"]
            + [f"{verify_times[n]:.1f} ({verify_times[n] / fv:.2f}x)" for n in names]
        )
        rows_s.append(
            [alg, f"{fs:.1f}"] + [f"{sign_times[n]:.1f} ({sign_times[n] / fs:.2f}x)" for n in names]
        )

    header = ["alg", "floor µs"] + [f"{n} µs (x floor)" for n in names]
    for title, rows in (("verify (signature + exp, iss, aud)", rows_v), ("sign", rows_s)):
        if args.markdown:
            print(f"\n**{title}**\n")
            print("| " + " | ".join(header) + " |")
            print("|" + "---|" * len(header))
            for row in rows:
                print("| " + " | ".join(row) + " |")
        else:
            print(f"\n{title}")
            widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
            for row in [header, *rows]:
                print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
