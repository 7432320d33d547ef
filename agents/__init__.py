"""Stream agents: thin I/O shells around the pure domain functions.

The stage modules (:mod:`.intake`, :mod:`.routing`, :mod:`.lifecycle`) each have
``register(app, settings)``, which declares its faust agents, tables and timers on the app and
returns its batch stages (:mod:`petition_hub.runtime`, for the high-volume data path); the docstring
of each says what it consumes, emits and keeps. :func:`register` wires them all. Their parts:
:mod:`.rekeyers` (the re-keying stages, registered by routing and the lifecycle),
:mod:`.routing_records`, :mod:`.route_commands` (the lifecycle's commands to routing, the owner
of who handles a petition); :mod:`.lifecycle_records`, :mod:`.lifecycle_texts`,
:mod:`.lifecycle_events`, :mod:`.lifecycle_state`, :mod:`.lifecycle_metrics` and :mod:`.views`
(the web endpoint's read model).
"""

from __future__ import annotations

import faust

from petition_hub.runtime.stage import Stage
from petition_hub.service import metrics
from petition_hub.service.settings import Settings
from petition_hub.topics import load_topics

from . import intake, lifecycle, routing
from .lifecycle_records import units_of


def register(app: faust.App, settings: Settings) -> list[Stage]:
    """Declare every agent of the hub on ``app``; the batch stages to run beside them."""
    topics = {t.name: t for t in load_topics(settings.topics_file, settings.app_id).topics}
    metrics.create_unit_series(
        topic.removesuffix(".petitions") for topic in sorted(units_of(topics))
    )
    return (
        intake.register(app, settings)
        + routing.register(app, settings)
        + lifecycle.register(app, settings)
    )
