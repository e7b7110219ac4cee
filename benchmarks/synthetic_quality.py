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

from harness import (
    RESULTS_DIR,
    Timings,
    command_line,
    machine,
    metrics_summary,
    print_phases,
    print_table,
    run_and_measure,
    write_results,
)
from rich.console import Console

from matching.evaluation import evaluate_by_type, read_keys, read_truth
from matching.linker import LinkerConfig
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
    parser.add_argument(
        "--no-training", action="store_true", help="Streaming only: no training and relink."
    )
    parser.add_argument(
        "--no-term-frequencies",
        action="store_true",
        help="Score without term-frequency adjustment (LinkerConfig.term_frequencies).",
    )
    args = parser.parse_args(argv)
    linker_config = LinkerConfig(term_frequencies=not args.no_term_frequencies)
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
        run, phases = run_and_measure(files, truth, work, args, timings, linker_config)
    per_type = {phase.name: evaluate_by_type(phase.predicted, truth) for phase in phases}

    rejects = {
        "expected": len(expected_rejects),
        "expected_and_rejected": len(expected_rejects & run.rejected_keys),
        "expected_but_accepted": len(expected_rejects - run.rejected_keys),
        "unexpected_rejects": len(run.rejected_keys - expected_rejects),
        "by_reason": run.reject_reasons,
    }

    final = phases[-1]
    for phase in phases:
        out.print(
            phase.metrics.render(
                title=f"Synthetic ({args.subjects} subjects), {phase.name}: linkage quality"
            )
        )
        print_table(
            out,
            f"Per entity type ({phase.name})",
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
                for t, m in per_type[phase.name].items()
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
    print_phases(out, phases)
    out.print(metrics_summary(final.metrics))
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
                "term_frequencies": linker_config.term_frequencies,
            },
            "records": sum(f.rows for f in manifest.files),
            "metrics": {phase.name: phase.metrics.to_dict() for phase in phases},
            "metrics_by_entity_type": {
                name: {t: m.to_dict() for t, m in types.items()} for name, types in per_type.items()
            },
            "push": run.push_reports,
            "rejects": rejects,
            "dropped_fields_by_reason": run.dropped_fields,
            "dead_letters": run.dead_letters,
            "landed": run.landed,
            "seconds_per_stage": timings.seconds,
            "training": final.details.get("training", []),
            "relink": final.details.get("relink", {}),
            "error_analysis": {phase.name: phase.analysis for phase in phases},
        },
    )
    out.print(f"results written to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
