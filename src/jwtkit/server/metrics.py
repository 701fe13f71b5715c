"""Prometheus metrics of the token service (prometheus-client), one registry per app.

Names: ``jwtkit_tokens_issued_total{grant_type}``, ``jwtkit_refresh_total{outcome}``,
``jwtkit_refresh_reuse_total``, ``jwtkit_revocations_total{grain}``,
``jwtkit_failed_logins_total{reason}``, ``jwtkit_request_duration_seconds{method,route,status}``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    """The service's counters and histograms in their own :class:`CollectorRegistry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tokens_issued = Counter(
            "jwtkit_tokens_issued",
            "Access tokens issued, by grant type.",
            ["grant_type"],
            registry=self.registry,
        )
        self.refreshes = Counter(
            "jwtkit_refresh",
            "Refresh-token grants, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.reuse = Counter(
            "jwtkit_refresh_reuse",
            "Consumed refresh tokens presented again (the family was revoked).",
            registry=self.registry,
        )
        self.revocations = Counter(
            "jwtkit_revocations",
            "Revocations recorded, by grain (jti, sid, sub).",
            ["grain"],
            registry=self.registry,
        )
        self.failed_logins = Counter(
            "jwtkit_failed_logins",
            "Failed password logins, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "jwtkit_request_duration_seconds",
            "HTTP request latency in seconds.",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """Return the Prometheus text exposition (bytes)."""
        return generate_latest(self.registry)
