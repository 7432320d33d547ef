"""The worker's HTTP endpoints, on faust's web server (port HUB_METRICS_PORT).

- ``/metrics``: Prometheus exposition of :mod:`petition_hub.metrics`.
- ``/health``: ``{"ready": bool, ...}``; ready once every batch stage holds restored
  partitions, faust is not rebalancing and has recovered its tables. 200 when ready, else 503.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust
from faust.web import Request, Response, View

from .metrics import exposition
from .stage import Stage


def readiness(app: faust.App, stages: Sequence[Stage] = ()) -> dict[str, Any]:
    """What the worker is doing, for ``/health`` and the tests."""
    has_agents = bool(app.agents) or bool(app.tables.changelog_topics)
    assigned = app.consumer.assignment() if has_agents else set()
    recovery = app.tables.recovery  # type: ignore[attr-defined]  # TableManager, not the ABC
    recovered = bool(recovery.completed.is_set()) or not app.tables.changelog_topics
    held = {s.stage_name: sorted(s.assigned) for s in stages}
    return {
        "ready": (bool(assigned) or not has_agents)
        and not app.rebalancing
        and recovered
        and all(held.values()),
        "faust_partitions": len(assigned),
        "stages": held,
        "rebalancing": bool(app.rebalancing),
        "recovered": recovered,
    }


def register(app: faust.App, stages: Sequence[Stage] = ()) -> None:
    """Add the hub's pages to ``app``'s web server."""

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            body, content_type = exposition()
            return self.bytes(body, content_type=content_type.split(";")[0])

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            state = readiness(app, stages)
            return self.json(state, status=200 if state["ready"] else 503)
