"""The roles a workspace user can hold, and what each may do."""

from __future__ import annotations

from enum import StrEnum

from core.errors import UsageError


class Role(StrEnum):
    #: Reviews hit lists and entities, records decisions, drafts and approves requests.
    ANALYST = "analyst"
    #: Manages users, screenings and the approval of hit-list criteria; may review and approve.
    COORDINATOR = "coordinator"
    #: Operations pages (data flow, validation, builds); never subject data.
    DATA_ENGINEER = "data-engineer"
    #: The audit trail; no subject data unless also an analyst.
    AUDITOR = "auditor"


ALL_ROLES: tuple[Role, ...] = tuple(Role)
#: Roles whose work is with subjects: they see hit lists, entities and requests.
SUBJECT_ROLES = frozenset({Role.ANALYST, Role.COORDINATOR})


def parse_roles(text: str | list[str] | tuple[str, ...]) -> frozenset[Role]:
    """Roles from ``analyst,auditor`` (or a list); an unknown name is a usage error."""
    names = text.split(",") if isinstance(text, str) else list(text)
    roles: set[Role] = set()
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        try:
            roles.add(Role(name))
        except ValueError:
            known = ", ".join(r.value for r in ALL_ROLES)
            raise UsageError(f"unknown role {name!r}; roles are {known}") from None
    if not roles:
        raise UsageError("give at least one role")
    return frozenset(roles)


def roles_text(roles: frozenset[Role] | set[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))
