"""``riec match``: the matching service."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from riec.cli.common import riec_settings

app = typer.Typer(no_args_is_help=True, help="The matching service.")


@app.command("run")
def run(
    until_caught_up: Annotated[
        bool, typer.Option(help="Exit once every partition is consumed (scripts, tests).")
    ] = False,
    max_seconds: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (scripts, tests).")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every batch, not only problems.")
    ] = False,
) -> None:
    """Run the matching service (long-running consumer in the group).

    Logs are JSON lines on stderr. SIGTERM or Ctrl-C finishes the current batch, commits
    its offsets and leaves the group; a second signal stops at once.
    """
    from consumers.logs import configure, describe_error, log_event
    from consumers.matching_service import MatchingService
    from core.errors import RiecError

    configure(logging.INFO if verbose or not until_caught_up else logging.WARNING)
    settings = riec_settings()
    try:
        service = MatchingService(settings)
        service.install_signal_handlers()
        stats = service.run(until_caught_up=until_caught_up, max_seconds=max_seconds)
    except RiecError as exc:
        # The service logs JSON lines; its refusal to start is one of them. A RiecError's
        # message is written for users and holds no data or secrets.
        log_event(
            logging.getLogger("riec.cli"),
            "service_failed",
            logging.CRITICAL,
            error=str(exc),
            retriable=exc.retriable,
        )
        raise typer.Exit(exc.exit_code) from None
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
