"""A minimal faust app with a changelog-backed table, to test table recovery per broker driver.

Run: ``python tests/apps/counter_app.py`` with HUB_BROKER (tansu:// or kafka://), HUB_APP_ID,
HUB_METRICS_PORT, HUB_DATA_DIR set. Counts records per key of topic ``count.in``; ``/table``
returns the table, ``/health`` says when it is ready.
"""

from __future__ import annotations

import faust
from faust.web import Request, Response, View

from petition_hub.service import logs, web
from petition_hub.service.app import TANSU_HEARTBEAT_INTERVAL, TANSU_SESSION_TIMEOUT, faust_settings
from petition_hub.service.runner import run_worker
from petition_hub.service.settings import Settings

settings = Settings()
assert settings.broker is not None
conf = faust_settings(settings, settings.broker)
# the stock driver against Tansu still gets the short session (join delay is the other deviation)
conf.update(
    broker_session_timeout=TANSU_SESSION_TIMEOUT, broker_heartbeat_interval=TANSU_HEARTBEAT_INTERVAL
)
app = faust.App(settings.app_id, **conf)
source = app.topic("count.in", key_type=str, value_type=bytes, value_serializer="raw")
counts = app.Table("counts", default=int, partitions=2, key_type=str, value_type=int)


@app.agent(source)
async def count(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        counts[event.key] += 1


@app.page("/table")
class TableView(View):
    async def get(self, request: Request) -> Response:
        return self.json(dict(counts.items()))


web.register(app)

if __name__ == "__main__":
    logs.configure("INFO")
    run_worker(app, settings)
