"""A provincial dispatch's call-back contact: sealed from routing to the lifecycle (``Routed.v3``
``callbackContact``), kept sealed in the lifecycle's state, opened only for the call-back request,
dropped at closure. The stages' processors, without a broker (the end-to-end story is
``tests/test_lifecycle_e2e.py``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet

from hubtest import court_dispatch, pii_cipher
from petition_hub import schemas
from petition_hub.agents.lifecycle import LifecycleProcessor
from petition_hub.agents.lifecycle_state import Entry
from petition_hub.agents.rekeyers import UNIT_HEADER
from petition_hub.agents.routing import LiveRules, RoutingProcessor
from petition_hub.agents.routing_records import callback_contact
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.domain.lifecycle import LifecycleState
from petition_hub.domain.petition import Petition
from petition_hub.domain.rules import default_rules
from petition_hub.runtime.records import Output, SourceRecord
from petition_hub.runtime.state import PartitionState
from petition_hub.schemas import codec
from petition_hub.service.crypto import PiiCipher

ROUTED = "app-routed"
STATUS = "app-unit-status-repartition"
NOW = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
DISPATCH = "HA-20260601-000077"
PHONE = "13700375555"  # court_dispatch's contact person 孙总


def _dispatch() -> Petition:
    return PETITION_DECODERS["province.dispatch"](
        DISPATCH.encode(), court_dispatch(DISPATCH, NOW), ()
    )


def _routed(petition: Petition, cipher: PiiCipher | None) -> Output:
    value = schemas.encode(codec.PETITION, codec.petition_record(petition))
    src = SourceRecord("hub.petitions", 0, 0, petition.petition_id.encode(), value)
    router = RoutingProcessor(
        LiveRules(None),
        "410400",
        ROUTED,
        clock=lambda: NOW,
        seal=None if cipher is None else cipher.encrypt,
    )
    return next(o for o in router(src, PartitionState()) if o.topic == ROUTED)


def _lifecycle(cipher: PiiCipher) -> tuple[LifecycleProcessor, PartitionState]:
    p = LifecycleProcessor(
        rules=default_rules(),
        city="410400",
        routed=ROUTED,
        statuses=STATUS,
        evaluations="app-evaluations-repartition",
        unit_topics=frozenset({"dept.COURT.petitions"}),
        clock=lambda: NOW + timedelta(minutes=1),
        unseal=cipher.decrypt,
    )
    state = PartitionState()
    p.restored(0, state)
    return p, state


def test_only_a_provincial_dispatch_has_a_call_back_contact() -> None:
    dispatch = _dispatch()
    assert json.loads(callback_contact(dispatch) or b"") == {"name": "孙总", "phone": PHONE}
    for sample in ("hotline-financing.json", "miniprogram-v2-enterprise.json"):
        s = load_samples()[sample]
        assert callback_contact(PETITION_DECODERS[s.topic](s.key, s.value, s.headers)) is None


def test_the_contact_is_sealed_on_routed_and_in_the_lifecycle_state() -> None:
    cipher = pii_cipher()
    dispatch = _dispatch()
    out = _routed(dispatch, cipher)
    assert schemas.split_header(out.value or b"")[0] == schemas.schema_id(codec.ROUTED_V5)
    assert PHONE.encode() not in (out.value or b"") and "孙总".encode() not in (out.value or b"")
    record = codec.read_routed(schemas.decode(out.value or b"")[1])
    sealed = record.get("callbackContact")
    assert sealed and json.loads(cipher.decrypt(sealed))["phone"] == PHONE

    p, state = _lifecycle(cipher)
    p(SourceRecord(ROUTED, 0, 0, out.key, out.value), state)
    p.flushing(0, state)
    raw = state.get(dispatch.petition_id.encode())
    assert raw is not None and PHONE.encode() not in raw
    entry = Entry.load(raw)
    assert entry.contact == sealed and Entry.load(entry.dump()).contact == sealed
    assert entry.state.state is not LifecycleState.CLOSED


def test_without_a_key_routing_writes_no_contact() -> None:
    record = schemas.decode(_routed(_dispatch(), None).value or b"")[1]
    assert record["callbackContact"] is None


def _reply(p: LifecycleProcessor, state: PartitionState, pid: str) -> dict[str, object]:
    """The call-back request of the lead's reply (signed for, then replied)."""
    at = NOW + timedelta(minutes=1)
    outputs: list[Output] = []
    for offset, (kind, extra) in enumerate(
        [("SIGNED_FOR", {}), ("REPLIED", {"replyText": "已执行到位。"})]
    ):
        value = schemas.encode(
            "cn.gov.pds.hub.UnitStatus.v1", {"petitionId": pid, "kind": kind, "at": at, **extra}
        )
        headers = ((UNIT_HEADER, b"dept.COURT"),)
        outputs += p(SourceRecord(STATUS, 0, offset, pid.encode(), value, headers), state)
    requests = [o for o in outputs if o.topic == "hotline12345.callback-requests"]
    assert len(requests) == 1, [o.topic for o in outputs]
    return dict(json.loads(requests[0].value or b""))


def test_the_call_back_request_carries_the_opened_contact() -> None:
    cipher = pii_cipher()
    p, state = _lifecycle(cipher)
    out = _routed(_dispatch(), cipher)
    p(SourceRecord(ROUTED, 0, 0, out.key, out.value), state)
    request = _reply(p, state, _dispatch().petition_id)
    assert (request["dispatchId"], request["contactName"], request["contactPhone"]) == (
        DISPATCH,
        "孙总",
        PHONE,
    )
    assert request["replyText"] == "已执行到位。" and request["channel"] == "PROVINCE"


def test_a_contact_the_key_no_longer_opens_gives_a_request_without_one() -> None:
    p, state = _lifecycle(pii_cipher())
    other = PiiCipher(Fernet.generate_key().decode())  # a key this lifecycle does not hold
    out = _routed(_dispatch(), other)
    p(SourceRecord(ROUTED, 0, 0, out.key, out.value), state)
    request = _reply(p, state, _dispatch().petition_id)
    assert request["dispatchId"] == DISPATCH
    assert (request["contactName"], request["contactPhone"]) == (None, None)
