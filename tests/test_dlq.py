"""`petition-hub dlq list|show|redrive` against real dead letters on the embedded broker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubtest import WorkerProcess, app_command, hub_cli, produce, read_topic, wait_until
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.corpus import generate
from petition_hub.crypto import PiiCipher
from petition_hub.deadletter import unseal
from petition_hub.dlq import REDRIVE_V1

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def test_list_show_and_redrive(hub_topics: EmbeddedBroker, tmp_path: Path) -> None:
    items = generate("hotline", 140, seed=9)
    valid = list({i.key: i for i in items if i.expected == "petition"}.values())
    raising = [i for i in valid if (i.key or b"").endswith(b"3")]
    broken = [i for i in items if i.expected_reason == "bad_json"]
    assert raising and broken
    data = tmp_path / "w"
    # a worker whose connector has a bug (raises for keys ending in 3): its dead letters are
    # what a fixed connector must take in on redrive
    worker = WorkerProcess(
        hub_topics.url, "faulty", data, command=app_command("faulty_intake_app.py")
    ).start()
    try:
        produce(
            hub_topics.bootstrap,
            "hotline12345.workorders",
            [(i.key, i.value, i.headers) for i in valid + broken],
        )
        n_dead = len(raising) + len(broken)
        read_topic(hub_topics.bootstrap, "hub.deadletter", min_count=n_dead, timeout=60)

        listing = hub_cli(hub_topics.url, data, "dlq", "list")
        lines = listing.strip().splitlines()
        assert len(lines) == n_dead
        assert sum(" internal " in line for line in lines) == len(raising)
        assert sum(" bad_json " in line for line in lines) == len(broken)

        # show: metadata and the original, personal data masked
        internal_id = next(line.split()[0] for line in lines if " internal " in line)
        shown = hub_cli(hub_topics.url, data, "dlq", "show", internal_id)
        assert "reason        internal (RuntimeError)" in shown
        assert '"LDHM": "***"' in shown
        phones = {json.loads(i.value or b"{}")["LDHM"] for i in raising if i.headers == ()}
        assert phones and not any(p in shown for p in phones)

        # redrive through the (fixed) connector: the petitions appear, the redrives are recorded
        out = hub_cli(
            hub_topics.url, data, "dlq", "redrive", "--reason", "internal", "--via", "connector"
        )
        assert out.count("to hub.petitions") == len(raising)
        petitions = read_topic(
            hub_topics.bootstrap, "hub.petitions", min_count=len(valid), timeout=30
        )
        assert len(petitions) == len(valid)
        listing = hub_cli(hub_topics.url, data, "dlq", "list", "--reason", "internal")
        assert listing.count("[redriven 1x]") == len(raising)
        again = hub_cli(hub_topics.url, data, "dlq", "redrive", "--reason", "internal")
        assert "nothing to redrive" in again  # already redriven ones are left alone

        # redrive to the source: still broken, so a new dead letter that names the first
        bad_id = next(line.split()[0] for line in lines if " bad_json " in line)
        out = hub_cli(hub_topics.url, data, "dlq", "redrive", bad_id)
        assert "resent to hotline12345.workorders" in out
        cipher = PiiCipher((data / "dev-pii.key").read_text())

        def second_letter() -> bool:
            records = read_topic(hub_topics.bootstrap, "hub.deadletter", timeout=5)
            letters = [
                unseal(r.key, r.value or b"", cipher)
                for r in records
                if schemas.split_header(r.value or b"")[0] != schemas.schema_id(REDRIVE_V1)
            ]
            return any(d.redrive_of == bad_id for d in letters)

        wait_until(second_letter, 30, what="the redriven message to be dead-lettered again")
    finally:
        worker.stop()
