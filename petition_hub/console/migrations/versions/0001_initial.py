"""The console's tables: the projected read model (petitions, petition_units, events,
extension_requests, refusals, consumed_offsets) and the console's own (users, audit_log,
login_failures).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    _audit_log()
    _consumed_offsets()
    _events()
    _extension_requests()
    _login_failures()
    _petition_units()
    _petitions()
    _refusals()
    _users()


def _audit_log() -> None:
    """Create ``audit_log``."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("petition_id", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_petition_id"), ["petition_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_username"), ["username"], unique=False)


def _consumed_offsets() -> None:
    """Create ``consumed_offsets``."""
    op.create_table(
        "consumed_offsets",
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("topic", "partition", name=op.f("pk_consumed_offsets")),
    )


def _events() -> None:
    """Create ``events``."""
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("petition_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("author", sa.String(length=128), nullable=True),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("round", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_petition_id"), ["petition_id"], unique=False)


def _extension_requests() -> None:
    """Create ``extension_requests``."""
    op.create_table(
        "extension_requests",
        sa.Column("petition_id", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("petition_id", "requested_at", name=op.f("pk_extension_requests")),
    )
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_extension_requests_decision"), ["decision"], unique=False
        )


def _login_failures() -> None:
    """Create ``login_failures``."""
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index("ix_login_failures_username_at", ["username", "at"], unique=False)


def _petition_units() -> None:
    """Create ``petition_units``."""
    op.create_table(
        "petition_units",
        sa.Column("petition_id", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("petition_id", "unit", name=op.f("pk_petition_units")),
    )
    with op.batch_alter_table("petition_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_petition_units_unit"), ["unit"], unique=False)
        batch_op.create_index("ix_petition_units_unit_role", ["unit", "role"], unique=False)


def _petitions() -> None:
    """Create ``petitions``."""
    op.create_table(
        "petitions",
        sa.Column("petition_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("channel_ref", sa.String(length=128), nullable=True),
        sa.Column("petition_type", sa.String(length=32), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=True),
        sa.Column("theme", sa.String(length=32), nullable=True),
        sa.Column("theme_name", sa.String(length=128), nullable=True),
        sa.Column("county", sa.String(length=6), nullable=True),
        sa.Column("location_kind", sa.String(length=32), nullable=True),
        sa.Column("location_code", sa.String(length=16), nullable=True),
        sa.Column("location_name", sa.String(length=128), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("enterprise_name", sa.String(length=256), nullable=True),
        sa.Column("enterprise_uscc", sa.String(length=32), nullable=True),
        sa.Column("contact_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("identity_withheld", sa.Boolean(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("state_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("lead_unit", sa.String(length=64), nullable=True),
        sa.Column("co_units", sa.JSON(), nullable=False),
        sa.Column("excluded_units", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_for_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sign_for_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sign_for_deadline_provisional", sa.Boolean(), nullable=False),
        sa.Column("resolve_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False),
        sa.Column("provincial_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_round", sa.Integer(), nullable=True),
        sa.Column("listed_round", sa.Integer(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("supervision", sa.String(length=32), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closure", sa.String(length=32), nullable=True),
        sa.Column("satisfaction", sa.String(length=32), nullable=True),
        sa.Column("reply_kind", sa.String(length=16), nullable=True),
        sa.Column("repeat_of", sa.String(length=64), nullable=True),
        sa.Column("rules_version", sa.String(length=64), nullable=True),
        sa.Column("routing_rule", sa.String(length=128), nullable=True),
        sa.Column("routing_explanation", sa.Text(), nullable=True),
        sa.Column("routing_reason", sa.Text(), nullable=True),
        sa.Column("suggested_units", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("petition_id", name=op.f("pk_petitions")),
    )
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_petitions_channel"), ["channel"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_county"), ["county"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_lead_unit"), ["lead_unit"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_overdue"), ["overdue"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_petitions_petition_type"), ["petition_type"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_petitions_resolve_deadline"), ["resolve_deadline"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_petitions_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_supervision"), ["supervision"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_theme"), ["theme"], unique=False)


def _refusals() -> None:
    """Create ``refusals``."""
    op.create_table(
        "refusals",
        sa.Column("source_topic", sa.String(length=255), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("petition_id", sa.String(length=64), nullable=True),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("event_kind", sa.String(length=64), nullable=True),
        sa.Column("event_ref", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "source_topic", "source_partition", "source_offset", name=op.f("pk_refusals")
        ),
    )
    with op.batch_alter_table("refusals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refusals_petition_id"), ["petition_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_refusals_unit"), ["unit"], unique=False)


def _users() -> None:
    """Create ``users``."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )


def downgrade() -> None:
    """Undo this revision (the indexes go with their tables)."""
    for table in (
        "users",
        "refusals",
        "petitions",
        "petition_units",
        "login_failures",
        "extension_requests",
        "events",
        "consumed_offsets",
        "audit_log",
    ):
        op.drop_table(table)
