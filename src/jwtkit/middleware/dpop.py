"""DPoP at a resource server (RFC 9449 §7): the policy :class:`~jwtkit.middleware.BearerGuard`
applies to ``Authorization: DPoP <token>`` requests.

A request under the ``DPoP`` scheme must carry exactly one ``DPoP`` header whose proof (every
check of :func:`jwtkit.dpop.verify_proof`) is signed by the key the access token is bound to
(``cnf.jkt``), hashes the token (``ath``), names the request's method and URL (``htm``, ``htu``;
behind a proxy, ``external_url``), is fresh (``iat``), unused (``jti`` in the replay cache) and,
when server nonces are on, carries a current nonce. A DPoP-bound token under ``Bearer`` is
refused (§7.2: the binding would be lost), and so is a ``Bearer`` token sent with a proof.

The verified-token cache of the guard stores only the token's claims: the proof is checked on
every request, cached token or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from jwtkit.dpop import (
    DEFAULT_ALGORITHMS,
    MAX_PROOF_SIZE,
    DPoPNonces,
    MemoryReplayCache,
    ReplayCache,
    verify_proof,
)
from jwtkit.errors import InvalidDPoPProofError, UseDPoPNonceError

__all__ = ["DPoPPolicy", "bound_jkt"]


def bound_jkt(claims: Mapping[str, Any]) -> str | None:
    """The ``cnf.jkt`` of verified access-token claims (RFC 9449 §6.1; str) or None when the
    token is not DPoP-bound. A ``cnf`` that is not an object, or a ``jkt`` that is not a
    non-empty str, counts as bound to nothing usable: ``""`` (never matches a proof)."""
    cnf = claims.get("cnf")
    if cnf is None:
        return None
    if not isinstance(cnf, Mapping) or "jkt" not in cnf:
        return None if isinstance(cnf, Mapping) else ""
    jkt = cnf["jkt"]
    return jkt if isinstance(jkt, str) and jkt else ""


@dataclass
class DPoPPolicy:
    """How a guard checks DPoP requests (RFC 9449 §7.1).

    Attributes:
        algorithms: the proof ``alg`` values accepted (asymmetric only), also advertised in the
            challenge's ``algs`` parameter.
        replay: the ``jti`` replay cache (default: a :class:`jwtkit.dpop.MemoryReplayCache` for
            this process; several instances share :class:`jwtkit.store.redis.RedisReplayCache`).
        nonces: server nonces (:class:`jwtkit.dpop.DPoPNonces`) or None (no nonce required).
        external_url: the base URL clients address (``https://api.example.com``) when the app
            runs behind a proxy; ``htu`` is then this base plus the request's path. None: the
            URL the request arrived at (its scheme and ``Host`` header).
        required: True refuses ``Bearer`` tokens altogether (only DPoP-bound tokens pass).
        max_age: seconds a proof is accepted after its ``iat``; leeway: seconds of clock skew.
        max_size: a proof's cap in bytes.
    """

    algorithms: Sequence[str] = DEFAULT_ALGORITHMS
    replay: ReplayCache = field(default_factory=MemoryReplayCache)
    nonces: DPoPNonces | None = None
    external_url: str | None = None
    required: bool = False
    max_age: int = 300
    leeway: int = 5
    max_size: int = MAX_PROOF_SIZE

    def __post_init__(self) -> None:
        if self.external_url is not None:
            parts = urlsplit(self.external_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("external_url must be an absolute http(s) URL")
            self.external_url = self.external_url.rstrip("/")

    @property
    def algs(self) -> str:
        """The challenge's ``algs`` value (space-separated str)."""
        return " ".join(self.algorithms)

    def htu(self, url: str | None, path: str) -> str:
        """The request's URI as clients address it: ``external_url`` + ``path`` when set, else
        ``url`` (the request URL the adapter saw, str). Raises InvalidDPoPProofError when no
        URL can be had."""
        if self.external_url is not None:
            return self.external_url + (path if path.startswith("/") else "/" + path)
        if not url:
            raise InvalidDPoPProofError("the request's URL is unknown")
        return url

    def check(
        self,
        proofs: Sequence[str],
        *,
        method: str,
        url: str,
        token: str,
        claims: Mapping[str, Any],
        now: float,
    ) -> None:
        """Check a ``DPoP``-scheme request's proof against its access token.

        Args:
            proofs: every ``DPoP`` header value the request carried (exactly one is allowed).
            method, url: the request's method and URI (see :meth:`htu`).
            token: the access token (str); claims: its verified claims.
            now: seconds since the epoch.

        Raises:
            InvalidDPoPProofError: no proof, several, or a proof that fails a check; also an
                access token without ``cnf.jkt`` (it cannot be used under DPoP).
            UseDPoPNonceError: a fresh server nonce is needed.
        """
        if len(proofs) != 1:
            raise InvalidDPoPProofError(
                "exactly one DPoP header is required" if proofs else "the DPoP proof is missing"
            )
        jkt = bound_jkt(claims)
        if not jkt:
            raise InvalidDPoPProofError("the access token is not bound to a DPoP key (cnf.jkt)")
        verify_proof(
            proofs[0],
            htm=method.upper(),
            htu=url,
            access_token=token,
            jkt=jkt,
            nonce=self.nonces,
            replay=self.replay,
            algorithms=self.algorithms,
            max_age=self.max_age,
            leeway=self.leeway,
            now=now,
            max_size=self.max_size,
        )

    def fresh_nonce(self, exc: Exception) -> str | None:
        """The ``DPoP-Nonce`` to send with an error (str), when ``exc`` asks for one."""
        if self.nonces is not None and isinstance(exc, UseDPoPNonceError):
            return self.nonces.issue()
        return None
