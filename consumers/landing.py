"""Land validated envelopes in the database and link them: idempotent by design.

A poll batch is landed as a whole, in one transaction and a few set-based statements.
Replays are recognised by message id, stale messages (older than what is stored) are
ignored, and a retraction leaves a tombstone so that a late upsert cannot bring a
retracted record back. Several messages about one record in one batch are applied in
offset order, as if they had come one by one. A partner's batch report (contract 1.1) is
stored beside the batch's records; a newer report of the same batch replaces it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.orm import Session

from contract import is_batch_report
from matching.linker import Linker, ToLink
from storage.bulk import insert_rows, insert_with_ids
from storage.models import BatchReport, Record, Relationship

Outcome = Literal["stored", "replay", "stale", "retracted", "unchanged", "reported"]


@dataclass(frozen=True)
class Source:
    topic: str
    partition: int
    offset: int


def _produced_at(envelope: dict[str, Any]) -> datetime:
    produced = datetime.fromisoformat(envelope["produced_at"])
    return produced if produced.tzinfo else produced.replace(tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(envelope: dict[str, Any], source: Source) -> dict[str, Any]:
    """The ``records`` row an envelope stands for."""
    row: dict[str, Any] = {
        "partner": envelope["partner"],
        "partner_record_id": envelope["partner_record_id"],
        "partner_type": envelope["partner_type"],
        "batch_id": envelope["batch_id"],
        "entity_type": envelope["entity_type"],
        "key_version": envelope["pseudonymisation"]["key_version"],
        "message_id": envelope["message_id"],
        "produced_at": _produced_at(envelope),
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "received_at": datetime.now(UTC),
    }
    if envelope["operation"] == "retract":
        row.update(
            gemeentecode=None,
            status="retracted",
            tokens={},
            filters={},
            relations=[],
            signal_code=None,
            signal_theme=None,
            signal_date=None,
            person_category=None,
            legal_basis=None,
            retention_until=None,
        )
        return row
    signal = envelope["signal"]
    row.update(
        status="active",
        tokens=envelope["attributes"]["tokens"],
        filters=envelope["attributes"]["filters"],
        relations=envelope.get("relations", []),
        signal_code=signal["code"],
        signal_theme=signal["theme"],
        signal_date=date.fromisoformat(signal["date"]),
        person_category=signal.get("person_category"),
        legal_basis=envelope["legal_basis"],
        retention_until=date.fromisoformat(envelope["retention_until"]),
        gemeentecode=envelope.get("gemeentecode"),
    )
    return row


def _linkable(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["key_version"], row["tokens"], row["filters"], row["status"])


@dataclass
class _Stored:
    """What is known of a record while the batch is applied."""

    id: int | None
    message_id: str
    produced_at: datetime
    linkable: tuple[Any, ...]
    linked: bool


def land_batch(
    session: Session, linker: Linker, items: Sequence[tuple[dict[str, Any], Source]]
) -> list[Outcome]:
    """Land ``items`` (envelope, source) in order; returns one outcome per item."""
    outcomes: list[Outcome] = ["stored"] * len(items)
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    reports: list[dict[str, Any]] = []
    for index, (envelope, _source) in enumerate(items):
        if is_batch_report(envelope):
            reports.append(envelope)
            outcomes[index] = "reported"
            continue
        by_key[(envelope["partner"], envelope["partner_record_id"])].append(index)
    if reports:
        _store_reports(session, reports)

    stored: dict[tuple[str, str], _Stored] = {}
    keys = list(by_key)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for r in session.execute(
            select(
                Record.id,
                Record.partner,
                Record.partner_record_id,
                Record.message_id,
                Record.produced_at,
                Record.key_version,
                Record.tokens,
                Record.filters,
                Record.status,
                Record.entity_id,
            ).where(tuple_(Record.partner, Record.partner_record_id).in_(chunk))
        ):
            stored[(r.partner, r.partner_record_id)] = _Stored(
                id=r.id,
                message_id=r.message_id,
                produced_at=_aware(r.produced_at),
                linkable=(r.key_version, r.tokens or {}, r.filters or {}, r.status),
                linked=r.entity_id is not None,
            )

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    detach: list[int] = []
    relink_keys: set[tuple[str, str]] = set()
    for key, indexes in by_key.items():
        state = stored.get(key)
        before = state.linkable if state else None
        final: dict[str, Any] | None = None
        for index in indexes:
            envelope, source = items[index]
            if state is not None and state.message_id == envelope["message_id"]:
                outcomes[index] = "replay"
                continue
            produced = _produced_at(envelope)
            if state is not None and produced < state.produced_at:
                outcomes[index] = "stale"
                continue
            row = _row(envelope, source)
            if envelope["operation"] == "retract":
                outcomes[index] = "retracted"
            elif state is not None and state.linkable == _linkable(row) and state.linked:
                outcomes[index] = "unchanged"
            state = _Stored(
                state.id if state else None,
                row["message_id"],
                produced,
                _linkable(row),
                state.linked if state and state.linkable == _linkable(row) else False,
            )
            final = row
        if final is None:
            continue
        existing = stored.get(key)
        if existing is None:
            inserts.append(final)
        else:
            updates.append({"id": existing.id, **final})
            if before != _linkable(final) or not existing.linked:
                detach.append(existing.id)  # type: ignore[arg-type]
        if final["status"] == "active" and (
            existing is None or before != _linkable(final) or not existing.linked
        ):
            relink_keys.add(key)

    # Records that will not be linked again (retracted) leave their entity now.
    detach_set = set(detach)
    leaving = [
        record.id
        for key, record in stored.items()
        if record.id in detach_set and key not in relink_keys
    ]
    extra_seeds, old_entities = linker.detach(session, detach, leaving)
    ids: dict[tuple[str, str], int] = {k: s.id for k, s in stored.items() if s.id is not None}
    if updates:
        session.execute(update(Record), updates)
    if inserts:
        new_ids = insert_with_ids(session, Record.__table__, inserts)
        for row, record_id in zip(inserts, new_ids, strict=True):
            ids[(row["partner"], row["partner_record_id"])] = record_id
    written = inserts + updates
    _replace_relationships(
        session,
        [(ids[(r["partner"], r["partner_record_id"])], r) for r in written],
        replaced=[u["id"] for u in updates],
    )
    to_link = [
        ToLink(
            id=ids[(r["partner"], r["partner_record_id"])],
            partner=r["partner"],
            partner_record_id=r["partner_record_id"],
            entity_type=r["entity_type"],
            key_version=r["key_version"],
            tokens=r["tokens"],
            filters=r["filters"],
            blocking=_blocking_of(items, by_key[(r["partner"], r["partner_record_id"])]),
            message_id=r["message_id"],
        )
        for r in written
        if (r["partner"], r["partner_record_id"]) in relink_keys
    ]
    if to_link or detach:
        linker.link_batch(session, to_link, extra_seeds=extra_seeds, old_entities=old_entities)
    return outcomes


def _store_reports(session: Session, reports: list[dict[str, Any]]) -> None:
    """Store batch reports; per batch the newest wins, a replay changes nothing."""
    newest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for report in reports:
        key = (report["partner"], report["batch_id"], report["entity_type"])
        if key not in newest or _produced_at(report) >= _produced_at(newest[key]):
            newest[key] = report
    for (partner, batch_id, entity_type), report in newest.items():
        stored = session.scalars(
            select(BatchReport).where(
                BatchReport.partner == partner,
                BatchReport.batch_id == batch_id,
                BatchReport.entity_type == entity_type,
            )
        ).first()
        if stored is not None and _aware(stored.produced_at) > _produced_at(report):
            continue
        row = stored or BatchReport(partner=partner, batch_id=batch_id, entity_type=entity_type)
        rows = report["rows"]
        row.partner_type = report["partner_type"]
        row.key_version = report["pseudonymisation"]["key_version"]
        row.message_id = report["message_id"]
        row.produced_at = _produced_at(report)
        row.received_at = datetime.now(UTC)
        row.rows_read = rows["read"]
        row.rows_sent = rows["sent"]
        row.rows_rejected = rows["rejected"]
        row.fields_dropped = rows["fields_dropped"]
        row.rejected_by_reason = dict(report.get("rejected_by_reason", {}))
        row.dropped_by_reason = dict(report.get("dropped_by_reason", {}))
        session.add(row)
    session.flush()


def _blocking_of(items: Sequence[tuple[dict[str, Any], Source]], indexes: list[int]) -> list[str]:
    """Blocking keys of the last upsert among a record's messages in the batch."""
    for index in reversed(indexes):
        envelope = items[index][0]
        if envelope["operation"] == "upsert":
            return list(envelope["attributes"]["blocking"])
    return []


def _replace_relationships(
    session: Session, written: list[tuple[int, dict[str, Any]]], replaced: Sequence[int]
) -> None:
    """Replace the relationships each written record states (none once retracted).

    ``replaced`` are the records that were stored before (a new record has none yet).
    """
    ids = sorted(replaced)
    for start in range(0, len(ids), 500):
        session.execute(
            delete(Relationship).where(Relationship.record_id.in_(ids[start : start + 500]))
        )
    rows = [
        {
            "record_id": record_id,
            "kind": relation["kind"],
            "target_entity_type": relation["entity_type"],
            "target_key": f"{field}:{token}",
        }
        for record_id, row in written
        for relation in row["relations"]
        for field, token in sorted(relation["tokens"].items())
    ]
    insert_rows(session, Relationship.__table__, rows)


def land(session: Session, linker: Linker, envelope: dict[str, Any], source: Source) -> Outcome:
    """Land one envelope (the batch path with a batch of one)."""
    return land_batch(session, linker, [(envelope, source)])[0]
