"""The lists' covering indexes: a list's count and the choice of its page read an index, not
the petitions' wide rows (100,000 petitions: a unit's lists 250-300 ms, now a few tens).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LISTED = ["state", "overdue", "resolve_deadline"]


def upgrade() -> None:
    """Apply this revision."""
    # (unit, role) is a prefix of the new one: the old index only costs writes
    op.drop_index("ix_petition_units_unit_role", table_name="petition_units")
    op.create_index(
        "ix_petition_units_unit_role_current",
        "petition_units",
        ["unit", "role", "current", "petition_id"],
    )
    op.create_index("ix_petitions_listing", "petitions", ["petition_id", *_LISTED, "received_at"])
    for column in ("lead_unit", "county", "petition_type"):
        op.create_index(
            f"ix_petitions_{'type' if column == 'petition_type' else column}_listing",
            "petitions",
            [column, *_LISTED, "petition_id"],
        )


def downgrade() -> None:
    """Undo this revision."""
    for name in ("type", "county", "lead_unit"):
        op.drop_index(f"ix_petitions_{name}_listing", table_name="petitions")
    op.drop_index("ix_petitions_listing", table_name="petitions")
    op.drop_index("ix_petition_units_unit_role_current", table_name="petition_units")
    op.create_index("ix_petition_units_unit_role", "petition_units", ["unit", "role"])
