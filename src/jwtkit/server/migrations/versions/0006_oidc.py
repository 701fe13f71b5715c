"""OpenID Connect provider: client registration metadata, user claims, OP (browser) sessions and
the grants made through them, authorization codes, pushed and interactive authorization
requests, consents, back-channel logout deliveries; signing keys get a purpose (access tokens or
ID tokens).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(16), nullable=False, server_default="access")
        )
    op.create_table(
        "oidc_clients",
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("redirect_uris", sa.Text, nullable=False),
        sa.Column("post_logout_redirect_uris", sa.Text, nullable=False),
        sa.Column("backchannel_logout_uri", sa.Text, nullable=True),
        sa.Column("first_party", sa.Boolean, nullable=False),
        sa.Column("require_pushed_authorization_requests", sa.Boolean, nullable=False),
        sa.Column("id_token_signed_response_alg", sa.String(16), nullable=True),
    )
    op.create_table(
        "user_claims",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("name", sa.String(255), nullable=True),
    )
    op.create_table(
        "op_sessions",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("cookie_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("user_id", sa.String(64), nullable=False, index=True),
        sa.Column("auth_time", sa.Float, nullable=False),
        sa.Column("amr", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float, nullable=True),
        sa.Column("ended_reason", sa.String(64), nullable=True),
    )
    op.create_table(
        "op_grants",
        sa.Column("grant_sid", sa.String(64), primary_key=True),
        sa.Column("op_sid", sa.String(64), nullable=False, index=True),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("op_sid", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("nonce", sa.Text, nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False, index=True),
        sa.Column("used_at", sa.Float, nullable=True),
        sa.Column("grant_sid", sa.String(64), nullable=True),
    )
    op.create_table(
        "authorization_requests",
        sa.Column("handle_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("binding", sa.String(64), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False, index=True),
        sa.Column("used_at", sa.Float, nullable=True),
    )
    op.create_table(
        "consents",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "backchannel_logouts",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("op_sid", sa.String(64), nullable=False, index=True),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("delivered_at", sa.Float, nullable=True),
    )


def downgrade() -> None:
    for table in (
        "backchannel_logouts",
        "consents",
        "authorization_requests",
        "authorization_codes",
        "op_grants",
        "op_sessions",
        "user_claims",
        "oidc_clients",
    ):
        op.drop_table(table)
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("purpose")
