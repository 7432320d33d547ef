"""Loading the rules: files and directories, recognising which sections each file holds, and
filling in the sections no file gives from the packaged data (``petition_hub/data``).

Sections are recognised by their top-level keys, so one combined file, or a directory holding a new
``themes.yaml`` only, loads as well. Every problem is raised as one :class:`RulesError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Final

import yaml

from petition_hub.data import data_path
from petition_hub.domain.rules.build import build
from petition_hub.domain.rules.model import RuleSet
from petition_hub.domain.rules.source import SECTIONS, RulesError, Source

__all__ = [
    "DEFAULT_FILES",
    "RulesError",
    "default_rules",
    "load_rules",
    "load_rules_from_dir",
    "parse_rules",
]

#: The packaged files, in the order their bytes enter the content hash.
DEFAULT_FILES: Final = ("themes.yaml", "departments.yaml", "regions.yaml", "matching.yaml")

#: Top-level keys that identify each section in a file.
_SECTION_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "themes": frozenset({"themes", "priority", "fallback", "petition_type_hints"}),
    "departments": frozenset({"departments", "escalation"}),
    "regions": frozenset({"province", "city", "county_units", "henan_cities", "routing"}),
    "matching": frozenset({"matching"}),
}


def _default_path(name: str) -> Path:
    return data_path(name)


def load_rules(paths: Sequence[str | Path] | None = None) -> RuleSet:
    """Load, validate and compile the rules.

    ``paths``: YAML files, each holding one or more sections (recognised by their keys); a section
    no file provides comes from the packaged data. ``None``: the packaged files (see
    :func:`default_rules` for a cached copy). Raises :class:`RulesError`.
    """
    files = [Path(p) for p in paths] if paths is not None else []
    return parse_rules([(p.name, _read(p)) for p in files])


def load_rules_from_dir(directory: str | Path) -> RuleSet:
    """The rules of ``directory``: its ``themes.yaml``, ``departments.yaml``, ``regions.yaml`` and
    ``matching.yaml`` (any of them missing: the packaged one). For a dry run of a new version."""
    d = Path(directory)
    if not d.is_dir():
        raise RulesError([f"{d}: not a directory"])
    return load_rules([d / n for n in DEFAULT_FILES if (d / n).is_file()])


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The packaged rules, loaded once."""
    return load_rules()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RulesError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc


def parse_rules(files: Sequence[tuple[str, bytes]]) -> RuleSet:
    """The rule set of ``files`` (name, bytes); missing sections come from the packaged data."""
    errors: list[str] = []
    sources: list[Source] = []
    for name, raw in files:
        try:
            doc = yaml.safe_load(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            errors.append(f"{name}: not UTF-8 ({exc.reason} at byte {exc.start})")
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            errors.append(f"{name}: not valid YAML{where}: {getattr(exc, 'problem', exc)}")
            continue
        if not isinstance(doc, dict):
            errors.append(f"{name}: the top level must be a mapping")
            continue
        sources.append(Source(name, raw, doc))
    if errors:
        raise RulesError(errors)

    by_section: dict[str, Source] = {}
    for src in sources:
        found = [s for s in SECTIONS if _SECTION_KEYS[s] & src.doc.keys()]
        if not found:
            errors.append(f"{src.name}: holds none of the sections {', '.join(SECTIONS)}")
        for s in found:
            if s in by_section:
                errors.append(f"{src.name}: section {s!r} is already given by {by_section[s].name}")
            else:
                by_section[s] = src
        known = set().union(*_SECTION_KEYS.values()) | {"version"}
        for key in src.doc:
            if key not in known:
                errors.append(f"{src.name}: unknown top-level key {key!r}")
    if errors:
        raise RulesError(errors)
    for s, default_name in zip(SECTIONS, DEFAULT_FILES, strict=True):
        if s not in by_section:
            path = _default_path(default_name)
            raw = _read(path)
            doc = yaml.safe_load(raw.decode("utf-8"))
            src = Source(default_name, raw, doc)
            sources.append(src)
            by_section[s] = src
    return build(by_section, sources)
