"""The audit trail: a hash chain that cannot be rewritten unnoticed.

Every event is appended through :func:`append` (via :meth:`storage.Database.audit`). An event
gets the next position (``seq``: 1, 2, 3, ...), the hash of the event before it
(``prev_hash``; the first event follows :data:`GENESIS`), and its own ``hash``: SHA-256 over
a canonical serialisation (:func:`canonical`) of its id, time, actor, kind of actor, action,
subject, details and ``prev_hash``. Changing, deleting, inserting or re-ordering an event
therefore breaks the chain at that point, and :func:`verify` names the first such place.

Someone who can write to the database could recompute every hash after a change. Anchors
close that gap: an anchor is a position with its hash, set every :data:`ANCHOR_EVERY` events,
on the first event of each day (UTC) and on request. A coordinator writes the latest anchor
down outside the system (``riec audit anchor``); ``riec audit verify --anchor POS:HASH``
then fails on any rewrite of the chain up to that position.

Appends are serialised: on PostgreSQL by a transaction-level advisory lock, on SQLite by the
database's single write lock, which the event's insert takes before the predecessor is read.
An event commits or rolls back with the transaction it was written in, so no action is
recorded that did not happen, and none happens unrecorded.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path, PurePath
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, insert, select, text, update
from sqlalchemy.orm import Session

from core.actors import COMPONENT, PERSON, actor_kind, person_name_problem
from core.errors import UsageError
from core.files import open_private
from core.spreadsheet import safe_row
from storage.models import AuditAnchor, AuditEvent

if TYPE_CHECKING:
    from storage.database import Database

#: ``prev_hash`` of the first event of a chain.
GENESIS = "0" * 64
#: An anchor is stored at every this many events (and on the first event of each UTC day).
ANCHOR_EVERY = 1000
#: Shortest hash prefix accepted for a written-down anchor (64 bits).
MIN_ANCHOR_PREFIX = 16
#: Longest subject the table holds; a longer one is cut and kept whole in the details.
MAX_SUBJECT = 128
#: Serialisation version, part of every hash, so a future format cannot collide with this one.
CHAIN_FORMAT = 1
#: PostgreSQL advisory lock that serialises appends (distinct from the migration lock).
APPEND_LOCK_KEY = 7_351_244_002
_PAGE = 2_000


# --- the canonical form ----------------------------------------------------------------------


def plain(value: Any) -> Any:
    """``value`` as plain JSON data (what the database gives back), for storing and hashing.

    Keys become strings, tuples and sets lists, dates ISO text, and non-finite numbers text
    (PostgreSQL's JSON refuses NaN). Anything else becomes its ``str``.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(item) for item in value), key=repr)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    return str(value)


def utc_text(at: datetime) -> str:
    """An event time as hashed: UTC, microseconds, ``Z``. SQLite hands times back naive."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *,
    event_id: int,
    at: datetime,
    actor: str,
    actor_kind: str | None,
    action: str,
    subject: str | None,
    details: Any,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken over: sorted-key, compact, UTF-8 JSON."""
    return json.dumps(
        {
            "format": CHAIN_FORMAT,
            "id": event_id,
            "at": utc_text(at),
            "actor": actor,
            "actor_kind": actor_kind,
            "action": action,
            "subject": subject,
            "details": plain(details),
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    ).encode("utf-8")


def event_hash(row: Any, prev_hash: str) -> str:
    """SHA-256 (hex) of an event (an :class:`AuditEvent` or a row with its columns)."""
    return hashlib.sha256(
        canonical(
            event_id=row.id,
            at=row.at,
            actor=row.actor,
            actor_kind=row.actor_kind,
            action=row.action,
            subject=row.subject,
            details=row.details,
            prev_hash=prev_hash,
        )
    ).hexdigest()


# --- appending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppendedEvent:
    """An event as appended: its fields, position and hashes."""

    id: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    subject: str | None
    details: dict[str, Any]
    seq: int
    prev_hash: str
    hash: str


def append(
    session: Session,
    actor: str,
    action: str,
    subject: str | None = None,
    details: Mapping[str, Any] | None = None,
    *,
    anchor: str | None = None,
    anchored_by: str | None = None,
) -> AppendedEvent:
    """Append one event to the chain inside ``session``'s transaction.

    ``actor`` is a person, or a component named ``kind:name`` (see :mod:`core.actors`).
    ``anchor`` stores an anchor at this event for that reason, besides the periodic ones.
    Plain statements, no ORM objects: a session that appends many events stays fast.
    """
    kind = actor_kind(actor)
    if kind == PERSON:
        problem = person_name_problem(actor)
        if problem is not None:
            raise ValueError(f"audit actor: {problem}")
    if not action or len(action) > 64:
        raise ValueError("audit action: 1 to 64 characters")
    stored_details = plain(dict(details or {}))
    if subject is not None and len(subject) > MAX_SUBJECT:
        stored_details["subject"] = subject
        subject = subject[: MAX_SUBJECT - 3] + "..."

    if session.get_bind().dialect.name == "postgresql":
        # Held to the end of the transaction: one appender at a time, so the chain stays one
        # line however many services, tasks and users write at once.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})
    now = datetime.now(UTC)
    table = AuditEvent.__table__
    # The insert comes first: on SQLite it takes the write lock, so the predecessor read
    # next is the true end of the chain (no other writer can commit until we do).
    event_id = session.execute(
        insert(table)
        .values(
            at=now,
            actor=actor,
            actor_kind=kind,
            action=action,
            subject=subject,
            details=stored_details,
        )
        .returning(table.c.id)
    ).scalar_one()
    last = session.execute(
        select(table.c.seq, table.c.hash, table.c.at)
        .where(table.c.seq.is_not(None))
        .order_by(table.c.seq.desc())
        .limit(1)
    ).first()
    seq = 1 if last is None else last.seq + 1
    prev_hash = GENESIS if last is None or last.hash is None else last.hash
    fields = {
        "id": event_id,
        "at": now,
        "actor": actor,
        "actor_kind": kind,
        "action": action,
        "subject": subject,
        "details": stored_details,
        "seq": seq,
        "prev_hash": prev_hash,
    }
    event = AppendedEvent(**fields, hash=event_hash(SimpleNamespace(**fields), prev_hash))
    session.execute(
        update(table)
        .where(table.c.id == event_id)
        .values(seq=seq, prev_hash=prev_hash, hash=event.hash)
    )
    reason = anchor
    if reason is None and seq % ANCHOR_EVERY == 0:
        reason = "interval"
    if reason is None and (last is None or utc_text(last.at)[:10] != utc_text(now)[:10]):
        reason = "daily"
    if reason is not None:
        session.execute(
            insert(AuditAnchor.__table__).values(
                seq=seq,
                event_id=event_id,
                hash=event.hash,
                event_at=now,
                reason=reason,
                recorded_by=anchored_by,
            )
        )
    return event


# --- anchors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A position in the chain with its hash (or a prefix of it), as written down."""

    seq: int
    hash: str
    source: str = "given"

    @classmethod
    def parse(cls, value: str) -> Anchor:
        """``POSITION:HASH``, e.g. ``2000:3f5a...``; the hash may be cut to 16+ characters."""
        position, sep, digest = value.strip().partition(":")
        digest = digest.strip().lower()
        if (
            not sep
            or not position.strip().isdigit()
            or int(position) < 1
            or len(digest) < MIN_ANCHOR_PREFIX
            or len(digest) > 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise UsageError(
                f"anchor {value.strip()[:80]!r}: expected POSITION:HASH, e.g. 2000:3f5a..., "
                f"with at least {MIN_ANCHOR_PREFIX} hex characters of the hash"
            )
        return cls(int(position), digest)

    def matches(self, full_hash: str | None) -> bool:
        return full_hash is not None and full_hash.startswith(self.hash)

    def text(self) -> str:
        return f"{self.seq}:{self.hash}"


def latest_anchor(session: Session) -> AuditAnchor | None:
    return session.scalars(select(AuditAnchor).order_by(AuditAnchor.seq.desc()).limit(1)).first()


def list_anchors(session: Session) -> list[AuditAnchor]:
    return list(session.scalars(select(AuditAnchor).order_by(AuditAnchor.seq)))


def record_anchor(db: Database, by: str) -> AuditAnchor:
    """Anchor the end of the chain now, on an event that records who asked for it."""
    with db.session() as session:
        event = append(
            session,
            by,
            "audit.anchor_recorded",
            None,
            {"note": "anchor at this event, to be written down outside the system"},
            anchor="requested",
            anchored_by=by,
        )
        anchor = session.get(AuditAnchor, event.seq)
        assert anchor is not None
        return anchor


# --- verifying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One place where the chain does not hold."""

    kind: str  # changed | deleted | reordered | broken | unchained | anchor
    message: str
    position: int | None = None
    event_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Verification:
    """The outcome of :func:`verify`."""

    events: int = 0
    last_position: int = 0
    last_hash: str = GENESIS
    stored_anchors: int = 0
    given_anchors: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "events": self.events,
            "last_position": self.last_position,
            "last_hash": self.last_hash,
            "stored_anchors": self.stored_anchors,
            "given_anchors": self.given_anchors,
            "problems": [p.to_dict() for p in self.problems],
        }


# Looking up where a misplaced predecessor went costs a table scan: only for the first few.
_LOOKUPS = 50


def verify(db: Database, anchors: list[Anchor] | tuple[Anchor, ...] = ()) -> Verification:
    """Walk the whole chain; every changed, deleted, inserted or re-ordered event is a problem.

    ``anchors`` are positions and hashes written down earlier; each must still hold, which
    also catches a chain rewritten as a whole. The stored anchors are checked as well. Reads
    only: a verification may run against a copy or a read-only replica.
    """
    result = Verification(given_anchors=len(anchors))
    problems: list[Problem] = []
    with db.session() as session:
        stored = [
            Anchor(a.seq, a.hash, source=f"stored ({a.reason})") for a in list_anchors(session)
        ]
        result.stored_anchors = len(stored)
        pending: dict[int, list[Anchor]] = {}
        for anchor in [*stored, *anchors]:
            pending.setdefault(anchor.seq, []).append(anchor)
        lookups = 0
        expected, prev_hash = 1, GENESIS
        for row in _chain(session):
            result.events += 1
            problem: Problem | None = None
            own = event_hash(row, row.prev_hash or "")
            if row.seq != expected:
                last_missing = row.seq - 1
                span = str(expected) if last_missing == expected else f"{expected}-{last_missing}"
                problem = Problem(
                    "deleted",
                    f"position {span} is missing: deleted from the chain "
                    f"(the next event present is id {row.id} at position {row.seq})",
                    expected,
                    None,
                )
            elif own != row.hash:
                problem = Problem(
                    "changed",
                    f"event id {row.id} at position {row.seq} ({row.action}) was changed "
                    "after it was written: its fields no longer give its hash",
                    row.seq,
                    row.id,
                )
            elif row.prev_hash != prev_hash:
                found = None
                if lookups < _LOOKUPS:
                    lookups += 1
                    found = session.scalar(
                        select(AuditEvent.seq).where(AuditEvent.hash == row.prev_hash).limit(1)
                    )
                if found is not None:
                    problem = Problem(
                        "reordered",
                        f"event id {row.id} at position {row.seq} is out of order: it was "
                        f"written after the event now at position {found}",
                        row.seq,
                        row.id,
                    )
                else:
                    problem = Problem(
                        "broken",
                        f"the chain breaks before position {row.seq} (event id {row.id}): the "
                        f"event at position {row.seq - 1} was changed and its hash recomputed, "
                        "or an event before it was deleted and the positions renumbered",
                        row.seq,
                        row.id,
                    )
            if problem is not None:
                problems.append(problem)
            for anchor in pending.pop(row.seq, []):
                if not anchor.matches(row.hash):
                    problems.append(
                        Problem(
                            "anchor",
                            f"the {anchor.source} anchor at position {anchor.seq} does not "
                            f"match event id {row.id}: the chain up to there was rewritten",
                            row.seq,
                            row.id,
                        )
                    )
            expected, prev_hash = row.seq + 1, row.hash or ""
            result.last_position, result.last_hash = row.seq, row.hash or ""
        for seq in sorted(pending):
            for anchor in pending[seq]:
                problems.append(
                    Problem(
                        "deleted",
                        f"the {anchor.source} anchor names position {seq}, but the chain "
                        f"ends at position {result.last_position}: events at the end were "
                        "deleted",
                        result.last_position + 1,
                        None,
                    )
                )
        unchained = session.scalars(
            select(AuditEvent.id).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id)
        ).all()
        for event_id in unchained:
            problems.append(
                Problem(
                    "unchained",
                    f"event id {event_id} is not part of the chain: it was written around the "
                    "audit trail",
                    None,
                    event_id,
                )
            )
    # Positions first, in chain order; events outside the chain last.
    result.problems = sorted(
        problems, key=lambda p: (p.position is None, p.position or 0, p.kind == "anchor")
    )
    return result


def _chain(session: Session) -> Iterator[Any]:
    """The chained events in position order, a page at a time (bounded memory)."""
    after: int | None = None
    columns = (
        AuditEvent.id,
        AuditEvent.seq,
        AuditEvent.at,
        AuditEvent.actor,
        AuditEvent.actor_kind,
        AuditEvent.action,
        AuditEvent.subject,
        AuditEvent.details,
        AuditEvent.prev_hash,
        AuditEvent.hash,
    )
    while True:
        query = select(*columns).where(AuditEvent.seq.is_not(None))
        if after is not None:
            query = query.where(AuditEvent.seq > after)
        page = session.execute(query.order_by(AuditEvent.seq).limit(_PAGE)).all()
        if not page:
            return
        yield from page
        after = page[-1].seq


# --- reading it back -------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """Which events to list or export; every criterion given must hold."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    actor_kind: str | None = None
    #: An action, or a prefix ending in ``*`` (``hitlist.*``).
    action: str | None = None
    subject: str | None = None

    def __post_init__(self) -> None:
        if self.actor_kind not in (None, PERSON, COMPONENT, "unrecorded"):
            raise UsageError("actor kind: person, component or unrecorded")

    def to_dict(self) -> dict[str, Any]:
        return {key: plain(value) for key, value in self.__dict__.items() if value is not None}

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.since is not None:
            query = query.where(AuditEvent.at >= _utc(self.since))
        if self.until is not None:
            query = query.where(AuditEvent.at < _utc(self.until))
        if self.actor is not None:
            query = query.where(AuditEvent.actor == self.actor)
        if self.actor_kind is not None:
            query = query.where(AuditEvent.actor_kind == self.actor_kind)
        if self.action is not None:
            if self.action.endswith("*"):
                prefix = self.action[:-1]
                query = query.where(func.substr(AuditEvent.action, 1, len(prefix)) == prefix)
            else:
                query = query.where(AuditEvent.action == self.action)
        if self.subject is not None:
            query = query.where(AuditEvent.subject == self.subject)
        return query


def _utc(at: datetime) -> datetime:
    # SQLite compares the stored naive UTC text: hand it UTC.
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


def count_events(session: Session, where: AuditFilter) -> int:
    return session.scalar(where.apply(select(func.count()).select_from(AuditEvent))) or 0


def list_events(
    session: Session,
    where: AuditFilter,
    *,
    limit: int | None = 100,
    offset: int = 0,
    newest_first: bool = True,
) -> list[AuditEvent]:
    """One page of events matching ``where``, in chain order or newest first."""
    order = AuditEvent.id.desc() if newest_first else AuditEvent.id
    query = where.apply(select(AuditEvent)).order_by(order).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def iter_events(db: Database, where: AuditFilter) -> Iterator[AuditEvent]:
    """Every event matching ``where``, oldest first, a page at a time."""
    after = 0
    while True:
        with db.session() as session:
            page = list(
                session.scalars(
                    where.apply(select(AuditEvent))
                    .where(AuditEvent.id > after)
                    .order_by(AuditEvent.id)
                    .limit(_PAGE)
                )
            )
        if not page:
            return
        yield from page
        after = page[-1].id


#: Columns of an audit export, in order; the last three name the export itself.
EXPORT_COLUMNS = (
    "position",
    "event_id",
    "at",
    "actor",
    "actor_kind",
    "action",
    "subject",
    "details",
    "prev_hash",
    "hash",
    "exported_by",
    "exported_at",
    "export_ref",
)


def export_row(event: AuditEvent, *, exported_by: str, exported_at: str, ref: int) -> list[Any]:
    """One CSV line of an audit export (cells not yet made spreadsheet-safe)."""
    return [
        "" if event.seq is None else event.seq,
        event.id,
        utc_text(event.at),
        event.actor,
        event.actor_kind or "",
        event.action,
        event.subject or "",
        json.dumps(event.details, sort_keys=True, ensure_ascii=False),
        event.prev_hash or "",
        event.hash or "",
        exported_by,
        exported_at,
        ref,
    ]


@dataclass(frozen=True)
class AuditExport:
    path: Path
    rows: int
    audit_ref: int
    exported_by: str


def export_csv(db: Database, where: AuditFilter, out: Path, *, actor: str) -> AuditExport:
    """Write the events matching ``where`` to ``out`` (CSV), recording the export first.

    The export is itself an audit event, written before the file so that its id can stand
    in every line (``export_ref``) beside who exported (``exported_by``). A file that cannot
    be finished is removed; the event stays, as the record of the attempt.
    """
    with db.session() as session:
        matching = count_events(session, where)
        event = append(
            session,
            actor,
            "audit.exported",
            out.name,
            {"filters": where.to_dict(), "rows": matching, "file": str(out)},
        )
        ref, exported_at = event.id, utc_text(event.at)
    rows = 0
    try:
        # The trail names persons and subjects: owner only (core.files).
        with open_private(out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            for found in iter_events(db, where):
                if found.id > ref:
                    break  # later events are not part of this export
                line = export_row(found, exported_by=actor, exported_at=exported_at, ref=ref)
                writer.writerow(safe_row(line))
                rows += 1
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return AuditExport(out, rows, ref, actor)
