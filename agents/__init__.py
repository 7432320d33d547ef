"""Stream agents: thin I/O shells around the pure domain functions.

Each module has ``register(app, settings)``, which declares its faust agents, tables and timers on
the app and returns its batch stages (:mod:`petition_hub.stage`, for the high-volume data path).
:func:`register` wires them all.
"""

from __future__ import annotations

import faust

from petition_hub.settings import Settings
from petition_hub.stage import Stage


def register(app: faust.App, settings: Settings) -> list[Stage]:
    """Declare every agent of the hub on ``app``; the batch stages to run beside them."""
    from . import intake, lifecycle, routing

    return (
        intake.register(app, settings)
        + routing.register(app, settings)
        + lifecycle.register(app, settings)
    )
