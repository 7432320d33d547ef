"""Registering the hub's schemas with a Schema Registry (``HUB_SCHEMA_REGISTRY_URL``), and
using the ids it assigns.

The worker does it at start (:func:`use_registry`, from :mod:`.worker`), before any record is
written; ``petition-hub schemas register`` does it on demand. Every subject of the hub's topics
(:func:`.registry.subject_table`: ``<topic>-<record>``, and ``<topic>-value`` for one-record
topics) gets every version of its record, oldest first, through confluent-kafka's
``SchemaRegistryClient``; the ids returned go into :mod:`petition_hub.schemas.ids`, so every
record is then framed with the registry's id and read by it, with no call per record. The
province's schemas are not registered: their ids are the provincial contract's, its registry's.

Consumes the registry's answers; keeps nothing (the id table is :mod:`petition_hub.schemas.ids`').
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from petition_hub.schemas import ids
from petition_hub.service.registry import schema_text_of, subject_table
from petition_hub.topics.spec import TopicSpec


class RegistrationError(RuntimeError):
    """The registry refused a schema, or cannot be reached; the message says which and why."""


@dataclass(frozen=True)
class Registered:
    """One schema registered under one subject, with the id the registry gave it."""

    subject: str
    name: str
    schema_id: int


def register_all(url: str, topics: Iterable[TopicSpec]) -> list[Registered]:
    """Register every hub schema under its subjects at ``url``; raises
    :class:`RegistrationError` (an incompatible schema, an unreachable registry, or one schema
    given two ids)."""
    client = SchemaRegistryClient({"url": url})
    done: list[Registered] = []
    given: dict[str, int] = {}
    for subject, names in subject_table(topics).items():
        for name in names:
            if name in ids.PROVINCE_SCHEMAS:
                continue
            try:
                sid = client.register_schema(subject, Schema(schema_text_of(name), "AVRO"))
            except SchemaRegistryError as exc:
                raise RegistrationError(
                    f"{url} refused {name} under {subject}: {exc.error_message} "
                    f"(error {exc.error_code})"
                ) from None
            except Exception as exc:  # connection refused, DNS, TLS: the client's own errors
                raise RegistrationError(f"cannot register with {url}: {exc}") from None
            if given.setdefault(name, sid) != sid:
                raise RegistrationError(
                    f"{url} gave {name} two ids ({given[name]} and {sid}): the hub frames each "
                    "schema with one"
                )
            done.append(Registered(subject, name, sid))
    return done


def use_registry(url: str, topics: Iterable[TopicSpec]) -> ids.IdTable:
    """Register the hub's schemas at ``url`` and write and read with the ids it gave from now
    on; returns the table installed."""
    done = register_all(url, topics)
    return ids.install({r.name: r.schema_id for r in done}, url)
