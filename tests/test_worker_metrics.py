"""The worker's registry: faust's own sensors beside the hub's metrics, and the next-year calendar
gauge the "calendar missing by 1 December" alert reads (no broker: the app is only built)."""

from __future__ import annotations

from datetime import date

from faust.sensors.prometheus import PrometheusMonitor
from prometheus_client.parser import text_string_to_metric_families

from hubtest import TEST_PII_KEY
from petition_hub.domain.calendar import (
    OFFICIAL_YEARS,
    CalendarOverrides,
    WorkingCalendar,
    YearOverride,
    YearStatus,
)
from petition_hub.service import metrics
from petition_hub.service.app import (
    FAUST_METRICS_PREFIX,
    next_year_calendar_known,
    update_calendar_gauge,
)
from petition_hub.service.settings import Settings
from petition_hub.service.worker import create_app


def _names() -> set[str]:
    body, _ = metrics.exposition()
    return {family.name for family in text_string_to_metric_families(body.decode())}


def test_faust_sensors_in_the_hub_registry() -> None:
    # never connected: the app is only built (with the tests' dead-letter key, as every worker)
    settings = Settings(broker="tansu://127.0.0.1:9", pii_key=TEST_PII_KEY)
    first = create_app(settings)
    second = create_app(settings)  # `dev` and the bench may build several apps in one process
    assert isinstance(first.monitor, PrometheusMonitor)
    assert isinstance(second.monitor, PrometheusMonitor)
    names = _names()
    faust_names = {n for n in names if n.startswith(FAUST_METRICS_PREFIX + "_")}
    # counters are named without _total in the exposition's family names
    assert {
        "petition_hub_faust_messages_received",
        "petition_hub_faust_topic_messages_sent",
        "petition_hub_faust_total_rebalances",
        "petition_hub_faust_consumer_commit_latency",
    } <= faust_names
    # besides the hub's, only the client library's standard collectors' (process_*, python_*)
    standard = {m.name for c in metrics.STANDARD_COLLECTORS for m in c.collect()}
    assert {"process_resident_memory_bytes", "python_info", "python_gc_objects_collected"} <= (
        standard
    )
    assert all(n.startswith("petition_hub_") or n in standard for n in names), sorted(
        n for n in names if not n.startswith("petition_hub_") and n not in standard
    )
    assert "petition_hub_intake_messages" in names  # the hub's own are still there


def _sample(name: str) -> float:
    body, _ = metrics.exposition()
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not exported")


def test_next_year_calendar_official() -> None:
    last = OFFICIAL_YEARS.stop - 1
    assert next_year_calendar_known(date(last - 1, 12, 1), WorkingCalendar())
    assert update_calendar_gauge(date(last - 1, 12, 1), WorkingCalendar())
    assert _sample("petition_hub_calendar_next_year_available") == 1.0


def test_next_year_calendar_missing_then_transcribed() -> None:
    last = OFFICIAL_YEARS.stop - 1
    after = last + 1
    assert not next_year_calendar_known(date(last, 12, 1), WorkingCalendar())
    assert not update_calendar_gauge(date(last, 12, 1), WorkingCalendar())
    assert _sample("petition_hub_calendar_next_year_available") == 0.0

    # a provisional year (the law's statutory days) is not official
    assert WorkingCalendar().year_status(after) is YearStatus.PROVISIONAL

    notice = CalendarOverrides(
        years={after: YearOverride(notice="国务院办公厅关于部分节假日安排的通知")}
    )
    assert update_calendar_gauge(date(last, 12, 1), WorkingCalendar(notice))
    assert _sample("petition_hub_calendar_next_year_available") == 1.0
