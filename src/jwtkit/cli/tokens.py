"""``jwtkit decode``, ``jwtkit verify`` and ``jwtkit encode``: read, check and sign JWTs.

* ``decode`` shows a token's header and claims WITHOUT verifying anything (plainly marked
  UNVERIFIED), with its times as UTC dates and relative to now (RFC 7519 §4.1.4-§4.1.6).
* ``verify`` checks the signature (RFC 7515 §5.2) and the claims (RFC 7519 §7.2, RFC 8725) with a
  key file, an HMAC secret from stdin, a remote JWK Set or an issuer's metadata (RFC 8414), and
  exits with the code of the error (see :data:`jwtkit.cli._common.EXIT_CODES`).
* ``encode`` signs a JWT (RFC 7519 §7.1) from ``--claim`` pairs and/or a JSON claims file.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from jwtkit.cli._common import (
    CLIError,
    UsageError,
    cli_errors,
    exit_code_for,
    exit_codes_help,
    load_key_source,
    load_single_key,
    print_json,
    read_input_bytes,
    read_secret_stdin,
    read_token,
    safe_json_text,
    warn,
)

if TYPE_CHECKING:
    from rich.console import Console

    from jwtkit.errors import JWTKitError
    from jwtkit.jwk import Key, KeyResolver, KeySet

__all__ = [
    "TIME_CLAIMS",
    "default_algorithms",
    "describe_time",
    "format_duration",
    "parse_claim",
    "parse_duration",
    "register",
]

#: Claims holding a NumericDate (seconds since the epoch): RFC 7519 §4.1.4-§4.1.6, OpenID Connect
#: Core 1.0 §2 (``auth_time``) and §5.1 (``updated_at``).
TIME_CLAIMS = ("exp", "nbf", "iat", "auth_time", "updated_at")

_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


# ------------------------------------------------------------------------------------- helpers


def parse_duration(text: str, *, option: str = "duration") -> int:
    """Parse a duration such as ``90s``, ``15m``, ``2h``, ``7d``, ``1w``, ``1h30m`` or ``3600``.

    Args:
        text: the duration (str); a bare number means seconds.
        option: the option name, for the error message (str).

    Returns:
        The duration in whole seconds (int, >= 0).

    Raises:
        UsageError: the text is not a duration.
    """
    value = text.strip().lower()
    if value.isdigit():
        return int(value)
    if value and _DURATION_PART.sub("", value) == "":
        return sum(int(n) * _UNITS[u] for n, u in _DURATION_PART.findall(value))
    raise UsageError(f"{option}: {text!r} is not a duration (examples: 90s, 15m, 2h, 7d, 1h30m)")


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_claim(pair: str, *, option: str = "--claim") -> tuple[str, Any]:
    """Parse ``NAME=VALUE``; VALUE is JSON when it parses as JSON, else the string itself.

    ``admin=true`` gives ``True``, ``n=5`` gives ``5``, ``aud=["a","b"]`` a list, ``sub=alice`` the
    string ``"alice"``, ``sub='"42"'`` the string ``"42"``. NaN and Infinity are kept as strings.

    Returns:
        ``(name, value)`` (tuple of str and a JSON value).

    Raises:
        UsageError: no ``=`` or an empty name; a JSON VALUE with duplicate member names or nested
            deeper than jwtkit's JSON cap (it would otherwise silently change meaning).
    """
    from jwtkit import _json
    from jwtkit.errors import MalformedError

    name, sep, raw = pair.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"{option}: expected NAME=VALUE, got {pair!r}")
    try:
        value: Any = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise UsageError(f"{option}: {name}: the JSON value is nested too deeply") from None
    except ValueError:
        return name, raw
    if isinstance(value, dict | list):
        # raw is one JSON value, so the wrapper has exactly one member: re-parse it strictly.
        try:
            _json.loads_object('{"v":' + raw + "}", option)
        except MalformedError as exc:
            raise UsageError(f"{option}: {name}: {exc.message}") from None
    return name, value


def format_duration(seconds: float) -> str:
    """Format a length of time for people: ``45 s``, ``12 min``, ``3 h``, ``9 d`` (str).

    Seconds are used below 2 minutes, minutes below 2 hours, hours below 2 days, days above.
    """
    s = abs(seconds)
    if s < 120:
        return f"{round(s)} s"
    if s < 7200:
        return f"{round(s / 60)} min"
    if s < 172800:
        return f"{round(s / 3600)} h"
    return f"{round(s / 86400)} d"


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond a float's range (a JSON number may have 4000 digits)
        return False


def _utc(value: float) -> str | None:
    try:
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return None


def describe_time(claim: str, value: object, now: float) -> dict[str, Any] | None:
    """Describe a NumericDate claim relative to ``now``.

    Args:
        claim: the claim name (str), e.g. ``"exp"``.
        value: the claim's value (should be a number of seconds since the epoch).
        now: the current time in seconds since the epoch (float).

    Returns:
        ``{"value": value, "utc": "2026-01-01 12:00:00 UTC", "relative": "expires in 12 min",
        "seconds_from_now": 720}`` (dict), or ``None`` when ``value`` is not a usable number.
    """
    if not _is_number(value):
        return None
    assert isinstance(value, int | float)
    utc = _utc(value)
    if utc is None:
        return None
    delta = value - now
    span = format_duration(delta)
    future = delta > 0
    if claim == "exp":
        relative = f"expires in {span}" if future else f"expired {span} ago"
    elif claim == "nbf":
        relative = f"becomes valid in {span}" if future else f"valid since {span} ago"
    elif claim == "iat":
        relative = f"issued {span} in the future" if future else f"issued {span} ago"
    elif claim == "auth_time":
        relative = f"authenticated {span} in the future" if future else f"authenticated {span} ago"
    else:
        relative = f"in {span}" if future else f"{span} ago"
    return {"value": value, "utc": utc, "relative": relative, "seconds_from_now": round(delta)}


def _times(claims: Mapping[str, Any], now: float) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for claim in TIME_CLAIMS:
        if claim in claims:
            info = describe_time(claim, claims[claim], now)
            if info is not None:
                out[claim] = info
    return out


def default_algorithms(key: Key) -> list[str]:
    """The algorithms a key accepts when ``--alg`` is not given ("the key decides").

    A key with an ``alg`` member accepts only that ``alg``; otherwise every algorithm of its
    type and curve in :data:`jwtkit.jwa.ALGORITHMS`: ``HS256``/``HS384``/``HS512`` for a secret,
    ``RS*``/``PS*`` for RSA, the one ``ES*`` of an EC curve, ``EdDSA``/``Ed25519``/``Ed448`` for
    OKP. Never an algorithm of another key type (RFC 8725 §3.1, §2.1 algorithm confusion).

    Returns:
        The ``alg`` names (list of str).
    """
    from jwtkit.jwa import ALGORITHMS

    return [name for name in ALGORITHMS if key.allows(name)]


def _console() -> Console:
    from rich.console import Console

    return Console(soft_wrap=True, highlight=False)


def _show(
    console: Console,
    header: Mapping[str, Any],
    claims: Mapping[str, Any] | None,
    now: float,
) -> None:
    from rich.highlighter import JSONHighlighter
    from rich.table import Table
    from rich.text import Text

    highlight = JSONHighlighter()  # on the escaped text as is: rich.json.JSON would re-parse it

    console.print("[bold cyan]Header[/]")
    console.print(highlight(Text(safe_json_text(header))))
    if claims is None:
        return
    console.print("[bold cyan]Claims[/]")
    console.print(highlight(Text(safe_json_text(claims))))
    times = _times(claims, now)
    if times:
        table = Table(title=None, show_header=True, header_style="bold cyan", box=None)
        table.add_column("claim")
        table.add_column("value", justify="right")
        table.add_column("UTC")
        table.add_column("relative")
        for claim, info in times.items():
            style = ""
            if claim == "exp":
                style = "green" if info["seconds_from_now"] > 0 else "bold red"
            elif claim == "nbf" and info["seconds_from_now"] > 0:
                style = "bold red"
            elif claim == "iat" and info["seconds_from_now"] > 0:
                style = "yellow"
            table.add_row(
                claim,
                str(info["value"]),
                info["utc"],
                f"[{style}]{info['relative']}[/]" if style else info["relative"],
            )
        console.print("[bold cyan]Times[/]")
        console.print(table)


def _now(now: float | None) -> float:
    if now is not None and not math.isfinite(now):
        raise UsageError("--now must be a finite number of seconds since the epoch")
    return time.time() if now is None else now


# --------------------------------------------------------------------------------------- decode

_DECODE_EPILOG = """Examples:
  $ jwtkit decode eyJhbGciOiJFUzI1NiIs...
  $ pbpaste | jwtkit decode -
  $ jwtkit decode --json "$TOKEN" | jq .claims.sub

