"""``jwtkit dpop proof``: make a DPoP proof (RFC 9449 §4.2) for one request, for debugging a
client or a resource server (curl ``-H "DPoP: $(jwtkit dpop proof ...)"``)."""

from __future__ import annotations

from typing import Annotated

import typer

from jwtkit.cli._common import cli_errors, load_single_key, read_token

__all__ = ["proof", "register"]

_EPILOG = (
    "Example: jwtkit dpop proof --key client.jwk --htm GET --htu https://api.example/me "
    '--ath-of "$TOKEN"'
)


@cli_errors
def proof(
    key: Annotated[
        str, typer.Option("--key", help="Private key file (JWK, PEM, DER; - for stdin).")
    ],
    htm: Annotated[str, typer.Option("--htm", help="The request's HTTP method, e.g. GET.")],
    htu: Annotated[str, typer.Option("--htu", help="The request's URL (query dropped).")],
    ath_of: Annotated[
        str | None,
        typer.Option("--ath-of", help="Access token whose hash goes into ath (- for stdin)."),
    ] = None,
    nonce: Annotated[
        str | None, typer.Option("--nonce", help="The server's DPoP-Nonce, when it asked.")
    ] = None,
    alg: Annotated[
        str | None, typer.Option("--alg", help="The proof's alg (default: the key's).")
    ] = None,
    kid: Annotated[str | None, typer.Option("--kid", help="Key to pick from a JWK Set.")] = None,
) -> None:
    """Print a DPoP proof (a compact JWS with typ dpop+jwt and the key's public jwk) for one
    request: htm, htu, iat now, a random jti, and ath (base64url SHA-256 of the access token)
    with --ath-of, nonce with --nonce (RFC 9449 §4.2). The key must be a private asymmetric key
    (exit 60, invalid_dpop_proof, otherwise)."""
    from jwtkit.dpop import make_proof

    signer = load_single_key(key, kid=kid)
    token = read_token(ath_of) if ath_of is not None else None
    typer.echo(make_proof(signer, htm.upper(), htu, access_token=token, nonce=nonce, algorithm=alg))


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add the ``dpop`` group (``dpop proof``) to the ``jwtkit`` app (``keys_app`` unused)."""
    del keys_app
    group = typer.Typer(help="DPoP (RFC 9449): make proofs for debugging.", no_args_is_help=True)
    group.command("proof", epilog=_EPILOG)(proof)
    app.add_typer(group, name="dpop")
