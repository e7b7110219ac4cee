"""The ``riec`` command: partner push, broker, matching service, exports and the demo."""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from riec.settings import Settings

if TYPE_CHECKING:
    from storage import Database

app = typer.Typer(no_args_is_help=True, help="RIEC cross-partner signal matching.")
partner_app = typer.Typer(no_args_is_help=True, help="Partner side: keys and pushing records.")
match_app = typer.Typer(no_args_is_help=True, help="The matching service.")
entities_app = typer.Typer(no_args_is_help=True, help="Linked entities.")
broker_app = typer.Typer(no_args_is_help=True, help="A local Kafka-protocol broker.")
app.add_typer(partner_app, name="partner")
app.add_typer(match_app, name="match")
app.add_typer(entities_app, name="entities")
app.add_typer(broker_app, name="broker")
model_app = typer.Typer(no_args_is_help=True, help="The linkage model: train, approve, roll back.")
app.add_typer(model_app, name="model")
deadletters_app = typer.Typer(no_args_is_help=True, help="The dead-letter topic.")
app.add_typer(deadletters_app, name="deadletters")

console = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


@partner_app.command("keygen")
def partner_keygen(
    out: Annotated[Path, typer.Option(help="Where to write the new secret (hex).")],
) -> None:
    """Create a new pseudonymisation secret. Give it to every partner, never to the RIEC."""
    if out.exists():
        raise typer.BadParameter(f"{out} exists; refusing to overwrite a key")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(secrets.token_hex(32) + "\n", encoding="utf-8")
    out.chmod(0o600)
    console.print(f"wrote a 256-bit secret to {out}")


def _key_line(key_version: str, fingerprint: str) -> str:
    # One wording wherever it is printed, so that partners compare like with like.
    return f"key version {key_version}, fingerprint {fingerprint}"


@partner_app.command("key-fingerprint")
def partner_key_fingerprint(
    secret_file: Annotated[
        Path | None,
        typer.Option(help="File with the secret; or set RIEC_PARTNER_SECRET(_FILE)."),
    ] = None,
    key_version: Annotated[
        str | None, typer.Option(help="Default: RIEC_PARTNER_KEY_VERSION, else k1.")
    ] = None,
) -> None:
    """Print the key version and the fingerprint of the secret, never the secret.

    The same secret and version give the same fingerprint everywhere: compare it with the
    key custodian or the RIEC to confirm that every partner uses the same key.
    """
    from partner.service import load_pseudonymiser

    try:
        pseudonymiser = load_pseudonymiser(_settings(), secret_file, key_version=key_version)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    typer.echo(_key_line(pseudonymiser.key_version, pseudonymiser.fingerprint))


