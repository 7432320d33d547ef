"""The faust application's configuration, and what the worker runs beside faust.

- :func:`faust_settings`: faust's configuration, the only place that knows how the broker kind
  changes it; :func:`attach_monitor` (faust's sensors in the hub's registry) and
  :func:`attach_calendar_check` (the next-year calendar gauge);
- :func:`stage_options`: what every batch stage shares (the agents build their stages with it);
  :func:`attach_stages`: the stages start and stop with the worker.

The hub's app, with its agents, stages, eraser and pages, is built by
:func:`petition_hub.service.worker.create_app`: this module imports no agent, so the agents can
import it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from mode import Service

from petition_hub.domain.calendar import WorkingCalendar, default_calendar
from petition_hub.domain.sla import SHANGHAI
from petition_hub.runtime.deadletter import seal, size_of
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.service import metrics
from petition_hub.service.crypto import cipher_for
from petition_hub.service.live import live_calendar
from petition_hub.service.security import aiokafka_options, faust_credentials
from petition_hub.service.settings import Settings
from petition_hub.topics import names

#: On Tansu a new group's join completes only after about half the session timeout (6 s -> 3 s,
#: faust's default 60 s -> 30 s per start). A short session timeout makes joins take about a
#: second; it is safe on a loopback broker where heartbeats are never late.
TANSU_SESSION_TIMEOUT = 2.0
TANSU_HEARTBEAT_INTERVAL = 0.4


#: The hub's own consumer groups (the stages) on Tansu: a longer session than faust's, so that
#: heartbeats hold on a loaded host (a join then takes about 2 s instead of 1 s: Tansu completes
#: a join after half the session); a stage stops producing once half of it passes without a
#: heartbeat (petition_hub.runtime.lease).
TANSU_STAGE_SESSION_TIMEOUT = 4.0


def stage_session(settings: Settings) -> tuple[float, float]:
    """(session timeout, heartbeat interval) in seconds for the hub's own consumer groups:
    several heartbeats within half a session (the stage's lease)."""
    if settings.embedded:
        return TANSU_STAGE_SESSION_TIMEOUT, 0.5
    return 10.0, 1.0


def stage_options(app: faust.App, settings: Settings) -> dict[str, Any]:
    """What every batch stage of the worker shares: the broker, its kind, the group session
    timing, the worker's event loop, and how its Kafka clients log in (SASL, TLS: the same
    principal as faust's own clients, :mod:`petition_hub.service.security`)."""
    session, heartbeat = stage_session(settings)
    return {
        "bootstrap": settings.bootstrap_servers(),
        "tansu": settings.embedded,
        "session_timeout": session,
        "heartbeat_interval": heartbeat,
        "loop": app.loop,
        "client_options": aiokafka_options(settings),
        "dead_letter": stage_dead_letter(settings),
    }


def stage_dead_letter(settings: Settings) -> Callable[[SourceRecord, str, str], Output]:
    """How a stage turns a record whose own output cannot be written into a dead letter: sealed
    with the PII key, truncated when it is over the size limit (so the letter can be written)."""
    cipher = cipher_for(settings)

    def dead_letter(src: SourceRecord, reason: str, message: str) -> Output:
        metrics.DEAD_LETTERS.labels("stage", reason).inc()
        key, value, headers = seal(
            src,
            "stage",
            reason,
            "OutputNotWritable",
            message,
            cipher,
            datetime.now(UTC),
            truncate=size_of(src) > settings.max_message_bytes,
        )
        return Output(names.DEADLETTER, key, value, headers)

    return dead_letter


def attach_stages(app: faust.App, stages: Sequence[Service]) -> None:
    """Start ``stages`` (and the other services of the data path, such as the eraser) with the
    worker (after faust's own start-up) and stop them with it."""

    async def start_stages() -> None:
        # together, not one after the other: each start creates its topics and joins its group
        # (about 2 s on Tansu, more on a loaded host), and ten of them in a row kept a worker
        # from being ready for half a minute
        await asyncio.gather(*(app.add_runtime_dependency(stage) for stage in stages))

    app.task(start_stages)


#: faust's own sensors (messages, events, sends, commits, rebalances, table operations, web
#: latency) are exported in the hub's registry under this prefix, so ``/metrics`` serves both.
FAUST_METRICS_PREFIX = "petition_hub_faust"

#: How often a worker sets whether next year's working-day calendar is known (seconds).
CALENDAR_CHECK_INTERVAL = 60.0


@lru_cache(maxsize=1)
def faust_metrics() -> FaustMetrics:
    """faust's sensor metrics in :data:`petition_hub.service.metrics.REGISTRY`
    (created once per process:
    a registry refuses a second metric of the same name, and ``dev`` may build several apps)."""
    return FaustMetrics.create(metrics.REGISTRY, FAUST_METRICS_PREFIX)


def attach_monitor(app: faust.App) -> None:
    """Record faust's own sensors in the hub's registry (served by the worker's ``/metrics``)."""
    app.monitor = PrometheusMonitor(metrics=faust_metrics())


def next_year_calendar_known(
    today: date | None = None, calendar: WorkingCalendar | None = None
) -> bool:
    """Whether the year after ``today`` (default: today in Beijing time) has an official
    working-day calendar in ``calendar`` (default: the packaged one): ``chinesecalendar``'s, or
    its notice transcribed in the override file. A provisional year (the law's statutory days,
    no 调休) is not known."""
    day = today or datetime.now(SHANGHAI).date()
    return (calendar or default_calendar()).year_status(day.year + 1).is_official


def update_calendar_gauge(
    today: date | None = None, calendar: WorkingCalendar | None = None
) -> bool:
    """Set ``petition_hub_calendar_next_year_available`` (1/0); returns whether it is known."""
    known = next_year_calendar_known(today, calendar)
    metrics.CALENDAR_NEXT_YEAR.set(1 if known else 0)
    return known


def attach_calendar_check(app: faust.App, settings: Settings) -> None:
    """Set the next-year calendar gauge when the worker starts, then every hour (from the
    calendar of ``HUB_CALENDAR_FILE``, which the stages keep current)."""

    async def check_calendar() -> None:
        update_calendar_gauge(calendar=live_calendar(settings.calendar_file).current())

    app.task(check_calendar)
    app.timer(CALENDAR_CHECK_INTERVAL)(check_calendar)


def faust_settings(settings: Settings, broker_url: str) -> dict[str, Any]:
    """Keyword arguments for :class:`faust.App` for this broker."""
    conf: dict[str, Any] = {
        "broker": broker_url,
        "store": "memory://",
        # topics.yaml owns the hub's topics (`topics apply`); faust still declares its own
        # changelog topics, each with the partition count of the table's source topic.
        # faust's leader topic (leader election for once-per-cluster timers) also keeps its
        # consumer subscribed while the data path runs on the hub's own batch stages
        "topic_disable_leader": False,
        "consumer_auto_offset_reset": "earliest",
        "producer_linger_ms": 5,
        "producer_max_batch_size": 512 * 1024,
        # a dead letter carries its original (up to 8 MiB, see topics.yaml), encrypted
        "producer_max_request_size": 16 * 1024 * 1024,
        "producer_acks": -1,
        "broker_commit_every": 2000,
        "broker_commit_interval": 1.0,
        "stream_buffer_maxsize": 8192,
        "web_enabled": True,
        "web_port": settings.metrics_port,
        # HUB_BIND on every broker kind (loopback by default; compose binds 0.0.0.0 on its network)
        "web_bind": settings.bind,
        "web_host": "127.0.0.1",
        "datadir": str(settings.data_dir / "faust"),
        "table_cleanup_interval": 30.0,
    }
    # the worker's own consumer, producer and topic creation log in as the stages do
    credentials = faust_credentials(settings)
    if credentials is not None:
        conf["broker_credentials"] = credentials
    if broker_url.startswith("tansu://"):
        conf["broker_session_timeout"] = TANSU_SESSION_TIMEOUT
        conf["broker_heartbeat_interval"] = TANSU_HEARTBEAT_INTERVAL
        conf["broker_rebalance_timeout"] = 10.0
    return conf
