"""Alembic's environment for the console's database: online only, on the engine the caller hands
over (:func:`petition_hub.console.store.alembic_config`), against the models' metadata."""

from __future__ import annotations

from alembic import context

from petition_hub.console.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters a table by copying it: batch mode does that for later migrations
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
