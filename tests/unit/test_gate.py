"""The approval gate: what a candidate changes for its entity type, and when that blocks it."""

from __future__ import annotations

import pytest

from matching.defaults import default_params
from matching.gate import GatePolicy, type_impact, verdict
from matching.linker import Member
from matching.relink import RelinkOutcome
from matching.validation import build_report

PARTNERS = ("gemeente", "politie", "douane")


def member(record_id: int, partner: str, entity_type: str = "address") -> Member:
    return Member(record_id, (partner, f"r{record_id}"), entity_type, {}, None)


def outcome(clusters: list[list[int]], links: set[tuple[int, int]]) -> RelinkOutcome:
    """Clusters of record ids; record i belongs to partner i % 3."""
    return RelinkOutcome(
        links, [[member(i, PARTNERS[i % 3]) for i in cluster] for cluster in clusters]
    )


def test_impact_counts_links_entities_and_hits_gained_and_lost() -> None:
    active = outcome([[0, 1], [3, 4, 5], [6], [7]], {(0, 1), (3, 4), (4, 5)})
    # The candidate splits {3, 4, 5}, keeps {0, 1} and joins 6 and 7.
    candidate = outcome([[0, 1], [3], [4, 5], [6, 7]], {(0, 1), (4, 5), (6, 7)})
    impact = type_impact("address", active, candidate)
    assert impact["links"] == {"active": 3, "candidate": 3, "gained": 1, "lost": 1}
    assert impact["entities"] == {"active": 4, "candidate": 4, "merged": 1, "split": 1}
    # Hits (two partners or more): {0, 1}, {3, 4, 5} before; {0, 1}, {4, 5}, {6, 7} after.
    # {3, 4, 5} is still a hit through {4, 5} (partners 1 and 2); {6, 7} is new.
    assert impact["hits"] == {"active": 2, "candidate": 3, "gained": 1, "lost": 0}


def test_other_entity_types_are_left_out() -> None:
    active = outcome([[0, 1]], {(0, 1)})
    active.clusters.append([member(9, "douane", "person"), member(10, "politie", "person")])
    active.links.add((9, 10))
    impact = type_impact("address", active, outcome([[0], [1]], set()))
    assert impact["links"]["active"] == 1 and impact["hits"]["lost"] == 1


def test_losing_more_than_the_share_blocks() -> None:
    active = outcome([[i, i + 1] for i in range(0, 200, 2)], {(i, i + 1) for i in range(0, 200, 2)})
    keeps = {(i, i + 1) for i in range(0, 200, 2)} - {(0, 1)}
    candidate = outcome([[0], [1]] + [[i, i + 1] for i in range(2, 200, 2)], keeps)
    impact = type_impact("address", active, candidate)
    assert not verdict(impact, [], GatePolicy(max_lost_links=0.02, max_lost_hits=0.02))["blocked"]
    strict = verdict(impact, [], GatePolicy(max_lost_links=0.005, max_lost_hits=0.5))
    assert strict["blocked"] and strict["reasons"] == ["loses 1 of 100 links (1.0%, more than 0%)"]


def test_levels_out_of_order_or_no_relink_block() -> None:
    impact = type_impact("address", outcome([[0, 1]], {(0, 1)}), outcome([[0, 1]], {(0, 1)}))
    assert verdict(impact, [], GatePolicy()) == {
        "blocked": False,
        "reasons": [],
        "policy": GatePolicy().to_dict(),
    }
    assert verdict(impact, ["surname 'dice>=0.8' weighs ..."], GatePolicy())["blocked"]
    assert verdict(None, [], GatePolicy())["blocked"]


def test_a_candidate_that_collapses_the_address_model_is_blocked() -> None:
    # The collapse once found on held-out data: an equal address cancelled by the prior.
    active = default_params("address")
    collapsed = default_params("address")
    collapsed.version = "em-collapsed"
    collapsed.prior = 2**-13.1
    equal = collapsed.comparisons["address"]
    equal.m[0] = equal.u[0] * 2**13.1
    links = {(i, i + 1) for i in range(0, 40, 2)}
    impact = type_impact(
        "address",
        outcome([[i, i + 1] for i in range(0, 40, 2)], links),
        outcome([[i] for i in range(40)], set()),
    )
    report = build_report(active, collapsed, None, impact=impact)
    assert report["headline"]["blocked"]
    reasons = report["gate"]["reasons"]
    assert any(r.startswith("loses 20 of 20 links") for r in reasons)
    assert any(r.startswith("loses 20 of 20 hit-list subjects") for r in reasons)
    assert any(r.startswith("levels out of order: address 'dice>=0.95'") for r in reasons)


@pytest.mark.parametrize("bad", [{"max_lost_links": 1.5}, {"min_partners": 1}])
def test_a_policy_out_of_range_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        GatePolicy(**bad)
