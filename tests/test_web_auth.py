"""The worker's web port (issue 11): bearer tokens on every endpoint but health, metrics and the
schema registry's; loopback unless HUB_BIND says otherwise.

The end-to-end tests run a real worker on the embedded broker. Only loopback addresses are
connected to; where the worker listens is read from ``/proc/net/tcp``.
"""

from __future__ import annotations

import socket
import struct
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from hubtest import TEST_API_TOKEN, WorkerProcess, court_dispatch, http_json, produce, wait_until
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.domain.petition import Channel, petition_id_for
from petition_hub.service.app import faust_settings
from petition_hub.service.settings import Settings
from petition_hub.service.web import OPEN_PATHS, api_tokens, bearer_ok

DISPATCH = "HA-20260601-000077"
PID = petition_id_for(Channel.PROVINCE, DISPATCH)
LEAD = "dept.COURT"
PROTECTED = (f"/units/{LEAD}/petitions", f"/petitions/{PID}")
OPEN = ("/health", "/metrics", "/schemas/ids/1001", "/subjects")


# --- unit tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("broker", ["kafka://kafka:9092", "tansu://127.0.0.1:9092"])
def test_the_web_port_binds_loopback_by_default_on_every_broker(
    broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_BIND", raising=False)
    settings = Settings(broker=broker)
    assert settings.bind == "127.0.0.1"
    assert faust_settings(settings, broker)["web_bind"] == "127.0.0.1"


def test_the_web_port_binds_hub_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BIND", "0.0.0.0")
    settings = Settings(broker="kafka://kafka:9092")
    assert faust_settings(settings, "kafka://kafka:9092")["web_bind"] == "0.0.0.0"


def test_tokens_are_comma_separated_and_blanks_ignored() -> None:
    assert api_tokens(None) == ()
    assert api_tokens(SecretStr("")) == ()
    assert api_tokens(SecretStr(" , ")) == ()
    tokens = api_tokens(SecretStr(" alpha , beta,,"))
    assert len(tokens) == 2
    assert bearer_ok("Bearer alpha", tokens)
    assert bearer_ok("bearer beta", tokens)  # the scheme is case-insensitive (RFC 7235)
    for header in (None, "", "Bearer", "Bearer ", "Basic alpha", "alpha", "Bearer alph"):
        assert not bearer_ok(header, tokens), header
    assert not bearer_ok("Bearer alpha", ())


def test_open_paths_are_health_metrics_and_the_contracts() -> None:
    for path in OPEN_PATHS:
        assert path in ("/health", "/metrics", "/openapi.json") or path.startswith(
            ("/schemas/", "/subjects", "/config", "/compatibility/subjects/")
        )


# --- a real worker -------------------------------------------------------------------------------


def _listening(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (IPv4 and IPv6)."""
    found: set[str] = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host byte order
            words = struct.unpack(f"<{len(raw) // 4}I", raw)
            found.add(socket.inet_ntop(family, struct.pack(f">{len(words)}I", *words)))
    return found


def _status(worker: WorkerProcess, path: str, token: str | None) -> int:
    status, _ = http_json(worker.url + path, timeout=5, token=token)
    return status


@pytest.mark.broker
@pytest.mark.slow
def test_lists_and_history_need_a_token_health_metrics_and_schemas_do_not(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(hub_topics)
    assert _listening(worker.port) == {"127.0.0.1"}

    dispatch = court_dispatch(DISPATCH, datetime.now(UTC))
    produce(hub_topics.bootstrap, "province.dispatch", [(DISPATCH.encode(), dispatch, ())])

    def listed() -> bool:
        status, lists = http_json(worker.url + PROTECTED[0], timeout=5)
        return status == 200 and PID in [r["petition_id"] for r in lists["open"]]

    wait_until(listed, 60, what="the petition in its lead unit's open list")

    for path in PROTECTED:
        status, body = http_json(worker.url + path, timeout=5, token=None)
        assert status == 401, (path, body)
        assert body["error"] == "unauthorized" and "HUB_API_TOKENS" in body["message"]
        assert _status(worker, path, "not-the-token") == 401, path
        assert _status(worker, path, TEST_API_TOKEN) == 200, path
    _, history = http_json(worker.url + PROTECTED[1], timeout=5)
    assert history["petition_id"] == PID

    # faust's own pages are behind the token too
    for path in ("/router/", "/router/topics", "/table/", "/"):
        assert _status(worker, path, None) == 401, path
    # no page at all is a 404 to anyone: a Confluent deserializer (2.16) asks for associations,
    # which the worker does not serve, and takes a 404 for "none" (a 401 would fail it)
    for path in ("/no/such/page", "/associations/resources/lkc/dept.COURT.petitions"):
        assert _status(worker, path, None) == 404, path

    for path in OPEN:
        assert _status(worker, path, None) == 200, path

    # the 401's challenge, as RFC 6750 asks
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(worker.url + PROTECTED[0], timeout=5)
    assert denied.value.code == 401
    assert denied.value.headers["WWW-Authenticate"].startswith("Bearer")
    assert TEST_API_TOKEN not in worker.log()


@pytest.mark.broker
@pytest.mark.slow
def test_hub_bind_and_no_tokens_fail_closed(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(hub_topics, wait_ready=0, HUB_BIND="127.0.0.2", HUB_API_TOKENS="")
    url = f"http://127.0.0.2:{worker.port}"

    def ready() -> bool:
        assert worker.proc is not None and worker.proc.poll() is None, worker.log()[-4000:]
        try:
            status, body = http_json(url + "/health", timeout=2, token=None)
        except OSError:
            return False
        return status == 200 and bool(body.get("ready"))

    wait_until(ready, 60, what="the worker on 127.0.0.2")
    assert _listening(worker.port) == {"127.0.0.2"}

    # no token configured: 401 to everyone, whatever they send, saying what to set
    for token in (None, TEST_API_TOKEN, ""):
        status, body = http_json(f"{url}/units/{LEAD}/petitions", timeout=5, token=token)
        assert status == 401, (token, body)
        assert "set HUB_API_TOKENS" in body["message"]
    for path in OPEN:
        assert http_json(url + path, timeout=5, token=None)[0] == 200, path
