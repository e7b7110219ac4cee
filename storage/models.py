"""SQLAlchemy 2 models. The RIEC side stores pseudonyms only: tokens, filters, codes, dates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Record(Base):
    """One partner record as it currently stands (latest upsert or retraction)."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("partner", "partner_record_id", name="uq_records_partner_record"),
        Index("ix_records_entity", "entity_id"),
        Index("ix_records_batch", "partner", "batch_id"),
        Index("ix_records_link_seq", "entity_type", "link_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(64))
    partner_type: Mapped[str] = mapped_column(String(32))
    partner_record_id: Mapped[str] = mapped_column(String(128))
    batch_id: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retracted
    key_version: Mapped[str] = mapped_column(String(32))
    tokens: Mapped[dict[str, Any]] = mapped_column(default=dict)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    relations: Mapped[list[Any]] = mapped_column(default=list)
    signal_code: Mapped[str | None] = mapped_column(String(64))
    signal_theme: Mapped[str | None] = mapped_column(String(32))
    signal_date: Mapped[date | None] = mapped_column(Date)
    person_category: Mapped[str | None] = mapped_column(String(32))
    legal_basis: Mapped[str | None] = mapped_column(String(64))
    retention_until: Mapped[date | None] = mapped_column(Date)
    message_id: Mapped[str] = mapped_column(String(32))
    produced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source_topic: Mapped[str] = mapped_column(String(128))
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entity_id: Mapped[str | None] = mapped_column(ForeignKey("entities.entity_id"))
    link_weight: Mapped[float | None] = mapped_column(Float)
    #: CBS code of the subject's gemeente (GM0855), as the partner gave it (contract 1.1).
    gemeentecode: Mapped[str | None] = mapped_column(String(6))
    # The turn of the linking transaction that last linked (or retracted) the record, per
    # entity type: instances read what others linked since their last turn by it.
    link_seq: Mapped[int | None] = mapped_column(BigInteger)


class BlockingKey(Base):
    """Keyed blocking keys (and exact tokens) of active records, for candidate retrieval."""

    __tablename__ = "blocking_keys"
    # The matching service looks blocks up in memory (matching.index); the database is
    # asked by key only to resolve a relationship's target (a token: "<field>:<token>"),
    # so only those entries are indexed by key, which spares most of the index writes.
    __table_args__ = (
        Index(
            "ix_blocking_keys_token",
            "key",
            sqlite_where=text("key LIKE '%:%'"),
            postgresql_where=text("key LIKE '%:%'"),
        ),
    )

    record_id: Mapped[int] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(16))


