"""The full path shared by the linkage benchmarks: files -> broker -> matching -> export -> score.

Every stage is timed. The database is fresh for each run: SQLite in the work directory, or
a schema of its own in the PostgreSQL database given by ``--database-url`` (dropped after).
Rows the partner side rejects are read back from the rejects files, so they are reported
by reason and count as unlinked in recall; none is lost silently.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import secrets
import shlex
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from core.settings import RiecSettings
from matching.comparisons import Block
from matching.evaluation import Clustering, LinkageMetrics, RecordKey, evaluate, read_entities
from matching.linker import (
    Linker,
    LinkerConfig,
    frequency_counter,
    is_frequency_key,
    term_counts,
)
from matching.model import Scorer
from matching.params_store import Approval, active_params
from matching.relink import relink_all
from matching.training import train_all
from partner.pseudonymise import Pseudonymiser
from partner.push import FIELD_DROPPED, PushReport
from riec.broker import LocalBroker
from riec.export import export_entities
from riec.pipeline import PartnerFile, create_topics, match_until_caught_up, push_files
from storage import BlockingKey, Database, Link, Record, connect
from storage.database import scratch_schema

RESULTS_DIR = Path(__file__).with_name("results")


class Timings:
    """Wall-clock seconds per named stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(
                self.seconds.get(name, 0.0) + time.perf_counter() - started, 3
            )


@dataclass
class PathRun:
    """What one run of the path produced."""

    entities_csv: Path
    predicted: Clustering
    push_reports: list[dict[str, Any]]
    rejected_keys: set[RecordKey]
    reject_reasons: dict[str, int]
    dropped_fields: dict[str, int]  # fields left out of rows that were sent, by reason
    dead_letters: dict[str, int]
    landed: dict[str, int]
    timings: Timings
    analysis_db: Database | None = None
    cleanup: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for step in reversed(self.cleanup):
            step()
        self.cleanup.clear()


@contextmanager
def fresh_database(url: str | None, work: Path) -> Iterator[str]:
    """A SQLite file in ``work``, or a new schema in the PostgreSQL database at ``url``."""
    if not url:
        yield f"sqlite:///{(work / 'riec.db').resolve()}"
        return
    if not url.startswith("postgresql"):
        raise ValueError("--database-url must be a PostgreSQL URL (SQLite is the default)")
    with scratch_schema(url, prefix="bench") as scratch:
        yield scratch


def rejects_file(report: PushReport, item: PartnerFile) -> Path | None:
    """The rejects file of one pushed file, if any was written.

    A file whose rows were all sent can still have one, listing fields dropped from rows;
    it lies where ``riec.pipeline.push_files`` puts rejects files.
    """
    if report.rejects_path is not None:
        return report.rejects_path
    path = item.path.parent / f"{item.partner}-{item.path.stem}.rejects.csv"
    return path if path.exists() else None


def read_rejects(
    reports: list[PushReport], files: list[PartnerFile]
) -> tuple[set[RecordKey], Counter[str], Counter[str]]:
    """Per partner file: keys of rejected rows, counts of rejects and of dropped fields.

    Counts are by partner, field and reason.
    """
    keys: set[RecordKey] = set()
    reasons: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for report, item in zip(reports, files, strict=True):
        path = rejects_file(report, item)
        if path is None:
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                label = f"{item.partner}: {row['field']} {row['reason']}"
                if row.get("action") == FIELD_DROPPED:
                    dropped[label] += 1
                    continue
                keys.add((item.partner, row["record_id"]))
                reasons[label] += 1
    return keys, reasons, dropped


