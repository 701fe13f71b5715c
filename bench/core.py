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

* decrypt (JWE, RFC 7516): a compact JWE of the same claims, for A256GCM with ``dir``, ``A256KW``,
  ``ECDH-ES`` (P-256) and ``RSA-OAEP-256`` (2048 bits). jwtkit uses a :class:`jwtkit.jwe.Decrypter`
  built once; joserfc ``jwe.decrypt_compact`` with a registry naming the algorithms; jwcrypto
  ``JWE.deserialize`` with ``allowed_algs``. The raw floor: split on '.', base64url-decode the
  five segments, ``json.loads`` of the header, the ``cryptography`` key management call (none,
  ``aes_key_unwrap``, ECDH exchange + ``ConcatKDFHash``, RSA-OAEP decrypt) and ``AESGCM.decrypt``.

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
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
from joserfc import jwe as jf_jwe
from joserfc import jwk as jf_jwk
from joserfc import jwt as jf_jwt
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk
from jwcrypto import jwt as jc_jwt

import jwtkit
from jwtkit import jwe

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


JWE_ROWS = ("dir", "A256KW", "ECDH-ES", "RSA-OAEP-256")


def jwe_key(alg: str) -> jwtkit.Key:
    if alg in ("dir", "A256KW"):
        return jwtkit.Key.generate("oct", size=256, kid="bench")
    if alg == "ECDH-ES":
        return jwtkit.Key.generate("EC", crv="P-256", kid="bench")
    return jwtkit.Key.generate("RSA", size=2048, kid="bench")


def raw_decrypter(alg: str, key: jwtkit.Key) -> Callable[[bytes], Any]:
    """The floor of JWE decryption: split, base64url decode, JSON, key management, AES-GCM."""
    loads = json.loads
    raw: Any = key.raw
    if alg == "dir":

        def cek_of(header: dict[str, Any], ek: bytes) -> bytes:
            return raw  # type: ignore[no-any-return]

    elif alg == "A256KW":

        def cek_of(header: dict[str, Any], ek: bytes) -> bytes:
            return aes_key_unwrap(raw, ek)

    elif alg == "ECDH-ES":
        ecdh = ec.ECDH()

        def cek_of(header: dict[str, Any], ek: bytes) -> bytes:
            epk = header["epk"]
            pub = ec.EllipticCurvePublicNumbers(
                int.from_bytes(b64d(epk["x"].encode()), "big"),
                int.from_bytes(b64d(epk["y"].encode()), "big"),
                ec.SECP256R1(),
            ).public_key()
            z = raw.exchange(ecdh, pub)
            other = b"\0\0\0\x07A256GCM" + bytes(8) + (256).to_bytes(4, "big")
            return ConcatKDFHash(hashes.SHA256(), 32, other).derive(z)

    else:
        h = hashes.SHA256()
        oaep = padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)

        def cek_of(header: dict[str, Any], ek: bytes) -> bytes:
            return raw.decrypt(ek, oaep)  # type: ignore[no-any-return]

    def decrypt(token: bytes) -> Any:
        h, ek, iv, ct, tag = token.split(b".")
        header = loads(b64d(h))
        cek = cek_of(header, b64d(ek))
        return loads(AESGCM(cek).decrypt(b64d(iv), b64d(ct) + b64d(tag), h))

    return decrypt


def jwe_peers(alg: str, key: jwtkit.Key, token: str) -> dict[str, Callable[[], Any]]:
    """Return {peer: decrypt()} closures for joserfc and jwcrypto."""
    priv_jwk = key.to_jwk(private=True)
    jf_key = jf_jwk.import_key(priv_jwk)
    registry = jf_jwe.JWERegistry(algorithms=[alg, "A256GCM"])
    jc_key = jc_jwk.JWK(**priv_jwk)

    def jc_decrypt() -> Any:
        obj = jc_jwe.JWE()
        obj.allowed_algs = [alg, "A256GCM"]
        obj.deserialize(token, key=jc_key)
        return json.loads(obj.payload)

    return {
        "joserfc": lambda: json.loads(
            jf_jwe.decrypt_compact(token, jf_key, registry=registry).plaintext or b""
        ),
        "jwcrypto": jc_decrypt,
    }


def decrypt_rows(claims: dict[str, Any], rounds: int, repeat: int) -> list[list[str]]:
    """One row per JWE alg: floor, jwtkit, joserfc, jwcrypto (µs and ratio to the floor)."""
    rows = []
    for alg in JWE_ROWS:
        key = jwe_key(alg)
        enc_key = key if key.is_symmetric else key.public()
        token = jwe.encrypt(json.dumps(claims), enc_key, alg, "A256GCM", headers={"kid": None})
        btoken = token.encode()
        policy = jwe.Decrypter(key, algorithms=[alg], encryption_algorithms=["A256GCM"])
        floor = raw_decrypter(alg, key)
        assert floor(btoken) == json.loads(policy.decrypt(token)) == claims
        peer = jwe_peers(alg, key, token)
        n = rounds if alg != "RSA-OAEP-256" else max(200, rounds // 4)
        times = best_of(
            {
                "floor": lambda: floor(btoken),
                "jwtkit": lambda: json.loads(policy.decrypt(token)),
                **peer,
            },
            n,
            repeat,
        )
        f = times["floor"]
        rows.append(
            [f"{alg} + A256GCM", f"{f:.1f}"]
            + [f"{times[p]:.1f} ({times[p] / f:.2f}x)" for p in ("jwtkit", "joserfc", "jwcrypto")]
        )
    return rows


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
    parser.add_argument("--jwe-only", action="store_true", help="only the JWE decrypt rows")
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
    for alg in () if args.jwe_only else ALGS:
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

    rows_d = decrypt_rows(claims, args.rounds, args.repeat)
    header = ["alg", "floor µs"] + [f"{n} µs (x floor)" for n in names]
    tables = [("verify (signature + exp, iss, aud)", header, rows_v), ("sign", header, rows_s)]
    jwe_header = ["alg + enc", "floor µs"] + [
        f"{n} µs (x floor)" for n in ("jwtkit", "joserfc", "jwcrypto")
    ]
    tables.append(("JWE decrypt (compact, plaintext = the claims JSON)", jwe_header, rows_d))
    for title, header, rows in tables:
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
