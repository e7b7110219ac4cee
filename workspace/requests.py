"""Requests to partners (staged disclosure) on the RIEC side: draft, four-eyes approval,
the outbox of approved requests, and the partners' answers.

A request moves draft -> approved -> published -> answered (or withdrawn before it was
published). Publishing is a separate step (:mod:`workspace.request_topics`) that picks up
every approved request, so an approval made while the broker is away is published later,
never lost.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from contract.disclosure import (
    ANSWER_STATUSES,
    REQUEST_SCHEMA,
    DisclosureError,
    check_free_text,
)
from core.errors import RefusedError, UsageError
from storage import Database
from storage.models import DisclosureRequest, HitListEntry

DRAFT, APPROVED, PUBLISHED, ANSWERED, WITHDRAWN = (
    "draft",
    "approved",
    "published",
    "answered",
    "withdrawn",
)
DEFAULT_DUE_DAYS = 14
_CASE_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_-]{0,63}$")


@dataclass(frozen=True)
class Draft:
    partner: str
    partner_record_id: str
    purpose: str
    legal_basis: str
    case_reference: str


def draft_request(
    db: Database,
    hit_list_id: int,
    entity_id: str,
    draft: Draft,
    *,
    by: str,
    due_days: int = DEFAULT_DUE_DAYS,
    today: date | None = None,
) -> str:
    """Store a draft; the record must be one of the entity's records on that hit list."""
    purpose, legal_basis = draft.purpose.strip(), draft.legal_basis.strip()
    case_reference = draft.case_reference.strip()
    if not purpose or not legal_basis or not case_reference:
        raise UsageError("fill in the purpose, the legal basis and the case reference")
    if len(purpose) > 2000 or len(legal_basis) > 200:
        raise UsageError("the purpose (2000) or legal basis (200 characters) is too long")
    if not _CASE_REFERENCE.match(case_reference):
        raise UsageError("a case reference is 1-64 letters, digits or . / _ -")
    try:
        check_free_text("purpose", purpose)
    except DisclosureError as exc:
        raise UsageError(exc.detail) from None
    with db.session() as session:
        row = session.scalar(
            select(HitListEntry.row).where(
                HitListEntry.hit_list_id == hit_list_id, HitListEntry.entity_id == entity_id
            )
        )
        records = (row or {}).get("records") or []
        if not any(
            r.get("partner") == draft.partner
            and r.get("partner_record_id") == draft.partner_record_id
            for r in records
        ):
            raise UsageError("that partner record is not one of this hit's records")
        request_id = "RQ-" + secrets.token_hex(6).upper()
        session.add(
            DisclosureRequest(
                request_id=request_id,
                entity_id=entity_id,
                hit_list_id=hit_list_id,
                partner=draft.partner,
                partner_record_id=draft.partner_record_id,
                purpose=purpose,
                legal_basis=legal_basis,
                case_reference=case_reference,
                status=DRAFT,
                drafted_by=by,
                drafted_at=datetime.now(UTC),
                due_on=(today or date.today()) + timedelta(days=due_days),
            )
        )
    db.audit(
        by,
        "request.drafted",
        request_id,
        entity_id=entity_id,
        partner=draft.partner,
        partner_record_id=draft.partner_record_id,
        case_reference=case_reference,
    )
    return request_id


def approve_request(db: Database, request_id: str, *, by: str) -> None:
    """The second pair of eyes: anyone screened with the right role except the drafter."""
    with db.session() as session:
        request = session.get(DisclosureRequest, request_id, with_for_update=True)
        if request is None:
            raise UsageError(f"no request {request_id}")
        if request.status != DRAFT:
            raise RefusedError(f"request {request_id} is {request.status}, not a draft")
        if request.drafted_by == by:
            raise RefusedError("four eyes: a request is approved by someone other than its drafter")
        request.status = APPROVED
        request.approved_by = by
        request.approved_at = datetime.now(UTC)
        entity_id, partner = request.entity_id, request.partner
    db.audit(by, "request.approved", request_id, entity_id=entity_id, partner=partner)


def withdraw_request(db: Database, request_id: str, *, by: str) -> None:
    with db.session() as session:
        request = session.get(DisclosureRequest, request_id, with_for_update=True)
        if request is None:
            raise UsageError(f"no request {request_id}")
        if request.status not in (DRAFT, APPROVED):
            raise RefusedError(
                f"request {request_id} is {request.status}; it can no longer "
                "be withdrawn here: ask the partner"
            )
        request.status = WITHDRAWN
        entity_id = request.entity_id
    db.audit(by, "request.withdrawn", request_id, entity_id=entity_id)


def request_message(request: DisclosureRequest) -> dict[str, Any]:
    """The ``disclosure-request.v1`` message of an approved request."""
    assert request.approved_by is not None and request.approved_at is not None
    approved_at = request.approved_at
    if approved_at.tzinfo is None:
        approved_at = approved_at.replace(tzinfo=UTC)
    return {
        "schema": REQUEST_SCHEMA,
        "request_id": request.request_id,
        "partner": request.partner,
        "partner_record_id": request.partner_record_id,
        "purpose": request.purpose,
        "legal_basis": request.legal_basis,
        "case_reference": request.case_reference,
        "drafted_by": request.drafted_by,
        "approved_by": request.approved_by,
        "approved_at": approved_at.isoformat(),
        "due_on": request.due_on.isoformat(),
    }


def record_answer(db: Database, answer: dict[str, Any], *, received_at: datetime) -> str:
    """Record a validated ``disclosure-response.v1``; returns what happened, for the log.

    The actor of the audit event is the partner's person who answered.
    """
    request_id = answer["request_id"]
    with db.session() as session:
        request = session.get(DisclosureRequest, request_id, with_for_update=True)
        if request is None:
            return "unknown_request"
        if request.partner != answer["partner"]:
            return "wrong_partner"
        if request.status == ANSWERED:
            return "already_answered"
        if request.status != PUBLISHED:
            return "not_published"
        assert answer["status"] in ANSWER_STATUSES
        request.status = ANSWERED
        request.answer_status = answer["status"]
        request.answer_note = answer["note"]
        request.answered_by = answer["answered_by"]
        request.answered_at = datetime.fromisoformat(answer["answered_at"])
        request.answer_received_at = received_at
        entity_id = request.entity_id
    db.audit(
        f"{answer['partner']}:{answer['answered_by']}",
        "request.answered",
        request_id,
        entity_id=entity_id,
        status=answer["status"],
    )
    return "recorded"


def is_overdue(request: DisclosureRequest, today: date) -> bool:
    return request.status in (DRAFT, APPROVED, PUBLISHED) and request.due_on < today


def requests_of(db: Database, *, entity_id: str | None = None) -> list[DisclosureRequest]:
    with db.session() as session:
        query = select(DisclosureRequest).order_by(DisclosureRequest.drafted_at.desc())
        if entity_id is not None:
            query = query.where(DisclosureRequest.entity_id == entity_id)
        return list(session.scalars(query).all())
