"""Requests to partners over Kafka, RIEC side: publish approved requests, read the answers.

Both steps are safe to repeat: publishing picks up every approved request not yet
published (an outbox), and answers are read with a consumer group whose offsets are
committed only after the database has recorded them. A message that is not a valid answer
is recorded in the audit trail with its reason and position (never its content) and
skipped, so one bad message cannot block the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import KafkaConsumer, KafkaProducer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError
from sqlalchemy import select

from contract.disclosure import DisclosureError, decode, encode, validate_request, validate_response
from core.errors import BrokerUnavailable
from core.kafka import BOOTSTRAP_ERRORS, broker_unreachable, client_options
from core.settings import RiecSettings
from storage import Database
from storage.models import DisclosureRequest
from workspace.requests import APPROVED, PUBLISHED, record_answer, request_message

log = logging.getLogger("riec.workspace")


@dataclass
class SyncReport:
    published: int = 0
    answers: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        rejected = ", ".join(f"{k}: {v}" for k, v in sorted(self.rejected.items())) or "none"
        return (
            f"published {self.published} request(s); recorded {self.answers} answer(s); "
            f"skipped: {rejected}"
        )


def publish_approved(db: Database, settings: RiecSettings) -> int:
    """Publish every approved request on its partner's request topic (acks=all)."""
    with db.session() as session:
        pending = list(
            session.scalars(
                select(DisclosureRequest)
                .where(DisclosureRequest.status == APPROVED)
                .order_by(DisclosureRequest.approved_at)
            ).all()
        )
    if not pending:
        return 0
    try:
        producer = KafkaProducer(
            bootstrap_servers=settings.bootstrap_list,
            acks="all",
            retries=5,
            client_id="riec-workspace-requests",
            **client_options(settings),
        )
    except BOOTSTRAP_ERRORS:
        raise broker_unreachable(settings) from None
    published = 0
    try:
        for request in pending:
            message = validate_request(request_message(request))
            try:
                producer.send(
                    settings.request_topic(request.partner),
                    key=request.request_id.encode(),
                    value=encode(message),
                ).get(timeout=30)
            except KafkaError as exc:
                raise BrokerUnavailable(
                    f"request {request.request_id} was not acknowledged by the broker "
                    f"({type(exc).__name__}); it stays approved and is published on the next try"
                ) from None
            with db.session() as session:
                row = session.get(DisclosureRequest, request.request_id, with_for_update=True)
                if row is None or row.status != APPROVED:
                    continue
                row.status = PUBLISHED
                row.published_at = datetime.now(UTC)
            # The approval set the publication in motion: its approver is the actor.
            db.audit(
                request.approved_by or request.drafted_by,
                "request.published",
                request.request_id,
                partner=request.partner,
                topic=settings.request_topic(request.partner),
            )
            published += 1
    finally:
        producer.close()
    return published


def sync_answers(db: Database, settings: RiecSettings, *, max_seconds: float = 30.0) -> SyncReport:
    """Record the partners' answers on their response topics, up to the current end."""
    report = SyncReport()
    with db.session() as session:
        partners = sorted(
            set(
                session.scalars(
                    select(DisclosureRequest.partner)
                    .where(DisclosureRequest.published_at.is_not(None))
                    .distinct()
                ).all()
            )
        )
    if not partners:
        return report
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.bootstrap_list,
            group_id=f"{settings.consumer_group}-requests",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="riec-workspace-answers",
            **client_options(settings),
        )
    except BOOTSTRAP_ERRORS:
        raise broker_unreachable(settings) from None
    try:
        partitions = []
        partner_of = {settings.response_topic(p): p for p in partners}
        for partner in partners:
            topic = settings.response_topic(partner)
            numbers = consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, n) for n in sorted(numbers)]
        if not partitions:
            return report
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        for tp in partitions:
            committed = consumer.committed(tp)
            if committed is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        pending = {tp for tp in partitions if consumer.position(tp) < (ends.get(tp) or 0)}
        deadline = time.monotonic() + max_seconds
        while pending and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for message in messages:
                    _handle(db, tp, message, report, partner_of[tp.topic])
                    consumer.commit({tp: OffsetAndMetadata(message.offset + 1, "", -1)})
                if consumer.position(tp) >= (ends.get(tp) or 0):
                    pending.discard(tp)
    finally:
        consumer.close()
    return report


def _handle(
    db: Database, tp: TopicPartition, message: object, report: SyncReport, partner: str
) -> None:
    where = {"topic": tp.topic, "partition": tp.partition, "offset": message.offset}  # type: ignore[attr-defined]
    try:
        answer = validate_response(decode(message.value))  # type: ignore[attr-defined]
    except DisclosureError as exc:
        outcome = exc.reason
    else:
        # A partner answers on its own topic only.
        outcome = (
            "wrong_partner"
            if answer["partner"] != partner
            else record_answer(db, answer, received_at=datetime.now(UTC))
        )
    if outcome == "recorded":
        report.answers += 1
        return
    report.rejected[outcome] = report.rejected.get(outcome, 0) + 1
    log.warning("answer skipped on %s[%s]@%s: %s", tp.topic, tp.partition, where["offset"], outcome)
    if outcome != "already_answered":
        # The partner's liaison can be told exactly which message was refused and why.
        db.audit(
            "service:workspace",
            "request.answer_refused",
            None,
            partner=partner,
            reason=outcome,
            **where,
        )
