"""The canonical petition: what every intake connector produces, whatever the channel spoke.

A :class:`Petition` is immutable and carries no Kafka coordinates (topic, partition and offset are
the intake agent's business). Its id is a pure function of the channel and the channel's own
reference (:func:`petition_id_for`), so a redelivered message, or a 12345 work order re-published
after an edit (same ``GDBH``, larger ``XGCS``), gets the same id without any look-up.

Personal fields (the petitioner's name, phone, ID number, WeChat openid, contact name) are marked
``pii`` in the model; :data:`PERSONAL_FIELDS` lists them and :meth:`Petition.masked` returns a copy
fit for logs and dead-letter tools. Its wire form (``Petition.v2``, and ``Petition.v1`` still
read) is the codec's (:mod:`petition_hub.schemas.codec`): the domain knows no wire field name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "PERSONAL_FIELDS",
    "Attachment",
    "Channel",
    "Enterprise",
    "Evaluation",
    "Flag",
    "GeoPoint",
    "Petition",
    "PetitionType",
    "Petitioner",
    "PetitionerKind",
    "Satisfaction",
    "Urgency",
    "mask_id_number",
    "mask_name",
    "mask_openid",
    "mask_phone",
    "personal_fields",
    "personal_kinds",
    "petition_id_for",
]

#: Largest revision (Avro ``int``).
MAX_REVISION: Final = 2**31 - 1


class Channel(StrEnum):
    """The upstream channel a petition came through."""

    HOTLINE = "hotline"
    """12345 hotline work orders (``hotline12345.workorders``)."""
    MINIPROGRAM = "miniprogram"
    """WeChat mini-program appeals (``miniprogram.appeals``)."""
    PROVINCE = "province"
    """Provincial platform dispatches (``province.dispatch``)."""


class PetitionType(StrEnum):
    """The six petition types of the hub (domain.md, Types)."""

    POLICY_CONSULTATION = "政策咨询"
    SUGGESTION = "意见建议"
    LEGAL_RIGHTS = "法律维权"
    DIFFICULTY_ASSISTANCE = "困难求助"
    REPORT_COMPLAINT = "举报投诉"
    OTHER = "其他诉求"


class Urgency(StrEnum):
    """Urgency (12345 ``JJCD``: 一般, 紧急, 特急); channels without one are ``normal``."""

    NORMAL = "normal"
    URGENT = "urgent"
    VERY_URGENT = "very_urgent"


class PetitionerKind(StrEnum):
    """Who petitions: an enterprise, or a private-economy person (个体、自然人)."""

    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"


class Satisfaction(StrEnum):
    """The petitioner's rating of the result (一事一评)."""

    SATISFIED = "满意"
    BASICALLY_SATISFIED = "基本满意"
    DISSATISFIED = "不满意"


class Flag(StrEnum):
    """Problems of an accepted petition: the field was kept (as typed) but is not trustworthy."""

    USCC_INVALID = "uscc_invalid"
    """The credit code fails the GB 32100 check; kept as typed."""
    USCC_MISSING = "uscc_missing"
    """An enterprise petitioner without a credit code."""
    USCC_MISMATCH = "uscc_mismatch"
    """Mini-program: the account's and the enterprise's credit codes differ (enterprise's wins)."""
    ID_NUMBER_INVALID = "id_number_invalid"
    """The resident ID number fails the check; kept as typed."""
    ID_NUMBER_MISSING = "id_number_missing"
    """An individual petitioner without an ID number (mini-program, province)."""
    PHONE_INVALID = "phone_invalid"
    """The phone number is neither a mobile nor a landline number; kept as typed."""
    PHONE_MISSING = "phone_missing"
    """No phone number (mini-program accounts always have one, so this is an upstream fault)."""
    REGION_CODE_UNKNOWN = "region_code_unknown"
    """Six digits, but not a division code the hub knows; kept."""
    REGION_CODE_INVALID = "region_code_invalid"
    """Not six digits: dropped (``region_code`` is ``None``); location falls back to the county."""
    TARGET_CITY_INVALID = "target_city_invalid"
    """Province: ``targetCity`` is not six digits; kept as sent."""
    CATEGORY_UNKNOWN = "category_unknown"
    """The channel's category is not one the hub knows; ``petition_type`` is left to enrichment."""
    LOCATION_INVALID = "location_invalid"
    """Latitude or longitude out of range: dropped."""


_PII: Final = "pii"
_MASK: Final = "mask"