@partner_app.command("push")
def partner_push(
    csv_file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Partner CSV.")],
    partner: Annotated[str, typer.Option(help="Partner id, e.g. gemeente-tilburg.")],
    entity_type: Annotated[str, typer.Option(help="person, company, address or vehicle.")],
    secret_file: Annotated[
        Path | None, typer.Option(help="File with the secret; or set RIEC_PARTNER_SECRET.")
    ] = None,
    partner_type: Annotated[
        str | None, typer.Option(help="Default: the part of the partner id before '-'.")
    ] = None,
    legal_basis: Annotated[
        str | None, typer.Option(help="Legal basis for rows without a 'grondslag' column.")
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="Column mapping ours=theirs, repeatable."),
    ] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Rejects file. Default: <csv>.rejects.csv")
    ] = None,
    batch_id: Annotated[str | None, typer.Option(help="Default: a timestamped id.")] = None,
    fail_on_rejects: Annotated[
        bool, typer.Option(help="Exit with code 3 when any row was rejected.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            help="Check, normalise and pseudonymise every row and write the rejects file, "
            "but send nothing (needs no broker); shows which columns and fields were read."
        ),
    ] = False,
) -> None:
    """Normalise, pseudonymise and push a partner CSV to the partner's topic."""
    from partner.csv_source import parse_mapping
    from partner.push import PushOptions, new_batch_id, partner_type_of
    from partner.service import push_file

    settings = _settings()
    options = PushOptions(
        partner=partner,
        partner_type=partner_type or partner_type_of(partner),
        entity_type=entity_type,
        batch_id=batch_id or new_batch_id(),
        legal_basis=legal_basis,
    )
    try:
        report = push_file(
            csv_file,
            options,
            settings=settings,
            secret_file=secret_file,
            mapping=parse_mapping(map_ or []),
            rejects_path=rejects or csv_file.with_suffix(".rejects.csv"),
            progress=sys.stderr.isatty(),
            dry_run=dry_run,
        )
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if report.dry_run:
        console.print("[bold]dry run:[/bold] nothing was sent, no broker was contacted")
    sent = f"would send {report.would_send}" if report.dry_run else f"sent {report.sent}"
    console.print(
        f"{partner}/{entity_type}: read {report.read}, {sent}, "
        f"rejected {report.rejected} (batch {report.batch_id})"
    )
    console.print(_key_line(report.key_version, report.key_fingerprint))
    if report.dropped:
        dropped = ", ".join(f"{k}: {v}" for k, v in sorted(report.dropped_reasons.items()))
        rows = "rows that would be sent" if report.dry_run else "sent rows"
        console.print(f"[yellow]fields left out of {rows}:[/yellow] {dropped}")
    if report.rejected:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.reasons.items()))
        console.print(f"[yellow]rejected rows by field:[/yellow] {reasons}")
    if report.rejects_path:
        console.print(f"see {report.rejects_path}")
    if report.preview is not None:
        # Column names come from the partner's file: printed as they are, never as markup.
        for line in report.preview.lines():
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    if report.rejected and fail_on_rejects:
        raise typer.Exit(3)


@match_app.command("run")
def match_run(
    until_caught_up: Annotated[
        bool, typer.Option(help="Exit once every partition is consumed (scripts, tests).")
    ] = False,
    max_seconds: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (scripts, tests).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the matching service (long-running consumer in the group).

    Logs are JSON lines on stderr. SIGTERM or Ctrl-C finishes the current batch, commits
    its offsets and leaves the group; a second signal stops at once.
    """
    from consumers.logs import configure, describe_error, log_event
    from consumers.matching_service import MatchingService

    configure(logging.INFO if verbose or not until_caught_up else logging.WARNING)
    try:
        service = MatchingService(_settings())
        service.install_signal_handlers()
        stats = service.run(until_caught_up=until_caught_up, max_seconds=max_seconds)
    except Exception as exc:
        # Type and frames only: a full traceback may quote the data that caused it.
        log_event(
            logging.getLogger("riec.cli"),
            "service_failed",
            logging.CRITICAL,
            exc=exc,
            error=describe_error(exc),
        )
        raise typer.Exit(1) from exc
    typer.echo(stats.summary())


@deadletters_app.command("list")
def deadletters_list(
    limit: Annotated[int, typer.Option(help="Show at most this many, newest last.")] = 100,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Show what is on the dead-letter topic: where each message came from and why.

    Shows headers only, never message values: a rejected value may hold plaintext.
    """
    import json

    from rich.table import Table

    settings = _settings()
    rows = [r for r in _read_dead_letters(settings) if reason is None or r["reason"] == reason]
    rows.sort(key=lambda r: (str(r["failed_at"]), r["partition"], r["offset"]))
    rows = rows[-limit:] if limit > 0 else rows
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table(title=f"{settings.dead_letter_topic}: {len(rows)} shown")
    for column in ("failed at", "reason", "source", "detail", "bytes"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["failed_at"])[:19],
            str(row["reason"]),
            str(row["source"]),
            str(row["detail"]),
            "redacted" if row["redacted"] else str(row["bytes"]),
        )
    Console().print(table)


