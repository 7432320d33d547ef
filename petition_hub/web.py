"""The worker's HTTP endpoints, on faust's web server (port HUB_METRICS_PORT).

- ``/metrics``: Prometheus exposition of :mod:`petition_hub.metrics`.
- ``/health``: ``{"ready": bool, ...}``; ready once every batch stage holds restored
  partitions, faust is not rebalancing and has recovered its tables. 200 when ready, else 503.
- ``/petitions/{petition_id}``: a petition's lifecycle state and full history (routing decisions,
  state changes, clock events), 404 when this worker does not hold its partition.
- ``/units/{unit}/petitions``: a unit's 在办 (open), 逾期 (overdue) and 已办 (done) lists
  (``unit``: ``dept.TAX``, ``county.410402``), over the partitions this worker holds (listed in
  the answer: with several workers, ask each, or one that holds all).
- ``/schemas/ids/{id}``, ``/subjects``, ``/subjects/{subject}/versions[/{version}]``: the
  read-only Schema Registry endpoints a Confluent deserializer uses (:mod:`.registry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import faust
from faust.web import Request, Response, View

from . import registry
from .metrics import exposition
from .stage import Stage
from .topics import load_topics


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


def register(app: faust.App, stages: Sequence[Stage] = (), topics_file: Path | None = None) -> None:
    """Add the hub's pages to the web server (``topics_file``: the registry's subjects)."""
    topic_names = [t.name for t in load_topics(topics_file).topics] if topics_file else []

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            body, content_type = exposition()
            return self.bytes(body, content_type=content_type.split(";")[0])

    def _missing(view: View, exc: registry.NotFound) -> Response:
        return view.json({"error_code": exc.code, "message": exc.message}, status=404)

    @app.page("/schemas/ids/{schema_id}")
    class SchemaById(View):
        async def get(self, request: Request, schema_id: str) -> Response:
            try:
                return self.json({"schema": registry.schema_text(int(schema_id))})
            except (registry.NotFound, ValueError) as exc:
                missing = (
                    exc
                    if isinstance(exc, registry.NotFound)
                    else registry.NotFound(40403, f"Schema {schema_id} not found")
                )
                return _missing(self, missing)

    @app.page("/subjects")
    class Subjects(View):
        async def get(self, request: Request) -> Response:
            return self.json(registry.subjects(topic_names))

    @app.page("/subjects/{subject}/versions")
    class SubjectVersions(View):
        async def get(self, request: Request, subject: str) -> Response:
            try:
                return self.json(list(range(1, len(registry.subject_versions(subject)) + 1)))
            except registry.NotFound as exc:
                return _missing(self, exc)

    @app.page("/subjects/{subject}/versions/{version}")
    class SubjectVersion(View):
        async def get(self, request: Request, subject: str, version: str) -> Response:
            try:
                return self.json(dict(registry.version(subject, version)))
            except registry.NotFound as exc:
                return _missing(self, exc)

    from .agents.lifecycle import LifecycleProcessor

    lifecycle = next(
        (s.processor for s in stages if isinstance(s.processor, LifecycleProcessor)), None
    )

    @app.page("/petitions/{petition_id}")
    class PetitionView(View):
        async def get(self, request: Request, petition_id: str) -> Response:
            found = lifecycle.petition(petition_id) if lifecycle is not None else None
            if found is None:
                held = sorted(lifecycle.parts) if lifecycle is not None else []
                return self.json(
                    {"error": f"petition {petition_id} is not held here", "partitions": held},
                    status=404,
                )
            return self.json(found)

    @app.page("/units/{unit}/petitions")
    class UnitLists(View):
        async def get(self, request: Request, unit: str) -> Response:
            if lifecycle is None:
                return self.json({"error": "no lifecycle stage in this worker"}, status=404)
            return self.json(lifecycle.unit_lists(unit))

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            state = readiness(app, stages)
            return self.json(state, status=200 if state["ready"] else 503)
