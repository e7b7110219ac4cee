"""``riec requests``: requests to partners, RIEC side (the workspace also does this itself)."""

from __future__ import annotations

import typer

from riec.cli.common import console, riec_settings

app = typer.Typer(no_args_is_help=True, help="Requests to partners: publish and read answers.")


@app.command("sync")
def sync() -> None:
    """Publish approved requests and record the partners' answers, once, then stop."""
    from storage import connect
    from workspace.sync import sync_once

    settings = riec_settings()
    db = connect(settings.resolved_database_url, migrate=settings.db_auto_migrate)
    try:
        report = sync_once(db, settings)
    finally:
        db.dispose()
    console.print(report.summary(), markup=False)