def _read_dead_letters(settings: Settings, max_seconds: float = 60.0) -> list[dict[str, object]]:
    """Headers of every message on the dead-letter topic, read without a consumer group."""
    import time

    from kafka import KafkaConsumer, TopicPartition

    from riec.kafka_security import client_options

    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers.split(","),
        enable_auto_commit=False,
        client_id="riec-deadletters-list",
        **client_options(settings),
    )
    rows: list[dict[str, object]] = []
    try:
        numbers = consumer.partitions_for_topic(settings.dead_letter_topic) or set()
        partitions = [TopicPartition(settings.dead_letter_topic, p) for p in sorted(numbers)]
        if not partitions:
            return rows
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        pending = {tp for tp in partitions if ends.get(tp)}
        deadline = time.monotonic() + max_seconds
        while pending and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for message in messages:
                    headers = {k: v.decode(errors="replace") for k, v in message.headers or []}
                    rows.append(
                        {
                            "partition": message.partition,
                            "offset": message.offset,
                            "failed_at": headers.get("riec.failed_at", ""),
                            "reason": headers.get("riec.error.reason", ""),
                            "source": f"{headers.get('riec.source.topic', '?')}"
                            f"[{headers.get('riec.source.partition', '?')}]"
                            f"@{headers.get('riec.source.offset', '?')}",
                            "detail": headers.get("riec.error.detail", ""),
                            "bytes": len(message.value or b""),
                            "redacted": headers.get("riec.value.redacted") == "true",
                        }
                    )
                # Some brokers report end offsets short of the high watermark; take the larger.
                if consumer.position(tp) >= max(ends.get(tp) or 0, consumer.highwater(tp) or 0):
                    pending.discard(tp)
    finally:
        consumer.close()
    return rows


@entities_app.command("export")
def entities_export(
    out: Annotated[Path, typer.Option(help="CSV to write.")] = Path("entities.csv"),
) -> None:
    """Write partner, partner record id and entity id of every landed record."""
    from riec.export import export_entities
    from storage import connect

    settings = _settings()
    rows = export_entities(connect(settings.resolved_database_url), out)
    console.print(f"wrote {rows} records to {out}")


