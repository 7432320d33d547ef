"""The worker's HTTP endpoints, on faust's web server (port HUB_METRICS_PORT).

- ``/metrics``: Prometheus exposition of :mod:`petition_hub.service.metrics`.
- ``/health``: ``{"ready": bool, ...}``; ready once every batch stage holds restored
  partitions, faust is not rebalancing and has recovered its tables. 200 when ready, else 503.
- ``/petitions/{petition_id}``: a petition's lifecycle state and full history (routing decisions,
  state changes, clock events), 404 when this worker does not hold its partition.
- ``/units/{unit}/petitions``: a unit's 在办 (open), 逾期 (overdue) and 已办 (done) lists
  (``unit``: ``dept.TAX``, ``county.410402``), over the partitions this worker holds (listed in
  the answer: with several workers, ask each, or one that holds all).
- ``/schemas/ids/{id}``, ``/subjects``, ``/subjects/{subject}[/versions[/{version}]]``,
  ``/config``, ``/compatibility/...``: the built-in Schema Registry, what Confluent's serializers
  and deserializers call (:mod:`.registry`, :mod:`.registry_web`).
- ``/openapi.json``: these endpoints as an OpenAPI 3.1 document (:mod:`.openapi`).

Every endpoint asks for ``Authorization: Bearer <token>``, a token of ``HUB_API_TOKENS``
(:data:`OPEN_PATHS` excepted: health checks, Prometheus, and the Schema Registry endpoints, which
serve published contracts and no personal data); faust's own pages (``/router``, ``/table``, …)
included. A path with no page is a 404 to anyone. With no token configured the protected
endpoints answer 401 to everyone.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, cast

import faust
import structlog
from aiohttp import web as aioweb
from faust.web import Request, Response, View
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from pydantic import SecretStr

from petition_hub.agents.lifecycle import LifecycleProcessor
from petition_hub.runtime.stage import Stage
from petition_hub.service import openapi, registry, registry_web
from petition_hub.service.metrics import exposition
from petition_hub.service.settings import Settings, get_settings
from petition_hub.topics import load_topics

log = structlog.get_logger(__name__)

#: The routes open without a token: health checks and Prometheus need no secret, and the
#: published contracts (no personal data) are for anyone to read: the read-only Schema Registry
#: endpoints for the units' Confluent deserializers, the OpenAPI document for API clients and
#: their generators (which fetch it before they hold a token). Matched on the route the request
#: resolved to, not on its text.
OPEN_PATHS = frozenset({"/health", "/metrics", "/openapi.json", *registry_web.PATHS})

_Handler = Callable[[aioweb.Request], Awaitable[aioweb.StreamResponse]]


def api_tokens(secret: SecretStr | None) -> tuple[bytes, ...]:
    """The bearer tokens of ``HUB_API_TOKENS`` (comma-separated; blanks ignored), as SHA-256
    digests: compared at one length, so a comparison tells nothing about a token's length."""
    if secret is None:
        return ()
    values = (t.strip() for t in secret.get_secret_value().split(","))
    return tuple(hashlib.sha256(t.encode()).digest() for t in values if t)


def bearer_ok(authorization: str | None, tokens: Sequence[bytes]) -> bool:
    """Whether an ``Authorization`` header carries one of ``tokens`` (from :func:`api_tokens`),
    compared in constant time against every one of them."""
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    digest = hashlib.sha256(given.strip().encode()).digest()
    matches = [hmac.compare_digest(digest, token) for token in tokens]  # no early exit
    return any(matches)


def _unauthorized(message: str, error: str | None = None) -> aioweb.Response:
    challenge = 'Bearer realm="petition-hub"' + (f', error="{error}"' if error else "")
    return aioweb.json_response(
        {"error": "unauthorized", "message": message},
        status=401,
        headers={"WWW-Authenticate": challenge},
    )


def bearer_middleware(tokens: Sequence[bytes]) -> Callable[..., Awaitable[Any]]:
    """An aiohttp middleware asking every request outside :data:`OPEN_PATHS` for a bearer token
    of ``tokens``; none configured: 401 for all of them (fail closed). Logs no token."""

    @aioweb.middleware
    async def require_bearer(request: aioweb.Request, handler: _Handler) -> aioweb.StreamResponse:
        if request.match_info.http_exception is not None:
            # no such page (404) or method (405): nothing is served, so nothing to protect, and a
            # Confluent deserializer takes a 404 for "not implemented here" (a 401 fails it)
            return await handler(request)
        resource = request.match_info.route.resource
        if resource is not None and resource.canonical in OPEN_PATHS:
            return await handler(request)
        if not tokens:
            return _unauthorized(
                "this worker has no API tokens: set HUB_API_TOKENS (comma-separated bearer "
                "tokens) and send Authorization: Bearer <token>"
            )
        header = request.headers.get("Authorization")
        if header is None:
            return _unauthorized("send Authorization: Bearer <token> (a token of HUB_API_TOKENS)")
        if not bearer_ok(header, tokens):
            return _unauthorized("the bearer token is not one of HUB_API_TOKENS", "invalid_token")
        return await handler(request)

    return require_bearer


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


def register(
    app: faust.App,
    stages: Sequence[Stage] = (),
    topics_file: Path | None = None,
    settings: Settings | None = None,
) -> None:
    """Add the hub's pages to the web server (``topics_file``: the registry's subjects), and the
    bearer token check to all of its pages (tokens of ``settings``, default the process's)."""
    settings = settings or get_settings()
    declared = load_topics(topics_file, settings.app_id).topics if topics_file else ()
    tokens = api_tokens(settings.api_tokens)
    if not tokens:
        log.warning(
            "HUB_API_TOKENS is not set: the web endpoints other than /health, /metrics, "
            "/openapi.json and the schema registry answer 401"
        )
    cast(AiohttpWeb, app.web).web_app.middlewares.append(bearer_middleware(tokens))

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            body, content_type = exposition()
            return self.bytes(body, content_type=content_type.split(";")[0])

    @app.page("/openapi.json")
    class OpenApi(View):
        async def get(self, request: Request) -> Response:
            return self.json(openapi.document())

    registry_web.install(cast(AiohttpWeb, app.web).web_app, registry.SchemaView(declared))
    _register_lifecycle(app, stages)

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            state = readiness(app, stages)
            return self.json(state, status=200 if state["ready"] else 503)


def _register_lifecycle(app: faust.App, stages: Sequence[Stage]) -> None:
    """A petition's state and history, and a unit's lists, from this worker's lifecycle stage."""
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
