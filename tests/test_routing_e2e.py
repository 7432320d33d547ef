"""Routing end to end: three channels in, the right unit topics out, decoded as a unit would.

The unit topics are read with confluent-kafka's own ``AvroDeserializer`` against the hub's
read-only Schema Registry endpoints (served by the worker). Where each petition must go is the
pure router's decision (its agreement with a labelled corpus is tested in test_routing.py); here
the point is that the running hub delivers exactly those decisions, with the right payloads, and
that the office's triage decisions route what the rules could not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from hubtest import Record, WorkerProcess, metric_sum, produce, read_topic, wait_until
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.corpus import generate_all, load_samples
from petition_hub.domain.petition import Petition
from petition_hub.domain.routing import route
from petition_hub.domain.rules import default_rules
from petition_hub.settings import PROJECT_ROOT
from petition_hub.topics import load_topics

pytestmark = [pytest.mark.broker, pytest.mark.slow]

OUT_TOPICS = [
    t.name
    for t in load_topics(PROJECT_ROOT / "topics.yaml").topics
    if t.name.endswith(".petitions") and t.name != "hub.petitions"
] + ["hub.triage", "province.transfers", "province.feedback"]


def _messages() -> list[tuple[str, bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]]:
    samples = [(s.topic, s.key, s.value, s.headers) for s in load_samples().values()]
    generated = [
        (i.topic, i.key, i.value, i.headers)
        for i in generate_all(60, seed=33, broken_every=10**9)
        if i.expected == "petition"
    ]
    latest: dict[bytes | None, Any] = {}
    for m in samples + generated:  # one publication per reference: edits route by revision
        latest[m[1]] = m
    return list(latest.values())


def _expected(petitions: list[Petition]) -> Counter[tuple[str, str]]:
    rules = default_rules()
    want: Counter[tuple[str, str]] = Counter()
    for p in petitions:
        d = route(p, rules)
        for topic in d.topics:
            key = p.petition_id
            if d.kind == "province_transfer":
                key = f"410400-{p.petition_id}"
            elif d.kind == "province_return":
                key = p.channel_ref
            want[(topic, key)] += 1
    return want


def test_three_channels_to_unit_topics(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    messages = _messages()
    petitions = [PETITION_DECODERS[t](k, v, h) for t, k, v, h in messages]
    assert {p.channel.value for p in petitions} == {"hotline", "miniprogram", "province"}
    worker = start_worker(hub_topics)
    for topic in {m[0] for m in messages}:
        produce(hub_topics.bootstrap, topic, [(k, v, h) for t, k, v, h in messages if t == topic])
    wait_until(
        lambda: (
            metric_sum(worker.metrics(), "petition_hub_routing_decisions_total") >= len(petitions)
        ),
        90,
        what="every petition routed",
    )
    want = _expected(petitions)
    got_records = read_topic(hub_topics.bootstrap, OUT_TOPICS, min_count=sum(want.values()))
    got = Counter((r.topic, (r.key or b"").decode()) for r in got_records)
    assert got == want
    kinds = {t.split(".")[0] for t, _ in want}
    assert {"dept", "county", "hub", "province"} <= kinds  # every kind of destination occurs

    registry = SchemaRegistryClient({"url": worker.url})
    deserialize = AvroDeserializer(registry)
    by_id = {p.petition_id: p for p in petitions}
    rules_versions = set()
    for r in got_records:
        if not r.topic.endswith(".petitions") and r.topic != "hub.triage":
            continue
        unit_view = deserialize(r.value, SerializationContext(r.topic, MessageField.VALUE))
        assert isinstance(unit_view, dict)
        p = by_id[unit_view["petitionId"]]
        assert unit_view["channelRef"] == p.channel_ref  # what the unit quotes to the petitioner
        assert unit_view["content"] == p.content
        assert unit_view["receivedAt"] == p.received_at
        if unit_view["identityWithheld"]:
            assert unit_view["contactPhone"] is None and unit_view["contactName"] is None
            assert unit_view["enterpriseName"] is None or not unit_view["sensitive"]
        else:
            assert unit_view["contactPhone"] == p.petitioner.phone
        role = unit_view["role"]
        assert role == ("TRIAGE" if r.topic == "hub.triage" else role)
        if role == "LEAD":
            assert r.topic == route(p, default_rules()).topics[0]
            assert unit_view["resolveDeadline"] is None or unit_view["resolveDeadline"] > (
                p.received_at
            )
        rules_versions.add(unit_view["rulesVersion"])
        assert unit_view["explanation"].startswith(f"Petition {p.petition_id}")
    assert rules_versions == {default_rules().version}

    # the province gets its dispatches back when they are not this city's
    for r in got_records:
        if r.topic == "province.feedback":
            sid, feedback = schemas.decode(r.value or b"")
            assert sid == 201 and feedback["status"] == "RETURNED" and feedback["message"]


def test_office_decision_routes_a_triaged_petition(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    sample = load_samples()["miniprogram-v1-individual.json"]  # no theme matches: triage
    petition = PETITION_DECODERS[sample.topic](sample.key, sample.value, sample.headers)
    worker = start_worker(hub_topics)
    produce(hub_topics.bootstrap, sample.topic, [(sample.key, sample.value, sample.headers)])
    triaged = read_topic(hub_topics.bootstrap, "hub.triage", min_count=1, timeout=60)
    assert [(r.key or b"").decode() for r in triaged] == [petition.petition_id]

    def decision(pid: str, lead: str) -> bytes:
        return schemas.encode(
            "cn.gov.pds.hub.OfficeDecision.v1",
            {
                "petitionId": pid,
                "kind": "TRIAGE_ROUTE",
                "leadUnit": lead,
                "coUnits": [],
                "decidedBy": "联席会议办公室",
                "decidedAt": datetime.now(UTC),
            },
        )

    produce(
        hub_topics.bootstrap,
        "office.decisions",
        [
            (petition.petition_id.encode(), decision(petition.petition_id, "TRANSPORT"), ()),
            (b"PH-NOSUCHPETITION", decision("PH-NOSUCHPETITION", "TRANSPORT"), ()),
        ],
    )
    routed: list[Record] = read_topic(
        hub_topics.bootstrap, "dept.TRANSPORT.petitions", min_count=1, timeout=60
    )
    assert [(r.key or b"").decode() for r in routed] == [petition.petition_id]
    rejects = read_topic(hub_topics.bootstrap, "hub.rejects", min_count=1, timeout=30)
    _, reject = schemas.decode(rejects[0].value or b"")
    assert reject["reason"] == "unknown_petition" and reject["petitionId"] == "PH-NOSUCHPETITION"
    assert worker.health()["ready"]
