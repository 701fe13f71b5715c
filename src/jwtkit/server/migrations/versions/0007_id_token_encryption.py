"""Encrypted ID tokens per client (OIDC Core §10.2, OIDC Dynamic Client Registration §2):
``oidc_clients`` gains ``id_token_encrypted_response_alg``/``_enc`` and the client's public
encryption JWK Set.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oidc_clients") as batch:
        batch.add_column(sa.Column("id_token_encrypted_response_alg", sa.String(32), nullable=True))
        batch.add_column(sa.Column("id_token_encrypted_response_enc", sa.String(32), nullable=True))
        batch.add_column(sa.Column("id_token_encryption_jwks", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oidc_clients") as batch:
        batch.drop_column("id_token_encryption_jwks")
        batch.drop_column("id_token_encrypted_response_enc")
        batch.drop_column("id_token_encrypted_response_alg")
