"""What a stage reads and writes: source records, outputs, and their headers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: A header as read from a source topic (Kafka allows a header without a value).
Header = tuple[str, bytes | None]
#: A header a stage writes.
OutputHeader = tuple[str, bytes]

#: Header carrying an output's ``event_id``.
EVENT_ID_HEADER = "hub-event-id"
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
    """Stable id of what this output says (exactly-once stages): regenerated, it is the same."""
