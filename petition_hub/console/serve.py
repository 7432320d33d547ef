"""``petition-hub console serve``: the web side and the projector in one process.

- The database is migrated first; then uvicorn serves :func:`~.app.create_app` on
  ``HUB_CONSOLE_BIND`` (loopback by default) and ``HUB_CONSOLE_PORT`` (8090), and the projector
  (:func:`petition_hub.console.projector.run`) runs beside it as an asyncio task: any number of
  replicas share the database and the projector's consumer group. With
  ``HUB_CONSOLE_METRICS_PORT``, the metrics are also served on that port with no sign-in
  (:meth:`~.app.ConsoleMetrics.serve`), for Prometheus.
- Actions are sent with the tools' producer (acks=all, Kafka's partitioner: a petition's
  record lands on the partition the hub's stages read it from), in a thread so the event loop
  does not wait on the broker.
- The 通报 (``/office/report``) reads ``hub.lifecycle``, ``hub.sla`` and the units' topics as
  ``petition-hub report`` does (:func:`petition_hub.ops.report.read_events`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from petition_hub.console.actions import Outbound, Sender
from petition_hub.console.app import Console, ConsoleMetrics, ReportSource, create_app
from petition_hub.console.auth import Sessions, console_secret
from petition_hub.console.store import engine_for, migrate, session_factory
from petition_hub.domain.rules import RuleSet
from petition_hub.ops.report import Report, compute, read_events
from petition_hub.ops.report_periods import Period
from petition_hub.service.crypto import cipher_for
from petition_hub.service.settings import Settings

__all__ = ["build_console", "kafka_sender", "report_source", "serve"]


def kafka_sender(bootstrap: str, options: dict[str, Any] | None = None) -> Sender:
    """Sends records and waits for the broker's acknowledgement (one producer per process)."""
    from petition_hub.broker import tools

    producer = tools.SendingProducer(bootstrap, options)
    # one send at a time: the producer's flush waits for every queued record, so two sends
    # interleaved would each wait for the other's
    lock = asyncio.Lock()

    async def send(records: Sequence[Outbound]) -> None:
        def write() -> None:
            for r in records:
                producer.send(r.topic, key=r.key, value=r.value, headers=list(r.headers))

        async with lock:
            await asyncio.to_thread(write)

    return send


def report_source(bootstrap: str, options: dict[str, Any] | None = None) -> ReportSource:
    """The 通报 of a period from the hub's topics, read whole (in a thread)."""

    async def report(period: Period) -> Report:
        def read() -> Report:
            events = read_events(bootstrap, options)
            return compute(events.lifecycle, events.sla, period, events.facts)

        return await asyncio.to_thread(read)

    return report


def _rules(settings: Settings) -> Callable[[], RuleSet]:
    """The routing rules in force (HUB_RULES, else the packaged ones), read once."""
    from petition_hub.agents.routing import load_rules_at

    rules = load_rules_at(settings.rules)  # as the workers and `petition-hub rules` read them
    return lambda: rules


def build_console(
    settings: Settings,
    engine: Engine,
    *,
    send: Sender | None = None,
    report: ReportSource | None = None,
    lag: Callable[[], float | None] | None = None,
) -> Console:
    """The console of ``settings`` on ``engine`` (already migrated); without ``send``, the
    broker of HUB_BROKER."""
    options = _kafka_options(settings)
    if send is None:
        send = kafka_sender(settings.bootstrap_servers(), options)
    if report is None and settings.broker is not None:
        report = report_source(settings.bootstrap_servers(), options)
    return Console(
        settings=settings,
        db=session_factory(engine),
        sessions=Sessions(console_secret(settings), settings.console_session_hours * 3600),
        send=send,
        rules=_rules(settings),
        cipher=cipher_for(settings),
        report=report,
        metrics=ConsoleMetrics(lag),
    )


def _kafka_options(settings: Settings) -> dict[str, Any]:
    from petition_hub.service.security import confluent_config

    return dict(confluent_config(settings))


#: How often the SQLite planner's statistics are refreshed while the console runs (the
#: projection keeps adding rows; ANALYZE of 100,000 petitions takes a fraction of a second).
STATISTICS_EVERY = 300.0


def refresh_statistics(engine: Engine) -> None:
    """SQLite's planner statistics (PostgreSQL's autovacuum keeps its own): without them SQLite
    sorts a city's open petitions rather than walk the deadline's index (0.2 s against 2 ms
    for a page of 100,000 petitions)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


async def _keep_statistics(engine: Engine) -> None:
    while True:
        await asyncio.to_thread(refresh_statistics, engine)
        await asyncio.sleep(STATISTICS_EVERY)


async def serve(settings: Settings, *, project: bool = True) -> None:
    """Migrate, then serve the console (and run the projector beside it) until cancelled."""
    import uvicorn

    from petition_hub.console import projector as projection

    engine = engine_for(settings)
    await asyncio.to_thread(migrate, engine)
    running: list[projection.Projector] = []

    def lag() -> float | None:
        if not running:
            return None
        return float(sum(running[0].lag().values()))

    console = build_console(settings, engine, lag=lag)
    app = create_app(console)
    config = uvicorn.Config(
        app,
        host=settings.console_bind,
        port=settings.console_port,
        log_level=settings.log_level.lower(),
        access_log=False,  # the paths hold petition ids: the metrics count routes instead
    )
    server = uvicorn.Server(config)
    stop_metrics = (
        None
        if settings.console_metrics_port is None
        else console.metrics.serve(settings.console_bind, settings.console_metrics_port)
    )
    tasks = [asyncio.create_task(_keep_statistics(engine))]
    if project:
        tasks.append(asyncio.create_task(projection.run(settings, engine, started=running.append)))
    try:
        await server.serve()
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if stop_metrics is not None:
            await asyncio.to_thread(stop_metrics)
        engine.dispose()
