"""The console's models and its migrations agree: a database migrated from empty to the newest
revision has exactly the tables, columns, types and indexes the models declare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from petition_hub.console.models import Base, ConsumedOffset, Event
from petition_hub.console.store import make_engine, migrate, session_factory, transaction


def test_the_migrations_make_what_the_models_declare(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'console.db'}")
    migrate(engine)
    migrate(engine)  # a second upgrade finds nothing to do
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
        tables = set(inspect(conn).get_table_names())
    assert diff == [], f"models and migrations differ: {diff}"
    assert tables == {*Base.metadata.tables, "alembic_version"}, tables


def test_times_come_back_aware_in_utc(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'console.db'}")
    migrate(engine)
    factory = session_factory(engine)
    beijing = datetime(2026, 11, 2, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    with transaction(factory) as s:
        s.add(Event(event_id="e1", source="hub.lifecycle", kind="state_changed", at=beijing))
        s.add(ConsumedOffset(topic="hub.lifecycle", partition=0, next_offset=1))
    with factory() as s:
        at = s.scalars(select(Event.at)).one()
    assert at == beijing and at.tzinfo == UTC, f"stored {beijing}, read back {at!r}"
