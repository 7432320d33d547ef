"""``petition-hub dev``: the whole hub on one machine.

Starts the embedded broker, applies topics.yaml, runs a worker in this process, feeds a
continuous demo stream from all three channels (generated from the channel contracts, with the
occasional broken message), plays the handling units and the petitioners (units sign for and
reply to what they lead, petitioners rate the replies), and prints a live summary read from the
worker's own metrics.
Ctrl-C stops everything; the broker dies with this process even if it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import re
import shlex
import sys
import time
from collections import Counter as Tally
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import faust
import structlog
from faust.exceptions import NotReady
from prometheus_client import Metric
from pydantic import SecretStr

from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.connectors import CHANNELS
from petition_hub.data import load_samples
from petition_hub.devtools.corpus import generate_all
from petition_hub.service import metrics
from petition_hub.service.crypto import cipher_for, dev_key_file, has_key
from petition_hub.service.runner import worker_for
from petition_hub.service.settings import Settings
from petition_hub.service.worker import create_app
from petition_hub.topics import run_apply

if TYPE_CHECKING:  # the wire format is imported when the demo reacts (start-up time)
    from petition_hub.schemas import records as wire

log = structlog.get_logger(__name__)

SUMMARY_EVERY = 2.0


DemoMessage = tuple[str, bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]


def demo_stream(seed: int = 2026) -> Iterator[DemoMessage]:
    """An endless, realistic stream (topic, key, value, headers): first the channels' contract
    samples, then generated messages of all channels, shuffled, about 3% of them broken.

    Each round uses a fresh seed, so references do not repeat across rounds.
    """
    for sample in load_samples().values():
        yield sample.topic, sample.key, sample.value, sample.headers
    for round_no in itertools.count():
        items = generate_all(200, seed + round_no)
        valid = [i for i in items if i.expected == "petition"]
        broken = [i for i in items if i.expected == "deadletter"]
        rng = random.Random(seed + round_no)
        mixed = valid + rng.sample(broken, min(len(broken), max(1, len(valid) // 30)))
        rng.shuffle(mixed)
        for item in mixed:
            yield item.topic, item.key, item.value, item.headers


def _samples(metric_name: str) -> list[tuple[dict[str, str], float]]:
    out: list[tuple[dict[str, str], float]] = []
    for family in metrics.REGISTRY.collect():
        fam: Metric = family
        for sample in fam.samples:
            if sample.name == metric_name:
                out.append((sample.labels, sample.value))
    return out


def summary_line() -> str:
    """One line on what the worker has done so far, from its Prometheus metrics."""
    accepted = Tally[str]()
    for labels, value in _samples("petition_hub_petitions_received_total"):
        if labels["kind"] in ("new", "edit"):
            accepted[labels["channel"]] += int(value)
    dead = Tally[str]()
    for labels, value in _samples("petition_hub_dead_letters_total"):
        dead[labels["reason"]] += int(value)
    led = Tally[str]()
    for labels, value in _samples("petition_hub_routed_total"):
        if labels["role"] == "lead" and value:  # every unit's series exists, at 0 until used
            led[labels["unit"]] += int(value)
    elsewhere = Tally[str]()
    for labels, value in _samples("petition_hub_routing_decisions_total"):
        if labels["kind"] != "units":
            elsewhere[labels["kind"]] += int(value)

    def total(name: str) -> int:
        return int(sum(value for _, value in _samples(name)))

    ratings = sum(
        int(value)
        for labels, value in _samples("petition_hub_lifecycle_events_total")
        if labels["source"] == "evaluation" and labels["result"] == "accepted"
    )
    per_channel = ", ".join(f"{c} {n}" for c, n in sorted(accepted.items())) or "none yet"
    reasons = ", ".join(f"{r} {n}" for r, n in dead.most_common(4)) or "none"
    units = ", ".join(f"{u} {n}" for u, n in led.most_common(4)) or "none yet"
    other = ", ".join(f"{k} {n}" for k, n in sorted(elsewhere.items())) or "none"
    return (
        f"petitions in: {sum(accepted.values())} ({per_channel}) | "
        f"routed to {len(led)} units (top: {units}; {other}) | "
        f"signed for {total('petition_hub_signed_for_total')}, "
        f"replied {total('petition_hub_resolved_total')}, "
        f"ratings {ratings}, reopened {total('petition_hub_reopened_total')}, "
        f"closed {total('petition_hub_closed_total')} | "
        f"dead letters: {sum(dead.values())} ({reasons})"
    )


def install_demo(app: faust.App, rate: float) -> None:
    """Feed the demo stream into the channel topics at about ``rate`` messages a second."""

    @app.task  # type: ignore[untyped-decorator]
    async def feed_demo() -> None:
        await app.producer.maybe_start()
        interval = 1.0 / rate if rate > 0 else 0.0
        for topic, key, value, headers in demo_stream():
            await app.producer.send(topic, key, value, None, None, list(headers))
            await asyncio.sleep(interval)


#: What the demo's petitioners answer (满意 mostly, as the city's reports say), and how often.
_RATINGS = ("满意", "基本满意", "不满意")
_RATING_WEIGHTS = (0.8, 0.12, 0.08)
#: A request to rate (its topic) → where the petitioner answers and the field of the reference:
#: the channels that collect ratings, as their connectors declare them.
_REQUESTS = {
    s.requests.topic: (s.evaluation_topic, s.requests.ref_field)
    for s in CHANNELS
    if s.evaluation_topic is not None
}


Reaction = tuple[str, bytes, bytes, float]
"""What a demo unit or petitioner sends: topic, key, value, and after how many seconds."""


def demo_reaction(
    topic: str, value: bytes | None, rng: random.Random, pace: float, now: datetime
) -> list[Reaction]:
    """How the demo's units and petitioners answer a record of ``topic``: a lead unit signs for,
    works on and replies to a petition; a petitioner asked to evaluate rates the reply."""
    from petition_hub import schemas
    from petition_hub.schemas import codec

    if topic in _REQUESTS:
        request = json.loads(value or b"{}")
        target, ref_field = _REQUESTS[topic]
        rating = {
            ref_field: request[ref_field],
            "petitionRef": request["petitionRef"],
            "satisfaction": rng.choices(_RATINGS, _RATING_WEIGHTS)[0],
            "evaluatedAt": now.isoformat(),
            "revision": 0,
        }
        body = json.dumps(rating, ensure_ascii=False).encode()
        return [(target, str(request[ref_field]).encode(), body, rng.uniform(1, 2) * pace)]
    sid, decoded = schemas.decode(value or b"")
    if schemas.record_name(sid) != codec.UNIT_PETITION_RECORD:
        return []  # notices: nothing to do in the demo
    record = codec.read_unit_petition(decoded)
    if record["role"] != "LEAD":
        return []  # co-handled petitions: nothing to do in the demo
    pid = record["petitionId"]
    unit_topic = topic.removesuffix(".petitions") + ".status"

    def status(kind: str, reply_text: str | None = None) -> bytes:
        body: wire.UnitStatus = {
            "petitionId": pid,
            "kind": kind,
            "at": now,
            "note": None,
            "replyText": reply_text,
            "extensionDays": None,
        }
        return schemas.encode(codec.UNIT_STATUS_V1, body)

    reply = "已办理：经核实，已按政策予以协调解决。"
    return [
        (unit_topic, pid.encode(), status("SIGNED_FOR"), rng.uniform(0.5, 1) * pace),
        (unit_topic, pid.encode(), status("IN_PROGRESS"), rng.uniform(1, 2) * pace),
        (unit_topic, pid.encode(), status("REPLIED", reply), rng.uniform(2, 4) * pace),
    ]


def install_demo_units(app: faust.App, settings: Settings, pace: float = 3.0) -> None:
    """Play the units and the petitioners: a lead unit signs for each petition it gets, works on
    it and replies a few seconds later; a petitioner asked to evaluate rates the reply. They read
    and write the hub's public topics only, as the real ones do."""
    from aiokafka import AIOKafkaConsumer

    rng = random.Random(7)

    async def act(delay: float, topic: str, key: bytes, value: bytes) -> None:
        await asyncio.sleep(delay)
        # the worker stopping drops a demo unit's pending action
        with contextlib.suppress(NotReady):
            await app.producer.send(topic, key, value, None, None, [])

    @app.task  # type: ignore[untyped-decorator]
    async def demo_units() -> None:
        await app.producer.maybe_start()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers(),
            group_id=f"{settings.app_id}-dev-demo-units",
            auto_offset_reset="earliest",
            session_timeout_ms=2000,
            heartbeat_interval_ms=400,
        )
        requests = "|".join(f"^{re.escape(topic)}$" for topic in _REQUESTS)
        consumer.subscribe(pattern=rf"^(dept|county)\..+\.petitions$|{requests}")
        await consumer.start()
        tasks: set[asyncio.Task[None]] = set()
        handled: set[tuple[str, str]] = set()  # a unit acts once per petition (not per edit)
        try:
            async for msg in consumer:
                if msg.topic not in _REQUESTS:
                    if (msg.topic, (msg.key or b"").decode()) in handled:
                        continue
                    handled.add((msg.topic, (msg.key or b"").decode()))
                reactions = demo_reaction(msg.topic, msg.value, rng, pace, datetime.now(UTC))
                for topic, key, value, delay in reactions:
                    task = asyncio.ensure_future(act(delay, topic, key, value))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            await consumer.stop()


