"""Who may open which page: one rule per route, checked on every request.

The rule table is the single place that says it. The application refuses to start when a
route has no rule, and the authorization-matrix test walks every route against every role,
screening state and sign-in state, so a new page without a rule cannot slip through.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from workspace.accounts import ScreeningState
from workspace.roles import SUBJECT_ROLES, Role


@dataclass(frozen=True)
class Rule:
    """``login``: needs a signed-in user; ``roles``: any of these (None: any role);
    ``screening``: needs a valid screening, because the page shows subject data."""

    login: bool
    roles: frozenset[Role] | None = None
    screening: bool = False


class Outcome(StrEnum):
    ALLOW = "allow"
    SIGN_IN = "sign-in"
    WRONG_ROLE = "wrong-role"
    NOT_SCREENED = "not-screened"


PUBLIC = Rule(login=False)
SIGNED_IN = Rule(login=True)
SUBJECT_DATA = Rule(login=True, roles=frozenset(SUBJECT_ROLES), screening=True)
COORDINATION = Rule(login=True, roles=frozenset({Role.COORDINATOR}))
OPERATIONS = Rule(login=True, roles=frozenset({Role.DATA_ENGINEER}))
# The audit trail names entities and partner records: screened auditors only.
AUDIT = Rule(login=True, roles=frozenset({Role.AUDITOR}), screening=True)

#: Route name -> rule. Every route of the application must be listed.
RULES: dict[str, Rule] = {
    "static": PUBLIC,
    "healthz": PUBLIC,
    "login_form": PUBLIC,
    "login": PUBLIC,
    "oidc_login": PUBLIC,
    "oidc_callback": PUBLIC,
    "logout": SIGNED_IN,
    "home": SIGNED_IN,
    "hit_lists": SUBJECT_DATA,
    "hit_list": SUBJECT_DATA,
    "hit_list_export": SUBJECT_DATA,
    "entity": SUBJECT_DATA,
    "record_review": SUBJECT_DATA,
    "draft_request": SUBJECT_DATA,
    "requests": SUBJECT_DATA,
    "request_detail": SUBJECT_DATA,
    "approve_request": SUBJECT_DATA,
    "withdraw_request": SUBJECT_DATA,
    "users": COORDINATION,
    "create_user": COORDINATION,
    "user_detail": COORDINATION,
    "add_screening": COORDINATION,
    "disable_user": COORDINATION,
    "set_roles": COORDINATION,
    "criteria": COORDINATION,
    "approve_criteria": COORDINATION,
    "operations": OPERATIONS,
    "audit": AUDIT,
    "audit_export": AUDIT,
}


def decide(rule: Rule, roles: frozenset[Role] | None, screening: ScreeningState | None) -> Outcome:
    """``roles`` None means nobody is signed in."""
    if not rule.login:
        return Outcome.ALLOW
    if roles is None:
        return Outcome.SIGN_IN
    if rule.roles is not None and not (roles & rule.roles):
        return Outcome.WRONG_ROLE
    if rule.screening and screening is not ScreeningState.VALID:
        return Outcome.NOT_SCREENED
    return Outcome.ALLOW
