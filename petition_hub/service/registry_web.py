"""The Schema Registry's HTTP API (Confluent's), over a :class:`~.registry.Registry`: on the
worker's web server (:func:`install`, from :mod:`.web`), or on a server of its own
(:func:`serve`, ``petition-hub schemas serve``).

Routes: ``GET /schemas/ids/{id}``, ``GET /schemas/types``, ``GET /subjects``,
``GET /subjects/{s}/versions``, ``GET /subjects/{s}/versions/{v}`` (``latest``, ``-1``),
``POST /subjects/{s}`` (lookup), ``POST /subjects/{s}/versions`` (registration),
``GET /config[/{s}]``, ``POST /compatibility/subjects/{s}/versions[/{v}]``. Errors are JSON
``{"error_code", "message"}`` with Confluent's codes (40401 subject, 40402 version, 40403 schema
not found; 409 incompatible; 42201 invalid schema), as its clients read them.

Consumes HTTP requests; keeps nothing (the registry does).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from petition_hub.service.registry import COMPATIBILITY, Registry, RegistryError, invalid

#: Confluent's content type (its clients accept plain JSON too).
CONTENT_TYPE: Final = "application/vnd.schemaregistry.v1+json"

#: Every route, as aiohttp spells it (the worker serves them without a token: published
#: contracts, no personal data).
PATHS: Final = (
    "/schemas/ids/{schema_id}",
    "/schemas/types",
    "/subjects",
    "/subjects/{subject}",
    "/subjects/{subject}/versions",
    "/subjects/{subject}/versions/{version}",
    "/config",
    "/config/{subject}",
    "/compatibility/subjects/{subject}/versions",
    "/compatibility/subjects/{subject}/versions/{version}",
)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


async def _schema_of(request: web.Request) -> str:
    """The ``schema`` of a request's JSON body (``schemaType`` AVRO or absent); 42201."""
    try:
        body = json.loads(await request.text())
    except ValueError as exc:
        raise invalid(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise invalid('the body has no "schema" string')
    if body.get("schemaType", "AVRO") != "AVRO":
        raise invalid(f"schemaType {body['schemaType']!r}: this registry holds Avro schemas only")
    if body.get("references"):
        raise invalid("references are not supported here: register the schema expanded")
    return str(body["schema"])


def handlers(registry: Registry) -> list[tuple[str, str, _Handler]]:
    """(method, path, handler) of every route, over ``registry``."""

    async def by_id(request: web.Request) -> web.Response:
        raw = request.match_info["schema_id"]
        if not raw.isdigit():
            raise _NotFoundId(raw)
        return _json({"schema": registry.schema(int(raw))})

    async def types(request: web.Request) -> web.Response:
        return _json(["AVRO"])

    async def subjects(request: web.Request) -> web.Response:
        return _json(registry.subjects())

    async def versions(request: web.Request) -> web.Response:
        return _json(registry.versions(request.match_info["subject"]))

    async def version(request: web.Request) -> web.Response:
        m = request.match_info
        return _json(dict(registry.version(m["subject"], m["version"])))

    async def lookup(request: web.Request) -> web.Response:
        subject = request.match_info["subject"]
        registry.versions(subject)  # 40401 before the body is read
        return _json(dict(registry.lookup(subject, await _schema_of(request))))

    async def register(request: web.Request) -> web.Response:
        text = await _schema_of(request)
        return _json({"id": registry.register(request.match_info["subject"], text)})

    async def config(request: web.Request) -> web.Response:
        return _json({"compatibilityLevel": COMPATIBILITY})

    async def compatibility(request: web.Request) -> web.Response:
        m = request.match_info
        ok = registry.compatible(
            m["subject"], m.get("version", "latest"), await _schema_of(request)
        )
        return _json({"is_compatible": ok})

    s, v = "/subjects/{subject}", "/versions/{version}"
    return [
        ("GET", "/schemas/ids/{schema_id}", by_id),
        ("GET", "/schemas/types", types),
        ("GET", "/subjects", subjects),
        ("POST", s, lookup),
        ("GET", s + "/versions", versions),
        ("POST", s + "/versions", register),
        ("GET", s + v, version),
        ("GET", "/config", config),
        ("GET", "/config/{subject}", config),
        ("POST", "/compatibility" + s + "/versions", compatibility),
        ("POST", "/compatibility" + s + v, compatibility),
    ]


class _NotFoundId(RegistryError):
    status = 404

    def __init__(self, raw: str) -> None:
        super().__init__(40403, f"Schema {raw} not found")


def _answering_errors(handler: _Handler) -> _Handler:
    """``handler`` with its :class:`RegistryError` answered as JSON with the error's code."""

    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except RegistryError as exc:
            return _json({"error_code": exc.code, "message": exc.message}, exc.status)

    return answer


def install(app: web.Application, registry: Registry) -> None:
    """Add the registry's routes to ``app`` (before it starts)."""
    for method, path, handler in handlers(registry):
        app.router.add_route(method, path, _answering_errors(handler))


def application(registry: Registry) -> web.Application:
    """A web application serving only ``registry``; unknown paths answer a JSON 404."""

    @web.middleware
    async def json_404(request: web.Request, handler: _Handler) -> web.StreamResponse:
        if request.match_info.http_exception is not None:
            exc = request.match_info.http_exception
            return _json({"error_code": exc.status, "message": exc.reason}, exc.status)
        return await handler(request)

    app = web.Application(middlewares=[json_404])
    install(app, registry)
    return app


async def serve(registry: Registry, host: str, port: int, ready: asyncio.Event) -> None:
    """Serve ``registry`` on ``host:port`` until cancelled; ``ready`` is set once listening."""
    runner = web.AppRunner(application(registry), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        ready.set()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