def run_path(
    files: list[PartnerFile],
    work: Path,
    *,
    database_url: str | None = None,
    linker_config: LinkerConfig | None = None,
    max_match_seconds: float = 3600,
    timings: Timings | None = None,
    keep_database: bool = False,
) -> PathRun:
    """Push ``files`` through a fresh broker and matching service; export the entities.

    With ``keep_database`` the database stays open for :func:`analyse_errors`; call
    :meth:`PathRun.close` when done.
    """
    timings = timings or Timings()
    work.mkdir(parents=True, exist_ok=True)
    cleanup: list[Any] = []
    broker = LocalBroker(log_path=work / "broker.log")
    with timings.stage("broker start"):
        broker.start()
    cleanup.append(broker.stop)
    db_context = fresh_database(database_url, work)
    url = db_context.__enter__()
    cleanup.append(lambda: db_context.__exit__(None, None, None))
    try:
        run = uuid.uuid4().hex[:8]
        settings = RiecSettings(
            data_dir=work,
            database_url=url,
            bootstrap_servers=broker.bootstrap,
            topic_prefix=f"b{run}.partner.",
            dead_letter_topic=f"b{run}.deadletter",
            consumer_group=f"b{run}-matching",
            metrics_port=0,
        )
        with timings.stage("create topics"):
            create_topics(settings, [f.partner for f in files])
        # A fresh secret per run: nothing of one run can be linked to another.
        pseudonymiser = Pseudonymiser(secrets.token_bytes(32), "k1")
        with timings.stage("partner push"):
            # Rejects go next to each input file: one shared folder would let files of
            # different partners with the same name (person.csv) overwrite each other's.
            reports = push_files(settings, files, pseudonymiser)
        rejected, reasons, dropped = read_rejects(reports, files)
        db = connect(url)
        cleanup.append(db.dispose)
        linker = Linker(linker_config) if linker_config else None
        with timings.stage("matching"):
            stats = match_until_caught_up(settings, db, linker, max_seconds=max_match_seconds)
        entities_csv = work / "entities.csv"
        with timings.stage("export"):
            export_entities(db, entities_csv, actor="job:benchmark")
        predicted = read_entities(entities_csv)
    except BaseException:
        for step in reversed(cleanup):
            step()
        raise
    result = PathRun(
        entities_csv=entities_csv,
        predicted=predicted,
        push_reports=[
            {
                "partner": f.partner,
                "entity_type": f.entity_type,
                "file": f.path.name,
                "read": r.read,
                "sent": r.sent,
                "rejected": r.rejected,
                "rejected_by_field": dict(r.reasons),
            }
            for f, r in zip(files, reports, strict=True)
        ],
        rejected_keys=rejected,
        reject_reasons=dict(reasons.most_common()),
        dropped_fields=dict(dropped.most_common()),
        dead_letters=dict(stats.dead_letters),
        landed=dict(stats.outcomes),
        timings=timings,
        analysis_db=db if keep_database else None,
        cleanup=cleanup,
    )
    if not keep_database:
        result.close()
    return result


BENCHMARK_APPROVAL = Approval(by="benchmark", reason="first load of a benchmark data set")


def train_and_relink(
    db: Database,
    work: Path,
    *,
    timings: Timings,
    linker_config: LinkerConfig | None = None,
) -> tuple[Clustering, dict[str, Any]]:
    """The first-load flow after streaming: train the model, relink everything with it.

    What the DAGs ``train_linkage_model`` and ``relink_entities`` do: estimate the model
    from the landed records (:func:`matching.training.train_all`), then link every record
    again in bulk with the new model and apply the result. Returns the exported entities
    and what training and relinking reported.

    Each candidate is validated and approved when the approval gate lets it through, as
    a person approving after the report would; a blocked one stays a candidate and the
    relink uses the active model for its type. In production a person approves a candidate
    after reading its report (``docs/operations.md``).
    """
    with timings.stage("training"):
        reports = train_all(db, actor="job:benchmark", activate=True, approval=BENCHMARK_APPROVAL)
    linker = Linker(linker_config, params=active_params(db))
    with timings.stage("relink"):
        relink = relink_all(db, linker, apply=True, actor="job:benchmark")
    entities_csv = work / "entities-relinked.csv"
    with timings.stage("export (relinked)"):
        export_entities(db, entities_csv, actor="job:benchmark")
    return read_entities(entities_csv), {
        "training": [r.to_dict() for r in reports],
        "relink": {k: v for k, v in relink.to_dict().items() if k not in {"applied"}},
    }