Nothing is verified: 'jwtkit verify' checks the signature and the claims.
Exit codes: 0 shown, 2 usage, 3 unreadable input, 10 malformed token."""


@cli_errors
def decode(
    token: Annotated[
        str, typer.Argument(metavar="TOKEN", help="The compact token, or - to read it from stdin.")
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (header, claims, times).")
    ] = False,
    now: Annotated[
        float | None,
        typer.Option(help="Show times relative to this moment (seconds since the epoch)."),
    ] = None,
) -> None:
    """Show a token's header and claims, UNVERIFIED (nothing is checked).

    Times (exp, nbf, iat, auth_time) are shown as UTC dates and relative to now
    ("expires in 12 min", "expired 3 h ago"). A leading "Bearer " is ignored.
    """
    import jwtkit

    text = read_token(token)
    if _is_jwe(text):
        header, claims = _jwe_header(text), None
    else:
        header = jwtkit.get_unverified_header(text)
        claims = jwtkit.decode_unverified(text)
    moment = _now(now)
    if json_output:
        print_json(
            {
                "verified": False,
                "header": header,
                "claims": claims,
                "times": _times(claims or {}, moment),
            }
        )
        return
    console = _console()
    console.print(
        "[bold yellow]UNVERIFIED[/] [yellow]the signature and the claims were NOT checked "
        "(use 'jwtkit verify')[/]"
    )
    _show(console, header, claims, moment)
    if claims is None:
        console.print("[yellow]encrypted token (JWE): the claims cannot be shown[/]")


def _is_jwe(token: str) -> bool:
    return token.count(".") == 4


def _jwe_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWE (RFC 7516 §7.1); its content cannot be read."""
    from jwtkit import _json
    from jwtkit._b64 import b64d

    header = _json.loads_object(b64d(token.split(".", 1)[0], "header"), "header")
    assert isinstance(header, dict)
    return header


