"""Linkage evaluation: hand-computed cases and properties against brute-force enumeration."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching.evaluation import (
    Clustering,
    RecordKey,
    evaluate,
    evaluate_by_type,
    read_entities,
    read_keys,
    read_truth,
)


def keys(n: int) -> list[RecordKey]:
    return [("p", f"r{i}") for i in range(n)]


def clustering(labels: list[str]) -> dict[RecordKey, str]:
    return dict(zip(keys(len(labels)), labels, strict=True))


# -- hand-computed cases ----------------------------------------------------------------------


def test_hand_computed_pairwise_and_bcubed() -> None:
    # Truth: {0,1,2} {3,4}. Prediction: {0,1} {2,3,4}.
    truth = clustering(["A", "A", "A", "B", "B"])
    predicted = clustering(["x", "x", "y", "y", "y"])
    m = evaluate(predicted, truth)
    # True pairs 3 + 1 = 4; predicted pairs 1 + 3 = 4; correct: (0,1) and (3,4).
    assert (m.true_pairs, m.predicted_pairs, m.true_positive_pairs) == (4, 4, 2)
    assert m.precision == pytest.approx(0.5)
    assert m.recall == pytest.approx(0.5)
    assert m.f1 == pytest.approx(0.5)
    # B-cubed precision per record: 1, 1, 1/3, 2/3, 2/3 -> 11/15.
    assert m.bcubed_precision == pytest.approx(11 / 15)
    # B-cubed recall per record: 2/3, 2/3, 1/3, 1, 1 -> 11/15.
    assert m.bcubed_recall == pytest.approx(11 / 15)
    assert (m.true_entities, m.predicted_clusters) == (2, 2)
    assert m.entities_exact == 0
    assert (m.largest_predicted_cluster, m.largest_true_entity) == (3, 3)
    assert (m.false_positive_pairs, m.false_negative_pairs) == (2, 2)


def test_over_merge_costs_precision_only() -> None:
    truth = clustering(["A", "A", "B", "B"])
    predicted = clustering(["x", "x", "x", "x"])
    m = evaluate(predicted, truth)
    assert m.recall == 1.0
    assert m.precision == pytest.approx(2 / 6)
    assert m.bcubed_recall == 1.0
    assert m.bcubed_precision == pytest.approx(0.5)


def test_exact_reconstruction_counts_multi_record_entities_apart() -> None:
    truth = clustering(["A", "A", "B", "C", "C"])
    predicted = clustering(["x", "x", "y", "z", "w"])
    m = evaluate(predicted, truth)
    assert m.entities_exact == 2  # A and the singleton B
    assert (m.multi_record_entities, m.multi_record_entities_exact) == (2, 1)
    assert m.exact_share == pytest.approx(2 / 3)
    assert m.multi_record_exact_share == pytest.approx(0.5)


def test_missing_records_are_unlinked_and_counted() -> None:
    truth = clustering(["A", "A", "A"])
    predicted = {("p", "r0"): "x", ("p", "r1"): "x"}  # r2 was rejected at the partner
    m = evaluate(predicted, truth)
    assert m.missing_from_prediction == 1
    assert m.records_evaluated == 3
    assert (m.true_pairs, m.true_positive_pairs) == (3, 1)
    assert m.precision == 1.0
    assert m.recall == pytest.approx(1 / 3)


def test_two_missing_records_never_link_to_each_other() -> None:
    truth = clustering(["A", "A"])
    m = evaluate({}, truth)
    assert m.missing_from_prediction == 2
    assert m.predicted_pairs == 0
    assert m.recall == 0.0


def test_records_unknown_to_truth_are_reported_not_scored() -> None:
    truth = clustering(["A", "A"])
    predicted = {**clustering(["x", "x"]), ("q", "extra"): "x"}
    m = evaluate(predicted, truth)
    assert m.unknown_to_truth == 1
    assert m.predicted_records == 3
    assert (m.precision, m.recall) == (1.0, 1.0)


def test_retracted_and_excluded_records_leave_both_sides() -> None:
    truth = clustering(["A", "A", "B", "B"])
    predicted = Clustering(
        {("p", "r0"): "x", ("p", "r1"): "x", ("p", "r2"): "y"},
        retracted=frozenset({("p", "r3")}),
    )
    m = evaluate(predicted, truth, exclude={("p", "r2")})
    assert m.retracted_excluded == 1
    assert m.excluded == 1
    assert m.records_evaluated == 2
    assert (m.precision, m.recall) == (1.0, 1.0)


def test_entity_ids_are_scoped_by_type() -> None:
    k = keys(2)
    truth = Clustering({k[0]: "S1", k[1]: "S1"}, types={k[0]: "person", k[1]: "address"})
    predicted = Clustering({k[0]: "E1", k[1]: "E2"}, types={k[0]: "person", k[1]: "address"})
    m = evaluate(predicted, truth)
    assert m.true_pairs == 0
    assert m.f1 == 1.0


def test_evaluate_by_type_splits_records() -> None:
    k = keys(4)
    types = {k[0]: "person", k[1]: "person", k[2]: "vehicle", k[3]: "vehicle"}
    truth = Clustering({k[0]: "A", k[1]: "A", k[2]: "V", k[3]: "V"}, types=types)
    predicted = Clustering({k[0]: "x", k[1]: "x", k[2]: "v1", k[3]: "v2"}, types=types)
    by_type = evaluate_by_type(predicted, truth)
    assert set(by_type) == {"person", "vehicle"}
    assert by_type["person"].f1 == 1.0
    assert by_type["vehicle"].recall == 0.0


def test_evaluate_by_type_places_missing_records_with_their_entity() -> None:
    k = keys(3)
    truth = Clustering({k[0]: "A", k[1]: "A", k[2]: "A"})  # no types in the truth
    predicted = Clustering({k[0]: "x", k[1]: "x"}, types={k[0]: "person", k[1]: "person"})
    by_type = evaluate_by_type(predicted, truth)
    assert set(by_type) == {"person"}
    assert by_type["person"].missing_from_prediction == 1
    assert by_type["person"].recall == pytest.approx(1 / 3)


def test_empty_inputs() -> None:
    m = evaluate({}, {})
    assert m.records_evaluated == 0
    assert (m.precision, m.recall, m.bcubed_precision, m.bcubed_recall) == (1.0, 1.0, 1.0, 1.0)


def test_to_dict_and_render() -> None:
    m = evaluate(clustering(["x", "x"]), clustering(["A", "A"]))
    data = m.to_dict()
    assert data["f1"] == 1.0
    assert data["false_positive_pairs"] == 0
    assert "multi_record_exact_share" in data
    assert m.render().row_count > 10


# -- reading the files ------------------------------------------------------------------------


def test_read_entities_and_truth(tmp_path: Path) -> None:
    entities = tmp_path / "entities.csv"
    entities.write_text(
        "partner,partner_record_id,entity_type,entity_id,status\n"
        "a,1,person,E1,active\n"
        "b,2,person,E1,active\n"
        "b,3,person,E2,retracted\n",
        encoding="utf-8",
    )
    truth = tmp_path / "truth.csv"
    truth.write_text(
        "partner,record_id,entity_type,true_entity_id\na,1,person,S1\nb,2,person,S1\n",
        encoding="utf-8",
    )
    predicted = read_entities(entities)
    assert predicted.retracted == {("b", "3")}
    assert predicted.types[("a", "1")] == "person"
    m = evaluate(predicted, read_truth(truth))
    assert m.f1 == 1.0
    assert read_keys(truth) == {("a", "1"), ("b", "2")}


def test_read_truth_with_other_column_names(tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("partner,ref,subject\na,1,S1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="record_id"):
        read_truth(truth)
    loaded = read_truth(truth, record_id_column="ref", entity_column="subject")
    assert loaded.clusters == {("a", "1"): "S1"}


def test_read_truth_refuses_contradictions(tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    truth.write_text("partner,record_id,true_entity_id\na,1,S1\na,1,S2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        read_truth(truth)


# -- properties -------------------------------------------------------------------------------

labelings = st.lists(st.integers(min_value=0, max_value=6), min_size=0, max_size=25)


@st.composite
def two_labelings(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    truth = draw(labelings)
    predicted = draw(st.lists(st.integers(0, 6), min_size=len(truth), max_size=len(truth)))
    return [f"T{t}" for t in truth], [f"P{p}" for p in predicted]


@given(two_labelings())
@settings(max_examples=200, deadline=None)
def test_pair_counts_equal_brute_force(labels: tuple[list[str], list[str]]) -> None:
    truth_labels, predicted_labels = labels
    m = evaluate(clustering(predicted_labels), clustering(truth_labels))
    index = range(len(truth_labels))
    same_true = {(i, j) for i, j in combinations(index, 2) if truth_labels[i] == truth_labels[j]}
    same_pred = {
        (i, j) for i, j in combinations(index, 2) if predicted_labels[i] == predicted_labels[j]
    }
    assert m.true_pairs == len(same_true)
    assert m.predicted_pairs == len(same_pred)
    assert m.true_positive_pairs == len(same_true & same_pred)


@given(two_labelings())
@settings(max_examples=200, deadline=None)
def test_bcubed_equals_per_record_definition(labels: tuple[list[str], list[str]]) -> None:
    truth_labels, predicted_labels = labels
    m = evaluate(clustering(predicted_labels), clustering(truth_labels))
    n = len(truth_labels)
    if n == 0:
        return
    precision = recall = 0.0
    for i in range(n):
        same_pred = {j for j in range(n) if predicted_labels[j] == predicted_labels[i]}
        same_true = {j for j in range(n) if truth_labels[j] == truth_labels[i]}
        precision += len(same_pred & same_true) / len(same_pred)
        recall += len(same_pred & same_true) / len(same_true)
    assert m.bcubed_precision == pytest.approx(precision / n)
    assert m.bcubed_recall == pytest.approx(recall / n)


@given(two_labelings())
@settings(max_examples=200, deadline=None)
def test_metrics_lie_in_unit_interval(labels: tuple[list[str], list[str]]) -> None:
    truth_labels, predicted_labels = labels
    m = evaluate(clustering(predicted_labels), clustering(truth_labels))
    for value in (
        m.precision,
        m.recall,
        m.f1,
        m.bcubed_precision,
        m.bcubed_recall,
        m.bcubed_f1,
        m.exact_share,
        m.multi_record_exact_share,
    ):
        assert 0.0 <= value <= 1.0


@given(labelings)
@settings(max_examples=100, deadline=None)
def test_perfect_prediction_scores_one(truth: list[int]) -> None:
    truth_labels = [f"T{t}" for t in truth]
    # Renamed cluster ids: agreement is about the partition, not the names.
    m = evaluate(clustering([f"E-{t}" for t in truth_labels]), clustering(truth_labels))
    assert (m.precision, m.recall, m.f1) == (1.0, 1.0, 1.0)
    assert (m.bcubed_precision, m.bcubed_recall) == (1.0, 1.0)
    assert m.entities_exact == m.true_entities
    assert m.predicted_clusters == m.true_entities


@given(labelings)
@settings(max_examples=100, deadline=None)
def test_all_singletons_have_full_precision_and_no_recall(truth: list[int]) -> None:
    truth_labels = [f"T{t}" for t in truth]
    m = evaluate(clustering([f"S{i}" for i in range(len(truth))]), clustering(truth_labels))
    assert m.predicted_pairs == 0
    assert m.precision == 1.0
    if m.true_pairs:
        assert m.recall == 0.0
        assert m.f1 == 0.0
    assert m.bcubed_precision == 1.0


def test_cli_prints_and_writes_json(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from riec.cli import app

    entities = tmp_path / "entities.csv"
    entities.write_text(
        "partner,partner_record_id,entity_type,entity_id,status\n"
        "a,1,person,E1,active\nb,2,person,E1,active\n",
        encoding="utf-8",
    )
    truth = tmp_path / "truth.csv"
    truth.write_text("partner,record_id,true_entity_id\na,1,S1\nb,2,S1\n", encoding="utf-8")
    out = tmp_path / "metrics.json"
    result = CliRunner().invoke(
        app,
        ["evaluate", "--entities", str(entities), "--truth", str(truth), "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "pairwise F1" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["overall"]["f1"] == 1.0
