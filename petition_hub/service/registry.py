"""A read-only Schema Registry view of the hub's schemas (the endpoints a Confluent deserializer
uses), so units can decode the hub's topics with standard tooling when no registry runs
(embedded broker, dev). In production a Confluent Schema Registry holds the same schemas under
the same ids (HUB_SCHEMA_REGISTRY_URL).

Subjects follow the topic-name strategy (``<topic>-value``). Which schemas a topic carries is
``topics.yaml``'s (its ``schemas:``, the records in the order listed): a subject's versions are
every version in ``schemas/`` of each of its records, oldest first, one record after the other.
Schemas that use another's named types are served expanded (self-contained).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import fastavro

from petition_hub import schemas
from petition_hub.topics.spec import TopicSpec


class NotFound(LookupError):
    """Registry error 40401/40402/40403 (subject, version or schema not found)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@cache
def schema_text(schema_id: int) -> str:
    """The schema of ``schema_id`` as the registry serves it: JSON text, self-contained."""
    try:
        name = schemas.schema_name(schema_id)
    except schemas.UnknownSchemaError:
        raise NotFound(40403, f"Schema {schema_id} not found") from None
    raw = schemas.raw_schema(name)
    refs = schemas.REFERENCES.get(name, ())
    if not refs:
        return json.dumps(raw, ensure_ascii=False)
    named: dict[str, Any] = {}
    for ref in refs:
        fastavro.parse_schema(schemas.raw_schema(ref), named_schemas=named)
    expanded = fastavro.parse_schema(raw, named_schemas=named, expand=True, _write_hint=False)
    return json.dumps(expanded, ensure_ascii=False)


def versions_of(record: str) -> tuple[str, ...]:
    """The schema names of every version of ``record`` in schemas/, oldest first; a
    ``LookupError`` when there is none (topics.yaml names a record schemas/ does not have)."""
    found = [name for name in schemas.names() if schemas.record_name(name) == record]
    if not found:
        raise LookupError(f"topics.yaml names the record {record!r}; schemas/ has no version of it")
    return tuple(sorted(found, key=lambda name: int(name.rsplit(".v", 1)[1])))


class SchemaView:
    """The subjects of the hub's topics, derived from the loaded topics.yaml."""

    def __init__(self, topics: Iterable[TopicSpec]) -> None:
        #: topic -> its value schemas, oldest first (record after record); topics without any
        #: (JSON, changelogs) are not subjects
        self.table: dict[str, tuple[str, ...]] = {
            topic.name: tuple(name for record in topic.schemas for name in versions_of(record))
            for topic in topics
            if topic.schemas
        }

    def subject_versions(self, subject: str) -> tuple[str, ...]:
        """Schema names of ``subject`` (``<topic>-value``), oldest first."""
        topic, sep, part = subject.rpartition("-")
        if sep and part == "value" and topic in self.table:
            return self.table[topic]
        raise NotFound(40401, f"Subject '{subject}' not found.")

    def subjects(self) -> list[str]:
        """Every subject, in the order of topics.yaml."""
        return [f"{topic}-value" for topic in self.table]

    def version(self, subject: str, which: str) -> Mapping[str, Any]:
        """``GET /subjects/{subject}/versions/{which}`` (``which``: a number or ``latest``)."""
        names = self.subject_versions(subject)
        n = len(names) if which in ("latest", "-1") else int(which) if which.isdigit() else 0
        if not 1 <= n <= len(names):
            raise NotFound(40402, f"Version {which} not found.")
        sid = schemas.schema_id(names[n - 1])
        return {"subject": subject, "version": n, "id": sid, "schema": schema_text(sid)}
