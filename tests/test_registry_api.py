"""The built-in Schema Registry (petition_hub/service/registry*.py) as Confluent's own client and
serializers see it, with their default settings: the worker's registry (the hub's subjects and
ids) and the one that assigns its own ids; and the hub registering with the latter
(service/registry_sync.py), then framing and reading records with the ids it was given.

Each registry runs on a loopback port of its own (the same routes the worker serves), in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from petition_hub import schemas
from petition_hub.broker.embedded import free_port
from petition_hub.schemas import codec, ids
from petition_hub.service.registry import (
    AssigningRegistry,
    Registry,
    SchemaView,
    schema_text_of,
    subject_table,
)
from petition_hub.service.registry_sync import RegistrationError, register_all, use_registry
from petition_hub.service.registry_web import serve
from petition_hub.service.settings import PROJECT_ROOT
from petition_hub.topics import load_topics

TOPICS = load_topics(PROJECT_ROOT / "topics.yaml").topics
UNIT = "dept.TAX"
PETITIONS = f"{UNIT}.petitions"
STATUS = f"{UNIT}.status"
RECORD_STRATEGY = "topic_record_subject_name_strategy"


def _run(registry: Registry) -> Iterator[str]:
    """Serve ``registry`` on a free loopback port in a thread; yields its URL."""
    loop = asyncio.new_event_loop()
    ready = asyncio.Event()
    port = free_port()
    task: asyncio.Task[None] | None = None

    def main() -> None:
        nonlocal task
        asyncio.set_event_loop(loop)
        task = loop.create_task(serve(registry, "127.0.0.1", port, ready))
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    for _ in range(100):
        if ready.is_set():
            break
        threading.Event().wait(0.05)
    assert ready.is_set(), "the registry did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        assert task is not None
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)


@pytest.fixture(scope="module")
def hub_registry() -> Iterator[str]:
    yield from _run(SchemaView(TOPICS))


@pytest.fixture
def assigning() -> Iterator[str]:
    yield from _run(AssigningRegistry())


@pytest.fixture
def fixed_ids_after() -> Iterator[None]:
    yield
    ids.reset()


def _status(kind: str = "SIGNED_FOR") -> dict[str, Any]:
    return {"petitionId": "PV-HA-20260601-000042", "kind": kind, "at": datetime.now(UTC)}


def _code(exc: pytest.ExceptionInfo[SchemaRegistryError]) -> tuple[int, int]:
    return exc.value.http_status_code, exc.value.error_code


def test_a_units_default_serializer_writes_a_status_with_the_hubs_id(hub_registry: str) -> None:
    client = SchemaRegistryClient({"url": hub_registry})
    # the unit takes the schema of its status topic from the registry (default subject naming)
    latest = client.get_latest_version(f"{STATUS}-value")
    serialize = AvroSerializer(client, latest.schema.schema_str)  # defaults: auto.register
    value = serialize(_status(), SerializationContext(STATUS, MessageField.VALUE))
    assert value is not None
    sid, record = schemas.decode(value)  # exactly what the hub's re-keyer reads
    assert sid == schemas.schema_id(codec.UNIT_STATUS_V4) == 1044
    assert codec.read_unit_status(record)["kind"] == "SIGNED_FOR"


def test_every_record_type_of_a_unit_topic_has_its_subject(hub_registry: str) -> None:
    client = SchemaRegistryClient({"url": hub_registry})
    ctx = SerializationContext(PETITIONS, MessageField.VALUE)
    deserialize = AvroDeserializer(client)  # needs nothing but the id in each record
    for name in (codec.UNIT_PETITION_V3, codec.NOTICE_V3):
        raw = schemas.raw_schema(name)
        subject = f"{PETITIONS}-{raw['namespace']}.{raw['name']}"
        assert client.get_latest_version(subject).schema_id == schemas.schema_id(name)
        # a producer of the record naming strategy finds (does not register) the hub's version
        serialize = AvroSerializer(
            client,
            schema_text_of(name),
            conf={"auto.register.schemas": False, "subject.name.strategy": _strategy()},
        )
        record = _sample(name)
        value = serialize(record, ctx)
        assert value is not None and schemas.split_header(value)[0] == schemas.schema_id(name)
        assert deserialize(value, ctx) == schemas.decode(value)[1]
    with pytest.raises(SchemaRegistryError) as missing:  # two records: no <topic>-value
        client.get_latest_version(f"{PETITIONS}-value")
    assert _code(missing) == (404, 40401)


def _strategy() -> Any:
    from confluent_kafka.schema_registry import topic_record_subject_name_strategy

    return topic_record_subject_name_strategy


def _sample(name: str) -> dict[str, Any]:
    """A record of ``name`` as the hub writes it (from the codec's own builders' output)."""
    from fastavro.utils import generate_one

    record = generate_one(schemas.parsed_schema(name))
    assert isinstance(record, dict)
    schemas.encode(name, record)  # it fits
    return record


def test_errors_are_json_with_confluents_codes(hub_registry: str) -> None:
    client = SchemaRegistryClient({"url": hub_registry})
    unit_status = Schema(schema_text_of(codec.UNIT_STATUS_V1), "AVRO")
    with pytest.raises(SchemaRegistryError) as exc:
        client.lookup_schema("no.such.topic-value", unit_status)
    assert _code(exc) == (404, 40401)
    with pytest.raises(SchemaRegistryError) as exc:
        client.lookup_schema(f"{PETITIONS}-cn.gov.pds.hub.UnitNotice", unit_status)
    assert _code(exc) == (404, 40403)
    with pytest.raises(SchemaRegistryError) as exc:
        client.get_schema(99999)
    assert _code(exc) == (404, 40403)
    with pytest.raises(SchemaRegistryError) as exc:
        client.get_version(f"{STATUS}-value", 7)
    assert _code(exc) == (404, 40402)
    foreign = Schema(json.dumps({"type": "record", "name": "X", "fields": []}), "AVRO")
    with pytest.raises(SchemaRegistryError) as exc:
        client.register_schema(f"{STATUS}-value", foreign)
    assert _code(exc) == (409, 409)
    with pytest.raises(SchemaRegistryError) as exc:
        client.register_schema(f"{STATUS}-value", Schema('{"type": "recrd"}', "AVRO"))
    assert _code(exc) == (422, 42201)
    # a known schema registers as the id it has
    assert client.register_schema(f"{STATUS}-value", unit_status) == 1013
    found = client.lookup_schema(f"{STATUS}-value", unit_status)
    assert (found.schema_id, found.version) == (1013, 1)


def test_config_and_compatibility(hub_registry: str) -> None:
    client = SchemaRegistryClient({"url": hub_registry})
    assert client.get_compatibility() == "BACKWARD"
    assert client.get_compatibility(f"{STATUS}-value") == "BACKWARD"
    subject = f"{PETITIONS}-cn.gov.pds.hub.UnitPetition"
    newest = Schema(schema_text_of(codec.UNIT_PETITION_V3), "AVRO")
    assert client.test_compatibility(subject, newest, version=1)
    raw = schemas.raw_schema(codec.UNIT_PETITION_V3)
    needy = dict(raw, fields=[*raw["fields"], {"name": "mustHave", "type": "string"}])
    assert not client.test_compatibility(subject, Schema(json.dumps(needy), "AVRO"))


def test_the_assigning_registry_gives_its_own_ids_and_refuses_an_incompatible_version(
    assigning: str,
) -> None:
    client = SchemaRegistryClient({"url": assigning})
    v1 = Schema(schema_text_of(codec.UNIT_PETITION_V1), "AVRO")
    first = client.register_schema("a-cn.gov.pds.hub.UnitPetition", v1)
    assert first == 1
    assert client.register_schema("b-cn.gov.pds.hub.UnitPetition", v1) == first  # one id a schema
    notice = Schema(schema_text_of(codec.NOTICE_V1), "AVRO")
    with pytest.raises(SchemaRegistryError) as exc:  # another record under the same subject
        client.register_schema("a-cn.gov.pds.hub.UnitPetition", notice)
    assert _code(exc) == (409, 409)
    assert client.get_subjects() == [
        "a-cn.gov.pds.hub.UnitPetition",
        "b-cn.gov.pds.hub.UnitPetition",
    ]


def test_the_hub_registers_and_frames_with_the_ids_it_was_given(
    assigning: str, fixed_ids_after: None
) -> None:
    table = use_registry(assigning, TOPICS)
    client = SchemaRegistryClient({"url": assigning})
    # every schema a topic carries has an id (Original.v1 travels inside a dead letter, no id)
    on_topics = {n for names in subject_table(TOPICS).values() for n in names}
    hub_own = on_topics - ids.PROVINCE_SCHEMAS
    assert set(table.by_name) == on_topics | ids.PROVINCE_SCHEMAS
    assert all(table.by_name[n] != ids.FIXED_IDS[n] for n in hub_own)  # none of the fixed ids
    assert all(table.by_name[n] == ids.FIXED_IDS[n] for n in ids.PROVINCE_SCHEMAS)
    value = schemas.encode(codec.UNIT_STATUS_V4, _status("REPLIED") | {"replyText": "已办结"})
    sid = schemas.split_header(value)[0]
    assert (
        sid
        == client.get_latest_version(f"{STATUS}-value").schema_id
        == table.by_name[codec.UNIT_STATUS_V4]
    )
    # a consumer decodes through that registry, and the hub reads its own record by that id
    ctx = SerializationContext(STATUS, MessageField.VALUE)
    decoded = AvroDeserializer(client)(value, ctx)
    assert decoded == schemas.decode(value)[1]
    assert decoded is not None and decoded["replyText"] == "已办结"
    with pytest.raises(schemas.WireFormatError):  # the fixed id is no longer the hub's
        schemas.decode(b"\x00" + (1044).to_bytes(4, "big") + value[5:])
    # registering again is idempotent: the same ids
    again = {r.name: r.schema_id for r in register_all(assigning, TOPICS)}
    assert again == {n: table.by_name[n] for n in again}


def test_an_unreachable_registry_is_one_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RegistrationError, match="cannot register with"):
        register_all(url, TOPICS)


def test_a_producer_of_the_record_strategy_writes_the_latest_version(hub_registry: str) -> None:
    client = SchemaRegistryClient({"url": hub_registry})
    conf = {
        "auto.register.schemas": False,
        "use.latest.version": True,
        "subject.name.strategy": _strategy(),
    }
    serialize = AvroSerializer(client, schema_text_of(codec.NOTICE_V1), conf=conf)
    record = _sample(codec.NOTICE_V3)
    value = serialize(record, SerializationContext(PETITIONS, MessageField.VALUE))
    assert value is not None
    assert schemas.split_header(value)[0] == schemas.schema_id(codec.NOTICE_V3)


def test_a_subjects_record_is_the_schemas_avro_full_name() -> None:
    """TopicRecordNameStrategy takes the record's name from the schema: it must be the name the
    hub's subjects use (the schema's file name without its version)."""
    for name in schemas.names():
        raw = schemas.raw_schema(name)
        assert f"{raw['namespace']}.{raw['name']}" == schemas.record_name(name), name
