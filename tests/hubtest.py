"""Test helpers: a hub worker in a subprocess, and plain Kafka produce/consume on loopback (the
hub's own confluent-kafka clients: :mod:`petition_hub.broker.tools`, the topics' admin)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Self, cast

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition
from cryptography.fernet import Fernet

from petition_hub import schemas
from petition_hub.broker import reading, tools
from petition_hub.broker.embedded import free_port
from petition_hub.connectors.base import DecodeError
from petition_hub.runtime.cloudevents import HEADERS
from petition_hub.service.crypto import PiiCipher
from petition_hub.topics.admin import KafkaTopicAdmin
from petition_hub.topics.spec import TopicSpec

Header = tuple[str, bytes]

#: The dead-letter key (HUB_PII_KEY) of this test session: every WorkerProcess and hub_cli gets it.
TEST_PII_KEY = Fernet.generate_key().decode()


def pii_cipher() -> PiiCipher:
    """The cipher of ``TEST_PII_KEY``: what the tests' workers seal dead letters with."""
    return PiiCipher(TEST_PII_KEY)


@dataclass
class Record:
    """A record as the tests produce and read it."""

    key: bytes | None
    value: bytes | None
    headers: Sequence[Header] = ()
    partition: int = -1
    offset: int = -1
    topic: str = ""


#: The largest record ``produce`` sends (librdkafka's ``message.max.bytes``; its default is 1 MB):
#: the poison tests send values of several MiB, which Tansu accepts.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None, Sequence[Header]]],
    timeout: float = 60.0,
) -> int:
    """Send records (key, value, headers) with the tools' producer (acks=all, Kafka's murmur2
    partitioner) and wait until all are acknowledged; how many were sent."""
    # batches of 16 KiB, as kafka-python's producer made them before (librdkafka's are up to
    # 1 MB: a test's few thousand records would land as one batch per partition). How the records
    # are batched changes how Tansu's end-offset deviation shows: with 1 MB batches faust's stock
    # driver recovered the whole table in 2 of 5 runs of test_table_recovery.py's canary, with
    # 16 KiB batches in none of 9
    producer = tools.SendingProducer(
        bootstrap, {"linger.ms": 5, "batch.size": 16384, "message.max.bytes": MAX_MESSAGE_BYTES}
    )
    try:
        return len(producer.send_all(topic, records, timeout=timeout))
    finally:
        producer.close()


#: librdkafka errors a reading rides through: librdkafka reconnects and fetches again by itself
#: (a test may restart or slow down the broker while it reads)
_PASSING_ERRORS = frozenset(
    {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT}
)


def _read(
    bootstrap: str,
    topics: Sequence[str],
    timeout: float,
    done: Callable[[list[Record], bool, bool, bool], bool],
    grace: float = 0.0,
) -> tuple[list[Record], bool]:
    """Read ``topics`` from the beginning (the tools' consumer: no group) until
    ``done(records, at_end, reached_end, expired)`` or ``timeout + grace`` seconds; (records,
    whether done). ``expired``: ``timeout`` has passed (``done`` may then settle for less).

    ``at_end``: every partition's end (the high watermark of the fetch responses: right on Tansu
    too, unlike ListOffsets) was reached after its last record; ``reached_end``: every partition's
    end was reached at least once since the reading began. A topic that does not exist yet is
    waited for."""
    deadline = time.monotonic() + timeout
    client = tools.consumer(bootstrap)
    try:
        assigned: list[TopicPartition] = []
        for name in topics:
            parts = tools.partitions_of(client, name)
            while not parts and time.monotonic() < deadline:
                time.sleep(0.2)
                parts = tools.partitions_of(client, name)
            assigned += [TopicPartition(name, p, OFFSET_BEGINNING) for p in parts]
        client.assign(assigned)
        every = {(tp.topic, tp.partition) for tp in assigned}
        at_end: set[tuple[str, int]] = set()
        reached: set[tuple[str, int]] = set()
        out: list[Record] = []
        next_offset: dict[tuple[str, int], int] = {}
        while not done(out, at_end == every, reached == every, time.monotonic() >= deadline):
            if time.monotonic() >= deadline + grace:
                return out, False
            for m in client.consume(num_messages=5000, timeout=0.3):
                where = (str(m.topic()), int(m.partition() or 0))
                error = m.error()
                if error is not None and error.code() in _PASSING_ERRORS:
                    continue
                if reading.is_end(m):
                    at_end.add(where)
                    reached.add(where)
                    continue
                at_end.discard(where)
                offset = int(m.offset() or 0)
                if offset < next_offset.get(where, 0):
                    # delivered again (a fetch restarted before where the reading was): the same
                    # record, not a duplicate written to the topic (those have offsets of their own)
                    continue
                next_offset[where] = offset + 1
                headers = cast(list[Header], list(m.headers() or []))
                out.append(Record(m.key(), m.value(), headers, where[1], offset, where[0]))
        return out, True
    finally:
        client.close()