@app.command("evaluate")
def evaluate_linkage(
    entities: Annotated[
        Path, typer.Option(exists=True, dir_okay=False, help="CSV from `riec entities export`.")
    ],
    truth: Annotated[
        Path,
        typer.Option(
            exists=True, dir_okay=False, help="Ground truth: partner, record id, true entity id."
        ),
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the metrics as JSON here.")
    ] = None,
    record_id_column: Annotated[
        str | None, typer.Option(help="Truth column with the record id. Default: record_id.")
    ] = None,
    entity_column: Annotated[
        str | None,
        typer.Option(help="Truth column with the true entity id. Default: true_entity_id."),
    ] = None,
    by_type: Annotated[bool, typer.Option(help="Also score each entity type apart.")] = False,
) -> None:
    """Score exported entities against a ground truth (pairwise, B-cubed, clusters)."""
    import json

    from rich.console import Console as OutConsole

    from matching.evaluation import evaluate, evaluate_by_type, read_entities, read_truth

    try:
        predicted = read_entities(entities)
        expected = read_truth(truth, record_id_column=record_id_column, entity_column=entity_column)
    except (ValueError, KeyError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    metrics = evaluate(predicted, expected)
    out = OutConsole()
    out.print(metrics.render())
    result: dict[str, object] = {"overall": metrics.to_dict()}
    if by_type:
        per_type = evaluate_by_type(predicted, expected)
        for entity_type, type_metrics in per_type.items():
            out.print(type_metrics.render(title=f"Linkage quality: {entity_type}"))
        result["by_entity_type"] = {t: m.to_dict() for t, m in per_type.items()}
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {json_out}")


@app.command("explain")
def explain(
    entity_id: Annotated[str, typer.Argument(help="Pseudonymous entity id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Why an entity holds its records: members, field contributions per link, history."""
    import json

    from rich.table import Table

    from matching.explain import explain_entity
    from storage import connect

    db = connect(_settings().resolved_database_url)
    try:
        explanation = explain_entity(db, entity_id)
    except KeyError as exc:
        console.print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(explanation.__dict__, indent=2, default=str))
        return
    out = Console()
    state = "active" if explanation.active else "inactive"
    out.print(f"[bold]{explanation.entity_id}[/bold] ({explanation.entity_type}, {state})")
    records = Table(title="Records")
    columns = (
        "partner",
        "partner_record_id",
        "theme",
        "signal",
        "signal_date",
        "legal_basis",
        "person_category",
        "retention_until",
    )
    for column in columns:
        records.add_column(column)
    for r in explanation.records:
        records.add_row(*(str(r[c] or "") for c in columns))
    out.print(records)
    totals = Table(title="Why linked: summed match weight per field (log2 Bayes factor)")
    totals.add_column("field")
    totals.add_column("total weight", justify="right")
    for name, weight in explanation.field_totals().items():
        totals.add_row(name, f"{weight:+.2f}")
    out.print(totals)
    links = Table(title="Links")
    for column in ("record", "record", "probability", "weight", "fields"):
        links.add_column(column)
    for link in explanation.links:
        parts = ", ".join(
            f"{k} {v['level']} ({v['weight']:+.1f})" for k, v in link["contributions"].items()
        )
        links.add_row(
            link["a"], link["b"], f"{link['probability']:.4f}", f"{link['weight']:.1f}", parts
        )
    out.print(links)
    history = Table(title="History")
    for column in ("at", "entity", "event", "other entity"):
        history.add_column(column)
    for e in explanation.history:
        history.add_row(e["at"][:19], e["entity_id"], e["event"], e["other_entity_id"] or "")
    out.print(history)


_BY = typer.Option("--by", help="Who decides (name or user id); recorded with the version.")
_REASON = typer.Option("--reason", help="Why; recorded with the version and in the audit log.")
_NO_RELINK = typer.Option(
    "--no-relink", help="Skip the trial relink (weights and flags only; faster on big data)."
)


def _decision_failed(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(2)


@contextmanager
def _model_database() -> Iterator[Database]:
    """The database for a model decision; a refused decision or unknown version exits 2."""
    from matching.params_store import ApprovalError
    from storage import connect

    db = connect(_settings().resolved_database_url)
    try:
        yield db
    except (ApprovalError, LookupError) as exc:
        raise _decision_failed(exc) from exc
    finally:
        db.dispose()


@model_app.command("train")
def model_train(
    activate: Annotated[
        bool,
        typer.Option(help="Approve and activate the new versions at once (needs --by, --reason)."),
    ] = False,
    by: Annotated[str | None, _BY] = None,
    reason: Annotated[str | None, _REASON] = None,
    no_relink: Annotated[bool, _NO_RELINK] = False,
) -> None:
    """Estimate m and u from the landed records (EM, no labels); store and validate candidates.

    A candidate scores nothing until approved with `riec model approve`.
    """
    from matching.params_store import Approval, ApprovalError, approve_version
    from matching.training import train_all
    from matching.validation import headline_text, validate_candidates
    from storage import connect

    approval = None
    if activate:
        try:
            approval = Approval.required(by, reason)
        except ApprovalError as exc:
            raise _decision_failed(exc) from exc
    db = connect(_settings().resolved_database_url)
    try:
        reports = train_all(db)
        trained = [(r.entity_type, r.version) for r in reports if not r.skipped and r.version]
        validated = validate_candidates(db, trained, relink=not no_relink)
        for report in reports:
            if report.skipped or not report.version:
                console.print(f"{report.entity_type}: skipped, {report.skipped}")
                continue
            console.print(
                f"{report.entity_type}: {report.version} from {report.blocked_pairs} blocked "
                f"pairs, {report.iterations} EM iterations, prior {report.prior:.4g}; "
                f"{headline_text(validated[(report.entity_type, report.version)])}"
            )
        for entity_type, version in trained:
            if approval is not None:
                approve_version(db, entity_type, version, approval)
                console.print(f"{entity_type}: {version} approved by {approval.by}, now active")
            else:
                console.print(
                    f"{entity_type}: {version} is a candidate; read `riec model report "
                    f"{entity_type} {version}`, then `riec model approve {entity_type} "
                    f"{version} --by NAME --reason TEXT`"
                )
    finally:
        db.dispose()


@model_app.command("validate")
def model_validate(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="A stored version, see `riec model show`.")],
    no_relink: Annotated[bool, _NO_RELINK] = False,
) -> None:
    """(Re)compute a version's validation report against the model active now."""
    from matching.validation import headline_text, validate_version

    with _model_database() as db:
        report = validate_version(db, entity_type, version, relink=not no_relink)
    console.print(f"{entity_type} {version} against {report['against']}: {headline_text(report)}")


@model_app.command("approve")
def model_approve(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="A stored version, or the built-in default.")],
    by: Annotated[str, _BY],
    reason: Annotated[str, _REASON],
) -> None:
    """Make a stored version the active model, recording who approved it, when and why."""
    from matching.params_store import Approval, approve_version
    from matching.validation import headline_text

    with _model_database() as db:
        row = approve_version(db, entity_type, version, Approval.required(by, reason))
    if row.validation is None:
        console.print(f"[yellow]note:[/yellow] {entity_type} {version} has no validation report")
    console.print(
        f"{entity_type}: {version} approved by {row.approved_by}, now active "
        f"({headline_text(row.validation)})"
    )


