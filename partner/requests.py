"""Requests from the RIEC for the data behind a partner's records: the pure core.

The partner reads the requests on its request topic, looks each record up by its own
record id in its own systems, decides under its own legal basis, provides the data through
its existing lawful channel, and answers here: provided, declined or not-found, with a
short note that holds no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from contract.disclosure import (
    ANSWER_STATUSES,
    RESPONSE_SCHEMA,
    DisclosureError,
    validate_response,
)
from core.errors import RefusedError, UsageError


@dataclass(frozen=True)
class OpenRequest:
    """A request as the partner sees it, with its answer if one was sent."""

    request: dict[str, Any]
    answer: dict[str, Any] | None

    @property
    def request_id(self) -> str:
        return str(self.request["request_id"])

    def overdue(self, today: date) -> bool:
        return self.answer is None and date.fromisoformat(self.request["due_on"]) < today


def combine(requests: list[dict[str, Any]], answers: list[dict[str, Any]]) -> list[OpenRequest]:
    """Each request once (the first publication counts), with the first answer sent to it."""
    first_answer: dict[str, dict[str, Any]] = {}
    for answer in answers:
        first_answer.setdefault(answer["request_id"], answer)
    seen: dict[str, OpenRequest] = {}
    for request in requests:
        rid = request["request_id"]
        if rid not in seen:
            seen[rid] = OpenRequest(request, first_answer.get(rid))
    return sorted(seen.values(), key=lambda r: (r.request["due_on"], r.request_id))


def build_answer(
    open_request: OpenRequest,
    *,
    partner: str,
    status: str,
    note: str,
    by: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ``disclosure-response.v1`` message; refuses a second answer and personal data."""
    if status not in ANSWER_STATUSES:
        raise UsageError(f"--status must be one of {', '.join(ANSWER_STATUSES)}")
    if open_request.answer is not None:
        raise RefusedError(
            f"request {open_request.request_id} was already answered "
            f"({open_request.answer['status']} by {open_request.answer['answered_by']})"
        )
    if open_request.request["partner"] != partner:
        raise RefusedError(f"request {open_request.request_id} is addressed to another partner")
    message = {
        "schema": RESPONSE_SCHEMA,
        "request_id": open_request.request_id,
        "partner": partner,
        "status": status,
        "note": note.strip(),
        "answered_by": by,
        "answered_at": (now or datetime.now(UTC)).isoformat(),
    }
    try:
        return validate_response(message)
    except DisclosureError as exc:
        raise UsageError(f"the answer: {exc.detail}") from None