#: How long a reading may go on past its timeout to reach the topics' ends (a CPU-starved
#: machine reads slowly; a partial topic would read as lost records).
READ_GRACE = 120.0


def read_topic(
    bootstrap: str, topic: str | Sequence[str], min_count: int = 0, timeout: float = 30.0
) -> list[Record]:
    """Every record of ``topic`` (or of several topics) from the beginning, waiting until at least
    ``min_count`` arrived (what arrived by then after ``timeout`` seconds).

    Always reads until every partition is at its fetch high watermark (right on Tansu too), so the
    result is the topics' whole content at the time of reading: ``timeout`` bounds only the wait
    for ``min_count``; on a busy machine the reading itself may take longer (up to
    ``READ_GRACE`` seconds more), and a reading that never reaches the ends fails rather than
    return part of a topic.
    """
    topics = [topic] if isinstance(topic, str) else list(topic)

    def done(records: list[Record], at_end: bool, _: bool, expired: bool) -> bool:
        return at_end and (expired or len(records) >= min_count)

    out, complete = _read(bootstrap, topics, timeout, done, grace=READ_GRACE)
    assert complete, (
        f"{topics} not read to their ends in {timeout + READ_GRACE:g}s ({len(out)} records)"
    )
    return out


def keys_on(
    bootstrap: str,
    topic: str,
    expected: Collection[str] | int,
    timeout: float = 120.0,
    key: Callable[[Record], str] = lambda r: (r.key or b"").decode(),
) -> Counter[str]:
    """How many records of ``topic`` carry each key (``key``: the record's, or another of its
    names), once every key of ``expected`` is there, or that many keys (what is there after
    ``timeout`` seconds otherwise). Keys, not records, are waited for: after a crash some records
    are written twice, and their number reaches the number wanted before the last keys are
    written."""
    deadline = time.monotonic() + timeout
    while True:
        found = Counter(key(r) for r in read_topic(bootstrap, topic))
        there = len(found) >= expected if isinstance(expected, int) else set(expected) <= set(found)
        if there or time.monotonic() > deadline:
            return found
        time.sleep(1.0)


def keyed_records(
    bootstrap: str, topic: str, key: str, count: int = 0, timeout: float = 90.0
) -> list[Record]:
    """The records of ``topic`` keyed ``key`` (a petition id, a channel's reference), once there
    are at least ``count`` (fails after ``timeout`` seconds)."""

    def enough() -> tuple[list[Record]] | None:  # a tuple: truthy even when none are asked for
        found = [r for r in read_topic(bootstrap, topic, timeout=5) if r.key == key.encode()]
        return (found,) if len(found) >= count else None

    (found,) = wait_until(enough, timeout, what=f"{count} records keyed {key} on {topic}")
    return list(found)


def decoded(records: Iterable[Record]) -> list[dict[str, Any]]:
    """The Avro values of ``records`` (Confluent wire format), decoded."""
    return [dict(schemas.decode(r.value or b"")[1]) for r in records]


