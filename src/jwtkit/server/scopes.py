"""Scope policy (RFC 6749 §3.3): what a request may be granted."""

from __future__ import annotations

from jwtkit._scope import split_scope
from jwtkit.server.oauth import InvalidScope

__all__ = ["grant_scope"]


def grant_scope(requested: str | None, *allowed: str) -> str:
    """The scope to grant (space-separated str): the request's, which must lie within every
    ``allowed`` set (each a space-separated str), else their intersection (RFC 6749 §3.3).

    Raises:
        InvalidScope: a ``requested`` value outside the RFC 6749 §3.3 grammar (another
            separator than one %x20, a forbidden character, only spaces) or a scope-token beyond
            ``allowed``.
    """
    sets = [set(a.split()) for a in allowed]
    ceiling = set.intersection(*sets) if sets else set()
    if requested is None:
        return " ".join(sorted(ceiling))
    try:
        wanted = split_scope(requested)  # only %x20 separates; " " is malformed, not empty
    except ValueError:
        raise InvalidScope("malformed scope (RFC 6749 §3.3)") from None
    extra = [s for s in wanted if s not in ceiling]
    if extra:
        raise InvalidScope(f"scope not allowed: {' '.join(sorted(extra))}")
    return " ".join(dict.fromkeys(wanted))
