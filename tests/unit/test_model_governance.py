"""Validation reports of model versions: weight changes and the flags for odd estimates."""

from __future__ import annotations

import copy
import math

import pytest

from matching.comparisons import COMPARISONS
from matching.defaults import default_params
from matching.model import ModelParams
from matching.params_store import Approval, ApprovalError
from matching.validation import (
    build_report,
    graded_levels,
    headline_text,
    sanity_flags,
    weight_changes,
)


def with_weights(params: ModelParams, comparison: str, weights: dict[int, float]) -> ModelParams:
    """A copy of ``params`` whose levels of ``comparison`` have the given weights (bits).

    u is kept; m is set so that log2(m/u) is the weight (m need not sum to one here: only
    the weights are judged).
    """
    changed = copy.deepcopy(params)
    levels = changed.comparisons[comparison]
    for level, weight in weights.items():
        levels.m[level] = levels.u[level] * 2**weight
    return changed


def checks(flags: list) -> set[tuple[str, str | None, str | None]]:
    return {(f.check, f.comparison, f.level) for f in flags}


@pytest.mark.parametrize("entity_type", sorted(COMPARISONS))
def test_a_model_against_itself_raises_no_flag(entity_type: str) -> None:
    params = default_params(entity_type)
    assert sanity_flags(params, params) == []
    assert all(row["change"] == 0 for row in weight_changes(params, params))


def test_a_less_similar_level_weighing_more_is_flagged() -> None:
    old = default_params("person")
    new = with_weights(old, "surname", {0: 5.0, 1: 7.0})
    assert checks(sanity_flags(old, new)) == {("level_order", "surname", "dice>=0.8")}
    # "equal" outranks every Dice level of the address.
    new = with_weights(old, "address", {0: 6.0, 1: 9.0})
    assert ("level_order", "address", "dice>=0.9") in checks(sanity_flags(old, new))


def test_levels_off_the_similarity_scale_are_not_ordered_against_it() -> None:
    old = default_params("person")
    birth_date = next(c for c in COMPARISONS["person"] if c.name == "birth_date")
    assert [birth_date.labels[i] for i in graded_levels(birth_date)] == [
        "equal",
        "dice>=0.75",
        "different",
    ]
    # A swapped day and month is another kind of evidence, not a degree of similarity.
    new = with_weights(old, "birth_date", {1: 40.0})
    assert sanity_flags(old, new) == []


def test_an_agreement_against_a_match_and_a_disagreement_for_one_are_flagged() -> None:
    old = default_params("company")
    new = with_weights(old, "kvk", {0: -2.0})
    assert ("agreement_negative", "kvk", "equal") in checks(sanity_flags(old, new))
    new = with_weights(old, "company_name", {3: 0.5})
    assert checks(sanity_flags(old, new)) == {
        ("disagreement_positive", "company_name", "dissimilar")
    }
    # Within a hundredth of a bit of zero is noise, not a finding.
    assert sanity_flags(old, with_weights(old, "company_name", {3: 0.01})) == []


def test_an_oddity_the_replaced_model_has_as_well_is_not_flagged_again() -> None:
    base = default_params("person")
    odd = with_weights(base, "surname", {0: 5.0, 1: 7.0})
    assert sanity_flags(base, odd)
    assert sanity_flags(odd, with_weights(odd, "surname", {1: 8.0})) == []


def test_a_prior_that_moved_tenfold_is_flagged_either_way() -> None:
    old = default_params("address")
    for factor, flagged in ((11.0, True), (9.0, False), (1 / 9, False), (1 / 11, True)):
        new = copy.deepcopy(old)
        new.prior = old.prior * factor
        assert (("prior_moved", None, None) in checks(sanity_flags(old, new))) is flagged


def test_weight_changes_list_old_and_new_weight_largest_change_first() -> None:
    old = default_params("person")
    new = with_weights(old, "given_names", {2: -1.0})
    new = with_weights(new, "surname", {4: -9.0})
    rows = weight_changes(old, new)
    assert len(rows) == sum(len(c.labels) for c in COMPARISONS["person"])
    first, second = rows[0], rows[1]
    surname = old.comparisons["surname"]
    assert (first["comparison"], first["level"]) == ("surname", "dissimilar")
    assert first["old"] == pytest.approx(math.log2(surname.m[4] / surname.u[4]), abs=1e-3)
    assert first["new"] == pytest.approx(-9.0, abs=1e-3)
    assert first["change"] == pytest.approx(first["new"] - first["old"], abs=2e-3)
    assert (second["comparison"], second["level"]) == ("given_names", "dice>=0.5")
    assert all(row["change"] == 0 for row in rows[2:])


def test_the_report_headline_counts_flags_and_what_a_relink_would_change() -> None:
    old = default_params("person")
    new = with_weights(old, "surname", {0: 5.0, 1: 7.0})
    new.prior = old.prior * 50
    relink = {
        "candidate": {"changed_records": 12, "agreement": {"pairwise_f1": 0.99}},
        "active": {"changed_records": 2, "agreement": {"pairwise_f1": 1.0}},
    }
    report = build_report(old, new, relink)
    assert report["against"] == old.version
    assert report["headline"]["changed_records"] == 12
    assert report["headline"]["changed_records_active_model"] == 2
    assert report["headline"]["flags"] == 2
    assert report["prior"]["ratio"] == pytest.approx(50)
    assert headline_text(report) == (
        f"12 records change entity (2 with {old.version}); 2 flags; blocked by the gate"
    )
    # Without a relink the gate cannot tell what a candidate would change.
    assert headline_text(build_report(old, old, None)) == (
        "relink not run; no flags; blocked by the gate"
    )
    assert headline_text(None) == "not validated"


@pytest.mark.parametrize(("by", "reason"), [("", "why"), ("who", "  "), (None, "why")])
def test_an_approval_names_who_and_why(by: str | None, reason: str | None) -> None:
    with pytest.raises(ApprovalError):
        Approval.required(by, reason)
    assert Approval.required(" A. Analist ", " read the report ") == Approval(
        "A. Analist", "read the report"
    )
    with pytest.raises(ApprovalError):
        Approval.required("A. Analist", "read the report", override_gate=" ")
