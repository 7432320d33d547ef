"""One oversized message does not take a worker down (issue 11, defect 1).

Before: a 12 MiB incompressible value on ``hotline12345.workorders`` (Tansu accepts it, although
Kafka's ``max.message.bytes`` would refuse it) became a dead letter of 16.8 MiB holding the whole
original, over the producer's limit; the stage is crash-only, so the worker exited, read the same
record again and exited again, with routing, the lifecycle and the web port down throughout. Now
it is a ``too_large`` dead letter keeping the first 64 KiB, the size and the SHA-256, and the
petitions after it flow.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable

import pytest

from hubtest import WorkerProcess, metric_sum, pii_cipher, produce, read_topic, wait_until
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.data import data_path
from petition_hub.runtime.deadletter import TRUNCATED_BYTES, unseal

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.reliability]

TOPIC = "hotline12345.workorders"


def _sample() -> tuple[bytes, bytes]:
    text = data_path("samples/hotline-financing.json").read_bytes()
    return str(json.loads(text)["GDBH"]).encode(), text


def test_an_oversized_message_is_a_small_dead_letter_and_the_worker_goes_on(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(hub_topics)
    huge = os.urandom(12 * 1024 * 1024)  # incompressible
    key, good = _sample()
    produce(hub_topics.bootstrap, TOPIC, [(b"12345-410400-20261201-999999", huge, ())])
    produce(hub_topics.bootstrap, TOPIC, [(key, good, ())])

    petitions = read_topic(hub_topics.bootstrap, "hub.petitions", min_count=1, timeout=90)
    assert len(petitions) == 1, f"expected the petition after the oversized one, {len(petitions)}"
    dead = read_topic(hub_topics.bootstrap, "hub.deadletter", min_count=1, timeout=30)
    assert len(dead) == 1, f"expected one dead letter, found {len(dead)}"
    assert len(dead[0].value or b"") < 200 * 1024, "the dead letter itself must stay small"
    letter = unseal(dead[0].key, dead[0].value or b"", pii_cipher())
    assert (letter.reason, letter.truncated, letter.value_size) == ("too_large", True, len(huge))
    assert letter.source.value == huge[:TRUNCATED_BYTES]
    assert letter.original_sha256 == hashlib.sha256(huge).hexdigest()
    assert f"{TOPIC}:" in letter.message and "HUB_MAX_MESSAGE_BYTES" in letter.message

    assert worker.proc is not None and worker.proc.poll() is None, "the worker must keep running"
    wait_until(
        lambda: metric_sum(worker.metrics(), "petition_hub_consumer_lag_records", topic=TOPIC) == 0,
        30,
        what="no lag left on the channel topic",
    )
