"""Helpers for the core tests: hand-made tokens, independent of jwtkit's own encoder.

``forge`` builds a compact JWS from raw parts so a test can put exactly the bytes it wants in each
segment (duplicate members, padding, odd alphabets...), and still sign it correctly, so the only
fault in the token is the one under test.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from jwtkit import Key

NOW = 1_700_000_000
ISS = "https://issuer.example"
AUD = "https://api.example"
CLAIMS: dict[str, Any] = {
    "iss": ISS,
    "sub": "alice",
    "aud": AUD,
    "iat": NOW,
    "nbf": NOW,
    "exp": NOW + 600,
    "jti": "jti-1",
}

_HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
_EC_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66, "ES256K": 32}


def b64u(data: bytes | str) -> str:
    """Unpadded base64url of bytes (str is UTF-8 encoded first)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64u(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def segment(value: Any) -> str:
    """A dict/list is compact JSON then base64url; bytes are base64url; a str is used verbatim."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return b64u(value)
    return b64u(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def raw_sign(alg: str, key: Any, data: bytes) -> bytes:
    """Sign with pyca/cryptography directly (or hmac for HS*): the reference signer."""
    if isinstance(key, Key):
        key = key.raw
    family, bits = alg[:2], alg[2:]
    if family == "HS":
        return hmac.digest(key, data, getattr(hashlib, f"sha{bits}"))
    if family == "RS":
        return key.sign(data, padding.PKCS1v15(), _HASHES[bits])  # type: ignore[no-any-return]
    if family == "PS":
        h = _HASHES[bits]
        return key.sign(  # type: ignore[no-any-return]
            data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h
        )
    if family == "ES":
        size = _EC_SIZES[alg]
        der = key.sign(data, ec.ECDSA(_HASHES["256" if alg == "ES256K" else bits]))
        r, s = decode_dss_signature(der)
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    assert isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
    return key.sign(data)


def forge(
    header: Any,
    payload: Any = None,
    *,
    key: Any = None,
    signature: bytes | str | None = None,
    alg: str | None = None,
) -> str:
    """Build a compact JWS from raw parts.

    Args:
        header, payload: see :func:`segment` (payload defaults to ``CLAIMS``).
        key: signing key (Key, cryptography key or HMAC bytes); used when ``signature`` is None.
        signature: the signature bytes, or an already-encoded str segment.
        alg: the algorithm to sign with (default: ``header["alg"]``).
    """
    h = segment(header)
    p = segment(CLAIMS if payload is None else payload)
    if signature is None:
        name = alg or header["alg"]
        signature = raw_sign(name, key, f"{h}.{p}".encode("ascii"))
    s = signature if isinstance(signature, str) else b64u(signature)
    return f"{h}.{p}.{s}"


def rsa_private(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


class _JSONHandler(http.server.BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve_json(document: Any) -> Iterator[str]:
    """Serve ``document`` as JSON on a loopback HTTP server (port chosen by the OS); yields the
    URL of ``/.well-known/jwks.json`` on it (every path answers with the document)."""
    handler = type("Handler", (_JSONHandler,), {"body": json.dumps(document).encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
