"""Stream agents: thin I/O shells around the pure domain functions.

Each module has ``register(app, settings)``, which declares its faust agents, tables and timers on
the app and returns its batch stages (:mod:`petition_hub.runtime`, for the high-volume data path).
:func:`register` wires them all.
"""

from __future__ import annotations

import faust

from petition_hub.runtime.stage import Stage
from petition_hub.settings import Settings


def register(app: faust.App, settings: Settings) -> list[Stage]:
    """Declare every agent of the hub on ``app``; the batch stages to run beside them."""
    from petition_hub import metrics
    from petition_hub.topics import load_topics

    from . import intake, lifecycle, routing

    topics = {t.name: t for t in load_topics(settings.topics_file).topics}
    metrics.create_unit_series(
        topic.removesuffix(".petitions") for topic in sorted(lifecycle.units_of(topics))
    )
    return (
        intake.register(app, settings)
        + routing.register(app, settings)
        + lifecycle.register(app, settings)
    )
