"""Prometheus scrapes the console (``petition-hub console serve`` in a process of its own, its
projector on the embedded broker): the metrics port (``HUB_CONSOLE_METRICS_PORT``) serves the
issue's series with no sign-in (requests by route and status, latency by route, the
projection's lag, the process's series), as promtool finds right, and nothing that names a
petition; the console's own port still asks who is
calling for ``/metrics``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_metrics_conventions import PROCESS_SERIES, promtool_remarks

from hubtest import TEST_API_TOKEN, metric_sum, wait_until
from petition_hub.broker.embedded import EmbeddedBroker, free_port
from webconsole import serve_console

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BEARER = {"Authorization": f"Bearer {TEST_API_TOKEN}"}


@pytest.fixture
def served(hub_topics: EmbeddedBroker, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The console's URL and its metrics port's."""
    port = free_port()
    with serve_console(
        hub_topics, tmp_path, [("ops1", "operator", None)], HUB_CONSOLE_METRICS_PORT=str(port)
    ) as url:
        yield url, f"http://127.0.0.1:{port}/metrics"


def test_the_metrics_port_serves_the_series_without_a_sign_in(served: tuple[str, str]) -> None:
    url, metrics = served
    # the console's port: /metrics for the signed-in and the API tokens only, as before
    anonymous = httpx.get(f"{url}/metrics", timeout=5)
    assert anonymous.status_code == 401, (anonymous.status_code, anonymous.text[:200])
    assert "petition_hub_console" not in anonymous.text
    pid = f"PH-{uuid.uuid4().hex[:20].upper()}"
    for _ in range(3):
        assert httpx.get(f"{url}/api/petitions", headers=BEARER, timeout=5).status_code == 200
    assert httpx.get(f"{url}/api/petitions/{pid}", headers=BEARER, timeout=5).status_code == 404
    assert httpx.get(f"{url}/api/petitions", timeout=5).status_code == 401

    def scraped() -> str | None:
        text = httpx.get(metrics, timeout=5).text  # no cookie, no token
        # the lag has a sample once the projector holds its partitions
        return (
            text
            if re.search(r"^petition_hub_console_projection_lag_records \S+$", text, re.M)
            else None
        )

    text = wait_until(scraped, 90, interval=0.5, what="the projection's lag on the metrics port")
    requests = "petition_hub_console_requests_total"
    assert metric_sum(text, requests, route="/api/petitions", status="200") == 3, text
    assert metric_sum(text, requests, route="/api/petitions", status="401") == 1, text
    assert metric_sum(text, requests, route="/metrics", status="401") == 1, text
    assert metric_sum(text, requests, route="/api/petitions/{petition_id}", status="404") == 1
    latency = "petition_hub_console_request_duration_seconds_count"
    assert metric_sum(text, latency, route="/api/petitions") >= 4, text
    bucket = "petition_hub_console_request_duration_seconds_bucket"
    assert metric_sum(text, bucket, route="/api/petitions", le="+Inf") >= 4, text
    assert pid not in text, "a petition id in a metric"
    assert promtool_remarks(text) == []
    assert all(f"\n{name} " in text for name in PROCESS_SERIES), "the process's series"
    # the same series on the console's port, for an API token (an operator's tool)
    signed = httpx.get(f"{url}/metrics", headers=BEARER, timeout=5)
    assert signed.status_code == 200 and requests in signed.text, signed.text[:200]