# --------------------------------------------------------------------------------------- verify


def _shown(value: Any) -> str:
    """An untrusted token value for a terminal line (str): JSON with every non-ASCII and control
    character escaped (so no escape sequence reaches the terminal), at most 80 characters."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _with_expected(
    exc: JWTKitError,
    token: str,
    *,
    aud: list[str] | None,
    iss: list[str] | None,
    typ: str | None,
) -> JWTKitError:
    """``exc`` (an audience, issuer or ``typ`` error) again, its message naming what was
    expected and what the token says (escaped: the token is untrusted input)."""
    import jwtkit
    from jwtkit.errors import ClaimError, InvalidAudienceError, InvalidIssuerError

    if isinstance(exc, InvalidAudienceError):
        expected, said = " or ".join(aud or ["no aud"]), _claim(token, "aud")
    elif isinstance(exc, InvalidIssuerError):
        expected, said = " or ".join(iss or ["no iss"]), _claim(token, "iss")
    else:
        expected = typ or "no typ"
        said = _shown(jwtkit.get_unverified_header(token).get("typ"))
    extra = f"expected {_shown(expected)[1:-1]}, the token has {said}"
    reason = exc.reason if isinstance(exc, ClaimError) else exc.message
    # A mismatch the core already words ("... is not the expected audience ...") is replaced,
    # not repeated; any other reason (e.g. strict_aud's) is kept in front.
    reason = extra if "expected" in reason or " is not " in reason else f"{reason}; {extra}"
    if isinstance(exc, ClaimError):
        return type(exc)(exc.claim, reason)
    return type(exc)(reason)


def _claim(token: str, name: str) -> str:
    import jwtkit
    from jwtkit.errors import JWTKitError

    try:
        claims = jwtkit.decode_unverified(token)
    except JWTKitError:
        return "no readable claims"
    return _shown(claims[name]) if name in claims else f"no {name}"


MAX_SAFE_LEEWAY = 300
"""Clock skew (s) above which ``verify`` warns: RFC 7519 §4.1.4 allows "a few minutes"."""


def _warn_unsafe(*, leeway: float = 0.0, allow_weak_key: bool, allow_http: bool = False) -> None:
    """One warning line per option that makes a check weaker than it looks (issue 15.9)."""
    if leeway > MAX_SAFE_LEEWAY:
        warn(
            f"--leeway {leeway:g} is more than a few minutes (RFC 7519 §4.1.4): an expired "
            f"token stays valid {leeway:g} s longer"
        )
    if allow_weak_key:
        warn("--allow-weak-key accepts keys below the algorithm's minimum size (RFC 7518 §3)")
    if allow_http:
        warn("--allow-http fetches keys over plain http: anyone on the path can replace them")


def _remote_resolver(jwks: str | None, issuer_url: str | None, *, allow_http: bool) -> KeyResolver:
    import logging
    from urllib.parse import urlsplit

    from jwtkit.jwks_client import JWKSClient, _is_loopback

    # The client logs a warning before raising; the CLI reports the error itself, on one line.
    logging.getLogger("jwtkit.jwks_client").addHandler(logging.NullHandler())
    option, url = ("--jwks", jwks) if jwks is not None else ("--issuer", issuer_url)
    try:
        parts = urlsplit(url or "")
        plain = parts.scheme == "http" and not _is_loopback(parts.hostname)
    except ValueError:  # a bad URL: reported below, as before
        plain = False
    if plain and not allow_http:
        raise UsageError(
            f"{option}: a plain http URL off loopback needs --allow-http "
            "(anyone on the path could replace the keys); use https"
        )
    try:
        if jwks is not None:
            return JWKSClient(jwks, allow_http=allow_http)
        assert issuer_url is not None
        return JWKSClient.from_issuer(issuer_url, allow_http=allow_http)
    except ValueError as exc:  # urllib's own parse errors, e.g. "http://[::1"
        option = "--jwks" if jwks is not None else "--issuer"
        raise UsageError(f"{option}: not a valid URL ({exc})") from None


def _failure(exc: JWTKitError) -> dict[str, Any]:
    return {
        "verified": False,
        "error": exc.code,
        "message": exc.message,
        "exit_code": exit_code_for(exc.code),
    }


def _verification_key(source: Key | KeySet | KeyResolver, header: Mapping[str, Any]) -> Key:
    from jwtkit.jwk import Key

    if isinstance(source, Key):
        if source.is_private and not source.is_symmetric:
            return source.public()
        return source
    return source.resolve_key(header)


_VERIFY_EPILOG = """Examples:
  $ jwtkit verify "$TOKEN" --key public.pem --aud https://api.example
  $ echo -n "$SECRET" | jwtkit verify "$TOKEN" --secret-stdin --alg HS256
  $ jwtkit verify - --issuer https://auth.example --aud api < token.txt
  $ jwtkit verify "$TOKEN" --jwks https://auth.example/jwks.json --json

