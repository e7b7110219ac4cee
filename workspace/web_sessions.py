"""Browser sessions: a random token in an HttpOnly cookie, its SHA-256 in the database.

Sessions live server-side so that signing out, disabling a user or an expired screening
take effect on the very next request. Each session has its own CSRF token, which every form
sends back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from storage import Database
from storage.models import User, WebSession
from workspace.accounts import ScreeningState, screening_state
from workspace.roles import Role, parse_roles


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as this request sees them: read fresh on every request."""

    user_id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    screening: ScreeningState
    csrf_token: str

    def has(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Database, user_id: int, *, now: datetime) -> str:
    """A new session for ``user_id``; returns the cookie value."""
    token = secrets.token_urlsafe(32)
    with db.session() as session:
        session.add(
            WebSession(
                token_hash=_digest(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen=now,
            )
        )
    return token


def end_session(db: Database, token: str) -> None:
    with db.session() as session:
        session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def viewer_for(
    db: Database, token: str | None, *, now: datetime, idle: timedelta, longest: timedelta
) -> Viewer | None:
    """The person behind ``token``, or None when it is unknown, expired or the user disabled."""
    if not token or len(token) > 100:
        return None
    with db.session() as session:
        found = session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == _digest(token))
        ).first()
        if found is None:
            return None
        web_session, user = found
        if (
            not user.active
            or now - _aware(web_session.last_seen) > idle
            or now - _aware(web_session.created_at) > longest
        ):
            session.delete(web_session)
            return None
        # Written at most once a minute: most requests only read.
        if now - _aware(web_session.last_seen) > timedelta(minutes=1):
            web_session.last_seen = now
        return Viewer(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            roles=parse_roles(user.roles),
            screening=screening_state(session, user.id, now.date()),
            csrf_token=web_session.csrf_token,
        )


def same_token(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
