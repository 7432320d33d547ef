"""``/metrics`` by Prometheus's conventions, on a real worker: ``promtool check metrics`` (Debian's
prometheus package) finds nothing in the hub's own families, the process and runtime series and
``petition_hub_build_info`` are there, and the known label values exist at 0 before anything
happened (``increase()`` sees the first event).

faust's sensor families (``petition_hub_faust_*``, named by faust's PrometheusMonitor) are faust's
names, not the hub's: promtool's remarks on them are not counted.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from deploycheck import require_tool
from prometheus_client.parser import text_string_to_metric_families

from hubtest import WorkerProcess
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.connectors.base import Reason
from petition_hub.domain.petition import Channel
from petition_hub.service.app import FAUST_METRICS_PREFIX
from petition_hub.topics.names import status_repartition

ROOT = Path(__file__).resolve().parent.parent

#: The client library's process collector's series (Linux): memory, CPU, files, start time.
PROCESS_SERIES = (
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
)


def promtool_remarks(exposition: str) -> list[str]:
    """What ``promtool check metrics`` says of ``exposition``, one remark a line."""
    done = subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # exit 3: lint remarks (listed); anything else but 0 is promtool failing to read it
    assert done.returncode in (0, 3), done.stdout + done.stderr
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


def _samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
    }


def test_promtool_finds_nothing_in_the_hubs_families(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess]
) -> None:
    worker = start_worker(hub_topics)
    exposition = worker.metrics()
    remarks = promtool_remarks(exposition)
    ours = [r for r in remarks if not r.startswith(FAUST_METRICS_PREFIX + "_")]
    assert ours == [], "promtool check metrics on the hub's own families:\n" + "\n".join(ours)

    samples = _samples(exposition)
    names = {name for name, _ in samples}
    missing = [s for s in PROCESS_SERIES if s not in names]
    assert missing == [], f"process series missing from /metrics: {missing}"
    assert {"python_info", "python_gc_collections_total"} <= names
    assert samples[("process_resident_memory_bytes", frozenset())] > 0

    builds = [(labels, v) for (n, labels), v in samples.items() if n == "petition_hub_build_info"]
    assert len(builds) == 1 and builds[0][1] == 1.0, builds
    build = dict(builds[0][0])
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    assert build["revision"] == (head or "unknown")
    assert build["version"] and build["python_version"].count(".") == 2

    # every _info family is constant 1
    infos = {n: v for (n, _), v in samples.items() if n.endswith("_info")}
    assert {"petition_hub_rules_info", "petition_hub_calendar_info"} <= set(infos)
    assert set(infos.values()) == {1.0}, infos

    # nothing happened yet, and the known label values are there at 0
    for channel in Channel:
        received = ("petition_hub_intake_messages_total", frozenset({("channel", channel.value)}))
        assert samples[received] == 0.0
        for reason in Reason:
            labels = frozenset({("channel", channel.value), ("reason", reason.value)})
            assert samples[("petition_hub_dead_letters_total", labels)] == 0.0
    steps = {
        dict(labels)["unit"]
        for (n, labels), v in samples.items()
        if n == "petition_hub_sla_steps_total" and v == 0.0
    }
    assert {"dept.TAX", "none"} <= steps
    closed = ("petition_hub_closed_total", frozenset({("unit", "dept.TAX"), ("closure", "rated")}))
    assert samples[closed] == 0.0
    # every reason a stage can refuse an event with, on each of its sources
    rejects = {
        (dict(labels)["topic"], dict(labels)["reason"])
        for (n, labels), v in samples.items()
        if n == "petition_hub_rejects_total" and v == 0.0
    }
    expected = {
        ("office.decisions", "not_in_triage"),
        ("office.decisions", "no_extension_pending"),
        ("dept.TAX.status", "key_mismatch"),
        ("hub.reroute", "undecodable_command"),
    }
    statuses = status_repartition(worker.app_id)  # the lifecycle's own source of unit events
    expected |= {(statuses, "not_the_lead"), (statuses, "reply_before_sign_for")}
    assert expected <= rejects, f"missing at 0: {sorted(expected - rejects)}"
