"""The embedded broker starts on a free loopback port, answers, and never outlives its parent."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from hubtest import pid_alive, wait_until
from petition_hub.broker.embedded import EmbeddedBroker, broker_answers

pytestmark = pytest.mark.broker


def test_starts_on_loopback_answers_and_stops() -> None:
    with EmbeddedBroker() as b:
        assert b.host == "127.0.0.1" and b.port
        assert b.url == f"tansu://127.0.0.1:{b.port}"
        assert broker_answers(b.host, b.port)
        pid = b.pid
        assert pid is not None and pid_alive(pid)
    assert not pid_alive(pid)
    assert not broker_answers("127.0.0.1", b.port)


def test_two_brokers_get_different_ports() -> None:
    with EmbeddedBroker() as a, EmbeddedBroker() as b:
        assert a.port != b.port


_PARENT = textwrap.dedent(
    """
    import sys, time
    from petition_hub.broker.embedded import EmbeddedBroker
    b = EmbeddedBroker().start()
    print("BROKER-PID", b.pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_broker_dies_with_its_parent(sig: signal.Signals) -> None:
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        line = ""
        while not line.startswith("BROKER-PID"):
            line = parent.stdout.readline()
        broker_pid = int(line.split()[1])
        assert pid_alive(broker_pid)
        parent.send_signal(sig)
        parent.wait(10)
        wait_until(lambda: not pid_alive(broker_pid), 10, what="broker to die with its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
