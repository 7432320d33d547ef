"""The hub's Prometheus metrics, in one registry, served at ``/metrics`` by the worker.

Names follow Prometheus conventions (``petition_hub_`` prefix, ``_total`` counters, base units);
labels are bounded (channel, reason, unit, type): never a petition id or anything personal.
Counters are per process and restart at zero, which ``rate()``/``increase()`` handle.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series double the exposition and no rule uses them

REGISTRY = CollectorRegistry(auto_describe=True)

RECEIVED = Counter(
    "petition_hub_intake_messages_total",
    "Messages read from a channel topic, by channel.",
    ["channel"],
    registry=REGISTRY,
)
ACCEPTED = Counter(
    "petition_hub_petitions_received_total",
    "Canonical petitions accepted at intake (new petitions and edits), by channel.",
    ["channel", "kind"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "petition_hub_dead_letters_total",
    "Messages that could not be taken in and went to hub.deadletter, by channel and reason.",
    ["channel", "reason"],
    registry=REGISTRY,
)
STAGE_RECORDS = Counter(
    "petition_hub_stage_records_total",
    "Records a batch stage processed and committed, by stage.",
    ["stage"],
    registry=REGISTRY,
)
STAGE_BATCH_SECONDS = Histogram(
    "petition_hub_stage_batch_seconds",
    "Time to process a batch and have every output acknowledged by the broker, by stage.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)


CONSUMER_LAG = Gauge(
    "petition_hub_consumer_lag_records",
    "Records not yet processed by a stage (fetch high watermark minus position), by stage and "
    "topic, summed over the partitions this worker holds.",
    ["stage", "topic"],
    registry=REGISTRY,
)
ROUTING_LATENCY = Histogram(
    "petition_hub_routing_latency_seconds",
    "Time from a petition's intake (its hub.petitions record) to its routing records being sent.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
ROUTED = Counter(
    "petition_hub_routing_decisions_total",
    "Routing decisions by channel and kind (units, triage, province_transfer, province_return).",
    ["channel", "kind"],
    registry=REGISTRY,
)
UNIT_ROUTED = Counter(
    "petition_hub_routed_total",
    "Petitions sent to a unit's topic, by unit and role (lead, co_handler).",
    ["unit", "role"],
    registry=REGISTRY,
)
RETURNED = Counter(
    "petition_hub_returned_total",
    "Petitions a unit returned as not its own (re-routed without it), by unit.",
    ["unit"],
    registry=REGISTRY,
)
REJECTS = Counter(
    "petition_hub_rejects_total",
    "Events not applied (hub.rejects), by source topic and reason.",
    ["topic", "reason"],
    registry=REGISTRY,
)
RULES_INFO = Gauge(
    "petition_hub_rules_info",
    "The routing rules version in force (1) and earlier ones (0).",
    ["version"],
    registry=REGISTRY,
)
CALENDAR_MISSING = Gauge(
    "petition_hub_calendar_year_missing",
    "1 when a deadline needed a year whose official working-day calendar is not available.",
    ["year"],
    registry=REGISTRY,
)


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
