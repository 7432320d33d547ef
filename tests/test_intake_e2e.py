"""Intake end to end: a generated corpus through a running worker on the embedded broker.

Every valid message becomes exactly one canonical petition on hub.petitions; every broken one is
exactly one dead letter with its original bytes intact; redeliveries add nothing; nothing else
appears; and no personal data from the corpus shows up in the worker's log.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from hubtest import (
    Record,
    WorkerProcess,
    metric_sum,
    pii_cipher,
    produce,
    read_topic,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.devtools.corpus import CorpusItem, generate_all
from petition_hub.runtime.deadletter import TRUNCATED_BYTES, unseal
from petition_hub.schemas import codec
from petition_hub.service.crypto import PiiCipher
from petition_hub.service.settings import Settings

pytestmark = [pytest.mark.broker, pytest.mark.slow]

N_PER_CHANNEL = 1000


def _send(bootstrap: str, items: Sequence[CorpusItem]) -> None:
    by_topic: dict[str, list[CorpusItem]] = {}
    for item in items:
        by_topic.setdefault(item.topic, []).append(item)
    for topic, group in by_topic.items():
        produce(bootstrap, topic, ((i.key, i.value, i.headers) for i in group))


def _cipher(worker: WorkerProcess) -> PiiCipher:
    return pii_cipher()  # the key hubtest gives every worker (HUB_PII_KEY)


def _personal_values(items: Sequence[CorpusItem]) -> set[str]:
    """Names, phones, ID numbers and openids of the petitioners of the corpus's valid messages."""
    found: set[str] = set()
    for item in items:
        if item.expected != "petition":
            continue
        who = PETITION_DECODERS[item.topic](item.key, item.value, item.headers).petitioner
        for value in (who.name, who.contact_name, who.phone, who.id_number, who.openid):
            if value and len(value) >= 3:  # two-character names are too common to grep
                found.add(value)
    return found


def intake_count(exposition: str) -> float:
    return metric_sum(exposition, "petition_hub_intake_messages_total")


@pytest.fixture
def corpus() -> list[CorpusItem]:
    """The contract's samples (all valid) and 1,000 generated messages per channel."""
    samples = []
    for sample in load_samples().values():
        petition = PETITION_DECODERS[sample.topic](sample.key, sample.value, sample.headers)
        samples.append(
            CorpusItem(
                channel=petition.channel.value,
                kind="sample",
                topic=sample.topic,
                key=sample.key,
                value=sample.value,
                headers=sample.headers,
                expected="petition",
                petition_id=petition.petition_id,
                revision=petition.revision,
                expected_flags=tuple(sorted(petition.flags)),
            )
        )
    assert len(samples) == 8
    return samples + generate_all(N_PER_CHANNEL, seed=11)


def test_corpus_through_a_worker(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    corpus: list[CorpusItem],
) -> None:
    bootstrap = hub_topics.bootstrap
    worker = start_worker(hub_topics)
    valid = [i for i in corpus if i.expected == "petition"]
    broken = [i for i in corpus if i.expected == "deadletter"]
    assert len(valid) > 2500 and len(broken) > 100
    assert {i.channel for i in broken} == {"hotline", "miniprogram", "province"}

    _send(bootstrap, corpus)
    _send(bootstrap, valid[::7])  # redeliveries: must change nothing

    petitions = read_topic(bootstrap, "hub.petitions", min_count=len(valid), timeout=180)
    dead = read_topic(bootstrap, "hub.deadletter", min_count=len(broken), timeout=60)

    # exactly one petition per valid message (an edit is a new revision of the same id)
    assert len(petitions) == len(valid)
    got = Counter((r.key or b"").decode() for r in petitions)
    assert got == Counter(i.petition_id for i in valid)
    by_id_rev = {(i.petition_id, i.revision): i for i in valid}
    for record in petitions:
        sid, body = schemas.decode(record.value or b"")
        assert sid == schemas.schema_id(codec.PETITION)  # the version the hub writes (v2)
        petition = codec.petition_of(body)
        item = by_id_rev[(petition.petition_id, petition.revision)]
        assert petition.channel.value == item.channel
        assert tuple(sorted(petition.flags)) == item.expected_flags

    # exactly one dead letter per broken message, original bytes intact, right reason
    assert len(dead) == len(broken)
    cipher = _cipher(worker)
    opened = [unseal(r.key, r.value or b"", cipher) for r in dead]
    # over the hub's size limit (HUB_MAX_MESSAGE_BYTES) a letter keeps the first 64 KiB and the
    # whole value's SHA-256; anything else is kept byte for byte
    limit = Settings().max_message_bytes

    def kept(key: bytes | None, value: bytes | None, headers: tuple[Any, ...]) -> Any:
        if value is not None and len(value) > limit:
            return (key, value[:TRUNCATED_BYTES], headers, hashlib.sha256(value).hexdigest())
        return (key, value, headers, None)

    originals = Counter(
        (d.source.key, d.source.value, d.source.headers, d.original_sha256) for d in opened
    )
    assert originals == Counter(kept(i.key, i.value, tuple(i.headers)) for i in broken)
    assert any(d.truncated for d in opened) == any(
        i.value is not None and len(i.value) > limit for i in broken
    )
    reasons = Counter((d.connector, d.reason) for d in opened)
    assert reasons == Counter((i.channel, i.expected_reason) for i in broken)
    for record, letter in zip(dead, opened, strict=True):
        assert record.key == letter.source.key  # the original key is the record key
        assert dict(record.headers)["hub-reason"] == letter.reason.encode()
        assert letter.message  # a human-readable reason

    # no personal data in the log of the run, nor in any key or header the hub wrote
    log = worker.log()
    personal = _personal_values(corpus)
    assert len(personal) > 1000
    leaked = sorted(p for p in personal if p in log)
    assert not leaked, f"personal data in the worker log: {leaked[:5]}"
    outside = " ".join(
        repr(r.key)
        + repr(r.headers)
        + (r.key or b"").decode(errors="replace")
        + " ".join(v.decode(errors="replace") for _, v in r.headers if v)
        for r in petitions + dead
    )
    leaked = sorted(p for p in personal if p in outside)
    assert not leaked, f"personal data in keys or headers: {leaked[:5]}"


def test_dedup_survives_a_restart(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    corpus: list[CorpusItem],
) -> None:
    bootstrap = hub_topics.bootstrap
    valid = [i for i in corpus if i.expected == "petition"][:600]
    worker = start_worker(hub_topics)
    _send(bootstrap, valid)
    first: list[Record] = read_topic(bootstrap, "hub.petitions", min_count=len(valid), timeout=90)
    assert len(first) == len(valid)
    worker.stop()
    # a new worker of the same group recovers the dedup tables; the same messages re-published
    # (a channel re-sending after its own crash) must not open a single new petition
    again = start_worker(hub_topics)
    _send(bootstrap, valid)
    wait_until(lambda: intake_count(again.metrics()) >= len(valid), 60, what="re-sent read")
    assert intake_count(again.metrics()) == len(valid)
    after = read_topic(bootstrap, "hub.petitions", min_count=len(valid), timeout=30)
    assert len(after) == len(valid)
