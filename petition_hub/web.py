"""The worker's HTTP endpoints, on faust's web server (port HUB_METRICS_PORT).

- ``/metrics``: Prometheus exposition of :mod:`petition_hub.metrics`.
- ``/health``: ``{"ready": bool, ...}``; ready once the worker holds partitions, is not
  rebalancing and has recovered its tables. 200 when ready, 503 otherwise.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View

from .metrics import exposition


def readiness(app: faust.App) -> dict[str, Any]:
    """What the worker is doing, for ``/health`` and the tests."""
    assigned = app.consumer.assignment() if app.consumer is not None else set()
    recovery = app.tables.recovery  # type: ignore[attr-defined]  # TableManager, not the ABC
    recovered = bool(recovery.completed.is_set()) or not app.tables.changelog_topics
    return {
        "ready": bool(assigned) and not app.rebalancing and recovered,
        "partitions": len(assigned),
        "rebalancing": bool(app.rebalancing),
        "recovered": recovered,
    }


def register(app: faust.App) -> None:
    """Add the hub's pages to ``app``'s web server."""

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            body, content_type = exposition()
            return self.bytes(body, content_type=content_type.split(";")[0])

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            state = readiness(app)
            return self.json(state, status=200 if state["ready"] else 503)