def _pii(mask: str) -> Any:
    """A ``Field`` for a personal attribute: optional, marked ``pii``, masked with ``mask``."""
    return Field(default=None, json_schema_extra={_PII: True, _MASK: mask})


def personal_kinds(model: type[BaseModel]) -> dict[str, str]:
    """``model``'s own fields marked ``pii``, in their order, each with the kind of personal value
    it holds (``name``, ``phone``, ``id_number`` or ``openid``: how it is masked)."""
    kinds: dict[str, str] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get(_PII):
            kinds[name] = str(extra[_MASK])
    return kinds


_FROZEN = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class _Model(BaseModel):
    """Base of the hub's models: frozen, no extra fields, and a trusted constructor."""

    model_config = _FROZEN

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """An instance built from ``values`` WITHOUT pydantic validation.

        For the connectors' hot path only: they have checked every value already (types,
        ranges, patterns), and validating again costs more than the rest of a decode. Missing
        fields get their defaults. The test suite re-validates every petition the connectors
        build (``model_validate(p.model_dump()) == p``), so the two paths cannot drift apart.
        Like ``model_construct``, but without its per-field Python loop over aliases.
        """
        defaults = _DEFAULTS.get(cls)
        if defaults is None:
            defaults = _DEFAULTS[cls] = {
                name: None if info.is_required() else info.default
                for name, info in cls.model_fields.items()
            }
        state = defaults.copy()  # in field order; update() keeps the order of existing keys
        state.update(values)
        if len(state) != len(defaults):
            unknown = sorted(values.keys() - defaults.keys())
            raise TypeError(f"{cls.__name__}.trusted() got unknown fields {unknown}")
        obj = cls.__new__(cls)
        object.__setattr__(obj, "__dict__", state)
        object.__setattr__(obj, "__pydantic_fields_set__", set(values))
        object.__setattr__(obj, "__pydantic_extra__", None)
        object.__setattr__(obj, "__pydantic_private__", None)
        return obj


_DEFAULTS: dict[type[BaseModel], dict[str, Any]] = {}


def petition_id_for(channel: Channel | str, ref: str) -> str:
    """The hub's stable petition id for ``ref`` on ``channel``.

    ``"PH-"`` and the first 20 characters of the base32 SHA-256 of ``"{channel}:{ref}"``
    (100 bits), e.g. ``petition_id_for("hotline", "12345-410400-20261116-000871")``. Deterministic,
    so every worker, a replay and a redelivery agree without a look-up.
    """
    return _petition_id(Channel(channel).value, ref)


_BASE32: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"  # RFC 4648


@lru_cache(maxsize=4096)
def _petition_id(channel: str, ref: str) -> str:
    digest = hashlib.sha256(f"{channel}:{ref}".encode()).digest()
    # The first 20 base32 characters are the first 100 bits, 5 at a time: the same as
    # base64.b32encode(digest)[:20] (a test says so) without its pure-Python loop over 32 bytes.
    bits = int.from_bytes(digest[:13], "big") >> 4
    return "PH-" + "".join([_BASE32[(bits >> shift) & 31] for shift in range(95, -1, -5)])