def wait_for(
    what: str, found: Callable[[], list[Any]], count: int, timeout: float = 90.0
) -> list[Any]:
    """What ``found()`` returns once it holds at least ``count`` items (fails after ``timeout``
    seconds, naming ``what``)."""

    def enough() -> tuple[list[Any]] | None:
        got = found()
        return (got,) if len(got) >= count else None

    (result,) = wait_until(enough, timeout, what=f"{count} {what}")
    return list(result)


def lifecycle_of(bootstrap: str, pid: str) -> list[dict[str, Any]]:
    """The ``hub.lifecycle`` records of petition ``pid`` so far, decoded."""
    return decoded(
        r for r in read_topic(bootstrap, "hub.lifecycle", timeout=5) if r.key == pid.encode()
    )


def linked_repeats(bootstrap: str) -> set[str]:
    """The petitions the lifecycle linked to an open case so far (``repeat_linked`` on
    ``hub.lifecycle``: 重复诉求): by design they have no case of their own, no clock and no
    count, so a test expecting one per routed petition leaves these out."""
    return {
        r["repeatId"]
        for r in decoded(read_topic(bootstrap, "hub.lifecycle", timeout=5))
        if r["kind"] == "repeat_linked"
    }


def read_to_ends(bootstrap: str, topics: Sequence[str], timeout: float = 120.0) -> list[Record]:
    """Every record of ``topics`` from the beginning to each partition's end as the reading
    reaches it: for topics written on meanwhile, which might never all be at their ends at once
    (what comes after an end is read too, as far as the reading got). Fails after ``timeout``."""
    out, done = _read(bootstrap, topics, timeout, lambda _, __, reached, ___: reached)
    assert done, f"{len(topics)} topics not read to their ends in {timeout:g}s ({len(out)} records)"
    return out


def topic_names(bootstrap: str) -> set[str]:
    """Every topic on the broker (internal ones included)."""
    client = tools.consumer(bootstrap)
    try:
        metadata = client.list_topics(timeout=30)
    finally:
        client.close()
    return {name for name, info in metadata.topics.items() if info.error is None}


def create_topics(bootstrap: str, partitions: Mapping[str, int]) -> None:
    """Create bare topics (name: partitions; replication 1, the broker's default configuration), as
    a client other than the hub would, with the hub's admin client; fails unless each was created
    (or existed)."""
    # built without validation: a TopicSpec of topics.yaml always sets cleanup.policy and
    # retention.ms, and these topics must have none of their own (the hub's tools see them as
    # foreign or drifted topics)
    specs = [
        TopicSpec.model_construct(
            name=name, partitions=n, replication_factor=1, config={}, description="a test's topic"
        )
        for name, n in partitions.items()
    ]
    with KafkaTopicAdmin(bootstrap) as admin:
        failed = {name: why for name, why in admin.create(specs).items() if why is not None}
    assert not failed, f"topics not created: {failed}"


#: The bearer token every WorkerProcess accepts (HUB_API_TOKENS), and http_json sends.
TEST_API_TOKEN = "hub-test-token"


def http_json(
    url: str, timeout: float = 2.0, token: str | None = TEST_API_TOKEN
) -> tuple[int, Any]:
    """GET ``url`` (with ``Authorization: Bearer <token>`` unless None); (status, parsed JSON or
    text)."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            body = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as err:
        body, status = err.read().decode(), err.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


@dataclass
class WorkerProcess:
    """``petition-hub worker`` in a subprocess, against a given broker."""

    broker_url: str
    app_id: str
    data_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    #: the program to run; default the hub's worker (tests/apps/*.py are other faust apps)
    command: Sequence[str] = (sys.executable, "-m", "petition_hub", "worker")
    #: the folder it runs in; default the test's own
    cwd: Path | None = None

    def start(self, wait_ready: float = 60.0) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HUB_BROKER": self.broker_url,
            "HUB_APP_ID": self.app_id,
            "HUB_METRICS_PORT": str(self.port),
            "HUB_DATA_DIR": str(self.data_dir),
            "HUB_LOG_LEVEL": "INFO",
            "HUB_PII_KEY": TEST_PII_KEY,
            "HUB_API_TOKENS": TEST_API_TOKEN,
            **self.env_extra,
        }
        self.log_path = self.data_dir / f"worker-{self.port}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(self.command),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.cwd,
            )
        if wait_ready:
            self.wait_ready(wait_ready)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, Any]:
        try:
            _, body = http_json(self.url + "/health")
        except OSError:
            return {"ready": False}
        return body if isinstance(body, dict) else {"ready": False}

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Wait until /health says ready; returns the seconds it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            if self.health().get("ready"):
                return time.monotonic() - t0
            time.sleep(0.1)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.log()[-4000:]}")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Stop the worker (SIGTERM: graceful; SIGKILL: a crash). Returns the exit code."""
        proc, self.proc = self.proc, None
        return None if proc is None else stop_process(proc, sig, timeout)


