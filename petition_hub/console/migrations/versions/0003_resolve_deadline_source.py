"""Who set a petition's resolve deadline last: the lifecycle, or hub.sla's deadline_changed (a
calendar change), so the projection's answer does not depend on which topic it reads first.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("resolve_deadline_source", sa.String(length=16), nullable=True)
        )


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.drop_column("resolve_deadline_source")
