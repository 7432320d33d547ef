"""The console's tables: the read model projected from the hub's topics, and the console's own
(people, audit, throttling).

SQLAlchemy 2 typed declarative models on one :class:`Base`; the migrations in
``petition_hub/console/migrations/versions`` create exactly these (a test compares them).

Projected tables (emptied by ``petition-hub console rebuild``, see :data:`PROJECTED`):
``petitions``, ``petition_units``, ``events``, ``extension_requests``, ``refusals`` and the
offsets they were projected up to, ``consumed_offsets``. The console's own: ``users``,
``audit_log``, ``login_failures``.

Times are stored in UTC (:class:`UtcDateTime`: aware datetimes in, aware UTC datetimes out, on
SQLite too, which keeps no zone). No column holds personal data in plain text: the petitioner's
contact, and the texts as the units received them where they quote it, are ``contact_sealed``
(encrypted with ``HUB_PII_KEY``: :func:`petition_hub.console.sealing.open_personal`); the plain
texts have the contact's name and phone and every phone- or ID-shaped number masked. Once the hub
erases a petition's personal data, none of these is kept (``petitions.erased_at``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "PERSONAL_COLUMNS",
    "PROJECTED",
    "AuditEntry",
    "Base",
    "ConsumedOffset",
    "Event",
    "ExtensionRequest",
    "LoginFailure",
    "Petition",
    "PetitionUnit",
    "Refusal",
    "User",
    "UtcDateTime",
]

#: Constraint names the same on every database, so migrations can name what they alter.
NAMING: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC: an aware datetime in, an aware UTC datetime out (SQLite keeps
    no zone, PostgreSQL's ``timestamptz`` does; both read back the same)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime {value!r}: the console stores aware times only")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The console's declarative base: one metadata for every table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: Final[dict[Any, Any]] = {datetime: UtcDateTime}


class Petition(Base):
    """One petition as the console lists it: its routing (the units' ``UnitPetition`` copies and
    ``hub.triage``), its state (``hub.lifecycle``), its clocks (``hub.sla``)."""

    __tablename__ = "petitions"

    petition_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int | None] = mapped_column(Integer)
    """The UnitPetition revision the routing columns come from (a larger one supersedes)."""
    channel: Mapped[str | None] = mapped_column(String(32), index=True)
    channel_ref: Mapped[str | None] = mapped_column(String(128))
    petition_type: Mapped[str | None] = mapped_column(String(32), index=True)
    urgency: Mapped[str | None] = mapped_column(String(16))
    theme: Mapped[str | None] = mapped_column(String(32), index=True)
    theme_name: Mapped[str | None] = mapped_column(String(128))
    county: Mapped[str | None] = mapped_column(String(6), index=True)
    """6-digit division code of a county of the city, else null."""
    location_kind: Mapped[str | None] = mapped_column(String(32))
    location_code: Mapped[str | None] = mapped_column(String(16))
    location_name: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str | None] = mapped_column(Text)
    enterprise_name: Mapped[str | None] = mapped_column(String(256))
    enterprise_uscc: Mapped[str | None] = mapped_column(String(32))
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    """JSON encrypted with HUB_PII_KEY (``sealing.open_personal``): ``contactName``,
    ``contactPhone`` (only where the petitioner consented), and ``title`` / ``content`` as the
    units received them where masking changed them; null when there is none of these."""
    identity_withheld: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str | None] = mapped_column(String(32), index=True)
    """The lifecycle's ``toState``; ``triage`` / ``routed`` from routing before it speaks;
    ``linked`` for a repeat joined to an open case (``repeat_of``: no lifecycle of its own)."""
    state_at: Mapped[datetime | None]
    """When the lifecycle event that set ``state`` happened; null while routing's guess holds."""
    round: Mapped[int] = mapped_column(Integer, default=0)
    lead_unit: Mapped[str | None] = mapped_column(String(64), index=True)
    co_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    excluded_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime | None]
    routed_at: Mapped[datetime | None]
    signed_for_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    sign_for_deadline: Mapped[datetime | None]
    sign_for_deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    sign_for_deadline_at: Mapped[datetime | None]
    """When the hub.sla event that set ``sign_for_deadline`` happened; null while routing's
    holds."""
    resolve_deadline: Mapped[datetime | None] = mapped_column(index=True)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    """``resolve_deadline`` was counted on a provisional calendar year: it may move."""
    resolve_deadline_at: Mapped[datetime | None]
    """When the event that set ``resolve_deadline`` happened; null while routing's holds."""
    resolve_deadline_source: Mapped[str | None] = mapped_column(String(16))
    """``lifecycle`` or ``sla`` (a calendar change): who set ``resolve_deadline`` last."""
    provincial_deadline: Mapped[datetime | None]
    overdue_round: Mapped[int | None] = mapped_column(Integer)
    """The last round whose resolve clock fired ``overdue`` (hub.sla)."""
    listed_round: Mapped[int | None] = mapped_column(Integer)
    """The last round whose resolve clock fired ``listed_supervision`` (hub.sla)."""
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    """In the hands of a unit and past the current round's resolve deadline (逾期)."""
    supervision: Mapped[str | None] = mapped_column(String(32), index=True)
    """null, ``overdue`` (督办) or ``listed_supervision`` (挂牌督办), while a unit handles it."""
    closed_at: Mapped[datetime | None]
    closure: Mapped[str | None] = mapped_column(String(32))
    satisfaction: Mapped[str | None] = mapped_column(String(32))
    reply_kind: Mapped[str | None] = mapped_column(String(16))
    repeat_of: Mapped[str | None] = mapped_column(String(64))
    rules_version: Mapped[str | None] = mapped_column(String(64))
    routing_rule: Mapped[str | None] = mapped_column(String(128))
    routing_explanation: Mapped[str | None] = mapped_column(Text)
    routing_reason: Mapped[str | None] = mapped_column(Text)
    suggested_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    erased_at: Mapped[datetime | None]
    """When the hub erased the petition's personal data (``hub.privacy``): from then on the
    console keeps none (:data:`PERSONAL_COLUMNS` null, its history's free texts dropped), also of
    what it projects of the petition later. Set even on a row that holds nothing else yet (an
    erasure projected before the petition's own records): the tombstone they respect."""
    erasure_reason: Mapped[str | None] = mapped_column(String(16))
    """``RETENTION`` or ``REQUEST``."""
    updated_at: Mapped[datetime | None]


