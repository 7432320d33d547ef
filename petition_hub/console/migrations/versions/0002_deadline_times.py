"""When each deadline was last set (the latest word wins, whatever topic it came from), and
which routing named a unit.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("petition_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sign_for_deadline_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resolve_deadline_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.drop_column("resolve_deadline_at")
        batch_op.drop_column("sign_for_deadline_at")

    with op.batch_alter_table("petition_units", schema=None) as batch_op:
        batch_op.drop_column("routed_at")
