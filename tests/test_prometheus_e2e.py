"""A real Prometheus (Debian's package) scraping a real worker on the embedded broker.

Petitions from all three channels go through intake and routing in two waves; lead units sign
for them (``dept.<CODE>.status``, Avro UnitStatus.v1) in two waves. Prometheus scrapes the
worker every second with the hub's own recording and alert rules (deploy/prometheus/rules,
evaluated every second), and its HTTP API must show: the petitions per channel, the petitions
routed per unit, the sign-fors and the 响应率 computed from the raw series, the recorded 1d rates
(响应率 1 where units signed for everything on time, 办结率 0 where nothing was replied yet),
faust's own sensors, every rule evaluating without error, and every dashboard query parsing.

The lifecycle runs on a controlled clock (HUB_CLOCK_FILE, a Monday in October 2026) so that "signed
for on time" does not depend on the day the test runs.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploycheck import DEPLOY, PROMETHEUS_DIR, require_tool

from hubtest import (
    WorkerProcess,
    http_json,
    linked_repeats,
    produce,
    set_clock,
    stop_process,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker, free_port
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.devtools.corpus import generate_all
from petition_hub.domain.petition import Petition
from petition_hub.domain.routing import route
from petition_hub.domain.rules import default_rules

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
#: after every generated petition's receipt (May to September 2026: intake refuses a petition
#: received more than a day after the hub's clock); a Monday, a working day
ROUTED_AT = datetime(2026, 10, 12, 9, 0, tzinfo=BJ)

Message = tuple[str, bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]


@dataclass
class Prometheus:
    """A prometheus process on a loopback port, with its HTTP API."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector (fails on any error, a parse error included)."""
        status, body = http_json(
            f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}", timeout=10
        )
        assert status == 200 and isinstance(body, dict) and body["status"] == "success", (
            expr,
            body,
        )
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def by(self, expr: str, label: str) -> dict[str, float]:
        """``expr``'s values by one label."""
        return {r["metric"].get(label, ""): float(r["value"][1]) for r in self.query(expr)}

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[[int], Prometheus]]:
    """Factory: a prometheus scraping the worker on ``port`` every second with the hub's rules;
    stopped (and waited for) after the test."""
    binary = require_tool("prometheus")
    started: list[subprocess.Popen[bytes]] = []

    def start(port: int) -> Prometheus:
        home = tmp_path / "prometheus"
        home.mkdir()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))],
            "scrape_configs": [
                {
                    "job_name": "petition-hub",
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                }
            ],
        }
        (home / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        web = free_port()
        log = home / "prometheus.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={home / 'prometheus.yml'}",
                    f"--storage.tsdb.path={home / 'data'}",
                    f"--web.listen-address=127.0.0.1:{web}",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        started.append(proc)
        server = Prometheus(proc, f"http://127.0.0.1:{web}", log)

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {log.read_text(errors='replace')}")
            try:
                return http_json(server.url + "/-/ready")[0] == 200
            except OSError:
                return False

        wait_until(ready, 60, what="prometheus ready")
        return server

    yield start
    for proc in started:
        stop_process(proc)


def _messages() -> list[Message]:
    """Generated petitions of all three channels, one publication per reference (no edits)."""
    latest: dict[bytes | None, Message] = {}
    for item in generate_all(20, seed=61, broken_every=10**9):
        if item.expected == "petition":
            latest[item.key] = (item.topic, item.key, item.value, item.headers)
    return list(latest.values())


def _send(broker: EmbeddedBroker, messages: list[Message]) -> None:
    for topic in sorted({m[0] for m in messages}):
        produce(broker.bootstrap, topic, [(k, v, h) for t, k, v, h in messages if t == topic])


def _sign_for(broker: EmbeddedBroker, leads: list[tuple[str, str]], at: datetime) -> None:
    for unit in sorted({u for _, u in leads}):
        records = [
            (
                pid.encode(),
                schemas.encode(
                    "cn.gov.pds.hub.UnitStatus.v1",
                    {"petitionId": pid, "kind": "SIGNED_FOR", "at": at},
                ),
                (),
            )
            for pid, u in leads
            if u == unit
        ]
        produce(broker.bootstrap, f"{unit}.status", records)


def _equal(got: dict[str, float], want: dict[str, int]) -> bool:
    """Whether ``got`` (series with a value 0 left out: intake creates its series at 0) is
    ``want``."""
    return {k: v for k, v in got.items() if v} == {k: float(v) for k, v in want.items()}


def test_prometheus_scrapes_a_worker(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    start_prometheus: Callable[[int], Prometheus],
    tmp_path: Path,
) -> None:
    messages = _messages()
    petitions: list[Petition] = [PETITION_DECODERS[t](k, v, h) for t, k, v, h in messages]
    channels = Counter(p.channel.value for p in petitions)
    assert set(channels) == {"hotline", "miniprogram", "province"}
    rules = default_rules()
    lead_of = {}
    for p in petitions:
        decision = route(p, rules)
        if decision.kind == "units" and decision.lead is not None:
            lead_of[p.petition_id] = decision.lead.key
    assert len(lead_of) >= 20

    clock = tmp_path / "clock"
    set_clock(clock, ROUTED_AT)
    worker = start_worker(hub_topics, HUB_CLOCK_FILE=str(clock), HUB_LIFECYCLE_PARK_SECONDS="2")
    prom = start_prometheus(worker.port)
    wait_until(lambda: prom.scalar('up{job="petition-hub"}') == 1.0, 30, what="the worker scraped")

    # --- intake and routing, in two waves: Prometheus has scraped the first wave's series
    # --- before the second wave makes them grow (increase() needs that)
    waves = [messages[::3], [m for i, m in enumerate(messages) if i % 3]]
    first_ids = {PETITION_DECODERS[t](k, v, h).petition_id for t, k, v, h in waves[0]}
    sent: Counter[str] = Counter()
    routed: Counter[str] = Counter()
    for wave in waves:
        _send(hub_topics, wave)
        for t, k, v, h in wave:
            p = PETITION_DECODERS[t](k, v, h)
            sent[p.channel.value] += 1
            if p.petition_id in lead_of:
                routed[lead_of[p.petition_id]] += 1
        wait_until(
            lambda: _equal(
                prom.by(
                    'sum by (channel) (petition_hub_petitions_received_total{kind="new"})',
                    "channel",
                ),
                dict(sent),
            ),
            90,
            what=f"Prometheus sees {dict(sent)} petitions per channel",
        )
        wait_until(
            lambda: _equal(
                prom.by('sum by (unit) (petition_hub_routed_total{role="lead"})', "unit"),
                dict(routed),
            ),
            90,
            what=f"Prometheus sees {sum(routed.values())} petitions routed to lead units",
        )
    assert set(sent) == set(channels)
    assert _equal(
        prom.by("sum by (channel) (petition_hub_intake_messages_total)", "channel"), channels
    )
    leads = Counter(lead_of.values())
    assert routed == leads
    decisions = prom.by("sum by (kind) (petition_hub_routing_decisions_total)", "kind")
    assert sum(decisions.values()) == len(petitions)
    assert decisions["units"] == len(lead_of)
    assert prom.scalar("sum(petition_hub_routing_latency_seconds_count)") == len(petitions)

    # the 1d 办结率 is recorded (0: nothing replied yet) for units routed to in both waves
    both_waves = {u for pid, u in lead_of.items() if pid in first_ids} & {
        u for pid, u in lead_of.items() if pid not in first_ids
    }
    assert both_waves
    wait_until(
        lambda: (
            both_waves
            <= set(prom.by('unit:petition_hub_resolution_rate:ratio{period="1d"}', "unit"))
        ),
        60,
        what="the recorded 1d resolution rate",
    )
    assert set(
        prom.by('unit:petition_hub_resolution_rate:ratio{period="1d"}', "unit").values()
    ) == {0.0}

    # --- the lifecycle holds a case for every routed petition but the repeats it linked to an
    # --- open case (重复诉求: no case of their own); every lead unit signs for its cases an hour
    # --- later, in two waves
    def cases() -> dict[str, str]:
        linked = linked_repeats(hub_topics.bootstrap)
        return {pid: unit for pid, unit in lead_of.items() if pid not in linked}

    wait_until(
        lambda: prom.scalar("sum(petition_hub_open_petitions)") == len(cases()),
        60,
        what="the lifecycle holds every routed petition (but linked repeats)",
    )
    case_of = cases()
    signed_at = set_clock(clock, ROUTED_AT + timedelta(hours=1))
    ordered = sorted(case_of.items())
    first: list[tuple[str, str]] = []
    seen_units: set[str] = set()
    for pid, unit in ordered:  # one petition per unit first, the rest after
        if unit not in seen_units:
            first.append((pid, unit))
            seen_units.add(unit)
    rest = [item for item in ordered if item not in first]
    assert rest
    signed: Counter[str] = Counter()
    for wave_leads in (first, rest):
        _sign_for(hub_topics, wave_leads, signed_at)
        signed.update(u for _, u in wave_leads)
        wait_until(
            lambda: _equal(
                prom.by("sum by (unit) (petition_hub_signed_for_total)", "unit"), dict(signed)
            ),
            90,
            what=f"Prometheus sees {sum(signed.values())} sign-fors",
        )
    # 响应率 from the raw series: all signed for within the sign-for deadline
    response = prom.by(
        "sum by (unit) (petition_hub_signed_for_on_time_total)"
        " / (sum by (unit) (petition_hub_signed_for_total) > 0)",
        "unit",
    )
    assert response == dict.fromkeys(set(case_of.values()), 1.0)
    # and recorded over 1d, for every lead unit: the worker creates each unit's counters at 0
    # when it starts, so increase() sees even a unit's first sign-for
    wait_until(
        lambda: (
            set(case_of.values())
            <= set(prom.by('unit:petition_hub_response_rate:ratio{period="1d"}', "unit"))
        ),
        60,
        what="the recorded 1d response rate",
    )
    recorded = prom.by('unit:petition_hub_response_rate:ratio{period="1d"}', "unit")
    assert all(value == pytest.approx(1.0) for value in recorded.values()), recorded
    assert prom.scalar("sum(petition_hub_open_petitions)") == len(case_of)

    # --- faust's own sensors and the calendar gauge come through the same endpoint
    assert prom.query('{__name__=~"petition_hub_faust_.+", job="petition-hub"}')
    assert prom.scalar("petition_hub_calendar_next_year_available") in (0.0, 1.0)

    # --- every rule evaluates without error on these series
    def evaluated() -> list[dict[str, Any]]:
        _, body = http_json(prom.url + "/api/v1/rules", timeout=10)
        groups: list[dict[str, Any]] = body["data"]["groups"]
        every_second = [g for g in groups if g["interval"] == 1]
        done = all(r["health"] == "ok" for g in every_second for r in g["rules"])
        return groups if done and every_second else []

    groups = wait_until(evaluated, 30, what="every rule evaluated")
    for group in groups:
        for rule in group["rules"]:
            assert rule["health"] != "err", (rule["name"], rule.get("lastError"))
    assert {"petition_hub_flow", "petition_hub_rates_1d", "petition_hub_alerts"} <= {
        g["name"] for g in groups
    }

    # --- every dashboard query parses and runs
    dashboard = json.loads((DEPLOY / "grafana/dashboards/petition-hub.json").read_text("utf-8"))
    variables = {
        "$__rate_interval": "1m",
        "$__range": "1h",
        "$unit": ".*",
        "$period": "1d",
    }
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in variables.items():
                expr = expr.replace(name, value)
            prom.query(expr)
