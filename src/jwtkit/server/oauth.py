"""OAuth 2.0 protocol plumbing: the error type, strict form parsing, client credentials.

* Errors are RFC 6749 §5.2 JSON objects ``{"error", "error_description"}``.
* Request bodies are ``application/x-www-form-urlencoded`` UTF-8 (RFC 6749 §3.2, Appendix B);
  a parameter sent twice is an ``invalid_request`` (RFC 6749 §3.2), an empty value counts as
  omitted, and control characters are refused.
* Client authentication: HTTP Basic with form-urlencoded id and secret (``client_secret_basic``,
  RFC 6749 §2.3.1), or ``client_id`` + ``client_secret`` in the body (``client_secret_post``),
  or a bare ``client_id`` for public clients (RFC 6749 §2.1, §3.2.1).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar
from urllib.parse import parse_qsl, unquote_plus

__all__ = [
    "AccessDenied",
    "BearerRequired",
    "ClientAuthRateLimited",
    "ClientCredentials",
    "ConsentRequired",
    "InsufficientScope",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "LoginRateLimited",
    "LoginRequired",
    "MethodNotAllowed",
    "NotFound",
    "OAuthError",
    "RequestNotSupported",
    "RequestUriNotSupported",
    "ServerError",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedResponseType",
    "UnsupportedTokenType",
    "client_credentials_from",
    "parse_form",
    "parse_query",
]

_MAX_FIELDS = 32
_MAX_VALUE = 8192
_MAX_NAME = 255


class OAuthError(Exception):
    """An OAuth protocol error (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1), answered as
    ``{"error", "error_description"}``. Subclasses fix ``error`` (the OAuth error code) and
    ``status`` (the HTTP status a route answers with). Its own root, apart from
    :class:`jwtkit.errors.JWTKitError`, so ``except JWTKitError`` never swallows one.

    Args:
        description: ``error_description`` (str; never contains a secret).
        headers: extra response headers (mapping), e.g. ``WWW-Authenticate``.
        status: override of the class's HTTP status (int), e.g. 413 for a large body.

    Attributes:
        error: the OAuth error code (str); ``code`` is the same (the codes are API).
        status: HTTP status (int). description (str). headers (dict).
    """

    error: ClassVar[str] = "server_error"
    status: int = 400
    default_headers: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def __init__(
        self,
        description: str,
        *,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.headers = {**self.default_headers, **(headers or {})}
        if status is not None:
            self.status = status

    @property
    def code(self) -> str:
        """The OAuth ``error`` code (str), as :attr:`error`."""
        return self.error

    @property
    def message(self) -> str:
        """The ``error_description`` (str), as :attr:`description`."""
        return self.description

    def body(self) -> dict[str, str]:
        """The JSON body (dict): ``{"error": ..., "error_description": ...}``."""
        return {"error": self.error, "error_description": self.description}


class InvalidRequest(OAuthError):
    """``invalid_request``: a missing, repeated or malformed parameter (RFC 6749 §5.2)."""

    error = "invalid_request"


class InvalidClient(OAuthError):
    """``invalid_client`` (401 with a Basic challenge): client authentication failed
    (RFC 6749 §5.2)."""

    error, status = "invalid_client", 401
    default_headers: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"WWW-Authenticate": 'Basic realm="jwtkit"'}
    )


class InvalidGrant(OAuthError):
    """``invalid_grant``: the grant (code, refresh token, credentials) is invalid, expired,
    revoked or another client's (RFC 6749 §5.2)."""

    error = "invalid_grant"


