"""``riec partner``: the partner toolkit's commands. Runs at the partner, never at the RIEC.

This module and what it imports belong to the partner installation: it may import
``core``, ``contract`` and ``partner`` only.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.errors import EXIT_REJECTED_ROWS, InputFileError
from core.files import create_secret_file
from riec.cli.common import console, key_line, partner_settings

app = typer.Typer(
    no_args_is_help=True, help="Partner side: keys, pushing records, answering requests."
)


@app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option(help="Where to write the new secret (hex).")],
) -> None:
    """Create a new pseudonymisation secret. Give it to every partner, never to the RIEC."""
    try:
        # 0600 from its first byte, and whole or not at all (core.files).
        create_secret_file(out, secrets.token_hex(32) + "\n")
    except FileExistsError:
        raise InputFileError(f"{out} exists; refusing to overwrite a key") from None
    console.print(f"wrote a 256-bit secret to {out}")


@app.command("key-fingerprint")
def key_fingerprint(
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

    pseudonymiser = load_pseudonymiser(partner_settings(), secret_file, key_version=key_version)
    typer.echo(key_line(pseudonymiser.key_version, pseudonymiser.fingerprint))


@app.command("push")
def push(
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
    postcode_gemeente: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="CSV of postcode digits (4) and gemeentecode, for rows without a "
            "'gemeentecode' column (CBS publishes it yearly).",
        ),
    ] = None,
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
    from contract import ENTITY_TYPES
    from partner.csv_source import parse_mapping
    from partner.gemeente import load_postcode_gemeenten
    from partner.push import PushOptions, new_batch_id, partner_type_of
    from partner.service import push_file

    if entity_type not in ENTITY_TYPES:
        raise typer.BadParameter(
            f"{entity_type!r} is none of {', '.join(ENTITY_TYPES)}", param_hint="--entity-type"
        )
    options = PushOptions(
        partner=partner,
        partner_type=partner_type or partner_type_of(partner),
        entity_type=entity_type,
        batch_id=batch_id or new_batch_id(),
        legal_basis=legal_basis,
        postcode_gemeenten=load_postcode_gemeenten(postcode_gemeente)
        if postcode_gemeente
        else None,
    )
    try:
        mapping = parse_mapping(map_ or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--map") from None
    report = push_file(
        csv_file,
        options,
        settings=partner_settings(),
        secret_file=secret_file,
        mapping=mapping,
        rejects_path=rejects or csv_file.with_suffix(".rejects.csv"),
        progress=sys.stderr.isatty(),
        dry_run=dry_run,
    )
    if report.dry_run:
        console.print("[bold]dry run:[/bold] nothing was sent, no broker was contacted")
    sent = f"would send {report.would_send}" if report.dry_run else f"sent {report.sent}"
    console.print(
        f"{partner}/{entity_type}: read {report.read}, {sent}, "
        f"rejected {report.rejected} (batch {report.batch_id})",
        markup=False,
    )
    console.print(key_line(report.key_version, report.key_fingerprint))
    if report.dropped:
        dropped = ", ".join(f"{k}: {v}" for k, v in sorted(report.dropped_reasons.items()))
        rows = "rows that would be sent" if report.dry_run else "sent rows"
        console.print(f"[yellow]fields left out of {rows}:[/yellow] {dropped}")
    if report.rejected:
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(report.reasons.items()))
        console.print(f"[yellow]rejected rows by field:[/yellow] {reasons}")
    if report.rejects_path:
        console.print(f"see {report.rejects_path}", markup=False)
    if report.preview is not None:
        # Column names come from the partner's file: printed as they are, never as markup.
        for line in report.preview.lines():
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    if report.rejected and fail_on_rejects:
        raise typer.Exit(EXIT_REJECTED_ROWS)
