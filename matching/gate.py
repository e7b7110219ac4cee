"""The approval gate: what a candidate model would change for its entity type, and whether
that blocks its approval.

Two relinks of every stored record are compared: one with the active model, one with the
candidate in its place (the other types keep their active model in both, so every
difference is the candidate's). Per entity type the comparison counts

* **links** gained and lost: record pairs scored above the threshold by one and not the
  other;
* **entities** merged and split: a candidate entity that joins records of several active
  entities, an active entity whose records end up in several candidate entities;
* **hit-list subjects** gained and lost: an entity with records of at least
  ``min_partners`` partners is a cross-partner hit; a hit is kept when the other relink
  still has one entity holding records of that many of its partners.

A candidate is **blocked** when it loses more than a set share of its type's links or hits,
or when it brings in a level that weighs more than a more similar level of the same
comparison (the trained address model that once removed every address hit did both). A
blocked candidate can only be approved with an override and its reason, which the audit
trail records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from matching.linker import Member
from matching.relink import RelinkOutcome


@dataclass(frozen=True)
class GatePolicy:
    """When a candidate is blocked. Shares are of the type's links or hits under the active
    model; ``min_partners`` is the hit list's: the partners an entity needs to be a hit."""

    max_lost_links: float = 0.02
    max_lost_hits: float = 0.02
    min_partners: int = 2

    def __post_init__(self) -> None:
        for name in ("max_lost_links", "max_lost_hits"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a share between 0 and 1")
        if self.min_partners < 2:
            raise ValueError("min_partners must be at least 2")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def type_impact(
    entity_type: str, active: RelinkOutcome, candidate: RelinkOutcome, *, min_partners: int = 2
) -> dict[str, Any]:
    """Links, entities and hits of ``entity_type`` under the active model and the candidate."""
    records = {
        m.id: m for cluster in active.clusters for m in cluster if m.entity_type == entity_type
    }
    before = {pair for pair in active.links if pair[0] in records}
    after = {pair for pair in candidate.links if pair[0] in records}
    old = _clusters_of(active.clusters, entity_type)
    new = _clusters_of(candidate.clusters, entity_type)
    old_hits = _hits(old, min_partners)
    new_hits = _hits(new, min_partners)
    return {
        "records": len(records),
        "links": {
            "active": len(before),
            "candidate": len(after),
            "gained": len(after - before),
            "lost": len(before - after),
        },
        "entities": {
            "active": len(old),
            "candidate": len(new),
            "merged": _joined(new, old),
            "split": _joined(old, new),
        },
        "hits": {
            "active": len(old_hits),
            "candidate": len(new_hits),
            "gained": len(_unkept(new_hits, old, min_partners)),
            "lost": len(_unkept(old_hits, new, min_partners)),
        },
    }


def verdict(
    impact: dict[str, Any] | None, level_order: Sequence[str], policy: GatePolicy
) -> dict[str, Any]:
    """Whether the gate blocks a candidate, and why (one sentence per reason).

    ``impact`` is :func:`type_impact` (``None`` when no relink was run: then what the
    candidate would change is unknown, which blocks too); ``level_order`` the messages of
    the level-order flags the candidate brings in.
    """
    reasons = [f"levels out of order: {message}" for message in level_order]
    if impact is None:
        reasons.append("not checked against a relink: what it would change is unknown")
    else:
        for part, limit in (("links", policy.max_lost_links), ("hits", policy.max_lost_hits)):
            counts = impact[part]
            share = counts["lost"] / counts["active"] if counts["active"] else 0.0
            if share > limit:
                what = "links" if part == "links" else "hit-list subjects"
                reasons.append(
                    f"loses {counts['lost']} of {counts['active']} {what} ({share:.1%}, "
                    f"more than {limit:.0%})"
                )
    return {"blocked": bool(reasons), "reasons": reasons, "policy": policy.to_dict()}


def _clusters_of(clusters: Iterable[list[Member]], entity_type: str) -> list[list[Member]]:
    return [c for c in clusters if c and c[0].entity_type == entity_type]


def _partners(cluster: Iterable[Member]) -> set[str]:
    return {m.key[0] for m in cluster}


def _hits(clusters: list[list[Member]], min_partners: int) -> list[list[Member]]:
    return [c for c in clusters if len(_partners(c)) >= min_partners]


def _joined(clusters: list[list[Member]], parts_of: list[list[Member]]) -> int:
    """How many of ``clusters`` hold records of more than one cluster of ``parts_of``."""
    owner = {m.id: i for i, cluster in enumerate(parts_of) for m in cluster}
    return sum(1 for cluster in clusters if len({owner.get(m.id) for m in cluster}) > 1)


def _unkept(
    hits: list[list[Member]], other: list[list[Member]], min_partners: int
) -> list[list[Member]]:
    """The hits no cluster of ``other`` keeps: none holds records of ``min_partners`` of the
    hit's partners."""
    owner = {m.id: i for i, cluster in enumerate(other) for m in cluster}
    out = []
    for hit in hits:
        partners_by_cluster: dict[int, set[str]] = defaultdict(set)
        for m in hit:
            if (cluster := owner.get(m.id)) is not None:
                partners_by_cluster[cluster].add(m.key[0])
        if not any(len(p) >= min_partners for p in partners_by_cluster.values()):
            out.append(hit)
    return out