class ClientAuthRateLimited(InvalidClient):
    """``invalid_client`` answered with 429 and ``Retry-After`` (RFC 6585 §4): too many failed
    client authentications for the client id or the address (RFC 6749 §2.3.1).
    ``retry_after``: seconds (int)."""

    status = 429

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class LoginRateLimited(InvalidGrant):
    """``invalid_grant`` answered with 429 and ``Retry-After`` (RFC 6585 §4): too many failed
    logins. ``retry_after``: seconds (int)."""

    status = 429

    def __init__(self, description: str, *, retry_after: int) -> None:
        super().__init__(description, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class UnauthorizedClient(OAuthError):
    """``unauthorized_client``: the client may not use this grant or response type."""

    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    """``unsupported_grant_type`` (RFC 6749 §5.2)."""

    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    """``invalid_scope``: unknown, malformed or beyond what is allowed (RFC 6749 §3.3)."""

    error = "invalid_scope"


class UnsupportedTokenType(OAuthError):
    """``unsupported_token_type`` (RFC 7009 §2.2.1)."""

    error = "unsupported_token_type"


class InvalidToken(OAuthError):
    """``invalid_token`` (401): the bearer access token is invalid (RFC 6750 §3.1); always with
    a ``WWW-Authenticate: Bearer`` challenge naming the error."""

    error, status = "invalid_token", 401
    default_headers: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"WWW-Authenticate": 'Bearer realm="jwtkit", error="invalid_token"'}
    )


class BearerRequired(OAuthError):
    """401 for a request to a bearer endpoint that carries no bearer token at all: the
    challenge and the body name no error code (RFC 6750 §3.1: "the resource server SHOULD NOT
    include an error code or other error information")."""

    error, status = "", 401
    default_headers: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"WWW-Authenticate": 'Bearer realm="jwtkit"'}
    )

    def body(self) -> dict[str, str]:
        """``{"error_description": ...}`` only (no ``error``)."""
        return {"error_description": self.description}


class MethodNotAllowed(OAuthError):
    """``invalid_request`` answered with 405: the path exists, the method does not."""

    error, status = "invalid_request", 405


class NotFound(OAuthError):
    """``invalid_request`` answered with 404: the named resource is not the caller's."""

    error, status = "invalid_request", 404


class TemporarilyUnavailable(OAuthError):
    """``temporarily_unavailable`` (503): a backing service is down (RFC 6749 §4.1.2.1)."""

    error, status = "temporarily_unavailable", 503


class ServerError(OAuthError):
    """``server_error`` (500): an unexpected condition (RFC 6749 §4.1.2.1)."""

    error, status = "server_error", 500


class InsufficientScope(OAuthError):
    """``insufficient_scope`` (403): the access token lacks a needed scope (RFC 6750 §3.1)."""

    error, status = "insufficient_scope", 403


class UnsupportedResponseType(OAuthError):
    """``unsupported_response_type`` (RFC 6749 §4.1.2.1): only ``code`` is supported."""

    error = "unsupported_response_type"


class AccessDenied(OAuthError):
    """``access_denied``: the user refused the request (RFC 6749 §4.1.2.1)."""

    error = "access_denied"


class LoginRequired(OAuthError):
    """``login_required``: ``prompt=none`` but the user is not signed in (OIDC Core §3.1.2.6)."""

    error = "login_required"


class ConsentRequired(OAuthError):
    """``consent_required``: ``prompt=none`` but consent is needed (OIDC Core §3.1.2.6)."""

    error = "consent_required"


class RequestNotSupported(OAuthError):
    """``request_not_supported``: request objects (JAR) are not supported (OIDC Core §6)."""

    error = "request_not_supported"


class RequestUriNotSupported(OAuthError):
    """``request_uri_not_supported``: a ``request_uri`` not from PAR (OIDC Core §6)."""

    error = "request_uri_not_supported"


def _bad(description: str) -> OAuthError:
    return InvalidRequest(description)