def install_summary(app: faust.App, settings: Settings) -> None:
    """Print :func:`summary_line` every couple of seconds."""
    started = time.monotonic()

    @app.timer(SUMMARY_EVERY)  # type: ignore[untyped-decorator]
    async def print_summary() -> None:
        elapsed = int(time.monotonic() - started)
        print(f"[{elapsed:>4}s] {summary_line()}", flush=True)


def with_dev_key(settings: Settings) -> tuple[Settings, str, str]:
    """``settings`` with the key dev's worker seals dead letters with, what the banner says of
    it, and the setting an operator's CLI line needs (empty for a key from the environment).

    ``HUB_PII_KEY`` from the environment wins (checked here: ``ValueError`` when it is not Fernet
    keys); otherwise dev makes a key of its own in ``HUB_DATA_DIR`` (once, kept across runs). Only
    dev does: a worker or tool without a key refuses to start.
    """
    if has_key(settings):
        cipher_for(settings)
        return settings, "HUB_PII_KEY of the environment", ""
    path = dev_key_file(settings.data_dir)
    key = SecretStr(path.read_text(encoding="ascii").strip())
    keyed = settings.model_copy(update={"pii_key": key})
    cipher_for(keyed)
    setting = f'HUB_PII_KEY="$(cat {shlex.quote(str(path))})" '
    return keyed, f"{path}  (dev key: give it to tools as HUB_PII_KEY)", setting


