"""The ``riec`` command."""

import typer

app = typer.Typer(no_args_is_help=True, help="RIEC cross-partner signal matching.")