def parse_form(content_type: str | None, body: bytes) -> dict[str, str]:
    """Parse an ``application/x-www-form-urlencoded`` body strictly.

    Args:
        content_type: the Content-Type header (str or None).
        body: the raw body (bytes; the size cap is enforced before this).

    Returns:
        dict of parameter name -> value (str); parameters with empty values are dropped.

    Raises:
        OAuthError: ``invalid_request`` for a wrong content type or a charset other than UTF-8
            (RFC 6749 Appendix B), bad UTF-8 or percent-encoding,
            a repeated parameter, a control character, or too many / too long parameters.
    """
    media, _, parameters = (content_type or "").partition(";")
    if media.strip().lower() != "application/x-www-form-urlencoded":
        raise _bad("the body must be application/x-www-form-urlencoded")
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
            "us-ascii",
        ):
            # RFC 6749 Appendix B: form bodies are UTF-8; another charset would be misread.
            raise _bad("the body must be UTF-8 (RFC 6749 Appendix B)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the body is not valid UTF-8") from None
    return _parameters(text)


#: Longest query string the authorization endpoints read (bytes); longer is an error page.
MAX_QUERY = 16384


def parse_query(query: str) -> dict[str, str]:
    """Parse a request's query string with the same rules as :func:`parse_form` (RFC 6749
    §3.1: no parameter twice; empty values count as omitted).

    Raises:
        InvalidRequest: longer than :data:`MAX_QUERY`, bad UTF-8 or percent-encoding, a
            repeated parameter, a control character, too many or too long parameters.
    """
    if len(query) > MAX_QUERY:
        raise _bad(f"the query string is longer than {MAX_QUERY} bytes")
    return _parameters(query)


_CONTROL = re.compile("[\x00-\x1f\x7f]")
"""A control character (C0 or DEL), refused in parameter names and values."""


def _parameters(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise _bad("the parameters are not valid UTF-8") from None
    except ValueError:
        raise _bad(f"too many parameters (at most {_MAX_FIELDS})") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise _bad(f"parameter {name!r} is repeated")
        if len(name) > 64 or len(value) > _MAX_VALUE:
            raise _bad("a parameter is too long")
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise _bad("parameters must not contain control characters")
        params[name] = value
    return {k: v for k, v in params.items() if v != ""}


@dataclass(frozen=True)
class ClientCredentials:
    """What a request says about its client: ``client_id`` (or None), ``secret`` (or None),
    ``method`` (``client_secret_basic``, ``client_secret_post`` or ``none``) and the request's
    client ``address`` (str or None; for the client-authentication limits)."""

    client_id: str | None
    secret: str | None = field(repr=False)
    method: str
    address: str | None = None


def client_credentials_from(
    authorization: str | None, params: Mapping[str, str], address: str | None = None
) -> ClientCredentials:
    """Extract client credentials from the Authorization header and the form (a
    :class:`ClientCredentials` carrying ``address``, the client's address, for the limits).

    Using more than one method at once is an ``invalid_request`` (RFC 6749 §2.3).

    Raises:
        OAuthError: ``invalid_request`` (several methods, mismatched ids) or ``invalid_client``
            (a malformed Basic header, e.g. bad base64, no colon, bad percent-encoding or a
            control character; 401 with ``WWW-Authenticate: Basic``).
    """
    form_id, form_secret = params.get("client_id"), params.get("client_secret")
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
            raw_id, sep, raw_secret = decoded.partition(":")
            if not sep:
                raise ValueError("no colon")
            client_id, secret = (
                unquote_plus(raw_id, errors="strict"),
                unquote_plus(raw_secret, errors="strict"),
            )
            if any(ord(c) < 0x20 or ord(c) == 0x7F for c in client_id + secret):
                raise ValueError("control character")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidClient("malformed HTTP Basic client credentials") from None
        if form_secret is not None:
            raise _bad("use one client authentication method, not several")
        if form_id is not None and form_id != client_id:
            raise _bad("client_id in the body does not match the Authorization header")
        if not client_id or len(client_id) > _MAX_NAME:
            raise InvalidClient("invalid client id")
        return ClientCredentials(client_id, secret, "client_secret_basic", address)
    if form_id is not None and len(form_id) > _MAX_NAME:
        raise _bad("client_id is too long")
    if form_secret is not None:
        if form_id is None:
            raise _bad("client_secret without client_id")
        return ClientCredentials(form_id, form_secret, "client_secret_post", address)
    return ClientCredentials(form_id, None, "none", address)
