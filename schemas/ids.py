"""The one table of schema ids: schema name → id for writing, id → schema name for reading.

Without a Schema Registry (``dev``, tests) the ids are fixed (:data:`FIXED_IDS`): the provincial
contract's (101, 102, 201, 202) and the hub's own (1001+). With one (``HUB_SCHEMA_REGISTRY_URL``)
the hub registers its own schemas at start and :func:`install` puts the ids the registry returned
here: every record is then written with the registry's id (looked up in this table, no call per
record) and read by it. The province's schemas keep the province's ids (:data:`PROVINCE_SCHEMAS`:
its records are framed by its own registry), both ways.

Consumes nothing, emits nothing; keeps the process's current table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from .codec import (
    DEADLETTER_V1,
    DEADLETTER_V2,
    DISPATCH_V1,
    DISPATCH_V2,
    EVALUATION_V1,
    EVALUATION_V2,
    FEEDBACK_V1,
    LIFECYCLE_V1,
    LIFECYCLE_V2,
    LIFECYCLE_V3,
    LIFECYCLE_V4,
    LIFECYCLE_V5,
    NOTICE_V1,
    NOTICE_V2,
    NOTICE_V3,
    OFFICE_DECISION_V1,
    OFFICE_DECISION_V2,
    ORIGINAL_V1,
    PETITION_V1,
    PETITION_V2,
    PRIVACY_EVENT_V1,
    REDRIVE_V1,
    REJECTION_V1,
    REPEAT_LINK_V1,
    REPEAT_LINK_V2,
    ROUTE_COMMAND_V1,
    ROUTED_V1,
    ROUTED_V2,
    ROUTED_V3,
    ROUTED_V4,
    ROUTED_V5,
    SLA_V1,
    SLA_V2,
    SUPERVISION_V1,
    TRANSFER_V1,
    UNIT_PETITION_V1,
    UNIT_PETITION_V2,
    UNIT_PETITION_V3,
    UNIT_STATUS_V1,
    UNIT_STATUS_V2,
    UNIT_STATUS_V3,
    UNIT_STATUS_V4,
)

#: Fixed schema ids: the provincial contract's (101, 102, 201, 202) and the hub's own (1001+).
FIXED_IDS: Final[Mapping[str, int]] = MappingProxyType(
    {
        DISPATCH_V1: 101,
        DISPATCH_V2: 102,
        FEEDBACK_V1: 201,
        TRANSFER_V1: 202,
        PETITION_V1: 1001,
        EVALUATION_V1: 1002,
        DEADLETTER_V1: 1003,
        ORIGINAL_V1: 1004,
        REDRIVE_V1: 1005,
        UNIT_PETITION_V1: 1010,
        OFFICE_DECISION_V1: 1011,
        REJECTION_V1: 1012,
        UNIT_STATUS_V1: 1013,
        ROUTED_V1: 1014,
        LIFECYCLE_V1: 1015,
        SLA_V1: 1016,
        NOTICE_V1: 1017,
        UNIT_PETITION_V2: 1018,
        NOTICE_V2: 1019,
        SLA_V2: 1020,
        LIFECYCLE_V2: 1021,
        DEADLETTER_V2: 1022,
        PRIVACY_EVENT_V1: 1023,
        PETITION_V2: 1024,
        ROUTE_COMMAND_V1: 1025,
        ROUTED_V2: 1026,
        UNIT_PETITION_V3: 1027,
        EVALUATION_V2: 1028,
        UNIT_STATUS_V2: 1029,
        LIFECYCLE_V3: 1030,
        NOTICE_V3: 1031,
        ROUTED_V3: 1032,
        UNIT_STATUS_V3: 1033,
        OFFICE_DECISION_V2: 1034,
        LIFECYCLE_V4: 1035,
        ROUTED_V4: 1037,
        REPEAT_LINK_V1: 1039,
        LIFECYCLE_V5: 1040,
        SUPERVISION_V1: 1041,
        ROUTED_V5: 1042,
        REPEAT_LINK_V2: 1043,
        UNIT_STATUS_V4: 1044,
    }
)

#: The province's schemas: their ids are the provincial contract's, whatever registry the hub uses.
PROVINCE_SCHEMAS: Final = frozenset({DISPATCH_V1, DISPATCH_V2, FEEDBACK_V1, TRANSFER_V1})


@dataclass(frozen=True)
class IdTable:
    """Schema name → id (writing) and id → schema name (reading), one to one."""

    by_name: Mapping[str, int]
    by_id: Mapping[int, str]
    #: where the hub's own ids come from: ``fixed`` or the registry's URL
    source: str = "fixed"

    @classmethod
    def of(cls, ids: Mapping[str, int], source: str = "fixed") -> IdTable:
        """The table of ``ids``; a ``ValueError`` when two schemas share an id."""
        by_id: dict[int, str] = {}
        for name, sid in ids.items():
            if by_id.setdefault(sid, name) != name:
                raise ValueError(f"schema id {sid} is both {by_id[sid]} and {name}")
        return cls(MappingProxyType(dict(ids)), MappingProxyType(by_id), source)


_current: IdTable = IdTable.of(FIXED_IDS)


def current() -> IdTable:
    """The process's table (the fixed ids until :func:`install`)."""
    return _current


def install(assigned: Mapping[str, int], source: str) -> IdTable:
    """Use the ids a registry (``source``) assigned to the hub's own schemas from now on; the
    province's keep the contract's ids, and a hub schema the registry did not assign keeps none
    (writing it is an error: it was not registered). Returns the table installed."""
    global _current  # the one table of the process, read on every encode and decode
    hub = {n: i for n, i in assigned.items() if n not in PROVINCE_SCHEMAS}
    province = {n: FIXED_IDS[n] for n in PROVINCE_SCHEMAS}
    _current = IdTable.of({**hub, **province}, source)
    return _current


def reset() -> IdTable:
    """Back to the fixed ids (tests; a process that stops using its registry)."""
    global _current  # see install
    _current = IdTable.of(FIXED_IDS)
    return _current