#: The columns of ``petitions`` that may hold personal data (the sealed contact and texts, and the
#: masked texts, which may still quote the petitioner): null once the petition is erased.
PERSONAL_COLUMNS: Final = ("title", "content", "contact_sealed", "routing_explanation")


class PetitionUnit(Base):
    """Who may see a petition: each unit it was routed to, as lead or co-handler."""

    __tablename__ = "petition_units"

    petition_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    """``LEAD`` or ``CO_HANDLER`` (the latest routing's)."""
    revision: Mapped[int] = mapped_column(Integer, default=0)
    routed_at: Mapped[datetime | None]
    """The routing's time (with ``revision``: which routing named the unit)."""
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    """False once a later routing no longer names the unit (it keeps seeing what it had)."""


class Event(Base):
    """One entry of a petition's history; the projection applies an event id once."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    """The record's eventId / ce_id, or ``topic:partition:offset`` when it has none."""
    petition_id: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(255))
    """The topic it was read from."""
    at: Mapped[datetime | None]
    kind: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str | None] = mapped_column(String(64))
    author: Mapped[str | None] = mapped_column(String(128))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    """What a reader may see (no personal data)."""
    reason: Mapped[str | None] = mapped_column(Text)
    round: Mapped[int | None] = mapped_column(Integer)


class ExtensionRequest(Base):
    """A lead unit's extension request and the office's answer."""

    __tablename__ = "extension_requests"

    petition_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(primary_key=True)
    unit: Mapped[str | None] = mapped_column(String(64))
    days: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(16), index=True)
    """null (pending), ``approved`` or ``refused``."""
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)


class Refusal(Base):
    """An event the hub did not apply (UnitNotice ``event_refused``, ``hub.rejects``)."""

    __tablename__ = "refusals"

    source_topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    source_partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_offset: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    petition_id: Mapped[str | None] = mapped_column(String(64), index=True)
    unit: Mapped[str | None] = mapped_column(String(64), index=True)
    event_kind: Mapped[str | None] = mapped_column(String(64))
    event_ref: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime | None]


class ConsumedOffset(Base):
    """Where the projection of a partition goes on: written in the same transaction as the rows
    its records produced."""

    __tablename__ = "consumed_offsets"

    topic: Mapped[str] = mapped_column(String(255), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime | None]


class User(Base):
    """A person who signs in to the console."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    """``office``, ``unit``, ``leadership`` or ``operator``."""
    unit: Mapped[str | None] = mapped_column(String(64))
    """The unit key (dept.TAX, county.410402) of a ``unit`` account; null otherwise."""
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class AuditEntry(Base):
    """Who saw what personal data (or did what), when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(128), index=True)
    at: Mapped[datetime]
    petition_id: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))


class LoginFailure(Base):
    """A failed sign-in (login throttling counts the recent ones)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]


Index("ix_login_failures_username_at", LoginFailure.username, LoginFailure.at)
# The lists' indexes hold what a list filters and orders by (state, overdue, deadline, id):
# counting a list and choosing its page read the index alone, not a hundred thousand wide rows
# (content, sealed contact); only the page's rows are read.
#: A unit's petitions (a clerk's lists start here: ``petition_units`` by unit, role, current).
Index(
    "ix_petition_units_unit_role_current",
    PetitionUnit.unit,
    PetitionUnit.role,
    PetitionUnit.current,
    PetitionUnit.petition_id,
)
_LISTED: Final = (Petition.state, Petition.overdue, Petition.resolve_deadline)
#: Given petition ids (a unit's): their state, overdue and deadlines.
Index(
    "ix_petitions_listing",
    Petition.petition_id,
    *_LISTED,
    Petition.received_at,
)
#: The office's lists by lead unit, by county and by type.
Index("ix_petitions_lead_unit_listing", Petition.lead_unit, *_LISTED, Petition.petition_id)
Index("ix_petitions_county_listing", Petition.county, *_LISTED, Petition.petition_id)
Index("ix_petitions_type_listing", Petition.petition_type, *_LISTED, Petition.petition_id)

#: The tables ``console rebuild`` empties: everything projected from the topics, and the offsets.
PROJECTED: Final[tuple[type[Base], ...]] = (
    Petition,
    PetitionUnit,
    Event,
    ExtensionRequest,
    Refusal,
    ConsumedOffset,
)


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements (one executemany, no ORM bookkeeping per row)."""
    return cast(Table, model.__table__)
