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
import itertools
import json
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import faust
import structlog
from faust.exceptions import NotReady
from pydantic import SecretStr

from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.connectors import CHANNELS
from petition_hub.data import load_samples
from petition_hub.devtools import dev_console, dev_screen
from petition_hub.devtools.corpus import generate_all
from petition_hub.domain.calendar import WorkingCalendar
from petition_hub.service.crypto import cipher_for, dev_key_file, has_key
from petition_hub.service.runner import worker_for
from petition_hub.service.settings import Settings
from petition_hub.service.worker import create_app
from petition_hub.topics import run_apply

if TYPE_CHECKING:  # the wire format is imported when the demo reacts (start-up time)
    from petition_hub.schemas import records as wire

log = structlog.get_logger(__name__)

SUMMARY_EVERY = 3.0


DemoMessage = tuple[str, bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]


#: Messages per channel in one round of the demo stream: their receipt times span a few hours
#: (one every 7 to 13 minutes), all before the round starts.
DEMO_ROUND = 20


def demo_stream(
    seed: int = 2026, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Iterator[DemoMessage]:
    """An endless, realistic stream (topic, key, value, headers): first the channels' contract
    samples, then generated messages of all channels, shuffled, about 3% of them broken.

    Each round uses a fresh seed, so references do not repeat across rounds, and its petitions
    arrive now: their receipt times run up to ``clock()`` at the round's start (not the corpus's
    days of 2026, which would make every one overdue on arrival and fire every step of the SLA
    ladder at intake).
    """
    for sample in load_samples().values():
        yield sample.topic, sample.key, sample.value, sample.headers
    for round_no in itertools.count():
        items = generate_all(DEMO_ROUND, seed + round_no, ending=clock())
        valid = [i for i in items if i.expected == "petition"]
        broken = [i for i in items if i.expected == "deadletter"]
        rng = random.Random(seed + round_no)
        mixed = valid + rng.sample(broken, min(len(broken), max(1, len(valid) // 30)))
        rng.shuffle(mixed)
        for item in mixed:
            yield item.topic, item.key, item.value, item.headers


async def _send(
    app: faust.App,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
) -> bool:
    """Send one demo record; False once the worker is stopping (Ctrl-C stops the producer before
    the demo's tasks: a send then is dropped, not a crash that makes dev exit 1)."""
    try:
        await app.producer.send(topic, key, value, None, None, headers)
    except NotReady:
        return False
    return True


def install_demo(app: faust.App, rate: float) -> None:
    """Feed the demo stream into the channel topics at about ``rate`` messages a second."""

    @app.task  # type: ignore[untyped-decorator]
    async def feed_demo() -> None:
        await app.producer.maybe_start()
        interval = 1.0 / rate if rate > 0 else 0.0
        for topic, key, value, headers in demo_stream():
            if not await _send(app, topic, key, value, list(headers)):
                return
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


#: The demo's replies by kind (resolved: 问题解决; explained: 解释说明), and how often explained.
_REPLIES = {
    False: ("RESOLVED", "已办理：经核实，已按政策予以协调解决。"),
    True: ("EXPLAINED", "经核实，该诉求不符合现行政策规定，暂无法办理，已向企业当面解释说明。"),
}
_EXPLAINED_SHARE = 0.2
#: What a demo co-handler says to the lead (协办意见).
_OPINION = "协办意见：我单位已核实相关情况，建议按现行政策办理，可配合现场核查。"

Reaction = tuple[str, bytes, bytes, float]
"""What a demo unit or petitioner sends: topic, key, value, and after how many seconds."""


def demo_reaction(
    topic: str, value: bytes | None, rng: random.Random, pace: float, now: datetime
) -> list[Reaction]:
    """How the demo's units and petitioners answer a record of ``topic``: a lead unit signs for,
    works on and replies to a petition (resolved, 问题解决, mostly; explained, 解释说明, now and
    then); a co-handler sends an opinion (协办意见) to every other petition it co-handles; a
    petitioner asked to evaluate rates the reply."""
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
    if record["role"] not in ("LEAD", "CO_HANDLER"):
        return []  # triage: the office's
    pid = record["petitionId"]
    unit_topic = topic.removesuffix(".petitions") + ".status"

    def status(kind: str, **fields: str | None) -> bytes:
        body: wire.UnitStatus = {
            "petitionId": pid,
            "kind": kind,
            "at": now,
            "note": fields.get("note"),
            "replyText": fields.get("reply_text"),
            "extensionDays": None,
            "replyKind": fields.get("reply_kind"),
            "eventId": f"{unit_topic}/{pid}/{kind}",  # the unit's own id of the event
        }
        return schemas.encode(codec.UNIT_STATUS_V3, body)

    if record["role"] == "CO_HANDLER":
        if rng.random() < 0.5:
            return []  # nothing to add this time
        opinion = status("OPINION", note=_OPINION)
        return [(unit_topic, pid.encode(), opinion, rng.uniform(0.5, 2) * pace)]
    reply_kind, reply = _REPLIES[rng.random() < _EXPLAINED_SHARE]
    replied = status("REPLIED", reply_text=reply, reply_kind=reply_kind)
    return [
        (unit_topic, pid.encode(), status("SIGNED_FOR"), rng.uniform(0.5, 1) * pace),
        (unit_topic, pid.encode(), status("IN_PROGRESS"), rng.uniform(1, 2) * pace),
        (unit_topic, pid.encode(), replied, rng.uniform(2, 4) * pace),
    ]


def install_demo_units(app: faust.App, settings: Settings, pace: float = 3.0) -> None:
    """Play the units and the petitioners: a lead unit signs for each petition it gets, works on
    it and replies a few seconds later; a petitioner asked to evaluate rates the reply. They read
    and write the hub's public topics only, as the real ones do."""
    from aiokafka import AIOKafkaConsumer

    rng = random.Random(7)

    async def act(delay: float, topic: str, key: bytes, value: bytes) -> None:
        await asyncio.sleep(delay)
        await _send(app, topic, key, value, [])  # the worker stopping drops a pending action

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
    """Print :func:`dev_screen.summary_lines` every couple of seconds."""
    started = time.monotonic()

    @app.timer(SUMMARY_EVERY)  # type: ignore[untyped-decorator]
    async def print_summary() -> None:
        elapsed = int(time.monotonic() - started)
        print("\n".join(dev_screen.summary_lines(elapsed)), flush=True)


def with_dev_key(settings: Settings) -> tuple[Settings, str, Path | None]:
    """``settings`` with the key dev's worker seals dead letters with, what the banner says of
    it, and the file an operator's CLI line reads it from (None for a key from the environment).

    ``HUB_PII_KEY`` from the environment wins (checked here: ``ValueError`` when it is not Fernet
    keys); otherwise dev makes a key of its own in ``HUB_DATA_DIR`` (once, kept across runs). Only
    dev does: a worker or tool without a key refuses to start.
    """
    if has_key(settings):
        cipher_for(settings)
        return settings, "HUB_PII_KEY of the environment", None
    path = dev_key_file(settings.data_dir).resolve()
    key = SecretStr(path.read_text(encoding="ascii").strip())
    keyed = settings.model_copy(update={"pii_key": key})
    cipher_for(keyed)
    return keyed, f"{path}  (dev key: give it to tools as HUB_PII_KEY)", path


def _say(what: str) -> None:
    """A line on what dev is doing now (starting takes a while: nobody waits in silence)."""
    print(f"petition hub (dev): {what}", flush=True)


def run_dev(settings: Settings, demo_rate: float | None) -> int:
    """Run the hub on the embedded broker until Ctrl-C; returns the exit status."""
    try:
        settings, key_banner, key_file = with_dev_key(settings)
    except ValueError as exc:  # a HUB_PII_KEY of the environment that is not Fernet keys
        print(f"petition-hub dev: {exc}", file=sys.stderr)
        return 2
    # absolute from here on: the lines dev prints work from any folder
    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _say("starting the embedded Tansu broker…")
    broker = EmbeddedBroker(log_file=settings.data_dir / "tansu.log").start()
    try:
        _say(f"creating the topics of {settings.topics_file}…")
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
        console, console_lines = _start_console(dev_settings)
        created = sum(line.startswith("+") for line in text.splitlines())
        demo = (
            f"{demo_rate:g} messages/s from all three channels, received just now;\n"
            "           demo units sign for and reply, petitioners rate"
            if demo_rate
            else "off"
        )
        calendar = WorkingCalendar.load(settings.calendar_file)
        print(
            dev_screen.banner(
                bootstrap=broker.bootstrap,
                topics=f"{created} created from {settings.topics_file}",
                port=settings.metrics_port,
                console=console_lines,
                demo=demo,
                key=key_banner,
                cli=dev_screen.cli_line(broker.url, key_file, settings.data_dir),
                calendar=dev_screen.calendar_warnings(calendar, datetime.now(UTC).date()),
            ),
            flush=True,
        )
        _say(
            f"starting the worker (its stages join in 10 to 20 s); a summary every "
            f"{SUMMARY_EVERY:g} s"
        )
        try:
            worker_for(app, dev_settings).execute_from_commandline()
        except SystemExit as exit_:
            return int(exit_.code or 0)
        finally:
            if console is not None:
                dev_console.stop(console)
        return 0
    finally:
        broker.stop()


def _start_console(settings: Settings) -> tuple[subprocess.Popen[bytes] | None, list[str]]:
    """The console beside the worker, with its demo accounts; what the banner says of it (a
    checkout installed without the console's extra runs without it, and says so)."""
    _say("starting the console (pages and API, its projector, demo accounts)…")
    try:
        dev_console.ensure_demo_accounts(settings)
    except ImportError:  # pragma: no cover - the console extra is part of .[test]
        return None, ["  console  off (pip install -e '.[console]')"]
    proc = dev_console.start(settings, settings.data_dir / "console.log")
    return proc, dev_console.banner_lines(settings)
