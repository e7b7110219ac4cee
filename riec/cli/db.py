"""``riec db``: the RIEC database's schema."""

from __future__ import annotations

import typer

from riec.cli.common import console, riec_settings

app = typer.Typer(no_args_is_help=True, help="The database schema: migrations.")


@app.command("upgrade")
def upgrade() -> None:
    """Bring the database schema to this release (run once before the services start)."""
    from storage import connect
    from storage.database import open_engine, reachable
    from storage.migrate import current_revision

    url = riec_settings().resolved_database_url
    engine = open_engine(url)
    try:
        with reachable(url):
            before = current_revision(engine)
    finally:
        engine.dispose()
    db = connect(url, migrate=True)
    try:
        after = current_revision(db.engine)
    finally:
        db.dispose()
    if before == after:
        console.print(f"database schema at revision {after}; nothing to do")
    else:
        console.print(f"database schema upgraded from revision {before or 'none'} to {after}")


@app.command("current")
def current() -> None:
    """Print the schema revision of the database and the one this release needs."""
    from storage.database import open_engine, reachable
    from storage.migrate import current_revision, head_revision

    url = riec_settings().resolved_database_url
    engine = open_engine(url)
    try:
        with reachable(url):
            revision = current_revision(engine)
    finally:
        engine.dispose()
    typer.echo(f"database: {revision or 'none'}; this release: {head_revision()}")
    if revision != head_revision():
        raise typer.Exit(1)
