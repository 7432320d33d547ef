"""The hub's worker app: faust's app with every agent, batch stage, the eraser and the pages.

:func:`create_app` is what ``petition-hub worker`` and ``petition-hub dev`` run, and what the tests
build. It wires the layers together: the app's configuration (:mod:`petition_hub.service.app`),
the agents (:mod:`petition_hub.agents`, which declare their agents and build their stages on the
app), the eraser (:mod:`petition_hub.service.erasure`) and the web pages
(:mod:`petition_hub.service.web`); with ``HUB_SCHEMA_REGISTRY_URL`` it first registers the hub's
schemas there and uses the ids it assigns (:mod:`petition_hub.service.registry_sync`). Nothing
imports this module but the tools that run a worker, so the agents import
:mod:`petition_hub.service.app` without a cycle.
"""

from __future__ import annotations

import faust

from petition_hub.agents import register
from petition_hub.service import web
from petition_hub.service.app import (
    attach_calendar_check,
    attach_monitor,
    attach_stages,
    faust_settings,
    stage_session,
)
from petition_hub.service.clock import clock_from
from petition_hub.service.erasure import Eraser
from petition_hub.service.registry_sync import use_registry
from petition_hub.service.security import aiokafka_options
from petition_hub.service.settings import Settings
from petition_hub.topics import load_topics


def eraser(app: faust.App, settings: Settings) -> Eraser:
    """The worker's eraser of personal data (:mod:`petition_hub.service.erasure`)."""
    return Eraser(
        bootstrap=settings.bootstrap_servers(),
        group=f"{settings.app_id}-eraser",
        tansu=settings.embedded,
        clock=clock_from(settings.clock_file),
        session=stage_session(settings),
        client_options=aiokafka_options(settings),
        loop=app.loop,
    )


def create_app(settings: Settings, broker_url: str | None = None) -> faust.App:
    """Build the hub's faust app with all agents registered.

    ``broker_url`` overrides ``settings.broker`` (``dev`` passes the embedded broker's URL).
    """
    url = broker_url or settings.broker
    if url is None:
        raise RuntimeError("no broker: set HUB_BROKER, or use `petition-hub dev`")
    if settings.schema_registry_url:  # before anything is written: the registry's ids, not fixed
        use_registry(
            settings.schema_registry_url, load_topics(settings.topics_file, settings.app_id).topics
        )
    app = faust.App(settings.app_id, **faust_settings(settings, url))
    attach_monitor(app)
    attach_calendar_check(app, settings)
    stages = register(app, settings)
    attach_stages(app, [*stages, eraser(app, settings)])
    web.register(app, stages, settings.topics_file, settings)
    return app
