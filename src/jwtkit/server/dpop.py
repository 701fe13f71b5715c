"""DPoP at the token endpoint (RFC 9449 §5): the proof a token request carries, checked before
the grant runs; its key's thumbprint binds the access token (``cnf.jkt``, ``token_type: DPoP``).

The proof's ``htu`` is the token endpoint's URL as the metadata publishes it (the issuer's
``/token``), so a deployment behind a proxy works when its issuer is the public URL. Replays are
caught by the service's :class:`jwtkit.dpop.MemoryReplayCache` (one process; across instances,
a proof is still bound to one request within ``max_age``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from jwtkit.dpop import (
    DEFAULT_ALGORITHMS,
    DPoPNonces,
    MemoryReplayCache,
    ReplayCache,
    verify_proof,
)
from jwtkit.errors import InvalidClaimError, InvalidDPoPProofError, UseDPoPNonceError
from jwtkit.middleware.dpop import bound_jkt
from jwtkit.server.oauth import OAuthError

__all__ = ["ALGORITHMS", "InvalidDPoPProof", "TokenEndpointDPoP", "UseDPoPNonce"]

ALGORITHMS: tuple[str, ...] = DEFAULT_ALGORITHMS
"""The proof ``alg`` values the token endpoint accepts (metadata
``dpop_signing_alg_values_supported``, RFC 9449 §5.1)."""


class InvalidDPoPProof(OAuthError):
    """``invalid_dpop_proof`` (RFC 9449 §5): the token request's DPoP proof is missing (for a
    client that requires one), repeated, malformed, replayed or does not fit the request."""

    error: ClassVar[str] = "invalid_dpop_proof"
    status = 400


class UseDPoPNonce(OAuthError):
    """``use_dpop_nonce`` (RFC 9449 §8): the proof lacks a current server nonce; the response's
    ``DPoP-Nonce`` header carries a fresh one to retry with."""

    error: ClassVar[str] = "use_dpop_nonce"
    status = 400


class TokenEndpointDPoP:
    """Checks the ``DPoP`` header of token requests.

    Args:
        token_endpoint: the token endpoint's URL (str), the proofs' expected ``htu``.
        replay: the ``jti`` cache (default a new :class:`~jwtkit.dpop.MemoryReplayCache`).
        algorithms: allowed proof algs.
        nonces: server nonces (:class:`~jwtkit.dpop.DPoPNonces`) every proof must carry, or None.
    """

    def __init__(
        self,
        token_endpoint: str,
        *,
        replay: ReplayCache | None = None,
        algorithms: Sequence[str] = ALGORITHMS,
        nonces: DPoPNonces | None = None,
    ) -> None:
        self.nonces = nonces
        self.token_endpoint = token_endpoint
        self.replay = replay if replay is not None else MemoryReplayCache()
        self.algorithms = tuple(algorithms)

    def thumbprint(self, proofs: Sequence[str], now: float) -> str | None:
        """The RFC 7638 thumbprint (str) of the key that signed the request's one proof, or
        None when the request carries no ``DPoP`` header.

        Args:
            proofs: every ``DPoP`` header value of the request.
            now: seconds since the epoch.

        Raises:
            InvalidDPoPProof: several headers, or a proof that fails a check of §4.3.
            UseDPoPNonce: nonces are on and the proof has no current one (with ``DPoP-Nonce``).
        """
        if not proofs:
            return None
        if len(proofs) != 1:
            raise InvalidDPoPProof("exactly one DPoP header is allowed")
        try:
            proof = verify_proof(
                proofs[0],
                htm="POST",
                htu=self.token_endpoint,
                replay=self.replay,
                algorithms=self.algorithms,
                now=now,
                nonce=self.nonces,
            )
        except UseDPoPNonceError as exc:
            assert self.nonces is not None
            raise UseDPoPNonce(str(exc), headers={"DPoP-Nonce": self.nonces.issue(now)}) from None
        except InvalidDPoPProofError as exc:
            raise InvalidDPoPProof(str(exc)[:200]) from None
        return proof.jkt

    def response_headers(self, now: float) -> dict[str, str]:
        """Headers (str -> str) for a successful token response: with nonces on, a fresh
        ``DPoP-Nonce`` for the client's next proof (RFC 9449 §8.2); else none."""
        return {} if self.nonces is None else {"DPoP-Nonce": self.nonces.issue(now)}

    def check_resource_request(
        self,
        proofs: Sequence[str],
        *,
        dpop: bool,
        method: str,
        url: str,
        token: str,
        claims: Mapping[str, Any],
        now: float,
    ) -> None:
        """The service's own protected endpoints (RFC 9449 §7): a DPoP-bound token only under
        the ``DPoP`` scheme with one valid proof of its key (``ath``, ``htm``, ``htu`` = the
        issuer plus the path); an unbound token only under ``Bearer``.

        Raises:
            InvalidDPoPProofError: under ``DPoP``: no single valid proof, or an unbound token.
            InvalidClaimError: a DPoP-bound token under ``Bearer`` (code ``invalid_claim``).
        """
        jkt = bound_jkt(claims)
        if not dpop:
            if jkt is not None:
                raise InvalidClaimError("cnf", "a DPoP-bound token needs the DPoP scheme")
            return
        if len(proofs) != 1 or not jkt:
            raise InvalidDPoPProofError("one DPoP proof of the token's key (cnf.jkt) is required")
        verify_proof(
            proofs[0],
            htm=method,
            htu=url,
            access_token=token,
            jkt=jkt,
            replay=self.replay,
            algorithms=self.algorithms,
            now=now,
        )
