"""``jwtkit keys generate|convert|thumbprint|jwks|rotate|list``: create, convert, publish keys.

* ``generate`` makes a new EC, RSA, OKP or oct key (RFC 7518 §6, RFC 8037) as a private JWK or
  PEM; files holding private keys are written with mode 0600.
* ``convert`` turns PEM into JWK and JWK into PEM (RFC 7517 §4), optionally keeping only the public
  part.
* ``thumbprint`` prints the RFC 7638 JWK Thumbprint, or its RFC 9278 URI.
* ``jwks`` builds a public JWK Set (RFC 7517 §5) from key files; it never contains private members.
* ``rotate`` and ``list`` manage the token service's own signing keys (in its database).
"""

from __future__ import annotations

import json
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jwtkit.cli._admin import (
    AsJSON,
    ConfigFile,
    DatabaseURL,
    DataDir,
    admin_command,
    open_admin,
    print_table,
    timestamp,
)
from jwtkit.cli._common import (
    CLIError,
    UsageError,
    cli_errors,
    load_key_source,
    parse_key_bytes,
    pick_key,
    read_input_bytes,
    warn,
    write_output,
)

if TYPE_CHECKING:
    from jwtkit.jwk import Key

__all__ = ["PRIVATE_JWK_MEMBERS", "register"]

#: JWK members that carry private or secret material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class Kty(str, Enum):
    """Key types accepted by ``keys generate`` (RFC 7518 §6.1, RFC 8037 §2)."""

    EC = "EC"
    RSA = "RSA"
    OKP = "OKP"
    oct = "oct"


class KeyFormat(str, Enum):
    """Output formats: a JWK (JSON, RFC 7517) or PEM (PKCS#8 private / SPKI public)."""

    jwk = "jwk"
    pem = "pem"


class HashName(str, Enum):
    """Hash functions for JWK thumbprints (RFC 7638 §3.4)."""

    sha256 = "sha256"
    sha384 = "sha384"
    sha512 = "sha512"


def _jwk_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _serialize(key: Key, fmt: KeyFormat, *, private: bool) -> bytes:
    if fmt is KeyFormat.pem:
        if key.is_symmetric:
            raise UsageError("an oct (symmetric) key has no PEM form; use --format jwk")
        return key.to_pem(private=private)
    return _jwk_bytes(key.to_jwk(private=private))


def _warn_pem_drops(alg: str | None, kid: str | None) -> None:
    """Warn that PEM output loses the key's ``alg`` binding (RFC 7517 §4.4) and ``kid``: a
    verifier loading the PEM no longer knows which single algorithm the key is for."""
    lost = [f"alg {alg} (the key's only algorithm)" if alg else "", f"kid {kid}" if kid else ""]
    lost = [item for item in lost if item]
    if lost:
        warn(
            f"PEM cannot hold {' or '.join(lost)}: that binding is lost; "
            "use --format jwk to keep it, or pass --alg to every verifier"
        )


def _done(message: str, out: str | None) -> None:
    if out is not None and out != "-":
        typer.echo(message, err=True)


# ------------------------------------------------------------------------------------- generate

_GENERATE_EPILOG = """Examples:
  $ jwtkit keys generate --kty EC --out private.jwk
  $ jwtkit keys generate --kty RSA --bits 3072 --alg PS256 -f pem -o rsa.pem
  $ jwtkit keys generate --kty OKP --crv Ed448 --kid ed-2026 --out ed.jwk
  $ jwtkit keys generate --kty oct --bits 512 --alg HS512 --out hmac.jwk

Defaults: EC P-256, RSA 2048 bits, OKP Ed25519, oct 256 bits.
Asymmetric keys get their RFC 7638 thumbprint as kid unless --kid is given
(PEM has no room for kid or alg). --out files are created with mode 0600;
an existing file is kept unless --force.
Exit codes: 0 written, 2 usage, 3 file error, 20 unknown alg,
30 invalid key parameters, 32 alg does not fit --kty."""


