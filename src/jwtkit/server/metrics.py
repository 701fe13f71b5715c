"""Prometheus metrics of the token service (prometheus-client), one registry per app.

Names: ``jwtkit_tokens_issued_total{grant_type}``, ``jwtkit_refresh_total{outcome}``,
``jwtkit_refresh_reuse_total``, ``jwtkit_revocations_total{grain}``,
``jwtkit_failed_logins_total{reason}``, ``jwtkit_request_duration_seconds{method,route,status}``.

Every label value that comes from a request is mapped to a closed set before it becomes a label
(:meth:`Metrics.observe_request`): the method to one of :data:`METHODS` or ``OTHER``, the path to
its route template (``/sessions/{sid}``) or ``unmatched``, the status to its class (``2xx``).
So no request can add a time series; the exposition's size depends on the app's routes only.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["METHODS", "Metrics", "method_label", "status_label"]

#: HTTP methods kept as label values (RFC 9110 §9); any other method is ``OTHER``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_UNMATCHED = "unmatched"


def method_label(method: object) -> str:
    """The ``method`` label (str): the method if it is in :data:`METHODS`, else ``OTHER``."""
    return method if isinstance(method, str) and method in METHODS else "OTHER"


def status_label(status: int) -> str:
    """The ``status`` label (str): the status class ``1xx`` to ``5xx``, else ``other``."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


class Metrics:
    """The service's counters and histograms in their own :class:`CollectorRegistry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        #: Route templates allowed as ``route`` label values; None until the app sets them.
        self.routes: frozenset[str] | None = None
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
        self.failed_client_auth = Counter(
            "jwtkit_failed_client_auth",
            "Failed client authentications (unknown client, wrong or missing secret).",
            registry=self.registry,
        )
        self._issued_children: dict[str, Any] = {}
        self._refresh_children: dict[str, Any] = {}
        self._latency_children: dict[tuple[str, str, str], Any] = {}
        self.latency = Histogram(
            "jwtkit_request_duration_seconds",
            "HTTP request latency in seconds.",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def issued(self, grant_type: str) -> None:
        """Count one access token issued by ``grant_type`` (``jwtkit_tokens_issued_total``).
        The label's child is looked up once per grant type (a closed set: the grant types),
        not on every token: prometheus-client's ``labels()`` costs a few microseconds."""
        child = self._issued_children.get(grant_type)
        if child is None:
            child = self._issued_children[grant_type] = self.tokens_issued.labels(grant_type)
        child.inc()

    def refreshed(self, outcome: str) -> None:
        """Count one refresh-token grant by ``outcome`` (``jwtkit_refresh_total``; the closed
        set of :data:`jwtkit.store.sessions.RotateResult` outcomes), as :meth:`issued`."""
        child = self._refresh_children.get(outcome)
        if child is None:
            child = self._refresh_children[outcome] = self.refreshes.labels(outcome)
        child.inc()

    def observe_request(self, method: object, route: object, status: int, seconds: float) -> None:
        """Record one request's latency with closed-set labels.

        Args:
            method: the request method (any value; mapped by :func:`method_label`).
            route: the matched route's path template (str) or None when no route matched; a
                template not in :attr:`routes` (when set) counts as ``unmatched``.
            status: the response status (int; mapped by :func:`status_label`).
            seconds: the latency (float seconds).
        """
        if not isinstance(route, str) or (self.routes is not None and route not in self.routes):
            route = _UNMATCHED
        labels = (method_label(method), route, status_label(status))
        child = self._latency_children.get(labels)  # closed label sets: a bounded cache
        if child is None:
            child = self._latency_children[labels] = self.latency.labels(*labels)
        child.observe(seconds)

    def render(self) -> bytes:
        """Return the Prometheus text exposition (bytes)."""
        return generate_latest(self.registry)