def wait_progress(
    measure: Callable[[], float], target: float, what: str, stall: float = 90.0
) -> float:
    """Wait until ``measure()`` reaches ``target``, as long as it keeps moving: fail only after
    ``stall`` seconds without progress (a loaded machine is slow, a stuck hub does not move)."""
    best, since = measure(), time.monotonic()
    while best < target:
        if time.monotonic() - since > stall:
            raise AssertionError(f"{what}: stuck at {best} of {target} for {stall:.0f}s")
        time.sleep(0.5)
        now = measure()
        if now > best:
            best, since = now, time.monotonic()
    return best


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.2, what: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True while a process with ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def metric_sum(exposition: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` in a Prometheus exposition whose labels include ``labels``."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def app_command(script: str) -> tuple[str, ...]:
    """The command running ``tests/apps/<script>`` (a faust app of the tests) as a worker."""
    return (sys.executable, str(Path(__file__).parent / "apps" / script))


def run_hub(
    *args: str, env: Mapping[str, str], timeout: float = 120, cwd: str | Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``petition-hub ARGS`` (``python -m petition_hub``) in ``env``: its exit status, standard
    output and standard error, as text."""
    return subprocess.run(
        [sys.executable, "-m", "petition_hub", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def stop_process(
    proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 30.0
) -> int | None:
    """Send ``sig`` to ``proc`` if it still runs and wait up to ``timeout`` seconds for it to end;
    kill it if it does not. Returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def hub_cli(broker_url: str, data_dir: Path, *args: str, check: bool = True) -> str:
    """Run ``petition-hub ARGS`` against ``broker_url``; its standard output."""
    env = {
        **os.environ,
        "HUB_BROKER": broker_url,
        "HUB_DATA_DIR": str(data_dir),
        "HUB_PII_KEY": TEST_PII_KEY,
    }
    result = run_hub(*args, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"petition-hub {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def set_clock(path: Path, when: datetime) -> datetime:
    """Set a controllable clock (``HUB_CLOCK_FILE``) atomically: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(when.isoformat())
    os.replace(tmp, path)
    return when


def court_dispatch(
    dispatch_id: str, received: datetime, person: Mapping[str, str] | None = None
) -> bytes:
    """A provincial dispatch (``Dispatch.v1``) of an enterprise's enforcement case, which the
    hub routes to the intermediate court (dept.COURT) with the public security bureau. With
    ``person`` (``name``, ``id``, ``phone``): a private person's case instead, their data in the
    text too."""
    from petition_hub import schemas

    if person is None:
        petitioner: dict[str, Any] = {
            "kind": "ENTERPRISE",
            "name": "平顶山市新城环保建材有限公司",
            "uscc": "91410411MA0055210F",
            "idNumber": None,
            "contactName": "孙总",
            "phone": "13700375555",
        }
        subject = "合同纠纷执行难"
        content = (
            "我公司与外地某企业的货款纠纷已胜诉，判决生效半年仍未执行到位，"
            "申请法院强制执行进展缓慢，请求协调。"
        )
    else:
        name, id_number, phone = person["name"], person["id"], person["phone"]
        petitioner = {
            "kind": "INDIVIDUAL",
            "name": name,
            "uscc": None,
            "idNumber": id_number,
            "contactName": None,
            "phone": phone,
        }
        subject = f"{name}的合同纠纷执行难"
        content = (
            f"我是{name}，身份证{id_number}，与外地某企业的货款纠纷已胜诉，"
            f"判决生效半年仍未执行到位，申请法院强制执行进展缓慢，请求协调。电话{phone}。"
        )
    return schemas.encode(
        "cn.gov.ha.petition.Dispatch.v1",
        {
            "dispatchId": dispatch_id,
            "originChannel": "PROVINCE_WEB",
            "receivedAt": received,
            "petitioner": petitioner,
            "category": "LEGAL_RIGHTS",
            "subject": subject,
            "content": content,
            "regionCode": "410411",
            "targetCity": "410400",
            "confidential": False,
        },
    )


def decode_error(
    decode: Callable[[bytes | None, bytes | None, Sequence[Header]], Any],
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[Header] = (),
) -> DecodeError:
    """The :class:`DecodeError` a connector's ``decode`` must raise for this record."""
    with pytest.raises(DecodeError) as info:
        decode(key, value, headers)
    return info.value


def sample_with(value: bytes, **changes: Any) -> dict[str, Any]:
    """A JSON sample (its value bytes) as a dict, with ``changes`` (a value of ``...`` deletes the
    field)."""
    obj: dict[str, Any] = json.loads(value)
    for k, v in changes.items():
        if v is ...:
            obj.pop(k, None)
        else:
            obj[k] = v
    return obj


def strings_of(node: Any) -> Iterator[str]:
    """Every text in a decoded record (nested dicts and lists; bytes decoded), for leak scans."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, bytes):
        yield node.decode(errors="replace")
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings_of(v)
    elif isinstance(node, list | tuple):
        for v in node:
            yield from strings_of(v)


def start_dev(
    data_dir: Path, metrics_port: int, demo_rate: float = 40, *, with_logs: bool = False
) -> subprocess.Popen[str]:
    """``petition-hub dev`` with its demo (no HUB_* of the caller's environment), its screen on
    the process's stdout (its log lines on stderr dropped, or ``with_logs`` on stdout too, as a
    terminal shows both); the caller stops it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATA_DIR": str(data_dir),
        "HUB_METRICS_PORT": str(metrics_port),
        "HUB_CONSOLE_PORT": str(free_port()),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "petition_hub", "dev", "--demo-rate", f"{demo_rate:g}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if with_logs else subprocess.DEVNULL,
        text=True,
    )


def cloudevent_problems(topic: str, records: list[Record]) -> Iterator[str]:
    """What is wrong with the CloudEvents headers of ``topic``'s records (the Kafka binding's
    binary mode, read back by the ``cloudevents`` library; ids unique per topic)."""
    ids: Counter[str] = Counter()
    for r in records:
        where = f"{topic}:{r.partition}:{r.offset}"
        headers = dict(r.headers)
        missing = [h for h in HEADERS if not headers.get(h)]
        if missing:
            yield f"{where}: no {missing} in {sorted(headers)}"
            continue
        message = KafkaMessage(
            {k: v for k, v in headers.items() if v is not None}, r.key, r.value or b""
        )
        event = from_binary(message, JSONFormat())
        ids[event.get_id()] += 1
        if event.get_specversion() != "1.0" or not event.get_source().startswith("/petition-hub/"):
            yield f"{where}: {event.get_attributes()}"
        avro = r.value is not None and r.value[:1] == b"\x00"
        if avro and event.get_datacontenttype() != "application/avro":
            yield f"{where}: an Avro value of content type {event.get_datacontenttype()}"
        if avro and not event.get_type().startswith(
            schemas.record_name(schemas.split_header(r.value or b"")[0])
        ):
            yield f"{where}: type {event.get_type()} of an Avro value of another record"
        if event.get_time() is None:
            yield f"{where}: no time"
    twice = {i: n for i, n in ids.items() if n > 1}
    if twice:
        yield f"{topic}: ids more than once: {list(twice.items())[:5]}"