@cli_errors
def generate(
    kty: Annotated[
        Kty | None,
        typer.Option(
            "--kty",
            case_sensitive=False,
            metavar="EC|RSA|OKP|oct",
            help="Key type (default: EC, or the type --alg needs).",
        ),
    ] = None,
    crv: Annotated[
        str | None,
        typer.Option(help="Curve: P-256, P-384, P-521, secp256k1 (EC); Ed25519, Ed448 (OKP)."),
    ] = None,
    bits: Annotated[
        int | None, typer.Option(help="Size in bits (RSA: 2048 default; oct: 256 default).")
    ] = None,
    kid: Annotated[
        str | None, typer.Option(help="Key ID (default: the RFC 7638 thumbprint).")
    ] = None,
    alg: Annotated[str | None, typer.Option(help="Bind the key to one algorithm.")] = None,
    fmt: Annotated[
        KeyFormat, typer.Option("--format", "-f", case_sensitive=False, help="Output format.")
    ] = KeyFormat.jwk,
    out: Annotated[
        str | None,
        typer.Option("--out", "-o", metavar="FILE", help="Write here (mode 0600), not stdout."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --out file.")
    ] = False,
) -> None:
    """Generate a new private key and print it (or write it to --out) as a JWK or PEM."""
    from jwtkit.errors import KeyMismatchError
    from jwtkit.jwa import get_algorithm
    from jwtkit.jwk import Key

    value = Kty(kty).value if kty is not None else None
    if alg is not None:
        wanted = get_algorithm(alg).kty
        if value is not None and value != wanted:
            raise KeyMismatchError(f"{alg} needs a {wanted} key, not {value}")
        value = wanted
    value = value or "EC"
    if crv is not None and value in ("RSA", "oct"):
        raise UsageError(f"--crv does not apply to {value} keys")
    if bits is not None and value in ("EC", "OKP"):
        raise UsageError(f"--bits does not apply to {value} keys (the curve fixes the size)")
    if fmt is KeyFormat.pem and value == "oct":
        raise UsageError("an oct (symmetric) key has no PEM form; use --format jwk")
    key = Key.generate(value, crv=crv, size=bits, alg=alg, kid=kid)
    if fmt is KeyFormat.pem:
        _warn_pem_drops(alg, kid)
    write_output(_serialize(key, fmt, private=True), out, private=True, force=force)
    label = key.crv or f"{key.size} bits"
    kid_note = f" (kid {key.kid})" if key.kid is not None else ""
    _done(f"wrote {key.kty} {label} private key{kid_note} to {out}", out)


# -------------------------------------------------------------------------------------- convert

_CONVERT_EPILOG = """Examples:
  $ jwtkit keys convert private.pem                 # PEM -> JWK
  $ jwtkit keys convert private.jwk --out key.pem   # JWK -> PEM
  $ jwtkit keys convert private.jwk --public        # the public JWK
  $ cat cert.pem | jwtkit keys convert - --kid my-key --alg RS256

Input: PEM (SPKI, PKCS#1, PKCS#8, SEC1, X.509 certificate), DER, JWK, or a
JWK Set holding one key (or pick one with --select). Without --to, PEM and
DER become JWK, and JWK becomes PEM. A JWK made from PEM gets its RFC 7638
thumbprint as kid unless --kid is given. Private output files get mode 0600.
Exit codes: 0 written, 2 usage, 3 file error, 30 not a key,
32 an oct key has no public part, 33 no such key in the JWK Set."""


@cli_errors
def convert(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE", help="Key file (PEM, DER, JWK, JWK Set), or - for stdin."),
    ],
    to: Annotated[
        KeyFormat | None,
        typer.Option("--to", case_sensitive=False, help="Output format (default: the other one)."),
    ] = None,
    public: Annotated[bool, typer.Option("--public", help="Output only the public key.")] = False,
    kid: Annotated[str | None, typer.Option(help="Set the key ID of the JWK output.")] = None,
    alg: Annotated[str | None, typer.Option(help="Set the alg of the JWK output.")] = None,
    select: Annotated[
        str | None, typer.Option(metavar="KID", help="Pick this key from a JWK Set.")
    ] = None,
    out: Annotated[
        str | None, typer.Option("--out", "-o", metavar="FILE", help="Write here, not stdout.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --out file.")
    ] = False,
) -> None:
    """Convert a key between PEM and JWK; --public keeps only the public part."""
    data = read_input_bytes(file, what="key file")
    source_name = "stdin" if file == "-" else file
    from jwtkit.jwk import KeySet

    source = parse_key_bytes(data, source=source_name)
    if select is not None and not isinstance(source, KeySet):
        raise UsageError(f"--select needs a JWK Set, but {source_name} is a single key")
    key = pick_key(source, source_name, kid=select)
    is_json = data.lstrip().startswith(b"{")
    fmt = to if to is not None else (KeyFormat.pem if is_json else KeyFormat.jwk)
    if public:
        if key.is_symmetric:
            from jwtkit.errors import KeyMismatchError

            raise KeyMismatchError("an oct (symmetric) key has no public part")
        key = key.public()
    if fmt is KeyFormat.jwk:
        if kid is not None or alg is not None:
            params: dict[str, Any] = {}
            if kid is not None:
                params["kid"] = kid
            if alg is not None:
                params["alg"] = alg
            key = key.with_params(**params)
        if key.kid is None and not key.is_symmetric:
            key = key.with_params(kid=key.thumbprint())
    elif kid is not None or alg is not None:
        raise UsageError("--kid and --alg apply to JWK output only (PEM cannot hold them)")
    else:
        # A thumbprint kid (RFC 7638) can be computed again from the PEM: nothing is lost.
        own_kid = is_json and key.kid is not None and key.kid != key.thumbprint()
        _warn_pem_drops(key.alg, key.kid if own_kid else None)
    private = key.is_private or key.is_symmetric
    write_output(_serialize(key, fmt, private=private), out, private=private, force=force)
    kind = "private" if private else "public"
    _done(f"wrote {kind} {fmt.value.upper()} key to {out}", out)