@model_app.command("rollback")
def model_rollback(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="An earlier version, or the built-in default.")],
    by: Annotated[str, _BY],
    reason: Annotated[str, _REASON],
) -> None:
    """Make an earlier version active again; recorded as an approval, like `approve`."""
    from matching.params_store import activate_version

    with _model_database() as db:
        row = activate_version(db, entity_type, version, by=by, reason=reason)
    console.print(f"{entity_type}: {version} active again, approved by {row.approved_by}")


@model_app.command("reject")
def model_reject(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="A stored candidate.")],
    by: Annotated[str, _BY],
    reason: Annotated[str, _REASON],
) -> None:
    """Record that a candidate was reviewed and declined; it stays stored and inactive."""
    from matching.params_store import reject_version

    with _model_database() as db:
        reject_version(db, entity_type, version, by=by, reason=reason)
    console.print(f"{entity_type}: {version} rejected by {by.strip()}")


@model_app.command("show")
def model_show(
    entity_type: Annotated[str | None, typer.Argument()] = None,
) -> None:
    """Show stored versions (status, approval, validation) and the active parameters."""
    from matching.params_store import active_params, list_versions
    from riec.model_review import parameters_table, versions_table
    from storage import connect

    db = connect(_settings().resolved_database_url)
    out = Console()
    rows = [r for r in list_versions(db) if not entity_type or r.entity_type == entity_type]
    out.print(versions_table(rows))
    for kind, params in active_params(db).items():
        if not entity_type or kind == entity_type:
            out.print(parameters_table(params))
    db.dispose()


@model_app.command("report")
def model_report(
    entity_type: Annotated[str, typer.Argument(help="person, company, address or vehicle.")],
    version: Annotated[str, typer.Argument(help="A stored version, see `riec model show`.")],
    top: Annotated[int, typer.Option(help="Weight changes to list, largest first.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored report as JSON.")] = (
        False
    ),
) -> None:
    """A version's validation report: what it would change, weight changes, flags."""
    import json

    from matching.params_store import get_version
    from riec.model_review import print_report
    from storage import connect

    db = connect(_settings().resolved_database_url)
    row = get_version(db, entity_type, version)
    db.dispose()
    if row is None:
        raise _decision_failed(LookupError(f"no stored {entity_type} model version {version!r}"))
    if as_json:
        typer.echo(json.dumps(row.validation, indent=2, sort_keys=True))
    else:
        print_report(Console(), row, top=top)


@broker_app.command("run")
def broker_run(port: Annotated[int, typer.Option()] = 19092) -> None:
    """Run the bundled Tansu broker in the foreground (memory only; for demos and tests)."""
    import time

    from riec.broker import LocalBroker

    with LocalBroker(port=port) as broker:
        console.print(f"broker listening on {broker.bootstrap}; Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Working directory of the demo.")] = Path("var/demo"),
    subjects: Annotated[int, typer.Option(help="Synthetic subjects to generate.")] = 400,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Generate data, push it, match it, run both DAGs and show the hit list."""
    from riec.demo import run_demo

    run_demo(out, subjects=subjects, seed=seed, console=console)


if __name__ == "__main__":
    app()
