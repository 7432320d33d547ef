"""The ``regions`` section (``regions.yaml``): the province, the home city, its county-level units
(with the names an operator may type) and the other Henan cities, with the name lookups that
locating a petition uses."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from petition_hub.domain.rules.matcher import normalize_text
from petition_hub.domain.rules.model import CityEntry, CountyUnit, HenanCity
from petition_hub.domain.rules.source import Source, add_unique, validate, validated_entries

__all__ = ["Regions", "regions_section"]


@dataclass(frozen=True, slots=True)
class Regions:
    """The validated ``regions`` section and its compiled name lookups (names normalised)."""

    province: CityEntry | None
    city: CityEntry | None
    counties: list[CountyUnit]
    henan: list[HenanCity]
    county_by_code: dict[str, CountyUnit]
    county_names: dict[str, str]
    """Every full name and alias of a county unit → its code."""
    county_short: dict[str, str]
    henan_by_code: dict[str, HenanCity]
    other_city_names: dict[str, str]
    """Names and aliases of the other Henan cities → city code."""
    home_names: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Counties:
    by_code: dict[str, CountyUnit]
    names: dict[str, str]
    short: dict[str, str]


def _named(what: str) -> Callable[[Mapping[str, Any], int], str]:
    """How errors name a county unit or a city entry: by code, else name, else position."""
    return lambda entry, i: f"{what} {entry.get('code') or entry.get('name') or i + 1}"


def regions_section(src: Source, errors: list[str]) -> Regions:
    """The regions of ``src``; problems go to ``errors``."""
    province = validate(CityEntry, src.doc.get("province"), f"{src.name}: province", errors)
    city = validate(CityEntry, src.doc.get("city"), f"{src.name}: city", errors)
    counties = validated_entries(src, "county_units", CountyUnit, _named("county unit"), errors)
    henan = validated_entries(src, "henan_cities", HenanCity, _named("Henan city"), errors)
    c = _county_lookups(src, counties, city, errors)
    henan_by_code, other_city_names = _henan_lookups(src, henan, province, city, c.names, errors)
    if city is not None and city.code not in henan_by_code:
        errors.append(f"{src.name}: city {city.code}: not listed in henan_cities")
    home_names = frozenset(
        normalize_text(n) for n in ((city.name, *city.aliases, *city.short_forms) if city else ())
    )
    return Regions(
        province=province,
        city=city,
        counties=counties,
        henan=henan,
        county_by_code=c.by_code,
        county_names=c.names,
        county_short=c.short,
        henan_by_code=henan_by_code,
        other_city_names=other_city_names,
        home_names=home_names,
    )


#: How many leading digits of a division code name its province and its city.
_PREFIX: Final = {"province": 2, "city": 4}


def _check_inside(
    code: str, parent: CityEntry | None, what: str, where: str, errors: list[str]
) -> None:
    """The division ``code`` must lie inside ``parent`` (the province or the city, ``what``)."""
    digits = _PREFIX[what]
    if parent is not None and code[:digits] != parent.code[:digits]:
        errors.append(f"{where}: code is not inside the {what} {parent.code}")


def _county_lookups(
    src: Source, counties: list[CountyUnit], city: CityEntry | None, errors: list[str]
) -> _Counties:
    by_code: dict[str, CountyUnit] = {}
    names: dict[str, str] = {}
    short: dict[str, str] = {}
    for unit in counties:
        where = f"{src.name}: county unit {unit.code} {unit.name}"
        add_unique(by_code, unit.code, unit, where, "code", errors)
        _check_inside(unit.code, city, "city", where, errors)
        for n in {unit.name, unit.full_name, unit.handler, *unit.aliases}:
            key = normalize_text(n)
            other = names.get(key)
            if other is not None and other != unit.code:
                errors.append(f"{where}: name {n!r} also names county unit {other}")
            names[key] = unit.code
        for n in unit.short_forms:
            key = normalize_text(n)
            other = short.get(key) or (names.get(key) if names.get(key) != unit.code else None)
            if other is not None and other != unit.code:
                errors.append(f"{where}: short form {n!r} also names county unit {other}")
            short[key] = unit.code
    return _Counties(by_code, names, short)


def _henan_lookups(
    src: Source,
    henan: list[HenanCity],
    province: CityEntry | None,
    city: CityEntry | None,
    county_names: dict[str, str],
    errors: list[str],
) -> tuple[dict[str, HenanCity], dict[str, str]]:
    by_code: dict[str, HenanCity] = {}
    other_city_names: dict[str, str] = {}
    for hc in henan:
        where = f"{src.name}: Henan city {hc.code} {hc.name}"
        add_unique(by_code, hc.code, hc, where, "code", errors)
        _check_inside(hc.code, province, "province", where, errors)
        if city is not None and hc.code == city.code:
            if not hc.home:
                errors.append(f"{where}: the home city should say home: true")
            continue
        if hc.home:
            errors.append(f"{where}: home: true but the city is {city.code if city else '?'}")
        # A name shared with a county unit or another city would locate a petition twice.
        for n in {hc.name, *hc.aliases}:
            key = normalize_text(n)
            if key in county_names or key in other_city_names:
                errors.append(f"{where}: name {n!r} is used twice in regions.yaml")
            other_city_names[key] = hc.code
    return by_code, other_city_names
