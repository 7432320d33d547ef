"""CloudEvents on every record the hub writes (issue 13), checked over a ``dev`` run's topics.

``petition-hub dev`` runs the demo (three channels, broken messages, units that sign for and
reply, petitioners who rate); on top of it, what an operator and a unit do that the demo does
not: a provincial dispatch its lead unit returns at once (the lifecycle's command on
``hub.reroute``, routing's new decision), an erasure at the petitioner's request
(``hub.privacy``: the request, routing's order, the eraser's outcome, and the redacted revision on
``hub.petitions``), an erasure of a petition the hub does not know (``hub.rejects``), and a redrive
of a dead letter (its marker on ``hub.deadletter``). Then every record of every topic the hub
writes (its own topics, the units' ``.petitions``, ``province.*``, the evaluation requests, the
routed and repartition topics) must carry the Kafka binding's binary-mode headers, read back by
the ``cloudevents`` library, with ids unique per topic.

The stages' changelogs are their state, not events, and are not checked.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hubtest import (
    Record,
    cloudevent_problems,
    court_dispatch,
    produce,
    read_to_ends,
    read_topic,
    run_hub,
    start_dev,
    stop_process,
    topic_names,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import free_port
from petition_hub.domain.petition import Channel, petition_id_for
from petition_hub.ops.report import read_events
from petition_hub.runtime.deadletter import REDRIVE_HEADER
from petition_hub.topics import names

pytestmark = [pytest.mark.broker, pytest.mark.slow]

APP = names.DEFAULT_APP_ID
DISPATCH = f"HA-{datetime.now(UTC):%Y%m%d}-990013"
PID = petition_id_for(Channel.PROVINCE, DISPATCH)
LEAD = "dept.COURT"

#: The hub's topics that the run must have filled (so the check is not vacuous).
MUST_HAVE_RECORDS = (
    names.PETITIONS,
    names.LIFECYCLE,
    names.SLA,
    names.TRIAGE,
    names.DEADLETTER,
    names.REJECTS,
    names.PRIVACY,
    names.REROUTE,
    names.PROVINCE_FEEDBACK,
    *names.EVALUATION_REQUEST_TOPICS,
    *names.PROGRESS,
    names.routed_topic(APP),
    names.status_repartition(APP),
    names.evaluations_repartition(APP),
    f"{LEAD}.petitions",
)


def _hub_outputs(bootstrap: str) -> list[str]:
    """Every topic the hub writes, as it stands on the broker."""
    topics = topic_names(bootstrap)
    own = set(names.HUB_TOPICS + names.LATER_HUB_TOPICS) - {names.DECISIONS}
    internal = {
        names.routed_topic(APP),
        names.status_repartition(APP),
        names.evaluations_repartition(APP),
        names.repeat_asks_topic(APP),
        names.repeat_links_topic(APP),
    }
    units = {t for t in topics if names.is_unit_topic(t) and t.endswith(".petitions")}
    return sorted((own | internal | units) & topics)


def _snapshot(bootstrap: str, topics: list[str], timeout: float = 120.0) -> dict[str, list[Record]]:
    """Every record of ``topics`` up to their ends as they are when asked (dev goes on writing:
    what comes after is read too, as far as the reading got), by topic."""
    out: dict[str, list[Record]] = {t: [] for t in topics}
    for r in read_to_ends(bootstrap, topics, timeout):
        out[r.topic].append(r)
    return out


def _start_dev(data: Path) -> tuple[subprocess.Popen[str], str, str]:
    """``petition-hub dev`` with the demo; its process, broker URL and bootstrap address."""
    proc = start_dev(data, free_port())
    assert proc.stdout is not None
    banner = [proc.stdout.readline()]
    while "stop" not in banner[-1] and banner[-1]:
        banner.append(proc.stdout.readline())
    found = re.search(r"HUB_BROKER=(\S+)", "".join(banner))
    assert found is not None, banner
    url = found.group(1)
    return proc, url, url.split("://", 1)[1]


def _status(kind: str) -> bytes:
    return schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v1",
        {"petitionId": PID, "kind": kind, "at": datetime.now(UTC)},
    )


def test_every_record_the_hub_writes_is_a_cloudevent(tmp_path: Path) -> None:
    data = tmp_path / "var"
    proc, url, bootstrap = _start_dev(data)
    try:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
            "HUB_BROKER": url,
            "HUB_DATA_DIR": str(data),
            "HUB_PII_KEY": (data / "dev-pii.key").read_text().strip(),
        }
        # a unit's return (within the sign-for window: the dispatch was received now)
        dispatch = court_dispatch(DISPATCH, datetime.now(UTC))
        produce(bootstrap, "province.dispatch", [(DISPATCH.encode(), dispatch, ())])
        wait_until(
            lambda: any(
                r.key == PID.encode() for r in read_topic(bootstrap, f"{LEAD}.petitions", timeout=5)
            ),
            60,
            what=f"the dispatch routed to {LEAD}",
        )
        produce(bootstrap, f"{LEAD}.status", [(PID.encode(), _status("RETURNED"), ())])
        wait_until(
            lambda: read_topic(bootstrap, names.REROUTE, timeout=5),
            60,
            what="the return accepted (a command on hub.reroute)",
        )
        # an erasure at the petitioner's request, and one of a petition the hub does not know
        erase = ("privacy", "erase", "--reference", "CE-13", "--wait", "90")
        done = run_hub(*erase[:2], PID, *erase[2:], env=env)
        assert done.returncode == 0, done.stderr
        unknown = run_hub(*erase[:2], "PH-AAAAAAAAAAAAAAAAAAAA", *erase[2:], env=env)
        assert unknown.returncode != 0 and "refused" in unknown.stdout + unknown.stderr
        # a redrive of a dead letter (the demo's broken messages make them)
        letter = read_topic(bootstrap, names.DEADLETTER, min_count=1, timeout=60)[0]
        source = dict(letter.headers)["hub-source"] or b""
        run_hub("dlq", "redrive", source.decode(), env=env)

        for topic in MUST_HAVE_RECORDS:
            read_topic(bootstrap, topic, min_count=1, timeout=90)
        # read while dev runs: its broker keeps the topics in memory only
        topics = _hub_outputs(bootstrap)
        records = _snapshot(bootstrap, topics)
        # the report counts each event once by its ce_id (the hub's record bodies carry none)
        events = read_events(bootstrap)
    finally:
        stop_process(proc, timeout=30)

    empty = [t for t in MUST_HAVE_RECORDS if not records.get(t)]
    assert not empty, f"no records on {empty}"
    redriven = [r for r in records[names.DEADLETTER] if REDRIVE_HEADER in dict(r.headers)]
    assert redriven, "no redrive marker on hub.deadletter"
    problems = [p for t in topics for p in cloudevent_problems(t, records[t])]
    checked = sum(len(v) for v in records.values())
    assert not problems, f"{len(problems)} problems in {checked} records:\n" + "\n".join(
        problems[:20]
    )
    # the report read every lifecycle event with its id
    lifecycle_ids = [e["eventId"] for e in events.lifecycle]
    assert len(lifecycle_ids) >= len(records[names.LIFECYCLE]) > 0
    assert all(lifecycle_ids)
    stamped = {dict(r.headers)["ce_id"].decode() for r in records[names.LIFECYCLE]}
    assert stamped <= set(lifecycle_ids)
