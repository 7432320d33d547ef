"""The console end to end on records a real worker wrote: a hub worker and ``petition-hub console
serve`` (the web side with the projector beside it) on the embedded broker, accounts made with
``petition-hub console users add``.

A provincial dispatch is routed by the worker to the intermediate court (dept.COURT) with a
co-handler; the projector brings it into the read model; the court's clerk signs for it through
the API; the worker's lifecycle applies the clerk's ``UnitStatus.v4`` and the projection shows the
new state and the clerk as the author in the history. Another unit's clerk gets 403. A sign-for
the co-handler's own system sends is refused by the hub, and the refusal (its ``event_refused``
notice) shows on the petition. ``/metrics`` reports the requests and the projection's lag.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hubtest import (
    TEST_API_TOKEN,
    WorkerProcess,
    court_dispatch,
    produce,
    wait_until,
)
from petition_hub import schemas
from petition_hub.broker.embedded import EmbeddedBroker
from petition_hub.domain.petition import Channel, petition_id_for
from webconsole import PASSWORD, csrf_of, serve_console

pytestmark = [pytest.mark.broker, pytest.mark.slow]

BEARER = {"Authorization": f"Bearer {TEST_API_TOKEN}"}


@pytest.fixture
def console_url(hub_topics: EmbeddedBroker, tmp_path: Path) -> Iterator[str]:
    accounts = [("office1", "office", None), ("court1", "unit", "dept.COURT")]
    with serve_console(hub_topics, tmp_path, [*accounts, ("hud1", "unit", "dept.HUD")]) as url:
        yield url


def _detail(url: str, pid: str) -> dict[str, Any] | None:
    answer = httpx.get(f"{url}/api/petitions/{pid}", headers=BEARER, timeout=5)
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _sign_in(url: str, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=10)
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 303, answer.text
    return client, client.get("/api/me").json()["csrf_token"]


def test_office_unit_and_hub_through_the_console(
    hub_topics: EmbeddedBroker,
    start_worker: Callable[..., WorkerProcess],
    console_url: str,
) -> None:
    start_worker(hub_topics, HUB_LIFECYCLE_PARK_SECONDS="2")
    dispatch = f"HA-20260601-{uuid.uuid4().int % 1_000_000:06d}"
    pid = petition_id_for(Channel.PROVINCE, dispatch)
    received = datetime.now(UTC)
    produce(
        hub_topics.bootstrap,
        "province.dispatch",
        [(dispatch.encode(), court_dispatch(dispatch, received), ())],
    )

    def routed() -> dict[str, Any] | None:
        found = _detail(console_url, pid)
        return found if found is not None and found["state"] == "routed" else None

    petition = wait_until(routed, 120, what=f"{pid} routed in the console")
    assert petition["lead_unit"] == "dept.COURT", petition
    co = [u["unit"] for u in petition["units"] if u["role"] == "CO_HANDLER"]
    assert co, petition["units"]
    assert "13700375555" not in str(petition)  # the contact is sealed, not listed

    court, csrf = _sign_in(console_url, "court1")
    mine = court.get("/api/petitions", params={"role": "lead"}).json()
    assert pid in [p["petition_id"] for p in mine["petitions"]]
    answer = court.post(
        f"/api/petitions/{pid}/actions",
        json={"kind": "SIGNED_FOR"},
        headers={"X-CSRF-Token": csrf},
    )
    assert answer.status_code == 202, answer.text
    early = court.post(
        f"/api/petitions/{pid}/actions",
        json={"kind": "REPLIED", "reply_kind": "RESOLVED", "reply_text": "已办结"},
        headers={"X-CSRF-Token": csrf},
    )
    # the read model may not have the sign-for yet: refused before it (reply_before_sign_for)
    # or accepted after it; either way the hub's own reason or the record, never a guess
    assert early.status_code in (202, 409), early.text

    def signed_for() -> dict[str, Any] | None:
        found = _detail(console_url, pid)
        return found if found is not None and found["state"] != "routed" else None

    petition = wait_until(signed_for, 120, what=f"{pid} signed for in the console")
    assert petition["state"] in ("signed_for", "replied"), petition["state"]
    authors = {(e["kind"], e["author"]) for e in petition["history"]}
    assert ("status.SIGNED_FOR", "court1") in authors, petition["history"]
    assert any(e["to_state"] == "signed_for" for e in petition["history"]), petition["history"]

    hud, _ = _sign_in(console_url, "hud1")
    assert hud.get(f"/api/petitions/{pid}").status_code == 403
    assert hud.get(f"/petitions/{pid}").status_code == 403

    # a co-handler's own system sends a sign-for: the hub refuses it, the console shows why
    status = schemas.encode(
        "cn.gov.pds.hub.UnitStatus.v4",
        {"petitionId": pid, "kind": "SIGNED_FOR", "at": datetime.now(UTC), "author": "sys"},
    )
    produce(hub_topics.bootstrap, f"{co[0]}.status", [(pid.encode(), status, ())])

    def refused() -> list[dict[str, Any]]:
        found = _detail(console_url, pid) or {"refusals": []}
        return [r for r in found["refusals"] if r["reason"] == "not_the_lead"]

    (refusal,) = wait_until(refused, 120, what="the co-handler's refused sign-for")
    assert refusal["unit"] == co[0], refusal
    office, _ = _sign_in(console_url, "office1")
    page = office.get(f"/petitions/{pid}")
    assert page.status_code == 200 and "not_the_lead" in page.text
    metrics = httpx.get(f"{console_url}/metrics", headers=BEARER, timeout=5).text
    assert "petition_hub_console_projection_lag_records" in metrics
    assert 'route="/api/petitions/{petition_id}/actions",status="202"' in metrics, metrics