@dataclass
class Phase:
    """The linkage as it stood at one point of the flow, scored."""

    name: str
    predicted: Clustering
    metrics: LinkageMetrics
    analysis: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)


STREAMING = "streaming"
TRAINED = "trained + relinked"


def measure_phases(
    run: PathRun,
    truth: Clustering,
    work: Path,
    timings: Timings,
    *,
    analysis: bool = True,
    training: bool = True,
    exclude: Collection[RecordKey] = (),
    linker_config: LinkerConfig | None = None,
) -> list[Phase]:
    """Score the streaming result; then train, relink and score again (``training``).

    ``run`` must have kept its database. The error analysis of each phase uses the model
    active at that point: the defaults while streaming, the trained model after.
    """
    assert run.analysis_db is not None, "run_path(..., keep_database=True) is needed"
    db = run.analysis_db
    phases = []
    with timings.stage("evaluate"):
        metrics = evaluate(run.predicted, truth, exclude=exclude)
    found: dict[str, Any] = {}
    if analysis:
        with timings.stage("error analysis"):
            found = analyse_errors(db, truth, config=linker_config, rejected=run.rejected_keys)
    phases.append(Phase(STREAMING, run.predicted, metrics, found))
    if not training:
        return phases
    predicted, details = train_and_relink(db, work, timings=timings, linker_config=linker_config)
    with timings.stage("evaluate (relinked)"):
        metrics = evaluate(predicted, truth, exclude=exclude)
    found = {}
    if analysis:
        with timings.stage("error analysis (relinked)"):
            found = analyse_errors(db, truth, config=linker_config, rejected=run.rejected_keys)
    phases.append(Phase(TRAINED, predicted, metrics, found, details))
    return phases


def print_push(out: Console, run: PathRun) -> None:
    """What the partner side sent, rejected and left out."""
    print_table(
        out,
        "Partner push",
        ["file", "read", "sent", "rejected"],
        [[r["file"], r["read"], r["sent"], r["rejected"]] for r in run.push_reports],
    )
    if run.reject_reasons:
        print_table(
            out,
            "Rejected rows (count as unlinked)",
            ["partner: field reason", "rows"],
            [[k, v] for k, v in run.reject_reasons.items()],
        )
    if run.dropped_fields:
        print_table(
            out,
            "Fields dropped from rows that were sent",
            ["partner: field reason", "rows"],
            [[k, v] for k, v in run.dropped_fields.items()],
        )
    if run.dead_letters:
        print_table(
            out,
            "Dead-lettered",
            ["reason", "messages"],
            [[k, v] for k, v in run.dead_letters.items()],
        )


def print_phases(out: Console, phases: list[Phase]) -> None:
    """Metrics side by side, then where each phase's errors come from."""
    print_table(
        out,
        "Linkage by phase",
        ["phase", "precision", "recall", "F1", "B-cubed F1", "wrong pairs", "missed pairs"],
        [
            [
                p.name,
                f"{p.metrics.precision:.4f}",
                f"{p.metrics.recall:.4f}",
                f"{p.metrics.f1:.4f}",
                f"{p.metrics.bcubed_f1:.4f}",
                p.metrics.false_positive_pairs,
                p.metrics.false_negative_pairs,
            ]
            for p in phases
        ],
    )
    for phase in phases:
        if not phase.analysis:
            continue
        print_table(
            out,
            f"Missed true pairs by cause ({phase.name})",
            ["cause", "pairs"],
            [[k, v] for k, v in phase.analysis["false_negative_pairs_by_cause"].items()],
        )
        print_table(
            out,
            f"Wrong pairs by kind ({phase.name})",
            ["kind", "pairs"],
            [[k, v] for k, v in phase.analysis["false_positive_pairs_by_kind"].items()],
        )
    if len(phases) > 1 and (training := phases[-1].details.get("training")):
        print_table(
            out,
            "Training",
            ["entity type", "version", "pairs", "prior", "approved", "skipped or blocked"],
            [
                [
                    t["entity_type"],
                    t["version"] or "",
                    t["blocked_pairs"],
                    f"{t['prior']:.3g}",
                    "yes" if t.get("approved") else "no",
                    t["skipped"] or "; ".join(t.get("gate_reasons", [])),
                ]
                for t in training
            ],
        )


