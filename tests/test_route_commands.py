"""The lifecycle's commands to routing (``hub.reroute``), without a broker: the record, what the
lifecycle writes, what routing does with it, and a unit's return carried round the loop
(status -> lifecycle -> command -> routing -> routed -> lifecycle)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from hubtest import pii_cipher
from petition_hub import schemas
from petition_hub.agents import intake
from petition_hub.agents.intake import PETITIONS_TOPIC, IntakeProcessor
from petition_hub.agents.lifecycle import LifecycleProcessor
from petition_hub.agents.rekeyers import UNIT_HEADER
from petition_hub.agents.route_commands import (
    RouteCommand,
    command,
    commands_of,
    read,
)
from petition_hub.agents.routing import LiveRules, RoutingProcessor
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.domain.lifecycle import (
    LifecycleState,
    RoutingRequested,
    SlaSignal,
    SlaSignalKind,
    StateChanged,
)
from petition_hub.domain.petition import Petition
from petition_hub.domain.routing import route
from petition_hub.domain.rules import default_rules
from petition_hub.domain.sla import ClockKind
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec
from petition_hub.service.settings import PROJECT_ROOT
from petition_hub.topics import load_topics
from petition_hub.topics.names import (
    CO_PARTITIONED_TOPICS,
    LATER_HUB_TOPICS,
    LIFECYCLE,
    PETITIONS,
    PRIVACY,
    REJECTS,
    REROUTE,
)

ROUTED = "app-routed"
STATUS = "app-unit-status-repartition"
T = datetime(2026, 11, 18, 1, 0, tzinfo=UTC)  # a Wednesday, 09:00 in Beijing


def _sample() -> tuple[Petition, bytes]:
    """A petition the rules route to a unit, and routed to another one without it; its
    ``hub.petitions`` record as intake writes it."""
    sample = load_samples()["miniprogram-v2-enterprise.json"]
    petition = PETITION_DECODERS[sample.topic](sample.key, sample.value, sample.headers)
    channel = next(c for c in intake.channels() if c.topic == sample.topic)
    src = SourceRecord(sample.topic, 0, 0, sample.key, sample.value, tuple(sample.headers))
    out = IntakeProcessor(channel, pii_cipher(), clock=lambda: T)(src, PartitionState())
    assert [o.topic for o in out] == [PETITIONS_TOPIC]
    return petition, out[0].value or b""


def _router(now: datetime = T) -> RoutingProcessor:
    return RoutingProcessor(LiveRules(None), "410400", ROUTED, clock=lambda: now)


def _lifecycle(now: datetime = T) -> tuple[LifecycleProcessor, PartitionState]:
    p = LifecycleProcessor(
        rules=default_rules(),
        city="410400",
        routed=ROUTED,
        statuses=STATUS,
        evaluations="app-evaluations-repartition",
        unit_topics=frozenset(),
        clock=lambda: now,
    )
    state = PartitionState()
    p.restored(0, state)
    return p, state


def _source(out: Output, offset: int = 0) -> SourceRecord:
    return SourceRecord(out.topic, 0, offset, out.key, out.value, tuple(out.headers))


def _decoded(outputs: Sequence[Output], topic: str) -> list[dict[str, Any]]:
    return [dict(schemas.decode(o.value or b"")[1]) for o in outputs if o.topic == topic]


def test_a_command_reads_back_as_written() -> None:
    returned = RouteCommand("PH-1", "RETURNED", T, "dept.TAX")
    out = command(returned)
    assert (out.topic, out.key) == (REROUTE, b"PH-1")
    assert schemas.decode(out.value or b"")[0] == schemas.schema_id(codec.ROUTE_COMMAND_V1)
    assert read(out.value or b"") == returned
    closed = RouteCommand("PH-1", "CLOSED", T)
    assert read(command(closed).value or b"") == closed


def test_the_command_topic_is_declared_and_co_partitioned() -> None:
    assert REROUTE in LATER_HUB_TOPICS and REROUTE in CO_PARTITIONED_TOPICS
    spec = {t.name: t for t in load_topics(PROJECT_ROOT / "topics.yaml").topics}
    assert spec[REROUTE].partitions == spec[PETITIONS].partitions


def test_only_a_return_and_a_closure_are_commands() -> None:
    returned = RoutingRequested(
        petition_id="PH-1", at=T, exclude_units=("dept.A", "dept.B"), reason="not ours"
    )
    assert [read(o.value or b"") for o in commands_of(returned)] == [
        RouteCommand("PH-1", "RETURNED", T, "dept.B")  # the last one to return it
    ]
    closed = StateChanged(
        petition_id="PH-1",
        at=T,
        from_state=LifecycleState.EVALUATED,
        to_state=LifecycleState.CLOSED,
        cause="rated",
    )
    assert [read(o.value or b"") for o in commands_of(closed)] == [
        RouteCommand("PH-1", "CLOSED", T)
    ]
    signed = closed.model_copy(update={"to_state": LifecycleState.SIGNED_FOR})
    signal = SlaSignal(
        petition_id="PH-1", at=T, clock=ClockKind.SIGN_FOR, signal=SlaSignalKind.STARTED
    )
    assert commands_of(signed) == [] and commands_of(signal) == []


def test_a_return_goes_round_the_loop_once_and_routing_owns_the_exclusions() -> None:
    petition, value = _sample()
    pid = petition.petition_id
    first = route(petition, default_rules()).lead
    assert first is not None
    second = route(petition, default_rules(), exclude=frozenset([first.key])).lead
    assert second is not None and second.key != first.key

    router, routing_state = _router(), PartitionState()
    routed = router(SourceRecord(PETITIONS, 0, 5, pid.encode(), value), routing_state)
    lifecycle, lifecycle_state = _lifecycle()
    to_routing = [o for o in routed if o.topic == ROUTED]
    out = lifecycle(_source(to_routing[0]), lifecycle_state)
    assert [r["toState"] for r in _decoded(out, LIFECYCLE)] == ["received", "routed"]
    assert _decoded(out, REROUTE) == []  # nothing for routing to do

    status = schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v1",
        {"petitionId": pid, "kind": "RETURNED", "at": T + timedelta(hours=1), "note": "不属"},
    )
    returned = lifecycle(
        SourceRecord(STATUS, 0, 0, pid.encode(), status, ((UNIT_HEADER, first.key.encode()),)),
        lifecycle_state,
    )
    # hub.lifecycle still says it, for its readers; routing is told on its own topic, once
    assert [r["kind"] for r in _decoded(returned, LIFECYCLE)][-1] == "routing_requested"
    commands = [o for o in returned if o.topic == REROUTE]
    assert len(commands) == 1 and commands[0].event_id
    assert read(commands[0].value or b"") == RouteCommand(
        pid, "RETURNED", T + timedelta(hours=1), first.key
    )

    again = router(_source(commands[0], 0), routing_state)
    assert next(o.topic for o in again if o.topic.endswith(".petitions")) == second.topic
    assert _decoded(again, ROUTED)[0]["excluded"] == [first.key]
    assert router(_source(commands[0], 0), routing_state) == []  # a replay: routed already

    rerouted = lifecycle(_source(next(o for o in again if o.topic == ROUTED), 1), lifecycle_state)
    changes = [(r["toState"], r["leadUnit"]) for r in _decoded(rerouted, LIFECYCLE)]
    assert changes == [("routed", second.key)]


def test_a_closure_drops_the_petition_and_starts_its_retention() -> None:
    petition, value = _sample()
    pid = petition.petition_id
    router, state = _router(), PartitionState()
    router(SourceRecord(PETITIONS, 0, 5, pid.encode(), value), state)
    assert b"p:" + pid.encode() in state
    closed = command(RouteCommand(pid, "CLOSED", T))
    assert router(_source(closed), state) == []
    assert b"p:" + pid.encode() not in state  # the petition itself is not needed any more
    later = _router(T + router.retention + timedelta(seconds=1))
    later.restored(0, state)
    due = _decoded(later.tick(0, state), PRIVACY)
    assert [(d["petitionId"], d["kind"], d["reason"]) for d in due] == [
        (pid, "ERASURE_DUE", "RETENTION")
    ]


def test_a_command_routing_cannot_apply_is_rejected_with_why() -> None:
    router, state = _router(), PartitionState()
    unknown = command(RouteCommand("PH-NOPE", "RETURNED", T, "dept.TAX"))
    rejects = _decoded(router(_source(unknown), state), REJECTS)
    assert [(r["sourceTopic"], r["reason"]) for r in rejects] == [(REROUTE, "unknown_petition")]
    garbage = SourceRecord(REROUTE, 0, 1, b"PH-X", b"not avro")
    rejects = _decoded(router(garbage, state), REJECTS)
    assert [(r["sourceTopic"], r["reason"]) for r in rejects] == [(REROUTE, "undecodable_command")]


def test_routing_latency_is_wall_time_whatever_the_business_clock() -> None:
    """``petition_hub_routing_latency_seconds`` is the wall time since the petition's record was
    written, not the hub's clock (issue 16: with ``HUB_CLOCK_FILE`` set it read 0)."""
    import time

    from petition_hub.service import metrics

    _, value = _sample()
    before = metrics.REGISTRY.get_sample_value("petition_hub_routing_latency_seconds_sum") or 0.0
    written = int((time.time() - 30) * 1000)  # the record was written 30 s ago
    src = SourceRecord(PETITIONS, 0, 0, b"k", value, timestamp_ms=written)
    assert _router(now=T - timedelta(days=400))(src, PartitionState())
    took = (
        metrics.REGISTRY.get_sample_value("petition_hub_routing_latency_seconds_sum") or 0.0
    ) - before
    assert 30 <= took < 300, f"expected about 30 s of routing latency, found {took:.1f} s"
