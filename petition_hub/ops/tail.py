"""``petition-hub tail TOPIC``: any topic of the hub, decoded and with personal data masked (what
kcat would do, if Debian's kcat could talk to the embedded broker: its librdkafka 2.0.2 cannot
parse Tansu's ApiVersions reply; confluent-kafka's newer librdkafka can).

Consumes: the records of one topic, from its end (new ones as they come) or from the beginning,
read with confluent-kafka in no consumer group (assigned partitions, nothing committed). Emits: one
line per record (JSON Lines with ``--json``): where it lies, its key, headers and value. Avro in the
Confluent framing is decoded by its schema id (:func:`petition_hub.schemas.decode`), JSON as it
is, anything else as text (or hex). Dead letters are sealed: their envelope is shown, the
original only with ``reveal`` (and the key). Keeps: nothing.

Personal data is masked (:mod:`petition_hub.ops.masking`) unless ``reveal`` is given, which needs
``HUB_PII_KEY``: whoever holds the key may read the originals anyway.

On Tansu the end of a partition (``ListOffsets``) may be a few records early (see
:mod:`petition_hub.broker.reading`): a tail from the end may start with a few recent records;
``exit_at_end`` stops at each partition's end-of-partition event, which is right.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import click

from petition_hub import schemas
from petition_hub.broker import tools
from petition_hub.broker.reading import is_end
from petition_hub.ops.cliopts import broker_option, json_option
from petition_hub.ops.masking import mask_free_text, mask_record
from petition_hub.runtime.deadletter import unseal
from petition_hub.schemas import codec
from petition_hub.service.crypto import InvalidToken, PiiCipher

#: How long to wait for a topic's partitions before saying it is not there.
_METADATA_TIMEOUT: Final = 15.0


class TailError(Exception):
    """The topic cannot be read (no such topic, broker unreachable); one line."""


@dataclass(frozen=True)
class Options:
    """What to read and how to show it."""

    from_beginning: bool = False
    key: str | None = None
    reveal: bool = False
    cipher: PiiCipher | None = None
    """The dead letters' key; required with ``reveal``."""
    exit_at_end: bool = False
    max_records: int | None = None


def _text(data: bytes, charset: str | None = None) -> str | None:
    for encoding in (charset,) if charset else ("utf-8", "gb18030"):
        try:
            return data.decode(encoding or "utf-8")
        except (UnicodeDecodeError, LookupError):
            continue
    return None


def _shown(value: Any, reveal: bool) -> Any:
    if reveal or not isinstance(value, dict | list):
        return value
    return mask_record(value)


