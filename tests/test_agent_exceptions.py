"""An exception inside an agent never skips a message.

faust acks a message whose agent raised (its offset gets committed), so an exception that escaped
an agent would silently lose that message. The intake shell catches anything a connector (or
its own encoding) raises and dead-letters the message with reason ``internal``. Proven here on a
real worker and broker with a connector that really raises.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from hubtest import WorkerProcess, app_command, pii_cipher, produce, read_topic
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.devtools.corpus import generate
from petition_hub.runtime.deadletter import unseal

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_connector_exception_becomes_a_dead_letter_not_a_skip(
    hub_topics: EmbeddedBroker, tmp_path: Path
) -> None:
    items = [i for i in generate("hotline", 300, seed=5) if i.expected == "petition"]
    items = list({i.key: i for i in items}.values())  # one message per work order
    raising = [i for i in items if (i.key or b"").endswith(b"3")]
    assert raising, "the corpus should have work orders ending in 3"
    worker = WorkerProcess(
        hub_topics.url, "faulty", tmp_path / "w", command=app_command("faulty_intake_app.py")
    ).start()
    try:
        produce(
            hub_topics.bootstrap,
            "hotline12345.workorders",
            [(i.key, i.value, i.headers) for i in items],
        )
        ok = len(items) - len(raising)
        petitions = read_topic(hub_topics.bootstrap, "hub.petitions", min_count=ok, timeout=60)
        dead = read_topic(
            hub_topics.bootstrap, "hub.deadletter", min_count=len(raising), timeout=30
        )
    finally:
        worker.stop()
    assert len(petitions) == ok
    assert len(dead) == len(raising)
    cipher = pii_cipher()  # the key hubtest gives every worker (HUB_PII_KEY)
    opened = [unseal(r.key, r.value or b"", cipher) for r in dead]
    assert Counter(d.reason for d in opened) == {"internal": len(raising)}
    assert {d.error_class for d in opened} == {"RuntimeError"}
    assert sorted(d.source.value or b"" for d in opened) == sorted(i.value or b"" for i in raising)
    assert "connector raised" in worker.log()
