"""Routing rules as data: the reference files loaded, validated and compiled once.

A :class:`RuleSet` is built from four YAML *sections*, each normally a file in
``petition_hub/data``:

- ``themes`` (``themes.yaml``): the themes T00..T32 with their keywords, lead, co-handlers, level,
  sensitivity and sub-routes, the ``priority`` order, the ``fallback`` theme and the
  ``petition_type_hints``;
- ``departments`` (``departments.yaml``): every handling unit (code, name, aliases, kind, vertical);
- ``regions`` (``regions.yaml``): the city, its county-level units (with the names an operator may
  type), the other Henan cities and the province;
- ``matching`` (``matching.yaml``, the hub's own): what the matching algorithm needs beyond the
  reference files: mask phrases (``执行政策`` hides ``执行``), the few keywords the hub adds, the
  cues that infer a petition type, the words of a plainly legal matter, unit words (``派出所``), the
  province table. Every entry says why it is there.

Sections are recognised by their top-level keys, so one combined file, or a directory holding a new
``themes.yaml`` only (the others come from the packaged data), loads as well:
:func:`load_rules` and :func:`load_rules_from_dir`. Everything is validated on load, and every error
names the file and the entry, e.g. ``themes.yaml: theme T07: lead 'FOO' is not a department code``;
all errors are collected and raised together as one :class:`RulesError`.

The version stamped on every decision is the explicit ``version:`` of the files when they have
one, else ``sha256:`` and the first 12 hex digits of the SHA-256 of the files' bytes;
:attr:`RuleSet.digest` is always the content hash.

One module per concern; importers use the package, which re-exports the names they need:

- :mod:`.model`: :class:`RuleSet` and the types of its entries;
- :mod:`.matcher`: :func:`normalize_text` and the compiled keyword :class:`Matcher` (one scan of
  the text with a first-character index over every word any rule looks for, about 20-40 µs for a
  200-character petition, see ``tests/test_classify.py``);
- :mod:`.load`: loading files and directories; :mod:`.source`: the files as read, the error type
  and the checking helpers every section uses;
- :mod:`.build`: building the rule set: one module per section checks it (:mod:`.departments`,
  :mod:`.regions`, :mod:`.matching`, :mod:`.themes`), then :mod:`.compiled` derives the lookups.
"""

from __future__ import annotations

from petition_hub.domain.rules.load import (
    DEFAULT_FILES,
    default_rules,
    load_rules,
    load_rules_from_dir,
    parse_rules,
)
from petition_hub.domain.rules.matcher import Hit, Matcher, normalize_text
from petition_hub.domain.rules.matcher import longest_only as longest_only
from petition_hub.domain.rules.model import (
    COUNTY,
    CityEntry,
    CountyUnit,
    Department,
    HenanCity,
    MatchingRules,
    RuleSet,
    SubRoute,
    Theme,
    TypeHint,
)
from petition_hub.domain.rules.model import EscalationStep as EscalationStep
from petition_hub.domain.rules.model import ExtraKeywords as ExtraKeywords
from petition_hub.domain.rules.model import Mask as Mask
from petition_hub.domain.rules.model import Reassign as Reassign
from petition_hub.domain.rules.model import ThemeName as ThemeName
from petition_hub.domain.rules.model import ThemeVocab as ThemeVocab
from petition_hub.domain.rules.model import TypeCue as TypeCue
from petition_hub.domain.rules.model import TypeHintRule as TypeHintRule
from petition_hub.domain.rules.model import UnitMention as UnitMention
from petition_hub.domain.rules.model import UnitWord as UnitWord
from petition_hub.domain.rules.source import RulesError

# The names of the former single module, so that no importer changes: ``__all__`` is the list that
# module had; the names imported ``as`` themselves above were importable from it too (classify
# imports UnitMention and longest_only) and stay so without joining ``__all__``.
__all__ = [
    "COUNTY",
    "DEFAULT_FILES",
    "CityEntry",
    "CountyUnit",
    "Department",
    "HenanCity",
    "Hit",
    "Matcher",
    "MatchingRules",
    "RuleSet",
    "RulesError",
    "SubRoute",
    "Theme",
    "TypeHint",
    "default_rules",
    "load_rules",
    "load_rules_from_dir",
    "normalize_text",
    "parse_rules",
]