class BatchReport(Base):
    """What a partner's push did with its file: rows read, sent and rejected, by reason.

    One per push (partner, batch and entity type), sent by the partner after the batch's
    records (contract 1.1). Counts and codes only.
    """

    __tablename__ = "batch_reports"
    __table_args__ = (
        UniqueConstraint("partner", "batch_id", "entity_type", name="uq_batch_reports_batch"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(64))
    partner_type: Mapped[str] = mapped_column(String(32))
    batch_id: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(16))
    key_version: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(32))
    produced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_sent: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    fields_dropped: Mapped[int] = mapped_column(Integer)
    rejected_by_reason: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dropped_by_reason: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Entity(Base):
    """A real-world subject as far as the linkage can tell; the id is pseudonymous and stable."""

    __tablename__ = "entities"

    entity_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    partner_count: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Link(Base):
    """A scored pairwise link between two records, with the per-field explanation."""

    __tablename__ = "links"
    __table_args__ = (Index("ix_links_b", "record_b"),)

    record_a: Mapped[int] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    record_b: Mapped[int] = mapped_column(
        ForeignKey("records.id", ondelete="CASCADE"), primary_key=True
    )
    weight: Mapped[float] = mapped_column(Float)
    probability: Mapped[float] = mapped_column(Float)
    contributions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EntityEvent(Base):
    """History of entity changes: created, record joined/left, merged, split, retired."""

    __tablename__ = "entity_events"
    __table_args__ = (
        Index("ix_entity_events_entity", "entity_id"),
        # The workspace shows an entity's merges and splits from both sides.
        Index("ix_entity_events_other", "other_entity_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entity_id: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(32))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    other_entity_id: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ModelVersion(Base):
    """A stored, versioned set of linkage model parameters (m, u, prior) per entity type.

    Training stores a candidate; it becomes active only through an approval, which names
    who approved it, when and why (the audit log keeps every approval, the row the latest).
    The validation report says what the candidate would change against the model that
    was active when it was computed; it is kept apart from ``training`` because it can
    be recomputed against a later active model, while the training report cannot change.
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("entity_type", "version", name="uq_model_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    training: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Columns added after the first release are nullable: storage.database adds them to
    # existing databases on connect.
    validation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approval_reason: Mapped[str | None] = mapped_column(Text)
    rejected_by: Mapped[str | None] = mapped_column(String(128))
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejection_reason: Mapped[str | None] = mapped_column(Text)


class TermFrequency(Base):
    """How many active records held a value when a model version was trained.

    The value is named by its index entry (``<field>:<token>`` or ``tf:<field>:<digest>``,
    as in ``blocking_keys``); only values held by two records or more are kept.
    """

    __tablename__ = "term_frequencies"

    model_version_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class Relationship(Base):
    """A derived link between subjects: a company at an address, a vehicle's holder, ..."""

    __tablename__ = "relationships"
    __table_args__ = (
        Index("ix_relationships_target", "target_key"),
        Index("ix_relationships_record", "record_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    target_entity_type: Mapped[str] = mapped_column(String(16))
    target_key: Mapped[str] = mapped_column(String(80))  # field:token the partner gave


class ValidationRun(Base):
    """Outcome of the Great Expectations suite for one partner batch."""

    __tablename__ = "validation_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    partner: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(64))
    suite: Mapped[str] = mapped_column(String(128))
    success: Mapped[bool] = mapped_column(Boolean)
    evaluated: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    record_count: Mapped[int] = mapped_column(Integer)
    results: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dag_run_id: Mapped[str | None] = mapped_column(String(250))


class HitList(Base):
    """A produced hit list: when, under which criteria, and where its files are."""

    __tablename__ = "hit_lists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    criteria_version: Mapped[str] = mapped_column(String(64))
    criteria: Mapped[dict[str, Any]] = mapped_column(default=dict)
    row_count: Mapped[int] = mapped_column(Integer)
    csv_path: Mapped[str] = mapped_column(Text)
    html_path: Mapped[str] = mapped_column(Text)
    rows: Mapped[list[Any]] = mapped_column(default=list)
    dag_run_id: Mapped[str | None] = mapped_column(String(250))


class AuditEvent(Base):
    """Every provision, automated comparison run and access (Wpg art. 32 style logging).

    Written only through :meth:`storage.Database.audit`, which chains the events: ``seq`` is
    the position in the chain (1, 2, 3, ...), ``prev_hash`` the ``hash`` of the event before,
    and ``hash`` covers this event's fields and ``prev_hash`` (see :mod:`storage.audit`).
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_actor", "actor"),
        Index("ix_audit_log_subject", "subject"),
        UniqueConstraint("seq", name="uq_audit_log_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Nullable in the schema because an event is inserted first and chained in the same
    # transaction; a committed event without them was written around the audit trail.
    actor_kind: Mapped[str | None] = mapped_column(String(16))  # person | component
    seq: Mapped[int | None] = mapped_column(BigInteger)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditAnchor(Base):
    """A chain position and its hash, for a coordinator to write down outside the system.

    Anchors are set every so many events, on the first event of each day, and on request
    (``riec audit anchor --new``). A copy kept here detects a chain cut short; only a copy
    kept outside the database detects a rewrite of the whole chain.
    """

    __tablename__ = "audit_anchors"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(32))  # interval | daily | requested | start
    #: Who asked for the anchor (``requested``); empty for the automatic ones.
    recorded_by: Mapped[str | None] = mapped_column(String(128))


# --- the workspace: people, their screenings, reviews and requests to partners -------------


class User(Base):
    """A person who works in the workspace. Local accounts carry an argon2 hash; accounts
    from the organisation's identity provider (OpenID Connect) carry its subject instead."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("username", name="uq_users_username"),
        UniqueConstraint("oidc_subject", name="uq_users_oidc_subject"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(200))
    #: Comma-separated roles: analyst, coordinator, data-engineer, auditor.
    roles: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    oidc_subject: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(128))


class Screening(Base):
    """A screening of a person (a VOG, a veiligheidsonderzoek): never a copy of the document."""

    __tablename__ = "screenings"
    __table_args__ = (Index("ix_screenings_user", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(64))
    screened_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its hash is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class HitListEntry(Base):
    """One row of a stored hit list, indexed for paging and filtering in the workspace."""

    __tablename__ = "hit_list_entries"
    __table_args__ = (Index("ix_hit_list_entries_entity", "hit_list_id", "entity_id"),)

    hit_list_id: Mapped[int] = mapped_column(
        ForeignKey("hit_lists.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    partner_count: Mapped[int] = mapped_column(Integer)
    #: ``|partner-a|partner-b|`` and ``|theme|``: filterable with LIKE on both backends.
    partners: Mapped[str] = mapped_column(Text)
    themes: Mapped[str] = mapped_column(Text)
    first_signal_date: Mapped[date] = mapped_column(Date)
    last_signal_date: Mapped[date] = mapped_column(Date)
    row: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Review(Base):
    """A review decision on a hit: status, reason, necessity and proportionality, who and when."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_entity", "entity_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity_id: Mapped[str] = mapped_column(String(40))
    hit_list_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    necessity: Mapped[str] = mapped_column(Text)
    proportionality: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DisclosureRequest(Base):
    """A request to a partner for the data behind one of its records (staged disclosure).

    Drafted by one person, approved by another, then published on the partner's request
    topic; the partner's answer comes back on its response topic. It names the partner's own
    record id, never anything the partner would not already hold.
    """

    __tablename__ = "disclosure_requests"
    __table_args__ = (
        Index("ix_disclosure_requests_entity", "entity_id"),
        Index("ix_disclosure_requests_status", "status"),
    )

    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    entity_id: Mapped[str] = mapped_column(String(40))
    hit_list_id: Mapped[int | None] = mapped_column(BigInteger)
    partner: Mapped[str] = mapped_column(String(64))
    partner_record_id: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(String(200))
    case_reference: Mapped[str] = mapped_column(String(64))
    #: draft | approved | published | answered | withdrawn
    status: Mapped[str] = mapped_column(String(16))
    drafted_by: Mapped[str] = mapped_column(String(128))
    drafted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_on: Mapped[date] = mapped_column(Date)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer_status: Mapped[str | None] = mapped_column(String(16))
    answer_note: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(128))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer_received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CriteriaApproval(Base):
    """A coordinator's approval of a hit-list criteria version."""

    __tablename__ = "criteria_approvals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    criteria_version: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str] = mapped_column(String(128))
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
