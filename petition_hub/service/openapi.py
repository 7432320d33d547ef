"""The worker's HTTP endpoints as an OpenAPI 3.1 document, from one table (:data:`ENDPOINTS`).

Consumes nothing; emits the document :func:`document` builds, which the worker serves at
``/openapi.json`` (:mod:`.web`) and ``petition-hub contracts openapi`` writes to
``docs/openapi.json``. Keeps nothing. The tests check that the table lists exactly the routes the
worker registers, that ``docs/openapi.json`` is current and valid, and that a worker serves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

_JSON: Final = "application/json"
_ERROR: Final = {"$ref": "#/components/schemas/Error"}
_REGISTRY_ERROR: Final = {"$ref": "#/components/schemas/RegistryError"}


@dataclass(frozen=True)
class Endpoint:
    """One route of the worker: ``method`` on ``path`` (``{name}``: a path parameter)."""

    path: str
    summary: str
    #: status -> (description, JSON schema of the JSON body, or None for a body of ``media``)
    responses: dict[int, tuple[str, dict[str, Any] | None]]
    tag: str
    #: path parameter -> its description
    parameters: dict[str, str] = field(default_factory=dict)
    #: no bearer token asked (:data:`petition_hub.service.web.OPEN_PATHS`)
    open: bool = False
    media: str = _JSON
    method: str = "get"
    #: the JSON schema of the request's JSON body (POST, PUT), if it has one
    body: dict[str, Any] | None = None


_SCHEMA_TEXT: Final = {"type": "string", "description": "the Avro schema, JSON text"}
_SUBJECT: Final = "<topic>-<record full name> (TopicRecordNameStrategy), or <topic>-value"
_SCHEMA_BODY: Final = {
    "type": "object",
    "properties": {"schema": _SCHEMA_TEXT, "schemaType": {"type": "string"}},
    "required": ["schema"],
}
_COMPATIBILITY_LEVEL: Final = {
    "type": "object",
    "properties": {"compatibilityLevel": {"type": "string"}},
}
_IS_COMPATIBLE: Final = {"type": "object", "properties": {"is_compatible": {"type": "boolean"}}}
_REGISTRY_NOTE: Final = "404: error_code 40401 (subject), 40402 (version) or 40403 (schema)"

#: Every route of the worker's web server (faust's own pages, added at start, excepted).
ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint(
        "/health",
        "Readiness: every stage holds restored partitions, no rebalance, tables recovered",
        {
            200: ("ready", {"$ref": "#/components/schemas/Health"}),
            503: ("not ready (yet)", {"$ref": "#/components/schemas/Health"}),
        },
        "operations",
        open=True,
    ),
    Endpoint(
        "/metrics",
        "Prometheus exposition of the hub's metrics (text format 0.0.4)",
        {200: ("the metrics", None)},
        "operations",
        open=True,
        media="text/plain",
    ),
    Endpoint(
        "/openapi.json",
        "This document",
        {200: ("the worker's OpenAPI document", {"type": "object"})},
        "operations",
        open=True,
    ),
    Endpoint(
        "/petitions/{petition_id}",
        "A petition's lifecycle state and full history (routing, state changes, clock events)",
        {
            200: ("the petition", {"type": "object"}),
            404: ("this worker does not hold the petition's partition", _ERROR),
        },
        "lifecycle",
        {"petition_id": "the hub's petition id"},
    ),
    Endpoint(
        "/units/{unit}/petitions",
        "A unit's open (在办), overdue (逾期) and done (已办) lists, over the partitions held here",
        {
            200: ("the lists", {"type": "object"}),
            404: ("no lifecycle stage in this worker", _ERROR),
        },
        "lifecycle",
        {"unit": "a unit key: dept.TAX, county.410402"},
    ),
    Endpoint(
        "/schemas/ids/{schema_id}",
        "Schema Registry: a schema by id",
        {
            200: ("the schema", {"type": "object", "properties": {"schema": _SCHEMA_TEXT}}),
            404: (_REGISTRY_NOTE, _REGISTRY_ERROR),
        },
        "schema registry",
        {"schema_id": "the schema's id"},
        open=True,
    ),
    Endpoint(
        "/subjects",
        "Schema Registry: every subject (<topic>-<record>, and <topic>-value)",
        {200: ("the subjects", {"type": "array", "items": {"type": "string"}})},
        "schema registry",
        open=True,
    ),
    Endpoint(
        "/subjects/{subject}/versions",
        "Schema Registry: a subject's versions",
        {
            200: ("the versions", {"type": "array", "items": {"type": "integer"}}),
            404: (_REGISTRY_NOTE, _REGISTRY_ERROR),
        },
        "schema registry",
        {"subject": _SUBJECT},
        open=True,
    ),
    Endpoint(
        "/subjects/{subject}/versions/{version}",
        "Schema Registry: one version of a subject",
        {
            200: ("the version", {"$ref": "#/components/schemas/SubjectVersion"}),
            404: (_REGISTRY_NOTE, _REGISTRY_ERROR),
        },
        "schema registry",
        {"subject": _SUBJECT, "version": "a version number, or latest"},
        open=True,
    ),
    Endpoint(
        "/schemas/types",
        "Schema Registry: the schema types it serves (AVRO)",
        {200: ("the types", {"type": "array", "items": {"type": "string"}})},
        "schema registry",
        open=True,
    ),
    Endpoint(
        "/subjects/{subject}",
        "Schema Registry: look a schema up under a subject (what a default serializer asks)",
        {
            200: ("the version", {"$ref": "#/components/schemas/SubjectVersion"}),
            404: (_REGISTRY_NOTE, _REGISTRY_ERROR),
        },
        "schema registry",
        {"subject": _SUBJECT},
        open=True,
        method="post",
        body=_SCHEMA_BODY,
    ),
    Endpoint(
        "/subjects/{subject}/versions",
        "Schema Registry: register a schema (the id of a schema it has; 409 for another)",
        {
            200: ("its id", {"type": "object", "properties": {"id": {"type": "integer"}}}),
            409: ("not compatible: error_code 409", _REGISTRY_ERROR),
            422: ("not a valid schema: error_code 42201", _REGISTRY_ERROR),
        },
        "schema registry",
        {"subject": _SUBJECT},
        open=True,
        method="post",
        body=_SCHEMA_BODY,
    ),
    Endpoint(
        "/config",
        "Schema Registry: the compatibility level",
        {200: ("the level", _COMPATIBILITY_LEVEL)},
        "schema registry",
        open=True,
    ),
    Endpoint(
        "/config/{subject}",
        "Schema Registry: a subject's compatibility level",
        {200: ("the level", _COMPATIBILITY_LEVEL)},
        "schema registry",
        {"subject": _SUBJECT},
        open=True,
    ),
    Endpoint(
        "/compatibility/subjects/{subject}/versions",
        "Schema Registry: is a schema compatible with the subject's versions",
        {200: ("the answer", _IS_COMPATIBLE), 404: (_REGISTRY_NOTE, _REGISTRY_ERROR)},
        "schema registry",
        {"subject": _SUBJECT},
        open=True,
        method="post",
        body=_SCHEMA_BODY,
    ),
    Endpoint(
        "/compatibility/subjects/{subject}/versions/{version}",
        "Schema Registry: is a schema compatible with one version of the subject",
        {200: ("the answer", _IS_COMPATIBLE), 404: (_REGISTRY_NOTE, _REGISTRY_ERROR)},
        "schema registry",
        {"subject": _SUBJECT, "version": "a version number, or latest"},
        open=True,
        method="post",
        body=_SCHEMA_BODY,
    ),
)

_COMPONENTS: Final[dict[str, Any]] = {
    "schemas": {
        "Error": {
            "type": "object",
            "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            "required": ["error"],
        },
        "RegistryError": {
            "type": "object",
            "properties": {"error_code": {"type": "integer"}, "message": {"type": "string"}},
            "required": ["error_code", "message"],
        },
        "Health": {
            "type": "object",
            "properties": {
                "ready": {"type": "boolean"},
                "faust_partitions": {"type": "integer"},
                "stages": {
                    "type": "object",
                    "additionalProperties": {"type": "array"},
                    "description": "stage -> the partitions it holds",
                },
                "rebalancing": {"type": "boolean"},
                "recovered": {"type": "boolean"},
            },
            "required": ["ready"],
        },
        "SubjectVersion": {
            "type": "object",
            "properties": {
                "subject": {"type": "string"},
                "version": {"type": "integer"},
                "id": {"type": "integer"},
                "schema": _SCHEMA_TEXT,
            },
            "required": ["subject", "version", "id", "schema"],
        },
    },
    "securitySchemes": {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "a token of HUB_API_TOKENS",
        }
    },
}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, (description, schema) in endpoint.responses.items():
        media = _JSON if schema is not None else endpoint.media
        responses[str(status)] = {
            "description": description,
            "content": {media: {"schema": schema if schema is not None else {"type": "string"}}},
        }
    if not endpoint.open:
        responses["401"] = {
            "description": "no bearer token, or not one of HUB_API_TOKENS",
            "content": {_JSON: {"schema": _ERROR}},
        }
    operation: dict[str, Any] = {
        "operationId": endpoint.method
        + "_"
        + endpoint.path.strip("/").replace("/", "_").replace("{", "").replace("}", ""),
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "responses": responses,
        # an open endpoint asks for nothing; the others for the bearer token
        "security": [] if endpoint.open else [{"bearer": []}],
    }
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {_JSON: {"schema": endpoint.body}},
        }
    if endpoint.parameters:
        operation["parameters"] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": description,
                "schema": {"type": "string"},
            }
            for name, description in endpoint.parameters.items()
        ]
    return operation


def _paths() -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        paths.setdefault(endpoint.path, {})[endpoint.method] = _operation(endpoint)
    return paths


def _version() -> str:
    try:
        return version("petition-hub")
    except PackageNotFoundError:
        return "0.0.0"


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of :data:`ENDPOINTS`."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Petition hub worker",
            "version": _version(),
            "description": "The HTTP endpoints of a petition-hub worker (port HUB_METRICS_PORT). "
            "Generated from petition_hub/service/openapi.py by `petition-hub contracts openapi`;"
            " do not edit by hand.",
        },
        "servers": [{"url": "http://localhost:9108", "description": "a worker (HUB_METRICS_PORT)"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": _COMPONENTS,
    }
