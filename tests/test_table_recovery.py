"""A worker restart loses no table state on the embedded broker (thousands of changelog records).

With faust's stock driver (kafka://) against Tansu the same restart loses state: recovery stops at
Tansu's too-small end offsets. That half is a canary of the deviation, like test_tansu_deviations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubtest import WorkerProcess, app_command, create_topics, http_json, produce, wait_until
from petition_hub.broker.embedded import EmbeddedBroker

pytestmark = [pytest.mark.broker, pytest.mark.slow]

N_RECORDS = 6000
N_KEYS = 60


class CounterWorker(WorkerProcess):
    def __init__(self, broker_url: str, app_id: str, data_dir: Path) -> None:
        super().__init__(broker_url, app_id, data_dir, command=app_command("counter_app.py"))

    def table(self) -> dict[str, Any]:
        _, body = http_json(self.url + "/table")
        return body if isinstance(body, dict) else {}


def _feed(bootstrap: str) -> None:
    create_topics(bootstrap, {"count.in": 2})
    produce(
        bootstrap, "count.in", ((f"k{i % N_KEYS}".encode(), b"x", ()) for i in range(N_RECORDS))
    )


def _count_then_restart(broker: EmbeddedBroker, url: str, tmp: Path) -> CounterWorker:
    """Count N_RECORDS, stop the worker, start a new one (not waiting for it to be ready)."""
    _feed(broker.bootstrap)
    worker = CounterWorker(broker_url=url, app_id="counter", data_dir=tmp).start()
    try:
        wait_until(lambda: sum(worker.table().values()) == N_RECORDS, 60, what="all counted")
    finally:
        worker.stop()
    return CounterWorker(broker_url=url, app_id="counter", data_dir=tmp).start(wait_ready=0)


def test_table_fully_recovered_after_restart_with_hub_driver(
    fresh_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    again = _count_then_restart(fresh_broker, fresh_broker.url, tmp_path)
    try:
        again.wait_ready(60)
        assert sum(again.table().values()) == N_RECORDS
    finally:
        again.stop()


#: Restarts the canary tries: the stock driver's recovery races Tansu's end offsets, and once in a
#: while (more often on a quiet machine) it reads the whole changelog before it stops.
CANARY_RESTARTS = 8


def test_stock_driver_cannot_recover_table_on_tansu(
    fresh_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    # With Tansu's end offsets, faust's own driver either stops reading the changelog early (state
    # lost) or waits for offsets that never come (recovery stalls): a whole, ready table only by
    # chance. The canary restarts until a restart shows the deviation; a driver that recovers
    # every time means the deviation is gone (and the hub's driver may no longer be needed).
    url = f"kafka://{fresh_broker.bootstrap}"
    again = _count_then_restart(fresh_broker, url, tmp_path)
    recovered = 0
    try:
        for attempt in range(CANARY_RESTARTS):
            if attempt:
                again = CounterWorker(broker_url=url, app_id="counter", data_dir=tmp_path)
                again.start(wait_ready=0)
            try:
                wait_until(
                    lambda w=again: (
                        w.health().get("ready") and sum(w.table().values()) == N_RECORDS
                    ),
                    timeout=15,
                )
            except AssertionError:
                return  # the deviation shows: state lost or recovery stalled
            recovered += 1
            again.stop()
    finally:
        again.stop()
    pytest.fail(
        f"faust's stock driver recovered the whole table in {recovered} of {CANARY_RESTARTS} "
        "restarts on Tansu: its end-offset deviation no longer shows (see test_tansu_deviations)"
    )
