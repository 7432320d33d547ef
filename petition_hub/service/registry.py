"""A read-only Schema Registry view of the hub's schemas (the endpoints a Confluent deserializer
uses), so units can decode the hub's topics with standard tooling when no registry runs
(embedded broker, dev). In production a Confluent Schema Registry holds the same schemas under
the same ids (HUB_SCHEMA_REGISTRY_URL).

Subjects follow the topic-name strategy (``<topic>-value``); versions are the schema versions in
order. Schemas that use another's named types are served expanded (self-contained).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

import fastavro

from petition_hub import schemas

#: Topic (or topic pattern) -> its value schemas, oldest first.
_SUBJECT_SCHEMAS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (r"hub\.petitions", ("cn.gov.pds.hub.Petition.v1", "cn.gov.pds.hub.Petition.v2")),
    (
        r"(dept\.[A-Z0-9_]+|county\.\d{6})\.petitions",
        ("cn.gov.pds.hub.UnitPetition.v1", "cn.gov.pds.hub.UnitPetition.v2"),
    ),
    (r"hub\.triage", ("cn.gov.pds.hub.UnitPetition.v1", "cn.gov.pds.hub.UnitPetition.v2")),
    (r"(dept\.[A-Z0-9_]+|county\.\d{6})\.status", ("cn.gov.pds.hub.UnitStatus.v1",)),
    (r"hub\.deadletter", ("cn.gov.pds.hub.DeadLetter.v1",)),
    (r"hub\.rejects", ("cn.gov.pds.hub.Rejection.v1",)),
    (r"office\.decisions", ("cn.gov.pds.hub.OfficeDecision.v1",)),
    (
        r"province\.dispatch",
        ("cn.gov.ha.petition.Dispatch.v1", "cn.gov.ha.petition.Dispatch.v2"),
    ),
    (r"province\.feedback", ("cn.gov.ha.petition.Feedback.v1",)),
    (r"province\.transfers", ("cn.gov.ha.petition.Transfer.v1",)),
)


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


def subject_versions(subject: str) -> tuple[str, ...]:
    """Schema names of ``subject`` (``<topic>-value``), oldest first."""
    topic, sep, part = subject.rpartition("-")
    if sep and part == "value":
        for pattern, names in _SUBJECT_SCHEMAS:
            if re.fullmatch(pattern, topic):
                return names
    raise NotFound(40401, f"Subject '{subject}' not found.")


def subjects(topics: list[str]) -> list[str]:
    """The subjects of ``topics`` that have schemas."""
    out = []
    for topic in topics:
        try:
            subject_versions(f"{topic}-value")
        except NotFound:
            continue
        out.append(f"{topic}-value")
    return out


def version(subject: str, which: str) -> Mapping[str, Any]:
    """``GET /subjects/{subject}/versions/{which}`` (``which``: a number or ``latest``)."""
    names = subject_versions(subject)
    n = len(names) if which in ("latest", "-1") else int(which) if which.isdigit() else 0
    if not 1 <= n <= len(names):
        raise NotFound(40402, f"Version {which} not found.")
    sid = schemas.schema_id(names[n - 1])
    return {"subject": subject, "version": n, "id": sid, "schema": schema_text(sid)}