Without --alg the key decides: its "alg" member, else every algorithm of
its type (HS* for a secret, RS*/PS* for RSA, the ES* of its curve, EdDSA
for OKP). With --issuer, the "iss" claim must equal that URL unless --iss
is given. A token with an "aud" claim needs --aud.

""" + exit_codes_help()


@cli_errors
def verify(
    token: Annotated[
        str, typer.Argument(metavar="TOKEN", help="The compact token, or - to read it from stdin.")
    ],
    key: Annotated[
        str | None,
        typer.Option("--key", "-k", metavar="FILE", help="Key file: PEM, DER, JWK or JWK Set."),
    ] = None,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read an HMAC secret from stdin (not echoed).")
    ] = False,
    jwks: Annotated[
        str | None, typer.Option("--jwks", metavar="URL", help="Fetch the keys from a JWK Set URL.")
    ] = None,
    issuer_url: Annotated[
        str | None,
        typer.Option(
            "--issuer", metavar="URL", help="Find the JWK Set through this issuer's metadata."
        ),
    ] = None,
    alg: Annotated[
        list[str] | None,
        typer.Option("--alg", "-a", help="Allowed algorithm (repeatable)."),
    ] = None,
    aud: Annotated[
        list[str] | None,
        typer.Option("--aud", help="Expected audience; the token must name one (repeatable)."),
    ] = None,
    iss: Annotated[
        list[str] | None, typer.Option("--iss", help="Expected issuer (repeatable).")
    ] = None,
    typ: Annotated[
        str | None, typer.Option("--typ", help="Expected 'typ' header, e.g. at+jwt.")
    ] = None,
    sub: Annotated[str | None, typer.Option("--sub", help="Expected subject.")] = None,
    require: Annotated[
        list[str] | None,
        typer.Option("--require", metavar="CLAIM", help="Claim that must be present (repeatable)."),
    ] = None,
    leeway: Annotated[
        float, typer.Option("--leeway", metavar="S", help="Clock skew allowed, in seconds.")
    ] = 0.0,
    now: Annotated[
        float | None,
        typer.Option(help="Verify as of this moment (seconds since the epoch)."),
    ] = None,
    allow_weak_key: Annotated[
        bool,
        typer.Option("--allow-weak-key", help="Accept keys below the algorithm's minimum size."),
    ] = False,
    allow_http: Annotated[
        bool,
        typer.Option("--allow-http", help="Allow plain http URLs for --jwks/--issuer."),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (verified, header, claims).")
    ] = False,
) -> None:
    """Verify a token's signature and claims; print the claims, or the error code and message.

    Give exactly one key source: --key, --secret-stdin, --jwks or --issuer. The exit code says
    what failed (table below); the error is one line on stderr.
    """
    import jwtkit
    from jwtkit.errors import (
        AlgorithmNotAllowedError,
        InvalidAudienceError,
        InvalidIssuerError,
        InvalidTypeError,
        JWTKitError,
        WeakKeyError,
    )

    sources = [key is not None, secret_stdin, jwks is not None, issuer_url is not None]
    if sum(sources) != 1:
        raise UsageError("give exactly one of --key, --secret-stdin, --jwks, --issuer")
    if token == "-" and (secret_stdin or key == "-"):
        raise UsageError("only one of the token, the key and the secret can come from stdin")
    if leeway < 0 or not math.isfinite(leeway):
        raise UsageError("--leeway must be a number of seconds >= 0")
    text = read_token(token)
    _warn_unsafe(leeway=leeway, allow_weak_key=allow_weak_key, allow_http=allow_http)
    try:
        source: Key | KeySet | KeyResolver
        if key is not None:
            source = load_key_source(key)
        elif secret_stdin:
            source = jwtkit.Key.from_secret(read_secret_stdin())
        else:
            source = _remote_resolver(jwks, issuer_url, allow_http=allow_http)
        expected_iss: list[str] | None = list(iss) if iss else None
        if expected_iss is None and issuer_url is not None:
            expected_iss = [issuer_url]
        header = jwtkit.get_unverified_header(text)
        vkey = _verification_key(source, header)
        algorithms = list(alg) if alg else default_algorithms(vkey)
        verifier = jwtkit.Verifier(
            vkey,
            algorithms=algorithms,
            audience=list(aud) if aud else None,
            issuer=expected_iss,
            leeway=leeway,
            required=list(require or ()),
            typ=typ,
            subject=sub,
            allow_weak_keys=allow_weak_key,
        )
        moment = _now(now)
        try:
            result = verifier.verify_detailed(text, now=moment)
        except AlgorithmNotAllowedError as exc:
            raise AlgorithmNotAllowedError(
                f"{exc.message}; allowed here: {', '.join(algorithms)}"
                + ("" if alg else " (the key decides without --alg)")
            ) from None
        except (InvalidAudienceError, InvalidIssuerError, InvalidTypeError) as exc:
            raise _with_expected(exc, text, aud=aud, iss=expected_iss, typ=typ) from None
    except WeakKeyError as exc:
        exc = WeakKeyError(f"{exc.message} (--allow-weak-key accepts it)")
        if json_output:
            print_json(_failure(exc))
        raise exc from None
    except JWTKitError as exc:
        if json_output:
            print_json(_failure(exc))
        raise
    if json_output:
        print_json(
            {
                "verified": True,
                "header": result.header,
                "claims": result.claims,
                "times": _times(result.claims, moment),
            }
        )
        return
    from rich.markup import escape

    console = _console()
    kid = result.header.get("kid")
    where = f" with key {escape(kid)}" if isinstance(kid, str) else ""
    console.print(
        f"[bold green]VERIFIED[/] [green]signature ({escape(str(result.header.get('alg')))})"
        f"{where} and claims are valid[/]"
    )
    _show(console, result.header, result.claims, moment)


# --------------------------------------------------------------------------------------- encode

_ENCODE_EPILOG = """Examples:
  $ jwtkit encode -k private.jwk -c sub=alice -c admin=true --exp 15m
  $ jwtkit encode -k ec.pem -a ES256 --claims-file claims.json --typ at+jwt
  $ echo -n "$SECRET" | jwtkit encode --secret-stdin -c sub=bob --exp 2h
  $ echo '{"sub": "carol"}' | jwtkit encode -k private.jwk --claims-file -

