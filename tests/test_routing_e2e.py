"""Routing end to end: three channels in, the right unit topics out, decoded as a unit would.

The unit topics are read with confluent-kafka's own ``AvroDeserializer`` against the hub's
read-only Schema Registry endpoints (served by the worker). Where each petition must go is the
pure router's decision (its agreement with a labelled corpus is tested in test_routing.py); here
the point is that the running hub delivers exactly those decisions, with the right payloads, and
that the office's triage decisions route what the rules could not.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from hubtest import (
    Record,
    WorkerProcess,
    metric_sum,
    produce,
    read_topic,
    set_clock,
    wait_until,
)
from petition_hub import schemas
from petition_hub.agents.routing import LiveRules
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.devtools.corpus import generate_all
from petition_hub.domain.petition import Petition
from petition_hub.domain.routing import route
from petition_hub.domain.rules import default_rules
from petition_hub.service.settings import PROJECT_ROOT
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
    # what operators see: every routing timed from intake, nothing left behind
    exposition = worker.metrics()
    assert metric_sum(exposition, "petition_hub_routing_latency_seconds_count") == len(petitions)
    wait_until(
        lambda: (
            metric_sum(worker.metrics(), "petition_hub_consumer_lag_records", stage="routing") == 0
        ),
        30,
        what="routing lag 0",
    )
    assert 'petition_hub_consumer_lag_records{stage="intake-hotline"' in exposition

    want = _expected(petitions)
    got_records = _routing_records(
        read_topic(hub_topics.bootstrap, OUT_TOPICS, min_count=sum(want.values()))
    )
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
        else:
            assert unit_view["contactPhone"] == p.petitioner.phone
        # the enterprise is no personal data: it travels unless the theme is sensitive
        ent = None if unit_view["sensitive"] or p.enterprise is None else p.enterprise
        assert unit_view["enterpriseName"] == (ent.name if ent else None)
        assert unit_view["enterpriseUscc"] == (ent.uscc if ent else None)
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

    # the lifecycle learns of every decision, without personal data
    routed = read_topic(hub_topics.bootstrap, f"{worker.app_id}-routed", min_count=len(petitions))
    assert len(routed) == len(petitions)
    for r in routed:
        sid, rec = schemas.decode(r.value or b"")
        d = route(by_id[rec["petitionId"]], default_rules())
        assert rec["kind"] == d.kind.upper()
        assert rec["lead"] == (d.lead.key if d.lead else None)

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
    routed: list[Record] = _routing_records(
        read_topic(hub_topics.bootstrap, "dept.TRANSPORT.petitions", min_count=1, timeout=60)
    )
    assert [(r.key or b"").decode() for r in routed] == [petition.petition_id]
    rejects = read_topic(hub_topics.bootstrap, "hub.rejects", min_count=1, timeout=30)
    _, reject = schemas.decode(rejects[0].value or b"")
    assert reject["reason"] == "unknown_petition" and reject["petitionId"] == "PH-NOSUCHPETITION"
    assert worker.health()["ready"]


def _routing_records(records: list[Record]) -> list[Record]:
    """Routing's own records: without the lifecycle's notices to units (``UnitNotice``) and
    its progress reports to the province (every status but RETURNED)."""
    kept = []
    for r in records:
        sid, body = schemas.decode(r.value or b"")
        if schemas.record_name(sid) == "cn.gov.pds.hub.UnitNotice":
            continue
        if r.topic == "province.feedback" and body["status"] != "RETURNED":
            continue
        kept.append(r)
    return kept


def _status(pid: str, kind: str, at: datetime, note: str | None = None) -> bytes:
    return schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v1",
        {"petitionId": pid, "kind": kind, "at": at, "note": note},
    )


def _leads(bootstrap: str, pid: str, count: int) -> list[str]:
    """The lead units a petition was sent to, in order, once ``count`` lead records exist."""
    leads = []
    for r in _routing_records(read_topic(bootstrap, OUT_TOPICS, timeout=5)):
        if (r.key or b"").decode() != pid or not r.topic.endswith(".petitions"):
            continue
        view = schemas.decode(r.value or b"")[1]
        if view["role"] == "LEAD":
            leads.append((view["routedAt"], r.topic))
    return [t for _, t in sorted(leads)] if len(leads) >= count else []


def test_a_unit_returns_a_petition_and_it_is_routed_without_it(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    sample = load_samples()["miniprogram-v2-enterprise.json"]
    petition = PETITION_DECODERS[sample.topic](sample.key, sample.value, sample.headers)
    pid = petition.petition_id
    first_lead = route(petition, default_rules()).lead
    assert first_lead is not None
    second = route(petition, default_rules(), exclude=frozenset([first_lead.key]))
    assert second.kind == "units" and second.lead is not None  # the case this test is about
    clock = tmp_path / "clock"
    now = set_clock(clock, datetime.now(UTC))
    start_worker(hub_topics, HUB_CLOCK_FILE=str(clock))
    produce(hub_topics.bootstrap, sample.topic, [(sample.key, sample.value, sample.headers)])
    first = wait_until(lambda: _leads(hub_topics.bootstrap, pid, 1), 60, what="first routing")
    assert first == [first_lead.topic]

    produce(
        hub_topics.bootstrap,
        f"{first_lead.key}.status",
        [(pid.encode(), _status(pid, "RETURNED", now, "不属本单位职责"), ())],
    )
    leads = wait_until(lambda: _leads(hub_topics.bootstrap, pid, 2), 60, what="re-routing")
    assert leads == [first_lead.topic, second.lead.topic]
    again = [
        r for r in read_topic(hub_topics.bootstrap, second.lead.topic) if r.key == pid.encode()
    ]
    view = schemas.decode(again[-1].value or b"")[1]
    assert view["excludedUnits"] == [first_lead.key]
    assert view["receivedAt"] == petition.received_at  # the original receipt time is kept

    # the first unit is no handler any more, and a return after the sign-for window is too late:
    # both rejected with their reason, nothing routed again
    produce(
        hub_topics.bootstrap,
        f"{first_lead.key}.status",
        [(pid.encode(), _status(pid, "RETURNED", now), ())],
    )
    late = set_clock(clock, now + timedelta(days=30))  # a month later, by the hub's clock too
    produce(
        hub_topics.bootstrap,
        f"{second.lead.key}.status",
        [(pid.encode(), _status(pid, "RETURNED", late), ())],
    )
    rejects = read_topic(hub_topics.bootstrap, "hub.rejects", min_count=2, timeout=60)
    reasons = sorted(schemas.decode(r.value or b"")[1]["reason"] for r in rejects)
    assert reasons == ["not_a_handler", "return_window_passed"]
    assert len(_leads(hub_topics.bootstrap, pid, 2)) == 2


def test_a_new_rules_version_is_picked_up_without_a_restart(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    themes = (PROJECT_ROOT / "petition_hub" / "data" / "themes.yaml").read_text(encoding="utf-8")
    (rules_dir / "themes.yaml").write_text("version: test-1\n" + themes, encoding="utf-8")
    worker = start_worker(hub_topics, HUB_RULES=str(rules_dir))
    items = [i for i in generate_all(20, seed=44, broken_every=10**9) if i.channel == "hotline"][:2]

    def versions() -> set[str]:
        out = set()
        for r in read_topic(hub_topics.bootstrap, OUT_TOPICS, timeout=5):
            if r.topic.endswith(".petitions") or r.topic == "hub.triage":
                out.add(schemas.decode(r.value or b"")[1]["rulesVersion"])
        return out

    produce(
        hub_topics.bootstrap, items[0].topic, [(items[0].key, items[0].value, items[0].headers)]
    )
    wait_until(lambda: versions() == {"test-1"}, 60, what="routing with test-1")
    (rules_dir / "themes.yaml").write_text("version: test-2\n" + themes, encoding="utf-8")
    time.sleep(LiveRules(None).every + 0.5)  # the worker looks at the file at most this often
    produce(
        hub_topics.bootstrap, items[1].topic, [(items[1].key, items[1].value, items[1].headers)]
    )
    wait_until(lambda: versions() == {"test-1", "test-2"}, 60, what="routing with test-2")
    assert 'petition_hub_rules_info{version="test-2"} 1.0' in worker.metrics()
