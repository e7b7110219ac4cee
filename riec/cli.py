"""The ``riec`` command: partner push, broker, matching service, exports and the demo."""

from __future__ import annotations

import logging
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from riec.settings import Settings

app = typer.Typer(no_args_is_help=True, help="RIEC cross-partner signal matching.")
partner_app = typer.Typer(no_args_is_help=True, help="Partner side: keys and pushing records.")
match_app = typer.Typer(no_args_is_help=True, help="The matching service.")
entities_app = typer.Typer(no_args_is_help=True, help="Linked entities.")
broker_app = typer.Typer(no_args_is_help=True, help="A local Kafka-protocol broker.")
app.add_typer(partner_app, name="partner")
app.add_typer(match_app, name="match")
app.add_typer(entities_app, name="entities")
app.add_typer(broker_app, name="broker")

console = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


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
        )
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    console.print(
        f"{partner}/{entity_type}: read {report.read}, sent {report.sent}, "
        f"rejected {report.rejected} (batch {report.batch_id})"
    )
    if report.rejected:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.reasons.items()))
        console.print(f"[yellow]rejected rows by field:[/yellow] {reasons}")
        console.print(f"see {report.rejects_path}")
        if fail_on_rejects:
            raise typer.Exit(3)


@match_app.command("run")
def match_run(
    until_caught_up: Annotated[
        bool, typer.Option(help="Exit once every partition is consumed (scripts, tests).")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the matching service (long-running consumer in the group)."""
    from consumers.matching_service import MatchingService

    _logging(verbose or not until_caught_up)
    service = MatchingService(_settings())
    service.install_signal_handlers()
    stats = service.run(until_caught_up=until_caught_up)
    console.print(stats.summary())


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
