"""Review decisions on hits: status, mandatory reason, necessity and proportionality.

A hit is an entity on a hit list; its review carries over to later lists, since the subject
is the same. Decisions are never changed or deleted: a new decision is a new row, so the
history of a hit is the list of its rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Subquery, func, select

from core.errors import UsageError
from storage import Database
from storage.models import Review

NEW = "new"
#: Status values and how the workspace names them.
STATUSES: dict[str, str] = {
    NEW: "New",
    "under-review": "Under review",
    "information-requested": "Information requested",
    "case-opened": "Case opened",
    "no-further-action": "No further action",
}
MAX_TEXT = 4000


@dataclass(frozen=True)
class Decision:
    status: str
    reason: str
    necessity: str
    proportionality: str


def check_decision(decision: Decision) -> Decision:
    """The decision with its texts trimmed; a missing field is a :class:`UsageError`."""
    if decision.status not in STATUSES or decision.status == NEW:
        raise UsageError("choose a review status")
    texts = {
        "reason": decision.reason.strip(),
        "necessity": decision.necessity.strip(),
        "proportionality": decision.proportionality.strip(),
    }
    missing = [name for name, text in texts.items() if not text]
    if missing:
        raise UsageError(f"fill in: {', '.join(missing)}")
    too_long = [name for name, text in texts.items() if len(text) > MAX_TEXT]
    if too_long:
        raise UsageError(f"at most {MAX_TEXT} characters: {', '.join(too_long)}")
    return Decision(decision.status, **texts)


def record_decision(
    db: Database, entity_id: str, hit_list_id: int | None, decision: Decision, *, by: str
) -> int:
    decision = check_decision(decision)
    with db.session() as session:
        review = Review(
            entity_id=entity_id,
            hit_list_id=hit_list_id,
            status=decision.status,
            reason=decision.reason,
            necessity=decision.necessity,
            proportionality=decision.proportionality,
            decided_by=by,
            decided_at=datetime.now(UTC),
        )
        session.add(review)
        session.flush()
        review_id = review.id
    db.audit(
        by,
        "review.decided",
        entity_id,
        hit_list_id=hit_list_id,
        review_id=review_id,
        status=decision.status,
    )
    return review_id


def latest_status_subquery() -> Subquery:
    """entity_id -> status of its newest decision."""
    newest = (
        select(Review.entity_id, func.max(Review.id).label("id"))
        .group_by(Review.entity_id)
        .subquery()
    )
    return select(Review.entity_id, Review.status).join(newest, newest.c.id == Review.id).subquery()
