"""Personal data has an end (issue 11), end to end on the embedded broker with a real worker.

Two provincial dispatches from private persons, their names, phones and ID numbers in the
petitioner fields and written into the text. One is erased at the petitioner's request while it
is open (``petition-hub privacy erase``); the other is handled, closes, and is erased by the hub
when its retention after closure (30 days here, by the clock file) runs out. Afterwards the
latest revision of each on ``hub.petitions`` (what compaction keeps) and what the routing stage
keeps hold none of the planted values, ``hub.privacy`` records both erasures with field names
only, and an unknown petition id is refused with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from hubtest import (
    TEST_PII_KEY,
    WorkerProcess,
    court_dispatch,
    hub_cli,
    metric_sum,
    produce,
    read_topic,
    run_hub,
    set_clock,
    strings_of,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.domain.petition import Channel, petition_id_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BJ = timezone(timedelta(hours=8))
LEAD = "dept.COURT"


ASKS = {"name": "欧阳明月", "id": "410402198807150021", "phone": "13903751234"}
CLOSES = {"name": "司马青云", "id": "410411197503220037", "phone": "15837509876"}


def _leaks(records: list[Any], planted: dict[str, str]) -> list[str]:
    texts = [t for r in records for t in strings_of(r)]
    return [v for v in planted.values() if any(v in t for t in texts)]


def test_erasure_at_request_and_after_retention(
    hub_topics: EmbeddedBroker, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    clock = tmp_path / "clock"
    received = datetime(2026, 6, 1, 9, 0, tzinfo=BJ)
    t = set_clock(clock, received + timedelta(minutes=5))
    worker = start_worker(
        hub_topics,
        HUB_CLOCK_FILE=str(clock),
        HUB_LIFECYCLE_PARK_SECONDS="2",
        HUB_RETENTION_AFTER_CLOSURE_DAYS="30",
    )
    asks = petition_id_for(Channel.PROVINCE, "HA-20260601-000101")
    closes = petition_id_for(Channel.PROVINCE, "HA-20260601-000102")
    produce(
        hub_topics.bootstrap,
        "province.dispatch",
        [
            (b"HA-20260601-000101", court_dispatch("HA-20260601-000101", received, ASKS), ()),
            (b"HA-20260601-000102", court_dispatch("HA-20260601-000102", received, CLOSES), ()),
        ],
    )
    wait_until(
        lambda: (
            {asks, closes}
            <= {
                (r.key or b"").decode()
                for r in read_topic(hub_topics.bootstrap, f"{LEAD}.petitions")
            }
        ),
        60,
        what=f"both petitions on {LEAD}.petitions",
    )

    # at the petitioner's request, while the petition is open
    out = hub_cli(
        hub_topics.url, tmp_path / "cli", "privacy", "erase", asks, "--reference", "GD-2026-0042"
    )
    assert f"{asks}: personal data erased" in out, out
    for field in ("petitioner.name", "petitioner.phone", "petitioner.id_number", "content"):
        assert field in out, f"{field} not among the erased fields: {out}"
    refused = run_hub(
        "privacy",
        "erase",
        "no-such-petition",
        "--reference",
        "GD-2026-0043",
        env={**os.environ, "HUB_BROKER": hub_topics.url, "HUB_PII_KEY": TEST_PII_KEY},
    )
    assert refused.returncode == 1, f"exit {refused.returncode}: {refused.stderr}"
    assert "no-such-petition: refused: no petition no-such-petition" in refused.stderr, (
        refused.stderr
    )

    # the other one is handled and closes unrated; its retention runs out 30 days later
    for kind in ("SIGNED_FOR", "REPLIED"):
        t = set_clock(clock, t + timedelta(hours=1))
        status = {"petitionId": closes, "kind": kind, "at": t}
        if kind == "REPLIED":
            status["replyText"] = "已协调执行法院，款项将于本月底前执行到位。"
        value = schemas.encode("cn.gov.pds.hub.UnitStatus.v1", status)
        produce(hub_topics.bootstrap, f"{LEAD}.status", [(closes.encode(), value, ())])
    wait_until(
        lambda: _lifecycle_states(hub_topics, closes)[-1:] == ["replied"],
        60,
        what="the petition replied",
    )
    t = set_clock(clock, t + timedelta(days=8))  # the evaluation window elapses: closed
    wait_until(
        lambda: _lifecycle_states(hub_topics, closes)[-1:] == ["closed"],
        60,
        what="the petition closed",
    )
    set_clock(clock, t + timedelta(days=28))  # closed at the window's end, a day before t
    wait_until(lambda: _privacy(hub_topics, until=(asks, "ERASED")), 30, what="the first erasure")
    set_clock(clock, t + timedelta(days=30))
    privacy = wait_until(
        lambda: _privacy(hub_topics, until=(closes, "ERASED")),
        60,
        what="the retention erasure on hub.privacy",
    )

    kinds = [(r["petitionId"], r["kind"], r["reason"]) for r in privacy]
    assert kinds.count((asks, "ERASURE_REQUESTED", "REQUEST")) == 1
    assert (asks, "ERASURE_DUE", "REQUEST") in kinds and (asks, "ERASED", "REQUEST") in kinds
    assert (closes, "ERASURE_DUE", "RETENTION") in kinds
    assert (closes, "ERASED", "RETENTION") in kinds
    erased_closes = next(r for r in privacy if r["petitionId"] == closes and r["kind"] == "ERASED")
    assert erased_closes["closedAt"] is not None and "petitioner.phone" in erased_closes["fields"]
    assert erased_closes["at"] - erased_closes["closedAt"] >= timedelta(days=30), (
        f"erased {erased_closes['at'] - erased_closes['closedAt']} after closure, before the "
        "30 days of retention ran out"
    )
    assert (
        next(r for r in privacy if r["kind"] == "ERASED" and r["petitionId"] == asks)["reference"]
        == "GD-2026-0042"
    )
    assert _leaks(privacy, {**ASKS, **{k + "2": v for k, v in CLOSES.items()}}) == []

    # what compaction keeps of hub.petitions: the latest record per petition
    latest: dict[bytes, dict[str, Any]] = {}
    for r in read_topic(hub_topics.bootstrap, "hub.petitions"):
        latest[r.key or b""] = dict(schemas.decode(r.value or b"")[1])
    for pid, planted in ((asks, ASKS), (closes, CLOSES)):
        revision = latest[pid.encode()]
        assert "personal_data_erased" in revision["flags"], revision["flags"]
        assert _leaks([revision], planted) == [], f"{pid}'s latest revision holds its data"
        assert revision["petitioner"]["kind"] == "INDIVIDUAL"
        assert revision["received_at"] == received  # what reports need stays

    # what the routing stage keeps (its changelog, compacted): no petition data either
    kept: dict[bytes, bytes | None] = {}
    for r in read_topic(hub_topics.bootstrap, f"{worker.app_id}-routing-changelog"):
        kept[r.key or b""] = r.value
    assert kept.get(b"p:" + closes.encode()) is None  # dropped at closure
    assert _leaks([kept.get(b"p:" + asks.encode())], ASKS) == []

    exposition = worker.metrics()
    for reason in ("request", "retention"):
        found = metric_sum(
            exposition, "petition_hub_erasures_total", reason=reason, outcome="erased"
        )
        assert found == 1, f"{found} erasures for {reason}, expected 1"
    rejects = [
        schemas.decode(r.value or b"")[1] for r in read_topic(hub_topics.bootstrap, "hub.rejects")
    ]
    assert [(r["sourceTopic"], r["reason"]) for r in rejects] == [
        ("hub.privacy", "unknown_petition")
    ]


def _lifecycle_states(broker: EmbeddedBroker, pid: str) -> list[str]:
    return [
        str(schemas.decode(r.value or b"")[1]["toState"])
        for r in read_topic(broker.bootstrap, "hub.lifecycle")
        if r.key == pid.encode()
        and dict(r.headers).get("hub-kind") in (b"state_changed", b"closed")
    ]


def _privacy(broker: EmbeddedBroker, until: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """The records of hub.privacy; with ``until``: none until (petition id, kind) is among them."""
    found = [
        dict(schemas.decode(r.value or b"")[1]) for r in read_topic(broker.bootstrap, "hub.privacy")
    ]
    if until is not None and until not in {(r["petitionId"], r["kind"]) for r in found}:
        return []
    return found
