"""Users, their screenings and signing in: shared by ``riec users`` and the web application.

Every change is an audit event with the person who made it as actor. A password is kept only
as an argon2 hash; a screening only as its kind, level and dates, never a copy of the
document.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import RefusedError, UsageError
from storage import Database
from storage.models import Screening, User, WebSession
from workspace.roles import Role, parse_roles, roles_text

MIN_PASSWORD_LENGTH = 12
#: Failed sign-ins in a row after which an account is locked for LOCKOUT.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

#: Screening kinds, with the levels each knows (None: a free text such as a VOG profile).
SCREENING_KINDS: dict[str, tuple[str, ...] | None] = {
    # Verklaring Omtrent het Gedrag, issued by Justis for a screening profile.
    "VOG": None,
    # Veiligheidsonderzoek (AIVD or Justis/MIVD) with a verklaring van geen bezwaar.
    "veiligheidsonderzoek": ("A", "B", "C"),
}

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class ScreeningState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    ABSENT = "absent"


class LoginRefused(RefusedError):
    """Sign-in refused. ``reason`` is for the audit trail; the user sees one message."""

    def __init__(self, reason: str) -> None:
        super().__init__("wrong user name or password, or the account is locked or disabled")
        self.reason = reason


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    display_name: str
    roles: frozenset[Role]
    active: bool
    local: bool
    locked_until: datetime | None
    screening: ScreeningState
    screenings: tuple[ScreeningView, ...]


@dataclass(frozen=True)
class ScreeningView:
    kind: str
    level: str
    screened_on: date
    expires_on: date
    recorded_by: str
    recorded_at: datetime


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def _clean_name(username: str) -> str:
    name = username.strip().lower()
    if not name or len(name) > 128 or not all(c.isalnum() or c in "._-@" for c in name):
        raise UsageError("a user name is 1-128 letters, digits or . _ - @")
    return name


def add_user(
    db: Database,
    username: str,
    *,
    display_name: str,
    roles: str | list[str],
    password: str | None,
    by: str,
    oidc_subject: str | None = None,
) -> UserView:
    """Create an account; ``password`` None makes one that signs in through OpenID Connect."""
    name = _clean_name(username)
    parsed = parse_roles(roles)
    if password is None and oidc_subject is None:
        raise UsageError("a local account needs a password")
    password_hash = hash_password(password) if password is not None else None
    with db.session() as session:
        if session.scalar(select(User.id).where(User.username == name)) is not None:
            raise UsageError(f"user {name} exists")
        user = User(
            username=name,
            display_name=display_name.strip()[:200] or name,
            roles=roles_text(parsed),
            password_hash=password_hash,
            oidc_subject=oidc_subject,
            active=True,
            failed_logins=0,
            created_at=datetime.now(UTC),
            created_by=by,
        )
        session.add(user)
        session.flush()
        user_id = user.id
    db.audit(by, "user.created", name, roles=sorted(r.value for r in parsed))
    return get_user(db, user_id)


def get_user(db: Database, user_id: int, *, today: date | None = None) -> UserView:
    with db.session() as session:
        user = session.get(User, user_id)
        if user is None:
            raise UsageError(f"no user with id {user_id}")
        return _view(session, user, today or date.today())


def find_user(db: Database, username: str) -> UserView:
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == _clean_name(username)))
        if user is None:
            raise UsageError(f"no user {username.strip()}")
        return _view(session, user, date.today())


def list_users(db: Database, *, today: date | None = None) -> list[UserView]:
    with db.session() as session:
        users = session.scalars(select(User).order_by(User.username)).all()
        return [_view(session, user, today or date.today()) for user in users]


def disable_user(db: Database, username: str, *, by: str) -> None:
    """Disable an account and end its sessions at once."""
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == _clean_name(username)))
        if user is None:
            raise UsageError(f"no user {username.strip()}")
        user.active = False
        session.execute(delete(WebSession).where(WebSession.user_id == user.id))
        name = user.username
    db.audit(by, "user.disabled", name)


def set_roles(db: Database, username: str, roles: str | list[str], *, by: str) -> None:
    parsed = parse_roles(roles)
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == _clean_name(username)))
        if user is None:
            raise UsageError(f"no user {username.strip()}")
        before = user.roles
        user.roles = roles_text(parsed)
        name = user.username
    db.audit(by, "user.roles_changed", name, before=before, after=roles_text(parsed))


def set_password(db: Database, username: str, password: str, *, by: str) -> None:
    """A new password; also lifts a lockout."""
    password_hash = hash_password(password)
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == _clean_name(username)))
        if user is None:
            raise UsageError(f"no user {username.strip()}")
        user.password_hash = password_hash
        user.failed_logins = 0
        user.locked_until = None
        name = user.username
    db.audit(by, "user.password_set", name)


def record_screening(
    db: Database,
    username: str,
    *,
    kind: str,
    level: str,
    screened_on: date,
    expires_on: date,
    by: str,
    today: date | None = None,
) -> None:
    """Record a screening of ``username``. Nobody records their own."""
    today = today or date.today()
    if kind not in SCREENING_KINDS:
        raise UsageError(f"screening kind must be one of {', '.join(SCREENING_KINDS)}")
    levels = SCREENING_KINDS[kind]
    level = level.strip()
    if levels is not None and level not in levels:
        raise UsageError(f"a {kind} has level {', '.join(levels)}")
    if not level or len(level) > 64:
        raise UsageError("give the screening's level or profile (at most 64 characters)")
    if screened_on > today:
        raise UsageError("the screening date lies in the future")
    if expires_on <= screened_on:
        raise UsageError("the expiry date must come after the screening date")
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == _clean_name(username)))
        if user is None:
            raise UsageError(f"no user {username.strip()}")
        if user.username == by:
            raise RefusedError("nobody records their own screening: ask a coordinator")
        session.add(
            Screening(
                user_id=user.id,
                kind=kind,
                level=level,
                screened_on=screened_on,
                expires_on=expires_on,
                recorded_by=by,
                recorded_at=datetime.now(UTC),
            )
        )
        name = user.username
    db.audit(
        by,
        "screening.recorded",
        name,
        kind=kind,
        level=level,
        screened_on=screened_on.isoformat(),
        expires_on=expires_on.isoformat(),
    )


def screening_state(session: Session, user_id: int, today: date) -> ScreeningState:
    """Whether ``user_id`` holds a screening valid on ``today``; read on every request."""
    rows = session.execute(
        select(Screening.screened_on, Screening.expires_on).where(Screening.user_id == user_id)
    ).all()
    if not rows:
        return ScreeningState.ABSENT
    if any(start <= today <= end for start, end in rows):
        return ScreeningState.VALID
    return ScreeningState.EXPIRED


def authenticate(db: Database, username: str, password: str, *, now: datetime) -> UserView:
    """The user whose password this is; :class:`LoginRefused` otherwise (audited by caller).

    After MAX_FAILED_LOGINS failures in a row the account is locked for LOCKOUT, also for
    the right password, so guessing gets nowhere.
    """
    try:
        name = _clean_name(username)
    except UsageError:
        _verify(_DUMMY_HASH, password)
        raise LoginRefused("malformed user name") from None
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == name))
        if user is None or user.password_hash is None:
            _verify(_DUMMY_HASH, password)
            raise LoginRefused("unknown user" if user is None else "account without password")
        if not user.active:
            _verify(_DUMMY_HASH, password)
            raise LoginRefused("account disabled")
        locked_until = _aware(user.locked_until)
        if locked_until is not None and locked_until > now:
            _verify(_DUMMY_HASH, password)
            raise LoginRefused("account locked")
        if not _verify(user.password_hash, password):
            user.failed_logins = (user.failed_logins or 0) + 1
            refusal = "wrong password"
            if user.failed_logins >= MAX_FAILED_LOGINS:
                user.locked_until = now + LOCKOUT
                user.failed_logins = 0
                refusal = "wrong password; account locked"
        else:
            refusal = None
            user.failed_logins = 0
            user.locked_until = None
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            view = _view(session, user, now.date())
    # The failure count is committed before the refusal is raised.
    if refusal is not None:
        raise LoginRefused(refusal)
    return view


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _view(session: Session, user: User, today: date) -> UserView:
    screenings = session.scalars(
        select(Screening).where(Screening.user_id == user.id).order_by(Screening.expires_on)
    ).all()
    return UserView(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=parse_roles(user.roles),
        active=user.active,
        local=user.password_hash is not None,
        locked_until=_aware(user.locked_until),
        screening=screening_state(session, user.id, today),
        screenings=tuple(
            ScreeningView(
                kind=s.kind,
                level=s.level,
                screened_on=s.screened_on,
                expires_on=s.expires_on,
                recorded_by=s.recorded_by,
                recorded_at=_aware(s.recorded_at) or s.recorded_at,
            )
            for s in screenings
        ),
    )
