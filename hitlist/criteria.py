"""Load and check the versioned hit-list criteria (TOML).

The criteria are agreed configuration. A typo in them must stop the build rather than quietly
produce a different list, so unknown keys and out-of-range values raise :class:`CriteriaError`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract import ENTITY_TYPES

#: The criteria that ship with the project; a deployment may point RIEC_HITLIST_CRITERIA
#: at its own agreed file.
BUNDLED_CRITERIA = Path(__file__).with_name("criteria.toml")

_SECTIONS: dict[str, frozenset[str]] = {
    "": frozenset({"version", "description", "selection", "ranking", "patterns", "output"}),
    "selection": frozenset(
        {
            "min_partners",
            "entity_types",
            "signal_window_days",
            "exclude_past_retention",
            "require_passed_validation",
        }
    ),
    "ranking": frozenset(
        {"partners_cap", "themes_cap", "recency_half_life_days", "top_contributions", "weights"}
    ),
    "ranking.weights": frozenset(
        {"distinct_partners", "distinct_themes", "recency", "mean_link_probability"}
    ),
    "output": frozenset({"max_rows", "suppression_threshold"}),
    "patterns": frozenset(
        {
            "companies_at_address",
            "persons_at_address",
            "vehicles_per_holder",
            "companies_per_director",
        }
    ),
}

#: Pattern name -> (relationship kind, entity type of the records that state it, description).
PATTERN_KINDS: dict[str, tuple[str, str, str]] = {
    "companies_at_address": ("located_at", "company", "address of {n} companies"),
    "persons_at_address": ("located_at", "person", "address of {n} persons"),
    "vehicles_per_holder": ("registered_to", "vehicle", "holder of {n} vehicles"),
    "companies_per_director": ("has_director", "company", "director of {n} companies"),
}


class CriteriaError(ValueError):
    """The criteria file is missing a setting, has an unknown one, or a value out of range."""


@dataclass(frozen=True)
class RankingWeights:
    distinct_partners: float
    distinct_themes: float
    recency: float
    mean_link_probability: float

    @property
    def total(self) -> float:
        return sum(
            (self.distinct_partners, self.distinct_themes, self.recency, self.mean_link_probability)
        )


@dataclass(frozen=True)
class Criteria:
    """One version of the agreed hit-list criteria."""

    version: str
    description: str
    min_partners: int
    entity_types: tuple[str, ...]
    signal_window_days: int
    exclude_past_retention: bool
    require_passed_validation: bool
    partners_cap: int
    themes_cap: int
    recency_half_life_days: int
    top_contributions: int
    weights: RankingWeights
    max_rows: int
    suppression_threshold: int
    source: dict[str, Any]
    #: Pattern name -> the count from which it is reported (see PATTERN_KINDS); 0 = off.
    patterns: dict[str, int] = field(default_factory=dict)
    """The parsed TOML as written, stored with every hit list built under it."""


def load_criteria(path: Path | str | None = None) -> Criteria:
    """Read the criteria at ``path`` (default: the bundled criteria file)."""
    path = Path(path) if path is not None else BUNDLED_CRITERIA
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CriteriaError(f"{path}: not valid TOML ({exc})") from exc
    return parse_criteria(raw, where=str(path))


def parse_criteria(raw: dict[str, Any], *, where: str = "criteria") -> Criteria:
    """Check ``raw`` (parsed TOML) and turn it into :class:`Criteria`."""
    _reject_unknown_keys(raw, where)
    selection = _table(raw, "selection", where)
    ranking = _table(raw, "ranking", where)
    weights_raw = _table(ranking, "weights", where, prefix="ranking.")
    output = _table(raw, "output", where)

    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        raise CriteriaError(f"{where}: 'version' must be a non-empty string")
    entity_types = selection.get("entity_types")
    if (
        not isinstance(entity_types, list)
        or not entity_types
        or not set(entity_types) <= set(ENTITY_TYPES)
    ):
        raise CriteriaError(
            f"{where}: selection.entity_types must be a non-empty list from {list(ENTITY_TYPES)}"
        )
    weights = RankingWeights(
        **{
            name: _number(weights_raw, name, f"{where}: ranking.weights")
            for name in _SECTIONS["ranking.weights"]
        }
    )
    if weights.total <= 0:
        raise CriteriaError(f"{where}: ranking.weights must not all be zero")

    return Criteria(
        version=version.strip(),
        description=str(raw.get("description", "")),
        min_partners=_integer(selection, "min_partners", f"{where}: selection", minimum=2),
        entity_types=tuple(dict.fromkeys(entity_types)),
        signal_window_days=_integer(selection, "signal_window_days", f"{where}: selection"),
        exclude_past_retention=_boolean(selection, "exclude_past_retention", f"{where}: selection"),
        require_passed_validation=_boolean(
            selection, "require_passed_validation", f"{where}: selection"
        ),
        partners_cap=_integer(ranking, "partners_cap", f"{where}: ranking"),
        themes_cap=_integer(ranking, "themes_cap", f"{where}: ranking"),
        recency_half_life_days=_integer(ranking, "recency_half_life_days", f"{where}: ranking"),
        top_contributions=_integer(ranking, "top_contributions", f"{where}: ranking"),
        weights=weights,
        max_rows=_integer(output, "max_rows", f"{where}: output"),
        suppression_threshold=_integer(output, "suppression_threshold", f"{where}: output"),
        source=raw,
        patterns=_patterns(raw, where),
    )


def _patterns(raw: dict[str, Any], where: str) -> dict[str, int]:
    """Pattern thresholds; the [patterns] table is optional (older criteria lack it)."""
    table = raw.get("patterns", {})
    if not isinstance(table, dict):
        raise CriteriaError(f"{where}: [patterns] must be a table")
    return {
        name: _integer(table, name, f"{where}: patterns", minimum=0)
        for name in PATTERN_KINDS
        if name in table
    }


def _reject_unknown_keys(raw: dict[str, Any], where: str) -> None:
    tables: list[tuple[str, Any]] = [("", raw)]
    while tables:
        name, table = tables.pop()
        if not isinstance(table, dict):
            continue
        allowed = _SECTIONS.get(name)
        if allowed is None:
            continue
        unknown = sorted(set(table) - allowed)
        if unknown:
            label = f"[{name}]" if name else "top level"
            raise CriteriaError(f"{where}: unknown setting(s) {unknown} at {label}")
        for key, value in table.items():
            if isinstance(value, dict):
                tables.append((f"{name}.{key}" if name else key, value))


def _table(raw: dict[str, Any], key: str, where: str, prefix: str = "") -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise CriteriaError(f"{where}: missing table [{prefix}{key}]")
    return value


def _integer(table: dict[str, Any], key: str, where: str, *, minimum: int = 1) -> int:
    value = table.get(key)
    # bool is an int subclass; `true` must not pass as 1.
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CriteriaError(f"{where}.{key} must be a whole number of at least {minimum}")
    return value


def _number(table: dict[str, Any], key: str, where: str) -> float:
    value = table.get(key)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise CriteriaError(f"{where}.{key} must be a number of at least 0")
    return float(value)


def _boolean(table: dict[str, Any], key: str, where: str) -> bool:
    value = table.get(key)
    if not isinstance(value, bool):
        raise CriteriaError(f"{where}.{key} must be true or false")
    return value
