"""What a stage reads and writes: source records, outputs, and their headers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

#: A header as read from a source topic (Kafka allows a header without a value).
Header = tuple[str, bytes | None]
#: A header a stage writes.
OutputHeader = tuple[str, bytes]

#: Header carrying an output's ``event_id``: the CloudEvents ``ce_id`` (every record the hub
#: writes carries the CloudEvents headers, :mod:`petition_hub.runtime.cloudevents`).
EVENT_ID_HEADER = "ce_id"
#: Header naming what a hub record is (``closed``, ``erasure_due``, ``redacted``...), so a reader
#: skips the kinds it does not want without decoding them.
KIND_HEADER = "hub-kind"


def kind_of(headers: Iterable[tuple[str, bytes | None]]) -> str:
    """The ``hub-kind`` of a record's headers (``""`` when it has none)."""
    value = dict(headers).get(KIND_HEADER)
    return value.decode() if isinstance(value, bytes) else ""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A record as it was read from a source topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    timestamp_ms: int | None = None

    @property
    def ref(self) -> str:
        """Where it was read: ``topic:partition:offset`` (the dead letter's id)."""
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True, slots=True)
class Output:
    """A record a stage emits."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[OutputHeader] = ()
    event_id: str | None = None
    """Stable id of what this output says (exactly-once stages, timers): regenerated, it is the
    same. Without one, the stage makes it of the source record's place (its ``ce_id``)."""
    ce_type: str | None = None
    """Its CloudEvents type when the value does not say it (a JSON record): else the Avro record
    name, with the ``hub-kind``."""
    time: datetime | None = None
    """When what it says happened (``ce_time``); by default the source record's timestamp."""
