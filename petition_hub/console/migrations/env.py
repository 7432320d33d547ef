"""Alembic's environment for the console's database: online only, on the engine the caller hands
over (:func:`petition_hub.console.store.alembic_config`), against the models' metadata."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from petition_hub.console.models import Base, UtcDateTime


def render_item(kind: str, item: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes the models' UTC timestamps as plain ``sa.DateTime(timezone=True)``:
    a migration must not import the models (they change; the migration must not)."""
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters a table by copying it: batch mode does that for later migrations
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
