"""Machine-checked sharing rules: which legal basis each partner type may share under."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DEFAULT_RULES_PATH = Path(__file__).with_name("sharing_rules.toml")


@dataclass(frozen=True)
class SharingRules:
    version: str
    legal_bases: dict[str, str]
    allowed: dict[str, frozenset[str]]

    def is_allowed(self, partner_type: str, legal_basis: str) -> bool:
        return legal_basis in self.allowed.get(partner_type, frozenset())

    def describe(self, legal_basis: str) -> str:
        return self.legal_bases.get(legal_basis, legal_basis)


@lru_cache(maxsize=8)
def load_sharing_rules(path: Path = DEFAULT_RULES_PATH) -> SharingRules:
    raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    bases = {code: entry["description"] for code, entry in raw["legal_bases"].items()}
    allowed: dict[str, frozenset[str]] = {}
    for partner_type, codes in raw["partner_types"].items():
        unknown = set(codes) - bases.keys()
        if unknown:
            raise ValueError(f"{path}: partner type {partner_type} names unknown bases {unknown}")
        allowed[partner_type] = frozenset(codes)
    return SharingRules(version=str(raw["version"]), legal_bases=bases, allowed=allowed)
