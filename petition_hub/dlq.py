"""Operating on dead letters: list, show (personal data masked), redrive.

A redrive sends the original record again, byte for byte, either to its source topic (the worker
takes it in with the connector it runs now) or through the current connector straight to
``hub.petitions``, for when the hub may not write to the upstream topic. Every redrive is
recorded on ``hub.deadletter`` itself (a ``DeadLetterRedrive`` record), so ``dlq list`` shows
what was redriven, when and where.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from kafka import KafkaProducer

from . import schemas
from .agents.intake import DEADLETTER_TOPIC, PETITIONS_TOPIC, REDRIVE_HEADER
from .broker.reading import read_all
from .connectors import PETITION_DECODERS, DecodeError
from .crypto import PiiCipher
from .deadletter import DeadLetter, unseal
from .domain.petition import petition_to_avro
from .logs import scrub_text

REDRIVE_V1: Final = "cn.gov.pds.hub.DeadLetterRedrive.v1"

#: Field names that hold personal data in the channels' JSON and Avro (masked by ``show``).
PERSONAL_KEYS: Final = frozenset(
    {
        "LDRXM", "LDHM",  # 12345 caller's name and phone
        "name", "phone", "idCardNo", "openid",  # mini-program account
        "contactName", "idNumber",  # province petitioner
    }
)  # fmt: skip


@dataclass
class Entry:
    """A dead letter as listed: the letter, where it lies, and its redrives so far."""

    letter: DeadLetter
    partition: int
    offset: int
    redrives: list[dict[str, Any]] = field(default_factory=list)


def entries(bootstrap: str, cipher: PiiCipher) -> list[Entry]:
    """Every dead letter on the topic, oldest first, with its redrives."""
    letters: dict[str, Entry] = {}
    redrives: list[dict[str, Any]] = []
    for rec in read_all(bootstrap, DEADLETTER_TOPIC):
        sid, _ = schemas.split_header(rec.value)
        if sid == schemas.schema_id(REDRIVE_V1):
            redrives.append(schemas.decode(rec.value)[1])
            continue
        letter = unseal(rec.key, rec.value, cipher)
        letters[letter.id] = Entry(letter, rec.partition, rec.offset)
    for redrive in redrives:
        if redrive["deadLetterId"] in letters:
            letters[redrive["deadLetterId"]].redrives.append(redrive)
    return sorted(letters.values(), key=lambda e: e.letter.dead_lettered_at)


def format_list(items: Sequence[Entry]) -> str:
    """One line per dead letter; no personal data (reasons never repeat field values)."""
    if not items:
        return "no dead letters"
    lines = []
    for e in items:
        d = e.letter
        size = "null" if d.source.value is None else f"{len(d.source.value)}B"
        done = f"  [redriven {len(e.redrives)}x]" if e.redrives else ""
        lines.append(
            f"{d.id}  {d.dead_lettered_at:%Y-%m-%d %H:%M:%S}Z  {d.connector:<11} {d.reason:<17} "
            f"{size:>9}  {scrub_text(d.message)[:120]}{done}"
        )
    return "\n".join(lines)


def _mask(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: ("***" if k in PERSONAL_KEYS and v not in (None, "") else _mask(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_mask(v) for v in node]
    if isinstance(node, str):
        return scrub_text(node)
    if isinstance(node, bytes):
        return f"<{len(node)} bytes>"
    if isinstance(node, datetime):
        return node.isoformat()
    return node


def masked_original(letter: DeadLetter, limit: int = 2000) -> str:
    """The original value, readable and with personal data masked, cut to ``limit`` characters.

    JSON and wire-format Avro are parsed and their personal fields masked; anything else (which
    is why it is a dead letter) is shown as text with phone/ID/openid patterns masked, or as the
    length and first bytes in hex when it is not text.
    """
    value = letter.source.value
    if value is None:
        return "(null value)"
    charset = dict(letter.source.headers).get("charset")
    encoding = (
        "gb18030" if charset and charset.decode(errors="replace").lower() == "gb18030" else "utf-8"
    )
    try:
        return json.dumps(_mask(json.loads(value.decode(encoding))), ensure_ascii=False, indent=2)[
            :limit
        ]
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    try:
        sid, record = schemas.decode(value)
        return (
            f"(Avro, schema id {sid})\n"
            + json.dumps(_mask(record), ensure_ascii=False, indent=2)[:limit]
        )
    except (ValueError, KeyError):
        pass
    try:
        text = value.decode(encoding)
    except UnicodeDecodeError:
        return f"({len(value)} bytes, not text) {value[:48].hex(' ')}…"
    shown = scrub_text(text[:limit])
    return shown + (f"… ({len(text) - limit} more characters)" if len(text) > limit else "")


def format_show(entry: Entry) -> str:
    """A dead letter for an operator: metadata, redrives, and the masked original."""
    d = entry.letter
    lines = [
        f"id            {d.id}",
        f"dead-lettered {d.dead_lettered_at.isoformat()}",
        f"connector     {d.connector}",
        f"reason        {d.reason} ({d.error_class})",
        f"message       {scrub_text(d.message)}",
        f"key           {scrub_text((d.source.key or b'').decode(errors='replace')) or '(none)'}",
        f"headers       {', '.join(k for k, _ in d.source.headers) or '(none)'}",
        f"size          {'null' if d.source.value is None else len(d.source.value)} bytes",
    ]
    if d.redrive_of:
        lines.append(f"redrive of    {d.redrive_of}")
    for r in entry.redrives:
        lines.append(f"redriven      {r['redrivenAt'].isoformat()} via {r['via']}: {r['outcome']}")
    lines += ["original (personal data masked):", masked_original(d)]
    return "\n".join(lines)


@dataclass(frozen=True)
class RedriveResult:
    """What a redrive did with one dead letter."""

    id: str
    via: str
    outcome: str


def redrive(
    bootstrap: str,
    selected: Iterable[Entry],
    via: str,
    dry_run: bool = False,
) -> list[RedriveResult]:
    """Send the selected dead letters again, ``via`` ``source`` or ``connector``; record each."""
    if via not in ("source", "connector"):
        raise ValueError("via must be 'source' or 'connector'")
    results: list[RedriveResult] = []
    producer = (
        None
        if dry_run
        else KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", max_request_size=16 * 1024 * 1024
        )
    )
    try:
        for entry in selected:
            d = entry.letter
            src = d.source
            if via == "source":
                target, key, value = src.topic, src.key, src.value
                headers = [(k, v) for k, v in src.headers if k != REDRIVE_HEADER and v is not None]
                headers.append((REDRIVE_HEADER, d.id.encode()))
                outcome = f"resent to {src.topic}"
            else:
                decode = PETITION_DECODERS.get(src.topic)
                if decode is None:
                    results.append(RedriveResult(d.id, via, f"no connector for {src.topic}"))
                    continue
                try:
                    petition = decode(src.key, src.value, src.headers)
                except DecodeError as exc:
                    results.append(RedriveResult(d.id, via, f"still refused: {exc.reason_code}"))
                    continue
                target, key, headers = PETITIONS_TOPIC, petition.petition_id.encode(), []
                value = schemas.encode(schemas.PETITION_V1, petition_to_avro(petition))
                outcome = f"petition {petition.petition_id} to {PETITIONS_TOPIC}"
            if producer is not None:
                producer.send(target, key=key, value=value, headers=headers).get(timeout=30)
                marker = {
                    "deadLetterId": d.id,
                    "redrivenAt": datetime.now(UTC),
                    "via": via,
                    "target": target,
                    "outcome": outcome,
                }
                producer.send(
                    DEADLETTER_TOPIC,
                    key=src.key,
                    value=schemas.encode(REDRIVE_V1, marker),
                    headers=[(REDRIVE_HEADER, d.id.encode())],
                ).get(timeout=30)
            results.append(
                RedriveResult(d.id, via, outcome if not dry_run else f"would be {outcome}")
            )
    finally:
        if producer is not None:
            producer.close()
    return results
