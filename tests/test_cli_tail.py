"""``petition-hub tail TOPIC`` on records a real worker wrote, against the embedded broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hubtest import TEST_PII_KEY, WorkerProcess, produce, read_topic, run_hub
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.data import load_samples

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _tail(broker: EmbeddedBroker, *args: str, key: str | None = TEST_PII_KEY) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    if key is not None:
        env["HUB_PII_KEY"] = key
    return run_hub("tail", "-b", broker.url, *args, env=env, timeout=120)


def _lines(result: Any) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_tail_decodes_masks_and_reveals(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    samples = load_samples()
    good = samples["hotline-financing.json"]
    person = json.loads(good.value)
    start_worker(hub_topics)
    produce(hub_topics.bootstrap, good.topic, [(good.key, good.value, good.headers)])
    broken = good.value[:-40]  # not JSON: a dead letter
    produce(hub_topics.bootstrap, good.topic, [(b"broken-1", broken, ())])
    read_topic(hub_topics.bootstrap, "hub.petitions", min_count=1, timeout=60)
    read_topic(hub_topics.bootstrap, "hub.deadletter", min_count=1, timeout=60)

    # Avro by its schema id, personal data masked, the enterprise's name kept
    result = _tail(hub_topics, "hub.petitions", "--from-beginning", "-e", "--json")
    (petition,) = _lines(result)
    assert petition["schema"].startswith("cn.gov.pds.hub.Petition")
    assert petition["value"]["petitioner"]["name"] == "***"
    assert person["LDRXM"] not in result.stdout and person["LDHM"] not in result.stdout
    assert person["QYMC"] in result.stdout
    petition_id = petition["value"]["petition_id"]

    # the input topic: JSON as it is, masked the same way; --key picks one record
    result = _tail(hub_topics, good.topic, "--from-beginning", "-e", "--json", "--key", "broken-1")
    (raw,) = _lines(result)
    assert raw["key"] == "broken-1" and raw["schema"] is None
    assert person["LDRXM"] not in result.stdout and person["LDHM"] not in result.stdout

    # a dead letter: its envelope; the sealed original is not shown
    result = _tail(hub_topics, "hub.deadletter", "--from-beginning", "-e", "--json")
    (letter,) = _lines(result)
    assert letter["value"]["reason"] == "bad_json" and "encrypted" in letter["value"]["sealed"]
    assert "original" not in letter["value"] and person["LDRXM"] not in result.stdout

    # --reveal with the key: in clear, the dead letter's original too
    result = _tail(hub_topics, "hub.petitions", "--from-beginning", "-e", "--json", "--reveal")
    assert _lines(result)[0]["value"]["petitioner"]["name"] == person["LDRXM"]
    result = _tail(hub_topics, "hub.deadletter", "--from-beginning", "-e", "--json", "--reveal")
    assert person["LDRXM"] in _lines(result)[0]["value"]["original"]["value"]

    # text lines name where each record lies
    result = _tail(hub_topics, "hub.petitions", "--from-beginning", "-e")
    assert result.stdout.startswith("hub.petitions:") and petition_id in result.stdout

    # --reveal without the key: refused in one line
    refused = _tail(hub_topics, "hub.petitions", "--from-beginning", "-e", "--reveal", key=None)
    assert refused.returncode != 0 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "HUB_PII_KEY" in refused.stderr and person["LDRXM"] not in refused.stdout

    # a topic that is not there: one line
    missing = _tail(hub_topics, "no.such.topic", "-e")
    assert missing.returncode != 0 and len(missing.stderr.splitlines()) == 1, missing.stderr


def test_tail_from_the_end_shows_new_records(hub_topics: EmbeddedBroker, tmp_path: Path) -> None:
    """Without --from-beginning: only what arrives after the start (here: the first new one)."""
    topic = "office.decisions"
    produce(hub_topics.bootstrap, topic, [(b"old", b'{"old": true}', ())])
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "petition_hub",
            "tail",
            "-b",
            hub_topics.url,
            topic,
            "-n",
            "1",
            "--json",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(8)  # the tail assigns its partitions at their end
        produce(hub_topics.bootstrap, topic, [(b"new", b'{"new": true}', ())])
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert line["key"] == "new" and line["value"] == {"new": True}
