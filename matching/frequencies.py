"""Term frequencies of the stored records, counted for a model version.

Counted are the values whose agreement a comparison weighs by how common they are: exact
tokens (a date of birth, a postcode and house number) and a person's names by their
filters. The counts come from the index (``blocking_keys``): one statement per entity
type, never a read of the records themselves.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from matching.index import FREQUENCY_PREFIX, key_hash
from matching.linker import TOKEN_FIELDS
from matching.model import ModelParams, TermFrequencies
from storage.models import BlockingKey, Record


def counted_prefixes(entity_type: str) -> tuple[str, ...]:
    """The prefixes of the index entries that count values of ``entity_type``."""
    return (*(f"{f}:" for f in TOKEN_FIELDS.get(entity_type, ())), FREQUENCY_PREFIX)


def count_values(session: Session, entity_type: str) -> tuple[int, dict[str, int]]:
    """(active records, count per index entry held by two or more of them)."""
    total = int(
        session.scalar(
            select(func.count()).where(Record.entity_type == entity_type, Record.status == "active")
        )
        or 0
    )
    counted = (
        select(BlockingKey.key, func.count().label("n"))
        .join(Record, Record.id == BlockingKey.record_id)
        .where(
            BlockingKey.entity_type == entity_type,
            Record.status == "active",
            or_(*(BlockingKey.key.startswith(p) for p in counted_prefixes(entity_type))),
        )
        .group_by(BlockingKey.key)
        .having(func.count() >= 2)
    )
    return total, {key: int(n) for key, n in session.execute(counted)}


def as_table(entity_type: str, total: int, counts: dict[str, int]) -> TermFrequencies:
    """The counts keyed as the scorer looks them up."""
    return TermFrequencies(total, {key_hash(entity_type, k): n for k, n in counts.items()})


def with_frequencies(session: Session, params: ModelParams) -> ModelParams:
    """A copy of ``params`` with the term frequencies of the records stored now."""
    total, counts = count_values(session, params.entity_type)
    return replace(params, frequencies=as_table(params.entity_type, total, counts))
