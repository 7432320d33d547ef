"""The ``departments`` section (``departments.yaml``): every handling unit and the escalation steps,
and the check other sections use for the unit codes they name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from petition_hub.domain.rules.matcher import normalize_text
from petition_hub.domain.rules.model import COUNTY, Department, EscalationStep
from petition_hub.domain.rules.source import Source, add_unique, dupes, label, validated_entries

__all__ = ["Departments", "check_unit", "departments_section"]


@dataclass(frozen=True, slots=True)
class Departments:
    """The validated ``departments`` section (the entries that validated, in file order)."""

    departments: list[Department]
    by_code: dict[str, Department]
    escalation: list[EscalationStep]


def departments_section(src: Source, errors: list[str]) -> Departments:
    """The departments and escalation steps of ``src``; problems go to ``errors``."""
    departments = validated_entries(
        src, "departments", Department, label("department", "code"), errors
    )
    by_code: dict[str, Department] = {}
    for dept in departments:
        add_unique(by_code, dept.code, dept, f"{src.name}: department {dept.code}", "code", errors)
    if COUNTY not in by_code:
        errors.append(f"{src.name}: the placeholder department {COUNTY} is missing")
    _check_names(src, departments, by_code, errors)
    escalation = _escalation(src, by_code, errors)
    return Departments(departments, by_code, escalation)


def _check_names(
    src: Source,
    departments: list[Department],
    by_code: Mapping[str, Department],
    errors: list[str],
) -> None:
    # A text's mention of a name or alias must lead to one unit only.
    name_owner: dict[str, str] = {}
    for dept in departments:
        for n in dupes([dept.name, *dept.aliases]):
            errors.append(f"{src.name}: department {dept.code}: alias {n!r} is listed twice")
        for n in {dept.name, *dept.aliases}:
            key = normalize_text(n)
            other = name_owner.get(key)
            if other is not None and other != dept.code:
                errors.append(
                    f"{src.name}: department {dept.code}: alias {n!r} also names department "
                    f"{other} (each alias maps to one code only)"
                )
            name_owner.setdefault(key, dept.code)
        for host in dept.hosted_by:
            if host not in by_code:
                errors.append(
                    f"{src.name}: department {dept.code}: hosted_by {host!r} is not a "
                    "department code"
                )


def _escalation(
    src: Source, by_code: Mapping[str, Department], errors: list[str]
) -> list[EscalationStep]:
    def check(where: str, step: EscalationStep) -> None:
        for u in step.units:
            if u not in by_code:
                errors.append(f"{where}: unit {u!r} is not a department code")

    return validated_entries(
        src,
        "escalation",
        EscalationStep,
        lambda e, i: f"escalation step {e.get('step', i + 1)}",
        errors,
        required=False,
        check=check,
    )


def check_unit(
    code: str,
    where: str,
    what: str,
    *,
    county_ok: bool,
    by_code: Mapping[str, Department],
    errors: list[str],
) -> None:
    """``code`` (named ``what`` at ``where``) must be a department; the county placeholder only
    where ``county_ok``."""
    if code == COUNTY and not county_ok:
        errors.append(f"{where}: {what} {code!r} cannot be the county placeholder here")
    elif code not in by_code:
        errors.append(f"{where}: {what} {code!r} is not a department code")