--claim values are JSON when they parse (true, 5, ["a","b"], {"k":1}),
else strings. Durations: 90s, 15m, 2h, 7d, 1w, 1h30m, or seconds.
The token is printed on stdout followed by a newline.
Exit codes: 0 signed, 2 usage, 3 unreadable input, 20 unknown alg,
3x key problems (table in 'jwtkit verify --help')."""


@cli_errors
def encode(
    key: Annotated[
        str | None,
        typer.Option(
            "--key", "-k", metavar="FILE", help="Private key file: PEM, DER, JWK, JWK Set."
        ),
    ] = None,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read an HMAC secret from stdin (not echoed).")
    ] = False,
    alg: Annotated[
        str | None,
        typer.Option("--alg", "-a", help="Algorithm; default: the key's alg, else its type's."),
    ] = None,
    claim: Annotated[
        list[str] | None,
        typer.Option("--claim", "-c", metavar="NAME=VALUE", help="A claim (repeatable)."),
    ] = None,
    claims_file: Annotated[
        str | None,
        typer.Option("--claims-file", metavar="FILE", help="JSON object of claims; - for stdin."),
    ] = None,
    exp: Annotated[
        str | None, typer.Option("--exp", metavar="DURATION", help="Set exp to now + DURATION.")
    ] = None,
    nbf: Annotated[
        str | None, typer.Option("--nbf", metavar="DURATION", help="Set nbf to now + DURATION.")
    ] = None,
    no_iat: Annotated[
        bool, typer.Option("--no-iat", help="Do not set iat (default: now).")
    ] = False,
    kid: Annotated[
        str | None,
        typer.Option("--kid", help="The 'kid' header (also picks the key from a JWK Set)."),
    ] = None,
    typ: Annotated[str | None, typer.Option("--typ", help="The 'typ' header, e.g. at+jwt.")] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header", metavar="NAME=VALUE", help="Another header parameter (repeatable)."
        ),
    ] = None,
    now: Annotated[
        float | None, typer.Option(help="Use this moment as now (seconds since the epoch).")
    ] = None,
    allow_weak_key: Annotated[
        bool,
        typer.Option("--allow-weak-key", help="Sign even below the algorithm's minimum key size."),
    ] = False,
) -> None:
    """Sign a JWT from --claim pairs and/or a JSON claims file; print the compact token.

    iat is set to now unless given or --no-iat; --exp and --nbf take durations from now.
    """
    import jwtkit
    from jwtkit import _json
    from jwtkit.errors import MalformedError, WeakKeyError

    if (key is None) == (not secret_stdin):
        raise UsageError("give exactly one of --key, --secret-stdin")
    if claims_file == "-" and (secret_stdin or key == "-"):
        raise UsageError("only one of the claims, the key and the secret can come from stdin")
    exp_s = parse_duration(exp, option="--exp") if exp is not None else None
    nbf_s = parse_duration(nbf, option="--nbf") if nbf is not None else None

    claims: dict[str, Any] = {}
    if claims_file is not None:
        raw = read_input_bytes(claims_file, what="claims file")
        try:  # strict: duplicate members, NaN/Infinity and deep nesting are refused
            loaded = _json.loads_object(raw, "--claims-file")
        except MalformedError as exc:
            if exc.message.endswith("is not a JSON object"):
                raise UsageError("--claims-file: the JSON must be an object of claims") from None
            raise CLIError(exc.message, code="usage", exit_code=2) from None
        claims.update(loaded)
    for pair in claim or ():
        name, value = parse_claim(pair)
        claims[name] = value

    headers: dict[str, Any] = {}
    for pair in header or ():
        name, value = parse_claim(pair, option="--header")
        if name in ("alg", "kid", "typ"):
            raise UsageError(f"--header: set {name!r} with --{name}")
        headers[name] = value
    if typ is not None:
        headers["typ"] = typ
    _warn_unsafe(allow_weak_key=allow_weak_key)

    moment = int(_now(now))
    if no_iat:
        claims.pop("iat", None)
    else:
        claims.setdefault("iat", moment)
    if exp_s is not None:
        claims["exp"] = moment + exp_s
    if nbf_s is not None:
        claims["nbf"] = moment + nbf_s

    signing_key: Key
    if secret_stdin:
        signing_key = jwtkit.Key.from_secret(read_secret_stdin(), alg=alg)
    else:
        assert key is not None
        signing_key = load_single_key(key, kid=kid)
        if not signing_key.is_private and not signing_key.is_symmetric:
            from jwtkit.errors import KeyMismatchError

            raise KeyMismatchError(f"{key}: a public key cannot sign; give the private key")
    if kid is not None:
        headers["kid"] = kid
    try:
        token = jwtkit.encode(
            claims,
            signing_key,
            algorithm=alg,
            headers=headers or None,
            allow_weak_keys=allow_weak_key,
        )
    except WeakKeyError as exc:
        raise WeakKeyError(f"{exc.message} (--allow-weak-key accepts it)") from None
    sys.stdout.write(token + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------------------------- register

_TOKENISH = re.compile(r"-[A-Za-z0-9_.~+/=-]{7,}")


class TokenCommand(TyperCommand):
    """A command whose TOKEN argument may start with ``-``: a base64url token (or an opaque
    refresh token) does one time in 64. An argument that is not one of the command's options,
    starts with a single ``-``, is 8 or more token characters long and does not follow an
    option that takes a value is moved behind ``--``, so ``jwtkit decode -abc...`` works like
    ``jwtkit decode -- -abc...``; ``--bogus`` is still an unknown option."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Move token-like ``-`` arguments behind ``--``, then parse as click does."""
        if "--" in args:
            return super().parse_args(ctx, args)
        names: dict[str, bool] = {}
        for param in self.params:
            takes_value = not getattr(param, "is_flag", False)
            for name in (*param.opts, *param.secondary_opts):
                names[name] = takes_value
        keep: list[str] = []
        tokens: list[str] = []
        for arg in args:
            after_option = bool(keep) and names.get(keep[-1], False)
            if (
                not after_option
                and not arg.startswith("--")
                and arg not in names
                and _TOKENISH.fullmatch(arg)
            ):
                tokens.append(arg)
            else:
                keep.append(arg)
        return super().parse_args(ctx, [*keep, "--", *tokens] if tokens else keep)


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add ``decode``, ``verify`` and ``encode`` to the ``jwtkit`` app (``keys_app`` is unused)."""
    del keys_app
    app.command("decode", epilog=_DECODE_EPILOG, cls=TokenCommand)(decode)
    app.command("verify", epilog=_VERIFY_EPILOG, cls=TokenCommand)(verify)
    app.command("encode", epilog=_ENCODE_EPILOG)(encode)
