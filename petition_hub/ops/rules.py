"""``petition-hub rules explain|dry-run``: the routing rules as an operator questions them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from petition_hub import schemas
from petition_hub.broker.reading import read_all
from petition_hub.connectors import PETITION_DECODERS
from petition_hub.data import load_samples
from petition_hub.domain.petition import (
    Channel,
    Petition,
    Petitioner,
    PetitionerKind,
    PetitionType,
)
from petition_hub.domain.routing import RoutingDecision, dry_run, route
from petition_hub.domain.rules import RuleSet
from petition_hub.schemas import codec
from petition_hub.topics import names


def petition_from_sample(path: Path) -> Petition:
    """The petition of a channel message file: a sample name (e.g. ``hotline-financing.json``)
    or a path; the channel is recognised by the content (12345 JSON, mini-program JSON, Avro)."""
    samples = load_samples()
    if path.name in samples and not path.exists():
        s = samples[path.name]
        return PETITION_DECODERS[s.topic](s.key, s.value, s.headers)
    data = path.read_bytes()
    headers: list[tuple[str, bytes]] = []
    if data[:1] == b"\x00":
        topic = "province.dispatch"
        key = codec.read_dispatch(schemas.decode(data)[1])["dispatchId"].encode()
    else:
        try:
            obj = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            obj = json.loads(data.decode("gb18030"))
            headers = [("charset", b"GB18030")]
        topic = "hotline12345.workorders" if "GDBH" in obj else "miniprogram.appeals"
        key = str(obj.get("GDBH") or obj.get("appealId")).encode()
    return PETITION_DECODERS[topic](key, data, headers)


def petition_from_text(
    text: str,
    title: str | None = None,
    region_code: str | None = None,
    region_name: str | None = None,
    uscc: str | None = None,
    petition_type: str | None = None,
) -> Petition:
    """A petition made of what an operator typed (12345 channel, no personal data)."""
    from petition_hub.domain.petition import Enterprise

    return Petition(
        channel=Channel.HOTLINE,
        channel_ref=f"EXPLAIN-{datetime.now(UTC):%Y%m%d%H%M%S}",
        received_at=datetime.now(UTC),
        petition_type=PetitionType(petition_type) if petition_type else None,
        title=title,
        content=text,
        region_code=region_code,
        region_name=region_name,
        enterprise=Enterprise(name=None, uscc=uscc) if uscc else None,
        petitioner=Petitioner(kind=PetitionerKind.ENTERPRISE),
    )


def explain(petition: Petition, rules: RuleSet, city: str, as_json: bool) -> str:
    """The decision record for ``petition``, as text or JSON."""
    decision: RoutingDecision = route(petition, rules, city)
    if as_json:
        return json.dumps(decision.record.as_dict(), ensure_ascii=False, indent=2)
    return decision.explain()


def recent_petitions(
    bootstrap: str, limit: int, options: Mapping[str, Any] | None = None
) -> list[Petition]:
    """The latest revision of the last ``limit`` petitions on ``hub.petitions`` (``options``: the
    client's SASL and TLS settings, :func:`petition_hub.service.security.confluent_config`)."""
    latest: dict[str, Petition] = {}
    for record in read_all(bootstrap, names.PETITIONS, options=options):
        if not record.value:
            continue
        p = codec.petition_of(schemas.decode(record.value)[1])
        old = latest.pop(p.petition_id, None)
        latest[p.petition_id] = p if old is None or p.revision >= old.revision else old
    return list(latest.values())[-limit:]


def dry_run_report(
    petitions: list[Petition], current: RuleSet, candidate: RuleSet, city: str, as_json: bool
) -> str:
    """What ``candidate`` would route differently from ``current`` over ``petitions``."""
    report = dry_run(petitions, current, candidate, city=city)
    if not as_json:
        return report.render()
    return json.dumps(
        {
            "current": report.current_version,
            "candidate": report.candidate_version,
            "petitions": report.total,
            "changed": len(report.changes),
            "by_unit": {
                t: {"gained": g, "lost": lo, "lead_changes": ld}
                for t, (g, lo, ld) in report.by_unit().items()
            },
            "changes": [
                {
                    "petition_id": c.petition_id,
                    "before": c.before.record.decision,
                    "after": c.after.record.decision,
                }
                for c in report.changes
            ],
        },
        ensure_ascii=False,
        indent=2,
    )