def _to_utc_millis(value: datetime) -> datetime:
    """``value`` in UTC, truncated to whole milliseconds (the precision of the Avro form)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a time zone")
    value = value.astimezone(UTC)
    if value.microsecond % 1000:
        value = value.replace(microsecond=value.microsecond - value.microsecond % 1000)
    return value


def mask_phone(phone: str) -> str:
    """``13803750001`` → ``138****0001``; ``0375-2961234`` → ``037*****1234``; short: all ``*``."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    """``王建国`` → ``王**``, ``王某`` → ``王*``; a single character → ``*``."""
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def mask_id_number(number: str) -> str:
    """``410423198005122319`` → ``4104**********2319``; short: all ``*``."""
    if len(number) < 9:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_openid(openid: str) -> str:
    """``o6_bmjrPTlm6_2sgVt7hMZOPfL2M`` → ``o6_b…``."""
    return openid[:4] + "…" if len(openid) > 4 else "…"


_MASKS: Final[Mapping[str, Callable[[str], str]]] = {
    "phone": mask_phone,
    "name": mask_name,
    "id_number": mask_id_number,
    "openid": mask_openid,
}


class GeoPoint(_Model):
    """A WGS-84 point (mini-program ``location``)."""

    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False)
    lng: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False)


class Attachment(_Model):
    """A file the petitioner attached (12345 ``FJ`` has URLs only)."""

    name: str | None = None
    url: str
    sha256: str | None = None


class Enterprise(_Model):
    """The enterprise the petition is about (public facts, not personal information)."""

    name: str | None = None
    uscc: str | None = None
    """Unified social credit code, compacted when valid, else as typed (and flagged)."""


class Petitioner(_Model):
    """Who petitions. All but ``kind`` is personal information (``pii``)."""

    kind: PetitionerKind
    name: str | None = _pii("name")
    """A person's name: the caller, the account holder or the individual; never an enterprise's."""
    phone: str | None = _pii("phone")
    id_number: str | None = _pii("id_number")
    openid: str | None = _pii("openid")
    contact_name: str | None = _pii("name")

    def masked(self) -> Petitioner:
        """A copy with every personal field masked (see :func:`mask_phone` and friends)."""
        update: dict[str, str] = {}
        for name, kind in personal_kinds(type(self)).items():
            value = getattr(self, name)
            if isinstance(value, str):
                update[name] = _MASKS[kind](value)
        return self.model_copy(update=update)


class Petition(_Model):
    """The canonical petition. Build it with keywords; ``petition_id`` and ``repeat_of`` are
    computed from ``channel``/``channel_ref`` and ``repeat_of_ref`` when not given (and checked
    when given)."""

    petition_id: str = ""
    """``petition_id_for(channel, channel_ref)``."""
    channel: Channel
    channel_ref: str = Field(min_length=1)
    """The channel's own id: 12345 ``GDBH``, mini-program ``appealId``, province ``dispatchId``."""
    revision: int = Field(default=0, ge=0, le=MAX_REVISION)
    """12345 ``XGCS`` (edit count); 0 elsewhere. A larger revision supersedes a smaller one."""
    repeat_of_ref: str | None = None
    """12345 ``YGDBH``: the earlier work order this repeat call is about."""
    repeat_of: str | None = None
    """The petition id of ``repeat_of_ref`` (same channel)."""
    received_at: datetime
    """When the channel received it, UTC, millisecond precision."""
    petition_type: PetitionType | None = None
    """Mapped from the channel's category; ``None`` when missing/unknown (enrichment infers it)."""
    channel_category: str | None = None
    """The channel's category as sent (``SQLB``, ``category`` number or ``type``, enum symbol)."""
    urgency: Urgency = Urgency.NORMAL
    title: str | None = None
    content: str = Field(min_length=1)
    region_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    """Explicit six-digit division code of the matter's location, when the channel sent one."""
    region_name: str | None = None
    """County or district name as typed (12345 ``SSQX``, mini-program ``region.name``)."""
    target_city: str | None = None
    """Province: the city the dispatch is addressed to."""
    origin_channel: str | None = None
    """Province: the provincial channel (``PROVINCE_WEB``, …, ``TRANSFER_FROM_CITY``)."""
    location: GeoPoint | None = None
    attachments: tuple[Attachment, ...] = ()
    operator_note: str | None = None
    """12345 ``ZXBZ``."""
    provincial_deadline: datetime | None = None
    """Province v2: the hub must not give the handling unit a later deadline (UTC)."""
    enterprise: Enterprise | None = None
    petitioner: Petitioner
    confidential: bool = False
    """The petitioner asked that their identity be withheld (12345 ``SFBM`` "1", province)."""
    disclosure_authorized: bool = False
    """Mini-program ``authorizeDisclosure``; the other channels send no such field (on 12345 not
    asking for confidentiality is the consent: :attr:`identity_visible_to_unit`)."""
    flags: tuple[str, ...] = ()
    """Problems of accepted fields (:class:`Flag` values), sorted, unique."""

    @model_validator(mode="before")
    @classmethod
    def _derive_ids(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        channel, ref = data.get("channel"), data.get("channel_ref")
        if channel in _CHANNEL_VALUES and isinstance(ref, str):
            if not data.get("petition_id"):
                data = {**data, "petition_id": petition_id_for(channel, ref)}
            repeat_ref = data.get("repeat_of_ref")
            if isinstance(repeat_ref, str) and data.get("repeat_of") is None:
                data = {**data, "repeat_of": petition_id_for(channel, repeat_ref)}
        return data

    @model_validator(mode="after")
    def _check_ids(self) -> Petition:
        if self.petition_id != petition_id_for(self.channel, self.channel_ref):
            raise ValueError("petition_id is not petition_id_for(channel, channel_ref)")
        if self.repeat_of_ref is None:
            if self.repeat_of is not None:
                raise ValueError("repeat_of without repeat_of_ref")
        elif self.repeat_of != petition_id_for(self.channel, self.repeat_of_ref):
            raise ValueError("repeat_of is not petition_id_for(channel, repeat_of_ref)")
        return self

    @field_validator("received_at", "provincial_deadline")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _to_utc_millis(value)

    @field_validator("flags")
    @classmethod
    def _sorted_flags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({str(f) for f in value}))

    @classmethod
    def trusted(cls, **values: Any) -> Self:
        """A petition from values a connector has already checked, without pydantic validation
        (see :meth:`_Model.trusted`), normalised as validation would: ``petition_id`` and
        ``repeat_of`` computed, times in UTC to the millisecond, flags sorted and unique."""
        channel, ref = values["channel"], values["channel_ref"]
        values["petition_id"] = petition_id_for(channel, ref)
        repeat_ref = values.get("repeat_of_ref")
        values["repeat_of"] = None if repeat_ref is None else petition_id_for(channel, repeat_ref)
        values["received_at"] = _to_utc_millis(values["received_at"])
        deadline = values.get("provincial_deadline")
        if deadline is not None:
            values["provincial_deadline"] = _to_utc_millis(deadline)
        flags = values.get("flags")
        if flags:
            values["flags"] = tuple(sorted({str(f) for f in flags}))
        return super().trusted(**values)

    @property
    def identity_visible_to_unit(self) -> bool:
        """The handling unit may see who petitions (the caller's or account holder's name and
        phone): no confidentiality asked, and the channel's consent given. On 12345 not asking
        for confidentiality (``SFBM`` "0") is the consent (domain.md, "Personal information": the
        hotline's own practice); the mini-program asks (``authorizeDisclosure``). A sensitive
        theme withholds it all the same (routing's decision). The enterprise's name and credit
        code are no personal data and do not depend on this."""
        if self.confidential:
            return False
        return self.channel is Channel.HOTLINE or self.disclosure_authorized

    def masked(self) -> Petition:
        """A copy with the petitioner's personal fields masked, for logs and dead-letter tools."""
        return self.model_copy(update={"petitioner": self.petitioner.masked()})


_CHANNEL_VALUES: Final = frozenset(Channel) | frozenset(c.value for c in Channel)


class Evaluation(_Model):
    """A petitioner's rating of the result (mini-program ``miniprogram.evaluations`` or the 12345
    call-back ``hotline12345.callbacks``)."""

    channel: Channel
    ref: str = Field(min_length=1)
    """The channel's id of the petition: ``appealId`` or ``GDBH``."""
    petition_id: str = ""
    """``petition_id_for(channel, ref)`` (computed when not given)."""
    petition_ref: str | None = None
    """``petitionRef`` as sent: the id the hub gave when it invited the evaluation."""
    satisfaction: Satisfaction
    comment: str | None = None
    evaluated_at: datetime
    revision: int = Field(default=0, ge=0, le=1)
    """0 for the first rating, 1 for the one allowed change."""

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("petition_id"):
            channel, ref = data.get("channel"), data.get("ref")
            if channel in _CHANNEL_VALUES and isinstance(ref, str):
                data = {**data, "petition_id": petition_id_for(channel, ref)}
        return data

    @model_validator(mode="after")
    def _check_id(self) -> Evaluation:
        if self.petition_id != petition_id_for(self.channel, self.ref):
            raise ValueError("petition_id is not petition_id_for(channel, ref)")
        return self

    @field_validator("evaluated_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _to_utc_millis(value)


def personal_fields(model: type[BaseModel] = Petition, prefix: str = "") -> tuple[str, ...]:
    """Dotted paths of the fields marked ``pii`` in ``model`` and its nested models."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get(_PII):
            paths.append(prefix + name)
        for arg in _model_args(info.annotation):
            paths.extend(personal_fields(arg, f"{prefix}{name}."))
    return tuple(paths)


def _model_args(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation such as ``Petitioner`` or ``Enterprise | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found.extend(_model_args(arg))
    return found


#: ``("petitioner.name", "petitioner.phone", "petitioner.id_number", "petitioner.openid",
#: "petitioner.contact_name")``: never in logs, metric labels, Kafka keys or headers.
PERSONAL_FIELDS: Final[tuple[str, ...]] = personal_fields()
