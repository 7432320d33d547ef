"""A unit as its developers would write it: confluent-kafka's Consumer and Producer with Confluent's
AvroDeserializer and AvroSerializer at their default settings, against the hub's registry.

- The worker's built-in registry: the unit reads every record type on its ``.petitions`` topic
  (``UnitPetition`` and ``UnitNotice``), and writes a status event on its ``.status`` topic that
  the hub applies (``hub.lifecycle``, read the same way).
- A registry that assigns its own ids (``petition-hub schemas serve --assign-ids``), the worker
  pointed at it with ``HUB_SCHEMA_REGISTRY_URL``: the hub registers at start and frames its
  records with the ids it was given (none of the fixed ones), the unit decodes them through that
  registry, and the hub applies the unit's status framed with that registry's id.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from hubtest import WorkerProcess, court_dispatch, http_json, produce, set_clock, stop_process
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker, free_port
from petition_hub.domain.petition import Channel, petition_id_for
from petition_hub.schemas import ids
from petition_hub.service.settings import PROJECT_ROOT
from petition_hub.topics import load_topics

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
UNIT = "dept.COURT"
PETITIONS, STATUS = f"{UNIT}.petitions", f"{UNIT}.status"
TOPICS = {t.name: t for t in load_topics(PROJECT_ROOT / "topics.yaml").topics}
RECEIVED = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)  # a Monday


def _unit_reads(
    bootstrap: str, topic: str, registry_url: str, key: bytes, done: Callable[[list[Any]], bool]
) -> list[tuple[int, dict[str, Any]]]:
    """(schema id, record) of ``key``'s records on ``topic``, read by a unit's confluent-kafka
    consumer and decoded by a default AvroDeserializer, once ``done`` says there are enough."""
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry_url}))
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"unit-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
        }
    )
    parts = range(TOPICS[topic].partitions)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    found: list[tuple[int, dict[str, Any]]] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not done(found):
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None or msg.key() != key:
                continue
            value = msg.value()
            assert value is not None
            record = deserialize(value, SerializationContext(topic, MessageField.VALUE))
            assert isinstance(record, dict)
            found.append((schemas.split_header(value)[0], record))
    finally:
        consumer.close()
    assert done(found), f"{topic}: only {found}"
    return found


def _unit_writes_status(bootstrap: str, registry_url: str, pid: str, kind: str) -> int:
    """A status event by the unit's confluent-kafka producer, with a default AvroSerializer of the
    schema its ``.status`` subject has; returns the schema id it framed the event with."""
    client = SchemaRegistryClient({"url": registry_url})
    schema = client.get_latest_version(f"{STATUS}-value").schema.schema_str
    serialize = AvroSerializer(client, schema)  # default settings: auto.register.schemas
    event = {"petitionId": pid, "kind": kind, "at": RECEIVED + timedelta(days=2)}
    value = serialize(event, SerializationContext(STATUS, MessageField.VALUE))
    assert value is not None
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    producer.produce(STATUS, key=pid.encode(), value=value)
    assert producer.flush(30) == 0
    return schemas.split_header(value)[0]


def _records(found: list[tuple[int, dict[str, Any]]], registry_url: str) -> set[str]:
    """The records (Avro full names) of what a unit read, as the registry names their ids."""
    client = SchemaRegistryClient({"url": registry_url})
    names = set()
    for sid, _ in found:
        schema = json.loads(client.get_schema(sid).schema_str or "{}")
        names.add(f"{schema['namespace']}.{schema['name']}")
    return names


def _signed_for(found: list[Any]) -> bool:
    return any(r.get("toState") == "signed_for" for _, r in found)


def _play(
    broker: EmbeddedBroker, registry_url: str, clock: Path, dispatch_id: str
) -> dict[str, Any]:
    """A dispatch the hub routes to the court, a day and a half without its sign-for (the ladder's
    notices), then the unit reads its topic and signs for it; what the unit and the hub wrote."""
    pid = petition_id_for(Channel.PROVINCE, dispatch_id)
    set_clock(clock, RECEIVED + timedelta(minutes=5))
    dispatch = court_dispatch(dispatch_id, RECEIVED)
    produce(broker.bootstrap, "province.dispatch", [(dispatch_id.encode(), dispatch, ())])
    _unit_reads(broker.bootstrap, PETITIONS, registry_url, pid.encode(), lambda f: len(f) >= 1)
    set_clock(clock, RECEIVED + timedelta(days=2))  # past the sign-for deadline: notices
    unit_view = _unit_reads(
        broker.bootstrap,
        PETITIONS,
        registry_url,
        pid.encode(),
        lambda f: len(_records(f, registry_url)) == 2,
    )
    status_id = _unit_writes_status(broker.bootstrap, registry_url, pid, "SIGNED_FOR")
    lifecycle = _unit_reads(
        broker.bootstrap, "hub.lifecycle", registry_url, pid.encode(), _signed_for
    )
    return {"unit_view": unit_view, "status_id": status_id, "lifecycle": lifecycle}


def test_a_unit_with_default_settings_reads_its_topic_and_its_status_is_applied(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    set_clock(clock, RECEIVED)
    worker = start_worker(hub_topics, HUB_CLOCK_FILE=str(clock), HUB_LIFECYCLE_PARK_SECONDS="2")
    played = _play(hub_topics, worker.url, clock, "HA-20260601-000071")
    # every record type topics.yaml gives the unit's topic, decoded through the registry
    assert _records(played["unit_view"], worker.url) == set(TOPICS[PETITIONS].schemas)
    # UnitPetition v1-v3 and UnitNotice v1-v3 (the hub writes v3 of both)
    assert {sid for sid, _ in played["unit_view"]} <= {1010, 1017, 1018, 1019, 1027, 1031}
    # the unit's serializer takes its subject's latest schema: UnitStatus.v4
    assert played["status_id"] == ids.FIXED_IDS["cn.gov.pds.hub.UnitStatus.v4"]
    kinds = [(r["kind"], r["fromState"], r["toState"]) for _, r in played["lifecycle"]]
    assert ("state_changed", "routed", "signed_for") in kinds


@pytest.fixture
def assigning_registry(tmp_path: Path) -> Iterator[str]:
    """``petition-hub schemas serve --assign-ids`` on a free loopback port."""
    port = free_port()
    log = (tmp_path / "registry.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "petition_hub",
            "schemas",
            "serve",
            "--assign-ids",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if http_json(url + "/subjects")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        stop_process(proc)
        log.close()


def test_the_hub_registers_with_a_registry_that_assigns_its_own_ids(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    assigning_registry: str,
    tmp_path: Path,
) -> None:
    clock = tmp_path / "clock"
    set_clock(clock, RECEIVED)
    start_worker(
        hub_topics,
        HUB_CLOCK_FILE=str(clock),
        HUB_LIFECYCLE_PARK_SECONDS="2",
        HUB_SCHEMA_REGISTRY_URL=assigning_registry,
    )
    client = SchemaRegistryClient({"url": assigning_registry})
    assert f"{PETITIONS}-cn.gov.pds.hub.UnitNotice" in client.get_subjects()  # registered at start
    played = _play(hub_topics, assigning_registry, clock, "HA-20260601-000072")

    assert _records(played["unit_view"], assigning_registry) == set(TOPICS[PETITIONS].schemas)
    given = {
        client.get_version(s, v).schema_id
        for s in (f"{PETITIONS}-{r}" for r in TOPICS[PETITIONS].schemas)
        for v in client.get_versions(s)
    }
    framed = {sid for sid, _ in played["unit_view"]}
    assert framed <= given and not framed & set(ids.FIXED_IDS.values())
    # the unit's status, framed with the registry's id, is what the hub applied
    assert played["status_id"] == client.get_latest_version(f"{STATUS}-value").schema_id
    assert played["status_id"] != ids.FIXED_IDS["cn.gov.pds.hub.UnitStatus.v1"]
    lifecycle_ids = {sid for sid, _ in played["lifecycle"]}
    assert lifecycle_ids == {client.get_latest_version("hub.lifecycle-value").schema_id}
    kinds = [(r["kind"], r["fromState"], r["toState"]) for _, r in played["lifecycle"]]
    assert ("state_changed", "routed", "signed_for") in kinds
