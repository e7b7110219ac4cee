"""``riec users``: workspace accounts and screenings, for the first coordinator and scripts.

The audit trail names who acted: ``--by`` or the operating-system user.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from core.errors import UsageError
from riec.cli.common import acting_person, console, out, riec_settings

if TYPE_CHECKING:
    from storage import Database

app = typer.Typer(no_args_is_help=True, help="Workspace accounts: add, list, disable, screen.")

BY = typer.Option("--by", help="Who acts (recorded in the audit trail). Default: the OS user.")


@contextmanager
def users_database() -> Iterator[Database]:
    from storage import connect

    settings = riec_settings()
    db = connect(settings.resolved_database_url, migrate=settings.db_auto_migrate)
    try:
        yield db
    finally:
        db.dispose()


def _password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise UsageError("--password-stdin: no password on standard input")
        return line
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for a password: pass it with --password-stdin")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="User name (letters, digits, . _ - @).")],
    roles: Annotated[
        str, typer.Option(help="Comma separated: analyst, coordinator, data-engineer, auditor.")
    ],
    name: Annotated[str | None, typer.Option(help="Display name. Default: the user name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (one line).")
    ] = False,
    by: Annotated[str | None, BY] = None,
) -> None:
    """Add a local account (argon2 password hash). A coordinator then records screenings."""
    from workspace.accounts import add_user

    actor = acting_person(by)
    password = _password(password_stdin)
    with users_database() as db:
        user = add_user(
            db, username, display_name=name or username, roles=roles, password=password, by=actor
        )
    console.print(
        f"added {user.username} ({', '.join(sorted(user.roles))}); without a valid screening "
        f"it sees no subject data: `riec users screen {user.username} ...`",
        markup=False,
    )


@app.command("list")
def list_(
    by: Annotated[str | None, BY] = None,
) -> None:
    """Accounts with their roles, state and screening."""
    from rich.table import Table

    from workspace.accounts import list_users

    actor = acting_person(by)
    with users_database() as db:
        users = list_users(db)
        db.audit(actor, "users.listed", None, count=len(users))
    table = Table(title="Workspace users")
    for column in ("user", "name", "roles", "state", "screening", "valid until"):
        table.add_column(column)
    for user in users:
        until = max((s.expires_on for s in user.screenings), default=None)
        state = "active" if user.active else "disabled"
        if user.locked_until is not None:
            state += f", locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"
        table.add_row(
            user.username,
            user.display_name,
            ", ".join(sorted(user.roles)),
            state,
            user.screening.value,
            until.isoformat() if until else "",
        )
    out.print(table, markup=False)


@app.command("disable")
def disable(
    username: Annotated[str, typer.Argument()],
    by: Annotated[str | None, BY] = None,
) -> None:
    """Disable an account; its sessions end at once."""
    from workspace.accounts import disable_user

    actor = acting_person(by)
    with users_database() as db:
        disable_user(db, username, by=actor)
    console.print(f"disabled {username.strip()}", markup=False)


@app.command("password")
def password(
    username: Annotated[str, typer.Argument()],
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (one line).")
    ] = False,
    by: Annotated[str | None, BY] = None,
) -> None:
    """Set a new password (also lifts a lockout)."""
    from workspace.accounts import set_password

    actor = acting_person(by)
    secret = _password(password_stdin)
    with users_database() as db:
        set_password(db, username, secret, by=actor)
    console.print(f"password of {username.strip()} set", markup=False)


@app.command("screen")
def screen(
    username: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option(help="VOG or veiligheidsonderzoek.")],
    level: Annotated[str, typer.Option(help="VOG screening profile, or A, B or C.")],
    screened_on: Annotated[str, typer.Option(help="Date of the screening (YYYY-MM-DD).")],
    expires_on: Annotated[str, typer.Option(help="Date it expires (YYYY-MM-DD).")],
    by: Annotated[str | None, BY] = None,
) -> None:
    """Record a screening (kind, level, dates; never a copy of the document)."""
    from workspace.accounts import record_screening

    actor = acting_person(by)
    with users_database() as db:
        record_screening(
            db,
            username,
            kind=kind,
            level=level,
            screened_on=_date(screened_on, "--screened-on"),
            expires_on=_date(expires_on, "--expires-on"),
            by=actor,
        )
    console.print(f"screening of {username.strip()} recorded", markup=False)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option}: not a date (YYYY-MM-DD)") from None
