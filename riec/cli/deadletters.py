"""``riec deadletters``: what the matching service refused, and why."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from riec.cli.common import out, riec_settings

app = typer.Typer(no_args_is_help=True, help="The dead-letter topic.")


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option(help="Show at most this many, newest last.")] = 100,
    reason: Annotated[str | None, typer.Option(help="Only this reason.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Show what is on the dead-letter topic: where each message came from and why.

    Shows headers only, never message values: a rejected value may hold plaintext.
    """
    from rich.markup import escape
    from rich.table import Table

    from consumers.dead_letter_reader import read_dead_letters

    settings = riec_settings()
    rows = [r for r in read_dead_letters(settings) if reason is None or r["reason"] == reason]
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
        # Header values come from the topic: shown as text, never interpreted as markup.
        table.add_row(
            *(
                escape(cell)
                for cell in (
                    str(row["failed_at"])[:19],
                    str(row["reason"]),
                    str(row["source"]),
                    str(row["detail"]),
                    "redacted" if row["redacted"] else str(row["bytes"]),
                )
            )
        )
    out.print(table)
