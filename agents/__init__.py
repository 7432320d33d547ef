"""Stream agents: thin I/O shells around the pure domain functions.

Each agent module has ``register(app, settings)``, which declares its topics, tables and agents on
the faust app. :func:`register` wires them all.
"""

from __future__ import annotations

import faust

from petition_hub.settings import Settings


def register(app: faust.App, settings: Settings) -> None:
    """Declare every agent of the hub on ``app``."""
    from . import intake

    intake.register(app, settings)