# -- where the errors come from -------------------------------------------------------------


@dataclass
class _Landed:
    id: int
    entity_type: str
    entity_id: str | None
    tokens: dict[str, Any]
    filters: dict[str, Any]


def analyse_errors(
    db: Database,
    truth: Clustering,
    *,
    config: LinkerConfig | None = None,
    rejected: Collection[RecordKey] = (),
    examples: int = 5,
) -> dict[str, Any]:
    """Classify missed and wrong record pairs by the stage that caused them.

    A missed true pair was either never landed (rejected), never compared (no usable shared
    blocking key or token: blocking), compared and scored below the threshold (scoring),
    or linked and still kept apart (clustering: a cannot-link or the size cap). A wrong
    pair is a direct link (the model scored it as a match) or transitive (two records
    joined through others). Scores are recomputed with the database's active model and its
    term frequencies, as at link time.
    """
    config = config or LinkerConfig()
    params = active_params(db)
    scorers = {t: Scorer(p) for t, p in params.items()}
    counters = {t: frequency_counter(p, config) for t, p in params.items()}
    with db.session() as session:
        landed: dict[RecordKey, _Landed] = {
            (r.partner, r.partner_record_id): _Landed(
                r.id, r.entity_type, r.entity_id, r.tokens or {}, r.filters or {}
            )
            for r in session.scalars(select(Record).where(Record.status == "active"))
        }
        keys_of: dict[int, set[str]] = defaultdict(set)
        block_size: Counter[str] = Counter()
        for record_id, key in session.execute(select(BlockingKey.record_id, BlockingKey.key)):
            if not is_frequency_key(key):  # counted values make no candidate pairs
                keys_of[record_id].add(key)
            block_size[key] += 1
        linked = {(a, b) for a, b in session.execute(select(Link.record_a, Link.record_b))}

    def pair_counts(a: _Landed, b: _Landed) -> tuple[dict[str, np.ndarray] | None, int]:
        counter = counters[a.entity_type]
        frequencies = params[a.entity_type].frequencies
        if counter is None or frequencies is None:
            return None, 0
        encoded = [{"tokens": r.tokens, "filters": r.filters} for r in (a, b)]
        return term_counts(a.entity_type, encoded, counter), frequencies.total

    def scored(a: _Landed, b: _Landed) -> dict[str, Any]:
        scorer = scorers[a.entity_type]
        block = Block([{"tokens": r.tokens, "filters": r.filters} for r in (a, b)])
        scores = scorer.score_pairs(block, np.array([0]), np.array([1]), *pair_counts(a, b))
        return {
            "weight": round(float(scores.weights[0]), 2),
            "probability": round(float(scores.probabilities[0]), 4),
            "conflict": bool(scores.conflicts[0]),
            "levels": {k: v["level"] for k, v in scorer.explain(scores, 0).items()},
        }

    members: dict[tuple[str, str], list[RecordKey]] = defaultdict(list)
    for key, cluster in truth.clusters.items():
        members[(truth.types.get(key, ""), cluster)].append(key)

    missed: Counter[str] = Counter()
    missed_levels: dict[str, Counter[str]] = defaultdict(Counter)
    missed_examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for records in members.values():
        for ka, kb in combinations(sorted(records), 2):
            a, b = landed.get(ka), landed.get(kb)
            if a is None or b is None:
                missed["rejected or not landed"] += 1
                continue
            if a.entity_id is not None and a.entity_id == b.entity_id:
                continue
            shared = keys_of[a.id] & keys_of[b.id]
            detail = scored(a, b)
            threshold = scorers[a.entity_type].params.threshold
            if not shared:
                cause = "blocking: no shared key"
            elif all(block_size[k] > config.max_block_size for k in shared):
                cause = "blocking: every shared key over max_block_size"
            elif tuple(sorted((a.id, b.id))) in linked:
                cause = "clustering: linked, kept apart (cannot-link or size cap)"
            elif detail["conflict"] or detail["probability"] < threshold:
                cause = "scoring: below threshold"
            else:
                cause = "scoring: below threshold at link time only"
            missed[cause] += 1
            missed_levels[cause][_levels_text(detail["levels"])] += 1
            if len(missed_examples[cause]) < examples:
                missed_examples[cause].append({"pair": [list(ka), list(kb)], **detail})

    by_id = {r.id: (k, r) for k, r in landed.items()}
    clusters: dict[str, list[int]] = defaultdict(list)
    for rec in landed.values():
        if rec.entity_id:
            clusters[rec.entity_id].append(rec.id)
    wrong: Counter[str] = Counter()
    wrong_levels: Counter[str] = Counter()
    wrong_examples: list[dict[str, Any]] = []
    for ids in clusters.values():
        for ia, ib in combinations(sorted(ids), 2):
            (ka, a), (kb, b) = by_id[ia], by_id[ib]
            if ka not in truth.clusters or kb not in truth.clusters:
                continue
            if truth.clusters[ka] == truth.clusters[kb]:
                continue
            if (ia, ib) in linked:
                wrong["direct link"] += 1
                detail = scored(a, b)
                wrong_levels[_levels_text(detail["levels"])] += 1
                if len(wrong_examples) < examples:
                    wrong_examples.append({"pair": [list(ka), list(kb)], **detail})
            else:
                wrong["transitive (joined through other records)"] += 1
    return {
        "false_negative_pairs_by_cause": dict(missed.most_common()),
        "false_negative_levels_by_cause": {
            cause: dict(levels.most_common(8)) for cause, levels in missed_levels.items()
        },
        "false_negative_examples": dict(missed_examples),
        "false_positive_pairs_by_kind": dict(wrong.most_common()),
        "false_positive_levels": dict(wrong_levels.most_common(8)),
        "false_positive_examples": wrong_examples,
        "rejected_records": len(rejected),
    }


