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
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote_plus

from jwtkit.errors import JWTKitError

__all__ = ["ClientCredentials", "OAuthError", "client_credentials_from", "parse_form"]

_MAX_FIELDS = 32
_MAX_VALUE = 8192
_MAX_NAME = 255


class OAuthError(JWTKitError):
    """An OAuth protocol error answered as RFC 6749 §5.2 JSON.

    Attributes:
        code: the OAuth ``error`` (str), e.g. ``invalid_grant``.
        status: HTTP status (int). description: ``error_description`` (str).
        headers: extra response headers (dict), e.g. ``WWW-Authenticate`` or ``Retry-After``.
    """

    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.code = error
        self.status = status
        self.description = description
        self.headers = dict(headers or {})
        super().__init__(description)

    def body(self) -> dict[str, str]:
        """The JSON body (dict): ``{"error": ..., "error_description": ...}``."""
        return {"error": self.code, "error_description": self.description}


def _bad(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


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
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS, errors="strict")
    except UnicodeDecodeError:
        raise _bad("the body is not valid UTF-8") from None
    except ValueError:
        raise _bad(f"too many parameters (at most {_MAX_FIELDS})") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise _bad(f"parameter {name!r} is repeated")
        if len(name) > 64 or len(value) > _MAX_VALUE:
            raise _bad("a parameter is too long")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name + value):
            raise _bad("parameters must not contain control characters")
        params[name] = value
    return {k: v for k, v in params.items() if v != ""}


@dataclass(frozen=True)
class ClientCredentials:
    """What a request says about its client: ``client_id`` (or None), ``secret`` (or None) and
    ``method`` (``client_secret_basic``, ``client_secret_post`` or ``none``)."""

    client_id: str | None
    secret: str | None = field(repr=False)
    method: str


def client_credentials_from(
    authorization: str | None, params: Mapping[str, str]
) -> ClientCredentials:
    """Extract client credentials from the Authorization header and the form.

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
            raise OAuthError(
                "invalid_client",
                "malformed HTTP Basic client credentials",
                401,
                {"WWW-Authenticate": 'Basic realm="jwtkit"'},
            ) from None
        if form_secret is not None:
            raise _bad("use one client authentication method, not several")
        if form_id is not None and form_id != client_id:
            raise _bad("client_id in the body does not match the Authorization header")
        if not client_id or len(client_id) > _MAX_NAME:
            raise OAuthError(
                "invalid_client",
                "invalid client id",
                401,
                {"WWW-Authenticate": 'Basic realm="jwtkit"'},
            )
        return ClientCredentials(client_id, secret, "client_secret_basic")
    if form_id is not None and len(form_id) > _MAX_NAME:
        raise _bad("client_id is too long")
    if form_secret is not None:
        if form_id is None:
            raise _bad("client_secret without client_id")
        return ClientCredentials(form_id, form_secret, "client_secret_post")
    return ClientCredentials(form_id, None, "none")
