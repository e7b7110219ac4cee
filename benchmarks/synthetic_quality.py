"""Linkage quality on the project's synthetic partner data, overall and per entity type.

The generator writes one CSV per partner and entity type in each partner's house style
(name orders, abbreviations, typos, gaps, moves), a ``truth.csv`` naming the world subject
of every record, and ``expected_rejects.csv`` with the rows it broke on purpose. All files
go through the full path (broker, matching service, export) and are scored against the
truth. Expected rejects are checked apart: each must be rejected, and any other rejected
row counts as unlinked in recall.

Run from the repository root: ``.venv/bin/python benchmarks/synthetic_quality.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness import (
    RESULTS_DIR,
    Timings,
    analyse_errors,
    command_line,
    machine,
    metrics_summary,
    print_table,
    run_path,
    write_results,
)
from rich.console import Console

from matching.evaluation import evaluate, evaluate_by_type, read_keys, read_truth
from riec.pipeline import PartnerFile
from synthetic.generator import DEFAULT_PARTNERS, generate_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="PostgreSQL URL (a fresh schema is used).")
    parser.add_argument("--work-dir", type=Path, help="Keep the files here (default: temp).")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "synthetic_quality.json")
    parser.add_argument("--no-analysis", action="store_true", help="Skip the error analysis.")
    args = parser.parse_args(argv)
    out = Console()
    bases = {spec.partner: spec.legal_basis for spec in DEFAULT_PARTNERS}

    with tempfile.TemporaryDirectory(prefix="riec-synthetic-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        timings = Timings()
        with timings.stage("generate"):
            manifest = generate_dataset(work / "data", n_subjects=args.subjects, seed=args.seed)
        files = [
            PartnerFile(f.partner, f.partner_type, f.entity_type, f.path, bases.get(f.partner))
            for f in manifest.files
        ]
        truth = read_truth(manifest.truth_path)
        expected_rejects = read_keys(manifest.rejects_path)
        run = run_path(
            files,
            work / "run",
            database_url=args.database_url,
            timings=timings,
            keep_database=not args.no_analysis,
        )
        try:
            with timings.stage("evaluate"):
                overall = evaluate(run.predicted, truth)
                per_type = evaluate_by_type(run.predicted, truth)
            analysis: dict[str, Any] = {}
            if run.analysis_db is not None:
                with timings.stage("error analysis"):
                    analysis = analyse_errors(run.analysis_db, truth, rejected=run.rejected_keys)
        finally:
            run.close()

    rejects = {
        "expected": len(expected_rejects),
        "expected_and_rejected": len(expected_rejects & run.rejected_keys),
        "expected_but_accepted": len(expected_rejects - run.rejected_keys),
        "unexpected_rejects": len(run.rejected_keys - expected_rejects),
        "by_reason": run.reject_reasons,
    }

    out.print(overall.render(title=f"Synthetic ({args.subjects} subjects): linkage quality"))
    print_table(
        out,
        "Per entity type",
        ["type", "records", "precision", "recall", "F1", "B-cubed F1", "exact (multi-record)"],
        [
            [
                t,
                m.records_evaluated,
                f"{m.precision:.4f}",
                f"{m.recall:.4f}",
                f"{m.f1:.4f}",
                f"{m.bcubed_f1:.4f}",
                f"{m.multi_record_exact_share:.2%}",
            ]
            for t, m in per_type.items()
        ],
    )
    print_table(
        out,
        "Rejected rows",
        ["", "rows"],
        [[k.replace("_", " "), v] for k, v in rejects.items() if k != "by_reason"]
        + [[f"  {k}", v] for k, v in run.reject_reasons.items()],
    )
    if run.dead_letters:
        print_table(
            out,
            "Dead-lettered",
            ["reason", "messages"],
            [list(i) for i in run.dead_letters.items()],
        )
    print_table(
        out,
        "Time per stage",
        ["stage", "seconds"],
        [[k, f"{v:.1f}"] for k, v in timings.seconds.items()],
    )
    if analysis:
        print_table(
            out,
            "Missed true pairs by cause",
            ["cause", "pairs"],
            [list(i) for i in analysis["false_negative_pairs_by_cause"].items()],
        )
        print_table(
            out,
            "Wrong pairs by kind",
            ["kind", "pairs"],
            [list(i) for i in analysis["false_positive_pairs_by_kind"].items()],
        )
    out.print(metrics_summary(overall))
    out.print(f"reproduce: {command_line()}")

    write_results(
        args.results,
        {
            "benchmark": "synthetic_quality",
            "command": command_line(),
            "machine": machine(),
            "options": {
                "subjects": args.subjects,
                "seed": args.seed,
                "database": "postgresql" if args.database_url else "sqlite",
            },
            "records": sum(f.rows for f in manifest.files),
            "metrics": overall.to_dict(),
            "metrics_by_entity_type": {t: m.to_dict() for t, m in per_type.items()},
            "push": run.push_reports,
            "rejects": rejects,
            "dead_letters": run.dead_letters,
            "landed": run.landed,
            "seconds_per_stage": timings.seconds,
            "error_analysis": analysis,
        },
    )
    out.print(f"results written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