def run_dev(settings: Settings, demo_rate: float | None) -> int:
    """Run the hub on the embedded broker until Ctrl-C; returns the exit status."""
    try:
        settings, key_banner, key_setting = with_dev_key(settings)
    except ValueError as exc:  # a HUB_PII_KEY of the environment that is not Fernet keys
        print(f"petition-hub dev: {exc}", file=sys.stderr)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    broker = EmbeddedBroker(log_file=settings.data_dir / "tansu.log").start()
    try:
        text, code = run_apply(broker.bootstrap, True, settings.topics_file, app_id=settings.app_id)
        if code != 0:
            print(text, file=sys.stderr)
            return code
        dev_settings = settings.model_copy(update={"broker": broker.url})
        app = create_app(dev_settings)
        if demo_rate:
            install_demo(app, demo_rate)
            install_demo_units(app, dev_settings)
        install_summary(app, dev_settings)
        port = settings.metrics_port
        created = sum(line.startswith("+") for line in text.splitlines())
        demo = (
            f"{demo_rate:g} messages/s from all three channels; demo units sign for and reply, "
            "petitioners rate"
            if demo_rate
            else "off"
        )
        print(
            "petition hub (dev)\n"
            f"  broker   {broker.bootstrap}  (embedded Tansu, memory only)\n"
            f"  topics   {created} created from {settings.topics_file.name}\n"
            f"  metrics  http://127.0.0.1:{port}/metrics\n"
            f"  health   http://127.0.0.1:{port}/health\n"
            f"  demo     {demo}\n"
            f"  key      {key_banner}\n"
            f"  CLI      HUB_BROKER={broker.url} {key_setting}"
            f"HUB_DATA_DIR={shlex.quote(str(settings.data_dir.resolve()))} "
            "petition-hub dlq list\n"
            "  stop     Ctrl-C",
            flush=True,
        )
        try:
            worker_for(app, dev_settings).execute_from_commandline()
        except SystemExit as exit_:
            return int(exit_.code or 0)
        return 0
    finally:
        broker.stop()
