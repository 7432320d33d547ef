"""The hub's built-in Schema Registry: what Confluent's serializers and deserializers call with
their default settings, so units use standard tooling when no registry runs (embedded broker,
``dev``). In production a registry (``HUB_SCHEMA_REGISTRY_URL``) holds the same subjects, and the
hub registers its schemas there at start (:mod:`.registry_sync`). The HTTP side is
:mod:`.registry_web`; this module keeps the subjects and answers the questions.

Subjects (:func:`subject_table`): Confluent's TopicRecordNameStrategy, ``<topic>-<record full
name>`` (``dept.TAX.petitions-cn.gov.pds.hub.UnitNotice``), for every record a topic carries in
``topics.yaml``'s ``schemas:``, so two record types share a topic (a unit's ``.petitions``:
``UnitPetition`` and ``UnitNotice``) and each subject stays backward compatible; and the
TopicNameStrategy's ``<topic>-value`` for a topic that carries one record only (so a unit's status
producer with default settings finds its subject). A subject's versions are every version in
``schemas/`` of its record, oldest first. Schemas that use another's named types are served
expanded (self-contained).

Two kinds of registry, one interface (:class:`Registry`):

- :class:`SchemaView`, the worker's: the hub's schemas under the hub's ids (:mod:`petition_hub.
  schemas.ids`: fixed without a registry), subjects derived from ``topics.yaml``; registering a
  schema it has returns its id (dev producers with ``auto.register.schemas``), any other is
  refused (409);
- :class:`AssigningRegistry`, empty at start, assigns its own ids (from 1) as a real registry
  does (``petition-hub schemas serve --assign-ids``): it proves the hub does not depend on fixed
  ids.

Compatibility is BACKWARD (the registries' default): a new version must read every record the
latest one wrote, checked by Avro schema resolution.

Keeps: :class:`AssigningRegistry` keeps what was registered, in memory only.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from functools import cache, lru_cache
from typing import Any, Final, Protocol

import fastavro
from fastavro.schema import to_parsing_canonical_form
from fastavro.utils import generate_many

from petition_hub import schemas
from petition_hub.topics.spec import TopicSpec

#: The compatibility level both registries enforce (and answer on ``/config``).
COMPATIBILITY: Final = "BACKWARD"


class RegistryError(Exception):
    """An error as a Confluent registry answers it: HTTP status, error code and message."""

    status = 422

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFound(RegistryError, LookupError):
    """40401 subject, 40402 version, 40403 schema not found (HTTP 404)."""

    status = 404


class Conflict(RegistryError):
    """409: the schema is incompatible with the subject's latest version (or not the hub's)."""

    status = 409


def invalid(message: str) -> RegistryError:
    """42201: the text is not an Avro schema."""
    return RegistryError(42201, f"Invalid schema: {message}")


@cache
def _expanded(name: str) -> str:
    raw = schemas.raw_schema(name)
    refs = schemas.REFERENCES.get(name, ())
    if not refs:
        return json.dumps(raw, ensure_ascii=False)
    named: dict[str, Any] = {}
    for ref in refs:
        fastavro.parse_schema(schemas.raw_schema(ref), named_schemas=named)
    expanded = fastavro.parse_schema(raw, named_schemas=named, expand=True, _write_hint=False)
    return json.dumps(expanded, ensure_ascii=False)


def schema_text_of(name: str) -> str:
    """The schema ``name`` as registries hold it: JSON text, self-contained."""
    return _expanded(schemas.schema_name(name))


def schema_text(schema_id: int) -> str:
    """The hub's schema of ``schema_id`` (the process's ids), as the registry serves it."""
    try:
        return schema_text_of(schemas.schema_name(schema_id))
    except schemas.UnknownSchemaError:
        raise NotFound(40403, f"Schema {schema_id} not found") from None


def parse(text: str) -> Any:
    """A schema text parsed (fastavro); 42201 when it is not an Avro schema."""
    try:
        return fastavro.parse_schema(json.loads(text), _write_hint=False)
    except Exception as exc:
        raise invalid(f"{type(exc).__name__}: {exc}") from None


@lru_cache(maxsize=4096)  # registration and lookup compare the same texts again and again
def canonical(text: str) -> str:
    """Avro's Parsing Canonical Form of a schema text: what two texts of one schema share."""
    return to_parsing_canonical_form(parse(text))


