"""Fixtures for the JOSE core tests: one key of each kind, generated once per session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.x509.oid import NameOID

from jwtkit import Key

from ._helpers import rsa_private


@dataclass(frozen=True)
class Keys:
    """Private keys (and the matching public keys via ``.public()``) of every supported kind."""

    hs256: Key
    hs384: Key
    hs512: Key
    rsa: Key
    rsa_other: Key
    rsa1024: Key
    p256: Key
    p256_other: Key
    p384: Key
    p521: Key
    secp256k1: Key
    ed25519: Key
    ed448: Key
    cert_pem: bytes
    cert_der: bytes

    def by_alg(self, alg: str) -> Key:
        """The private key to sign ``alg`` with."""
        return {
            "HS256": self.hs256,
            "HS384": self.hs384,
            "HS512": self.hs512,
            "ES256": self.p256,
            "ES384": self.p384,
            "ES512": self.p521,
            "ES256K": self.secp256k1,
            "EdDSA": self.ed25519,
            "Ed25519": self.ed25519,
            "Ed448": self.ed448,
        }.get(alg, self.rsa)


def self_signed_certificate(key: Key) -> x509.Certificate:
    """A minimal self-signed X.509 certificate for ``key`` (an RSA/EC private Key)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwtkit test")])
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.raw.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .sign(key.raw, hashes.SHA256())
    )


@pytest.fixture(scope="session")
def keys() -> Keys:
    from cryptography.hazmat.primitives import serialization

    rsa_key = Key.from_cryptography(rsa_private(), kid="rsa-1")
    cert = self_signed_certificate(rsa_key)
    return Keys(
        hs256=Key.from_secret(bytes(range(32)), kid="hs256"),
        hs384=Key.from_secret(bytes(range(48)), kid="hs384"),
        hs512=Key.from_secret(bytes(range(64)), kid="hs512"),
        rsa=rsa_key,
        rsa_other=Key.from_cryptography(rsa_private(), kid="rsa-2"),
        rsa1024=Key.from_cryptography(rsa_private(1024), kid="rsa-1024"),
        p256=Key.from_cryptography(ec.generate_private_key(ec.SECP256R1()), kid="p256-1"),
        p256_other=Key.from_cryptography(ec.generate_private_key(ec.SECP256R1()), kid="p256-2"),
        p384=Key.from_cryptography(ec.generate_private_key(ec.SECP384R1()), kid="p384"),
        p521=Key.from_cryptography(ec.generate_private_key(ec.SECP521R1()), kid="p521"),
        secp256k1=Key.from_cryptography(ec.generate_private_key(ec.SECP256K1()), kid="k1"),
        ed25519=Key.from_cryptography(ed25519.Ed25519PrivateKey.generate(), kid="ed25519"),
        ed448=Key.from_cryptography(ed448.Ed448PrivateKey.generate(), kid="ed448"),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        cert_der=cert.public_bytes(serialization.Encoding.DER),
    )
