"""Storage of landed records, entities, links, validation outcomes, hit lists and the audit log."""

from storage.database import Database, connect
from storage.models import (
    AuditAnchor,
    AuditEvent,
    Base,
    BatchReport,
    BlockingKey,
    Entity,
    EntityEvent,
    HitList,
    Link,
    ModelVersion,
    Record,
    Relationship,
    TermFrequency,
    ValidationRun,
)

__all__ = [
    "AuditAnchor",
    "AuditEvent",
    "Base",
    "BatchReport",
    "BlockingKey",
    "Database",
    "Entity",
    "EntityEvent",
    "HitList",
    "Link",
    "ModelVersion",
    "Record",
    "Relationship",
    "TermFrequency",
    "ValidationRun",
    "connect",
]
