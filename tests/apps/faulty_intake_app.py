"""The hub's intake shell around a connector that raises for some messages (a connector bug).

Run like a worker (HUB_* in the environment). Work orders whose key ends in "3" make the decoder
raise RuntimeError; everything else goes through the real 12345 connector. Used to prove that an
exception inside an agent never skips a message, although faust acks a message whose agent raised.
"""

from __future__ import annotations

from collections.abc import Sequence

import faust

from petition_hub.agents import intake
from petition_hub.connectors import hotline
from petition_hub.domain.petition import Petition
from petition_hub.service import logs, web
from petition_hub.service.app import attach_stages, faust_settings
from petition_hub.service.runner import run_worker
from petition_hub.service.settings import Settings


def buggy_decode(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]]
) -> Petition:
    if key is not None and key.endswith(b"3"):
        raise RuntimeError("a bug in the connector")
    return hotline.decode(key, value, headers)


settings = Settings()
assert settings.broker is not None
app = faust.App(settings.app_id, **faust_settings(settings, settings.broker))
stages = intake.register(
    app, settings, [intake.Channel(name="hotline", topic=hotline.TOPIC, decode=buggy_decode)]
)
attach_stages(app, stages)
web.register(app, stages)

if __name__ == "__main__":
    logs.configure("INFO")
    run_worker(app, settings)
