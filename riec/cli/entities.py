"""``riec entities``: the linked entities."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from riec.cli.common import acting_person, console, riec_settings

app = typer.Typer(no_args_is_help=True, help="Linked entities.")

BY = typer.Option("--by", help="Who is acting. Default: the operating-system user.")


@app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="CSV to write.")] = Path("entities.csv"),
    by: Annotated[str | None, BY] = None,
) -> None:
    """Write partner, partner record id and entity id of every landed record."""
    from riec.export import export_entities
    from storage import connect

    actor = acting_person(by)
    db = connect(riec_settings().resolved_database_url)
    try:
        rows = export_entities(db, out, actor=actor)
    finally:
        db.dispose()
    console.print(f"wrote {rows} records to {out}", markup=False)