# ----------------------------------------------------------------------------------- thumbprint

_THUMBPRINT_EPILOG = """Examples:
  $ jwtkit keys thumbprint public.jwk
  $ jwtkit keys thumbprint private.pem --uri
  $ jwtkit keys thumbprint jwks.json    # one line per key: thumbprint, kid
  $ jwtkit keys thumbprint key.jwk --hash sha512

The thumbprint covers the public members only, so a private key and its
public key have the same thumbprint.
Exit codes: 0 printed, 2 usage, 3 file error, 30 not a key."""


@cli_errors
def thumbprint(
    file: Annotated[
        str,
        typer.Argument(metavar="FILE", help="Key file (PEM, DER, JWK, JWK Set), or - for stdin."),
    ],
    hash_name: Annotated[
        HashName, typer.Option("--hash", case_sensitive=False, help="Hash function.")
    ] = HashName.sha256,
    uri: Annotated[
        bool, typer.Option("--uri", help="Print the RFC 9278 URI (urn:ietf:params:oauth:...).")
    ] = False,
) -> None:
    """Print a key's RFC 7638 JWK Thumbprint (base64url), or with --uri its RFC 9278 URI."""
    from jwtkit.jwk import KeySet

    source = load_key_source(file)
    hname = HashName(hash_name).value

    def one(key: Key) -> str:
        return key.thumbprint_uri(hname) if uri else key.thumbprint(hname)

    if isinstance(source, KeySet):
        if len(source) == 0:
            raise CLIError(f"{file}: the JWK Set is empty", code="key_not_found", exit_code=33)
        for key in source:
            typer.echo(f"{one(key)}\t{key.kid or ''}".rstrip())
        return
    typer.echo(one(source))


# ----------------------------------------------------------------------------------------- jwks

_JWKS_EPILOG = """Examples:
  $ jwtkit keys jwks current.jwk next.pem > jwks.json
  $ jwtkit keys jwks keys/*.jwk --out public/jwks.json

Each FILE may hold a private or public key (PEM, DER, JWK) or a JWK Set.
Only public members are published; keys without a kid get their RFC 7638
thumbprint as kid; oct (symmetric) keys and duplicate kids are refused.
Exit codes: 0 written, 2 usage (duplicate kid), 3 file error,
30 invalid key, 32 oct key given."""


