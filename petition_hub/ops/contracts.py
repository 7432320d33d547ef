"""The hub's machine-readable contract of its topics: an AsyncAPI 3 document, generated.

Consumes ``topics.yaml`` (every topic: its name, description, partitions, replication, configs and
the records it carries) and the Avro schemas of ``schemas/``; emits one AsyncAPI 3 document (3.1.0)
(``petition-hub contracts asyncapi``, kept as ``docs/asyncapi.yaml``; a test regenerates it and
compares, and checks it with the official parser, ``@asyncapi/parser``). Keeps nothing.

- one channel per topic of ``topics.yaml``, in its order; the stages' internal topics
  (``{app}-…``) have ``{app}`` in their address, a parameter (``HUB_APP_ID``, default
  ``petition-hub``);
- the channel's Kafka binding: partitions, replicas and the topic configs the binding knows;
- one message per schema version a topic carries (``schemas:``: every version of each record, as
  the Schema Registry subject lists them), its payload the Avro schema itself
  (``schemaFormat: application/vnd.apache.avro;version=1.9.0``), self-contained: a schema that
  uses another's named types (``Evaluation`` uses ``Petition.v1``'s ``Channel``) is served with
  them inlined, as the registry serves it. Messages are components, referenced by the channels
  (``UnitPetition`` is on every unit topic);
- a topic without schemas carries JSON (the channels' inputs) or, for the stages' changelogs and
  the routing/lifecycle internals, the hub's own state records (no message declared).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from petition_hub import schemas
from petition_hub.topics import load_topics
from petition_hub.topics.names import APP_PLACEHOLDER, DEFAULT_APP_ID
from petition_hub.topics.spec import INTEGER_CONFIGS, TopicSpec

ASYNCAPI_VERSION = "3.1.0"
AVRO_FORMAT = "application/vnd.apache.avro;version=1.9.0"
KAFKA_BINDING_VERSION = "0.5.0"
#: The topic configs the AsyncAPI Kafka channel binding (0.5.0) describes.
BINDING_CONFIGS = (
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "delete.retention.ms",
    "max.message.bytes",
)
#: Loaded with this app id, then written back as ``{app}``: the internal topics' addresses keep
#: their parameter (a name Kafka accepts, which no topic of the file contains).
_APP_SENTINEL = "asyncapiappidparameter"
_ID = re.compile(r"[^A-Za-z0-9_-]")
#: Topics whose values are JSON without a schema of ours: the upstream channels' inputs.
_JSON_PREFIXES = ("hotline12345.", "miniprogram.")


def _key(name: str) -> str:
    """An AsyncAPI component or channel key (``^[A-Za-z0-9_-]+$``) for a topic or schema name."""
    return _ID.sub("_", name)


def _package_version() -> str:
    try:
        return version("petition-hub")
    except PackageNotFoundError:
        return "0.0.0"


_NAMED = ("record", "enum", "fixed")


def _fullname(name: str, namespace: str | None) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _definitions(schema: Any, namespace: str | None, into: dict[str, dict[str, Any]]) -> None:
    """Every named type ``schema`` defines, by full name, with its namespace spelled out."""
    if isinstance(schema, list):
        for branch in schema:
            _definitions(branch, namespace, into)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") in _NAMED:
        full = _fullname(schema["name"], schema.get("namespace", namespace))
        space, _, short = full.rpartition(".")
        into[full] = {**schema, "name": short, "namespace": space}
        namespace = space
    for field in schema.get("fields", ()):
        _definitions(field["type"], namespace, into)
    for key in ("items", "values"):
        if key in schema:
            _definitions(schema[key], namespace, into)


def _inline(schema: Any, namespace: str | None, borrowed: dict[str, dict[str, Any]]) -> Any:
    """``schema`` with the first use of each borrowed named type replaced by its definition."""
    if isinstance(schema, str):
        full = _fullname(schema, namespace)
        found = borrowed.pop(full, None)
        return schema if found is None else _inline(found, found["namespace"], borrowed)
    if isinstance(schema, list):
        return [_inline(branch, namespace, borrowed) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if schema.get("type") in _NAMED:
        namespace = _fullname(schema["name"], schema.get("namespace", namespace)).rpartition(".")[0]
    if "fields" in schema:
        out["fields"] = [
            {**field, "type": _inline(field["type"], namespace, borrowed)}
            for field in schema["fields"]
        ]
    for key in ("items", "values"):
        if key in schema:
            out[key] = _inline(schema[key], namespace, borrowed)
    return out


def self_contained(name: str) -> dict[str, Any]:
    """The Avro schema ``name`` with the named types it borrows (:data:`schemas.REFERENCES`)
    defined where first used, as the Schema Registry serves it; every name stays a simple name
    with its namespace beside it (the form Avro's own schema of schemas, and AsyncAPI's Avro
    parser, accept)."""
    raw = schemas.raw_schema(name)
    borrowed: dict[str, dict[str, Any]] = {}
    for ref in schemas.REFERENCES.get(name, ()):
        _definitions(schemas.raw_schema(ref), None, borrowed)
    if not borrowed:
        return raw
    own: dict[str, dict[str, Any]] = {}
    _definitions(raw, None, own)
    for defined in own:
        borrowed.pop(defined, None)
    inlined = _inline(raw, None, borrowed)
    assert isinstance(inlined, dict)
    # the same record as the registry's (fastavro's canonical reading of both is one schema)
    return inlined


def versions_of(record: str) -> tuple[str, ...]:
    """Every schema name of ``record`` in schemas/, oldest first (a ``LookupError`` if none)."""
    found = [n for n in schemas.names() if schemas.record_name(n) == record]
    if not found:
        raise LookupError(f"topics.yaml names the record {record!r}; schemas/ has no version of it")
    return tuple(sorted(found, key=lambda n: int(n.rsplit(".v", 1)[1])))


def _message(name: str) -> dict[str, Any]:
    schema = self_contained(name)
    record = schemas.record_name(name)
    doc = schema.get("doc")
    out: dict[str, Any] = {
        "name": name,
        "title": f"{record.rsplit('.', 1)[1]} v{name.rsplit('.v', 1)[1]}",
        "contentType": "application/octet-stream",
        "description": (
            (f"{doc}\n\n" if isinstance(doc, str) and doc else "")
            + "Confluent wire format: byte 0 is 0, bytes 1-4 the big-endian schema id the "
            "Schema Registry gives this schema, then the Avro body."
        ),
        "payload": {"schemaFormat": AVRO_FORMAT, "schema": schema},
        "x-hub-schema-id": schemas.schema_id(name),
    }
    return out


def _binding(topic: TopicSpec) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key in BINDING_CONFIGS:
        if key not in topic.config:
            continue
        value = topic.config[key]
        if key == "cleanup.policy":
            config[key] = value.split(",")
        else:
            config[key] = int(value) if key in INTEGER_CONFIGS else value
    return {
        "kafka": {
            "topic": topic.name.replace(_APP_SENTINEL, APP_PLACEHOLDER),
            "partitions": topic.partitions,
            "replicas": topic.replication_factor,
            "topicConfiguration": config,
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _channel(topic: TopicSpec, messages: Mapping[str, str]) -> dict[str, Any]:
    address = topic.name.replace(_APP_SENTINEL, APP_PLACEHOLDER)
    channel: dict[str, Any] = {"address": address, "description": topic.description}
    if topic.schemas:
        channel["messages"] = {
            messages[name]: {"$ref": f"#/components/messages/{messages[name]}"}
            for record in topic.schemas
            for name in versions_of(record)
        }
    elif topic.name.startswith(_JSON_PREFIXES):
        channel["messages"] = {"json": {"$ref": "#/components/messages/json"}}
    if APP_PLACEHOLDER in address:
        channel["parameters"] = {"app": {"$ref": "#/components/parameters/app"}}
    channel["bindings"] = _binding(topic)
    return channel


def asyncapi(topics_file: Path) -> dict[str, Any]:
    """The AsyncAPI 3 document of ``topics_file`` and schemas/."""
    topics = load_topics(topics_file, _APP_SENTINEL).topics
    used = [name for t in topics for record in t.schemas for name in versions_of(record)]
    messages = {name: _key(name) for name in dict.fromkeys(used)}
    components: dict[str, Any] = {
        "messages": {
            **{messages[name]: _message(name) for name in messages},
            "json": {
                "name": "json",
                "title": "An upstream channel's JSON message",
                "contentType": "application/json",
                "description": "A message as the upstream system publishes it (UTF-8 JSON; its "
                "fields: the channel's contract in interface.md). The hub dead-letters what it "
                "cannot decode, with a reason.",
            },
        },
        "parameters": {
            "app": {
                "description": "The hub's app id (HUB_APP_ID): the stages' internal topics "
                "are named after it.",
                "default": DEFAULT_APP_ID,
            }
        },
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Petition hub topics",
            "version": _package_version(),
            "description": "Every Kafka topic of the city's enterprise petition hub, as "
            "topics.yaml declares it, and the Avro schemas of its records (the Schema Registry "
            "subjects: <topic>-<record full name>, TopicRecordNameStrategy). Generated by "
            "`petition-hub contracts asyncapi`; do not edit by hand.",
        },
        "defaultContentType": "application/octet-stream",
        "channels": {
            _key(t.name.replace(_APP_SENTINEL, "app")): _channel(t, messages) for t in topics
        },
        "components": components,
    }


def asyncapi_yaml(topics_file: Path) -> str:
    """:func:`asyncapi` as YAML text (UTF-8, keys in the document's order)."""
    text = yaml.safe_dump(
        asyncapi(topics_file),
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return "# Generated by `petition-hub contracts asyncapi`: do not edit.\n" + text
