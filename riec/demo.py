"""``riec demo``: the whole system on embedded defaults, from partner files to hit list."""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import sys
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from core.files import create_secret_file, private_dir
from core.settings import RiecSettings
from partner.pseudonymise import Pseudonymiser
from riec.airflow_local import HIT_LIST_DAG, VALIDATE_DAG, migrate, run_dag, use_airflow_home
from riec.broker import LocalBroker
from riec.export import export_entities
from riec.pipeline import PartnerFile, create_topics, match_until_caught_up, push_files
from storage import Database, connect


def run_demo(out: Path, *, subjects: int, seed: int, console: Console, actor: str) -> Path:
    from matching.evaluation import evaluate, read_entities, read_truth
    from synthetic.generator import generate_dataset

    out = out.resolve()
    riec_side = out / "riec-side"
    partner_side = out / "partner-side"
    # A demo run starts from nothing, so its figures are its own.
    for path in (riec_side, partner_side):
        shutil.rmtree(path, ignore_errors=True)
    # Both sides' data stay readable by this account only (core.files).
    for path in (out, riec_side, partner_side):
        private_dir(path)

    started = time.monotonic()
    console.rule("[bold]1. Partners: synthetic source files")
    manifest = generate_dataset(partner_side / "files", n_subjects=subjects, seed=seed)
    partners = sorted({f.partner for f in manifest.files})
    console.print(
        f"{len(manifest.files)} files from {len(partners)} partners: {', '.join(partners)}"
    )

    console.rule("[bold]2. Broker")
    with LocalBroker(log_path=riec_side / "broker.log") as broker:
        settings = RiecSettings(
            data_dir=riec_side,
            bootstrap_servers=broker.bootstrap,
            session_timeout_ms=6_000,
            heartbeat_interval_ms=1_000,
            metrics_port=0,
        )
        create_topics(settings, partners)
        console.print(f"Kafka-protocol broker on {broker.bootstrap}; topics created")

        console.rule("[bold]3. Partners push (normalise, pseudonymise, produce)")
        # The key belongs to the partners; it is written on their side only.
        key_file = create_secret_file(
            partner_side / "shared-secret.key", secrets.token_hex(32) + "\n"
        )
        pseudonymiser = Pseudonymiser(bytes.fromhex(key_file.read_text().strip()), "k1")
        files = [
            PartnerFile(f.partner, f.partner_type, f.entity_type, Path(f.path))
            for f in manifest.files
        ]
        reports = push_files(settings, files, pseudonymiser, rejects_dir=partner_side / "rejects")
        sent = sum(r.sent for r in reports)
        rejected = sum(r.rejected for r in reports)
        console.print(f"sent {sent} records; {rejected} rows rejected at the partner")
        for report in reports:
            if report.rejects_path:
                console.print(f"  rejects: {report.rejects_path}")

        console.rule("[bold]4. Matching service (until caught up)")
        stats = match_until_caught_up(settings)
        console.print(stats.summary())

    db = connect(settings.resolved_database_url)
    entities_csv = riec_side / "entities.csv"
    export_entities(db, entities_csv, actor=actor)
    metrics = evaluate(read_entities(entities_csv), read_truth(manifest.truth_path))
    console.print(
        f"linkage against the generator's ground truth: pairwise precision "
        f"{metrics.precision:.3f}, recall {metrics.recall:.3f}, F1 {metrics.f1:.3f}"
    )

    console.rule("[bold]5. Airflow DAGs (in-process, embedded metadata database)")
    # The DAG tasks read their settings from the environment, like in a deployment.
    os.environ.update(
        {
            "RIEC_DATA_DIR": str(settings.data_dir),
            "RIEC_DATABASE_URL": settings.resolved_database_url,
            # The demo shows our own progress; Airflow's task logs stay in its home.
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    # Airflow's in-process API client warns about its own test-client dependency.
    warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
    airflow_home = use_airflow_home(out / "airflow")
    seconds = migrate(airflow_home)
    if seconds:
        console.print(f"Airflow metadata database created in {seconds:.0f}s")
    for dag_id in (VALIDATE_DAG, HIT_LIST_DAG):
        t0 = time.monotonic()
        state, run_id = run_dag(dag_id)
        console.print(f"{dag_id}: {state} ({time.monotonic() - t0:.0f}s, run {run_id})")
        if state != "success":
            raise RuntimeError(f"DAG {dag_id} ended in state {state}; see the log above")

    hitlist_dir = settings.resolved_hitlist_dir
    latest_csv = hitlist_dir / "latest.csv"
    _print_top_rows(console, latest_csv)
    console.rule("[bold]6. Workspace accounts")
    accounts_file = create_demo_accounts(db, riec_side, by=actor)
    db.dispose()
    console.rule("[bold]Done")
    console.print(f"hit list (CSV):  {latest_csv}")
    console.print(f"hit list (HTML): {hitlist_dir / 'latest.html'}")
    console.print(f"RIEC-side database: {settings.resolved_database_url}")
    console.print(f"finished in {time.monotonic() - started:.0f}s")
    # The command as it can be typed here: `make demo` installs into .venv, not on PATH.
    command = Path(sys.executable).with_name("riec")
    riec = str(command) if command.exists() and not shutil.which("riec") else "riec"
    console.print(
        "\nOpen the workspace: run\n"
        f"  RIEC_DATA_DIR={riec_side} {riec} web\n"
        "and go to http://127.0.0.1:8000/ ; sign in as demo-analyst (reviews, drafts requests) "
        "or demo-coordinator (approves requests, manages users). Their passwords are in "
        f"{accounts_file}",
        markup=False,
    )
    return latest_csv


def create_demo_accounts(db: Database, riec_side: Path, *, by: str) -> Path:
    """A screened demo coordinator and analyst, with fresh passwords written to a 0600 file."""
    from datetime import date, timedelta

    from workspace.accounts import add_user, record_screening

    today = date.today()
    lines = []
    for name, display, roles, kind, level, recorder in (
        (
            "demo-coordinator",
            "Demo Coordinator",
            "coordinator,auditor",
            "veiligheidsonderzoek",
            "B",
            by,
        ),
        ("demo-analyst", "Demo Analyst", "analyst", "VOG", "45", "demo-coordinator"),
    ):
        password = secrets.token_urlsafe(12)
        add_user(db, name, display_name=display, roles=roles, password=password, by=by)
        record_screening(
            db,
            name,
            kind=kind,
            level=level,
            screened_on=today - timedelta(days=30),
            expires_on=today + timedelta(days=3 * 365),
            by=recorder,
        )
        lines.append(f"{name}\t{password}\t{roles}")
    path = riec_side / "workspace-accounts.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("user\tpassword\troles\n" + "\n".join(lines) + "\n")
    return path


def _print_top_rows(console: Console, path: Path, limit: int = 10) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    table = Table(title=f"Top {min(limit, len(rows))} of {len(rows)} hit-list entries")
    for column in ("rank", "entity", "type", "score", "partners with a signal", "themes"):
        table.add_column(column)
    for row in rows[:limit]:
        partners = [
            column.removeprefix("partner:")
            for column, value in row.items()
            if column.startswith("partner:") and value == "yes"
        ]
        table.add_row(
            row["rank"],
            row["entity_id"],
            row["entity_type"],
            row["score"],
            ", ".join(partners),
            row["themes"].replace(";", ", "),
        )
    console.print(table)