@cli_errors
def jwks(
    files: Annotated[
        list[str],
        typer.Argument(metavar="FILE...", help="Key files (PEM, DER, JWK, JWK Set); - for stdin."),
    ],
    out: Annotated[
        str | None, typer.Option("--out", "-o", metavar="FILE", help="Write here, not stdout.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing --out file.")
    ] = False,
) -> None:
    """Build a public JWK Set from key files; private members are never included."""
    from jwtkit.errors import KeyMismatchError
    from jwtkit.jwk import KeySet

    if sum(1 for f in files if f == "-") > 1:
        raise UsageError("stdin (-) can be given only once")
    published: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for path in files:
        source = load_key_source(path)
        keys = list(source) if isinstance(source, KeySet) else [source]
        for key in keys:
            if key.is_symmetric:
                raise KeyMismatchError(
                    f"{path}: an oct (symmetric) key cannot be published in a JWK Set"
                )
            pub = key.public() if key.is_private else key
            if pub.kid is None:
                pub = pub.with_params(kid=pub.thumbprint())
            kid = str(pub.kid)
            if kid in seen:
                raise UsageError(f"duplicate kid {kid!r} in {seen[kid]} and {path}")
            seen[kid] = path
            jwk = pub.to_jwk(private=False)
            leaked = PRIVATE_JWK_MEMBERS & set(jwk)
            if leaked:  # pragma: no cover - defence in depth against a core bug
                raise CLIError(f"refusing to publish private members {sorted(leaked)}")
            published.append(jwk)
    write_output(_jwk_bytes({"keys": published}), out, private=False, force=force)
    _done(f"wrote a JWK Set of {len(published)} public key(s) to {out}", out)


# ------------------------------------------------------------------------------------- register


@admin_command
def rotate(
    delay: Annotated[
        int | None,
        typer.Option(
            help="Seconds before the new key signs (default: key_rotation_delay setting).",
            show_default=False,
        ),
    ] = None,
    alg: Annotated[
        str | None,
        typer.Option(
            help="ES256, RS256, PS256 or EdDSA (default: signing_alg).", show_default=False
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Publish a new service signing key as *next*.

    It becomes *current* after the delay, and the old one stays published until its last token
    has expired.
    """
    with open_admin(data_dir, database_url, config, ensure_key=True) as admin:
        record = admin.rotate_key(delay=delay, alg=alg)
        for message in admin.rotation_warnings(delay):
            warn(message)
    typer.echo(
        f"new key {record.kid} ({record.alg}) published; signs from {timestamp(record.activate_at)}"
    )


@admin_command
def list_keys(
    as_json: AsJSON = False,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """List the token service's signing keys, their purpose (``access`` tokens or
    ``id_token``: ID and logout tokens) and states (never private parts)."""
    with open_admin(data_dir, database_url, config) as admin:
        rows = admin.list_keys()
    data: list[dict[str, Any]] = [
        {
            "kid": r.kid,
            "alg": r.alg,
            "purpose": r.purpose,
            "state": r.state,
            "created_at": int(r.created_at),
            "activate_at": r.activate_at,
            "publish_until": r.publish_until,
        }
        for r in rows
    ]
    if as_json:
        typer.echo(json.dumps(data))
        return
    print_table(
        "signing keys",
        ["kid", "alg", "purpose", "state", "created", "active from", "published until"],
        [
            [
                d["kid"],
                d["alg"],
                d["purpose"],
                d["state"],
                timestamp(d["created_at"]),
                timestamp(d["activate_at"]),
                timestamp(d["publish_until"]),
            ]
            for d in data
        ],
    )


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add ``keys generate|convert|thumbprint|jwks|rotate|list`` to the ``keys`` group (``app``
    unused)."""
    del app
    keys_app.command("generate", epilog=_GENERATE_EPILOG)(generate)
    keys_app.command("convert", epilog=_CONVERT_EPILOG)(convert)
    keys_app.command("thumbprint", epilog=_THUMBPRINT_EPILOG)(thumbprint)
    keys_app.command("jwks", epilog=_JWKS_EPILOG)(jwks)
    keys_app.command("rotate")(rotate)
    keys_app.command("list")(list_keys)
