"""Linkage quality: a predicted clustering of records scored against a ground truth.

Both sides map a record, ``(partner, partner record id)``, to a cluster id. Pairwise
counts come from the contingency table of predicted against true clusters, so nothing
enumerates record pairs: with ``n_ij`` records in predicted cluster ``i`` and true entity
``j``, the true positive pairs are ``sum C(n_ij, 2)``, the predicted pairs
``sum C(a_i, 2)`` and the true pairs ``sum C(b_j, 2)``. That is linear in the number of
records and fits a million records in a few seconds.

Which records are judged is explicit, never implied:

* retracted records (``status`` other than ``active`` in the export) leave the system, so
  they are dropped from both sides and counted;
* records the truth lists but the export lacks (rejected at the partner, dead-lettered,
  not consumed yet) stay in the evaluation as unlinked singletons, so they cost recall;
* records the export holds but the truth lacks cannot be judged: counted, then left out;
* records the caller excludes (for instance rows that were meant to be rejected) are
  dropped from both sides and counted.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from core.spreadsheet import restore_cell

#: A record as both files name it: (partner, partner record id).
RecordKey = tuple[str, str]

RECORD_ID_COLUMNS = ("record_id", "partner_record_id")
TRUE_ENTITY_COLUMNS = ("true_entity_id", "entity_id")


@dataclass(frozen=True)
class Clustering:
    """Cluster id and (when known) entity type per record, plus records no longer active."""

    clusters: dict[RecordKey, str]
    types: dict[RecordKey, str] = field(default_factory=dict)
    retracted: frozenset[RecordKey] = frozenset()


@dataclass(frozen=True)
class LinkageMetrics:
    """Pairwise and cluster-level agreement of a predicted clustering with the truth."""

    # Which records were judged.
    records_evaluated: int
    truth_records: int
    predicted_records: int
    missing_from_prediction: int
    unknown_to_truth: int
    retracted_excluded: int
    excluded: int
    # Pairwise, over record pairs.
    true_pairs: int
    predicted_pairs: int
    true_positive_pairs: int
    precision: float
    recall: float
    f1: float
    # Per record (B-cubed), averaged over the evaluated records.
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    # Clusters.
    true_entities: int
    predicted_clusters: int
    entities_exact: int
    multi_record_entities: int
    multi_record_entities_exact: int
    largest_predicted_cluster: int
    largest_true_entity: int

    @property
    def false_positive_pairs(self) -> int:
        return self.predicted_pairs - self.true_positive_pairs

    @property
    def false_negative_pairs(self) -> int:
        return self.true_pairs - self.true_positive_pairs

    @property
    def exact_share(self) -> float:
        """Share of true entities whose records form exactly one predicted cluster."""
        return _ratio(self.entities_exact, self.true_entities)

    @property
    def multi_record_exact_share(self) -> float:
        """The same, over entities with two or more records (singletons are the easy part)."""
        return _ratio(self.multi_record_entities_exact, self.multi_record_entities)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            false_positive_pairs=self.false_positive_pairs,
            false_negative_pairs=self.false_negative_pairs,
            exact_share=self.exact_share,
            multi_record_exact_share=self.multi_record_exact_share,
        )
        return data

    def render(self, title: str = "Linkage quality") -> Table:
        table = Table(title=title, show_header=True, header_style="bold")
        table.add_column("metric")
        table.add_column("value", justify="right")
        rows: list[tuple[str, str] | None] = [
            ("pairwise precision", f"{self.precision:.4f}"),
            ("pairwise recall", f"{self.recall:.4f}"),
            ("pairwise F1", f"{self.f1:.4f}"),
            (
                "true / predicted / correct pairs",
                f"{self.true_pairs} / {self.predicted_pairs} / {self.true_positive_pairs}",
            ),
            (
                "false positive / false negative pairs",
                f"{self.false_positive_pairs} / {self.false_negative_pairs}",
            ),
            None,
            ("B-cubed precision", f"{self.bcubed_precision:.4f}"),
            ("B-cubed recall", f"{self.bcubed_recall:.4f}"),
            ("B-cubed F1", f"{self.bcubed_f1:.4f}"),
            None,
            (
                "true entities / predicted clusters",
                f"{self.true_entities} / {self.predicted_clusters}",
            ),
            ("entities reconstructed exactly", f"{self.entities_exact} ({self.exact_share:.2%})"),
            (
                "multi-record entities reconstructed exactly",
                f"{self.multi_record_entities_exact} of {self.multi_record_entities} "
                f"({self.multi_record_exact_share:.2%})",
            ),
            (
                "largest predicted cluster / true entity",
                f"{self.largest_predicted_cluster} / {self.largest_true_entity}",
            ),
            None,
            ("records evaluated", str(self.records_evaluated)),
            ("missing from prediction (scored as unlinked)", str(self.missing_from_prediction)),
            ("unknown to the truth (not scored)", str(self.unknown_to_truth)),
            ("retracted (not scored)", str(self.retracted_excluded)),
            ("excluded by the caller (not scored)", str(self.excluded)),
        ]
        for row in rows:
            if row is None:
                table.add_section()
            else:
                table.add_row(*row)
        return table


# -- computation ----------------------------------------------------------------------------


def pairs(n: int) -> int:
    """Unordered pairs among ``n`` records: C(n, 2)."""
    return n * (n - 1) // 2


def _ratio(numerator: float, denominator: float) -> float:
    """A share that is 1.0 when there is nothing to get wrong (no pairs, no entities)."""
    return numerator / denominator if denominator else 1.0


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return 2 * precision * recall / total if total else 0.0


def evaluate(
    predicted: Clustering | Mapping[RecordKey, str],
    truth: Clustering | Mapping[RecordKey, str],
    *,
    exclude: Collection[RecordKey] = (),
) -> LinkageMetrics:
    """Score ``predicted`` against ``truth`` over the records the truth knows."""
    pred = predicted if isinstance(predicted, Clustering) else Clustering(dict(predicted))
    true = truth if isinstance(truth, Clustering) else Clustering(dict(truth))
    dropped = pred.retracted | true.retracted
    excluded = set(exclude) - dropped
    judged = [k for k in true.clusters if k not in dropped and k not in excluded]
    active_predicted = [k for k in pred.clusters if k not in dropped and k not in excluded]

    # A record the prediction lacks is its own cluster; the marker cannot collide with a
    # real id because the record key is part of it.
    def predicted_cluster(key: RecordKey) -> tuple[str, ...]:
        cluster = pred.clusters.get(key)
        return ("c", pred.types.get(key, ""), cluster) if cluster else ("missing", *key)

    # Entity ids are scoped by entity type: a truth file may reuse one subject number for
    # a person and that person's address, which are different entities.
    def true_cluster(key: RecordKey) -> tuple[str, str]:
        return (true.types.get(key, ""), true.clusters[key])

    cells: Counter[tuple[tuple[str, ...], tuple[str, str]]] = Counter()
    missing = 0
    for key in judged:
        cells[(predicted_cluster(key), true_cluster(key))] += 1
        missing += not pred.clusters.get(key)
    pred_sizes: Counter[tuple[str, ...]] = Counter()
    true_sizes: Counter[tuple[str, str]] = Counter()
    for (p, t), n in cells.items():
        pred_sizes[p] += n
        true_sizes[t] += n

    tp = sum(pairs(n) for n in cells.values())
    pred_pairs = sum(pairs(n) for n in pred_sizes.values())
    true_pairs = sum(pairs(n) for n in true_sizes.values())
    precision, recall = _ratio(tp, pred_pairs), _ratio(tp, true_pairs)

    records = len(judged)
    b_precision = _ratio(sum(n * n / pred_sizes[p] for (p, _), n in cells.items()), records)
    b_recall = _ratio(sum(n * n / true_sizes[t] for (_, t), n in cells.items()), records)

    exact = {t for (p, t), n in cells.items() if n == pred_sizes[p] == true_sizes[t]}
    multi = {t for t, n in true_sizes.items() if n > 1}

    return LinkageMetrics(
        records_evaluated=records,
        truth_records=len(true.clusters),
        predicted_records=len(active_predicted),
        missing_from_prediction=missing,
        unknown_to_truth=sum(1 for k in active_predicted if k not in true.clusters),
        retracted_excluded=len(dropped),
        excluded=sum(1 for k in excluded if k in pred.clusters or k in true.clusters),
        true_pairs=true_pairs,
        predicted_pairs=pred_pairs,
        true_positive_pairs=tp,
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        bcubed_precision=b_precision,
        bcubed_recall=b_recall,
        bcubed_f1=_f1(b_precision, b_recall),
        true_entities=len(true_sizes),
        predicted_clusters=len(pred_sizes),
        entities_exact=len(exact),
        multi_record_entities=len(multi),
        multi_record_entities_exact=len(exact & multi),
        largest_predicted_cluster=max(pred_sizes.values(), default=0),
        largest_true_entity=max(true_sizes.values(), default=0),
    )


def evaluate_by_type(
    predicted: Clustering,
    truth: Clustering,
    *,
    exclude: Collection[RecordKey] = (),
) -> dict[str, LinkageMetrics]:
    """One :func:`evaluate` per entity type.

    A record's type comes from the truth, else from the export, else (a record the export
    lacks, under a truth without types) from the other records of its true entity.
    """
    type_of: dict[RecordKey, str] = {**predicted.types, **truth.types}
    entity_type_of: dict[str, str] = {}
    for key, cluster in truth.clusters.items():
        if key in type_of:
            entity_type_of.setdefault(cluster, type_of[key])
    for key, cluster in truth.clusters.items():
        if key not in type_of and cluster in entity_type_of:
            type_of[key] = entity_type_of[cluster]
    by_type: dict[str, list[RecordKey]] = {}
    for key in {*predicted.clusters, *truth.clusters}:
        by_type.setdefault(type_of.get(key, "unknown"), []).append(key)
    results: dict[str, LinkageMetrics] = {}
    for entity_type, keys in sorted(by_type.items()):
        results[entity_type] = evaluate(
            _restrict(predicted, keys), _restrict(truth, keys), exclude=exclude
        )
    return results


def _restrict(clustering: Clustering, keys: Iterable[RecordKey]) -> Clustering:
    wanted = set(keys)
    return Clustering(
        clusters={k: v for k, v in clustering.clusters.items() if k in wanted},
        types={k: v for k, v in clustering.types.items() if k in wanted},
        retracted=frozenset(clustering.retracted & wanted),
    )


# -- reading the two files ------------------------------------------------------------------


def _pick(header: Sequence[str], wanted: str | None, defaults: Sequence[str], path: Path) -> str:
    candidates = (wanted,) if wanted else defaults
    for name in candidates:
        if name in header:
            return name
    raise ValueError(f"{path}: none of the columns {', '.join(candidates)} is present")


def read_entities(path: Path) -> Clustering:
    """The CSV written by ``riec entities export``."""
    clusters: dict[RecordKey, str] = {}
    types: dict[RecordKey, str] = {}
    retracted: set[RecordKey] = set()
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"partner", "partner_record_id", "entity_id"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(sorted(missing))}")
        for row in reader:
            # The export neutralises cells a spreadsheet would run; the ids are what they were.
            key = (restore_cell(row["partner"]), restore_cell(row["partner_record_id"]))
            if (row.get("status") or "active") != "active":
                retracted.add(key)
                continue
            clusters[key] = row["entity_id"]
            if row.get("entity_type"):
                types[key] = row["entity_type"]
    return Clustering(clusters, types, frozenset(retracted))


def read_truth(
    path: Path,
    *,
    record_id_column: str | None = None,
    entity_column: str | None = None,
) -> Clustering:
    """A ground-truth CSV: partner, a record id column and a true entity id column.

    The record id column defaults to ``record_id`` (else ``partner_record_id``), the entity
    column to ``true_entity_id`` (else ``entity_id``). An ``entity_type`` column, when
    present, drives the per-type breakdown.
    """
    clusters: dict[RecordKey, str] = {}
    types: dict[RecordKey, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or ())
        if "partner" not in header:
            raise ValueError(f"{path}: missing column partner")
        id_column = _pick(header, record_id_column, RECORD_ID_COLUMNS, path)
        true_column = _pick(header, entity_column, TRUE_ENTITY_COLUMNS, path)
        for line, row in enumerate(reader, start=2):
            key = (row["partner"], row[id_column])
            if not row[true_column]:
                raise ValueError(f"{path}:{line}: empty {true_column}")
            if key in clusters and clusters[key] != row[true_column]:
                raise ValueError(f"{path}:{line}: record listed twice with different entities")
            clusters[key] = row[true_column]
            if row.get("entity_type"):
                types[key] = row["entity_type"]
    return Clustering(clusters, types)


def read_keys(path: Path, *, record_id_column: str | None = None) -> set[RecordKey]:
    """Record keys listed in a CSV with ``partner`` and a record id column."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or ())
        if "partner" not in header:
            raise ValueError(f"{path}: missing column partner")
        id_column = _pick(header, record_id_column, RECORD_ID_COLUMNS, path)
        return {(row["partner"], row[id_column]) for row in reader}
