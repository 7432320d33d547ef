"""`petition-hub dev`: petitions flow within a minute, and nothing outlives the command."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from hubtest import pid_alive, start_dev, wait_until
from petition_hub.broker.embedded import broker_answers, free_port
from petition_hub.devtools.dev_console import DEMO_PASSWORD
from petition_hub.devtools.dev_screen import width

pytestmark = [pytest.mark.broker, pytest.mark.slow]

#: The summary's lines (each within 100 columns): petitions in, dead letters, routed to …
PETITIONS_IN = re.compile(r"\[\s*\d+s\] petitions in: (\d+) \(")
ROUTED = re.compile(r"^\s+routed to (\d+) units ")
DEAD_LETTERS = re.compile(r"^\s+dead letters: (\d+) ")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def _start_dev(tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    return start_dev(tmp_path / "var", port, with_logs=True), port


def _console_of(dev_pid: int) -> int:
    def cmdline(pid: int) -> str:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")

    found = [c for c in _children(dev_pid) if "console serve" in cmdline(c)]
    assert len(found) == 1, found
    return found[0]


def _console_signs_in(url: str) -> bool:
    """The console answers and the demo office account signs in (the page, its CSRF token)."""
    try:
        with httpx.Client(base_url=url, timeout=5) as client:
            if client.get("/health").status_code != 200:
                return False
            page = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
            assert token is not None, page[:300]
            answer = client.post(
                "/login",
                data={"username": "office", "password": DEMO_PASSWORD, "csrf_token": token[1]},
            )
            return answer.status_code == 303 and client.get("/office").status_code == 200
    except httpx.HTTPError:
        return False


def _broker_of(dev_pid: int) -> int:
    tansu = [c for c in _children(dev_pid) if "tansu" in Path(f"/proc/{c}/cmdline").read_text()]
    assert len(tansu) == 1, tansu
    return tansu[0]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL])
def test_dev_shows_petitions_flowing_and_leaves_nothing_running(
    tmp_path: Path, stop: signal.Signals
) -> None:
    proc, port = _start_dev(tmp_path)
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline()]
        while "stop" not in banner[-1]:
            banner.append(proc.stdout.readline())
        text = "".join(banner)
        assert f"metrics  http://127.0.0.1:{port}/metrics" in text
        bootstrap = re.search(r"^\s+broker\s+(\S+)", text, re.MULTILINE)
        assert bootstrap is not None, banner
        host, broker_port = bootstrap.group(1).split(":")
        broker_pid = _broker_of(proc.pid)
        console = re.search(r"^\s+console\s+(http://\S+)/$", text, re.MULTILINE)
        assert console is not None and DEMO_PASSWORD in text, banner
        console_pid = _console_of(proc.pid)
        deadline = time.monotonic() + 60
        petitions = units = 0
        dead_letters: int | None = None
        seen = list(banner)
        for line in proc.stdout:
            seen.append(line)
            if match := PETITIONS_IN.search(line):
                petitions = int(match.group(1))
            elif match := DEAD_LETTERS.search(line):
                dead_letters = int(match.group(1))
            elif match := ROUTED.search(line):
                units = int(match.group(1))
                if petitions >= 20 and units >= 3:
                    break
            assert time.monotonic() < deadline, "no petitions within a minute"
        assert petitions >= 20 and dead_letters is not None
        wait_until(lambda: _console_signs_in(console[1]), 60, what="the console's sign-in")
        # nothing wraps on a 100-column terminal but the command line and the lines naming a file
        # (key, topics), which must stay whole
        whole = ("  CLI      ", "  key      ", "  topics   ")
        wide = [s for s in seen if width(s.rstrip("\n")) > 100 and not s.startswith(whole)]
        assert wide == [], wide

        # keep reading what dev writes, as a terminal does: a pipe nobody reads fills up and
        # blocks dev's next write, and a process stuck in a write does not stop as it should
        rest: list[str] = []
        reader = threading.Thread(target=lambda: rest.extend(proc.stdout or ()), daemon=True)
        reader.start()
        proc.send_signal(stop)
        code = proc.wait(30)
        reader.join(10)
        if stop == signal.SIGINT:
            assert code == 0, "".join(rest[-80:])
        wait_until(lambda: not pid_alive(broker_pid), 10, what="the broker to stop")
        wait_until(lambda: not pid_alive(console_pid), 15, what="the console to stop")
        assert not broker_answers(host, int(broker_port))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
