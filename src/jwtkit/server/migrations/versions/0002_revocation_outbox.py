"""Revocation outbox: every revocation event with a gapless sequence number (issue 14).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revocation_outbox",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("until", sa.Float, nullable=False),
        sa.Column("cutoff", sa.Float, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_revocation_outbox_until", "revocation_outbox", ["until"])
    seq = op.create_table(
        "revocation_seq",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(seq, [{"id": 1, "last": 0}])


def downgrade() -> None:
    op.drop_table("revocation_seq")
    op.drop_index("ix_revocation_outbox_until", "revocation_outbox")
    op.drop_table("revocation_outbox")
