"""What every command module shares: the consoles, settings and who is acting."""

from __future__ import annotations

import getpass
import os

from rich.console import Console

from core.actors import checked_person, person_name_problem
from core.errors import UsageError
from core.settings import PartnerSettings, RiecSettings, load_settings

#: Messages, progress and errors; results that a script may read go to stdout.
console = Console(stderr=True)
#: Tables and reports meant to be read or piped.
out = Console()


def riec_settings() -> RiecSettings:
    """The RIEC side's settings from the environment."""
    return load_settings(RiecSettings)


def partner_settings() -> PartnerSettings:
    """The partner side's settings from the environment."""
    return load_settings(PartnerSettings)


def acting_person(by: str | None) -> str:
    """Who is acting: ``--by`` if given, else the operating-system user.

    The audit trail names a person for every human action, never the tool: a blank name,
    a tool's name ("cli", "system") or a component's (``dag:...``) is refused.
    """
    if by is not None:
        if not by.strip():
            raise UsageError("--by must name a person")
        return checked_person(by)
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        # No user name in the environment or the password database (some containers).
        name = os.environ.get("USER") or os.environ.get("USERNAME") or ""
        if not name:
            raise UsageError("cannot tell who you are: pass --by NAME") from None
    if person_name_problem(name) is not None:
        raise UsageError("the operating-system user does not name a person: pass --by NAME")
    return name.strip()


def key_line(key_version: str, fingerprint: str) -> str:
    """How a key is shown wherever it is printed, so that partners compare like with like."""
    return f"key version {key_version}, fingerprint {fingerprint}"
