"""The rule files as read, the error that lists what is wrong with them, and the helpers every
section uses to check its entries.

Checking never stops at the first problem: each helper appends to a shared ``errors`` list, every
message naming the file and the entry (``themes.yaml: theme T07: lead 'FOO' is not a department
code``), and the whole list is raised at the end as one :class:`RulesError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = [
    "SECTIONS",
    "RulesError",
    "Source",
    "add_unique",
    "dupes",
    "entry_list",
    "label",
    "validate",
    "validated_entries",
    "version_of",
]

#: The sections of a rule set, in the order their files enter the content hash.
SECTIONS: Final = ("themes", "departments", "regions", "matching")

_M = TypeVar("_M", bound=BaseModel)
_T = TypeVar("_T")


class RulesError(ValueError):
    """The rules do not load: ``errors`` lists every problem, each naming its file and entry."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        shown = "\n".join(f"  - {e}" for e in self.errors[:50])
        more = f"\n  … and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{len(self.errors)} problem(s) in the routing rules:\n{shown}{more}")


@dataclass
class Source:
    """One rule file: its name (as errors show it), its bytes (for the hash) and its YAML."""

    name: str
    raw: bytes
    doc: Mapping[str, Any]


def _fmt_validation(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"]
        out.append(f"{loc}: {msg}" if loc else msg)
    return out


def entry_list(
    src: Source, key: str, errors: list[str], *, required: bool = True
) -> list[Mapping[str, Any]]:
    """The mappings listed under ``key`` of ``src``; anything else there is an error."""
    value = src.doc.get(key)
    if value is None:
        if required:
            errors.append(f"{src.name}: missing {key!r}")
        return []
    if not isinstance(value, list):
        errors.append(f"{src.name}: {key!r} must be a list")
        return []
    out: list[Mapping[str, Any]] = []
    for i, entry in enumerate(value):
        if not isinstance(entry, dict):
            errors.append(f"{src.name}: {key}[{i}] must be a mapping")
        else:
            out.append(entry)
    return out


def validate(model: type[_M], data: Any, where: str, errors: list[str]) -> _M | None:
    """``data`` as a ``model``, or ``None`` with its problems (prefixed by ``where``) in errors."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors.extend(f"{where}: {m}" for m in _fmt_validation(exc))
        return None


def validated_entries(
    src: Source,
    key: str,
    model: type[_M],
    name: Callable[[Mapping[str, Any], int], str],
    errors: list[str],
    *,
    required: bool = True,
    check: Callable[[str, _M], None] | None = None,
) -> list[_M]:
    """The entries listed under ``key`` of ``src`` that validate as ``model``, in file order; the
    problems of the others go to ``errors``, each prefixed by how errors name the entry
    (``src.name`` and ``name(entry, index)``). ``check(where, item)`` checks each valid entry
    further, right after it validated."""
    out: list[_M] = []
    for i, entry in enumerate(entry_list(src, key, errors, required=required)):
        where = f"{src.name}: {name(entry, i)}"
        item = validate(model, entry, where, errors)
        if item is not None:
            out.append(item)
            if check is not None:
                check(where, item)
    return out


def add_unique(
    by_key: dict[str, _T], key: str, item: _T, where: str, what: str, errors: list[str]
) -> None:
    """File ``item`` under ``key``; a key already filed is an error (``what`` defined twice, the
    later entry wins)."""
    if key in by_key:
        errors.append(f"{where}: {what} defined twice")
    by_key[key] = item


def label(what: str, key: str) -> Callable[[Mapping[str, Any], int], str]:
    """How errors name the ``i``-th entry: by its ``key`` (``theme T07``), else by its position."""

    def name(entry: Mapping[str, Any], i: int) -> str:
        ident = entry.get(key)
        return f"{what} {ident}" if isinstance(ident, str | int) else f"{what} #{i + 1}"

    return name


def dupes(items: Iterable[str]) -> list[str]:
    """The items listed more than once, each once, in order of their second occurrence."""
    seen: set[str] = set()
    dupes: list[str] = []
    for x in items:
        if x in seen and x not in dupes:
            dupes.append(x)
        seen.add(x)
    return dupes


def version_of(sources: Sequence[Source], by_section: Mapping[str, Source]) -> tuple[str, str]:
    """The rules' version and their content hash (``sha256:`` and 12 hex digits).

    The version is the files' explicit ``version:`` values (joined by ``+``), else the hash.
    """
    h = hashlib.sha256()
    ordered = [by_section[s] for s in SECTIONS]
    ordered += [s for s in sources if s not in ordered]
    for src in ordered:
        h.update(len(src.raw).to_bytes(8, "big"))
        h.update(src.raw)
    digest = "sha256:" + h.hexdigest()[:12]
    explicit: list[str] = []
    for src in ordered:
        v = src.doc.get("version")
        if v is not None and str(v) not in explicit:
            explicit.append(str(v))
    return ("+".join(explicit) if explicit else digest), digest