def _levels_text(levels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in levels.items()) or "(no comparable field)"


# -- reporting ------------------------------------------------------------------------------


def command_line() -> str:
    """The command that reproduces this run, as typed from the repository root."""
    return shlex.join([".venv/bin/python", *sys.argv])


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_results(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def metrics_summary(metrics: LinkageMetrics) -> str:
    return (
        f"precision {metrics.precision:.4f}  recall {metrics.recall:.4f}  F1 {metrics.f1:.4f}  "
        f"(pairs: {metrics.true_positive_pairs} correct, {metrics.false_positive_pairs} wrong, "
        f"{metrics.false_negative_pairs} missed)"
    )


def print_table(out: Console, title: str, header: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i else "left")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    out.print(table)


def run_and_measure(
    files: Any,
    truth: Any,
    work: Path,
    args: Any,
    timings: Any,
    linker_config: LinkerConfig,
) -> tuple[Any, list[Any]]:
    """The full path, then each measured phase (streaming, trained + relinked).

    Returns the closed run (its reports stay readable) and the phases.
    """
    run = run_path(
        files,
        work / "run",
        database_url=args.database_url,
        linker_config=linker_config,
        timings=timings,
        keep_database=True,
    )
    try:
        phases = measure_phases(
            run,
            truth,
            work / "run",
            timings,
            analysis=not args.no_analysis,
            training=not args.no_training,
            linker_config=linker_config,
        )
    finally:
        run.close()
    return run, phases
