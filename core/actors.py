"""Who an audit event names as its actor: a person, or an automated component.

A human action names the person (``--by`` or the operating-system user, a workspace login).
An automated action names the component that did it as ``<kind>:<name>``, for example
``dag:build_hit_list`` or ``service:matching``; the audit trail stores which of the two an
actor is, so that an auditor can tell a person's action from a machine's.
"""

from __future__ import annotations

import re

from core.errors import UsageError

#: Kinds of automated component an actor may name, as in ``dag:build_hit_list``.
COMPONENT_KINDS = ("dag", "service", "job", "migration")
#: Tool names that say nothing about who acted; never accepted as a person.
NOT_A_PERSON = frozenset({"cli", "system", "riec", "unknown", "anonymous"})
#: Longest actor the audit trail stores.
MAX_ACTOR_LENGTH = 128

_COMPONENT = re.compile(rf"^(?:{'|'.join(COMPONENT_KINDS)}):[A-Za-z0-9_.\-]+$")

PERSON = "person"
COMPONENT = "component"


def actor_kind(actor: str) -> str:
    """``"component"`` for a name like ``dag:build_hit_list``, else ``"person"``."""
    return COMPONENT if _COMPONENT.match(actor) else PERSON


def person_name_problem(name: str) -> str | None:
    """Why ``name`` cannot stand for a person in the audit trail, or ``None`` if it can."""
    stripped = name.strip()
    if not stripped:
        return "a person's name must not be empty"
    if len(stripped) > MAX_ACTOR_LENGTH:
        return f"a person's name has at most {MAX_ACTOR_LENGTH} characters"
    if stripped.lower() in NOT_A_PERSON:
        return f"{stripped!r} names a tool, not a person"
    kind, colon, _ = stripped.partition(":")
    if colon and kind.lower() in COMPONENT_KINDS:
        return f"{stripped!r} is how automated components are named, not persons"
    if any(ord(c) < 32 or ord(c) == 127 for c in stripped):
        return "a person's name must not contain control characters"
    return None


def checked_person(name: str, *, option: str = "--by") -> str:
    """``name`` stripped, or a :class:`UsageError` saying why it names no person."""
    problem = person_name_problem(name)
    if problem is not None:
        raise UsageError(f"{option}: {problem}")
    return name.strip()