def _plain(node: Any) -> Any:
    """A decoded record as JSON can carry it (times as ISO text, bytes as their length)."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_plain(v) for v in node]
    if isinstance(node, bytes):
        return f"<{len(node)} bytes>"
    if isinstance(node, datetime):
        return node.isoformat()
    return node


def _dead_letter(key: bytes | None, value: bytes, record: dict[str, Any], opts: Options) -> Any:
    """A dead letter: its envelope (all but the sealed original), and the original with
    ``reveal``."""
    envelope = _plain({k: v for k, v in record.items() if k != "sealed"})
    envelope["sealed"] = f"<{len(record.get('sealed') or b'')} bytes, encrypted>"
    if not opts.reveal or opts.cipher is None:
        return envelope
    try:
        letter = unseal(key, value, opts.cipher)
    except InvalidToken:
        envelope["original"] = "(cannot be decrypted with HUB_PII_KEY)"
        return envelope
    original = letter.source.value
    decoded = _decode_plain(original, dict(letter.source.headers).get("charset"))
    envelope["original"] = {
        "topic": letter.source.topic,
        "partition": letter.source.partition,
        "offset": letter.source.offset,
        "key": None if letter.source.key is None else _text(letter.source.key),
        "value": decoded,
    }
    return envelope


def _decode_plain(value: bytes | None, charset: bytes | None = None) -> Any:
    """A value that is not in the Confluent framing: JSON, text, or hex."""
    if value is None:
        return None
    text = _text(value, charset.decode(errors="replace") if charset else None)
    if text is None:
        return f"<{len(value)} bytes, not text: {value[:48].hex(' ')}…>"
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def decode_value(
    key: bytes | None, value: bytes | None, headers: Mapping[str, bytes], opts: Options
) -> tuple[str | None, Any]:
    """(schema name or None, the value as shown: decoded, masked unless ``reveal``)."""
    if value is None:
        return None, None
    if value[:1] == b"\x00" and len(value) >= 5:
        try:
            sid, record = schemas.decode(value)
        except (schemas.WireFormatError, KeyError, ValueError):
            pass
        else:
            name = schemas.schema_name(sid)
            if schemas.record_name(sid) == codec.DEADLETTER_RECORD:
                return name, _dead_letter(key, value, record, opts)
            return name, _shown(_plain(record), opts.reveal)
    decoded = _decode_plain(value, headers.get("charset"))
    if opts.reveal or not isinstance(decoded, str):
        return None, _shown(decoded, opts.reveal)
    return None, mask_free_text(decoded)


def render(message: Any, opts: Options) -> dict[str, Any]:
    """One record (a confluent-kafka ``Message``) as shown."""
    headers = {k: v for k, v in (message.headers() or []) if v is not None}
    raw_key: bytes | None = message.key()
    key = None if raw_key is None else _text(raw_key) or raw_key.hex()
    schema, value = decode_value(raw_key, message.value(), headers, opts)
    shown_headers = {k: _text(v) or v.hex() for k, v in headers.items()}
    if not opts.reveal:
        shown_headers = {k: mask_free_text(v) for k, v in shown_headers.items()}
        key = None if key is None else mask_free_text(key)
    kind, ms = message.timestamp()
    return {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": datetime.fromtimestamp(ms / 1000, UTC).isoformat() if kind else None,
        "key": key,
        "headers": shown_headers,
        "schema": schema,
        "value": value,
    }


def format_line(shown: Mapping[str, Any]) -> str:
    """A record for a terminal: where, key and schema, then the value as compact JSON."""
    where = f"{shown['topic']}:{shown['partition']}:{shown['offset']}"
    schema = f"  [{shown['schema']}]" if shown["schema"] else ""
    value = json.dumps(shown["value"], ensure_ascii=False, default=str)
    return f"{where}  key={shown['key']}{schema}  {value}"


def records(bootstrap: str, topic: str, opts: Options, config: Mapping[str, str]) -> Iterator[Any]:
    """The records of ``topic`` as confluent-kafka delivers them, until interrupted (or, with
    ``exit_at_end``, until every partition's end as the broker's fetches report it)."""
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException
    from confluent_kafka import TopicPartition as TP

    own = {
        # a group nobody else has, never committed: assign() reads without joining one
        "group.id": f"petition-hub-tail-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    }
    # the tools' configuration: ``config``'s security settings, librdkafka's lines logged
    consumer = Consumer(tools.config(bootstrap, config, **own))
    try:
        try:
            meta = consumer.list_topics(topic, timeout=_METADATA_TIMEOUT)
        except KafkaException as exc:
            raise TailError(f"cannot reach the broker at {bootstrap}: {exc.args[0]}") from exc
        found = meta.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise TailError(f"no topic {topic} on {bootstrap}")
        start = OFFSET_BEGINNING if opts.from_beginning else OFFSET_END
        partitions = sorted(found.partitions)
        consumer.assign([TP(topic, p, start) for p in partitions])
        yield from _poll(consumer, set(partitions), opts)
    finally:
        consumer.close()


def _poll(consumer: Any, partitions: set[int], opts: Options) -> Iterator[Any]:
    from confluent_kafka import KafkaException

    at_end: set[int] = set()
    while not (opts.exit_at_end and at_end >= partitions):
        message = consumer.poll(0.5)
        if message is None:
            continue
        try:
            if is_end(message):
                at_end.add(message.partition())
                continue
        except KafkaException as exc:
            # a tail goes on through what librdkafka retries; only a fatal error ends it
            error = exc.args[0]
            if error.fatal():
                raise TailError(f"Kafka: {error.str()}") from exc
            continue
        at_end.discard(message.partition())
        yield message


def tail(
    bootstrap: str,
    topic: str,
    opts: Options,
    config: Mapping[str, str],
    emit: Callable[[dict[str, Any]], None],
) -> int:
    """Show ``topic``'s records through ``emit``; how many were shown."""
    shown = 0
    for message in records(bootstrap, topic, opts, config):
        if opts.key is not None and (message.key() or b"") != opts.key.encode():
            continue
        emit(render(message, opts))
        shown += 1
        if opts.max_records is not None and shown >= opts.max_records:
            break
    return shown


@click.command("tail")
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="from the oldest record (default: new ones)")
@click.option("--key", "key", metavar="K", help="only records with this key (e.g. a petition id)")
@click.option("--reveal", is_flag=True, help="personal data in clear (needs HUB_PII_KEY)")
@click.option("-e", "--exit-at-end", is_flag=True, help="stop at the end instead of waiting")
@click.option("-n", "--max-records", type=click.IntRange(min=1), help="stop after N records")
@broker_option
@json_option
def tail_command(
    topic: str,
    from_beginning: bool,
    key: str | None,
    reveal: bool,
    exit_at_end: bool,
    max_records: int | None,
    as_json: bool,
) -> None:
    """Show TOPIC's records, decoded (Avro by its schema id, JSON as is) with personal data
    masked; dead letters as their envelope. What kcat would do on the embedded broker."""
    from petition_hub.service.crypto import cipher_for
    from petition_hub.service.security import check, confluent_config
    from petition_hub.service.settings import get_settings

    settings = get_settings()
    check(settings)
    if settings.broker is None:
        raise click.ClickException("HUB_BROKER is not set (or -b): which broker holds the topic?")
    cipher = None
    if reveal:  # the key is what entitles one to see personal data: no key, no reveal
        try:
            cipher = cipher_for(settings)
        except ValueError as exc:
            raise click.ClickException(f"--reveal needs the key: {exc}") from exc
    opts = Options(from_beginning, key, reveal, cipher, exit_at_end, max_records)

    def emit(shown: dict[str, Any]) -> None:
        line = json.dumps(shown, ensure_ascii=False, default=str) if as_json else format_line(shown)
        click.echo(line)

    try:
        tail(settings.bootstrap_servers(), topic, opts, confluent_config(settings), emit)
    except TailError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass
