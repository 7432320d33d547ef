"""The routing decision and its record: the units (:class:`UnitRef`) and their topics, the
:class:`DecisionRecord` that says why, and the :class:`RoutingDecision` itself. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from petition_hub.domain.classify import Classification
from petition_hub.domain.location import Location
from petition_hub.domain.rules import COUNTY, RuleSet

TRIAGE_TOPIC: Final = "hub.triage"
PROVINCE_TRANSFERS_TOPIC: Final = "province.transfers"
PROVINCE_FEEDBACK_TOPIC: Final = "province.feedback"

DecisionKind = Literal["units", "triage", "province_transfer", "province_return"]


def dept_topic(code: str) -> str:
    """``dept.<CODE>.petitions``: what a city department leads or co-handles."""
    return f"dept.{code}.petitions"


def county_topic(division: str) -> str:
    """``county.<DIV>.petitions``: what a county-level government leads or co-handles."""
    return f"county.{division}.petitions"


@dataclass(frozen=True, slots=True, order=True)
class UnitRef:
    """A handling unit with a topic: a department (``dept``, its code) or a county-level unit's
    government (``county``, its division code)."""

    kind: Literal["dept", "county"]
    code: str

    @property
    def key(self) -> str:
        """``dept.HUD`` / ``county.410422``."""
        return f"{self.kind}.{self.code}"

    @property
    def topic(self) -> str:
        return dept_topic(self.code) if self.kind == "dept" else county_topic(self.code)

    @classmethod
    def parse(cls, value: str, rules: RuleSet) -> UnitRef:
        """``HUD``, ``dept.HUD``, ``dept.HUD.petitions``, ``410422``, ``county.410422`` or
        ``county.410422.petitions``; ``ValueError`` for anything the rules do not know."""
        v = value.strip()
        parts = v.split(".")
        if len(parts) == 3 and parts[2] == "petitions":
            parts = parts[:2]
        if len(parts) == 2 and parts[0] in ("dept", "county"):
            kind, code = parts[0], parts[1]
        elif len(parts) == 1:
            kind, code = ("county" if code_is_division(v) else "dept"), v
        else:
            raise ValueError(f"not a unit: {value!r}")
        if kind == "county":
            if code not in rules.county_by_code:
                raise ValueError(f"{code!r} is not a county-level unit of {rules.city.name}")
            return cls("county", code)
        dept = rules.department_by_code.get(code)
        if dept is None or code == COUNTY:
            raise ValueError(f"{code!r} is not a department code")
        return cls("dept", code)


def code_is_division(value: str) -> bool:
    return len(value) == 6 and value.isascii() and value.isdigit()


def unit_topic(value: str, rules: RuleSet) -> str:
    """The petitions topic of a unit given as in :meth:`UnitRef.parse`."""
    return UnitRef.parse(value, rules).topic


@dataclass(frozen=True)
class DecisionRecord:
    """Why a petition went where it went: what an operator shows a unit that disputes it."""

    rules_version: str
    rules_digest: str
    petition_id: str
    channel: str
    channel_ref: str
    petition_type: str | None
    type_source: str | None
    theme: str | None
    theme_name: str | None
    themes: tuple[str, ...]
    """Every matching theme, in priority order."""
    keywords: Mapping[str, tuple[str, ...]]
    """Theme id → keywords hit (every theme with a hit)."""
    classified_by: str | None
    """The classification rule that chose ``theme``."""
    rule: str
    """The routing rule or step that decided, e.g. ``level local: county government``."""
    steps: tuple[str, ...]
    """Every routing step taken, in order."""
    location: Location | None
    excluded: tuple[str, ...]
    accused: tuple[str, ...]
    sensitive: bool
    reason: str | None
    decision: str
    """One line: kind and units, e.g. ``units: lead dept.FINOFFICE; co dept.PBOC, …``."""
    unit_names: Mapping[str, str] = field(default_factory=dict)
    """Unit key → Chinese name, for :meth:`explain`."""

    def explain(self) -> str:
        """A human-readable account (English and Chinese names)."""
        lines = [f"Petition {self.petition_id} ({self.channel} {self.channel_ref})"]
        lines.append(f"Decision: {self._named(self.decision)}")
        if self.reason:
            lines.append(f"Reason: {self.reason}")
        digest = "" if self.rules_digest == self.rules_version else f" ({self.rules_digest})"
        lines.append(f"Rules version: {self.rules_version}{digest}")
        if self.petition_type:
            lines.append(f"Type: {self.petition_type} (from {self.type_source})")
        if self.theme:
            kws = ", ".join(self.keywords.get(self.theme, ())) or "none"
            lines.append(f"Theme: {self.theme} {self.theme_name or ''} — keywords hit: {kws}")
            others = [t for t in self.keywords if t != self.theme]
            if others:
                lines.append(
                    "Also hit: "
                    + "; ".join(
                        f"{t} ({', '.join(self.keywords[t])})"
                        + ("" if t in self.themes else ", too weak")
                        for t in others
                    )
                )
            if self.classified_by:
                lines.append(f"Theme chosen by: {self.classified_by}")
        if self.location is not None:
            lines.append(f"Location: {self.location.describe()}")
        lines.append(f"Decided by: {self.rule}")
        for s in self.steps:
            lines.append(f"  - {s}")
        if self.excluded:
            lines.append("Excluded (returned as not theirs): " + self._names(self.excluded))
        if self.sensitive:
            lines.append(
                "Sensitive: identity withheld; never shown to "
                + (self._names(self.accused) if self.accused else "the unit concerned")
            )
        return "\n".join(lines)

    def _names(self, keys: Iterable[str]) -> str:
        return ", ".join(f"{self.unit_names.get(k, k)} ({k})" for k in keys)

    def _named(self, text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            key = m.group(0)
            name = self.unit_names.get(key)
            return f"{name} ({key})" if name else key

        return re.sub(r"\b(?:dept|county)\.[A-Z0-9_]+\b", repl, text)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for a message or a log line; no personal information inside)."""
        loc = self.location
        return {
            "rules_version": self.rules_version,
            "rules_digest": self.rules_digest,
            "petition_id": self.petition_id,
            "channel": self.channel,
            "channel_ref": self.channel_ref,
            "petition_type": self.petition_type,
            "type_source": self.type_source,
            "theme": self.theme,
            "themes": list(self.themes),
            "keywords": {k: list(v) for k, v in self.keywords.items()},
            "classified_by": self.classified_by,
            "rule": self.rule,
            "steps": list(self.steps),
            "location": None
            if loc is None
            else {
                "kind": loc.kind,
                "code": loc.code,
                "name": loc.name,
                "source": loc.source,
                "detail": loc.detail,
                "division": loc.division,
            },
            "excluded": list(self.excluded),
            "accused": list(self.accused),
            "sensitive": self.sensitive,
            "reason": self.reason,
            "decision": self.decision,
        }


@dataclass(frozen=True)
class RoutingDecision:
    """Where a petition goes. ``kind == "units"``: ``lead`` and ``co`` (each sees the petition;
    the lead answers for the result). Otherwise ``topic`` is ``hub.triage``, ``province.transfers``
    or ``province.feedback`` and ``reason`` says why."""

    kind: DecisionKind
    topic: str
    """The lead's topic, or the triage/provincial topic."""
    lead: UnitRef | None
    co: tuple[UnitRef, ...]
    reason: str | None
    sensitive: bool
    identity_withheld: bool
    """The units must not learn who petitions, the person (name, phone) that is: sensitive,
    confidential or not authorised. The enterprise: :attr:`enterprise_visible`."""
    contact_visible: bool
    """The units may see the petitioner's contact details (the inverse of identity_withheld)."""
    record: DecisionRecord
    classification: Classification | None = field(default=None, repr=False, compare=False)
    location: Location | None = None

    @property
    def enterprise_visible(self) -> bool:
        """The units may see the enterprise's name and credit code: always, but where a
        sensitive theme withholds the petitioner's identity (domain.md, "Personal information":
        an enterprise's name and credit code are no personal data, yet they would tell the
        accused who complained). Not tied to the petitioner's consent or confidentiality."""
        return not self.sensitive

    @property
    def units(self) -> tuple[UnitRef, ...]:
        return (self.lead, *self.co) if self.lead is not None else ()

    @property
    def topics(self) -> tuple[str, ...]:
        """Every topic the petition goes to (the lead's first)."""
        return tuple(u.topic for u in self.units) if self.kind == "units" else (self.topic,)

    def explain(self) -> str:
        return self.record.explain()


def unit_names(rules: RuleSet, refs: Iterable[UnitRef]) -> dict[str, str]:
    """Unit key → Chinese name."""
    return {r.key: rules.unit_name(r.kind, r.code) for r in refs}