@lru_cache(maxsize=4096)
def reads(reader_text: str, writer_text: str, samples: int = 16) -> bool:
    """Whether ``reader_text`` reads records written with ``writer_text`` (Avro resolution, on
    records generated from the writer: a field without a default, a narrowed type fail)."""
    writer, reader = parse(writer_text), parse(reader_text)
    try:
        for record in generate_many(writer, samples):
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, writer, record)
            buf.seek(0)
            fastavro.schemaless_reader(buf, writer, reader)
    except Exception:
        return False
    return True


def versions_of(record: str) -> tuple[str, ...]:
    """The schema names of every version of ``record`` in schemas/, oldest first; a
    ``LookupError`` when there is none (topics.yaml names a record schemas/ does not have)."""
    found = [name for name in schemas.names() if schemas.record_name(name) == record]
    if not found:
        raise LookupError(f"topics.yaml names the record {record!r}; schemas/ has no version of it")
    return tuple(sorted(found, key=lambda name: int(name.rsplit(".v", 1)[1])))


def record_subject(topic: str, record: str) -> str:
    """TopicRecordNameStrategy's subject: ``<topic>-<record full name>``."""
    return f"{topic}-{record}"


def subject_table(topics: Iterable[TopicSpec]) -> dict[str, tuple[str, ...]]:
    """Every subject of the hub's topics → its schema names, oldest first, in topics.yaml's
    order: ``<topic>-value`` for a one-record topic, then ``<topic>-<record>`` for each record
    (JSON topics and changelogs have none)."""
    table: dict[str, tuple[str, ...]] = {}
    for topic in topics:
        if len(topic.schemas) == 1:
            table[f"{topic.name}-value"] = versions_of(topic.schemas[0])
        for record in topic.schemas:
            table[record_subject(topic.name, record)] = versions_of(record)
    return table


def _pick(count: int, which: str) -> int:
    """The version number ``which`` (a number, ``latest`` or ``-1``) of ``count``; 40402."""
    n = count if which in ("latest", "-1") else int(which) if which.isdigit() else 0
    if not 1 <= n <= count:
        raise NotFound(40402, f"Version {which} not found.")
    return n


class Registry(Protocol):
    """What the HTTP side (:mod:`.registry_web`) asks a registry."""

    def schema(self, schema_id: int) -> str: ...
    def subjects(self) -> list[str]: ...
    def versions(self, subject: str) -> list[int]: ...
    def version(self, subject: str, which: str) -> Mapping[str, Any]: ...
    def lookup(self, subject: str, text: str) -> Mapping[str, Any]: ...
    def register(self, subject: str, text: str) -> int: ...
    def compatible(self, subject: str, which: str, text: str) -> bool: ...


class _Versions:
    """Subjects as lists of (id, schema text), and the questions every registry answers alike."""

    def _texts(self, subject: str) -> list[tuple[int, str]]:
        raise NotImplementedError

    def versions(self, subject: str) -> list[int]:
        """``GET /subjects/{subject}/versions``."""
        return list(range(1, len(self._texts(subject)) + 1))

    def version(self, subject: str, which: str) -> Mapping[str, Any]:
        """``GET /subjects/{subject}/versions/{which}``."""
        texts = self._texts(subject)
        n = _pick(len(texts), which)
        sid, text = texts[n - 1]
        return {"subject": subject, "version": n, "id": sid, "schema": text}

    def lookup(self, subject: str, text: str) -> Mapping[str, Any]:
        """``POST /subjects/{subject}``: the version of ``subject`` that is ``text``; 40403."""
        wanted = canonical(text)
        for n, (sid, known) in enumerate(self._texts(subject), start=1):
            if canonical(known) == wanted:
                return {"subject": subject, "version": n, "id": sid, "schema": known}
        raise NotFound(40403, "Schema not found")

    def compatible(self, subject: str, which: str, text: str) -> bool:
        """``POST /compatibility/subjects/{subject}/versions/{which}``: BACKWARD, ``text`` reads
        what that version wrote (a subject with no version: compatible)."""
        try:
            texts = self._texts(subject)
        except NotFound:
            return True
        parse(text)  # 42201 before anything else
        if not texts:
            return True
        return reads(text, texts[_pick(len(texts), which) - 1][1])


