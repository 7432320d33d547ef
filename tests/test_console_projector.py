"""The projector on the embedded broker, in process: it takes in a unit topic created while it
runs (the name pattern, metadata refreshed), measures its lag, and goes on after a restart from
the offsets in its database (not Kafka's)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from test_console_projection_rules import lifecycle, unit_petition

from hubtest import TEST_PII_KEY, create_topics, produce
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.console.models import ConsumedOffset, Event, Petition
from petition_hub.console.projector import Projector, group_of, wanted
from petition_hub.console.store import make_engine, migrate, session_factory
from petition_hub.service.settings import Settings

AT = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def test_the_topics_it_reads() -> None:
    assert (
        wanted("hub.lifecycle") and wanted("dept.TAX.petitions") and wanted("county.410402.status")
    )
    assert wanted("hub.privacy"), "the hub's erasures: the console must erase its copy too"
    assert not wanted("hub.petitions") and not wanted("dept.TAX.petitions-changelog")
    assert not wanted("petition-hub-routed") and not wanted("hotline12345.workorders")


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.3)


async def _running(projector: Projector, body: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.create_task(projector.run())
    try:
        await body()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_new_unit_topic_is_read_and_a_restart_goes_on_from_the_database(
    fresh_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    create_topics(fresh_broker.bootstrap, {"hub.lifecycle": 2})
    settings = Settings(broker=fresh_broker.url, app_id="console-test", pii_key=TEST_PII_KEY)
    engine = make_engine(f"sqlite:///{tmp_path / 'console.db'}")
    migrate(engine)
    factory = session_factory(engine)

    def count(what: type[Event] | type[Petition]) -> int:
        with factory() as s:
            return int(s.scalar(select(func.count()).select_from(what)) or 0)

    def event(offset: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        value = lifecycle("state_changed", AT + timedelta(minutes=offset), "routed")
        return b"PH-TESTCONSOLE0000000001", value, [("ce_id", f"life-{offset}".encode())]

    produce(fresh_broker.bootstrap, "hub.lifecycle", [event(i) for i in range(5)])
    projector = Projector(settings, factory, metadata_refresh=1.0)

    async def first_run() -> None:
        await _until(lambda: count(Event) == 5, 60, "the first 5 lifecycle records")
        # a unit's topic created now: the pattern takes it in
        create_topics(fresh_broker.bootstrap, {"dept.NEWUNIT.petitions": 1})
        value = unit_petition("LEAD", leadUnit="dept.NEWUNIT")
        produce(fresh_broker.bootstrap, "dept.NEWUNIT.petitions", [(b"PH-X", value, [])])
        await _until(lambda: count(Event) == 6, 90, "the new unit topic's record")
        await _until(lambda: sum(projector.lag().values()) == 0, 30, "no lag")
        assert set(projector.lag()) >= {"hub.lifecycle", "dept.NEWUNIT.petitions"}

    await _running(projector, first_run)
    with factory() as s:
        offsets = {(o.topic, o.partition): o.next_offset for o in s.scalars(select(ConsumedOffset))}
    assert sum(offsets.values()) == 6, offsets

    # Kafka's committed offsets are none: the new projector goes on from the database's
    produce(fresh_broker.bootstrap, "hub.lifecycle", [event(i) for i in range(5, 8)])
    again = Projector(settings, factory, metadata_refresh=1.0)

    async def second_run() -> None:
        await _until(lambda: count(Event) == 9, 60, "the 3 new records")
        await asyncio.sleep(1)
        assert count(Event) == 9

    await _running(again, second_run)
    assert group_of(settings) == "console-test-console"
    engine.dispose()
