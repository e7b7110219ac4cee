"""Land one validated envelope in the database and link it: idempotent by design.

Replays are recognised by message id, stale messages (older than what is stored) are
ignored, and a retraction leaves a tombstone so that a late upsert cannot bring a
retracted record back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from matching.linker import Linker
from matching.relationships import store_relationships
from storage.models import Record

Outcome = Literal["stored", "replay", "stale", "retracted", "unchanged"]


@dataclass(frozen=True)
class Source:
    topic: str
    partition: int
    offset: int


def _linkable(record: Record) -> tuple[Any, ...]:
    return (record.key_version, record.tokens, record.filters, record.status)


def land(session: Session, linker: Linker, envelope: dict[str, Any], source: Source) -> Outcome:
    produced_at = datetime.fromisoformat(envelope["produced_at"])
    if produced_at.tzinfo is None:
        produced_at = produced_at.replace(tzinfo=UTC)
    record = session.scalars(
        select(Record).where(
            Record.partner == envelope["partner"],
            Record.partner_record_id == envelope["partner_record_id"],
        )
    ).one_or_none()
    if record is not None:
        if record.message_id == envelope["message_id"]:
            return "replay"
        stored_at = record.produced_at
        if stored_at.tzinfo is None:
            stored_at = stored_at.replace(tzinfo=UTC)
        if produced_at < stored_at:
            return "stale"
    before = _linkable(record) if record is not None else None
    if record is None:
        record = Record(
            partner=envelope["partner"], partner_record_id=envelope["partner_record_id"]
        )
        session.add(record)
    record.partner_type = envelope["partner_type"]
    record.batch_id = envelope["batch_id"]
    record.entity_type = envelope["entity_type"]
    record.key_version = envelope["pseudonymisation"]["key_version"]
    record.message_id = envelope["message_id"]
    record.produced_at = produced_at
    record.source_topic = source.topic
    record.source_partition = source.partition
    record.source_offset = source.offset
    record.received_at = datetime.now(UTC)

    if envelope["operation"] == "retract":
        record.status = "retracted"
        record.tokens, record.filters, record.relations = {}, {}, []
        session.flush()
        store_relationships(session, record, [])
        if before is not None:
            linker.unlink(session, record)
        return "retracted"

    signal = envelope["signal"]
    attributes = envelope["attributes"]
    record.status = "active"
    record.tokens = attributes["tokens"]
    record.filters = attributes["filters"]
    record.relations = envelope.get("relations", [])
    record.signal_code = signal["code"]
    record.signal_theme = signal["theme"]
    record.signal_date = date.fromisoformat(signal["date"])
    record.person_category = signal.get("person_category")
    record.legal_basis = envelope["legal_basis"]
    record.retention_until = date.fromisoformat(envelope["retention_until"])
    session.flush()
    store_relationships(session, record, record.relations)
    if before is not None and before == _linkable(record) and record.entity_id is not None:
        return "unchanged"
    if before is not None:
        linker.unlink(session, record)
    linker.link(session, record, attributes["blocking"])
    return "stored"