class SchemaView(_Versions):
    """The worker's registry: the subjects of the hub's topics, derived from the loaded
    topics.yaml, under the process's ids."""

    def __init__(self, topics: Iterable[TopicSpec]) -> None:
        #: subject -> its schema names, oldest first
        self.table = subject_table(topics)

    def subject_versions(self, subject: str) -> tuple[str, ...]:
        """Schema names of ``subject``, oldest first; 40401."""
        try:
            return self.table[subject]
        except KeyError:
            raise NotFound(40401, f"Subject '{subject}' not found.") from None

    def _texts(self, subject: str) -> list[tuple[int, str]]:
        return [(schemas.schema_id(n), schema_text_of(n)) for n in self.subject_versions(subject)]

    def schema(self, schema_id: int) -> str:
        """``GET /schemas/ids/{id}``; 40403."""
        return schema_text(schema_id)

    def subjects(self) -> list[str]:
        """Every subject, in the order of topics.yaml."""
        return list(self.table)

    def register(self, subject: str, text: str) -> int:
        """``POST /subjects/{subject}/versions`` for dev: the id of a schema the subject has;
        another is refused (409), as nothing here could decode what it would frame."""
        try:
            return int(self.lookup(subject, text)["id"])
        except NotFound as exc:
            if exc.code == 40401:
                raise
        raise Conflict(
            409,
            f"Schema being registered is incompatible with an earlier schema for subject "
            f"'{subject}': this built-in registry holds the hub's schemas only",
        )


class AssigningRegistry(_Versions):
    """A registry that starts empty and assigns its own ids, from 1, as Confluent's and Karapace
    do: one id per distinct schema (Parsing Canonical Form), whatever subjects it is under."""

    def __init__(self) -> None:
        self._texts_by_id: list[str] = []  # id - 1 -> text as first registered
        self._ids: dict[str, int] = {}  # canonical form -> id
        self._subjects: dict[str, list[int]] = {}

    def _texts(self, subject: str) -> list[tuple[int, str]]:
        if subject not in self._subjects:
            raise NotFound(40401, f"Subject '{subject}' not found.")
        return [(sid, self._texts_by_id[sid - 1]) for sid in self._subjects[subject]]

    def schema(self, schema_id: int) -> str:
        if not 1 <= schema_id <= len(self._texts_by_id):
            raise NotFound(40403, f"Schema {schema_id} not found")
        return self._texts_by_id[schema_id - 1]

    def subjects(self) -> list[str]:
        return list(self._subjects)

    def register(self, subject: str, text: str) -> int:
        """A new version of ``subject`` (or the id it has); 409 when not BACKWARD compatible."""
        form = canonical(text)
        held = self._subjects.get(subject, [])
        sid = self._ids.get(form)
        if sid is not None and sid in held:
            return sid
        if held and not reads(text, self._texts_by_id[held[-1] - 1]):
            raise Conflict(
                409,
                f"Schema being registered is incompatible with an earlier schema for subject "
                f"'{subject}' ({COMPATIBILITY})",
            )
        if sid is None:
            self._texts_by_id.append(text)
            sid = self._ids[form] = len(self._texts_by_id)
        self._subjects.setdefault(subject, []).append(sid)
        return sid
